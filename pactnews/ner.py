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
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa

from .inventory import Inventory

REASONS = ("split_at_span_boundary", "merge_sentences_in_span")


class AlignmentError(ValueError):
    """A span that the token view cannot represent; the message names document, span and tokens."""


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
    return nlp


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


def _token_arrays(doc) -> tuple[list[int], list[int]]:
    """Start and end offsets of every token, read in bulk (no Token objects)."""
    from spacy.attrs import IDX, LENGTH

    if not len(doc):
        return [], []
    arr = doc.to_array([IDX, LENGTH])
    starts = arr[:, 0].tolist()
    return starts, [s + n for s, n in zip(starts, arr[:, 1].tolist())]


def _split_points(document_id: str, starts: list[int], ends: list[int], text: str,
                  spans: list[Span]) -> dict[int, list[int]]:
    """Token index -> character offsets where span boundaries cut it; errors for cuts that are not principled."""
    cuts: dict[int, set[int]] = {}
    for span in spans:
        for which, b in (("start", span.start), ("end", span.end)):
            where = (
                f"document {document_id}: {span.layer} {span.id} [{span.start}:{span.end}] {span.text!r}: "
                f"its {which} {b} "
            )
            edge = text[b:b + 1] if which == "start" else text[b - 1:b]
            if not edge or edge.isspace():
                raise AlignmentError(where + f"is at {edge!r}; a span may not begin or end with white space or outside the text")
            i = bisect.bisect_right(starts, b) - 1
            tok_start, tok_end = starts[i], ends[i]
            if b in (tok_start, tok_end):
                continue
            tok = text[tok_start:tok_end]
            if b > tok_end or tok.isspace():
                raise AlignmentError(
                    where + f"falls in the white space after token {tok!r} [{tok_start}:{tok_end}]; "
                    "a span may not begin or end with white space"
                )
            left, right = text[b - 1], text[b]
            if left.isalnum() and right.isalnum():
                raise AlignmentError(
                    where + f"cuts token {tok!r} [{tok_start}:{tok_end}] between {left!r} and {right!r} "
                    f"({tok[: b - tok_start]!r} | {tok[b - tok_start:]!r}); a token is split at a span "
                    "boundary only where a letter or digit meets another character; fix the span"
                )
            cuts.setdefault(i, set()).add(b)
    return {i: sorted(bs) for i, bs in cuts.items()}


@dataclass
class Tokens:
    """A tokenised document: token offsets, which tokens are white space, which start a sentence."""

    starts: list[int]
    ends: list[int]
    space: list[bool]
    sent_start: list[bool]


def tokenize(document_id: str, text: str, spans: list[Span], stats: Stats) -> Tokens:
    """spaCy tokens and sentences that respect every span."""
    from spacy.attrs import SENT_START

    nlp = pipeline()
    doc = nlp.make_doc(text)
    starts, ends = _token_arrays(doc)
    cuts = _split_points(document_id, starts, ends, text, spans) if starts else {}
    if cuts:
        with doc.retokenize() as retok:
            for i, points in cuts.items():
                tok = doc[i]
                edges = [tok.idx, *points, tok.idx + len(tok.text)]
                orths = [text[a:b] for a, b in zip(edges, edges[1:])]
                retok.split(tok, orths, heads=[(tok, 0)] * len(orths))
                stats.counts["split_at_span_boundary"] += len(points)
        starts, ends = _token_arrays(doc)
    doc = nlp.get_pipe("sentencizer")(doc)
    sent = (doc.to_array([SENT_START]).reshape(-1).tolist() if len(doc) else [])
    space = [text[a:b].isspace() for a, b in zip(starts, ends)]
    first = [v == 1 for v in sent]
    for i in range(1, len(first)):  # a line break ends a sentence (headlines, captions)
        if space[i - 1] and not space[i] and "\n" in text[starts[i - 1]:ends[i - 1]]:
            first[i] = True
    for span in spans:
        lo = bisect.bisect_left(starts, span.start)
        hi = bisect.bisect_left(starts, span.end)
        for k in range(lo + 1, hi):
            if first[k]:
                first[k] = False
                stats.counts["merge_sentences_in_span"] += 1
    return Tokens(starts, ends, space, first)


def sentence_rows(document_id: str, text: str, spans: list[Span], tag_index: dict[str, int],
                  stats: Stats) -> list[dict]:
    """One row per sentence: tokens, their document offsets and IOB2 tag ids."""
    toks = tokenize(document_id, text, spans, stats)
    starts = toks.starts
    tags = [0] * len(starts)
    for span in spans:
        first = bisect.bisect_left(starts, span.start)
        last = bisect.bisect_left(starts, span.end)
        if first >= len(starts) or starts[first] != span.start:
            raise AlignmentError(f"document {document_id}: {span.layer} {span.id} [{span.start}:{span.end}]: no token starts at {span.start}")
        tags[first] = tag_index[f"B-{span.label}"]
        inside = tag_index[f"I-{span.label}"]
        for k in range(first + 1, last):
            if not toks.space[k]:
                tags[k] = inside
    sentences: list[list[int]] = []
    for i in range(len(starts)):
        if toks.sent_start[i] or not sentences:
            sentences.append([])
        if not toks.space[i]:
            sentences[-1].append(i)
    rows = []
    for members in sentences:
        if not members:
            continue
        k = len(rows)
        rows.append({
            "id": f"{document_id}-s{k:04d}",
            "document_id": document_id,
            "sentence_index": k,
            "start": starts[members[0]],
            "end": toks.ends[members[-1]],
            "tokens": [text[starts[i]:toks.ends[i]] for i in members],
            "token_starts": [starts[i] for i in members],
            "token_ends": [toks.ends[i] for i in members],
            "ner_tags": [tags[i] for i in members],
        })
    return rows


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
    token view that loses a span cannot be written.
    """
    ent_names, tim_names = inv.labels("entities"), inv.labels("timexes")
    tag_names = inv.ner_tags
    tag_index = {t: i for i, t in enumerate(tag_names)}
    stats = Stats()
    rows: list[dict] = []
    errors: list[str] = []
    cols = docs.select(["id", "text", "entities", "timexes"]).to_pydict()
    for doc_id, text, ents, tims in zip(cols["id"], cols["text"], cols["entities"], cols["timexes"]):
        ents = [{**r, "label": ent_names[r["label"]]} for r in ents]
        tims = [{**r, "label": tim_names[r["label"]]} for r in tims]
        try:
            spans = ner_spans(doc_id, ents, tims, inv)
            doc_rows = sentence_rows(doc_id, text, spans, tag_index, stats)
        except AlignmentError as exc:
            errors.append(str(exc))
            continue
        expected = [(s.start, s.end, s.label) for s in spans]
        found = [sp for r in doc_rows for sp in decode_iob2(
            [tag_names[t] for t in r["ner_tags"]], r["token_starts"], r["token_ends"])]
        if found != expected:
            missing = sorted(set(expected) - set(found))
            extra = sorted(set(found) - set(expected))
            errors.append(f"document {doc_id}: [ner-roundtrip] the IOB2 tags do not give back the spans: "
                          f"missing {missing[:5]}, extra {extra[:5]}")
            continue
        rows += doc_rows
    if errors:
        return schema.empty_table(), stats, errors
    return pa.Table.from_pylist(rows, schema=schema), stats, errors
