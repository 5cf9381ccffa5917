"""The last step of a build submitted to Slurm: merge what the tasks left, render the documents, install."""
from __future__ import annotations

import shutil
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from pactnews.pipeline import install


class FinishBuild(PipelineStep):
    """One task after both pipelines: build.collect, build.render_documents, then pactnews.pipeline.install;
    the summary goes to the job's log. A build with problems installs nothing and fails the job."""

    name = "finish build"
    type = "💽 - WRITER"

    def __init__(self, ctx, plan, folder: Path):
        super().__init__()
        self.ctx, self.plan, self.folder = ctx, plan, Path(folder)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from pactnews.pipeline import build  # cycle: pipeline.build imports this module
        from pactnews.pipeline import features as feats  # heavy: imports datasets

        if data:
            yield from data
        root, dest, work = self.ctx.root, self.folder / "dest", self.folder / "work"
        try:
            report = build.collect(self.ctx, self.plan, dest, work)
            build.render_documents(self.ctx, root, dest, report)
        except build.BuildError as exc:
            print("\n".join([*exc.problems, exc.summary]))
            raise SystemExit(1) from exc
        for note in install.recover(root):
            print(f"note: {note}")
        install.install(root, dest, feats.CONFIGS,
                        (*build.DOCUMENTATION, build.CROISSANT, build.MANIFEST))
        for line in build.summary_lines(root, report):
            print(line)
        shutil.rmtree(dest, ignore_errors=True)
