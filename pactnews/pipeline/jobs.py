"""Batches of files as datatrove tasks: what `pactnews clean` and `pactnews validate` run with --num-proc.

A job is one batch (pactnews.pipeline.batches.batched); `fn(context, job)` is a pure
function of it apart from reading (and, for `clean`, staging) files. With one process
the jobs run in a plain loop here; with more, job j goes to task j mod N of a local
datatrove executor, each task writes its results to the work folder, and they come back
in job order, so the outcome does not depend on N.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from pactnews.pipeline import executors
from pactnews.files import atomic_write_bytes


def write_pickle(path: Path, obj) -> None:
    """A task's results or summary, written atomically (a task run again replaces it whole)."""
    atomic_write_bytes(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


class BatchJobs(PipelineStep):
    """The jobs of one task (<folder>/jobs-<rank>.pkl) -> their results (<folder>/results-<rank>.pkl)."""

    name = "batch jobs"
    type = "🔢 - BATCHES"

    def __init__(self, fn, context, folder: Path):
        super().__init__()
        self.fn, self.context, self.folder = fn, context, Path(folder)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        jobs = pickle.loads((self.folder / f"jobs-{rank:05d}.pkl").read_bytes())
        out = []
        for index, job in jobs:
            with self.track_time("batch"):
                out.append((index, self.fn(self.context, job)))
            self.stat_update("batches")
        write_pickle(self.folder / f"results-{rank:05d}.pkl", out)


def run_jobs(fn, context, jobs, num_proc: int = 1, work: Path | None = None, progress: bool | None = False,
             desc: str = "") -> list:
    """fn(context, job) for every job, the results in job order: a plain loop with one process (or no `work`
    folder; a progress bar on stderr when `progress`, None: on a terminal), else `num_proc` tasks on a local
    datatrove executor with their files and logs in `work`."""
    jobs = list(jobs)
    tasks = min(num_proc, len(jobs))
    if tasks <= 1 or work is None:
        import sys

        from tqdm.auto import tqdm

        with tqdm(jobs, desc=desc, unit="batch", disable=(not progress) if progress is not None else None,
                  file=sys.stderr, leave=False, mininterval=1.0) as bar:
            return [fn(context, job) for job in bar]
    folder = Path(work) / "jobs"
    for rank in range(tasks):
        write_pickle(folder / f"jobs-{rank:05d}.pkl", [(j, jobs[j]) for j in range(rank, len(jobs), tasks)])
    del jobs
    executors.quiet()
    logs = Path(work) / "logs"
    executors.local([BatchJobs(fn, context, folder)], tasks, tasks, logs).run()
    missing = executors.incomplete(logs, tasks)
    if missing:
        raise RuntimeError(f"tasks {missing} of {tasks} did not complete; see {logs}")
    results = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("results-"):
            results += pickle.loads((folder / name).read_bytes())
    return [r for _, r in sorted(results, key=lambda x: x[0])]
