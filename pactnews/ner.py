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


def _split_points(document_id: str, doc, text: str, spans: list[Span]) -> dict[int, list[int]]:
    """Token index -> character offsets where span boundaries cut it; errors for cuts that are not principled."""
    starts = [t.idx for t in doc]
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
            tok = doc[i]
            tok_end = tok.idx + len(tok.text)
            if b in (tok.idx, tok_end):
                continue
            if b >= tok_end or tok.is_space:
                raise AlignmentError(
                    where + f"falls in the white space after token {tok.text!r} [{tok.idx}:{tok_end}]; "
                    "a span may not begin or end with white space"
                )
            left, right = text[b - 1], text[b]
            if left.isalnum() and right.isalnum():
                raise AlignmentError(
                    where + f"cuts token {tok.text!r} [{tok.idx}:{tok_end}] between {left!r} and {right!r} "
                    f"({tok.text[: b - tok.idx]!r} | {tok.text[b - tok.idx:]!r}); a token is split at a span "
                    "boundary only where a letter or digit meets another character; fix the span"
                )
            cuts.setdefault(i, set()).add(b)
    return {i: sorted(bs) for i, bs in cuts.items()}


def tokenize(document_id: str, text: str, spans: list[Span], stats: Stats):
    """A spaCy Doc whose tokens and sentences respect every span."""
    nlp = pipeline()
    doc = nlp.make_doc(text)
    cuts = _split_points(document_id, doc, text, spans)
    if cuts:
        with doc.retokenize() as retok:
            for i, points in cuts.items():
                tok = doc[i]
                edges = [tok.idx, *points, tok.idx + len(tok.text)]
                orths = [text[a:b] for a, b in zip(edges, edges[1:])]
                retok.split(tok, orths, heads=[(tok, 0)] * len(orths))
                stats.counts["split_at_span_boundary"] += len(points)
    doc = nlp.get_pipe("sentencizer")(doc)
    for i in range(1, len(doc)):
        if doc[i - 1].is_space and "\n" in doc[i - 1].text and not doc[i].is_space:
            doc[i].is_sent_start = True
    starts = [t.idx for t in doc]
    for span in spans:
        first = bisect.bisect_left(starts, span.start)
        last = bisect.bisect_left(starts, span.end)
        for k in range(first + 1, last):
            if doc[k].is_sent_start:
                doc[k].is_sent_start = False
                stats.counts["merge_sentences_in_span"] += 1
    return doc


def sentence_rows(document_id: str, text: str, spans: list[Span], tag_index: dict[str, int],
                  stats: Stats) -> list[dict]:
    """One row per sentence: tokens, their document offsets and IOB2 tag ids."""
    doc = tokenize(document_id, text, spans, stats)
    tags = ["O"] * len(doc)
    starts = [t.idx for t in doc]
    for span in spans:
        first = bisect.bisect_left(starts, span.start)
        last = bisect.bisect_left(starts, span.end)
        if first >= len(doc) or starts[first] != span.start:
            raise AlignmentError(f"document {document_id}: {span.layer} {span.id} [{span.start}:{span.end}]: no token starts at {span.start}")
        tags[first] = f"B-{span.label}"
        for k in range(first + 1, last):
            if not doc[k].is_space:
                tags[k] = f"I-{span.label}"
    rows = []
    for sent in doc.sents:
        toks = [t for t in sent if not t.is_space]
        if not toks:
            continue
        k = len(rows)
        rows.append({
            "id": f"{document_id}-s{k:04d}",
            "document_id": document_id,
            "sentence_index": k,
            "start": toks[0].idx,
            "end": toks[-1].idx + len(toks[-1].text),
            "tokens": [t.text for t in toks],
            "token_starts": [t.idx for t in toks],
            "token_ends": [t.idx + len(t.text) for t in toks],
            "ner_tags": [tag_index[tags[t.i]] for t in toks],
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


def ner_table(docs: pa.Table, inv: Inventory, schema: pa.Schema) -> tuple[pa.Table, Stats]:
    """Stage: a batch of `documents` rows -> a batch of `ner` rows (pure apart from spaCy)."""
    ent_names, tim_names = inv.labels("entities"), inv.labels("timexes")
    tag_names = inv.ner_tags
    tag_index = {t: i for i, t in enumerate(tag_names)}
    stats = Stats()
    rows: list[dict] = []
    cols = docs.select(["id", "text", "entities", "timexes"]).to_pydict()
    for doc_id, text, ents, tims in zip(cols["id"], cols["text"], cols["entities"], cols["timexes"]):
        ents = [{**r, "label": ent_names[r["label"]]} for r in ents]
        tims = [{**r, "label": tim_names[r["label"]]} for r in tims]
        spans = ner_spans(doc_id, ents, tims, inv)
        doc_rows = sentence_rows(doc_id, text, spans, tag_index, stats)
        expected = [(s.start, s.end, s.label) for s in spans]
        found = [sp for r in doc_rows for sp in decode_iob2(
            [tag_names[t] for t in r["ner_tags"]], r["token_starts"], r["token_ends"])]
        if found != expected:
            missing = sorted(set(expected) - set(found))
            extra = sorted(set(found) - set(expected))
            raise AlignmentError(
                f"document {doc_id}: [ner-roundtrip] the IOB2 tags do not give back the spans: "
                f"missing {missing[:5]}, extra {extra[:5]}"
            )
        rows += doc_rows
    return pa.Table.from_pylist(rows, schema=schema), stats
