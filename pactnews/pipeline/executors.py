"""The datatrove executors that run our pipelines: local processes (default), Ray or Slurm.

Every executor runs the same list of steps with the same task count, so the output is the
same on each; its logging_dir (stats/<rank>.json, completions/, logs/) is a folder of the
build's work area under the repository's git-ignored build/. datatrove logs through loguru;
its messages stay off unless asked for (`verbose`), so the CLI's own lines are the output.
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from pactnews.pipeline.install import InstallError, Staging

EXECUTORS = ("local", "ray", "slurm")


def quiet(verbose: bool = False) -> None:
    """datatrove's log messages off (they go to stderr and to the task logs), unless `verbose`."""
    from loguru import logger

    if verbose:
        logger.enable("datatrove")
    else:
        logger.disable("datatrove")


# Threads that survive a fork by design: fsspec's event-loop thread (datatrove reads and writes through fsspec),
# which fsspec drops in the child with os.register_at_fork (fsspec.asyn.reset_after_fork).
FORK_SAFE_THREADS = frozenset({"fsspecIO"})


def start_method() -> str:
    """Fork where the platform has it and this process runs no other thread than FORK_SAFE_THREADS (a fork then
    can deadlock, e.g. after ray.init): workers inherit the imported modules (spaCy, pyarrow) and the quiet
    logger. Else forkserver."""
    import threading

    import multiprocess

    methods = multiprocess.get_all_start_methods()
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and t.name not in FORK_SAFE_THREADS]
    if "fork" in methods and not others:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


_FORKING_PID = [0]


def _remember_parent() -> None:
    _FORKING_PID[0] = os.getpid()


def _die_with_parent() -> None:
    """In a process forked from one that ran a local executor (datatrove's Manager, the pool's workers): the
    kernel sends it SIGKILL when that parent dies, even by SIGKILL, so a killed build leaves no process
    behind (Linux's PR_SET_PDEATHSIG; elsewhere nothing changes)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != _FORKING_PID[0]:  # the parent died before the line above: do not outlive it
        os._exit(1)


def tie_children_to_this_process() -> None:
    """Every process forked from now on dies with this one (once per process; subprocess's fork+exec and
    forkserver children are not forks of this interpreter and keep their own lives)."""
    if not _FORKING_PID[0] and sys.platform.startswith("linux"):
        _FORKING_PID[0] = os.getpid()
        os.register_at_fork(before=_remember_parent, after_in_child=_die_with_parent)


def local(pipeline: list, tasks: int, workers: int, logging_dir: Path, depends=None):
    from datatrove.executor import LocalPipelineExecutor

    if workers > 1 and tasks > 1:
        tie_children_to_this_process()

    return LocalPipelineExecutor(pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=str(logging_dir),
                                 depends=depends, start_method=start_method())


def ray(pipeline: list, tasks: int, workers: int, logging_dir: Path, depends=None, cpus_per_task: int = 1,
        mem_per_cpu_gb: float = 2):
    """A RayPipelineExecutor; Ray is started here (a local instance, or the cluster of RAY_ADDRESS) unless it
    already is. The logging dir must be on a file system the workers share."""
    import ray as ray_module
    from datatrove.executor.ray import RayPipelineExecutor

    if not ray_module.is_initialized():
        ray_module.init(include_dashboard=False, log_to_driver=False)
    return RayPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir), depends=depends,
                               cpus_per_task=cpus_per_task, mem_per_cpu_gb=mem_per_cpu_gb)


def slurm(pipeline: list, tasks: int, workers: int, logging_dir: Path, depends=None, *, job_name: str,
          partition: str, time: str, cpus_per_task: int = 1, mem_per_cpu_gb: int = 2, qos: str | None = None,
          venv_path: str | None = None, sbatch_args: dict | None = None):
    """A SlurmPipelineExecutor: one job array of `tasks` tasks (at most `workers` at once), after `depends`;
    the job activates this environment (venv_path, default: the running interpreter's venv)."""
    from datatrove.executor.slurm import SlurmPipelineExecutor

    if venv_path is None and (Path(sys.prefix) / "bin" / "activate").is_file():
        venv_path = str(Path(sys.prefix) / "bin" / "activate")
    return SlurmPipelineExecutor(
        pipeline, tasks=tasks, time=time, partition=partition, cpus_per_task=cpus_per_task,
        mem_per_cpu_gb=mem_per_cpu_gb, workers=workers, job_name=job_name, qos=qos, venv_path=venv_path,
        sbatch_args=sbatch_args, depends=depends, logging_dir=str(logging_dir),
        slurm_logs_folder=str(Path(logging_dir) / "slurm_logs"),
    )


def incomplete(logging_dir: Path, tasks: int) -> list[int]:
    """The ranks without a completion marker (a task that failed, or never ran)."""
    done = set(os.listdir(Path(logging_dir) / "completions")) if (Path(logging_dir) / "completions").is_dir() else set()
    return [r for r in range(tasks) if f"{r:05d}" not in done]


def step_stats(logging_dir: Path) -> dict[str, dict]:
    """Per step (by name): the counts of every task summed, and `seconds`, the time the step took summed over
    tasks (datatrove's stats/<rank>.json)."""
    out: dict[str, dict] = {}
    folder = Path(logging_dir) / "stats"
    for name in sorted(os.listdir(folder)) if folder.is_dir() else []:
        for step in json.loads((folder / name).read_text()):
            label = step["name"].split(": ", 1)[-1]
            into = out.setdefault(label, {"seconds": 0.0})
            into["seconds"] += _total(step.get("time_stats", 0))
            for key, value in step.get("stats", {}).items():
                into[key] = into.get(key, 0) + _total(value)
    return out


def _total(value) -> float:
    return value.get("total", 0) if isinstance(value, dict) else value


@contextmanager
def work_area(root: Path):
    """A fresh folder for scratch files and the executors' logs: a staging folder of this run under the
    repository's git-ignored build/ (pactnews.pipeline.install.Staging), removed however the run ends, and swept
    by the next run if this one is killed."""
    try:
        staging = Staging(root)
    except InstallError as exc:
        from pactnews.pipeline.context import BuildError  # heavy: imports datasets

        raise BuildError([str(exc)], "FAILED: no work folder for the pipeline; nothing written") from exc
    with staging:
        work = staging.path / "work"
        work.mkdir()
        yield work
