"""The Label Studio labeling config, generated from the label inventory."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..inventory import SPAN_LAYERS, Inventory

TEXT_NAME = "text"
# Distinct, readable region colours, assigned in inventory order (deterministic).
PALETTE = [
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
    "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
    "#808000", "#ffd8b1", "#000075", "#808080",
]
HEADINGS = {
    "entities": "Named entities",
    "timexes": "Time expressions",
    "attributions": "Attribution",
    "claims": "Claims",
}


def attribute_control(layer: str, attribute: str) -> str:
    """The control name of a per-region attribute (one control per layer and attribute)."""
    return f"{layer}_{attribute}"


def layer_attributes(inv: Inventory, layer: str) -> list[str]:
    return list(inv.raw["layers"][layer].get("attributes") or {})


def is_choice(inv: Inventory, attribute: str) -> bool:
    """Attributes with a closed value set in the inventory become Choices, the rest TextAreas."""
    return attribute in (inv.raw.get("values") or {})


def attribute_labels(inv: Inventory, layer: str, attribute: str) -> list[str] | None:
    """The labels of a layer a per-region attribute applies to (None: all of them).

    An attribution's entity id only makes sense on a SOURCE span; every other
    attribute applies to every label of its layer.
    """
    if layer == "attributions" and attribute == "entity_id":
        return ["SOURCE"]
    return None


def controls(inv: Inventory) -> dict[str, tuple[str, str | None]]:
    """control name -> (layer, attribute or None for the Labels control itself)."""
    out: dict[str, tuple[str, str | None]] = {}
    for layer in SPAN_LAYERS:
        out[layer] = (layer, None)
        for attribute in layer_attributes(inv, layer):
            out[attribute_control(layer, attribute)] = (layer, attribute)
    return out


def labeling_config(inv: Inventory) -> str:
    """The labeling config XML for the inventory: one Labels control per layer,
    per-region attribute controls, and the relation types."""
    view = ET.Element("View")
    style = ET.SubElement(view, "Style")
    style.text = ".htx-text{white-space:pre-wrap}"
    ET.SubElement(view, "Header", value="$document_id", size="4")
    colour = 0
    for layer in SPAN_LAYERS:
        ET.SubElement(view, "Header", value=HEADINGS.get(layer, layer), size="6")
        labels = ET.SubElement(view, "Labels", name=layer, toName=TEXT_NAME, showInline="true")
        for label, description in inv.label_descriptions(layer).items():
            ET.SubElement(labels, "Label", value=label, hint=str(description),
                          background=PALETTE[colour % len(PALETTE)])
            colour += 1
    relations = ET.SubElement(view, "Relations")
    for rel in inv.relation_types:
        ET.SubElement(relations, "Relation", value=rel)
    ET.SubElement(view, "Text", name=TEXT_NAME, value=f"${TEXT_NAME}", granularity="symbol")
    descriptions = {layer: inv.raw["layers"][layer].get("attributes") or {} for layer in SPAN_LAYERS}
    for layer in SPAN_LAYERS:
        for attribute in layer_attributes(inv, layer):
            name = attribute_control(layer, attribute)
            when = {"visibleWhen": "region-selected", "whenTagName": layer}
            only = attribute_labels(inv, layer, attribute)
            if only:
                when["whenLabelValue"] = ",".join(only)
            box = ET.SubElement(view, "View", **when)
            ET.SubElement(box, "Header", value=f"{attribute}: {descriptions[layer][attribute]}", size="6")
            if is_choice(inv, attribute):
                choices = ET.SubElement(box, "Choices", name=name, toName=TEXT_NAME, perRegion="true",
                                        choice="single-radio", showInline="true")
                for value, hint in inv.value_descriptions(attribute).items():
                    ET.SubElement(choices, "Choice", value=value, hint=str(hint))
            else:
                ET.SubElement(box, "TextArea", name=name, toName=TEXT_NAME, perRegion="true",
                              editable="true", maxSubmissions="1", rows="1", displayMode="region-list")
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"
