"""`pactnews build`: build data/, the card, the datasheet, croissant.json and MANIFEST.json with
pactnews.pipeline.build, install them at once (pactnews.pipeline.install), or with --check name what is stale."""
from __future__ import annotations

from pathlib import Path

from pactnews.pipeline import build, install
from pactnews.pipeline import features as feats
from pactnews.repo import Layout
from pactnews.validate.validator import refused


def add_arguments(parser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temporary folder and fail, naming the files, when data/, the card "
                             "front matter, croissant.json or MANIFEST.json are out of date; write nothing")
    parser.add_argument("--input", type=Path, default=None, metavar="FOLDER",
                        help="build from a folder (relative to the repository root) of sharded *.jsonl, *.jsonl.gz or "
                             "*.parquet files, one record per document: id, text (raw), metadata, annotation "
                             "(pactnews.corpus.shards); default: corpus/ and annotations/")
    parser.add_argument("--executor", choices=("local", "ray", "slurm"), default="local",
                        help="datatrove executor: local processes (default), Ray (a local instance, or the cluster "
                             "of RAY_ADDRESS) or Slurm job arrays (submits and returns); the output is the same")
    parser.add_argument("--tasks", type=int, default=None, metavar="N",
                        help="datatrove tasks (default: one per shard, at most one per CPU); the output is the same for any N")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="tasks running at once (default: one per CPU, at most --tasks)")
    parser.add_argument("--num-proc", type=int, default=None, metavar="N",
                        help="shorthand for --tasks N --workers N")
    parser.add_argument("--slurm-partition", default=None, help="Slurm partition (with --executor slurm)")
    parser.add_argument("--slurm-time", default="04:00:00", help="Slurm time limit per task (default 04:00:00)")
    parser.add_argument("--slurm-mem-per-cpu-gb", type=int, default=4, metavar="GB",
                        help="Slurm memory per CPU (default 4)")
    parser.add_argument("--verbose", action="store_true", help="show datatrove's log messages on stderr")
    parser.add_argument("--quiet", action="store_true", help="print only the summary (the build shows no progress bar)")
    parser.add_argument("--timings", action="store_true", help="print the wall-clock time of each phase")


def run(args) -> int:
    root = Path(args.root)  # an install a killed run left half done was finished or undone by cli.main
    progress = False if args.quiet else None
    engine = dict(input=args.input, tasks=args.tasks or args.num_proc, workers=args.workers or args.num_proc,
                  executor=args.executor, verbose=args.verbose)
    if args.input is None:  # one gate: the build accepts exactly what `pactnews validate` accepts
        if refused(Layout(root), "build", num_proc=args.num_proc or 1):
            return 1
    if args.executor == "slurm":
        return submit(root, args, engine)
    if args.check:
        try:
            stale = build.stale_outputs(root, progress=progress, **engine)
        except build.BuildError as exc:
            for line in exc.problems:
                print(line)
            print(exc.summary)
            return 1
        except install.InstallError as exc:
            print(f"FAILED: {exc}")
            return 1
        if stale:
            for name in stale:
                print(f"out of date: {name}")
            print(f"FAILED: {len(stale)} generated file(s) are out of date with corpus/ and annotations/; run `pactnews build`")
            return 1
        print("data/, README.md, DATASHEET.md, CITATION.cff, croissant.json and MANIFEST.json are up to date")
        return 0
    try:
        with install.Staging(root) as staging:  # build/staging-*/, removed however the run ends
            try:
                report = build.render_outputs(root, staging.path, progress=progress, **engine)
            except build.BuildError as exc:
                for line in exc.problems:
                    print(line)
                print(exc.summary)
                return 1
            install.install(root, staging.path, feats.CONFIGS, (*build.DOCUMENTATION, build.CROISSANT, build.MANIFEST))
    except install.InstallError as exc:
        print(f"FAILED: {exc}")
        return 1
    print_summary(root, report, args.timings)
    return 0


def print_summary(root: Path, report: build.Report, timings: bool = False) -> None:
    """The warnings of a build and the line saying what it built."""
    for line in build.summary_lines(root, report, timings):
        print(line)


def submit(root: Path, args, engine: dict) -> int:
    """`--executor slurm`: submit the two pipelines and a one-task job that merges, renders and installs the
    build; returns at once (the jobs' logs are under build/slurm-*/work/logs/)."""
    if args.check:
        print("FAILED: --check compares in this process; run it with --executor local or ray")
        return 1
    if not args.slurm_partition:
        print("FAILED: --executor slurm needs --slurm-partition NAME")
        return 1
    try:
        jobs = build.slurm_executors(root, **engine, executor_options=dict(
            partition=args.slurm_partition, time=args.slurm_time, mem_per_cpu_gb=args.slurm_mem_per_cpu_gb))
        jobs[-1].run()  # launches the jobs it depends on first
    except build.BuildError as exc:
        for line in exc.problems:
            print(line)
        print(exc.summary)
        return 1
    folder = Path(str(jobs[-1].logging_dir.path)).parents[2]
    print(f"Submitted the build to Slurm: {len(jobs)} job arrays ({jobs[0].tasks} tasks each, then one to install); "
          f"data/ and the generated files change when the last one finishes; logs in {folder.relative_to(root)}/")
    return 0
