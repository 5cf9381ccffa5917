"""`pactnews validate`: the corpus and its annotations against the label inventory.

Checks come in levels, as in the UD validator: L1 format (a well-formed
annotation file), L2 schema (types, labels, values, ids: the pandera schemas
of pactnews.outputs.schemas over the flat tables), L3 text (offsets and text against
the clean corpus), L4 cross-references (relations, entity and cluster
tables). Every check returns Incidents; only the CLI prints them.

Checks work on whole columns (pandera, numpy, pyarrow.compute): span texts
are compared with the clean text as UTF-32 code points in bulk, relation ends
are found through one sorted int64 key per span, and Python runs per record
only where a column test has found a bad one, to say which.

Every verb that reads the corpus or the annotations (render, export, publish;
build and the others once they call it) goes through `gate` first, so that it
accepts exactly what validate accepts and refuses the rest with these
incidents. Paths are confined: an annotation file, a table or the inventory
that resolves outside the repository is refused before it is opened.

Every check but those of the tables and of corpus/clean/ as a folder looks
within one document, so `pactnews validate` streams: metadata records and
their annotation files go in batches (validate_batch), in a fork pool with
--num-proc, and memory does not grow with the corpus.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter, deque
from collections.abc import Collection
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.pipeline.flatten import arrow_schema, flatten
from pactnews.inventory import Inventory
from pactnews.pipeline.batches import batched
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


_PY_TYPES = {pyarrow.string(): (str,), pyarrow.int64(): (int,), pyarrow.float64(): (int, float)}
_JSON_NAMES = {pyarrow.string(): "a string", pyarrow.int64(): "an integer", pyarrow.float64(): "a number"}
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


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


# ---- L1: documents and records ---------------------------------------------------------

_TOP_KEYS = {"format", "format_version", "document_id", "text_sha256", *standoff.LAYERS}


def check_documents(docs: dict[str, dict], files: dict[str, str]) -> tuple[list[Incident], dict[str, dict]]:
    """Top-level shape of in-memory documents (files from disk already passed standoff.loads)."""
    out: list[Incident] = []
    good: dict[str, dict] = {}
    for key, doc in docs.items():
        f = files[key]
        if not isinstance(doc, dict):
            out.append(incident("not-an-object", f"the document is {type(doc).__name__}; expected a JSON object",
                                file=f, doc=key, found=type(doc).__name__, expected="a JSON object"))
            continue
        problems = []
        for name in ("document_id", "text_sha256"):
            if name not in doc:
                problems.append(incident("missing-field", f"top-level {name!r} is missing; expected a string",
                                         file=f, doc=key, found="missing", expected="a string"))
            elif not isinstance(doc[name], str):
                problems.append(incident("wrong-type", f"top-level {name!r} is {doc[name]!r}; expected a string",
                                         file=f, doc=key, found=repr(doc[name]), expected="a string"))
        for layer in standoff.LAYERS:
            if layer not in doc:
                problems.append(incident("missing-field", f"layer {layer!r} is missing; expected a list",
                                         file=f, doc=key, found="missing", expected="a list"))
            elif not isinstance(doc[layer], list):
                problems.append(incident("wrong-type", f"layer {layer!r} is {type(doc[layer]).__name__}; expected a list",
                                         file=f, doc=key, found=type(doc[layer]).__name__, expected="a list"))
        unknown = sorted(set(doc) - _TOP_KEYS)
        if unknown:
            problems.append(incident("unknown-field", f"unknown top-level keys {unknown}; expected only {sorted(_TOP_KEYS)}",
                                     file=f, doc=key, found=repr(unknown), expected=repr(sorted(_TOP_KEYS))))
        if not problems and doc["document_id"] != key:
            problems.append(incident(
                "document-id-mismatch", f"document_id is {doc['document_id']!r} but the file is named for {key!r}",
                file=f, doc=key, found=repr(doc["document_id"]), expected=repr(key)))
        out += problems
        if not problems:
            good[key] = doc
    return out, good


def _field_types(layer: str) -> dict[str, pyarrow.DataType]:
    return {f.name: f.type for f in arrow_schema(layer) if f.name != "document_id"}


def _record_problems(rec, layer: str, file: str, doc: str) -> list[Incident]:
    if not isinstance(rec, dict):
        return [incident("record-not-an-object", f"a {layer} record is {rec!r}; expected a JSON object",
                         file=file, doc=doc, found=repr(rec), expected="a JSON object")]
    span, start, end = rec.get("id"), rec.get("start"), rec.get("end")
    start = start if type(start) is int else None
    end = end if type(end) is int else None
    where = dict(file=file, doc=doc, span=span, start=start, end=end)
    out = []
    fields = standoff.FIELDS[layer]
    missing = [k for k in fields if k not in rec]
    if missing:
        out.append(incident("missing-field", f"{layer} record lacks {missing}; expected the fields {fields}",
                            found=repr(missing), expected=repr(fields), **where))
    unknown = sorted(set(rec) - set(fields))
    if unknown:
        out.append(incident("unknown-field", f"{layer} record has unknown fields {unknown}; expected only {fields}",
                            found=repr(unknown), expected=repr(fields), **where))
    for name, typ in _field_types(layer).items():
        if name not in rec or rec[name] is None:
            continue
        v = rec[name]
        ok = type(v) in _PY_TYPES[typ]
        expected = _JSON_NAMES[typ]
        if ok and type(v) is int and not _INT64[0] <= v <= _INT64[1]:
            ok, expected = False, "an integer that fits in 64 bits"
        if ok and type(v) is str:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape
                ok, expected = False, "a string of Unicode characters (no lone surrogates)"
        if not ok:
            out.append(incident("wrong-type", f"{name} is {v!r} ({type(v).__name__}); expected {expected}",
                                found=repr(v), expected=expected, **where))
        elif type(v) is float and v != v:  # NaN (JSON's NaN literal): the tables would read it as null
            out.append(incident("non-finite-number", f"{name} is nan; expected a finite number", found="nan",
                                expected="a finite number", **where))
    return out


def _layer_passes_fast(records: list, layer: str) -> bool:
    """Column-wise tests that hold for well-formed records; C-level loops, no Python per record.

    Exactly the fields: each is present and there are no more of them. Types:
    the numbers here; a string where a number belongs (and the reverse) makes
    the strict Arrow conversion fail, which sends the layer to the full scan.
    """
    if not records:
        return True
    if set(map(type, records)) != {dict}:
        return False
    fields = standoff.FIELDS[layer]
    if set(map(len, records)) != {len(fields)}:
        return False
    try:
        deque(map(itemgetter(*fields), records), maxlen=0)
    except KeyError:
        return False
    for name, typ in _field_types(layer).items():
        if typ != pyarrow.string() and not set(map(type, map(itemgetter(name), records))) <= {*_PY_TYPES[typ], type(None)}:
            return False
        if typ == pyarrow.float64() and any(v != v for v in map(itemgetter(name), records)):  # NaN
            return False
    return True


def check_records(docs: dict[str, dict], files: dict[str, str], thorough: bool = False):
    """L1 checks of every record; returns (incidents, docs without the bad records, their ids).

    Bad records are left out of the tables (so they raise no second, derived
    incident) but their ids still resolve relations: the third result lists
    (document, id, layer) of each, and for a relation (document, from_id,
    "relations"), whose claim's source can then not be judged.
    """
    out: list[Incident] = []
    keys = sorted(docs)
    cleaned = dict(docs)
    orphans = []
    for layer in standoff.LAYERS:
        records = list(chain.from_iterable(docs[k][layer] for k in keys))
        if not thorough and _layer_passes_fast(records, layer):
            continue
        for k in keys:
            kept, changed = [], False
            for rec in docs[k][layer]:
                problems = _record_problems(rec, layer, files[k], k)
                if problems:
                    out += problems
                    changed = True
                    key = "from_id" if layer == "relations" else "id"
                    if isinstance(rec, dict) and isinstance(rec.get(key), str):
                        orphans.append((k, rec[key], layer))
                else:
                    kept.append(rec)
            if changed:
                cleaned[k] = {**cleaned[k], layer: kept}
    return out, cleaned, orphans


def _tables(docs: dict[str, dict], files: dict[str, str]):
    try:
        return [], docs, [], flatten(docs)
    except (pyarrow.ArrowException, OverflowError, TypeError, ValueError):
        # something the column tests let through (an integer too large for int64): find it
        out, docs, orphans = check_records(docs, files, thorough=True)
        return out, docs, orphans, flatten(docs)


# ---- L2: the pandera schemas -------------------------------------------------------------

def _first_rows(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.reset_index().drop_duplicates(keys).set_index(keys)


def _schema_incident(layer, schema, row, col, check, check_number, case, inv, files, first) -> Incident:
    name = str(check).split("(")[0]
    doc, span = _opt(row["document_id"]), _opt(row.get("id"))
    start, end = _opt(row.get("start")), _opt(row.get("end"))
    where = dict(file=files.get(doc), doc=doc, span=span, start=start, end=end)
    case = _opt(case)
    if name == "not_nullable":
        typ = _JSON_NAMES[arrow_schema(layer).field(col).type]
        return incident("null-value", f"{col} is null; expected {typ}", found="null", expected=typ, **where)
    if name in ("multiple_fields_uniqueness", "field_uniqueness"):
        try:
            f = first.loc[(doc, span)]
            earlier = f" (first by the span at {_s(_opt(f.get('start')))}:{_s(_opt(f.get('end')))})"
        except KeyError:
            earlier = ""
        return incident("duplicate-id", f"id {span!r} is used twice in {layer}{earlier}; expected a unique id in "
                        "each document", found=repr(span), expected="a unique id", **where)
    if name.startswith("dtype"):
        return incident("wrong-type", f"column {col} has type {case}; expected {check}", found=str(case),
                        expected=str(check), **where)
    if name == "isin":
        allowed = inv.relation_types if (layer, col) == ("relations", "label") else (
            inv.labels(layer) if col == "label" else inv.values(col))
        test = "unknown-label" if col == "label" else "unknown-value"
        return incident(test, f"{col} is {case!r}; expected one of {allowed}", found=repr(case),
                        expected=repr(allowed), **where)
    if name == "str_matches" and col == "id":
        from pactnews.outputs.schemas import id_pattern

        pattern = id_pattern(inv.id_prefix(layer))
        return incident("wrong-id-prefix", f"id is {case!r}; expected {inv.id_prefix(layer)!r} and a number ({pattern})",
                        found=repr(case), expected=pattern, **where)
    if name == "str_matches" and col == "value":
        return incident("malformed-timex-value", f"value is {case!r}; expected a TIMEX3 value such as 2024-10-24, "
                        "2024-W43, P4D or PRESENT_REF (timex_value_pattern in schemas/labels.yaml)",
                        found=repr(case), expected="a TIMEX3 value", **where)
    if name == "greater_than_or_equal_to":
        return incident("offsets-out-of-range", f"{col} is {case}; expected {col} >= 0 (0 <= start < end <= len(text))",
                        found=f"{col} is {case}", expected=f"{col} >= 0", **where)
    stats = schema.checks[int(check_number)].statistics if check_number is not None and name in (
        "offsets_ordered", "span_not_empty", "present_together", "null_unless_label", "finite", "range_bounds") else {}
    if name == "finite":
        c = stats["column"]
        return incident("non-finite-number", f"{c} is {_opt(row[c])!r}; expected a finite number",
                        found=repr(_opt(row[c])), expected="a finite number", **where)
    if name == "range_bounds":
        lo, hi, kind = (_opt(row[stats[k]]) for k in ("low", "high", "kind"))
        found, expected = f"{kind!r}, {lo!r}..{hi!r}", f"a high end above the low end, only for {stats['range_value']!r}"
        return incident("quantity-range", f"{stats['kind']}, {stats['low']}..{stats['high']} are {found}; expected "
                        f"{expected}", found=found, expected=expected, **where)
    if name == "offsets_ordered":
        return incident("end-before-start", f"end is before start ({start}:{end}); expected start < end",
                        found=f"{start}:{end}", expected="start < end", **where)
    if name == "span_not_empty":
        return incident("empty-span", f"the span is empty ({start}:{end}); expected start < end",
                        found=f"{start}:{end}", expected="start < end", **where)
    if name == "present_together":
        c, r = stats["column"], stats["requires"]
        test = "quantity-without-unit" if c == "quantity_value" else (
            "unit-without-quantity" if r == "quantity_value" else "schema-check")
        return incident(test, f"{c} is {_opt(row[c])!r} but {r} is null; expected both or neither",
                        found=f"{r} is null", expected="both or neither", **where)
    if name == "null_unless_label":
        c, labels = stats["column"], stats["labels"]
        return incident("unexpected-entity-id" if c == "entity_id" else "schema-check",
                        f"a {_opt(row['label'])} has {c} {_opt(row[c])!r}; expected null (only {labels} carry one)",
                        found=repr(_opt(row[c])), expected="null", **where)
    return incident("schema-check", f"pandera check {check} failed on {col}: found {case!r}",
                    found=repr(case), expected=str(check), **where)


def check_schema(frames: dict[str, pd.DataFrame], inv: Inventory, files: dict[str, str]) -> list[Incident]:
    import pandera.pandas as pa  # here, not above: the verbs that use only conflict_inputs or emit need no pandera

    from pactnews.outputs.schemas import table_schema

    out = []
    for layer, df in frames.items():
        schema = table_schema(layer, inv)
        try:
            schema.validate(df, lazy=True)
            continue
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
        cases = cases.drop_duplicates(["check", "check_number", "index"])
        first = _first_rows(df, ["document_id", "id"]) if cases["check"].astype(str).str.contains("uniqueness").any() else None
        for c in cases.itertuples(index=False):
            idx = _opt(c.index)
            if idx is None:  # a failure of the whole table, not of a row
                out.append(incident("schema-check", f"{layer}: pandera check {c.check} failed: {c.failure_case}",
                                    found=str(c.failure_case), expected=str(c.check)))
                continue
            out.append(_schema_incident(layer, schema, df.loc[idx], c.column, c.check, _opt(c.check_number),
                                        c.failure_case, inv, files, first))
    return out


# ---- the flat tables as columns ------------------------------------------------------------

@dataclass
class Columns:
    """The flat Arrow tables and, per layer, the document number of each row (into doc_ids)."""

    tables: dict[str, pyarrow.Table]
    doc_ids: list[str]
    doc: dict[str, np.ndarray]


def columns(tables_: dict[str, pyarrow.Table], doc_ids: list[str]) -> Columns:
    value_set = pyarrow.array(doc_ids, pyarrow.string())
    return Columns(tables_, doc_ids, {layer: _ints(pc.index_in(t["document_id"], value_set=value_set))
                                      for layer, t in tables_.items()})


def _ints(col, null: int = -1) -> np.ndarray:
    return np.asarray(pc.fill_null(col, null).to_numpy(), dtype=np.int64)


def _codes(col, values) -> np.ndarray:
    """Position of each value in `values`, -1 where absent or null."""
    return _ints(pc.index_in(col, value_set=pyarrow.array(list(values), pyarrow.string())))


def _present(col) -> np.ndarray:
    return np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)


def _take(table: pyarrow.Table, idx) -> list[dict]:
    idx = np.asarray(idx, dtype=np.int64)
    return table.take(pyarrow.array(idx)).to_pylist() if len(idx) else []


# ---- L3: offsets and text ----------------------------------------------------------------

_CHUNK_CHARS = 4_000_000  # span characters compared per batch (bounds the index arrays)


def _utf32(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def text_mismatches(texts: list[str], doc: np.ndarray, start: np.ndarray, end: np.ndarray,
                    recorded: pyarrow.ChunkedArray | pyarrow.Array) -> np.ndarray:
    """Mask of spans whose recorded text differs from texts[doc][start:end].

    By whole columns: both sides become UTF-32 code points (one code point
    per offset), and every character of every span is compared at once.
    Spans must lie inside their text (0 <= start < end <= len).
    """
    n = len(doc)
    rec = recorded.combine_chunks() if isinstance(recorded, pyarrow.ChunkedArray) else recorded
    if n == 0:
        return np.zeros(0, dtype=bool)
    rec_len = _ints(pc.utf8_length(rec))
    span_len = end - start
    bad = rec_len != span_len
    cum = np.cumsum(span_len)
    lo = 0
    while lo < n:
        hi = max(lo + 1, int(np.searchsorted(cum, (cum[lo - 1] if lo else 0) + _CHUNK_CHARS, side="right")))
        _compare_batch(texts, doc[lo:hi], start[lo:hi], span_len[lo:hi], rec.slice(lo, hi - lo),
                       rec_len[lo:hi], bad[lo:hi])
        lo = hi
    return bad


def _compare_batch(texts, doc, start, length, rec, rec_len, bad) -> None:
    """Compare one batch; `bad` (a view) already marks the spans whose lengths differ."""
    uniq, where = np.unique(doc, return_inverse=True)
    parts = [texts[u] for u in uniq]
    base = np.concatenate(([0], np.cumsum([len(p) for p in parts])[:-1])).astype(np.int64)
    corpus = _utf32("".join(parts))
    offsets = np.frombuffer(rec.buffers()[1], dtype=np.int32)[rec.offset: rec.offset + len(rec) + 1]
    data = rec.buffers()[2]
    raw = bytes(memoryview(data)[offsets[0]: offsets[-1]]) if data is not None else b""
    chars = _utf32(raw.decode("utf-8"))
    if not len(chars) or not len(corpus):
        return
    rec_start = np.cumsum(rec_len) - rec_len
    # the recorded characters lie one after another; each span's place in the text is one shift
    at = np.repeat(base[where] + start - rec_start, rec_len)
    at += np.arange(len(chars), dtype=np.int64)
    np.clip(at, 0, len(corpus) - 1, out=at)  # a span of the wrong length may reach past: it is bad already
    differ = corpus[at] != chars
    nonempty = rec_len > 0
    bad[nonempty] |= np.logical_or.reduceat(differ, rec_start[nonempty])


def overlaps(doc: np.ndarray, start: np.ndarray, end: np.ndarray) -> list[tuple[int, int]]:
    """(span, earlier span it overlaps) pairs within each document, by columns only."""
    if len(doc) < 2:
        return []
    order = np.lexsort((end, start, doc))
    c, s, e = doc[order], start[order], end[order]
    big = int(e.max()) + 1
    key = c * big + e
    run = np.maximum.accumulate(key)  # running max end; the document term keeps documents apart
    holder = np.maximum.accumulate(np.where(key == run, np.arange(len(key)), 0))
    prev_end = np.concatenate(([-1], run[:-1])) - c * big
    bad = np.flatnonzero(s < prev_end)
    return [(int(order[i]), int(order[holder[i - 1]])) for i in bad]


def check_text(cols: Columns, docs: dict[str, dict], texts: dict[str, str], inv: Inventory,
               files: dict[str, str]) -> list[Incident]:
    out = []
    lengths = np.full(len(cols.doc_ids), -1, dtype=np.int64)
    for n, k in enumerate(cols.doc_ids):
        f = files[k]
        if k not in texts:
            out.append(incident("unknown-document", f"document {k!r} is not in the corpus; expected a document id "
                                "of corpus/metadata.yaml (with its clean text in corpus/clean/)", file=f, doc=k,
                                found=repr(k), expected="a document id of corpus/metadata.yaml"))
            continue
        lengths[n] = len(texts[k])
        found = docs[k]["text_sha256"]
        expected = hashlib.sha256(texts[k].encode("utf-8")).hexdigest()
        if found != expected:
            out.append(incident("text-hash-mismatch", f"text_sha256 is {found} but the clean text hashes to {expected}; "
                                "the offsets refer to another version of the text", file=f, doc=k,
                                found=found, expected=expected))
    by_doc = [texts.get(k, "") for k in cols.doc_ids]
    checked = []  # per layer: rows with offsets inside the text, to compare and to test for overlap
    for layer in standoff.SPAN_LAYERS:
        t, d = cols.tables[layer], cols.doc[layer]
        start, end = _ints(t["start"]), _ints(t["end"])
        n = np.where(d >= 0, lengths[np.maximum(d, 0)], -1)
        valid = (start >= 0) & (end > start) & (n >= 0)
        beyond = valid & (end > n)
        idx = np.flatnonzero(beyond)
        for i, r in zip(idx, _take(t, idx)):
            size = int(n[i])
            out.append(incident("offsets-out-of-range", f"end is {r['end']} but the clean text has {size} characters; "
                                f"expected 0 <= start < end <= {size}", file=files[r["document_id"]],
                                doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"],
                                found=f"end is {r['end']}", expected=f"end <= {size}"))
        ok = np.flatnonzero(valid & ~beyond & _present(t["text"]))
        checked.append((layer, t, ok, d[ok], start[ok], end[ok]))
    # all layers at once, in document order, so that each text is converted once
    doc = np.concatenate([c[3] for c in checked])
    order = np.argsort(doc, kind="stable")
    recorded = pyarrow.chunked_array(
        [ch for _, t, ok, *_ in checked for ch in t["text"].take(pyarrow.array(ok)).chunks], pyarrow.string())
    bad = np.empty(len(doc), dtype=bool)
    bad[order] = text_mismatches(by_doc, doc[order], np.concatenate([c[4] for c in checked])[order],
                                 np.concatenate([c[5] for c in checked])[order],
                                 recorded.take(pyarrow.array(order)))
    at = 0
    for layer, t, ok, d, start, end in checked:
        for r in _take(t, ok[bad[at: at + len(ok)]]):
            s, e = r["start"], r["end"]
            found = texts[r["document_id"]][s:e]
            out.append(incident("span-text-mismatch", f"span text is {r['text']!r} but text[{s}:{e}] is {found!r}",
                                file=files[r["document_id"]], doc=r["document_id"], span=r["id"], start=s, end=e,
                                found=repr(r["text"]), expected=repr(found)))
        at += len(ok)
        if inv.overlap_allowed(layer):
            continue
        pairs = overlaps(d, start, end)
        for r, o in zip(_take(t, [ok[i] for i, _ in pairs]), _take(t, [ok[j] for _, j in pairs])):
            other = f"{o['id']} {o['text']!r} at {o['start']}:{o['end']}"
            out.append(incident(
                "overlapping-spans", f"{r['id']} {r['text']!r} overlaps {other}; expected no overlap in {layer} "
                "(overlap: forbidden in schemas/labels.yaml)",
                file=files[r["document_id"]], doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"],
                found=other, expected="no overlap"))
    return out


# ---- L4: cross-references ---------------------------------------------------------------

UNCHECKED = len(standoff.SPAN_LAYERS)  # layer number of records left out for a format problem: they resolve, no more
_LAYER_NAMES = list(standoff.SPAN_LAYERS) + ["(unchecked)"]


class _SpanIndex:
    """Every span of every document, found by (document, id) through one sorted int64 key."""

    def __init__(self, cols: Columns, orphans: list[tuple[str, str, str]], inv: Inventory):
        t = cols.tables
        orphans = [(d, i) for d, i, layer in orphans if layer != "relations"]
        orphan_ids = pyarrow.array([i for _, i in orphans], pyarrow.string())
        self.vocab = pc.unique(pyarrow.chunked_array(
            [c for layer in standoff.SPAN_LAYERS for c in t[layer]["id"].chunks] + [orphan_ids], pyarrow.string()
        ).drop_null())
        self.width = len(self.vocab) + 1
        number = {k: n for n, k in enumerate(cols.doc_ids)}
        keys, layers, rows, classes = [], [], [], []
        self.classes = [(layer, label) for layer in standoff.SPAN_LAYERS for label in inv.labels(layer)]
        for li, layer in enumerate(standoff.SPAN_LAYERS):
            keys.append(self.key(cols.doc[layer], t[layer]["id"]))
            layers.append(np.full(t[layer].num_rows, li))
            rows.append(np.arange(t[layer].num_rows))
            first = self.classes.index((layer, inv.labels(layer)[0]))
            code = _codes(t[layer]["label"], inv.labels(layer))
            classes.append(np.where(code >= 0, code + first, -1))
        keys.append(self.key(np.array([number[d] for d, _ in orphans], dtype=np.int64), orphan_ids))
        layers.append(np.full(len(orphans), UNCHECKED))
        rows.append(np.zeros(len(orphans), dtype=np.int64))
        classes.append(np.full(len(orphans), -1))
        keys, self.layer, self.row, self.cls = (np.concatenate(a).astype(np.int64) for a in (keys, layers, rows, classes))
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        first = np.concatenate(([True], sk[1:] != sk[:-1])) & (sk >= 0)
        self.sorted_keys, self.first_of_key = sk[first], order[first]  # duplicates resolve to the first

    def key(self, doc: np.ndarray, ids) -> np.ndarray:
        code = _codes(ids, self.vocab.to_pylist()) if len(self.vocab) else np.full(len(doc), -1)
        return np.where((code >= 0) & (doc >= 0), doc * self.width + code, -1)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, span number) for each key."""
        if not len(self.sorted_keys):
            return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted_keys, keys), len(self.sorted_keys) - 1)
        found = (keys >= 0) & (self.sorted_keys[pos] == keys)
        return found, self.first_of_key[pos]

    def describe(self, cols: Columns, span: int) -> str:
        layer = _LAYER_NAMES[self.layer[span]]
        if self.layer[span] == UNCHECKED:
            return layer
        return f"{layer}:{cols.tables[layer]['label'][int(self.row[span])].as_py()}"


