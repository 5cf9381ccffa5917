"""The one incident type of pactnews.validate, and its report.

TESTS names every test id with its level and what it checks; `incident` makes
the Incident of one failed check (its level from TESTS), `_sort_key` orders
them, `_rel` and `_short` name a path and a value as the messages give them;
`format_report` writes incidents one a line with a summary per test id and
PASSED or FAILED, and `emit` prints it.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pactnews.repo import Layout


# test id -> (level, what it checks)
TESTS: dict[str, tuple[int, str]] = {
    # L1 format
    "empty-file": (1, "an annotation file is empty"),
    "not-utf8": (1, "an annotation file is not UTF-8"),
    "invalid-json": (1, "an annotation file is not JSON (or is truncated)"),
    "not-an-object": (1, "an annotation file is not a JSON object"),
    "wrong-format": (1, "the format field is not pactnews-standoff"),
    "wrong-format-version": (1, "the format_version is not the one this code reads"),
    "missing-field": (1, "a required field is missing"),
    "unknown-field": (1, "a field that the format does not define"),
    "record-not-an-object": (1, "a layer holds something other than a JSON object"),
    "wrong-type": (1, "a field holds the wrong JSON type"),
    "invalid-table": (1, "an entity or cluster table cannot be read or has malformed rows"),
    "missing-table": (1, "annotation files exist but an entity or cluster table does not"),
    "invalid-metadata": (1, "corpus/metadata.yaml cannot be read"),
    "invalid-inventory": (1, "schemas/labels.yaml cannot be read or lacks what the code asks of it"),
    "unreadable-file": (1, "a file that exists but cannot be read (permissions, an I/O error, a folder in its place)"),
    # L2 schema
    "document-id-mismatch": (2, "the document_id differs from the file name"),
    "unknown-label": (2, "a label not in the inventory"),
    "unknown-value": (2, "an attribute value not in the inventory"),
    "duplicate-id": (2, "an id used twice in one document"),
    "wrong-id-prefix": (2, "an id without its layer's prefix and a number"),
    "malformed-timex-value": (2, "a TIMEX3 value that does not match the inventory's pattern"),
    "null-value": (2, "a null where the field needs a value"),
    "quantity-without-unit": (2, "a claim's quantity_value without its unit, surface unit or approximation"),
    "unit-without-quantity": (2, "a claim's unit, surface unit or approximation without a quantity_value"),
    "quantity-range": (2, "a quantity_high without a range approximation (or the reverse), or not above quantity_value"),
    "non-finite-number": (2, "a number that is infinite or not a number"),
    "unexpected-entity-id": (2, "an entity id on an attribution label that takes none"),
    "malformed-dct-value": (2, "a document creation time that is not a TIMEX3 value"),
    "schema-check": (2, "another pandera schema check failed"),
    # L3 text
    "offsets-out-of-range": (3, "offsets outside 0 <= start < end <= len(text)"),
    "end-before-start": (3, "a span whose end is before its start"),
    "empty-span": (3, "a span whose start equals its end"),
    "span-text-mismatch": (3, "the recorded text differs from text[start:end]"),
    "text-hash-mismatch": (3, "text_sha256 is not the hash of the clean text"),
    "unknown-document": (3, "an annotated document that is not in the corpus"),
    "overlapping-spans": (3, "two spans overlap in a layer whose inventory forbids it"),
    "clean-text-stale": (3, "corpus/clean/ differs from what the raw files and rules give"),
    "raw-file-invalid": (3, "a raw file is missing, changed or not UTF-8"),
    "empty-raw-file": (3, "a raw file that holds no text (empty or only white space)"),
    "unlisted-raw-file": (3, "a file in corpus/raw/ that no metadata record names"),
    "document-too-large": (3, "a clean text longer than the token view takes (pactnews.pipeline.ner.MAX_CHARS)"),
    # the corpus's paths and ids (corpus/metadata.yaml, raw files, corpus/clean/, annotation files)
    "unsafe-document-id": (1, "a document id that is not a safe file name (A-Z a-z 0-9 _ . -, no '..')"),
    "unsafe-path": (1, "a raw_file, clean file, map, annotation file, table or the inventory that resolves "
                       "outside the repository (through '..', an absolute path or a symlink)"),
    # L4 cross-references
    "dangling-relation": (4, "a relation end that names no span of its document"),
    "wrong-relation-source": (4, "a relation that does not start from the layer its type starts from"),
    "wrong-relation-target": (4, "a relation pointing to a layer or label its type does not allow"),
    "duplicate-relation": (4, "a claim with two relations of one type"),
    "source-type-mismatch": (4, "a claim's source_type disagrees with its relations"),
    "dangling-time-id": (4, "a claim's time_id names no time expression of its document"),
    "unknown-entity-id": (4, "an entity_id that is not in the entity table"),
    "unknown-cluster": (4, "a cluster_id that is not in the cluster table"),
    "entity-label-mismatch": (4, "a mention's label differs from its entity's label in the table"),
    "entity-table-label": (4, "an entity table row with a label not in the inventory"),
    # L4 the conflicts table (annotations/tables/conflicts.json) against the claims and the detectors
    "unknown-conflict-value": (4, "a conflict whose type, origin or status is not in the inventory"),
    "duplicate-conflict-id": (4, "a conflict id used twice in the conflicts table"),
    "conflict-without-rationale": (4, "a conflict (kept or dismissed) without a one-sentence rationale"),
    "unknown-conflict-member": (4, "a conflict member that names no claim of the corpus"),
    "unreviewed-conflict": (4, "a detector finds a conflict that the table neither keeps nor dismisses"),
    "stale-conflict": (4, "a detected conflict in the table that no detector finds any more"),
}


@dataclass(frozen=True)
class Incident:
    """One failed check: where, which test, what was found and what was expected."""

    level: int
    test_id: str
    file: str | None
    document_id: str | None
    span_id: str | None
    start: int | None
    end: int | None
    message: str
    found: str | None = None
    expected: str | None = None

    @property
    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(f"File {self.file}")
        if self.document_id:
            parts.append(f"Doc {self.document_id}")
        if self.span_id:
            parts.append(f"Span {self.span_id}")
        if self.start is not None or self.end is not None:
            parts.append(f"{_s(self.start)}:{_s(self.end)}")
        return " ".join(parts)

    def __str__(self) -> str:
        return f"[{self.location}]: [L{self.level} {self.test_id}] {self.message}"


def _s(v) -> str:
    return "?" if v is None else str(v)


def _opt(v):
    """A scalar from a DataFrame cell as plain Python, None for missing."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def incident(test_id: str, message: str, *, file=None, doc=None, span=None, start=None, end=None,
             found=None, expected=None, level: int | None = None) -> Incident:
    level = TESTS[test_id][0] if test_id in TESTS else (level or 1)
    start, end = _opt(start), _opt(end)
    return Incident(level, test_id, file, doc, span if isinstance(span, str) else None,
                    start if isinstance(start, int) else None, end if isinstance(end, int) else None,
                    message, found, expected)


