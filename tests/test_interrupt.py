"""Crash-safe outputs: after SIGKILL, SIGINT or SIGTERM at any moment the outputs are the old ones or the new ones,
and the next run finishes or undoes the interrupted install and removes the stale staging folders.

The outputs are hashed file by file and compared with two clean builds: the
real gold annotations and the fixture's (so "new" differs from "old" in every
config). The kill loop runs `pactnews build` in a subprocess, and the install
step alone on a prebuilt copy (the same code, without a 5-second render before
it) for most kills, with PACTNEWS_TEST_INSTALL_PAUSE widening the install window.
PACTNEWS_INTERRUPT_SEED replays a run; PACTNEWS_INTERRUPT_ROUNDS multiplies the
number of kills for a longer soak.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import buildkit
from pactnews.pipeline import features as feats
from pactnews.pipeline import install
from pactnews.pipeline.build import CROISSANT, DOCUMENTATION, MANIFEST
from pactnews.repo import Layout
from pactnews.files import StagedWrites

FILES = (*DOCUMENTATION, CROISSANT, MANIFEST)
JOURNAL = install.JOURNAL
SEED = int(os.environ.get("PACTNEWS_INTERRUPT_SEED") or time.time_ns() % 2**31)
ROUNDS = max(1, int(os.environ.get("PACTNEWS_INTERRUPT_ROUNDS") or 1))


def outputs(root: Path) -> dict[str, str]:
    """sha256 of every file of the output tree: data/** and the generated files at the top."""
    paths = sorted(p for p in (root / "data").rglob("*") if p.is_file()) if (root / "data").is_dir() else []
    paths += [root / name for name in FILES if (root / name).is_file()]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def leftovers(root: Path) -> list[str]:
    """What an interrupted run may leave: the journal, staging folders, temporary files beside the clean texts."""
    build = root / "build"
    out = [f"build/{p.name}" for p in build.iterdir()] if build.is_dir() else []
    out += [f"corpus/clean/{p.name}" for p in (root / "corpus" / "clean").iterdir() if p.name.startswith(".")]
    return out


def cli(root: Path, *argv: str, pause: float = 0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pactnews.cli", "--root", str(root), *argv], capture_output=True,
                          text=True, timeout=600, env={**os.environ, install.PAUSE: str(pause)})


def spawn(argv: list[str], pause: float, log: Path) -> subprocess.Popen:
    """A run in a session of its own (so that what it forks can be found), its stderr in `log`: not a pipe, which
    a forked helper that outlives the run would keep open."""
    with open(log, "wb") as err:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                env={**os.environ, install.PAUSE: str(pause)})


def reap(proc: subprocess.Popen) -> int:
    """Wait for the run, then kill whatever it forked that outlived it (a killed parent's pool or manager)."""
    code = proc.wait(timeout=600)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return code


def save_outputs(root: Path, dest: Path) -> Path:
    shutil.copytree(root / "data", dest / "data")
    for name in FILES:
        shutil.copy2(root / name, dest / name)
    return dest


class Trees:
    """A repository copy whose annotations switch between two states, and the outputs each state builds to."""

    def __init__(self, tmp: Path, built: dict[str, Path]):
        self.root = buildkit.fresh_copy(built["real"], tmp / "repo")
        self.hashes = {state: outputs(path) for state, path in built.items()}
        self.builds = {state: save_outputs(path, tmp / f"out-{state}") for state, path in built.items()}
        self.side = tmp / "annotations"
        self.side.mkdir()
        shutil.copytree(built["fixture"] / "annotations", self.side / "fixture")
        self.inputs = "real"

    def use(self, state: str) -> None:
        """Switch the annotations to `state` (a rename each way: instant)."""
        if state != self.inputs:
            os.rename(self.root / "annotations", self.side / self.inputs)
            os.rename(self.side / state, self.root / "annotations")
            self.inputs = state

    def state(self) -> str | None:
        """Which build the output tree is, exactly; None for anything else."""
        now = outputs(self.root)
        return next((s for s, h in self.hashes.items() if h == now), None)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if "real" not in buildkit.VARIANTS:
        pytest.skip("the repository has no gold annotations")
    return {v: buildkit.built(tmp_path_factory, v) for v in ("real", "fixture")}


@pytest.fixture
def trees(built, tmp_path):
    return Trees(tmp_path, built)


def journal_of(root: Path) -> dict | None:
    try:
        return json.loads((root / JOURNAL).read_text())
    except FileNotFoundError:
        return None


def other(state: str) -> str:
    return "fixture" if state == "real" else "real"


# ---------------------------------------------------------------- the kill loop


def test_kills_at_random_moments_leave_the_old_or_the_new_outputs(trees):
    """>= 50 kills: `pactnews build` killed at uniformly random times and inside its install, and the install step
    alone killed at uniformly random times and inside it; after each, the outputs are exactly the old or the new
    ones once the next command has recovered, and nothing of the interrupted run is left."""
    rng = random.Random(SEED)
    root = trees.root
    configs, files = ",".join(feats.CONFIGS), ",".join(FILES)
    pauses = {"build": 0.03, "install": 0.01}  # seconds after each of the ~24 renames: the install window widened
    tally = {"kills": 0, "journal left": 0, "rolled back": 0, "rolled forward": 0, "no journal, old": 0,
             "no journal, new": 0, "finished first": 0}
    assert trees.state() == "real"
    assert all(trees.hashes["real"][k] != trees.hashes["fixture"][k] for k in trees.hashes["real"] if "/" in k)
    expected = "real"  # the outputs once the next command has recovered
    pending = None  # the staging folder of a journal no command has recovered yet
    durations = {}
    log = root.parent / "run.log"

    def run_once(kind: str, when, sig) -> bool:
        """One run of `kind`, signalled at `when` (seconds, "install", or None: not at all); True if it was."""
        nonlocal expected, pending
        old, new = expected, other(expected)
        trees.use(new)
        if kind == "build":
            argv = [sys.executable, "-m", "pactnews.cli", "--root", str(root), "build", "--quiet"]
        else:
            argv = [sys.executable, "-c", CRASH_DRIVER, "0", "recover-install", str(root), str(trees.builds[new]),
                    configs, files]
        t0 = time.monotonic()
        proc = spawn(argv, pauses[kind], log)
        where = f"seed {SEED}, {kind} run, {signal.Signals(sig).name if sig else 'no signal'} at {when}"
        if when == "install":  # once the journal is there, somewhere within the paused renames and the commit
            while proc.poll() is None and not (root / JOURNAL).exists():
                time.sleep(0.002)
            time.sleep(rng.uniform(0, pauses[kind] * 2 * (len(feats.CONFIGS) + len(FILES) + 4)))
        elif when is not None:
            time.sleep(when)
        killed = sig is not None and proc.poll() is None
        if killed:
            proc.send_signal(sig)
            tally["kills"] += 1
        code = reap(proc)
        durations.setdefault(kind, time.monotonic() - t0)
        if not killed:
            assert code == 0, f"{where}: {log.read_text()[-2000:]}"
            tally["finished first"] += sig is not None
        journal = journal_of(root)
        if journal is None:
            assert trees.state() in (old, new), f"{where}: no journal, yet the outputs are neither old nor new"
            expected = trees.state()
            if killed:
                tally[f"no journal, {'old' if expected == old else 'new'}"] += 1
        elif journal["staging"] != pending:  # else: killed before it recovered the previous run's journal
            # SIGINT and SIGTERM wait for the install to end: only SIGKILL can leave a journal
            assert sig == signal.SIGKILL, where
            tally["journal left"] += 1
            expected = new if journal["state"] == "committed" else old
            tally["rolled forward" if expected == new else "rolled back"] += 1
            pending = journal["staging"]
        return killed

    def recover(how: str) -> None:
        nonlocal pending
        where = f"seed {SEED}, recovery by {how}"
        if how == "build --check":
            result = cli(root, "build", "--check", "--quiet")
            assert "Traceback" not in result.stdout + result.stderr, where
            assert (result.returncode == 0) == (expected == trees.inputs), f"{where}: {result.stdout}"
        else:
            install.recover(root)
        pending = None
        assert trees.state() == expected, f"{where}: the outputs are not the {expected} build"
        assert leftovers(root) == [] and not (root / "build").exists(), f"{where}: {leftovers(root)}"

    run_once("build", None, None)  # whole runs, to time them
    run_once("install", None, None)
    recover("recover()")
    # (kind, when): uniformly random moments of the whole run, or inside the install
    plan = [("build", "any")] * 5 + [("build", "install")] * 3 + [("install", "any")] * 30 + [("install", "install")] * 12
    plan *= ROUNDS
    rng.shuffle(plan)
    checks = 0
    while plan and tally["kills"] < 400 * ROUNDS:
        kind, when = plan.pop()
        sig = rng.choices([signal.SIGKILL, signal.SIGINT, signal.SIGTERM], [6, 1, 1])[0]
        moment = "install" if when == "install" else round(rng.uniform(0, durations[kind]), 3)
        if not run_once(kind, moment, sig):
            plan.insert(0, (kind, when))  # it finished before the signal: once more
        if tally["kills"] % 20 == 19 and checks < 2 * ROUNDS:
            recover("build --check")
            checks += 1
        elif rng.random() < 0.7:
            recover("recover()")
        # else: the next run has to recover by itself
    recover("recover()")
    final = cli(root, "build", "--quiet")
    assert final.returncode == 0 and trees.state() == trees.inputs and leftovers(root) == [], final.stdout
    print(f"interrupt loop, seed {SEED}: {tally}; whole runs: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in durations.items()))
    assert tally["kills"] >= 50 * ROUNDS, tally
    assert tally["journal left"] >= 5 and tally["rolled back"] >= 1, f"too few kills inside the install: {tally}"


# ---------------------------------------------------------------- every crash point, deterministically


# The install step alone, as `pactnews build` runs it after rendering (recover-install: recover, stage a copy of a
# build, install), or clean, in a fresh interpreter that dies (os._exit, as under SIGKILL) at its `step`-th
# rename or journal write (never with step 0): a fresh process rather than a fork of this one, which may run
# threads (a fork then can deadlock the child).
CRASH_DRIVER = """
import os, shutil, sys
from pathlib import Path
from pactnews.pipeline import install
step, kind, root = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
count = [0]
def counted(fn):
    def wrapper(*args, **kwargs):
        count[0] += 1
        if count[0] == step:
            os._exit(9)
        return fn(*args, **kwargs)
    return wrapper
for name in ("_rename", "_write_journal", "_remove_journal"):
    setattr(install, name, counted(getattr(install, name)))
if kind == "clean":
    from pactnews.commands.clean import clean_corpus
    from pactnews.repo import Layout
    clean_corpus(Layout(root), progress=False)
else:
    if kind == "recover-install":
        install.recover(root)
    with install.Staging(root) as staging:
        shutil.copytree(sys.argv[4], staging.path, dirs_exist_ok=True)
        install.install(root, staging.path, sys.argv[5].split(","), sys.argv[6].split(","))
"""


def crash_at(step: int, kind: str, root: Path, source: Path | None = None) -> bool:
    """Run `kind` (recover-install, install, clean) on `root` in a child that dies at its `step`-th rename or
    journal write; True when it got that far, False when it finished first."""
    argv = [sys.executable, "-c", CRASH_DRIVER, str(step), kind, str(root)]
    if source is not None:
        argv += [str(source), ",".join(feats.CONFIGS), ",".join(FILES)]
    child = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert child.returncode in (0, 9), f"the child failed with {child.returncode}: {child.stderr[-2000:]}"
    return child.returncode == 9


def test_an_install_killed_at_each_step_recovers_to_the_old_or_the_new_outputs(trees):
    root = trees.root
    new = "fixture"
    seen = set()
    step = 1
    while crash_at(step, "recover-install", root, trees.builds[new]):
        journal = journal_of(root)
        expected = new if journal and journal["state"] == "committed" else "real"
        if journal is None:  # before the journal, or after its removal
            expected = trees.state()
            assert expected in ("real", new), f"step {step}: no journal, outputs neither old nor new"
        seen.add((journal or {}).get("state"))
        notes = install.recover(root)
        assert trees.state() == expected, f"step {step}: {notes}"
        assert leftovers(root) == [] and not (root / "build").exists(), f"step {step}"
        if expected == new:  # back to the old outputs for the next crash point
            install.recover(root)
            with install.Staging(root) as staging:
                shutil.copytree(trees.builds["real"], staging.path, dirs_exist_ok=True)
                install.install(root, staging.path, feats.CONFIGS, FILES)
            assert trees.state() == "real"
        step += 1
    assert trees.state() == new, "the run that was not killed installed the new outputs"
    assert seen == {None, "prepared", "committed"} and step > len(feats.CONFIGS) + len(FILES) * 2, (seen, step)


def test_clean_killed_at_each_step_recovers_to_the_old_or_the_new_clean_texts(trees):
    root = trees.root
    layout = Layout(root)
    new = {p.name: p.read_bytes() for p in layout.clean.iterdir()}

    def spoil():  # the old state: every clean file changed, one missing
        for p in sorted(layout.clean.iterdir()):
            p.write_bytes(p.read_bytes() + b"\nold\n")
        sorted(layout.clean.iterdir())[0].unlink()
        return {p.name: p.read_bytes() for p in layout.clean.iterdir()}

    old = spoil()
    step = 1
    while crash_at(step, "clean", root):
        journal = journal_of(root)
        files = {p.name: p.read_bytes() for p in layout.clean.iterdir() if not p.name.startswith(".")}
        if journal is None:
            assert files in (old, new), f"step {step}: no journal, corpus/clean/ neither old nor new"
            expected = files
        else:
            expected = new if journal["state"] == "committed" else old
        install.recover(root)
        assert {p.name: p.read_bytes() for p in layout.clean.iterdir()} == expected, f"step {step}"
        assert leftovers(root) == [] and not (root / "build").exists(), f"step {step}: {leftovers(root)}"
        if expected == new:
            assert spoil() == old
        step += 1
    assert {p.name: p.read_bytes() for p in layout.clean.iterdir()} == new and leftovers(root) == []
    assert step > 2 * len(new), "a crash point before and after each rename pair"


def test_clean_killed_at_random_moments_leaves_the_old_or_the_new_clean_texts(trees):
    """`pactnews clean` killed (SIGKILL) at a random moment or inside its commit; `clean --check`, the next command,
    recovers: corpus/clean/ is the old or the new texts, and no temporary file or staging folder is left."""
    rng = random.Random(SEED)
    root = trees.root
    clean = Layout(root).clean
    new = {p.name: p.read_bytes() for p in clean.iterdir()}
    argv = [sys.executable, "-m", "pactnews.cli", "--root", str(root), "clean"]
    for p in clean.iterdir():
        p.write_bytes(b"old\n" + new[p.name])
    old = {p.name: p.read_bytes() for p in clean.iterdir()}
    t0 = time.monotonic()
    assert reap(spawn(argv, 0.02, root.parent / "clean.log")) == 0  # a whole run, to time it
    whole = time.monotonic() - t0
    assert {p.name: p.read_bytes() for p in clean.iterdir()} == new
    for k in range(4):
        for name, data in old.items():
            (clean / name).write_bytes(data)
        proc = spawn(argv, 0.02, root.parent / "clean.log")
        if k % 2:
            while proc.poll() is None and not (root / JOURNAL).exists():
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02 * 2 * len(new)))
        else:
            time.sleep(rng.uniform(0, whole))
        proc.send_signal(signal.SIGKILL)
        reap(proc)
        result = cli(root, "clean", "--check")
        assert "Traceback" not in result.stdout + result.stderr
        now = {p.name: p.read_bytes() for p in clean.iterdir()}
        assert now in (old, new), f"seed {SEED}, kill {k}: corpus/clean/ is neither old nor new"
        assert (result.returncode == 0) == (now == new), result.stdout
        assert leftovers(root) == [] and not (root / "build").exists(), leftovers(root)


# ---------------------------------------------------------------- failures: one line, and recoverable


class ReadOnly:
    """A folder nobody may change: the immutable flag (even root obeys it), or mode 555 for other users."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.how = None

    def __enter__(self):
        if subprocess.run(["chattr", "+i", str(self.folder)], capture_output=True).returncode == 0:
            self.how = "chattr"
        elif os.geteuid() != 0:
            self.folder.chmod(0o555)
            self.how = "chmod"
        else:
            pytest.skip("cannot make a folder read-only here (no chattr, and root ignores modes)")
        return self

    def __exit__(self, *exc):
        if self.how == "chattr":
            subprocess.run(["chattr", "-i", str(self.folder)], check=True)
        elif self.how == "chmod":
            self.folder.chmod(0o755)


def one_line_failure(result: subprocess.CompletedProcess) -> str:
    """The command failed with exactly one line, `FAILED: ...`, on stdout (a verb's own failure) or on stderr
    (a recovery that failed before the verb ran), and no traceback."""
    lines = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("FAILED: "), result.stdout + result.stderr
    return lines[0]


def test_a_rollback_blocked_by_a_read_only_folder_says_so_in_one_line_and_stays_recoverable(trees):
    """Killed mid-install, then data/ is read-only: `build --check` fails with one line naming the journal and
    what to do; once data/ is writable again the next command rolls back to the old outputs."""
    root = trees.root
    with ReadOnly(root / "data"):  # skips here when it cannot be done
        pass
    # killed with the journal written, documents swapped, entities moved out
    assert crash_at(5, "install", root, trees.builds["fixture"])
    assert journal_of(root)["state"] == "prepared" and not (root / "data" / "entities").exists()
    before = buildkit.tree_hashes(root)
    with ReadOnly(root / "data"):
        line = one_line_failure(cli(root, "build", "--check", "--quiet"))
        assert line.startswith(f"FAILED: {JOURNAL}: an interrupted install could not be rolled back (")
        assert "data/" in line and "writable, then run the command again" in line, line
        assert buildkit.tree_hashes(root) == before, "a failed recovery changes nothing more"
    result = cli(root, "clean", "--check")  # any verb that reads the repository recovers first
    assert result.stderr.startswith("pactnews clean: rolled back the install") and result.returncode == 0, result.stderr
    assert trees.state() == "real" and leftovers(root) == [] and not (root / "build").exists()


def test_an_install_and_its_rollback_failing_give_one_line_and_a_recoverable_journal(trees, monkeypatch):
    """data/ turns read-only in the middle of the renames: the install fails, and so does putting the old
    copies back; one line, the journal kept, and the next run recovers."""
    root = trees.root
    with ReadOnly(root / "data"):  # skips here when it cannot be done
        pass
    guard = ReadOnly(root / "data")
    calls = []

    def rename(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            guard.__enter__()
        os.rename(src, dst)

    monkeypatch.setattr(install, "_rename", rename)
    try:
        with pytest.raises(install.InstallError) as caught:
            with install.Staging(root) as staging:
                shutil.copytree(trees.builds["fixture"], staging.path, dirs_exist_ok=True)
                install.install(root, staging.path, feats.CONFIGS, FILES)
    finally:
        guard.__exit__()
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{JOURNAL}: the install failed (")
    assert "could not be put back" in message and "writable" in message, message
    assert journal_of(root)["state"] == "prepared" and (root / journal_of(root)["staging"]).is_dir()
    monkeypatch.undo()
    assert install.recover(root) and trees.state() == "real" and leftovers(root) == []


def test_an_install_that_fails_puts_the_old_outputs_back_and_says_so(trees):
    """The repository folder is read-only: the config folders are swapped, README.md cannot be; all undone."""
    root = trees.root
    with pytest.raises(install.InstallError) as caught:
        with install.Staging(root) as staging:
            shutil.copytree(trees.builds["fixture"], staging.path, dirs_exist_ok=True)
            with ReadOnly(root):
                install.install(root, staging.path, feats.CONFIGS, FILES)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("the install failed (") and "README.md" in message, message
    assert "the previous outputs are back in place" in message, message
    assert trees.state() == "real" and leftovers(root) == [] and not (root / "build").exists()


def test_a_hostile_journal_is_refused_in_one_line_and_nothing_moves(trees):
    root = trees.root
    (root / "build").mkdir()
    (root / JOURNAL).write_text(json.dumps({"format": install.FORMAT, "state": "committed", "staging": None,
                                            "moves": [["data/documents", None, "../outside"]]}))
    line = one_line_failure(cli(root, "build", "--check", "--quiet"))
    assert line.startswith(f"FAILED: {JOURNAL}: not an install journal") and "delete it" in line, line
    assert trees.state() == "real" and not (root.parent / "outside").exists()


def test_staging_of_a_live_run_is_kept_and_of_a_stopped_one_removed(trees):
    root = trees.root
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pactnews.pipeline import install\n"
                               f"s = install.Staging({str(root)!r})\nprint(s.path, flush=True)\ntime.sleep(600)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        live = Path(holder.stdout.readline().strip())
        stale = root / "build" / "staging-stopped"
        stale.mkdir()
        (stale / "x").write_text("left by a killed run")
        assert install.recover(root) == ["removed 1 staging folder(s) of stopped runs from build/"]
        assert live.is_dir() and not stale.exists()
    finally:
        holder.kill()
        holder.wait()
    install.recover(root)
    assert not (root / "build").exists()


def test_staged_writes_forget_leaves_the_files_to_the_journal(tmp_path):
    staged = StagedWrites()
    staged.watch(tmp_path)
    staged.stage(tmp_path / "a.txt", b"new")
    tmp = staged.temp_path(tmp_path / "a.txt")
    staged.forget()
    staged.abort()
    staged.commit()
    assert tmp.read_bytes() == b"new" and not (tmp_path / "a.txt").exists()
    assert staged.old_path(tmp_path / "a.txt").name == f".a.txt.{staged.token}.old"


# ---------------------------------------------------------------- no process outlives a killed build


def session_processes(sid: int) -> list[str]:
    """`pid command` of the live (not zombie) processes of a session, from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(f"{entry.name} {stat[stat.index('(') + 1:stat.rindex(')')]}")
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_a_build_killed_in_its_datatrove_stage_leaves_no_process_behind(trees, tmp_path):
    """SIGKILL to `pactnews build` alone (not its process group) while its pool and datatrove's Manager run:
    the kernel kills them with it, so nothing keeps running, or holding the repository's files open."""
    root = trees.root
    run = spawn([sys.executable, "-m", "pactnews.cli", "--root", str(root), "build", "--quiet", "--tasks", "4",
                 "--workers", "2"], 0, tmp_path / "build.log")
    try:
        deadline = time.monotonic() + 120
        while len(session_processes(run.pid)) < 3:  # the build, the Manager and a pool worker
            assert run.poll() is None and time.monotonic() < deadline, (tmp_path / "build.log").read_text()
            time.sleep(0.05)
        children = session_processes(run.pid)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
        deadline = time.monotonic() + 10
        while session_processes(run.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session_processes(run.pid) == [], f"outlived the build: {session_processes(run.pid)} of {children}"
    finally:
        reap(run)
    install.recover(root)
    assert trees.state() == "real" and leftovers(root) == []
