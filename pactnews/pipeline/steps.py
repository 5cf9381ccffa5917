"""The per-document steps of the build: clean, validate, the `documents` row, the token view.

Each step takes and yields datatrove Documents (our record rides in Document.metadata, see
readers.new_document) and does one job; a step that checks several documents at once
cuts the stream with the one batcher (batches.batched, never across a shard). A document
with a problem stays in the stream, so its problems reach the report, but no later step
works on it; the build fails when any document has one.
"""
from __future__ import annotations

from datatrove.pipeline.base import PipelineStep

from pactnews.annotations import standoff
from pactnews.corpus.cleaning import clean_text
from pactnews.pipeline import features as feats
from pactnews.pipeline import ner
from pactnews.pipeline.batches import batched
from pactnews.pipeline.context import Context
from pactnews.files import sha256_text
from pactnews.validate.validator import validate_documents


def usable(doc) -> bool:
    """Read without a problem so far."""
    return doc.metadata["readable"] and not doc.metadata["problems"]


def shard_of(doc) -> int:
    return doc.metadata["shard"]


class Clean(PipelineStep):
    """Raw text -> clean text (Document.text), with the cleaning map; each rule's count is a stat.

    With `check_committed` (the per-document corpus), the committed corpus/clean/<id>.txt must be what
    the rules give: the annotations' offsets refer to it.
    """

    name = "clean"
    type = "✂️ - FORMATTER"

    def __init__(self, rules: list, check_committed: bool):
        super().__init__()
        self.rules, self.check_committed = rules, check_committed

    def run(self, data, rank: int = 0, world_size: int = 1):
        for doc in data:
            meta = doc.metadata
            if meta["readable"]:
                with self.track_time():
                    cleaned = clean_text(doc.text, self.rules)
                    doc.text = cleaned.text
                    meta["cleaning_counts"] = counts = cleaned.counts()
                    meta["cleaning"] = cleaned.to_record()
                for reason, n in counts.items():
                    self.stat_update(reason, value=n)
                if self.check_committed:
                    self.compare(doc)
            yield doc

    @staticmethod
    def compare(doc) -> None:
        meta, doc_id = doc.metadata, doc.id
        clean_file = f"corpus/clean/{doc_id}.txt"
        if meta["committed_clean"] is None:
            meta["problems"].append(f"[File {clean_file} Doc {doc_id}]: [build-missing-clean] no clean text; "
                                    "run `pactnews clean`")
        elif meta["committed_clean"] != doc.text:
            meta["problems"].append(f"[File {clean_file} Doc {doc_id}]: [build-stale-clean] the committed clean text "
                                    "differs from what the cleaning rules give; run `pactnews clean`")
        meta["committed_clean"] = None  # compared; not carried further


class Validate(PipelineStep):
    """pactnews.validate.validator over the annotated documents of each batch; incidents go to their document."""

    name = "validate"
    type = "🔍 - VALIDATOR"

    def __init__(self, ctx: Context, batch_size: int):
        super().__init__()
        self.ctx, self.batch_size = ctx, batch_size

    def run(self, data, rank: int = 0, world_size: int = 1):
        for batch in batched(data, self.batch_size, key=shard_of):
            annotated = [d for d in batch if usable(d) and d.metadata["annotation"] is not None]
            if annotated:
                with self.track_time("batch"):
                    docs = {d.id: d.metadata["annotation"] for d in annotated}
                    texts = {d.id: d.text for d in annotated}
                    files = {d.id: d.metadata["where"] for d in annotated}
                    incidents = validate_documents(docs, texts, self.ctx.entity_table, self.ctx.cluster_table,
                                                   self.ctx.inv, files)
                by_id = {d.id: d for d in batch}
                for inc in incidents:  # an incident without a document (a whole-table schema failure) goes to the first
                    target = by_id.get(inc.document_id, annotated[0])
                    target.metadata["problems"].append(str(inc))
                    self.stat_update("incidents")
            yield from batch


class DocumentRow(PipelineStep):
    """One `documents` row per document: clean text, metadata and every layer as a list of structs."""

    name = "documents row"
    type = "🔨 - ROWS"

    def __init__(self, ctx: Context):
        super().__init__()
        self.ctx = ctx

    def run(self, data, rank: int = 0, world_size: int = 1):
        plans = span_plans(feats.encoders(self.ctx.inv))
        names = {k: v["name"] for k, v in self.ctx.entity_table.items()}
        for doc in data:
            if usable(doc):
                with self.track_time():
                    doc.metadata["row"] = document_row(doc, self.ctx, plans, names)
            yield doc