def _sort_key(i: Incident):
    return (i.file or "", i.document_id or "", -1 if i.start is None else i.start,
            -1 if i.end is None else i.end, i.span_id or "", i.level, i.test_id, i.message)


def _short(value) -> str:
    """repr, at most 80 characters (nested values are cut short before they are written out)."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother = 3, 80, 80
    text = short.repr(value) if isinstance(value, (list, tuple, dict, set)) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _rel(layout: Layout, path: Path) -> str:
    """`path` relative to the root as it is named (a symlink is named, not its target), else resolved."""
    path = Path(os.path.abspath(path))
    for root in (Path(os.path.abspath(layout.root)), layout.root.resolve()):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    try:
        return path.resolve().relative_to(layout.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def emit(text: str, file=None) -> None:
    """print, except that a character the terminal's encoding cannot show is written as its escape."""
    import sys

    file = file or sys.stdout
    try:
        print(text, file=file)
    except UnicodeEncodeError:
        encoding = getattr(file, "encoding", None) or "ascii"
        print(text.encode(encoding, "backslashreplace").decode(encoding), file=file)


def format_report(incidents, *, documents: int | None = None, spans: int | None = None,
                  relations: int | None = None, where: str | None = None, corpus_documents: int | None = None,
                  ignored: list[str] = (), limit: int | None = None) -> str:
    """The incidents one a line, a summary per test id, and PASSED or FAILED as the last line."""
    lines = [f"note: {p} is not an annotation file (named after no corpus document, not in the standoff format); "
             "not validated" for p in ignored]
    shown: Counter = Counter()
    for i in incidents:
        shown[i.test_id] += 1
        if limit is None or shown[i.test_id] <= limit:
            lines.append(str(i))
    counts = []
    if documents is not None:
        counts.append(f"{documents} documents")
    if spans is not None:
        counts.append(f"{spans} spans")
    if relations is not None:
        counts.append(f"{relations} relations")
    tail = f" ({where})" if where else ""
    if documents == 0 and not incidents:
        tail += (f"; no annotation files yet, corpus/clean/ up to date ({corpus_documents} documents)"
                 if corpus_documents is not None else "; no annotation files yet")
    if not incidents:
        return "\n".join(lines + [f"PASSED: {', '.join(counts + ['0 incidents'])}{tail}"])
    levels = {i.test_id: i.level for i in incidents}
    lines.append("")
    lines.append("Summary:")
    for test, n in sorted(shown.items(), key=lambda kv: (levels[kv[0]], kv[0])):
        more = f" (first {limit} shown)" if limit is not None and n > limit else ""
        lines.append(f"  L{levels[test]} {test}: {n}{more}")
    docs_hit = len({i.document_id for i in incidents if i.document_id})
    lines.append(f"FAILED: {len(incidents)} incidents in {docs_hit} documents"
                 + (f" ({', '.join(counts)}{', ' + where if where else ''})" if counts else ""))
    return "\n".join(lines)
