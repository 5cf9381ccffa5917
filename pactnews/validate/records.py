"""L1 format: the top-level shape of annotation documents, and the fields and JSON types of their records.

Records that fail are left out of the flat tables (`_tables`), so that they
raise no second, derived incident; their ids still resolve relations.
"""
from __future__ import annotations

from collections import deque
from itertools import chain
from operator import itemgetter

import pyarrow

from pactnews.annotations import standoff
from pactnews.pipeline.flatten import arrow_schema, flatten
from pactnews.validate.incidents import Incident, incident


_PY_TYPES = {pyarrow.string(): (str,), pyarrow.int64(): (int,), pyarrow.float64(): (int, float)}
_JSON_NAMES = {pyarrow.string(): "a string", pyarrow.int64(): "an integer", pyarrow.float64(): "a number"}
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


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
