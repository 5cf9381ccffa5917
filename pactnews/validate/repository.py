"""A whole repository: the batch jobs (`_run_batch`, run by pactnews.pipeline.jobs), check_repository and
validate_repository, and the one gate every verb that reads the corpus or the annotations passes through."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from pactnews.annotations import tables
from pactnews.corpus.cleaning import load_rules
from pactnews.corpus.readers import CorpusError, read_metadata
from pactnews.pipeline.batches import BATCH_SIZE, batched
from pactnews.pipeline.executors import work_area
from pactnews.repo import Layout
from pactnews.validate.conflicts import check_conflict_rows, check_conflicts
from pactnews.validate.corpus import (
    _annotation_incidents, _read_table, _table_files, check_corpus_batch, confinement_of, extra_clean_files,
    is_annotation_file,
)
from pactnews.validate.incidents import Incident, _rel, _sort_key, emit, format_report, incident
from pactnews.validate.inventory import load_checked_inventory
from pactnews.validate.references import check_tables




# ---- the batch jobs (pactnews.pipeline.jobs: a plain loop, or datatrove tasks with --num-proc) ----


def _run_batch(context: dict, job: tuple[list[dict], list[str]]) -> tuple[list[Incident], Counter, list[str], list[dict]]:
    """(incidents, counts, ignored files, claims for the conflict check) of metadata records and annotation file names.

    Files named after one of the records are annotations; the others are
    annotations only if they declare the standoff format (is_annotation_file).
    """
    records, names = job
    c = context
    layout, folder = c["layout"], c["folder"]
    out: list[Incident] = []
    texts: dict[str, str] | None = None if c["metadata_failed"] else {}
    if records:
        out, texts = check_corpus_batch(layout, c["inv"], c["rules"], records)
    ids = {r["id"] for r in records}
    paths, ignored = [], []
    for name in names:
        path = folder / name
        (paths if is_annotation_file(path, ids, c["confinement"]) else ignored).append(path)
    claims = [] if c["conflicts"] is not None else None
    more, counts = _annotation_incidents(layout, paths, texts, c["entities"], c["clusters"], c["inv"], c["table_files"],
                                         claims, c["confinement"])
    return out + more, counts, [_rel(layout, p) for p in ignored], claims or []


def _jobs(records: list[dict], names: list[str], others: list[str]):
    """Batches of metadata records with their annotation files; then batches of the files named after no record."""
    names_set = set(names)
    for batch in batched(records, BATCH_SIZE):
        yield batch, [f"{r['id']}.json" for r in batch if f"{r['id']}.json" in names_set]
    for rest in batched(others, BATCH_SIZE):
        yield [], rest


def check_repository(layout: Layout, annotations: Path | None = None, num_proc: int = 1,
                     progress: bool | None = False) -> tuple[list[Incident], dict]:
    """Corpus and annotation files of a repository; returns (incidents, counts for the summary).

    Streams: metadata records and their annotation files go in batches of
    BATCH_SIZE (as num_proc datatrove tasks: pactnews.pipeline.jobs), so memory does not grow
    with the corpus apart from the records themselves; the tables and
    corpus/clean/ as a whole are checked once.
    """
    folder = Path(annotations) if annotations else layout.annotations
    inv, out = load_checked_inventory(layout)
    if inv is None:
        return out, {"where": f"{_rel(layout, folder)}/ against {_rel(layout, layout.clean)}/", "ignored": []}
    meta_file = _rel(layout, layout.metadata)
    try:
        records = read_metadata(layout)
        ids: list[str] | None = [r["id"] for r in records]
    except Exception as exc:  # noqa: BLE001 - any unreadable metadata is one incident
        out.append(incident("invalid-metadata", f"{type(exc).__name__}: {exc}; expected a readable metadata.yaml",
                            file=meta_file, found=type(exc).__name__, expected="a readable metadata.yaml"))
        records, ids = [], None
    rules, raw_invalid = None, []
    if records:
        try:
            rules = load_rules(layout.cleaning_rules)
        except (CorpusError, OSError, ValueError) as exc:  # as a raw file that cannot be cleaned
            raw_invalid.append(incident("raw-file-invalid", f"{type(exc).__name__}: {exc}; expected raw files "
                                        "byte-identical to their raw_sha256", file=meta_file, found=type(exc).__name__,
                                        expected="raw files byte-identical to their raw_sha256"))
    names = sorted(p.name for p in folder.glob("*.json"))
    named = {f"{i}.json" for i in ids or ()}
    others = [n for n in names if n not in named]
    confinement = confinement_of(layout, folder)
    has_documents = any(n in named for n in names) or any(is_annotation_file(folder / n, ids, confinement)
                                                          for n in others)
    entities, more = _read_table(tables.read_entities, folder / "tables" / "entities.json", layout, has_documents,
                                 confinement)
    out += more
    clusters, more = _read_table(tables.read_clusters, folder / "tables" / "claim_clusters.json", layout, has_documents,
                                 confinement)
    out += more
    conflict_file = folder / "tables" / "conflicts.json"
    conflicts = None  # no conflicts table: no conflict has been reviewed yet, and none is checked
    if os.path.lexists(conflict_file):
        conflicts, more = _read_table(tables.read_conflicts, conflict_file, layout, True, confinement)
        more += check_conflict_rows(conflicts, _rel(layout, conflict_file))
        out += more
    table_files = _table_files(layout, folder)
    more = check_tables(entities, clusters, inv, *table_files)
    out += more
    malformed = {i.file for i in more if i.test_id == "invalid-table"}  # not checked against: reported already
    entities = None if table_files[0] in malformed else entities
    clusters = None if table_files[1] in malformed else clusters
    context = dict(layout=layout, folder=folder, inv=inv, rules=rules, entities=entities, clusters=clusters,
                   table_files=table_files, metadata_failed=ids is None, conflicts=conflicts, confinement=confinement)
    claims: list[dict] = []
    counts: Counter = Counter()
    ignored: list[str] = []
    stale, seen = [], set()
    jobs = _jobs(records, names, others)
    for incidents, c, ign, batch_claims in _run_jobs(layout, context, jobs, num_proc, progress):
        counts.update(c)
        claims += batch_claims
        ignored += ign
        for i in incidents:
            if i.test_id == "raw-file-invalid":
                raw_invalid.append(i)
            elif i.test_id == "clean-text-stale":
                stale.append(i)
            elif i.file is None and i.document_id is None:  # a whole-table schema failure: once, not per batch
                if i not in seen:
                    seen.add(i)
                    out.append(i)
            else:
                out.append(i)
    if not any(i.level < 4 for i in out):  # detectors run on claims that are well-formed
        out += check_conflicts(conflicts, claims, inv, _rel(layout, conflict_file))
    if raw_invalid:  # each bad raw file, once; clean/ is not compared against a broken corpus
        out += list(dict.fromkeys(raw_invalid))
    elif ids is not None:
        out += stale + extra_clean_files(layout, ids)
    stats = {
        "documents": counts["documents"],
        "spans": counts["spans"],
        "relations": counts["relations"],
        "where": f"{_rel(layout, folder)}/ against {_rel(layout, layout.clean)}/",
        "corpus_documents": len(ids or ()),
        "ignored": ignored,
    }
    return sorted(out, key=_sort_key), stats


def _run_jobs(layout: Layout, context: dict, jobs, num_proc: int, progress):
    """_run_batch over the jobs, in job order: here, or with --num-proc as datatrove tasks (their scratch in
    build/)."""
    from pactnews.pipeline.jobs import run_jobs  # heavy: imports datatrove

    if num_proc > 1:
        with work_area(layout.root) as work:
            return run_jobs(_run_batch, context, jobs, num_proc, work)
    return run_jobs(_run_batch, context, jobs, progress=progress, desc="validate")


def validate_repository(layout) -> list[Incident]:
    """Every incident of the repository: corpus, clean texts, annotations/*.json and the tables."""
    return check_repository(layout)[0]


# ---- one gate: every verb that reads the corpus or the annotations passes through it ----------

def gate(layout: Layout, verb: str, *, num_proc: int = 1) -> str | None:
    """None when `pactnews validate` accepts the repository; else validate's own report, its last line
    saying that `pactnews <verb>` refused and wrote nothing.

    Each verb that reads the corpus or the annotations calls this before reading
    them, so that it accepts exactly what validate accepts and refuses the rest
    with validate's incidents (one line each, then the summary).
    """
    incidents, stats = check_repository(layout, num_proc=num_proc)
    if not incidents:
        return None
    return format_report(incidents, **stats) + f"; `pactnews validate` refuses the repository, so pactnews {verb} " \
                                               "wrote nothing"


def refused(layout: Layout, verb: str, *, num_proc: int = 1) -> bool:
    """gate, printed: True (after printing validate's report) when the verb must stop."""
    report = gate(layout, verb, num_proc=num_proc)
    if report is not None:
        emit(report)
    return report is not None
