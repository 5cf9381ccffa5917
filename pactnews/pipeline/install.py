"""Putting a finished build into the repository all at once, and finishing or undoing one a kill cut short.

The outputs (data/<config>/, README.md, DATASHEET.md, CITATION.cff,
croissant.json, MANIFEST.json; corpus/clean/ for `pactnews clean`) change by
renames only, under a journal, build/install.journal, as a database changes
its pages:

1. the new copies are complete and on disk (fsynced) in a staging folder,
   build/staging-<token>/ (for `clean`: temporary files beside their targets,
   `.<name>.<token>.tmp`);
2. the journal, listing every target, its new copy and where its previous
   copy goes, is written atomically and fsynced with state "prepared";
3. each target is renamed to its previous-copy path, then its new copy onto
   it; the folders are fsynced;
4. the journal is rewritten with state "committed" (the commit point), then
   removed, and the previous copies deleted with the staging folder.

Every verb that reads or writes these outputs first calls `recover`: a journal
left by a killed run is rolled forward when it says "committed" and rolled back
otherwise, each step decided by which paths exist, so a recovery cut short is
simply run again; then the staging folders of runs that are gone are removed.
Installs and recoveries hold a lock on build/; each run holds a lock on its own
staging folder while it lives. SIGINT and SIGTERM wait until an install is
finished or undone.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from pactnews.repo import Confinement
from pactnews.files import StagedWrites, _fsync_folder, _make_durable, atomic_write_bytes, dump_json

try:
    import fcntl
except ImportError:  # not POSIX: no locking between concurrent runs
    fcntl = None

BUILD = "build"
JOURNAL = "build/install.journal"
FORMAT = "pactnews-install-journal/1"
OWNER = "owner.lock"  # in a staging folder: locked while the run that made it lives
WATCHED = "watched.json"  # in a staging folder: the folders its temporary files are in (for `clean`)
PAUSE = "PACTNEWS_TEST_INSTALL_PAUSE"  # tests only: seconds to wait after each rename (and the commit), to widen the window
_OWNED: set[str] = set()  # this process's staging folders (a POSIX lock is lost when any of our fds on it closes)


class InstallError(Exception):
    """An install or recovery that cannot go on; the message is one line naming the file and what to do."""


class _InTheWay(Exception):
    def __init__(self, path: str):
        super().__init__(f"{path} is in the way")
        self.path = path


# ---------------------------------------------------------------- the public entry points


def recover(root: Path) -> list[str]:
    """Finish or undo an install a killed run left half done, then remove staging folders of runs that are gone.

    Returns what was done, one line each (nothing, usually). InstallError when
    it cannot. Without a build/ folder, or with nothing left in it, nothing is
    touched (a read-only checkout can still be checked).
    """
    root = Path(root)
    build = root / BUILD
    if not os.path.lexists(build):
        return []
    _check_build_folder(root)
    try:
        with os.scandir(build) as entries:
            pending = any(e.name == "install.journal" or e.name.startswith(("staging-", ".install.journal."))
                          for e in entries)
    except OSError as exc:
        raise InstallError(f"{BUILD}/: cannot be read ({_describe(exc, root)}); make it readable") from None
    if not pending:
        _remove_build_if_empty(root)
        return []
    try:
        with _locked(root), _signals_deferred():
            notes = _recover(root)
            notes += _sweep(root)
    except OSError as exc:
        raise InstallError(f"{BUILD}/: cannot recover from an interrupted run ({_describe(exc, root)}); "
                           f"{_todo(exc, root)}, then run the command again") from None
    _remove_build_if_empty(root)
    return notes


class Staging:
    """build/staging-<token>/, owned by this run: made under the lock on build/, with owner.lock held (a POSIX lock:
    the kernel releases it however the run ends), so other runs' sweeps leave it alone while this run lives.

    `watch`: folders where this run stages temporary files named after the token
    (`clean`); a sweep after a kill removes them there.
    """

    def __init__(self, root: Path, watch=()):
        self.root = Path(root)
        self._fd = None
        _check_build_folder(self.root)
        try:
            with _locked(self.root) as build:
                self.path = Path(tempfile.mkdtemp(prefix="staging-", dir=build))
                self._fd = os.open(self.path / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
                if fcntl is not None:
                    fcntl.lockf(self._fd, fcntl.LOCK_EX)
                if watch:
                    atomic_write_bytes(self.path / WATCHED, dump_json([_rel(self.root, f) for f in watch]).encode())
        except OSError as exc:
            if self._fd is not None:
                os.close(self._fd)
            raise InstallError(f"{BUILD}/: cannot make a staging folder ({_describe(exc, self.root)}); "
                               f"{_todo(exc, self.root)}, then run the command again") from None
        _OWNED.add(os.fspath(self.path))
        self.token = self.path.name[len("staging-"):]

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the folder, unless a journal still needs it (an install whose undo failed), and build/ if empty."""
        if self._fd is None:
            return
        try:
            if not _journal_refers_to(self.root, self.path):
                shutil.rmtree(self.path, ignore_errors=True)
        finally:
            _OWNED.discard(os.fspath(self.path))
            os.close(self._fd)
            self._fd = None
        _remove_build_if_empty(self.root)


