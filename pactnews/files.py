"""Writing files: atomic and crash-safe (one file, several at once, thousands staged), hashes, and the one JSON
writer. Every module that writes into the repository writes through here; where files live is pactnews.repo."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import sys
import tempfile
from itertools import chain
from pathlib import Path

import orjson


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file; mkstemp alone gives 0600


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    return sha256_bytes(Path(path).read_bytes())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_files_atomically(files: dict[Path, bytes]) -> None:
    """Write several files so that either all change or none does.

    Every new content is staged first next to its target; only when all are
    staged are they renamed into place. A failure while staging leaves every
    target untouched.
    """
    with StagedWrites() as staged:
        for path, data in files.items():
            staged.stage(path, data)


class StagedWrites:
    """Many files replaced all at once or not at all, without holding their contents.

    `stage` writes each new content to a temporary file beside its target
    (`.<name>.<token>.tmp`); `commit` makes them durable and only then renames
    every staged file into place; `abort` removes them. With sync_each (the
    default) each file is fsynced as it is staged; without it `commit` flushes
    their file systems once (syncfs on Linux): for thousands of small files,
    one flush instead of one journal commit per file. As a context manager it
    commits on success and aborts on any exception. Other processes may stage
    with the same token (`StagedWrites(token)`) and hand their targets over
    with `adopt`; `abort` also sweeps the watched folders for temporary files
    of this token, so a worker killed while staging leaves nothing behind.
    """

    def __init__(self, token: str | None = None, *, sync_each: bool = True):
        self.token = token or f"{os.getpid()}-{secrets.token_hex(6)}"
        self.sync_each = sync_each
        self._targets: list[str] = []  # plain strings: a 100,000-document commit stays small
        self._folders: set[str] = set()

    def __enter__(self) -> "StagedWrites":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def __len__(self) -> int:
        return len(self._targets)

    def temp_path(self, path: Path) -> Path:
        path = Path(path)
        return path.parent / f".{path.name}.{self.token}.tmp"

    def old_path(self, path: Path) -> Path:
        """Where a journaled commit (pactnews.pipeline.install.commit_staged) keeps the previous copy of `path`."""
        path = Path(path)
        return path.parent / f".{path.name}.{self.token}.old"

    @property
    def targets(self) -> list[str]:
        return list(self._targets)

    def watch(self, folder: Path) -> None:
        """A folder that `abort` sweeps for this token's temporary files (beyond those of staged targets)."""
        self._folders.add(os.fspath(folder))

    def stage(self, path: Path, data: bytes) -> None:
        """Write `data` beside `path` (fsynced with sync_each); `path` itself changes only at `commit`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._folders.add(os.fspath(path.parent))
        tmp = self.temp_path(path)
        again = False
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # O_EXCL: never another run's file
        except FileExistsError:
            if os.fspath(path) not in self._targets:
                raise
            again = True  # the same target staged twice: the last content wins, as in a dict
            fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), FILE_MODE)
                fh.write(data)
                if self.sync_each:
                    fh.flush()
                    os.fsync(fh.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if not again:
            self._targets.append(os.fspath(path))

    def adopt(self, targets) -> None:
        """Targets another process staged with this token; they commit and abort with ours."""
        for target in targets:
            target = os.fspath(target)
            self._targets.append(target)
            self._folders.add(os.path.dirname(target))

    def detach(self) -> list[str]:
        """The staged targets, handed over (to `adopt` in another process); this object forgets them."""
        targets, self._targets = self._targets, []
        return targets

    def make_durable(self) -> None:
        """Every staged file and its name on disk (the files themselves already, with sync_each)."""
        if not self.sync_each:
            _make_durable([self.temp_path(t) for t in self._targets], self._folders)
        for folder in sorted(self._folders):
            _fsync_folder(folder)

    def forget(self) -> None:
        """Drop every staged file and watched folder from this object, leaving the files where they are (a journal
        that still needs them owns them now); `commit` and `abort` then do nothing."""
        self._targets = []
        self._folders = set()

    def commit(self) -> None:
        """Make every staged file durable, rename each into place, then make the renames durable.

        All or nothing within this process; across a kill, only with
        pactnews.pipeline.install.commit_staged (a journal).
        """
        k = 0
        try:
            if not self.sync_each:
                _make_durable([self.temp_path(t) for t in self._targets], self._folders)
            for k, target in enumerate(self._targets):
                os.replace(self.temp_path(target), target)
        except BaseException:
            self._targets = self._targets[k:]
            self.abort()
            raise
        self._targets = []
        for folder in sorted(self._folders):
            _fsync_folder(folder)

    def abort(self) -> None:
        """Remove every staged file of this token; no target changes."""
        for target in self._targets:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp_path(target))
        self._targets = []
        suffix = f".{self.token}.tmp"
        for folder in sorted(self._folders):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                for entry in os.scandir(folder):
                    if entry.name.startswith(".") and entry.name.endswith(suffix):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)


def _make_durable(paths: list[Path], folders) -> None:
    """Everything written to `paths` on disk: syncfs per file system on Linux (sync() there waits for the
    writes, as fsync does), else fsync of each file."""
    if sys.platform.startswith("linux") and paths:
        import ctypes

        try:
            syncfs = ctypes.CDLL(None, use_errno=True).syncfs
        except (OSError, AttributeError):
            syncfs = None
        devices = {}
        for folder in folders:
            with contextlib.suppress(OSError):
                devices.setdefault(os.stat(folder).st_dev, folder)
        for folder in devices.values():
            if syncfs is None:
                os.sync()
                return
            fd = os.open(folder, os.O_RDONLY)
            try:
                if syncfs(fd) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"syncfs failed: {os.strerror(err)}", folder)
            finally:
                os.close(fd)
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory; the renames are done
        pass
    finally:
        os.close(fd)


def dump_json(obj) -> str:
    """Canonical JSON: sorted keys, UTF-8, two-space indent, trailing newline.

    Byte for byte json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n", written by orjson
    (the standard library indents in pure Python, one generator step per value). Where orjson's text would
    differ, or orjson refuses the object, json.dumps writes it (or raises what it raises); this is rare:
      - floats whose shortest text orjson spells otherwise (1e-05 is 0.00001 there, 1e-07 is 1e-7) and
        NaN/Infinity (null there): any float whose orjson text is not float.__repr__;
      - integers beyond 64 bits, dict keys that are not exactly str (json sorts int keys as numbers
        and writes other key types as text), lone surrogates, nesting deeper than 255: orjson raises;
      - any type but exactly dict, list, tuple, str, int, float, bool and None: subclasses (namedtuples,
        IntEnum, str and dict subclasses), which json treats through their base class, and the types
        orjson writes but json refuses (dataclasses, datetimes, enums, UUIDs), so json raises on them.
    """
    try:
        text = orjson.dumps(obj, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        text = None
    if text is None or not _orjson_writes_as_json(obj):
        return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return text.decode("utf-8") + "\n"


_ORJSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_LEAF = frozenset({str, int, float, bool, type(None)})
_PLAIN = _LEAF | {dict, list, tuple}
_SEQUENCE = frozenset({list, tuple})
_KEY = frozenset({str})


def _orjson_writes_as_json(obj) -> bool:
    """Whether orjson's text of obj is json.dumps's: only the plain JSON types, every float spelled by repr.

    Called once orjson has written obj, so obj is acyclic and at most 255 deep; the walk goes one level
    at a time, checking the types of a whole level at once, and looks at each float only when a level
    holds floats (orjson writes all of them in one call, compared with their reprs).
    """
    level = [obj]
    while level:
        types = set(map(type, level))
        if not types <= _PLAIN:
            return False
        if float in types:
            floats = [x for x in level if type(x) is float]
            if orjson.dumps(floats) != ("[" + ",".join(map(float.__repr__, floats)) + "]").encode():
                return False
        if types <= _LEAF:
            return True
        below: list = []
        if dict in types:
            dicts = level if len(types) == 1 else [x for x in level if type(x) is dict]
            if not set(map(type, chain.from_iterable(dicts))) <= _KEY:
                return False
            below.extend(chain.from_iterable(map(dict.values, dicts)))
        if not types.isdisjoint(_SEQUENCE):
            seqs = level if types <= _SEQUENCE else [x for x in level if type(x) in _SEQUENCE]
            below.extend(chain.from_iterable(seqs))
        level = below
    return True
