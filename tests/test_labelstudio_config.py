"""The labeling config is generated from the inventory and accepted by Label Studio's own parser."""
import copy
import xml.etree.ElementTree as ET

import pytest
from label_studio_sdk.label_interface import LabelInterface

from pactnews.inventory import SPAN_LAYERS, Inventory
from pactnews.labelstudio.config import (PROPOSALS, SIDE_CLASS, TEXT_CLASS, TEXT_NAME, attribute_control,
                                         attribute_title, controls, labeling_config, layer_attributes, proposals)

from ls_server import INV, REPO


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


# ---------------------------------------------------------------- per-region attribute controls (schema 2.0.0)

def _visible(root: ET.Element, layer: str, label: str) -> set[str]:
    """The per-region controls Label Studio 1.23.2 shows while a region of `layer` with `label` is selected.

    Mirrors the editor: a control is drawn when every enclosing View with visibleWhen="region-selected" lets
    it through (whenTagName is the name of the region's Labels control; whenLabelValue a comma-separated list of
    labels, any of which the region must carry) and its own perRegion check passes (toName is the region's
    object tag; an own whenLabelValue must match).
    """
    parents = {child: parent for parent in root.iter() for child in parent}
    shown = set()
    for el in root.iter():
        if el.get("perRegion") != "true":
            continue
        if el.get("toName") != "text" or (el.get("whenLabelValue") and label not in el.get("whenLabelValue").split(",")):
            continue
        node, ok = el, True
        while node in parents:
            node = parents[node]
            if node.tag == "View" and node.get("visibleWhen"):
                assert node.get("visibleWhen") == "region-selected", node.attrib
                if node.get("whenTagName") and node.get("whenTagName") != layer:
                    ok = False
                if node.get("whenLabelValue") and label not in node.get("whenLabelValue").split(","):
                    ok = False
        if ok:
            shown.add(el.get("name"))
    return shown


def _expected_visible(inv: Inventory, layer: str, label: str) -> set[str]:
    """The attribute controls of the region's label, and the proposal control after each key attribute."""
    shown = {attribute_control(layer, a) for a in inv.attributes(layer)
             if inv.attribute_labels(layer, a) is None or label in inv.attribute_labels(layer, a)}
    return shown | {p.control for p in proposals(inv) if attribute_control(p.layer, p.attribute) in shown}


def test_every_attribute_of_every_layer_has_its_control():
    li = LabelInterface(labeling_config(INV))
    names = set()
    for layer in SPAN_LAYERS:
        assert INV.attributes(layer), layer
        for attribute in INV.attributes(layer):
            control = li.get_control(attribute_control(layer, attribute))
            names.add(control.name)
            if INV.has_values(attribute):
                assert control.tag == "Choices" and control.labels == INV.values(attribute), attribute
            else:
                assert control.tag == "TextArea", attribute
    root = ET.fromstring(labeling_config(INV))
    per_region = {e.get("name") for e in root.iter() if e.get("perRegion") == "true"}
    # no control for an attribute the inventory does not have; besides them, only the proposal controls
    assert per_region == names | {p.control for p in proposals(INV)}
    for attribute in ("mod", "author_stance", "modality", "time_id", "quantity_high", "quantity_approximation",
                      "quantity_unit", "quantity_surface_unit"):  # the attributes schema 2.0.0 added
        assert any(name.endswith("_" + attribute) for name in names), attribute


@pytest.mark.parametrize("layer", SPAN_LAYERS)
def test_attribute_controls_show_only_for_the_labels_they_belong_to(layer):
    root = ET.fromstring(labeling_config(INV))
    for label in INV.labels(layer):
        assert _visible(root, layer, label) == _expected_visible(INV, layer, label), label
    assert _visible(root, "no-such-layer", INV.labels(layer)[0]) == set()


def test_visibility_follows_the_inventory_not_the_code():
    raw = copy.deepcopy(INV.raw)
    timexes = INV.labels("timexes")
    raw["attribute_labels"] = {**(raw.get("attribute_labels") or {}), "timexes.mod": timexes[:2]}
    raw["attribute_labels"].pop("attributions.entity_id", None)
    inv = Inventory(raw)
    xml = labeling_config(inv)
    LabelInterface(xml).validate()
    root = ET.fromstring(xml)
    assert "timexes_mod" in _visible(root, "timexes", timexes[0])
    assert "timexes_mod" not in _visible(root, "timexes", timexes[-1])
    for label in inv.labels("attributions"):  # entity_id now applies to every attribution label
        assert "attributions_entity_id" in _visible(root, "attributions", label)
    (view,) = [v for v in root.iter("View") if any(c.get("name") == "timexes_mod" for c in v)]
    assert view.get("whenLabelValue") == ",".join(timexes[:2]) and view.get("whenTagName") == "timexes"