def install(root: Path, dest: Path, configs, files) -> None:
    """Swap the build in the staging folder `dest` into the repository: data/<config> for each of `configs` and each
    of `files` at the top, all or nothing even across a kill.

    Only the folders of `configs` under data/ change; anything else in data/ is
    left alone, and a config folder missing from `dest` (no rows) is removed.
    InstallError (one line) when it cannot; the previous outputs are then back
    in place, or the journal says how the next run puts them back.
    """
    root, dest = Path(root), Path(dest)
    with _locked(root), _signals_deferred():
        _recover(root)  # a journal a killed run left comes first
        moves = []
        for config in configs:
            target, new = root / "data" / config, dest / "data" / config
            if _exists(target) or _exists(new):
                moves.append((target, new if _exists(new) else None, dest / "previous" / "data" / config))
        for name in files:
            target, new = root / name, dest / name
            if _exists(target) or _exists(new):
                moves.append((target, new if _exists(new) else None, dest / "previous" / name))
        try:
            for folder in (root / "data", dest / "previous" / "data"):
                folder.mkdir(parents=True, exist_ok=True)
            _make_tree_durable(dest)  # the new copies are on disk before the journal names them
            for folder in (root, root / "data"):
                _fsync_folder(os.fspath(folder))
            journal = {"format": FORMAT, "state": "prepared", "staging": _rel(root, dest),
                       "moves": [[_rel(root, t), _rel(root, n) if n else None, _rel(root, p)] for t, n, p in moves]}
            _write_journal(root, journal)
        except OSError as exc:
            raise InstallError(f"could not prepare the install ({_describe(exc, root)}); nothing changed: "
                               f"{_todo(exc, root)}, then run the command again") from None
        _apply(root, journal, moves)


def commit_staged(root: Path, writes: StagedWrites, staging: Staging | None = None) -> None:
    """Rename every file staged in `writes` onto its target, all or none even across a kill.

    The journal lists the targets (relative to `root`); each target's previous
    copy is renamed to `.<name>.<token>.old` beside it and deleted after the
    commit. `writes` is empty afterwards, or, when the undo of a failed commit
    failed too, forgets its files (the next run's recovery needs them).
    """
    root = Path(root)
    targets = writes.targets
    if not targets:
        return
    with _locked(root), _signals_deferred():
        _recover(root)
        try:
            writes.make_durable()
            journal = {"format": FORMAT, "state": "prepared", "staging": _rel(root, staging.path) if staging else None,
                       "moves": [], "staged": {"token": writes.token, "targets": [_rel(root, t) for t in targets]}}
            _write_journal(root, journal)
        except (OSError, ValueError) as exc:
            raise InstallError(f"could not prepare the install ({_describe(exc, root)}); nothing changed: "
                               f"{_todo(exc, root)}, then run the command again") from None
        try:
            _apply(root, journal, list(_moves(root, journal)))
        except InstallError:
            if os.path.lexists(root / JOURNAL):
                writes.forget()
            raise
        writes.forget()