def span_plans(encoders: dict) -> dict[str, tuple[tuple[str, ...], tuple[tuple[str, dict], ...]]]:
    """Per layer: the fields copied as they are, and the (field, {name: class index}) pairs encoded."""
    return {layer: (tuple(f for f in standoff.FIELDS[layer] if (layer, f) not in encoders),
                    tuple((f, encoders[(layer, f)]) for f in standoff.FIELDS[layer] if (layer, f) in encoders))
            for layer in standoff.LAYERS}


def _str(value) -> str | None:
    return None if value is None else str(value).strip()


def document_row(doc, ctx: Context, plans: dict, names: dict) -> dict:
    """The `documents` row of a cleaned document (its annotation, or empty layers without one)."""
    rec, text = doc.metadata["record"], doc.text
    ann = doc.metadata["annotation"] or standoff.empty(rec["id"], sha256_text(text))
    meta = {f: _str(rec.get(f)) for f in feats.METADATA_FIELDS}
    meta["text_sha256"] = sha256_text(text)
    dct = rec.get("dct") or {}
    meta["dct"] = {f: _str(dct.get(f)) for f in feats.DCT_FIELDS}
    meta["cleaning"] = {n: doc.metadata["cleaning_counts"].get(n, 0) for n in ctx.rule_names}
    row = {"id": rec["id"], "title": _str(rec.get("title")), "text": text, "metadata": meta}
    by_id = {r["id"]: (layer, r) for layer in standoff.SPAN_LAYERS for r in ann[layer]}
    links: dict[tuple[str, str], list[str]] = {}
    for r in sorted(ann["relations"], key=standoff.sort_key("relations")):
        links.setdefault((r["from_id"], r["label"]), []).append(r["to_id"])
    for layer in standoff.LAYERS:
        plain, coded = plans[layer]
        named, linked = layer in ("entities", "attributions"), layer == "claims"
        out = []
        for r in sorted(ann[layer], key=standoff.sort_key(layer)):
            span = {f: r.get(f) for f in plain}
            for f, classes in coded:
                value = r.get(f)
                span[f] = None if value is None else classes[value]
            if named:
                span["entity_name"] = names.get(r.get("entity_id"))
            elif linked:
                span.update(claim_links(r, links, by_id, names, ctx.inv))
            out.append(span)
        row[layer] = out
    return row


def claim_links(claim: dict, links: dict, by_id: dict, names: dict, inv) -> dict:
    """The resolved sources (canonical entity names or SOURCE texts, joined by ' + '; the source type for the
    author's voice or an implicit source), the cue and the linked time expression of a claim."""
    sources = [by_id[t] for t in links.get((claim["id"], inv.role("source_relation")), []) if t in by_id]
    cues = [by_id[t][1] for t in links.get((claim["id"], inv.role("cue_relation")), []) if t in by_id]
    cue = cues[0] if cues else None
    timex = by_id.get(claim.get("time_id"), (None, None))[1]
    shown = [names.get(r.get("entity_id"), r["text"]) if layer == "entities" else r["text"] for layer, r in sources]
    first = sources[0][1] if sources else None
    return {
        "source_id": first["id"] if first else None,
        "source": " + ".join(shown) if shown else claim.get("source_type"),
        "source_text": " + ".join(r["text"] for _, r in sources) if sources else None,
        "source_entity_id": first.get("entity_id") if first else None,
        "source_entity_ids": [r.get("entity_id") for _, r in sources if r.get("entity_id")],
        "cue_id": cue["id"] if cue else None,
        "cue_text": cue["text"] if cue else None,
        "time_text": timex["text"] if timex else None,
        "time_value": timex["value"] if timex else None,
    }


class TokenView(PipelineStep):
    """The `ner` view of each document: spaCy tokens and sentences with IOB2 tags (pactnews.pipeline.ner).

    The two principled adjustments are stats (split_at_span_boundary, merge_sentences_in_span); a span the
    view cannot represent is a problem of its document.
    """

    name = "token view"
    type = "🔢 - TOKENIZER"

    def __init__(self, ctx: Context):
        super().__init__()
        self.ctx = ctx

    def run(self, data, rank: int = 0, world_size: int = 1):
        inv = self.ctx.inv
        tag_index = {t: i for i, t in enumerate(inv.ner_tags)}
        for doc in data:
            if usable(doc):
                ann = doc.metadata["annotation"] or standoff.empty(doc.id, "")
                stats = ner.Stats()
                with self.track_time():
                    try:
                        doc.metadata["tokens"] = ner.document_view(doc.id, doc.text, *ner.tagged_spans(ann, inv), inv,
                                                                   tag_index, stats)
                    except ner.AlignmentError as exc:
                        doc.metadata["problems"].append(str(exc))
                for reason, n in stats.counts.items():
                    self.stat_update(reason, value=n)
            yield doc