def test_every_attribute_control_has_a_readable_header_and_label():
    root = ET.fromstring(labeling_config(INV))
    headers = []
    for view in root.iter("View"):
        controls_here = [c for c in view if c.get("perRegion") == "true"]
        if not controls_here or controls_here[0].get("name") in {p.control for p in PROPOSALS}:
            continue  # the proposal controls: test_proposal_controls_follow_their_key_attribute
        (control,) = controls_here
        layer, attribute = controls(INV)[control.get("name")]
        (header,) = [c for c in view if c.tag == "Header"]
        text = header.get("value")
        assert list(view).index(header) < list(view).index(control)  # above its control
        head = text.split(":")[0]  # what the control is: the region and the attribute's readable name
        assert head.endswith(attribute_title(attribute)) and "_" not in head, head
        description = INV.raw["layers"][layer]["attributes"][attribute]
        assert description.rstrip(".") in text
        assert ("Optional" in text) == INV.optional(layer, attribute), text
        headers.append(text)
        if control.tag == "TextArea":
            assert control.get("displayMode") != "region-list"  # drawn under its header, not unlabelled in the list
            assert attribute_title(attribute) in control.get("placeholder")
    assert len(headers) == len(set(headers)) == sum(len(INV.attributes(layer)) for layer in SPAN_LAYERS)
    assert attribute_title("quantity_surface_unit") == "Quantity surface unit" and attribute_title("time_id") == "Time ID"


def test_optional_choices_can_be_unticked_and_required_ones_are_radio_buttons():
    root = ET.fromstring(labeling_config(INV))
    seen = set()
    for el in root.iter("Choices"):
        layer, attribute = controls(INV)[el.get("name")]
        assert el.get("choice") == ("single" if INV.optional(layer, attribute) else "single-radio"), attribute
        seen.add(INV.optional(layer, attribute))
    assert seen == {True, False}


def test_time_id_and_figures_say_what_to_type():
    root = ET.fromstring(labeling_config(INV))
    by_name = {e.get("name"): e for e in root.iter() if e.get("perRegion") == "true"}
    assert by_name["claims_time_id"].tag == "TextArea"
    assert f"{INV.id_prefix('timexes')}1" in by_name["claims_time_id"].get("placeholder")
    for name in ("claims_quantity_value", "claims_quantity_high"):
        assert "number" in by_name[name].get("placeholder")
    assert "number" not in by_name["claims_quantity_surface_unit"].get("placeholder")


def test_the_committed_labeling_config_is_the_generated_one():
    committed = (REPO / "schemas" / "labelstudio.xml").read_text(encoding="utf-8")
    assert committed == labeling_config(INV), "schemas/labelstudio.xml is stale: run `pactnews schemas`"


# ---------------------------------------------------------------- proposing new entities and clusters

def test_proposal_controls_follow_their_key_attribute():
    """After the entity_id of an entity and the cluster_id of a claim: a free-text field for what the table needs
    of a new key, shown with its key attribute only, and saying which table it goes to."""
    root = ET.fromstring(labeling_config(INV))
    assert {(p.layer, p.attribute, p.table) for p in proposals(INV)} == {
        ("entities", "entity_id", "entities"), ("claims", "cluster_id", "clusters")}
    side = next(v for v in root.iter("View") if v.get("className") == SIDE_CLASS)
    boxes = [v for v in side if v.tag == "View" and any(c.get("perRegion") == "true" for c in v)]
    names = [next(c for c in v if c.get("perRegion") == "true").get("name") for v in boxes]
    for p in proposals(INV):
        (control,) = [e for e in root.iter() if e.get("name") == p.control]
        assert control.tag == "TextArea" and control.get("toName") == TEXT_NAME
        assert control.get("displayMode") == "tag" and control.get("maxSubmissions") == "1"
        assert p.title in control.get("placeholder")
        k = names.index(p.control)
        assert names[k - 1] == attribute_control(p.layer, p.attribute)  # right after its key attribute
        assert boxes[k].attrib == boxes[k - 1].attrib  # shown exactly when the key attribute is
        (header,) = [c for c in boxes[k] if c.tag == "Header"]
        assert p.title in header.get("value") and p.table_file in header.get("value")
    assert "whenLabelValue" not in boxes[names.index("entities_new_entity")].attrib  # every entity label may propose
    for label in INV.labels("attributions"):  # a SOURCE names an entity, but its label is no entity label
        assert not _visible(root, "attributions", label) & {p.control for p in PROPOSALS}


def test_proposal_controls_are_no_attribute_controls():
    """A proposal is not a field of the document: its control is no attribute control and has a name of its own."""
    known = controls(INV)
    for p in proposals(INV):
        assert p.control not in known
    LabelInterface(labeling_config(INV)).validate()


def test_without_its_key_attribute_a_layer_proposes_nothing():
    raw = copy.deepcopy(INV.raw)
    del raw["layers"]["claims"]["attributes"]["cluster_id"]
    inv = Inventory(raw)
    assert [p.control for p in proposals(inv)] == ["entities_new_entity"]
    assert "claims_new_cluster" not in labeling_config(inv)


# ---------------------------------------------------------------- layout (the browser test checks it for real)

def test_the_text_and_the_fields_are_side_by_side():
    """The text in its own column; every label palette and per-region control in the column beside it, so that
    the fields of a selected region are in view wherever the region is in the text."""
    root = ET.fromstring(labeling_config(INV))
    (text_column,) = [v for v in root.iter("View") if v.get("className") == TEXT_CLASS]
    (side,) = [v for v in root.iter("View") if v.get("className") == SIDE_CLASS]
    assert [e.get("name") for e in text_column.iter() if e.get("name")] == [TEXT_NAME]
    in_side = {e.get("name") for e in side.iter() if e.get("name")}
    assert in_side == {name for e in root.iter() if (name := e.get("name")) and name != TEXT_NAME}
    style = root.find("Style").text
    assert f".{SIDE_CLASS}{{" in style and "position:sticky" in style
    assert "line-height" in style and ".relations-overlay" in style  # room for relation labels above the lines