# ---------------------------------------------------------------- the journal and its moves


def _apply(root: Path, journal: dict, moves: list) -> None:
    """The renames of a prepared journal, then the commit; on a failure, the renames undone."""
    pause = _pause()
    try:
        for move in moves:
            _forward(*move, pause)
        _sync(moves)
        journal["state"] = "committed"
        _write_journal(root, journal)
        if pause:  # tests: a window between the commit and the journal's removal too
            time.sleep(pause * 8)
    except BaseException as exc:  # signals are deferred: an OSError, a full disk, something in the way
        try:
            for move in reversed(moves):
                _backward(*move)
            _sync(moves)
            _remove_journal(root)
        except (OSError, _InTheWay) as undo:
            raise InstallError(
                f"{JOURNAL}: the install failed ({_describe(exc, root)}) and the previous outputs could not be put "
                f"back ({_describe(undo, root)}); {_todo(undo, root)}, then run any pactnews command (e.g. "
                "`pactnews build --check`): it puts them back") from None
        if not isinstance(exc, (OSError, _InTheWay)):
            raise
        raise InstallError(f"the install failed ({_describe(exc, root)}); the previous outputs are back in place: "
                           f"{_todo(exc, root)}, then run the command again") from None
    _finish(root, journal, moves)


def _recover(root: Path) -> list[str]:
    """Roll the journal a killed run left forward ("committed") or back; [] without one. Holds the lock."""
    journal = _read_journal(root)
    if journal is None:
        return []
    moves = list(_moves(root, journal))
    committed = journal["state"] == "committed"
    done = "finished" if committed else "rolled back"
    try:
        if committed:
            for move in moves:
                _forward(*move, 0)
        else:
            for move in reversed(moves):
                _backward(*move)
        _sync(moves)
        _finish(root, journal, moves)
    except (OSError, _InTheWay) as exc:
        raise InstallError(f"{JOURNAL}: an interrupted install could not be {done} ({_describe(exc, root)}); "
                           f"{_todo(exc, root)}, then run the command again") from None
    return [f"{done} the install of {len(moves)} output(s) a stopped run left half done ({JOURNAL})"]


def _finish(root: Path, journal: dict, moves: list) -> None:
    """After a commit or an undo: the copies no longer needed beside the targets, then the journal."""
    staged = journal.get("staged")
    if staged:
        committed = journal["state"] == "committed"
        for target, new, previous in moves:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(previous if committed else new)
    _remove_journal(root)


def _forward(target: Path, new: Path | None, previous: Path, pause: float = 0) -> None:
    """target -> previous, then new -> target; each step skipped when the paths show it done."""
    if (new is None or _exists(new)) and _exists(target) and not _exists(previous):
        _rename(target, previous)
        if pause:
            time.sleep(pause)
    if new is not None and _exists(new):
        if _exists(target):
            raise _InTheWay(os.fspath(target))
        _rename(new, target)
        if pause:
            time.sleep(pause)


def _backward(target: Path, new: Path | None, previous: Path) -> None:
    """The undo of _forward: a missing new copy means it is the target now; an existing previous copy goes back."""
    if new is not None and not _exists(new) and _exists(target):
        _rename(target, new)
    if _exists(previous):
        if _exists(target):
            raise _InTheWay(os.fspath(target))
        _rename(previous, target)


def _rename(src: Path, dst: Path) -> None:
    os.rename(src, dst)


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _sync(moves: list) -> None:
    """The renames on disk: fsync of every folder they touched."""
    folders = {os.path.dirname(os.fspath(p)) for move in moves for p in move if p is not None}
    for folder in sorted(folders):
        _fsync_folder(folder)


