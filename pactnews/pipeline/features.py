"""The `datasets.Features` of every config, generated from the label inventory.

Span fields and their Arrow types come from pactnews.annotations.standoff.FIELDS (through
pactnews.pipeline.flatten.arrow_schema); closed vocabularies (labels, attribute values,
IOB2 tags) become ClassLabel over the inventory's lists, so the Parquet schema
and croissant.json say the same thing. The features live in each Parquet file's
schema metadata (key `huggingface`), where `load_dataset` finds them; the card
does not repeat them (pactnews.outputs.card). The only names
declared here are the columns the build derives (canonical names, resolved
claim sources, sentence offsets, cluster summaries).
"""
from __future__ import annotations

from datasets import ClassLabel, Features, List, Value

from pactnews.pipeline.flatten import arrow_schema
from pactnews.inventory import Inventory
from pactnews.annotations.standoff import FIELDS

CONFIGS = ("documents", "entities", "timexes", "claims", "ner", "claim_clusters", "conflicts")
DEFAULT_CONFIG = "documents"
SPLIT = "test"

# metadata.yaml keys carried into documents.metadata (all strings), in this order
METADATA_FIELDS = (
    "language", "raw_file", "raw_sha256", "text_sha256", "title_basis", "source_outlet",
    "source_note", "url", "url_note", "copyright",
)
DCT_FIELDS = ("value", "basis", "evidence")

# columns the build adds to a layer's records
DERIVED = {
    "entities": {"entity_name": Value("string")},
    "attributions": {"entity_name": Value("string")},
    "claims": {
        "source_id": Value("string"),
        "source": Value("string"),
        "source_text": Value("string"),
        "source_entity_id": Value("string"),
        "source_entity_ids": List(Value("string")),
        "cue_id": Value("string"),
        "cue_text": Value("string"),
        "time_text": Value("string"),
        "time_value": Value("string"),
    },
}


def class_names(inv: Inventory, layer: str, field: str) -> list[str] | None:
    """The closed vocabulary of a field, or None for free values."""
    if field == "label":
        return inv.relation_types if layer == "relations" else inv.labels(layer)
    if inv.has_values(field) and not inv.optional(layer, field):
        return inv.values(field)
    return None


def span_struct(inv: Inventory, layer: str) -> dict:
    """One record of a layer: FIELDS in order, then the derived columns."""
    plain = Features.from_arrow_schema(arrow_schema(layer))
    out = {}
    for field in FIELDS[layer]:
        names = class_names(inv, layer, field)
        out[field] = ClassLabel(names=names) if names else plain[field]
    out.update(DERIVED.get(layer, {}))
    return out


def cleaning_struct(rule_names: list[str]) -> dict:
    return {name: Value("int64") for name in rule_names}


def documents(inv: Inventory, rule_names: list[str]) -> Features:
    metadata = {f: Value("string") for f in METADATA_FIELDS}
    metadata["dct"] = {f: Value("string") for f in DCT_FIELDS}
    metadata["cleaning"] = cleaning_struct(rule_names)
    cols = {"id": Value("string"), "title": Value("string"), "text": Value("string"), "metadata": metadata}
    for layer in FIELDS:
        cols[layer] = List(span_struct(inv, layer))
    return Features(cols)


def flat(inv: Inventory, layer: str) -> Features:
    return Features({"document_id": Value("string"), **span_struct(inv, layer)})


def ner(inv: Inventory) -> Features:
    return Features({
        "id": Value("string"),
        "document_id": Value("string"),
        "sentence_index": Value("int64"),
        "start": Value("int64"),
        "end": Value("int64"),
        "tokens": List(Value("string")),
        "token_starts": List(Value("int64")),
        "token_ends": List(Value("int64")),
        "ner_tags": List(ClassLabel(names=inv.ner_tags)),
    })


def claim_clusters(inv: Inventory) -> Features:
    member = {
        "document_id": Value("string"),
        "dct": Value("string"),
        "claim_id": Value("string"),
        "start": Value("int64"),
        "end": Value("int64"),
        "text": Value("string"),
        "source": Value("string"),
        "source_type": ClassLabel(names=inv.values("source_type")),
        "cue": Value("string"),
        "factuality": ClassLabel(names=inv.values("factuality")),
        "modality": ClassLabel(names=inv.values("modality")),
        "time_value": Value("string"),
        "quantity_value": Value("float64"),
        "quantity_high": Value("float64"),
        "quantity_approximation": Value("string"),
        "quantity_unit": Value("string"),
    }
    return Features({
        "cluster_id": Value("string"),
        "proposition": Value("string"),
        "num_claims": Value("int64"),
        "documents": List(Value("string")),
        "dcts": List(Value("string")),
        "members": List(member),
        "conflict": Value("bool"),
        "conflict_types": List(ClassLabel(names=inv.conflict_types)),
        "conflict_ids": List(Value("string")),
    })


def conflicts(inv: Inventory) -> Features:
    """One row per kept conflict of annotations/tables/conflicts.json, its members resolved to their claims."""
    member = {
        "document_id": Value("string"),
        "claim_id": Value("string"),
        "cluster_id": Value("string"),
        "start": Value("int64"),
        "end": Value("int64"),
        "text": Value("string"),
        "source": Value("string"),
        "factuality": ClassLabel(names=inv.values("factuality")),
        "modality": ClassLabel(names=inv.values("modality")),
        "attribute": Value("string"),
        "value": Value("string"),
    }
    return Features({
        "conflict_id": Value("string"),
        "type": ClassLabel(names=inv.conflict_types),
        "origin": ClassLabel(names=list(inv.conflict_section("origins"))),
        "rule": Value("string"),
        "cluster_ids": List(Value("string")),
        "documents": List(Value("string")),
        "members": List(member),
        "rationale": Value("string"),
    })


def all_features(inv: Inventory, rule_names: list[str]) -> dict[str, Features]:
    """Config name -> Features, in CONFIGS order."""
    return {
        "documents": documents(inv, rule_names),
        "entities": flat(inv, "entities"),
        "timexes": flat(inv, "timexes"),
        "claims": flat(inv, "claims"),
        "ner": ner(inv),
        "claim_clusters": claim_clusters(inv),
        "conflicts": conflicts(inv),
    }


def encoders(inv: Inventory) -> dict[tuple[str, str], dict[str, int]]:
    """(layer, field) -> {name: class index} for every ClassLabel field of the span layers."""
    out = {}
    for layer in FIELDS:
        for field in FIELDS[layer]:
            names = class_names(inv, layer, field)
            if names:
                out[(layer, field)] = {n: i for i, n in enumerate(names)}
    return out