def _lookup_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return (keys >= 0) & (sorted_keys[pos] == keys), pos


def _targets_text(inv: Inventory, label: str) -> str:
    return " or ".join(f"{layer}:{lab}" if lab else layer for layer, lab in inv.relation_targets(label))


def check_references(cols: Columns, orphans: list[tuple[str, str, str]], entities: dict | None, clusters: dict | None,
                     inv: Inventory, files: dict[str, str],
                     table_files: tuple[str, str] = ("entities.json", "claim_clusters.json")) -> list[Incident]:
    """Relations, and entity and cluster ids against their tables (a table that is None is not checked)."""
    out = []
    t = cols.tables
    if t["relations"].num_rows or t["claims"].num_rows:
        index = _SpanIndex(cols, orphans, inv)
        number = {k: n for n, k in enumerate(cols.doc_ids)}
        broken = [(number[d], i) for d, i, layer in orphans if layer == "relations"]
        broken = index.key(np.array([n for n, _ in broken], dtype=np.int64),
                           pyarrow.array([i for _, i in broken], pyarrow.string()))
        out += _check_relations(cols, index, broken, inv, files)
        out += _check_time_ids(cols, index, files)
    if entities is not None:
        names = pyarrow.array(list(entities), pyarrow.string())
        for layer in ("entities", "attributions"):
            eid = t[layer]["entity_id"]
            unknown = _present(eid) & ~np.asarray(pc.is_in(eid, value_set=names).to_numpy(zero_copy_only=False), bool)
            for r in _take(t[layer], np.flatnonzero(unknown)):
                out.append(incident("unknown-entity-id", f"entity_id {r['entity_id']!r} is not in {table_files[0]}; "
                                    "expected a key of the entity table", file=files[r["document_id"]],
                                    doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"],
                                    found=repr(r["entity_id"]), expected="a key of the entity table"))
        labels = inv.labels("entities")
        table_label = np.array([labels.index(v["label"]) if isinstance(v, dict) and v.get("label") in labels else -1
                                for v in entities.values()] + [-1], dtype=np.int64)
        e = t["entities"]
        in_table = table_label[_codes(e["entity_id"], list(entities))]  # -1 indexes the trailing -1
        mention = _codes(e["label"], labels)
        for r in _take(e, np.flatnonzero((in_table >= 0) & (mention >= 0) & (mention != in_table))):
            expected = entities[r["entity_id"]]["label"]
            out.append(incident("entity-label-mismatch", f"label is {r['label']!r} but entity {r['entity_id']!r} is "
                                f"{expected!r} in the entity table; expected one label per entity id",
                                file=files[r["document_id"]], doc=r["document_id"], span=r["id"], start=r["start"],
                                end=r["end"], found=repr(r["label"]), expected=repr(expected)))
    if clusters is not None:
        c = t["claims"]
        known = np.asarray(pc.is_in(c["cluster_id"], value_set=pyarrow.array(list(clusters), pyarrow.string()))
                           .to_numpy(zero_copy_only=False), bool)
        for r in _take(c, np.flatnonzero(_present(c["cluster_id"]) & ~known)):
            out.append(incident("unknown-cluster", f"cluster_id {r['cluster_id']!r} is not in {table_files[1]}; "
                                "expected a key of the cluster table", file=files[r["document_id"]],
                                doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"],
                                found=repr(r["cluster_id"]), expected="a key of the cluster table"))
    return out