def _moves(root: Path, journal: dict):
    """(target, new copy or None, previous copy) of each rename pair of the journal, as paths under root."""
    inside = Confinement(root)
    for target, new, previous in journal.get("moves", []):
        yield (_path(root, target, inside), _path(root, new, inside) if new is not None else None,
               _path(root, previous, inside))
    staged = journal.get("staged")
    if staged:
        names = StagedWrites(staged["token"])
        for target in staged["targets"]:
            path = _path(root, target, inside)
            yield path, names.temp_path(path), names.old_path(path)


def _write_journal(root: Path, journal: dict) -> None:
    atomic_write_bytes(root / JOURNAL, dump_json(journal).encode("utf-8"))
    _fsync_folder(os.fspath(root / BUILD))


def _remove_journal(root: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(root / JOURNAL)
    _fsync_folder(os.fspath(root / BUILD))


def _read_journal(root: Path) -> dict | None:
    path = root / JOURNAL
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstallError(f"{JOURNAL}: cannot be read ({_describe(exc, root)}); make it readable, then run the "
                           "command again") from None
    try:
        journal = json.loads(text)
        _validate(root, journal)
    except (ValueError, TypeError, KeyError) as exc:
        raise InstallError(f"{JOURNAL}: not an install journal pactnews can replay ({' '.join(str(exc).split())}); "
                           "restore data/, the generated files and corpus/clean/ from git, then delete it") from None
    return journal


def _validate(root: Path, journal) -> None:
    if not isinstance(journal, dict) or journal.get("format") != FORMAT:
        raise ValueError(f"format is not {FORMAT}")
    if journal.get("state") not in ("prepared", "committed"):
        raise ValueError("state is neither 'prepared' nor 'committed'")
    moves = journal.get("moves", [])
    if not isinstance(moves, list) or not all(
            isinstance(m, list) and len(m) == 3 and isinstance(m[0], str) and isinstance(m[2], str)
            and (m[1] is None or isinstance(m[1], str)) for m in moves):
        raise ValueError("moves must be [target, new or null, previous] lists")
    staged = journal.get("staged")
    if staged is not None:
        if not (isinstance(staged, dict) and isinstance(staged.get("token"), str) and staged["token"]
                and "/" not in staged["token"] and isinstance(staged.get("targets"), list)
                and all(isinstance(t, str) for t in staged["targets"])):
            raise ValueError("staged must be {token, targets}")
    for _ in _moves(root, journal):  # every path relative and inside the repository
        pass


def _path(root: Path, rel: str, inside: Confinement | None = None) -> Path:
    """root/rel, for a relative path without `..` that resolves inside the repository; else ValueError."""
    if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise ValueError(f"{rel!r} is not a path inside the repository")
    return (inside or Confinement(root)).check(root / rel, "path")


def _rel(root: Path, path: Path) -> str:
    return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()


def _journal_refers_to(root: Path, staging: Path) -> bool:
    try:
        journal = json.loads((root / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # cannot tell: keep the folder
    return isinstance(journal, dict) and journal.get("staging") == _rel(root, staging)


# ---------------------------------------------------------------- staging folders, locks, signals


def _make_tree_durable(folder: Path) -> None:
    files, folders = [], [os.fspath(folder)]
    for base, dirs, names in os.walk(folder):
        files += [os.path.join(base, n) for n in names]
        folders += [os.path.join(base, d) for d in dirs]
    _make_durable(files, folders)
    for sub in folders:
        _fsync_folder(sub)


def _sweep(root: Path) -> list[str]:
    """Remove the staging folders (and their temporary files) of runs that are gone. Holds the lock."""
    build = root / BUILD
    removed = 0
    for entry in sorted(os.scandir(build), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.name.startswith(".install.journal.") and entry.name.endswith(".tmp"):  # a journal write cut short
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if not entry.name.startswith("staging-") or entry.is_symlink() or not entry.is_dir():
            continue
        if entry.path in _OWNED or _alive(path):
            continue
        _sweep_watched(root, path)
        shutil.rmtree(path)
        removed += 1
    return [f"removed {removed} staging folder(s) of stopped runs from {BUILD}/"] if removed else []


def _alive(staging: Path) -> bool:
    """Whether the run that made `staging` still holds its owner lock."""
    try:
        fd = os.open(staging / OWNER, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        if fcntl is None:
            return False
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)  # releases the lock just taken


def _sweep_watched(root: Path, staging: Path) -> None:
    """The temporary files of a stopped run's token in the folders it recorded."""
    try:
        folders = json.loads((staging / WATCHED).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except ValueError:
        folders = []
    token = staging.name[len("staging-"):]
    endings = (f".{token}.tmp", f".{token}.old")
    for rel in folders if isinstance(folders, list) else []:
        try:
            folder = _path(root, rel)
        except (ValueError, TypeError):
            continue
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(folder):
                if entry.name.startswith(".") and entry.name.endswith(endings):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)


def _check_build_folder(root: Path) -> None:
    build = root / BUILD
    try:
        Confinement(root).check(build, f"{BUILD}/")
    except ValueError as exc:
        raise InstallError(f"{exc}; remove the link") from None
    if os.path.lexists(build) and not build.is_dir():
        raise InstallError(f"{BUILD} is not a folder; pactnews keeps its staging folders there: move it away")


@contextlib.contextmanager
def _locked(root: Path, wait: bool = True):
    """build/ locked against other runs' installs and recoveries (flock on the folder itself: no lock file).

    Yields build/, or None when `wait` is false and another run holds the lock.
    A run that finds the folder replaced (removed while it waited) locks the new one.
    """
    folder = root / BUILD
    fd = None
    try:
        while True:
            folder.mkdir(exist_ok=True)
            try:
                fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except FileNotFoundError:
                continue
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    os.close(fd)
                    fd = None
                    break
            mine = os.fstat(fd)
            with contextlib.suppress(FileNotFoundError):
                now = os.stat(folder)
                if (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                    break
            os.close(fd)
            fd = None
    except OSError as exc:
        if fd is not None:
            os.close(fd)
            fd = None
        raise InstallError(f"{BUILD}/: cannot be made or locked ({_describe(exc, root)}); {_todo(exc, root)}, "
                           "then run the command again") from None
    try:
        yield folder if fd is not None else None
    finally:
        if fd is not None:
            os.close(fd)


def _remove_build_if_empty(root: Path) -> None:
    """build/ itself, when nothing is left in it and no other run holds it."""
    build = root / BUILD
    try:
        with os.scandir(build) as entries:
            if any(entries):
                return
        with _locked(root, wait=False) as held:
            if held is not None:
                os.rmdir(build)
    except (OSError, InstallError):
        pass


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM wait until the block is over, then take effect (the main thread only can catch them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(sig)
            previous[sig] = signal.SIG_DFL if handler is None else handler
            signal.signal(sig, lambda signum, frame: caught.append(signum))
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


def _pause() -> float:
    try:
        return max(0.0, float(os.environ.get(PAUSE) or 0))
    except ValueError:
        return 0.0


def _describe(exc: BaseException, root: Path) -> str:
    """One line: the error and the files it names, relative to the repository."""
    if isinstance(exc, _InTheWay):
        return f"{_shown(root, exc.path)} is in the way"
    if isinstance(exc, OSError) and exc.strerror:
        names = [_shown(root, f) for f in (exc.filename, exc.filename2) if f]
        return f"{exc.strerror}: {' -> '.join(names)}" if names else exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _todo(exc: BaseException, root: Path) -> str:
    if isinstance(exc, _InTheWay):
        return f"move {_shown(root, exc.path)} aside"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "free some disk space"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        names = [_shown(root, f) for f in (exc.filename, exc.filename2) if f] or [_shown(root, root)]
        return f"make {' and '.join(names)} and the folder{'s' if len(names) > 1 else ''} they are in writable"
    return "fix that"


def _shown(root: Path, path) -> str:
    path = Path(os.path.abspath(os.fsdecode(path)))
    try:
        return path.relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return os.fspath(path)
