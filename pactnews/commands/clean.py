"""`pactnews clean`: raw articles -> corpus/clean/<id>.txt and <id>.map.json.

The metadata records are cleaned in batches of BATCH_SIZE documents (in a
fork pool with --num-proc), so memory does not grow with the corpus: each
batch's changed outputs are staged beside their targets at once, and only
when every batch has succeeded are they all renamed into place. On any error
the staged files are removed and no target changes.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

from ..clean import Rule, clean_text, load_rules
from ..corpus import CorpusError, read_metadata
from ..repo import Layout, StagedWrites, batched, dump_json, map_batches, sha256_bytes

BATCH_SIZE = 200  # documents per batch: what one worker reads, cleans and stages at a time


def add_arguments(parser) -> None:
    parser.add_argument("--check", action="store_true", help="fail if corpus/clean/ is not what the rules give; write nothing")
    parser.add_argument("--num-proc", type=int, default=1, metavar="N",
                        help="worker processes (default 1; the output is the same for any N)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")


def read_raw(layout: Layout, rec: dict) -> str:
    """The raw text of a metadata record; its file must exist, hash to raw_sha256 and be UTF-8."""
    path = layout.metadata.parent / rec["raw_file"]
    if not path.is_file():
        raise CorpusError(f"{layout.metadata}: document {rec['id']}: raw file {path} does not exist")
    data = path.read_bytes()
    found = sha256_bytes(data)
    if found != rec["raw_sha256"]:
        raise CorpusError(
            f"{path}: document {rec['id']}: raw_sha256 expected {rec['raw_sha256']} but the file hashes to {found}; "
            "the raw copies must stay byte-identical to the sources"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: document {rec['id']}: not UTF-8 at byte {exc.start}") from exc


def clean_records(layout: Layout, rules: list[Rule], records: list[dict]) -> dict[Path, bytes]:
    """Stage: a batch of metadata records -> what `clean` writes for them, as path -> bytes.

    Pure apart from reading the raw files; raises CorpusError for a raw file
    that is missing, changed or not UTF-8.
    """
    files = {}
    for rec in records:
        cleaned = clean_text(read_raw(layout, rec), rules)
        files[layout.clean / f"{rec['id']}.txt"] = cleaned.text.encode("utf-8")
        record = {"document_id": rec["id"], "raw_sha256": rec["raw_sha256"], **cleaned.to_record()}
        files[layout.clean / f"{rec['id']}.map.json"] = dump_json(record).encode("utf-8")
    return files


def render_outputs(layout: Layout) -> dict:
    """Everything `clean` writes, as path -> bytes (all in memory: for small corpora and tests)."""
    return clean_records(layout, load_rules(layout.cleaning_rules), read_metadata(layout))


def differs(path: Path, data: bytes) -> bool:
    """True when `path` is missing or holds other bytes."""
    try:
        return path.read_bytes() != data
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return True


# ---- the batch drivers (run in pool workers; the context is inherited through fork) ----

_CONTEXT: dict = {}


def _init(layout: Layout, rules: list[Rule], token: str | None) -> None:
    _CONTEXT.update(layout=layout, rules=rules, token=token)


def stage_records(layout: Layout, rules: list[Rule], records: list[dict], staged: StagedWrites) -> int:
    """What `clean` does with one batch: clean it and stage the outputs that change; returns how many."""
    n = len(staged)
    for path, data in clean_records(layout, rules, records).items():
        if differs(path, data):
            staged.stage(path, data)
    return len(staged) - n


def _stage_batch(records: list[dict]) -> list[str]:
    """stage_records in a worker; returns the staged targets (the parent commits them)."""
    staged = StagedWrites(_CONTEXT["token"], sync_each=False)  # the committing process flushes
    try:
        stage_records(_CONTEXT["layout"], _CONTEXT["rules"], records, staged)
    except BaseException:
        staged.abort()
        raise
    return staged.detach()


def _check_batch(records: list[dict]) -> list[str]:
    """The outputs of a batch that are missing or out of date, relative to the root."""
    layout = _CONTEXT["layout"]
    return [str(p.relative_to(layout.root)) for p, data in
            clean_records(layout, _CONTEXT["rules"], records).items() if differs(p, data)]


def clean_corpus(layout: Layout, num_proc: int = 1, progress: bool | None = None) -> tuple[int, int]:
    """Clean every document into corpus/clean/, all files or none; returns (documents, files changed).

    Files whose bytes would not change are left alone.
    """
    records = read_metadata(layout)
    rules = load_rules(layout.cleaning_rules)
    with StagedWrites(sync_each=False) as writes:  # durable before the renames, by one flush
        writes.watch(layout.clean)  # a worker stopped while staging leaves files only the sweep can find
        results = map_batches(_stage_batch, batched(records, BATCH_SIZE), num_proc, initializer=_init,
                              initargs=(layout, rules, writes.token), progress=progress, total=len(records),
                              desc="clean")
        with contextlib.closing(results):  # the pool is down before the staged files are removed
            for targets in results:
                writes.adopt(targets)
        changed = len(writes)
    return len(records), changed


def stale_outputs(layout: Layout, num_proc: int = 1, progress: bool | None = None) -> tuple[list[str], int]:
    """(the outputs that are missing or differ, number of documents), batch by batch."""
    records = read_metadata(layout)
    stale: list[str] = []
    for batch in map_batches(_check_batch, batched(records, BATCH_SIZE), num_proc, initializer=_init,
                             initargs=(layout, load_rules(layout.cleaning_rules), None), progress=progress,
                             total=len(records), desc="clean --check"):
        stale += batch
    return stale, len(records)


def run(args) -> int:
    layout = Layout(args.root)
    progress = True if args.progress else None
    if args.check:
        stale, n = stale_outputs(layout, args.num_proc, progress)
        if stale:
            print(f"FAILED: corpus/clean/ is out of date with the raw files and rules: {stale}; run `pactnews clean`")
            return 1
        print(f"corpus/clean/ is up to date ({n} documents)")
        return 0
    n, _ = clean_corpus(layout, args.num_proc, progress)
    print(f"Cleaned {n} documents: {layout.clean.relative_to(layout.root)}/")
    return 0
