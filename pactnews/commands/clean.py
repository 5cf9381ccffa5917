"""`pactnews clean`: raw articles -> corpus/clean/<id>.txt and <id>.map.json.

The metadata records are cleaned in batches of BATCH_SIZE documents (as
datatrove tasks with --num-proc: pactnews.pipeline.jobs), so memory does not
grow with the corpus: each batch's changed outputs are staged beside their targets at once, and only
when every batch has succeeded are they all renamed into place. On any error
the staged files are removed and no target changes.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from pactnews.corpus import readers as corpus
from pactnews.corpus.cleaning import Rule, clean_records, load_rules
from pactnews.corpus.readers import CorpusError, read_metadata
from pactnews.pipeline import install
from pactnews.pipeline.batches import BATCH_SIZE, batched
from pactnews.pipeline.executors import work_area
from pactnews.repo import Confinement, Layout
from pactnews.files import StagedWrites



def add_arguments(parser) -> None:
    parser.add_argument("--check", action="store_true", help="fail if corpus/clean/ is not what the rules give; write nothing")
    parser.add_argument("--num-proc", type=int, default=1, metavar="N",
                        help="worker processes (default 1; the output is the same for any N)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal (with one process)")


class CleanRefused(CorpusError):
    """Problems that stop `clean` before any target changes; `problems` holds one line for each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)

    def __reduce__(self):
        return CleanRefused, (self.problems,)


def preflight(layout: Layout, records: list[dict]) -> list[str]:
    """What is wrong before any raw file is read or any file written, one line each: unsafe ids, missing or
    mistyped id/raw_file/raw_sha256, raw files or corpus/clean/ resolving outside the repository; and what
    `pactnews validate` would refuse in the metadata (unknown keys, mistyped values, dates that are no
    calendar dates) and raw files that no record names."""
    confinement = Confinement(layout.root)
    out = []
    if not confinement.inside(layout.clean):
        out.append(f"{confinement.shown(layout.clean)}: resolves to {confinement.resolve(layout.clean)}, outside the "
                   f"repository {confinement.root}; refused")
    for rec in records:
        out += [str(p) for p in corpus.source_problems(layout, rec, confinement) + corpus.value_problems(layout, rec)]
    out += [str(p) for p in corpus.unlisted_raw_files(layout, records)]
    return out


def render_outputs(layout: Layout) -> dict:
    """Everything `clean` writes, as path -> bytes (all in memory: for small corpora and tests)."""
    return clean_records(layout, load_rules(layout.cleaning_rules), read_metadata(layout))


def differs(path: Path, data: bytes) -> bool:
    """True when `path` is missing or holds other bytes."""
    try:
        return path.read_bytes() != data
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return True


# ---- the batch jobs (pactnews.pipeline.jobs: a plain loop, or datatrove tasks with --num-proc) ----


def stage_records(layout: Layout, rules: list[Rule], records: list[dict], staged: StagedWrites,
                  problems: list[str] | None = None) -> int:
    """What `clean` does with one batch: clean it and stage the outputs that change; returns how many.

    With `problems`, what is wrong with a record (its raw file, a folder where
    its clean file belongs) is appended there, one line each, and nothing of
    that record staged; without, the first problem raises CorpusError.
    """
    n = len(staged)
    errors: list[CorpusError] | None = [] if problems is not None else None
    files = clean_records(layout, rules, records, errors)
    if errors:
        problems += [str(e) for e in errors]
    for path, data in files.items():
        if path.is_dir() and not path.is_symlink():
            message = f"{path}: a folder is where `clean` writes a file; expected a file or nothing"
            if problems is None:
                raise CorpusError(message)
            problems.append(message)
            continue
        if differs(path, data):
            staged.stage(path, data)
    return len(staged) - n


def _stage_batch(context: dict, records: list[dict]) -> tuple[list[str], list[str]]:
    """stage_records as a job; returns (the staged targets (the calling process commits them), problems)."""
    staged = StagedWrites(context["token"], sync_each=False)  # the committing process flushes
    problems: list[str] = []
    try:
        stage_records(context["layout"], context["rules"], records, staged, problems)
    except BaseException:
        staged.abort()
        raise
    return staged.detach(), problems


def _check_batch(context: dict, records: list[dict]) -> tuple[list[str], list[str]]:
    """(the outputs of a batch that are missing or out of date, relative to the root; problems)."""
    layout = context["layout"]
    errors: list[CorpusError] = []
    files = clean_records(layout, context["rules"], records, errors)
    return [str(p.relative_to(layout.root)) for p, data in files.items() if differs(p, data)], [str(e) for e in errors]