def _check_time_ids(cols: Columns, index: _SpanIndex, files: dict[str, str]) -> list[Incident]:
    c = cols.tables["claims"]
    found, span = index.lookup(index.key(cols.doc["claims"], c["time_id"]))
    timex = list(standoff.SPAN_LAYERS).index("timexes")
    bad = _present(c["time_id"]) & ~(found & (index.layer[span] == timex))
    return [incident("dangling-time-id", f"time_id {r['time_id']!r} names no time expression of document "
                     f"{r['document_id']}; expected a timexes id of this document", file=files[r["document_id"]],
                     doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"],
                     found=repr(r["time_id"]), expected="a timexes id of this document")
            for r in _take(c, np.flatnonzero(bad))]


def _check_relations(cols: Columns, index: _SpanIndex, broken: np.ndarray, inv: Inventory,
                     files: dict[str, str]) -> list[Incident]:
    """Relation ends, types and targets, one relation of a type per claim, and source types.

    `broken` holds the keys of claims that a relation left out for a format
    problem starts from: their source type is not judged.
    """
    out = []
    rel, doc = cols.tables["relations"], cols.doc["relations"]
    types = list(inv.raw["relations"]["types"])
    label = _codes(rel["label"], types)
    from_key, to_key = index.key(doc, rel["from_id"]), index.key(doc, rel["to_id"])
    has_from, from_span = index.lookup(from_key)
    has_to, to_span = index.lookup(to_key)
    rows = {}

    def row(i):
        if i not in rows:
            rows[i] = rel.slice(int(i), 1).to_pylist()[0]
        return rows[i]

    def emit(test, mask, message, found, expected):
        for i in np.flatnonzero(mask):
            r = row(i)
            out.append(incident(test, message(i, r), file=files[r["document_id"]], doc=r["document_id"],
                                span=r["id"], found=found(i, r), expected=expected(i, r)))

    emit("dangling-relation", _present(rel["from_id"]) & ~has_from,
         lambda i, r: f"from_id {r['from_id']!r} names no span of document {r['document_id']}; expected a claim id",
         lambda i, r: repr(r["from_id"]), lambda i, r: "a claim id")
    emit("dangling-relation", _present(rel["to_id"]) & ~has_to,
         lambda i, r: f"to_id {r['to_id']!r} names no span of document {r['document_id']}; expected an id of this "
                      f"document ({_targets_text(inv, r['label']) if r['label'] in types else 'a span'})",
         lambda i, r: repr(r["to_id"]), lambda i, r: "an id of this document")
    from_layer = np.where(has_from, index.layer[from_span], -1)
    to_layer = np.where(has_to, index.layer[to_span], -1)
    to_class = np.where(has_to, index.cls[to_span], -1)
    resolved = has_from & has_to & (from_layer != UNCHECKED) & (to_layer != UNCHECKED) & (label >= 0)
    layer_no = {name: n for n, name in enumerate(standoff.SPAN_LAYERS)}
    wanted = np.array([layer_no[inv.raw["relations"]["types"][k]["from"]] for k in types] + [-1])
    wrong_from = resolved & (from_layer != wanted[label])
    emit("wrong-relation-source", wrong_from,
         lambda i, r: f"{r['label']} starts from {r['from_id']} ({index.describe(cols, from_span[i])}); expected a "
                      f"span of {inv.raw['relations']['types'][r['label']]['from']}",
         lambda i, r: index.describe(cols, from_span[i]),
         lambda i, r: inv.raw["relations"]["types"][r["label"]]["from"])
    by_class = np.zeros((len(types) + 1, len(index.classes) + 1), dtype=bool)  # [relation type, target class]
    by_layer = np.zeros((len(types) + 1, len(_LAYER_NAMES) + 1), dtype=bool)  # targets given as a whole layer
    for k, name in enumerate(types):
        for layer, lab in inv.relation_targets(name):
            if lab:
                by_class[k, index.classes.index((layer, lab))] = True
            else:
                by_layer[k, layer_no[layer]] = True
    fits = by_class[label, to_class] | by_layer[label, to_layer]
    wrong_to = resolved & ~fits
    emit("wrong-relation-target", wrong_to,
         lambda i, r: f"{r['label']} points to {r['to_id']} ({index.describe(cols, to_span[i])}); expected "
                      f"{_targets_text(inv, r['label'])}",
         lambda i, r: index.describe(cols, to_span[i]), lambda i, r: _targets_text(inv, r["label"]))
    good = resolved & ~wrong_from & ~wrong_to
    source = types.index(inv.role("source_relation"))
    cue = types.index(inv.role("cue_relation"))
    unsure = set(from_key[~good & (label == source) & (from_key >= 0)].tolist()) | set(broken.tolist())
    # one cue per claim; several sources (coordinated), but not the same one twice
    seen: dict[tuple, int] = {}
    for i in np.flatnonzero(good & ((label == source) | (label == cue))):
        k = (int(from_key[i]), int(label[i])) + ((int(to_key[i]),) if label[i] == source else ())
        if k in seen:
            r, fr = row(i), row(seen[k])
            what = "the same" if label[i] == source else "two"
            out.append(incident("duplicate-relation", f"claim {r['from_id']} has {what} {r['label']} relations, "
                                f"{fr['id']} (to {fr['to_id']}) and {r['id']} (to {r['to_id']}); expected one",
                                file=files[r["document_id"]], doc=r["document_id"], span=r["id"],
                                found=f"{what} {r['label']} relations", expected="one"))
            good[i] = False
        else:
            seen[k] = i
    sources: dict[int, list[int]] = {}
    for i in np.flatnonzero(good & (label == source)):
        sources.setdefault(int(from_key[i]), []).append(int(i))
    cues = {int(from_key[i]): int(i) for i in np.flatnonzero(good & (label == cue))}
    out += _check_source_types(cols, index, sources, cues, to_layer, to_class, unsure, inv, files, row)
    return out


