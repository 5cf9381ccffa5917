"""The labeling config is generated from the inventory and accepted by Label Studio's own parser."""
import copy
import xml.etree.ElementTree as ET

import pytest
from label_studio_sdk.label_interface import LabelInterface

from pactnews.inventory import SPAN_LAYERS, Inventory
from pactnews.labelstudio.config import attribute_control, controls, labeling_config, layer_attributes

from ls_server import INV


def test_config_validates_and_names_every_label():
    xml = labeling_config(INV)
    li = LabelInterface(xml)
    li.validate()
    for layer in SPAN_LAYERS:
        assert li.get_control(layer).labels == INV.labels(layer)
        for attribute in layer_attributes(INV, layer):
            assert li.get_control(attribute_control(layer, attribute)).tag in ("TextArea", "Choices")
    assert li.get_control("claims_factuality").labels == INV.values("factuality")
    assert li.get_control("claims_source_type").labels == INV.values("source_type")
    relations = [r.get("value") for r in ET.fromstring(xml).iter("Relation")]
    assert relations == INV.relation_types
    assert "white-space:pre-wrap" in xml
    assert labeling_config(INV) == xml  # deterministic


def test_per_region_controls_are_per_region():
    root = ET.fromstring(labeling_config(INV))
    for name, (layer, attribute) in controls(INV).items():
        if attribute is None:
            continue
        (el,) = [e for e in root.iter() if e.get("name") == name]
        assert el.get("perRegion") == "true" and el.get("toName") == "text"


def test_special_characters_are_escaped_and_labels_follow_the_inventory():
    raw = copy.deepcopy(INV.raw)
    raw["layers"]["entities"]["labels"]["X&<Y>"] = 'a "quoted" <tag> & more'
    raw["values"]["factuality"]["maybe"] = "it's <unclear>"
    inv = Inventory(raw)
    xml = labeling_config(inv)
    li = LabelInterface(xml)
    li.validate()
    assert "X&<Y>" in li.get_control("entities").labels
    assert "maybe" in li.get_control("claims_factuality").labels


def test_a_prediction_with_an_unknown_label_is_rejected_offline():
    li = LabelInterface(labeling_config(INV))
    bad = {"model_version": "t", "result": [{"id": "E1", "from_name": "entities", "to_name": "text", "type": "labels",
                                             "value": {"start": 0, "end": 1, "labels": ["NOT_A_LABEL"]}}]}
    assert li.validate_prediction(bad, return_errors=True)


@pytest.mark.parametrize("layer", SPAN_LAYERS)
def test_each_layer_has_its_labels_control(layer):
    assert controls(INV)[layer] == (layer, None)
