"""The token view: sentences of spaCy tokens with IOB2 tags over the 18 OntoNotes labels.

Tokens come from spaCy's rule-based English tokenizer (spacy.blank("en"), no
downloaded model) and sentences from its rule-based sentencizer, with two
principled adjustments, both counted:

- split_at_span_boundary: where an entity or time span starts or ends inside a
  token, the token is split there with spaCy's retokenizer, but only where a
  letter or digit meets another character (`Seoul’s`, `K2-based`); a boundary
  between two letters or two digits cuts a word and fails the build.
- merge_sentences_in_span: a sentence boundary inside a span is removed, so a
  span is never split across sentences.
Sentences also start after a line break (headlines and captions end without a
full stop). Whitespace tokens are dropped from the rows.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa

from pactnews.inventory import Inventory

REASONS = ("split_at_span_boundary", "merge_sentences_in_span")
# The longest clean text the token view takes, in characters (spaCy's max_length, 10**6 by default, guards the
# memory of its parser and NER, which are not run here; tokenizer and sentencizer need about 100 bytes per
# character). `pactnews validate` refuses a longer text as document-too-large, naming this limit.
MAX_CHARS = 10_000_000
_NEWLINE = re.compile("\n")


class AlignmentError(ValueError):
    """A span that the token view cannot represent; the message names document, span and tokens."""


class DocumentTooLarge(AlignmentError):
    """A clean text longer than MAX_CHARS; the message names the document and the limit."""


@dataclass
class Span:
    start: int
    end: int
    label: str  # NER label
    layer: str
    id: str
    text: str


@dataclass
class Stats:
    counts: dict[str, int] = field(default_factory=lambda: {r: 0 for r in REASONS})

    def add(self, other: "Stats") -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v


@lru_cache(maxsize=1)
def pipeline():
    """spaCy's blank English tokenizer plus the rule-based sentencizer (one per process)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = MAX_CHARS
    return nlp


def _layer_columns(docs: pa.Table, layer: str, inv: Inventory) -> list[list[dict]]:
    """Per document, the layer's spans as {start, end, label name, id, text}, read column by column from the
    nested `documents` column (label ids decoded through the inventory)."""
    import pyarrow.compute as pc

    col = docs.column(layer).combine_chunks()
    flat = pc.list_flatten(col)
    names = inv.labels(layer)
    fields = {f: flat.field(f).to_pylist() for f in ("start", "end", "id", "text")}
    labels = [names[k] for k in flat.field("label").to_pylist()]
    # time expressions OntoNotes does not tag ("now", "soon", "recently": a *_REF value) stay O
    untagged = set(inv.ner_untagged_values) if layer == "timexes" else set()
    values = flat.field("value").to_pylist() if untagged else [None] * len(labels)
    offsets = col.offsets.to_pylist()
    out = []
    for lo, hi in zip(offsets, offsets[1:]):
        out.append([{"start": s, "end": e, "label": lab, "id": i, "text": t} for s, e, lab, i, t, v in zip(
            fields["start"][lo:hi], fields["end"][lo:hi], labels[lo:hi], fields["id"][lo:hi], fields["text"][lo:hi],
            values[lo:hi]) if v not in untagged])
    return out


def ner_spans(document_id: str, entities: list[dict], timexes: list[dict], inv: Inventory) -> list[Span]:
    """Entity and time spans under their NER labels, in text order; overlaps cannot be tagged."""
    timex_map = inv.timex_to_ner
    spans = [Span(r["start"], r["end"], r["label"], "entities", r["id"], r["text"]) for r in entities]
    spans += [Span(r["start"], r["end"], timex_map[r["label"]], "timexes", r["id"], r["text"]) for r in timexes]
    spans.sort(key=lambda s: (s.start, s.end, s.id))
    for a, b in zip(spans, spans[1:]):
        if b.start < a.end:
            raise AlignmentError(
                f"document {document_id}: [ner-overlapping-spans] {a.layer} {a.id} [{a.start}:{a.end}] {a.text!r} "
                f"overlaps {b.layer} {b.id} [{b.start}:{b.end}] {b.text!r}; IOB2 tags cannot represent overlapping spans"
            )
    return spans


