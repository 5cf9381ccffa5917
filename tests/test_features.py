"""The features are generated from the inventory and standoff.FIELDS, not written by hand."""
from __future__ import annotations

import yaml
from datasets import ClassLabel, Features, List, Value

import buildkit
from pactnews.pipeline import features as feats
from pactnews.inventory import Inventory, load_inventory
from pactnews.annotations.standoff import FIELDS

INV = load_inventory(buildkit.REPO / "schemas" / "labels.yaml")
RULES = ["rule_a", "rule_b"]


def test_span_structs_follow_fields_then_derived_columns():
    for layer, fields in FIELDS.items():
        struct = feats.span_struct(INV, layer)
        assert list(struct) == fields + list(feats.DERIVED.get(layer, {}))
        assert struct["label"].names == (INV.relation_types if layer == "relations" else INV.labels(layer))
    claims = feats.span_struct(INV, "claims")
    assert claims["source_type"].names == INV.values("source_type")
    assert claims["factuality"].names == INV.values("factuality")
    assert claims["quantity_value"] == Value("float64") and claims["start"] == Value("int64")


def test_every_config_has_typed_features():
    all_features = feats.all_features(INV, RULES)
    assert list(all_features) == list(feats.CONFIGS)
    docs = all_features["documents"]
    for layer in FIELDS:
        assert isinstance(docs[layer], List) and isinstance(docs[layer].feature, dict)
    assert list(docs["metadata"]["cleaning"]) == RULES
    assert list(docs["metadata"]["dct"]) == ["value", "basis", "evidence"]
    assert list(all_features["entities"])[:1] == ["document_id"]
    ner = all_features["ner"]
    assert isinstance(ner["ner_tags"].feature, ClassLabel)
    assert ner["ner_tags"].feature.names == INV.ner_tags
    assert len(INV.ner_labels) == 18 and len(INV.ner_tags) == 37


def test_features_round_trip_through_the_parquet_schema_and_yaml():
    """load_dataset reads the features from the files' schema metadata (the card does not declare them)."""
    for config, f in feats.all_features(INV, RULES).items():
        assert b"huggingface" in f.arrow_schema.metadata, config
        assert Features.from_arrow_schema(f.arrow_schema) == f, config
        again = Features._from_yaml_list(yaml.safe_load(yaml.safe_dump(f._to_yaml_list())))
        assert again == f, config


def test_a_new_label_in_the_inventory_reaches_the_features():
    raw = yaml.safe_load((buildkit.REPO / "schemas" / "labels.yaml").read_text())
    raw["layers"]["entities"]["labels"]["WEAPON"] = "A weapon system."
    raw["ner"]["labels"].append("WEAPON")
    raw["values"]["factuality"]["retracted"] = "Withdrawn by its source."
    inv = Inventory(raw)
    f = feats.all_features(inv, RULES)
    assert f["entities"]["label"].names[-1] == "WEAPON"
    assert f["ner"]["ner_tags"].feature.names[-2:] == ["B-WEAPON", "I-WEAPON"]
    assert "retracted" in f["claims"]["factuality"].names
    assert "retracted" in f["claim_clusters"]["members"].feature["factuality"].names


def test_encoders_give_class_indices():
    enc = feats.encoders(INV)
    assert enc[("entities", "label")]["PERSON"] == INV.labels("entities").index("PERSON")
    assert enc[("relations", "label")] == {n: i for i, n in enumerate(INV.relation_types)}
    assert ("timexes", "value") not in enc