def _refuse_early(layout: Layout, records: list[dict]) -> None:
    problems = preflight(layout, records)
    if problems:
        raise CleanRefused(problems)


def clean_corpus(layout: Layout, num_proc: int = 1, progress: bool | None = None) -> tuple[int, int]:
    """Clean every document into corpus/clean/, all files or none; returns (documents, files changed).

    Files whose bytes would not change are left alone. Any problem (an unsafe
    id or path before anything is read; a bad raw file in any batch) raises
    CleanRefused listing them all, and no file changes.
    """
    records = read_metadata(layout)
    _refuse_early(layout, records)
    rules = load_rules(layout.cleaning_rules, layout.root)
    problems: list[str] = []
    # build/staging-<token>/ marks the temporary files as this run's: if it is killed, the next run removes them
    with install.Staging(layout.root, watch=[layout.clean]) as staging, \
            StagedWrites(staging.token, sync_each=False) as writes:  # durable before the renames, by one flush
        writes.watch(layout.clean)  # a worker stopped while staging leaves files only the sweep can find
        from pactnews.pipeline.jobs import run_jobs  # heavy: imports datatrove

        work = staging.path / "work"  # the datatrove tasks' job files and logs, with --num-proc
        context = dict(layout=layout, rules=rules, token=writes.token)
        try:
            results = run_jobs(_stage_batch, context, batched(records, BATCH_SIZE), num_proc, work, progress, "clean")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for targets, batch_problems in results:
            writes.adopt(targets)
            problems += batch_problems
        if problems:
            raise CleanRefused(problems)  # inside the with: every staged file is removed
        changed = len(writes)
        install.commit_staged(layout.root, writes, staging)  # journaled: all files or none, even across a kill
    return len(records), changed


def stale_outputs(layout: Layout, num_proc: int = 1, progress: bool | None = None) -> tuple[list[str], int]:
    """(the outputs that are missing or differ, number of documents), batch by batch; CleanRefused for
    problems that make the comparison impossible."""
    records = read_metadata(layout)
    _refuse_early(layout, records)
    stale: list[str] = []
    problems: list[str] = []
    from pactnews.pipeline.jobs import run_jobs  # heavy: imports datatrove

    context = dict(layout=layout, rules=load_rules(layout.cleaning_rules, layout.root))
    jobs = batched(records, BATCH_SIZE)
    if num_proc > 1:
        with work_area(layout.root) as work:
            results = run_jobs(_check_batch, context, jobs, num_proc, work, progress, "clean --check")
    else:
        results = run_jobs(_check_batch, context, jobs, progress=progress, desc="clean --check")
    for batch, batch_problems in results:
        stale += batch
        problems += batch_problems
    if problems:
        raise CleanRefused(problems)
    return stale, len(records)


def run(args) -> int:
    """Exit status 0 on success; 1, with one line per problem and nothing written, on bad input."""
    layout = Layout(args.root)
    progress = True if args.progress else None
    try:
        for note in install.recover(layout.root):  # a commit a stopped run left half done: finished or undone first
            print(f"note: {note}")
    except install.InstallError as exc:
        print(f"FAILED: {exc}")
        return 1
    try:
        if args.check:
            stale, n = stale_outputs(layout, args.num_proc, progress)
            if stale:
                print(f"FAILED: corpus/clean/ is out of date with the raw files and rules: {stale}; run `pactnews clean`")
                return 1
            print(f"corpus/clean/ is up to date ({n} documents)")
            return 0
        n, _ = clean_corpus(layout, args.num_proc, progress)
    except CleanRefused as exc:
        return _failed(exc.problems, args.check)
    except install.InstallError as exc:  # one line: what failed and what to do (the journal may still need it)
        print(f"FAILED: {exc}")
        return 1
    except (CorpusError, ValueError, OSError, RecursionError) as exc:  # metadata, rules, a folder that cannot be written
        return _failed([_one_line(exc)], args.check)
    print(f"Cleaned {n} documents: {layout.clean.relative_to(layout.root)}/")
    return 0


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, (CorpusError, ValueError)) else f"{type(exc).__name__}: {text}"


def _failed(problems: list[str], check: bool) -> int:
    for line in problems:
        print(f"error: {' '.join(line.split())}")
    n = len(problems)
    print(f"FAILED: {n} problem{'s' if n != 1 else ''}; " + ("nothing compared" if check else "no file written"))
    return 1