def _token_arrays(doc):
    """Start and end character offsets (int64), which tokens are white space and which start a sentence (bool;
    all False before the sentencizer has run) of every token, read in bulk (no Token objects)."""
    import numpy as np
    from spacy.attrs import IDX, IS_SPACE, LENGTH, SENT_START

    if not len(doc):
        none = np.zeros(0, dtype=np.int64)
        return none, none, none.astype(bool), none.astype(bool)
    arr = doc.to_array([IDX, LENGTH, IS_SPACE, SENT_START]).astype(np.int64)  # SENT_START: 1, -1 or 0 (unset)
    starts = arr[:, 0]
    return starts, starts + arr[:, 1], arr[:, 2] == 1, arr[:, 3] == 1


def _split_points(document_id: str, starts, ends, text: str, spans: list[Span]) -> dict[int, list[int]]:
    """Token index -> character offsets where span boundaries cut it; errors for cuts that are not principled.
    `starts`, `ends`: the tokens' offsets (int64 arrays)."""
    starts, ends = starts.tolist(), ends.tolist()  # bisect on lists: faster than numpy per scalar
    cuts: dict[int, set[int]] = {}
    for span in spans:
        for which, b in (("start", span.start), ("end", span.end)):
            edge = text[b:b + 1] if which == "start" else text[b - 1:b]
            if not edge or edge.isspace():
                raise AlignmentError(_where(document_id, span, which, b)
                                     + f"is at {edge!r}; a span may not begin or end with white space or outside the text")
            i = bisect.bisect_right(starts, b) - 1
            tok_start, tok_end = starts[i], ends[i]
            if b == tok_start or b == tok_end:
                continue
            tok = text[tok_start:tok_end]
            if b > tok_end or tok.isspace():
                raise AlignmentError(
                    _where(document_id, span, which, b) + f"falls in the white space after token {tok!r} "
                    f"[{tok_start}:{tok_end}]; a span may not begin or end with white space"
                )
            left, right = text[b - 1], text[b]
            if left.isalnum() and right.isalnum():
                raise AlignmentError(
                    _where(document_id, span, which, b) + f"cuts token {tok!r} [{tok_start}:{tok_end}] between "
                    f"{left!r} and {right!r} ({tok[: b - tok_start]!r} | {tok[b - tok_start:]!r}); a token is split "
                    "at a span boundary only where a letter or digit meets another character; fix the span"
                )
            cuts.setdefault(i, set()).add(b)
    return {i: sorted(bs) for i, bs in cuts.items()}


def _where(document_id: str, span: Span, which: str, b: int) -> str:
    return f"document {document_id}: {span.layer} {span.id} [{span.start}:{span.end}] {span.text!r}: its {which} {b} "


@dataclass
class Tokens:
    """A tokenised document, as arrays over its tokens: offsets (int64), which tokens are white space, which
    start a sentence (bool)."""

    starts: "object"
    ends: "object"
    space: "object"
    sent_start: "object"


