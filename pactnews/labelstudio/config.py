"""The Label Studio labeling config, generated from the label inventory.

One ``Labels`` control per span layer; one per-region control per attribute
of a layer (``<layer>_<attribute>``): ``Choices`` for an attribute with a
closed value set, a one-line ``TextArea`` for a number or free text. Each
attribute control sits in its own ``View`` under a visible header and is shown
only while a region of its layer is selected, and, for an attribute that
applies to some labels only (``attribute_labels`` in the inventory), only
while such a region is selected (Label Studio's ``visibleWhen="region-selected"``
with ``whenTagName``, the name of the Labels control, and ``whenLabelValue``).
After the attribute that holds a key of a cross-document table (an entity's
``entity_id``, a claim's ``cluster_id``) comes a proposal control
(``PROPOSALS``): the canonical name of a new entity, the proposition of a new
cluster; the import adds the key to its table.

The TextAreas are drawn under their header (``displayMode`` ``tag``): in
``region-list`` mode Label Studio would draw every per-region TextArea, without
its header, under every region of the region list, whatever its layer. An
empty TextArea or an unselected Choices is a null.

Layout (checked in a real browser by tests/test_labelstudio_browser.py): the
text on the left, with its lines far enough apart and a left margin wide enough
for the relation labels Label Studio draws over the text; on the right a column
that stays in view while the text scrolls, with the fields of the selected
region first and the label palettes under them.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

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


@dataclass(frozen=True)
class NewKey:
    """A per-region control that proposes a new key of a cross-document table.

    The annotator types the key into the region's `attribute` control as usual; when the key is not in the table
    yet, the text typed into `control` (same region) is what the table needs besides the key: an entity's
    canonical name (its label is the region's label) or a cluster's proposition. The import adds it to the table.
    """

    layer: str  # the layer of the regions that may propose
    attribute: str  # the attribute that holds the key
    table: str  # "entities" or "clusters"
    field: str  # the table field the typed text fills
    control: str  # the name of the per-region TextArea
    title: str  # what the control is called in its header and placeholder
    table_file: str  # the table, as the annotator finds it in the repository


PROPOSALS = (
    NewKey("entities", "entity_id", "entities", "name", "entities_new_entity", "New entity: canonical name",
           "annotations/tables/entities.json"),
    NewKey("claims", "cluster_id", "clusters", "proposition", "claims_new_cluster", "New cluster: proposition",
           "annotations/tables/claim_clusters.json"),
)


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

    from pactnews.pipeline.flatten import arrow_schema  # heavy: imports pyarrow, lazy like it

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


def proposals(inv: Inventory) -> list[NewKey]:
    """The proposal controls the inventory has attributes for (a key attribute the inventory lacks has none)."""
    known = set(controls(inv))
    return [p for p in PROPOSALS if p.layer in SPAN_LAYERS and p.attribute in layer_attributes(inv, p.layer)
            and p.control not in known]


def proposal_header(inv: Inventory, key: NewKey) -> str:
    """The header of a proposal control: when to fill it, what to type, what the import does with it."""
    region = REGION_NAMES.get(key.layer, key.layer)
    attribute = attribute_title(key.attribute)
    what = {"name": "its full canonical name", "proposition": "the one-sentence proposition"}.get(
        key.field, f"its {key.field}")
    label = " with this region's label" if key.table == "entities" else ""
    return (f"{region} · {key.title}. Only for a new {attribute}, not yet in {key.table_file}: type {what}; "
            f"pull adds it to the table{label}. Press Enter to save it. Leave empty for an existing "
            f"{attribute}.")


# The layout (a Style block with these classes): the text on the left, with lines far enough apart for the
# relation labels Label Studio draws above a region (label box from 9 to 27 px above the region's top) and a
# left margin for the labels it draws beside the text (a label's right edge 18 px left of the region, once
# right-aligned); on the right a column that stays in view while the text scrolls, with the fields of the
# selected region first and the label palettes under them.
COLUMNS_CLASS = "pactnews-columns"
TEXT_CLASS = "pactnews-text"
SIDE_CLASS = "pactnews-side"
STYLE = " ".join([
    f".{COLUMNS_CLASS}{{display:flex;align-items:flex-start;gap:16px}}",
    f".{TEXT_CLASS}{{flex:1 1 auto;min-width:0;padding:36px 8px 24px 112px}}",
    f".{TEXT_CLASS} .lsf-richtext__container,.htx-text{{white-space:pre-wrap;line-height:3.2}}",
    f".{SIDE_CLASS}{{flex:0 0 380px;max-width:45%;position:sticky;top:0;max-height:calc(100vh - 150px);"
    "overflow-y:auto;padding-right:4px}",
    f".{SIDE_CLASS} h4{{font-size:14px !important;line-height:1.35 !important;margin:10px 0 4px !important}}",
    ".relations-overlay g[transform]{text-anchor:end}",
    ".relations-overlay text{font-size:11px !important}",
])


def _attribute_views(inv: Inventory, layer: str, parent: ET.Element) -> None:
    """The per-region controls of one layer: each attribute under its header (and after a key attribute, its
    proposal control), each shown only while a region of the labels it applies to is selected."""
    new_keys = {p.attribute: p for p in proposals(inv) if p.layer == layer}
    for attribute in layer_attributes(inv, layer):
        name = attribute_control(layer, attribute)
        when = {"visibleWhen": "region-selected", "whenTagName": layer}
        only = attribute_labels(inv, layer, attribute)
        if only:
            when["whenLabelValue"] = ",".join(only)
        box = ET.SubElement(parent, "View", **when)
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
        key = new_keys.get(attribute)
        if key is not None:
            box = ET.SubElement(parent, "View", **when)
            ET.SubElement(box, "Header", value=proposal_header(inv, key), size="6")
            ET.SubElement(box, "TextArea", name=key.control, toName=TEXT_NAME, perRegion="true",
                          editable="true", maxSubmissions="1", rows="1", displayMode="tag",
                          placeholder=f"{key.title}, only for a new {attribute_title(attribute)}")


def labeling_config(inv: Inventory) -> str:
    """The labeling config XML for the inventory: the text, one Labels control per layer, per-region attribute
    and proposal controls, and the relation types."""
    view = ET.Element("View")
    style = ET.SubElement(view, "Style")
    style.text = STYLE
    ET.SubElement(view, "Header", value="$document_id", size="4")
    columns = ET.SubElement(view, "View", className=COLUMNS_CLASS)
    text = ET.SubElement(columns, "View", className=TEXT_CLASS)
    ET.SubElement(text, "Text", name=TEXT_NAME, value=f"${TEXT_NAME}", granularity="symbol")
    side = ET.SubElement(columns, "View", className=SIDE_CLASS)
    for layer in SPAN_LAYERS:
        _attribute_views(inv, layer, side)
    hint = ET.SubElement(side, "View", visibleWhen="no-region-selected")
    ET.SubElement(hint, "Header", value="Select a region to see its fields here.", size="6")
    colour = 0
    for layer in SPAN_LAYERS:
        ET.SubElement(side, "Header", value=HEADINGS.get(layer, layer), size="6")
        labels = ET.SubElement(side, "Labels", name=layer, toName=TEXT_NAME, showInline="true")
        for label, description in inv.label_descriptions(layer).items():
            ET.SubElement(labels, "Label", value=label, hint=str(description),
                          background=PALETTE[colour % len(PALETTE)])
            colour += 1
    relations = ET.SubElement(side, "Relations")
    for rel in inv.relation_types:
        ET.SubElement(relations, "Relation", value=rel)
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"