def _check_source_types(cols, index, sources, cues, to_layer, to_class, unsure, inv, files, row) -> list[Incident]:
    """A claim's source_type against its claim_source relations (the inventory's roles say which is which).

    entity: every source is an entity mention; unnamed: a source span among them; author and implicit:
    no source relation; author: no cue either (the article's own voice has none).
    """
    claims = cols.tables["claims"]
    if not claims.num_rows:
        return []
    role = lambda name: inv.value_role("source_type", name)  # noqa: E731
    source_class = index.classes.index(("attributions", inv.role("source_label")))
    entity_layer = list(standoff.SPAN_LAYERS).index("entities")
    key = index.key(cols.doc["claims"], claims["id"])
    out = []
    for i, r in enumerate(claims.select(["document_id", "id", "start", "end", "source_type"]).to_pylist()):
        k = int(key[i])
        if r["source_type"] not in inv.values("source_type") or k in unsure:
            continue
        rels = sources.get(k, [])
        if not rels:
            expected = [role("author"), role("implicit")]
            why = "the claim has no claim_source relation"
        elif any(to_class[j] == source_class for j in rels):
            expected, why = [role("unnamed")], f"a claim_source points to a {inv.role('source_label')} span"
        elif all(to_layer[j] == entity_layer for j in rels):
            expected, why = [role("entity")], "its claim_source relations point to entity mentions"
        else:
            continue
        where = dict(file=files[r["document_id"]], doc=r["document_id"], span=r["id"], start=r["start"], end=r["end"])
        if r["source_type"] not in expected:
            ids = ", ".join(f"{row(j)['id']} (to {row(j)['to_id']})" for j in rels)
            out.append(incident("source-type-mismatch", f"source_type is {r['source_type']!r} but {why}"
                                f"{': ' + ids if ids else ''}; expected {' or '.join(map(repr, expected))}",
                                found=repr(r["source_type"]), expected=" or ".join(map(repr, expected)), **where))
        elif r["source_type"] == role("author") and k in cues:
            cr = row(cues[k])
            out.append(incident("source-type-mismatch", f"source_type is {role('author')!r} but the claim has a "
                                f"{inv.role('cue_relation')} {cr['id']} (to {cr['to_id']}); expected no cue in the "
                                f"author's own voice, or {role('implicit')!r} for a source implicit in the cue",
                                found=repr(role("author")), expected="no cue in the author's own voice", **where))
    return out