def tokenize(document_id: str, text: str, spans: list[Span], stats: Stats) -> Tokens:
    """spaCy tokens and sentences that respect every span."""
    import numpy as np

    if len(text) > MAX_CHARS:
        raise DocumentTooLarge(f"document {document_id}: [document-too-large] the clean text has {len(text):,} "
                               f"characters; the token view takes at most {MAX_CHARS:,} "
                               "(pactnews.pipeline.ner.MAX_CHARS, spaCy's max_length)")
    nlp = pipeline()
    nlp.max_length = max(nlp.max_length, MAX_CHARS)  # the pipeline is cached: MAX_CHARS may have grown since
    doc = nlp.make_doc(text)
    starts, ends, _, _ = _token_arrays(doc)
    cuts = _split_points(document_id, starts, ends, text, spans) if len(starts) else {}
    if cuts:
        with doc.retokenize() as retok:
            for i, points in cuts.items():
                tok = doc[i]
                edges = [tok.idx, *points, tok.idx + len(tok.text)]
                orths = [text[a:b] for a, b in zip(edges, edges[1:])]
                retok.split(tok, orths, heads=[(tok, 0)] * len(orths))
                stats.counts["split_at_span_boundary"] += len(points)
    doc = nlp.get_pipe("sentencizer")(doc)  # spaCy's own rule, on the tokens as split
    starts, ends, space, first = _token_arrays(doc)
    if len(space) > 1:  # a line break ends a sentence (headlines, captions)
        lines = np.array([m.start() for m in _NEWLINE.finditer(text)], dtype=np.int64)
        if len(lines):
            ws = np.flatnonzero(space[:-1])
            lo = np.searchsorted(lines, starts[ws], side="left")
            hi = np.searchsorted(lines, ends[ws], side="left")
            breaks = np.zeros(len(space), dtype=bool)
            breaks[ws] = hi > lo  # the white space token holds a line break
            first[1:] |= breaks[:-1] & ~space[1:]
    if spans and len(first):
        inner = _inside(starts, spans, np)[1]  # tokens after a span's first token
        merged = int(np.count_nonzero(first[inner]))
        if merged:
            first[inner] = False
            stats.counts["merge_sentences_in_span"] += merged
    return Tokens(starts, ends, space, first)


def _inside(starts, spans: list[Span], np):
    """For spans over tokens with these start offsets: the index of each span's first token, the indexes of
    the tokens after it up to the span's end (in span order), and the span each of those belongs to."""
    bounds = np.array([(s.start, s.end) for s in spans], dtype=np.int64).reshape(-1, 2)
    first = np.searchsorted(starts, bounds[:, 0], side="left")
    last = np.searchsorted(starts, bounds[:, 1], side="left")  # one past the span's last token
    counts = np.maximum(last - first - 1, 0)
    owner = np.repeat(np.arange(len(spans)), counts)
    step = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    return first, first[owner] + 1 + step, owner


@dataclass
class DocumentTokens:
    """The token view of one document as arrays over its kept (non-white-space) tokens."""

    starts: "object"  # numpy int64
    ends: "object"
    tags: "object"
    sentence: "object"  # sentence number of each kept token, 0-based and dense
    tokens: list[str]


def document_tokens(document_id: str, text: str, spans: list[Span], tag_index: dict[str, int],
                    stats: Stats) -> DocumentTokens:
    """Kept tokens of a document with their offsets, IOB2 tag ids and sentence numbers."""
    import numpy as np

    toks = tokenize(document_id, text, spans, stats)
    starts, space = toks.starts, toks.space
    tags = np.zeros(len(starts), dtype=np.int64)
    if spans:
        first, inner, owner = _inside(starts, spans, np)
        found = first < len(starts)
        found[found] = starts[first[found]] == [s.start for s in np.asarray(spans, dtype=object)[found]]
        if not found.all():
            span = spans[int(np.flatnonzero(~found)[0])]
            raise AlignmentError(f"document {document_id}: {span.layer} {span.id} [{span.start}:{span.end}]: no token starts at {span.start}")
        b_tags = np.array([tag_index[f"B-{s.label}"] for s in spans], dtype=np.int64)
        i_tags = np.array([tag_index[f"I-{s.label}"] for s in spans], dtype=np.int64)
        word = ~space[inner]  # white space inside a span stays O (and is dropped below)
        tags[inner[word]] = i_tags[owner[word]]
        tags[first] = b_tags
    kept = np.flatnonzero(~space)
    sent_no = np.cumsum(toks.sent_start, dtype=np.int64) - 1 if len(starts) else np.zeros(0, np.int64)
    sentence = sent_no[kept]
    if len(sentence):  # sentences holding only white space are dropped: renumber densely
        change = np.ones(len(sentence), dtype=np.int64)
        change[0] = 0
        change[1:] = sentence[1:] != sentence[:-1]
        sentence = np.cumsum(change)
    starts_a = starts[kept]
    ends_a = toks.ends[kept]
    s_list, e_list = starts_a.tolist(), ends_a.tolist()
    return DocumentTokens(starts_a, ends_a, tags[kept], sentence, [text[a:b] for a, b in zip(s_list, e_list)])


