"""L3 text: offsets and span texts against the clean corpus, text hashes, and overlaps, by whole columns.

Span texts are compared with the clean text as UTF-32 code points in bulk;
Python runs per record only where a column test has found a bad one.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pyarrow
import pyarrow.compute as pc

from pactnews.annotations import standoff
from pactnews.inventory import Inventory
from pactnews.validate.columns import Columns, _ints, _present, _take
from pactnews.validate.incidents import Incident, incident


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