def check_tables(entities: dict | None, clusters: dict | None, inv: Inventory, entity_file: str = "annotations/tables/entities.json",
                 cluster_file: str = "annotations/tables/claim_clusters.json") -> list[Incident]:
    out = []
    labels = inv.labels("entities")
    for key, row in sorted((entities or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(row, dict) or not _strings(key, row.get("name"), row.get("label")):
            out.append(incident("invalid-table", f"entity {key!r} is {_short(row)}; expected a name and a label "
                                "(strings of Unicode characters)", file=entity_file, span=key, found=_short(row),
                                expected="a name and a label (strings of Unicode characters)"))
        elif row["label"] not in labels:
            out.append(incident("entity-table-label", f"entity {key!r} has label {row['label']!r}; expected one of {labels}",
                                file=entity_file, span=key, found=repr(row["label"]), expected=repr(labels)))
    for key, row in sorted((clusters or {}).items(), key=lambda kv: str(kv[0])):
        if not isinstance(row, dict) or not _strings(key, row.get("proposition")):
            out.append(incident("invalid-table", f"cluster {key!r} is {_short(row)}; expected a proposition (a "
                                "string of Unicode characters)", file=cluster_file, span=key, found=_short(row),
                                expected="a proposition (a string of Unicode characters)"))
    return out


def _strings(*values) -> bool:
    """Strings that UTF-8 can encode (a JSON "\\ud800" escape makes one it cannot)."""
    from pactnews.corpus.readers import is_unicode

    return all(isinstance(v, str) and is_unicode(v) for v in values)


# ---- the conflicts table ---------------------------------------------------------------

def conflict_inputs(doc: dict, entities: dict | None, inv: Inventory) -> list[dict]:
    """The claims of one valid document as the conflict detectors read them.

    Each claim's linked time expression becomes its TIMEX3 value; its sources
    resolve to entity ids (None when one of them names no entity, or when the
    claim has no source relation: the detectors then cannot compare sources).
    """
    by_id = {r["id"]: r for layer in standoff.SPAN_LAYERS for r in doc[layer]}
    names = {k: v.get("name") for k, v in (entities or {}).items() if isinstance(v, dict)}
    sources: dict[str, list[dict]] = {}
    for r in doc["relations"]:
        if r["label"] == inv.role("source_relation") and r["to_id"] in by_id:
            sources.setdefault(r["from_id"], []).append(by_id[r["to_id"]])
    out = []
    for c in doc["claims"]:
        targets = sources.get(c["id"], [])
        keys = [t.get("entity_id") for t in targets]
        timex = by_id.get(c.get("time_id"))
        out.append({
            "document_id": doc["document_id"], **{k: c.get(k) for k in standoff.FIELDS["claims"]},
            "time_value": timex.get("value") if timex else None,
            "source_keys": sorted(set(keys)) if targets and all(keys) else None,
            # the author's voice (and an implicit source) is each article's own: two articles' are two sources
            "source": " + ".join(names.get(t.get("entity_id")) or t["text"] for t in targets)
            or f"{c.get('source_type')} ({doc['document_id']})",
        })
    return out


def check_conflict_rows(entries: list | None, file: str = "annotations/tables/conflicts.json") -> list[Incident]:
    """The types of the conflicts table's values (tables.read_conflicts checks only its keys): ids, type,
    origin and status are strings; rule, rationale, a member's attribute and value are strings or null."""
    out = []
    for n, e in enumerate(entries or [], 1):
        bad = [(k, e.get(k)) for k in ("conflict_id", "type", "origin", "status") if not _strings(e.get(k))]
        bad += [(k, e.get(k)) for k in ("rule", "rationale") if e.get(k) is not None and not _strings(e.get(k))]
        for j, m in enumerate(e.get("members") or [], 1):
            bad += [(f"members[{j}].{k}", m.get(k)) for k in ("document_id", "claim_id") if not _strings(m.get(k))]
            bad += [(f"members[{j}].{k}", m.get(k)) for k in ("attribute", "value")
                    if m.get(k) is not None and not _strings(m.get(k))]
        if bad:
            found = ", ".join(f"{k} {_short(v)}" for k, v in bad)
            expected = "strings of Unicode characters (rule, rationale, attribute and value may be null)"
            cid = e.get("conflict_id")
            out.append(incident("invalid-table", f"conflict {n} has {found}; expected {expected}", file=file,
                                span=cid if _strings(cid) else None, found=found, expected=expected))
    return out


def check_conflicts(entries: list | None, claims: list[dict], inv: Inventory,
                    file: str = "annotations/tables/conflicts.json") -> list[Incident]:
    """The conflicts table: values from the inventory, members that exist, every detector finding reviewed.

    `claims` are conflict_inputs of every document. A table that is None is not
    there: nothing has been reviewed yet, and nothing is checked.
    """
    from pactnews.annotations.conflicts import detect

    if entries is None:
        return []
    return check_conflict_table(entries, {(c["document_id"], c["id"]) for c in claims}, detect(claims, inv), inv, file)


def check_conflict_table(entries: list | None, known: set, findings: list, inv: Inventory,
                         file: str = "annotations/tables/conflicts.json") -> list[Incident]:
    """check_conflicts from what it needs of the claims: `known`, the (document, claim id) pairs of the members
    that exist (or of every claim), and `findings`, the detectors' findings over every cluster (detect's order).
    The build gathers both cluster partition by cluster partition."""
    from pactnews.annotations.conflicts import reconcile

    if entries is None:
        return []
    out = []
    origins, statuses = inv.conflict_section("origins"), inv.conflict_section("status")
    seen: set = set()
    for e in entries:
        cid = e.get("conflict_id")
        where = dict(file=file, span=cid)
        for field, allowed in (("type", inv.conflict_types), ("origin", list(origins)), ("status", list(statuses))):
            if e.get(field) not in allowed:
                out.append(incident("unknown-conflict-value", f"{field} is {e.get(field)!r}; expected one of {allowed}",
                                    found=repr(e.get(field)), expected=repr(allowed), **where))
        if cid in seen:
            out.append(incident("duplicate-conflict-id", f"conflict id {cid!r} is used twice; expected a unique id",
                                found=repr(cid), expected="a unique id", **where))
        seen.add(cid)
        if not isinstance(e.get("rationale"), str) or not e["rationale"].strip():
            out.append(incident("conflict-without-rationale", f"conflict {cid!r} ({e.get('status')}) has rationale "
                                f"{e.get('rationale')!r}; expected one sentence saying what diverges or why it was "
                                "dismissed", found=repr(e.get("rationale")), expected="a sentence", **where))
        for m in e.get("members") or []:
            if (m.get("document_id"), m.get("claim_id")) not in known:
                out.append(incident("unknown-conflict-member", f"member {m.get('document_id')}/{m.get('claim_id')} "
                                    "names no claim; expected a claim of an annotation file",
                                    doc=m.get("document_id"), found=f"{m.get('document_id')}/{m.get('claim_id')}",
                                    expected="an existing claim", **where))
    detected = inv.value_role("conflict_origin", "detected")
    unreviewed, stale = reconcile(findings, [e for e in entries if e.get("origin") == detected], inv)
    for f in unreviewed:
        members = ", ".join(f"{m.document_id}/{m.claim_id} ({m.attribute} {m.value})" for m in f.members)
        out.append(incident("unreviewed-conflict", f"detector {f.rule} finds a {f.type} conflict in cluster "
                            f"{f.cluster_id!r}: {members}; expected a detected entry with these members, kept or "
                            "dismissed with a reason", file=file, found=f"{f.rule} {members}",
                            expected="an entry that keeps or dismisses it"))
    for e in stale:
        out.append(incident("stale-conflict", f"detected conflict {e.get('conflict_id')!r} ({e.get('rule')}) is no "
                            "longer found by its detector with these members; expected it removed or re-reviewed",
                            file=file, span=e.get("conflict_id"), found="not found by the detectors",
                            expected="a finding of the detectors"))
    return out


# ---- the public API -----------------------------------------------------------------------

def validate_annotations(docs: dict[str, dict], texts: dict[str, str], entities: dict, clusters: dict, inv,
                         files: dict[str, str] | None = None, *,
                         table_files: tuple[str, str] = ("annotations/tables/entities.json",
                                                         "annotations/tables/claim_clusters.json")) -> list[Incident]:
    """Every incident of a set of annotation documents (keyed by document id) and of the tables; pure.

    `files` names the file of each document and `table_files` the entity and
    cluster tables, for the messages only. A table or `texts` given as None
    could not be read: the checks against it are left out (the reader has
    reported why).
    """
    out = validate_documents(docs, texts, entities, clusters, inv, files, table_files=table_files)
    return sorted(out + check_tables(entities, clusters, inv, *table_files), key=_sort_key)


def validate_documents(docs: dict[str, dict], texts: dict[str, str], entities: dict, clusters: dict, inv,
                       files: dict[str, str] | None = None, *,
                       table_files: tuple[str, str] = ("annotations/tables/entities.json",
                                                       "annotations/tables/claim_clusters.json")) -> list[Incident]:
    """validate_annotations without the checks of the tables themselves: what depends on these documents.

    Every check here looks within one document (and at the tables), so a
    corpus may be validated in batches of documents with the same incidents.
    """
    files = {k: (files or {}).get(k, f"annotations/{k}.json") for k in docs}
    out, docs = check_documents(docs, files)
    more, docs, orphans = check_records(docs, files)
    out += more
    more, docs, extra, tabs = _tables(docs, files)
    out += more
    orphans += extra
    from pactnews.outputs.schemas import to_pandas

    out += check_schema({layer: to_pandas(t) for layer, t in tabs.items()}, inv, files)
    cols = columns(tabs, sorted(docs))
    if texts is not None:
        out += check_text(cols, docs, texts, inv, files)
    out += check_references(cols, orphans, entities, clusters, inv, files, table_files)
    return sorted(out, key=_sort_key)


_FORMAT_ERROR = re.compile(r"^(?P<path>.*?): \[L(?P<level>\d) (?P<test>[a-z0-9-]+)\] (?P<message>.*)$", re.DOTALL)

BATCH_SIZE = 200  # documents per batch: metadata records with their annotation files


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


# ---- the inventory ---------------------------------------------------------------------

# The roles of schemas/labels.yaml the code asks for (Inventory.role, Inventory.value_role): a label role names
# a label of its layer, a relation role a relation type, and each value role a value of its attribute.
LABEL_ROLES = {"source_label": "attributions", "cue_label": "attributions", "claim_label": "claims"}
RELATION_ROLES = ("source_relation", "cue_relation")
VALUE_ROLES = {
    "source_type": ("entity", "unnamed", "implicit", "author"),
    "factuality": ("asserted", "hedged", "uncommitted", "denied"),
    "modality": ("actual", "expected"),
    "author_stance": ("none",),
    "quantity_approximation": ("exact", "approximate", "at_least", "at_most", "range"),
    "conflict_origin": ("detected", "annotated"),
    "conflict_status": ("kept", "dismissed"),
    "conflict_type": ("figure", "polarity", "attribution", "time"),
}
_CONFLICT_SECTIONS = {"conflict_origin": "origins", "conflict_status": "status", "conflict_type": "types"}


def _short(value) -> str:
    """repr, at most 80 characters (nested values are cut short before they are written out)."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother = 3, 80, 80
    text = short.repr(value) if isinstance(value, (list, tuple, dict, set)) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def inventory_problems(raw) -> list[tuple[str, str, str]]:
    """(where, found, expected) of each thing the code needs from schemas/labels.yaml that `raw` lacks."""
    if not isinstance(raw, dict):
        return [("the file", type(raw).__name__, "a mapping")]
    out: list[tuple[str, str, str]] = []

    def need(obj, key: str, where: str, kind=dict):
        value = obj.get(key) if isinstance(obj, dict) else None
        names = {dict: "a non-empty mapping", str: "a string", list: "a non-empty list"}
        if not isinstance(value, kind) or (kind is not str and not value) or (
                kind is dict and not all(isinstance(k, str) for k in value)):
            out.append((f"{where}{key}", _short(value), names[kind] + (" with string keys" if kind is dict else "")))
            return None
        return value

    layers = need(raw, "layers", "") or {}
    labels = {}
    for layer in standoff.SPAN_LAYERS:
        spec = need(layers, layer, "layers.") if layers else None
        if spec is None:
            continue
        labels[layer] = need(spec, "labels", f"layers.{layer}.") or {}
        prefix = need(spec, "id_prefix", f"layers.{layer}.", str)
        if prefix is not None and not re.fullmatch(r"[A-Za-z]+", prefix):
            out.append((f"layers.{layer}.id_prefix", _short(prefix), "letters (an id is the prefix and a number)"))
        if spec.get("overlap") not in ("allowed", "forbidden"):
            out.append((f"layers.{layer}.overlap", _short(spec.get("overlap")), "'allowed' or 'forbidden'"))
    relations = need(raw, "relations", "") or {}
    if relations:
        need(relations, "id_prefix", "relations.", str)
    types = need(relations, "types", "relations.") if relations else None
    for name, spec in (types or {}).items():
        where = f"relations.types.{name}"
        if not isinstance(spec, dict) or spec.get("from") not in standoff.SPAN_LAYERS:
            out.append((f"{where}.from", _short(spec.get("from") if isinstance(spec, dict) else spec),
                        f"one of {list(standoff.SPAN_LAYERS)}"))
            continue
        targets = spec.get("to")
        bad = [t for t in targets or [] if not isinstance(t, str) or t.partition(":")[0] not in labels
               or (t.partition(":")[2] and t.partition(":")[2] not in labels[t.partition(":")[0]])] \
            if isinstance(targets, list) else None
        if not targets or bad:
            out.append((f"{where}.to", _short(bad or targets), "a list of 'layer' or 'layer:LABEL' of the inventory"))
    values = raw.get("values")
    if not isinstance(values, dict):
        out.append(("values", _short(values), "a mapping of attribute to values"))
        values = {}
    for attribute, allowed in values.items():
        if not isinstance(allowed, dict) or not allowed or not all(isinstance(v, str) for v in allowed):
            out.append((f"values.{attribute}", _short(allowed), "a non-empty mapping of value to description"))
    pattern = need(raw, "timex_value_pattern", "", str)
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            out.append(("timex_value_pattern", _short(pattern), f"a regular expression ({exc})"))
    conflicts = need(raw, "conflicts", "") or {}
    for section in ("types", "origins", "status"):
        if conflicts:
            need(conflicts, section, "conflicts.")
    roles = need(raw, "roles", "") or {}
    for role, layer in LABEL_ROLES.items():
        if roles and roles.get(role) not in labels.get(layer, {}):
            out.append((f"roles.{role}", _short(roles.get(role)), f"a label of layers.{layer}"))
    for role in RELATION_ROLES:
        if roles and roles.get(role) not in (types or {}):
            out.append((f"roles.{role}", _short(roles.get(role)), "a type of relations.types"))
    for attribute, names in VALUE_ROLES.items():
        section = _CONFLICT_SECTIONS.get(attribute)
        allowed = (conflicts.get(section) if section else values.get(attribute)) or {}
        given = roles.get(attribute) if roles else None
        for name in names:
            found = given.get(name) if isinstance(given, dict) else None
            if roles and (not isinstance(found, str) or found not in allowed):
                home = f"conflicts.{section}" if section else f"values.{attribute}"
                out.append((f"roles.{attribute}.{name}", _short(found), f"a value of {home}"))
    if not out:  # the shape holds: the generated schemas must build from it
        from pactnews.outputs.schemas import table_schemas

        try:
            table_schemas(Inventory(raw))
        except Exception as exc:  # noqa: BLE001 - anything the schemas cannot be built from is one problem
            out.append(("the table schemas", f"{type(exc).__name__}: {exc}", "an inventory pactnews.outputs.schemas "
                        "can build the table schemas from"))
    return out


def load_checked_inventory(layout: Layout) -> tuple[Inventory | None, list[Incident]]:
    """The inventory of schemas/labels.yaml, or None and the incidents that stop every other check: a file
    outside the repository, unreadable, not YAML, or without what the code asks of it."""
    from pactnews.corpus.readers import CorpusError, load_yaml
    from pactnews.repo import Confinement, UnsafePath

    path = layout.labels
    rel = _rel(layout, path)
    try:
        Confinement(layout.root).check(path, "the label inventory")
        raw = load_yaml(path, "YAML")
    except UnsafePath as exc:
        return None, [incident("unsafe-path", f"{exc}; expected a file inside the repository", file=rel,
                               found="a path out of the repository", expected="a file inside the repository")]
    except (CorpusError, OSError) as exc:
        found = " ".join(str(exc).split()) if isinstance(exc, CorpusError) else f"{type(exc).__name__}: {exc.strerror}"
        found = found.replace(str(path), rel)
        return None, [incident("invalid-inventory", f"cannot read the label inventory: {found}; expected the YAML "
                               "of schemas/labels.yaml", file=rel, found=found, expected="the YAML of schemas/labels.yaml")]
    problems = inventory_problems(raw)
    if problems:
        return None, [incident("invalid-inventory", f"{where} is {found}; expected {expected} (no other check runs "
                               "without the inventory)", file=rel, found=found, expected=expected)
                      for where, found, expected in problems]
    return Inventory(raw), []


def _problem_incident(p) -> Incident:
    """An Incident from a corpus.Problem."""
    return incident(p.test_id, p.message, file=p.file, doc=p.doc, found=p.found, expected=p.expected)


def check_corpus_batch(layout: Layout, inv: Inventory, rules, records: list[dict]) -> tuple[list[Incident], dict[str, str]]:
    """Metadata records, their raw files and their corpus/clean/ files; returns (incidents, clean texts by id).

    Each record: a safe id, its keys, their types, a dct value naming a real
    date, a raw_file inside the repository (corpus.source_problems and
    value_problems). A record whose id or raw_file is unsafe, missing or mistyped
    is read no further. Without rules (they could not be read) the clean files
    are not compared. A raw file that is missing, changed or not UTF-8 is one
    raw-file-invalid incident for the batch, and its clean files are then not
    compared; an empty raw file or a clean file resolving outside the
    repository is an incident of its own document.
    """
    from pactnews.commands.clean import clean_records
    from pactnews.corpus.readers import CorpusError, source_problems, value_problems
    from pactnews.repo import Confinement, is_safe_id

    meta_file = _rel(layout, layout.metadata)
    out = []
    pattern = inv.timex_value_re
    confinement = Confinement(layout.root)
    readable = []
    for rec in records:
        source = source_problems(layout, rec, confinement)
        out += [_problem_incident(p) for p in source + value_problems(layout, rec, pattern)]
        if source:
            continue
        readable.append(rec)
    errors: list[CorpusError] = []
    try:
        expected = clean_records(layout, rules, readable, errors) if rules is not None else {}
    except (CorpusError, OSError, ValueError) as exc:
        errors.append(exc)
        expected = {}
    raw_invalid = [e for e in errors if getattr(e, "test_id", None) in (None, "raw-file-invalid")]
    for exc in errors:
        if exc not in raw_invalid:  # an empty raw file, a clean file out of the repository: of one document
            out.append(incident(exc.test_id, exc.reason or str(exc), file=exc.file or meta_file, doc=exc.doc))
    if raw_invalid:
        exc = raw_invalid[0]
        out.append(incident("raw-file-invalid", f"{type(exc).__name__}: {exc}; expected raw files byte-identical "
                            "to their raw_sha256", file=meta_file, found=type(exc).__name__,
                            expected="raw files byte-identical to their raw_sha256"))
        expected = {}
    on_disk = {}
    for path, data in expected.items():
        try:
            found = on_disk[path] = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            found = None
        except OSError as exc:
            out.append(_unreadable(layout, path, exc, path.name.split(".")[0]))
            continue
        if found != data:
            state = "is missing" if not path.is_file() else "differs from what the raw file and rules give"
            out.append(incident("clean-text-stale", f"{_rel(layout, path)} {state}; expected the output of "
                                "`pactnews clean` (run it)", file=_rel(layout, path), doc=path.name.split(".")[0],
                                found=state, expected="the output of `pactnews clean`"))
    texts = {}
    for rec in records:  # a record whose raw_file is bad still has its clean text, for its annotation file
        if not is_safe_id(rec.get("id")):
            continue
        path = layout.clean / f"{rec['id']}.txt"
        data = on_disk.get(path)
        if data is None and path.is_file() and confinement.inside(path):
            try:
                data = path.read_bytes()
            except OSError as exc:
                if path not in expected:  # else reported above
                    out.append(_unreadable(layout, path, exc, rec["id"]))
                continue
        if data is not None:
            texts[rec["id"]] = data.decode("utf-8", errors="replace")
            out += _too_large(layout, path, rec["id"], texts[rec["id"]])
    return out, texts


def _unreadable(layout: Layout, path: Path, exc: OSError, doc: str | None) -> Incident:
    rel = _rel(layout, path)
    return incident("unreadable-file", f"cannot read {rel}: {type(exc).__name__}: {exc.strerror or exc}; expected a "
                    "readable file", file=rel, doc=doc, found=type(exc).__name__, expected="a readable file")


def _too_large(layout: Layout, path: Path, doc: str, text: str) -> list[Incident]:
    """A clean text longer than the token view takes (spaCy's max_length, set in pactnews.pipeline.ner)."""
    from pactnews.pipeline import ner

    if len(text) <= ner.MAX_CHARS:
        return []
    rel = _rel(layout, path)
    return [incident("document-too-large", f"the clean text has {len(text):,} characters; expected at most "
                     f"{ner.MAX_CHARS:,} (pactnews.pipeline.ner.MAX_CHARS, spaCy's max_length for the token view)",
                     file=rel, doc=doc, found=f"{len(text):,} characters",
                     expected=f"at most {ner.MAX_CHARS:,} characters")]


def extra_clean_files(layout: Layout, ids) -> list[Incident]:
    """Files in corpus/clean/ that `pactnews clean` does not write for these document ids, and files in
    corpus/raw/ that no metadata record names (unlisted-raw-file)."""
    from pactnews.corpus.readers import CorpusError, read_metadata, unlisted_raw_files

    out = []
    try:
        out += [_problem_incident(p) for p in unlisted_raw_files(layout, read_metadata(layout))]
    except (CorpusError, OSError):  # unreadable metadata is reported as invalid-metadata
        pass
    if not layout.clean.is_dir():
        return out
    ids = set(ids)
    try:
        names = sorted(e.name for e in os.scandir(layout.clean) if e.is_file())
    except OSError as exc:
        return out + [_unreadable(layout, layout.clean, exc, None)]
    for name in names:
        stem = name[:-4] if name.endswith(".txt") else name[:-9] if name.endswith(".map.json") else None
        if stem not in ids:
            path = layout.clean / name
            out.append(incident("clean-text-stale", f"{_rel(layout, path)} is an extra file; expected only "
                                "files `pactnews clean` writes (no metadata record names it)",
                                file=_rel(layout, path), found="an extra file",
                                expected="only files `pactnews clean` writes"))
    return out


def _read_table(reader, path: Path, layout: Layout, needed: bool,
                confinement=None) -> tuple[dict | None, list[Incident]]:
    """The table, or None with an incident when it is needed and missing or unreadable, or when it resolves
    outside `confinement` (default: the repository; such a table is not opened)."""
    from pactnews.repo import Confinement

    rel = _rel(layout, path)
    confinement = confinement or Confinement(layout.root)
    if os.path.lexists(path) and not confinement.inside(path):
        how = "is a symlink to" if os.path.islink(path) else "resolves to"
        return None, [incident("unsafe-path", f"{rel} {how} {confinement.resolve(path)}, outside the repository "
                               f"{confinement.root}; expected a table inside the repository", file=rel,
                               found="a path out of the repository", expected="a table inside the repository")]
    if not os.path.lexists(path) or (os.path.islink(path) and not path.exists()):
        if needed:
            return None, [incident("missing-table", f"{rel} does not exist; expected a table beside the annotation files",
                                 file=rel, found="does not exist", expected="a table beside the annotation files")]
        return {}, []
    try:
        return reader(path), []
    except OSError as exc:
        return None, [incident("unreadable-file", f"cannot read the table: {type(exc).__name__}: {exc.strerror or exc}; "
                               "expected a readable table", file=rel, found=type(exc).__name__,
                               expected="a readable file")]
    except Exception as exc:  # noqa: BLE001 - any unreadable table is one incident
        detail = " ".join(str(exc).split())[:300] or "nested deeper than the reader allows"
        return None, [incident("invalid-table", f"cannot read the table: {type(exc).__name__}: {detail}; expected a "
                             "table as written by pactnews.annotations.tables", file=rel, found=type(exc).__name__,
                             expected="a table as written by pactnews.annotations.tables")]


def is_annotation_file(path: Path, ids: Collection[str] | None, confinement=None) -> bool:
    """A document file: named after a corpus document, or a JSON object that declares the standoff format.

    Other JSON files beside them (reports such as agreement.json) are not annotations. A file outside
    `confinement` or one that cannot be read is not opened here: it counts as an annotation file, so that
    reading it is refused with an incident.
    """
    if path.stem in (ids or ()):
        return True
    if confinement is not None and not confinement.inside(path):
        return True
    try:
        obj = json.loads(path.read_bytes())
    except OSError:
        return True
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(obj, dict) and (obj.get("format") == standoff.FORMAT or {"document_id", "text_sha256"} <= set(obj))


def confinement_of(layout: Layout, folder: Path):
    """Where the files of an annotation folder must resolve: the repository, or the folder itself when
    --annotations names one outside the repository."""
    from pactnews.repo import Confinement

    inside = Path(os.path.abspath(folder)).is_relative_to(os.path.abspath(layout.root))
    return Confinement(layout.root) if inside or Confinement(layout.root).inside(folder) else Confinement(folder)


def _read_annotation(layout: Layout, path: Path, confinement) -> tuple[dict | None, Incident | None]:
    """One annotation file as standoff.loads reads it, or the incident that stops reading it: a path out of
    the repository (not opened at all), a file that cannot be read, or a malformed file."""
    rel = _rel(layout, path)
    where = dict(file=rel, doc=path.stem)
    if not confinement.inside(path):
        how = "is a symlink to" if os.path.islink(path) else "resolves to"
        return None, incident("unsafe-path", f"{rel} {how} {confinement.resolve(path)}, outside the repository "
                              f"{confinement.root}; expected a file inside the repository", **where,
                              found="a path out of the repository", expected="a file inside the repository")
    try:
        return standoff.loads(confinement.read_bytes(path, "annotation file"), rel), None
    except OSError as exc:
        return None, incident("unreadable-file", f"cannot read the file: {type(exc).__name__}: {exc.strerror or exc}; "
                              "expected a readable annotation file", **where, found=type(exc).__name__,
                              expected="a readable file")
    except RecursionError:
        return None, incident("invalid-json", "the JSON is nested deeper than the reader allows; expected an "
                              "annotation file (a JSON object of lists of records)", **where,
                              found="nesting too deep", expected="a JSON object of lists of records")
    except standoff.FormatError as exc:
        m = _FORMAT_ERROR.match(str(exc))
        test, message = (m["test"], m["message"]) if m else ("invalid-json", str(exc))
        return None, incident(test, message, **where, level=int(m["level"]) if m else 1)


def _annotation_incidents(layout: Layout, paths: list[Path], texts: dict[str, str] | None, entities, clusters,
                          inv: Inventory, table_files: tuple[str, str],
                          claims_out: list | None = None, confinement=None) -> tuple[list[Incident], Counter]:
    """Read and validate annotation files (all of one batch); returns (incidents, counts of documents, spans, relations).

    `claims_out`, when given, receives the conflict_inputs of every document without an incident. A file
    that resolves outside `confinement` (default: the repository) is refused unread.
    """
    from pactnews.repo import Confinement

    confinement = confinement or Confinement(layout.root)
    out, docs, files = [], {}, {}
    for path in paths:
        doc, problem = _read_annotation(layout, path, confinement)
        if problem is not None:
            out.append(problem)
        else:
            docs[path.stem] = doc
            files[path.stem] = _rel(layout, path)
    if docs:
        out += validate_documents(docs, texts, entities, clusters, inv, files, table_files=table_files)
    if claims_out is not None:
        bad = {i.document_id for i in out}
        for k in sorted(docs):
            if k not in bad:
                claims_out += conflict_inputs(docs[k], entities, inv)
    counts = Counter(documents=len(paths),
                     spans=sum(len(d.get(layer, [])) for d in docs.values() for layer in standoff.SPAN_LAYERS),
                     relations=sum(len(d.get("relations", [])) for d in docs.values()))
    return out, counts


def validate_batch(layout: Layout, inv: Inventory, entities: dict | None, clusters: dict | None, records: list[dict],
                   *, rules=None, annotations: Path | None = None) -> list[Incident]:
    """Every incident of a batch of metadata records and of the annotation files named after them; sorted.

    What `pactnews validate` runs per batch: dct values, raw files, corpus/clean/
    and the annotation files (of `annotations`, default annotations/) against
    the tables. The checks of the tables themselves, of extra files in
    corpus/clean/ and of files named after no document are not per batch.
    """
    from pactnews.corpus.cleaning import load_rules

    folder = Path(annotations) if annotations else layout.annotations
    rules = load_rules(layout.cleaning_rules) if rules is None else rules
    out, texts = check_corpus_batch(layout, inv, rules, records)
    paths = [p for p in (folder / f"{r['id']}.json" for r in records) if os.path.lexists(p)]
    more, _ = _annotation_incidents(layout, paths, texts, entities, clusters, inv, _table_files(layout, folder),
                                    confinement=confinement_of(layout, folder))
    return sorted(out + more, key=_sort_key)


def _table_files(layout: Layout, folder: Path) -> tuple[str, str]:
    return _rel(layout, folder / "tables" / "entities.json"), _rel(layout, folder / "tables" / "claim_clusters.json")


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
    from pactnews.corpus.cleaning import load_rules
    from pactnews.corpus.readers import CorpusError, read_metadata

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
    if raw_invalid:  # the first bad raw file stands for them all; clean/ is not compared against a broken corpus
        out.append(raw_invalid[0])
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
    from pactnews.pipeline.jobs import run_jobs

    if num_proc > 1:
        from pactnews.pipeline.executors import work_area

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


def add_arguments(parser) -> None:
    parser.add_argument("--annotations", type=Path, default=None,
                        help="folder of <document_id>.json files and tables/ to validate (default: annotations/; "
                             "e.g. a converted pass under annotations/passes/A)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="print at most N incidents per test id (the summary still counts all)")
    parser.add_argument("--num-proc", type=int, default=1, metavar="N",
                        help="worker processes (default 1; the incidents are the same for any N)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")


def run(args) -> int:
    layout = Layout(args.root)
    incidents, stats = check_repository(layout, args.annotations, num_proc=args.num_proc,
                                        progress=True if args.progress else None)
    emit(format_report(incidents, limit=args.limit, **stats))
    return 1 if incidents else 0