def sentence_rows(document_id: str, text: str, spans: list[Span], tag_index: dict[str, int],
                  stats: Stats) -> list[dict]:
    """One row per sentence: tokens, their document offsets and IOB2 tag ids."""
    dt = document_tokens(document_id, text, spans, tag_index, stats)
    rows = []
    bounds = _sentence_bounds(dt.sentence)
    for k, (lo, hi) in enumerate(bounds):
        rows.append({
            "id": f"{document_id}-s{k:04d}",
            "document_id": document_id,
            "sentence_index": k,
            "start": int(dt.starts[lo]),
            "end": int(dt.ends[hi - 1]),
            "tokens": dt.tokens[lo:hi],
            "token_starts": dt.starts[lo:hi].tolist(),
            "token_ends": dt.ends[lo:hi].tolist(),
            "ner_tags": dt.tags[lo:hi].tolist(),
        })
    return rows


def _sentence_bounds(sentence) -> list[tuple[int, int]]:
    """(first, end) kept-token positions of each sentence."""
    import numpy as np

    if not len(sentence):
        return []
    cut = np.flatnonzero(sentence[1:] != sentence[:-1]) + 1
    edges = [0, *cut.tolist(), len(sentence)]
    return list(zip(edges, edges[1:]))


def decode_iob2(tags: list[str], starts: list[int], ends: list[int]) -> list[tuple[int, int, str]]:
    """IOB2 tags back to character spans (start, end, label); an I- without its B- starts a span."""
    spans: list[tuple[int, int, str]] = []
    cur: list | None = None
    for tag, s, e in zip(tags, starts, ends):
        kind, _, label = tag.partition("-")
        if kind == "I" and cur is not None and cur[2] == label:
            cur[1] = e
            continue
        if cur is not None:
            spans.append(tuple(cur))
            cur = None
        if kind in ("B", "I"):
            cur = [s, e, label]
    if cur is not None:
        spans.append(tuple(cur))
    return spans


def ner_table(docs: pa.Table, inv: Inventory, schema: pa.Schema) -> tuple[pa.Table, Stats, list[str]]:
    """Stage: a batch of `documents` rows -> a batch of `ner` rows, the counts, and one error per bad document.

    Every document's tags are decoded again and compared with its spans, so a
    token view that loses a span cannot be written. The rows are assembled as
    Arrow arrays from the token arrays (no per-token Python objects beyond the
    token strings).
    """
    import numpy as np

    tag_index = {t: i for i, t in enumerate(inv.ner_tags)}
    stats = Stats()
    errors: list[str] = []
    parts: list[tuple[str, DocumentTokens]] = []
    layers = {layer: _layer_columns(docs, layer, inv) for layer in ("entities", "timexes")}
    for n, (doc_id, text) in enumerate(zip(docs.column("id").to_pylist(), docs.column("text").to_pylist())):
        ents, tims = (layers[layer][n] for layer in ("entities", "timexes"))
        try:
            parts.append((doc_id, document_view(doc_id, text, ents, tims, inv, tag_index, stats)))
        except AlignmentError as exc:
            errors.append(str(exc))
    if errors:
        return schema.empty_table(), stats, errors
    return _arrow_rows(parts, schema, np), stats, errors


def document_view(document_id: str, text: str, entities: list[dict], timexes: list[dict], inv: Inventory,
                  tag_index: dict[str, int], stats: Stats) -> DocumentTokens:
    """The token view of one document, its tags decoded again and compared with its spans.

    `entities` and `timexes` are {start, end, label name, id, text} (time expressions with an untagged value
    left out, see tagged_spans); AlignmentError names what the view cannot represent.
    """
    spans = ner_spans(document_id, entities, timexes, inv)
    dt = document_tokens(document_id, text, spans, tag_index, stats)
    expected = [(s.start, s.end, s.label) for s in spans]
    found = decode_tokens(dt, inv.ner_tags)
    if found != expected:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        raise AlignmentError(f"document {document_id}: [ner-roundtrip] the IOB2 tags do not give back the spans: "
                             f"missing {missing[:5]}, extra {extra[:5]}")
    return dt


