"""The Label Studio labeling config, generated from the label inventory.

One ``Labels`` control per span layer; one per-region control per attribute
of a layer (``<layer>_<attribute>``): ``Choices`` for an attribute with a
closed value set, a one-line ``TextArea`` for a number or free text. Each
attribute control sits in its own ``View`` under a visible header and is shown
only while a region of its layer is selected, and, for an attribute that
applies to some labels only (``attribute_labels`` in the inventory), only
while such a region is selected (Label Studio's ``visibleWhen="region-selected"``
with ``whenTagName``, the name of the Labels control, and ``whenLabelValue``).

The TextAreas are drawn in the main view under their header (``displayMode``
``tag``): in ``region-list`` mode Label Studio would draw every per-region
TextArea, without its header, under every region of the region list, whatever
its layer. An empty TextArea or an unselected Choices is a null.
"""
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
# What one region of a layer is called in the headers of its attribute controls.
REGION_NAMES = {
    "entities": "Entity",
    "timexes": "Time expression",
    "attributions": "Attribution",
    "claims": "Claim",
}
# Attributes whose value is the id of a region of another layer of the same document
# (canonical field -> the layer of the region it names). The annotator types the id of
# that region; the importer turns a Label Studio region id into the canonical id.
REFERENCES = {
    ("claims", "time_id"): "timexes",
}


def attribute_control(layer: str, attribute: str) -> str:
    """The control name of a per-region attribute (one control per layer and attribute)."""
    return f"{layer}_{attribute}"


def layer_attributes(inv: Inventory, layer: str) -> list[str]:
    return inv.attributes(layer)


def is_choice(inv: Inventory, attribute: str) -> bool:
    """Attributes with a closed value set in the inventory become Choices, the rest TextAreas."""
    return inv.has_values(attribute)


def attribute_labels(inv: Inventory, layer: str, attribute: str) -> list[str] | None:
    """The labels of a layer a per-region attribute applies to (None: all of them), from the inventory."""
    return inv.attribute_labels(layer, attribute)


def is_number(layer: str, attribute: str) -> bool:
    """Whether a free-value attribute holds a number (its column in the flat tables is a float)."""
    import pyarrow as pa

    from pactnews.pipeline.flatten import arrow_schema

    try:
        return pa.types.is_floating(arrow_schema(layer).field(attribute).type)
    except (KeyError, ValueError):  # a field the flat tables do not have is free text here
        return False


def controls(inv: Inventory) -> dict[str, tuple[str, str | None]]:
    """control name -> (layer, attribute or None for the Labels control itself)."""
    out: dict[str, tuple[str, str | None]] = {}
    for layer in SPAN_LAYERS:
        out[layer] = (layer, None)
        for attribute in layer_attributes(inv, layer):
            out[attribute_control(layer, attribute)] = (layer, attribute)
    return out


def attribute_title(attribute: str) -> str:
    """A readable name of an attribute: ``quantity_surface_unit`` -> ``Quantity surface unit``."""
    words = ["ID" if w == "id" else w for w in attribute.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def attribute_header(inv: Inventory, layer: str, attribute: str) -> str:
    """The visible header of an attribute control: which region, which attribute, what it means, how to fill it."""
    description = str(inv.raw["layers"][layer].get("attributes", {}).get(attribute) or "").strip()
    only = attribute_labels(inv, layer, attribute)
    who = REGION_NAMES.get(layer, layer) + (f" ({', '.join(only)})" if only else "")
    head = f"{who} · {attribute_title(attribute)}" + (f": {description}" if description else "")
    if not head.endswith((".", ")")):
        head += "."
    how = []
    if (layer, attribute) in REFERENCES:
        target = REFERENCES[(layer, attribute)]
        how.append(f"Type the id of the {REGION_NAMES.get(target, target).lower()} region (e.g. "
                   f"{inv.id_prefix(target)}1).")
    elif not is_choice(inv, attribute) and is_number(layer, attribute):
        how.append("A number (e.g. 3000 or 1.5).")
    if not is_choice(inv, attribute):
        how.append("Press Enter to save it.")
    if inv.optional(layer, attribute):
        how.append("Optional: " + ("leave unticked" if is_choice(inv, attribute) else "leave empty") + " for none.")
    return " ".join([head, *how])


def attribute_placeholder(inv: Inventory, layer: str, attribute: str) -> str:
    """The placeholder of a TextArea: its name, so that the box is labelled wherever it is drawn."""
    what = attribute_title(attribute)
    if (layer, attribute) in REFERENCES:
        target = REFERENCES[(layer, attribute)]
        what += f" (id of a {REGION_NAMES.get(target, target).lower()}, e.g. {inv.id_prefix(target)}1)"
    elif is_number(layer, attribute):
        what += " (a number)"
    if inv.optional(layer, attribute):
        what += ", optional"
    return what


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
    for layer in SPAN_LAYERS:
        for attribute in layer_attributes(inv, layer):
            name = attribute_control(layer, attribute)
            when = {"visibleWhen": "region-selected", "whenTagName": layer}
            only = attribute_labels(inv, layer, attribute)
            if only:
                when["whenLabelValue"] = ",".join(only)
            box = ET.SubElement(view, "View", **when)
            ET.SubElement(box, "Header", value=attribute_header(inv, layer, attribute), size="6")
            if is_choice(inv, attribute):
                # an optional value can be unticked again (a checkbox); a required one is a radio button
                choices = ET.SubElement(box, "Choices", name=name, toName=TEXT_NAME, perRegion="true",
                                        choice="single" if inv.optional(layer, attribute) else "single-radio",
                                        showInline="true")
                for value, hint in inv.value_descriptions(attribute).items():
                    ET.SubElement(choices, "Choice", value=value, hint=str(hint))
            else:
                ET.SubElement(box, "TextArea", name=name, toName=TEXT_NAME, perRegion="true",
                              editable="true", maxSubmissions="1", rows="1", displayMode="tag",
                              placeholder=attribute_placeholder(inv, layer, attribute))
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"