def tagged_spans(annotation: dict, inv: Inventory) -> tuple[list[dict], list[dict]]:
    """The entity and time spans of a standoff document as document_view takes them (what _layer_columns reads
    from a `documents` batch)."""
    untagged = set(inv.ner_untagged_values)
    fields = ("start", "end", "label", "id", "text")
    entities = [{f: r[f] for f in fields} for r in annotation["entities"]]
    timexes = [{f: r[f] for f in fields} for r in annotation["timexes"] if r.get("value") not in untagged]
    return entities, timexes


def ner_rows(parts: list[tuple[str, DocumentTokens]], schema: pa.Schema) -> pa.Table:
    """`ner` rows of (document id, token view) pairs, in order."""
    import numpy as np

    return _arrow_rows(parts, schema, np)


@lru_cache(maxsize=8)
def _tag_parts(tag_names: tuple[str, ...]):
    """For each tag id: its kind (0 O, 1 B, 2 I) and its label's number."""
    import numpy as np

    labels = sorted({t.partition("-")[2] for t in tag_names if t != "O"})
    kind = np.array([{"O": 0, "B": 1, "I": 2}[t.partition("-")[0]] for t in tag_names], dtype=np.int8)
    label = np.array([labels.index(t.partition("-")[2]) if t != "O" else -1 for t in tag_names], dtype=np.int64)
    return kind, label, labels


def decode_tokens(dt: DocumentTokens, tag_names) -> list[tuple[int, int, str]]:
    """decode_iob2 over every sentence of a document at once, on arrays (the same spans, in text order)."""
    import numpy as np

    if not len(dt.tags):
        return []
    kind_of, label_of, labels = _tag_parts(tuple(tag_names))
    kind, label = kind_of[dt.tags], label_of[dt.tags]
    tagged = kind > 0
    cont = np.zeros(len(kind), dtype=bool)  # an I- that continues the span of the token before it
    cont[1:] = (kind[1:] == 2) & tagged[:-1] & (label[1:] == label[:-1]) & (dt.sentence[1:] == dt.sentence[:-1])
    first = np.flatnonzero(tagged & ~cont)
    cont_next = np.zeros(len(kind), dtype=bool)
    cont_next[:-1] = cont[1:]
    last = np.flatnonzero(tagged & ~cont_next)
    return [(s, e, labels[k]) for s, e, k in zip(dt.starts[first].tolist(), dt.ends[last].tolist(),
                                                 label[first].tolist())]


def _arrow_rows(parts: list, schema: pa.Schema, np) -> pa.Table:
    """`ner` rows of the documents in order, built as Arrow arrays."""
    if not parts:
        return schema.empty_table()
    ids, doc_ids, index, offsets = [], [], [], [0]
    for doc_id, dt in parts:
        n = 0
        for lo, hi in _sentence_bounds(dt.sentence):
            ids.append(f"{doc_id}-s{n:04d}")
            doc_ids.append(doc_id)
            index.append(n)
            offsets.append(offsets[-1] + hi - lo)
            n += 1
    starts = np.concatenate([dt.starts for _, dt in parts])
    ends = np.concatenate([dt.ends for _, dt in parts])
    tags = np.concatenate([dt.tags for _, dt in parts])
    tokens = [t for _, dt in parts for t in dt.tokens]
    off = np.asarray(offsets, dtype=np.int64)
    first, last = off[:-1], off[1:] - 1
    off32 = pa.array(off, pa.int32())

    def listed(name: str, values) -> pa.Array:
        t = schema.field(name).type
        return pa.ListArray.from_arrays(off32, pa.array(values, t.value_type), type=t)

    columns = {
        "id": pa.array(ids, pa.string()), "document_id": pa.array(doc_ids, pa.string()),
        "sentence_index": pa.array(index, pa.int64()), "start": pa.array(starts[first], pa.int64()),
        "end": pa.array(ends[last], pa.int64()), "tokens": listed("tokens", tokens),
        "token_starts": listed("token_starts", starts), "token_ends": listed("token_ends", ends),
        "ner_tags": listed("ner_tags", tags),
    }
    return pa.Table.from_arrays([columns[f.name].cast(f.type) for f in schema], schema=schema)
