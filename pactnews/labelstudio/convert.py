"""Canonical standoff document <-> Label Studio result list (pure functions).

A span becomes one ``labels`` item whose ``id`` is the span id and whose
``from_name`` is the layer; each non-null attribute becomes a ``textarea`` or
``choices`` item with the same id and ``from_name`` ``<layer>_<attribute>``; a
relation becomes a ``relation`` item that also carries the canonical relation
id (Label Studio keeps unknown keys of imported results; regions and
relations drawn in the editor arrive without canonical ids and get the next
free number, in text order). A claim has one relation item per claim_source
relation (coordinated sources) and per cue.

Attribute values: a Choices item holds one value of the attribute's closed set
(no item, or no choice ticked, is a null); a TextArea item holds a number
(a float column of the flat tables: read back to the same float, anything
else is a ``not-a-number`` issue) or free text (surrounding white space is
dropped; empty is a null). An attribute that names a region of another layer
(``config.REFERENCES``: a claim's time_id) holds that region's id as the
annotator typed it: a Label Studio region id is turned into the region's
canonical id, and an id that names no region of that layer is an issue.

Offsets are Unicode code points over the clean text, and they are exact or
refused: a region is accepted when ``text[start:end]`` equals ``value.text``
(a missing ``value.text``, or one that differs in white space only, is no
reason to refuse). When the offsets read as UTF-16 code units give exactly
``value.text`` (astral characters such as emoji before the region, written by
an older tool), they are converted and a ``note`` says so; any other
difference is an error naming the region, its offsets, the expected and the
found text.

A new entity or cluster is proposed in the region that uses it (config.PROPOSALS:
its key typed into the key attribute, its name or proposition into the proposal
control). A proposal is no field of the document: ``from_result`` passes over it,
``read_proposals`` reads it (and checks the key's form), and ``add_proposals``
adds it to its table, refusing a key the table or another proposal has otherwise.

Pre-annotations go to Label Studio with their region ids prefixed
(``to_result(..., region_prefix=PREDICTION_PREFIX)``) so that a region
accepted from a prediction never carries an id of the gold.

Both directions run once per document on corpora of 100,000 documents: what
they ask of the inventory is worked out once per inventory (``_plan``), the
common case of a well-formed item takes the shortest path (anything unusual
falls through to the checks that name the problem), and the cycle collector
is paused while one document is converted (``_collector_paused``).
"""
from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa

from pactnews.annotations import standoff, tables
from pactnews.pipeline.flatten import arrow_schema
from ..inventory import SPAN_LAYERS, Inventory
from .config import (PROPOSALS, REFERENCES, TEXT_NAME, NewKey, attribute_control, attribute_title, controls,
                     is_choice, layer_attributes, proposals)

_BASE_FIELDS = ["id", "start", "end", "text", "label"]
PREDICTION_PREFIX = "pre-"  # region ids of pre-annotations: never a canonical (gold) id  # the leading fields of every span layer's records


@dataclass(frozen=True)
class Issue:
    """One problem found while reading Label Studio results: data, not a print."""

    severity: str  # "error" | "warning" | "note"
    test_id: str  # kebab-case
    message: str
    document_id: str | None = None
    region: str | None = None
    where: dict = field(default_factory=dict, compare=False)  # file, task, annotator, ...

    def __str__(self) -> str:
        loc = [f"{k.capitalize()} {v}" for k, v in self.where.items() if v is not None]
        if self.document_id:
            loc.append(f"Doc {self.document_id}")
        if self.region:
            loc.append(f"Region {self.region}")
        return f"[{' '.join(loc)}]: [{self.severity.upper()} {self.test_id}] {self.message}"


@lru_cache(maxsize=None)
def _is_float(layer: str, attribute: str) -> bool:
    return pa.types.is_floating(arrow_schema(layer).field(attribute).type)


def format_value(value) -> str:
    """An attribute value as the text of a TextArea; numbers read back to the same float."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16 and math.copysign(1.0, value) > 0:
            return str(int(value))
        return repr(value)
    return str(value)


class _Plan:
    """What both directions ask of one inventory, worked out once per inventory (see _plan)."""

    def __init__(self, inv: Inventory):
        known = controls(inv)  # control name -> (layer, attribute or None)
        # canonical -> Label Studio: per span layer, its sort key and its attributes as (attribute, control, choice?)
        self.export = [(layer, standoff.sort_key(layer),
                        [(a, attribute_control(layer, a), is_choice(inv, a)) for a in layer_attributes(inv, layer)])
                       for layer in SPAN_LAYERS]
        self.relation_key = standoff.sort_key("relations")
        # Label Studio -> canonical: control name -> (layer, attribute, choice?, allowed, allowed as a set, float?)
        # where allowed are the labels of a Labels control and the values of a Choices one
        self.controls: dict[str, tuple] = {}
        for name, (layer, attribute) in known.items():
            if attribute is None:
                labels = inv.labels(layer)
                self.controls[name] = (layer, None, False, labels, frozenset(labels), None)
            elif is_choice(inv, attribute):
                allowed = inv.values(attribute)
                self.controls[name] = (layer, attribute, True, allowed, frozenset(allowed), None)
            else:
                try:
                    floating = _is_float(layer, attribute)
                except Exception:  # noqa: BLE001 - asked again where it is needed, so that it fails there
                    floating = None
                self.controls[name] = (layer, attribute, False, None, None, floating)
        self.prefixes = {layer: inv.id_prefix(layer) for layer in SPAN_LAYERS}
        self.overlap = {layer: inv.overlap_allowed(layer) for layer in SPAN_LAYERS}
        # record fields after the base ones, when a layer's records are the base fields and then attributes
        self.extra_fields = {
            layer: standoff.FIELDS[layer][len(_BASE_FIELDS):]
            if standoff.FIELDS[layer][:len(_BASE_FIELDS)] == _BASE_FIELDS
            and not set(layer_attributes(inv, layer)) & set(_BASE_FIELDS) else None
            for layer in SPAN_LAYERS}
        self.relation_types = inv.relation_types
        self.sources = {rel: inv.raw["relations"]["types"][rel]["from"] for rel in self.relation_types}
        self.relation_prefix = inv.id_prefix("relations")
        self.relation_order = {rel: i for i, rel in enumerate(self.relation_types)}
        # attributes that name a region of another layer: (layer, attribute, control, the layer it names)
        self.references = [(layer, attribute, attribute_control(layer, attribute), target)
                           for (layer, attribute), target in REFERENCES.items()
                           if layer in SPAN_LAYERS and target in SPAN_LAYERS
                           and attribute in layer_attributes(inv, layer)]
        # the proposal controls (a new entity's name, a new cluster's proposition): read by read_proposals
        self.proposal_controls = {key.control: key for key in proposals(inv)}


_PLANS: dict[int, tuple[Inventory, _Plan]] = {}


def _plan(inv: Inventory) -> _Plan:
    """The plan of an inventory object (kept by identity: inventories are read once and not changed)."""
    hit = _PLANS.get(id(inv))
    if hit is None or hit[0] is not inv:
        if len(_PLANS) >= 16:
            _PLANS.clear()
        hit = _PLANS[id(inv)] = (inv, _Plan(inv))
    return hit[1]


@contextmanager
def _collector_paused():
    """No cyclic garbage collection while one document is converted.

    A document makes about a thousand small dicts and lists, none in a cycle;
    left on, the collector would run its full passes over the caller's whole
    heap (a batch of parsed tasks) every few documents. Only the allocation
    count carries over: the collector runs once at the next allocation after.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# ---------------------------------------------------------------- canonical -> Label Studio

def to_result(doc: dict, text: str, inv: Inventory, region_prefix: str = "") -> list[dict]:
    """The Label Studio result list of one canonical document (deterministic order).

    `region_prefix` goes before every region and relation id (and before the region ids held by reference
    attributes such as a claim's time_id): pre-annotations use PREDICTION_PREFIX so that their regions are
    never taken for gold spans.
    """
    with _collector_paused():
        return _to_result(doc, text, _plan(inv), region_prefix)


def _to_result(doc: dict, text: str, plan: _Plan, prefix: str = "") -> list[dict]:
    out: list[dict] = []
    append = out.append
    refs = {(layer, attribute) for layer, attribute, _, _ in plan.references} if prefix else set()
    for layer, key, attributes in plan.export:
        for span in sorted(doc.get(layer, []), key=key):
            span_id, start, end = prefix + span["id"], span["start"], span["end"]
            append({"id": span_id, "from_name": layer, "to_name": TEXT_NAME, "type": "labels",
                    "value": {"start": start, "end": end, "text": text[start:end], "labels": [span["label"]]}})
            for attribute, control, choice in attributes:
                value = span.get(attribute)
                if value is None:
                    continue
                if refs and (layer, attribute) in refs:
                    value = prefix + str(value)
                if choice:
                    append({"id": span_id, "from_name": control, "to_name": TEXT_NAME, "type": "choices",
                            "value": {"start": start, "end": end, "choices": [value]}})
                else:
                    append({"id": span_id, "from_name": control, "to_name": TEXT_NAME, "type": "textarea",
                            "value": {"start": start, "end": end,
                                      "text": [value if type(value) is str else format_value(value)]}})
    for rel in sorted(doc.get("relations", []), key=plan.relation_key):
        append({"id": prefix + rel["id"], "from_id": prefix + rel["from_id"], "to_id": prefix + rel["to_id"],
                "type": "relation", "direction": "right", "labels": [rel["label"]]})
    return out


# ---------------------------------------------------------------- Label Studio -> canonical

class _Region:
    __slots__ = ("ls_id", "layer", "start", "end", "label", "text", "attrs", "canonical_id")

    def __init__(self, ls_id: str, layer: str, start: int, end: int, label: str, text: str):
        self.ls_id, self.layer, self.start, self.end, self.label, self.text = ls_id, layer, start, end, label, text
        self.attrs: dict = {}
        self.canonical_id: str | None = None


def _offsets(value: dict, text: str) -> tuple[int, int] | str:
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        return f"start/end must be integers, found start={start!r} end={end!r}"
    if not 0 <= start < end <= len(text):
        return f"offsets [{start}:{end}] are outside the text (0..{len(text)}) or empty"
    return start, end


def _snippet(s: str, width: int = 40) -> str:
    return repr(s if len(s) <= width else s[:width] + "…")


def from_result(result: list, text: str, document_id: str, text_sha256: str, inv: Inventory,
                where: dict | None = None, *, keep_ids: bool = False, floor: dict | None = None,
                known: dict | None = None) -> tuple[dict, list[Issue]]:
    """A canonical document from one Label Studio result list, and the problems found.

    Every problem is reported (not only the first); the document is only
    meaningful when no issue has severity "error".

    keep_ids: every record keeps its Label Studio region id (the three-way pull maps them itself).
    floor: layer -> the highest id number ever used in the document; new ids are numbered above it.
    known: layer -> the canonical ids that may be kept; any other id (e.g. of a deleted span) is renumbered.
    """
    with _collector_paused():
        return _from_result(result, text, document_id, text_sha256, inv, where, keep_ids, floor, known)


def _utf16_to_points(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Code-point offsets of UTF-16 code-unit offsets (None: no astral character, or one is split)."""
    if start < 0 or end <= start or all(ord(c) <= 0xFFFF for c in text):
        return None
    units, points = 0, {0: 0}
    for k, c in enumerate(text):
        units += 2 if ord(c) > 0xFFFF else 1
        points[units] = k + 1
    if start not in points or end not in points:
        return None
    return points[start], points[end]


def _same_but_space(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def _from_result(result, text: str, document_id: str, text_sha256: str, inv: Inventory,
                 where: dict | None, keep_ids: bool = False, floor: dict | None = None,
                 known_ids: dict | None = None) -> tuple[dict, list[Issue]]:
    where = dict(where or {})
    issues: list[Issue] = []

    def issue(test_id: str, message: str, region: str | None = None, severity: str = "error") -> None:
        issues.append(Issue(severity, test_id, message, document_id, region, where))

    plan = _plan(inv)
    known = plan.controls
    if not isinstance(result, list):
        issue("result-not-a-list", f"the annotation result must be a list, found {type(result).__name__}")
        return standoff.empty(document_id, text_sha256), issues
    regions: list[_Region] = []  # in the order they came
    by_layer: dict[str, dict[str, _Region]] = {layer: {} for layer in SPAN_LAYERS}  # layer -> region id -> region
    by_ls_id: dict[str, list[_Region]] = {}  # in the order the regions came
    rejected: set[str] = set()  # ids of regions already reported: their values and relations are not
    value_items: list[tuple[str, str, dict, object, tuple]] = []
    relation_items: list[tuple[int, dict]] = []
    size = len(text)
    for k, item in enumerate(result):
        if not isinstance(item, dict):
            issue("malformed-item", f"result item {k} must be an object, found {item!r}")
            continue
        kind = item.get("type")
        if kind == "relation":
            relation_items.append((k, item))
            continue
        ls_id, name = item.get("id"), item.get("from_name")
        if not isinstance(ls_id, str) or not ls_id:
            issue("missing-region-id", f"result item {k} ({kind}, {name}) has no region id",
                  f"{ls_id}" if ls_id is not None else f"#{k}")
            continue
        control = known.get(name) if type(name) is str else None
        if control is None:
            if type(name) is str and name in plan.proposal_controls:
                continue  # a proposed table entry, not a field of the document: read_proposals reads it
            issue("unknown-control", f"from_name {name!r} is not a control of the labeling config; "
                  f"expected one of {sorted([*known, *plan.proposal_controls])}", f"{ls_id}")
            rejected.add(ls_id)
            continue
        if item.get("to_name", TEXT_NAME) != TEXT_NAME:
            issue("unknown-object", f"to_name {item.get('to_name')!r}; expected {TEXT_NAME!r}", f"{ls_id}")
            continue
        value = item.get("value")
        if not isinstance(value, dict):
            issue("malformed-item", f"{name}: value must be an object, found {value!r}", f"{ls_id}")
            continue
        if control[1] is not None:
            value_items.append((ls_id, name, value, kind, control))
            continue
        layer, _, _, labels_of, label_set, _ = control
        if kind != "labels":
            issue("wrong-item-type", f"{name}: type {kind!r}; expected 'labels'", f"{ls_id}")
            rejected.add(ls_id)
            continue
        labels = value.get("labels")
        if not isinstance(labels, list) or len(labels) != 1:
            issue("label-count", f"{name}: a region carries exactly one label, found {labels!r}", f"{ls_id}")
            rejected.add(ls_id)
            continue
        label = labels[0]
        if not (label in label_set if type(label) is str else label in labels_of):
            issue("unknown-label", f"{name}: label {label!r} is not in the inventory; expected one of "
                  f"{labels_of}", f"{ls_id}")
            rejected.add(ls_id)
            continue
        start, end = value.get("start"), value.get("end")
        given = value.get("text")
        if given is not None and type(given) is not str:
            issue("malformed-item", f"{name} {label}: value.text must be a string, found {given!r}", f"{ls_id}")
            rejected.add(ls_id)
            continue
        in_range = type(start) is int and type(end) is int and 0 <= start < end <= size
        there = text[start:end] if in_range else None
        if not in_range or (given is not None and given != there and not _same_but_space(given, there)):
            # not exact: offsets counted in UTF-16 code units (an older tool) are converted when they give
            # exactly value.text; anything else is refused
            points = (_utf16_to_points(text, start, end)
                      if given is not None and type(start) is int and type(end) is int else None)
            if points is not None and text[points[0]:points[1]] == given:
                issue("offsets-utf16-converted",
                      f"{label} [{start}:{end}] counted UTF-16 code units; converted to code points "
                      f"[{points[0]}:{points[1]}] {_snippet(given, 60)}", f"{ls_id}", severity="note")
                start, end = points
                there = given
            elif not in_range:
                offsets = _offsets(value, text)
                detail = offsets if isinstance(offsets, str) else f"offsets [{start}:{end}]"
                issue("offset-out-of-range", f"{name} {label}: {detail}"
                      + (f"; expected text {_snippet(given, 60)}" if given is not None else ""), f"{ls_id}")
                rejected.add(ls_id)
                continue
            else:
                issue("region-text-mismatch",
                      f"{name} {label} [{start}:{end}]: expected value.text {_snippet(given, 60)}, found "
                      f"{_snippet(there, 60)} in the clean text at these offsets (neither code points nor UTF-16 "
                      f"code units give the expected text); fix or redraw the region", f"{ls_id}")
                rejected.add(ls_id)
                continue
        mine = by_layer[layer]
        if ls_id in mine:
            issue("duplicate-region", f"region id {ls_id!r} is used twice in layer {layer}", f"{ls_id}")
            continue
        reg = mine[ls_id] = _Region(ls_id, layer, start, end, label, there)
        regions.append(reg)
        if ls_id in by_ls_id:
            by_ls_id[ls_id].append(reg)
        else:
            by_ls_id[ls_id] = [reg]

    for ls_id, name, value, kind, (layer, attribute, choice, allowed, allowed_set, floating) in value_items:
        reg = by_layer[layer].get(ls_id)
        if reg is None:
            if ls_id not in rejected:
                issue("value-without-region", f"{name} value belongs to region {ls_id!r}, but layer {layer} has no "
                      f"region with that id", ls_id)
            continue
        attrs = reg.attrs
        if attribute in attrs:
            issue("duplicate-value", f"{name}: region has two values", ls_id)
            continue
        if choice:
            if kind != "choices":
                issue("wrong-item-type", f"{name}: type {kind!r}; expected 'choices'", ls_id)
                continue
            chosen = value.get("choices")
            if chosen == []:  # every choice unticked: no value
                continue
            if not isinstance(chosen, list) or len(chosen) != 1:
                issue("value-count", f"{name}: exactly one choice expected, found {chosen!r}", ls_id)
                continue
            if not (chosen[0] in allowed_set if type(chosen[0]) is str else chosen[0] in allowed):
                issue("unknown-choice", f"{name}: {chosen[0]!r} is not one of {allowed}", ls_id)
                continue
            attrs[attribute] = chosen[0]
            continue
        if kind != "textarea":
            issue("wrong-item-type", f"{name}: type {kind!r}; expected 'textarea'", ls_id)
            continue
        texts = value.get("text")
        if type(texts) is list and len(texts) == 1 and type(texts[0]) is str:  # the usual shape
            raw = texts[0].strip()
            if not raw:
                continue
        else:
            if isinstance(texts, str):
                texts = [texts]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                issue("malformed-item", f"{name}: value.text must be a list of strings, found {texts!r}", ls_id)
                continue
            texts = [t.strip() for t in texts if t.strip()]
            if len(texts) > 1:
                issue("value-count", f"{name}: one value expected, found {texts!r}", ls_id)
                continue
            if not texts:
                continue
            raw = texts[0]
        if floating is None:
            floating = _is_float(layer, attribute)
        if floating:
            try:
                number = float(raw.replace(",", ""))
            except ValueError:
                issue("not-a-number", f"{name}: {_snippet(raw)} is not a number; expected a number such as "
                      f"3000 or 1.5 (digits, an optional decimal point, commas between thousands)", ls_id)
                continue
            if not math.isfinite(number):
                issue("not-a-number", f"{name}: {_snippet(raw)} is not a finite number; expected a number such as "
                      f"3000 or 1.5", ls_id)
                continue
            attrs[attribute] = number
        else:
            attrs[attribute] = raw

    # the same span labelled twice in one layer (checked once the attributes are known); a duplicate needs at
    # least the same layer, offsets and label, so the ordered check runs only when some region shares those
    if len({(reg.layer, reg.start, reg.end, reg.label) for reg in regions}) < len(regions):
        seen: dict[tuple, str] = {}
        for (layer, ls_id), reg in sorted(((reg.layer, reg.ls_id), reg) for reg in regions):
            key = (layer, reg.start, reg.end, reg.label)
            if plan.overlap[layer]:  # e.g. one claim span in two clusters: a duplicate only if nothing differs
                key += tuple(sorted((k, str(v)) for k, v in reg.attrs.items()))
            if key in seen:
                issue("duplicate-region", f"{reg.label} [{reg.start}:{reg.end}] {_snippet(text[reg.start:reg.end])} "
                      f"is annotated twice in layer {layer} (regions {seen[key]!r} and {ls_id!r})", ls_id)
            else:
                seen[key] = ls_id

    if keep_ids:
        for mine in by_layer.values():
            for reg in mine.values():
                reg.canonical_id = reg.ls_id
    else:
        _assign_ids(by_layer, plan, floor, known_ids)
    if plan.references:
        _resolve_references(by_layer, by_ls_id, rejected, plan, issue)
    doc = standoff.empty(document_id, text_sha256)
    for layer, mine in by_layer.items():
        records = doc[layer]
        extra = plan.extra_fields[layer]
        for reg in mine.values():
            if extra is None:  # an inventory whose attributes do not follow the base fields
                rec = {"id": reg.canonical_id, "start": reg.start, "end": reg.end, "text": reg.text, "label": reg.label}
                for attribute in layer_attributes(inv, layer):
                    rec[attribute] = reg.attrs.get(attribute)
                records.append({f: rec.get(f) for f in standoff.FIELDS[layer]})
                continue
            rec = {"id": reg.canonical_id, "start": reg.start, "end": reg.end, "text": reg.text, "label": reg.label}
            attrs = reg.attrs
            for f in extra:
                rec[f] = attrs.get(f)
            records.append(rec)

    doc["relations"] = _relations(relation_items, regions, by_ls_id, rejected, plan, issue, keep_ids, floor, known_ids)
    for layer in standoff.LAYERS:
        doc[layer].sort(key=standoff.sort_key(layer))
    return doc, issues


def _resolve_references(by_layer: dict[str, dict[str, _Region]], by_ls_id: dict[str, list[_Region]],
                        rejected: set[str], plan: _Plan, issue) -> None:
    """Turn each region id typed into a reference attribute (a claim's time_id) into the canonical id of the
    region it names; report an id that names no region of the layer it must name."""
    for layer, attribute, control, target in plan.references:
        pointed = by_layer[target]
        for reg in by_layer[layer].values():
            value = reg.attrs.get(attribute)
            if value is None:
                continue
            hit = pointed.get(value)
            if hit is not None:
                reg.attrs[attribute] = hit.canonical_id
                continue
            if value in rejected:
                continue  # the region it names is reported already
            others = sorted({r.layer for r in by_ls_id.get(value, [])})
            found = f"a region of layer {', '.join(others)}" if others else "no region of this annotation"
            ids = sorted(pointed, key=lambda k: (pointed[k].start, k))
            shown = ", ".join(ids[:12]) + (", …" if len(ids) > 12 else "")
            issue(f"dangling-{attribute.replace('_', '-')}",
                  f"{control}: {value!r} names {found}; expected the id of a {target} region "
                  f"({shown if ids else 'this annotation has none'})", reg.ls_id)


def _numbered(prefix: str, ident: str | None) -> int | None:
    """n when ident is prefix followed by n (decimal, no leading zero), else None."""
    if ident and ident.startswith(prefix):
        digits = ident[len(prefix):]
        if digits and digits[0] != "0" and digits.isascii() and digits.isdigit():
            return int(digits)
    return None


def _assign_ids(by_layer: dict[str, dict[str, _Region]], plan: _Plan, floor: dict | None = None,
                known: dict | None = None) -> None:
    """Keep canonical ids (prefix + number, unique in the document); number the rest in text order,
    above `floor[layer]` (the highest number ever used in the document) when given.

    Region ids are unique in a layer and a number has one spelling, so every numbered id is kept, unless
    `known` is given and does not hold it (an id of a deleted span is never reused).
    """
    for layer, mine in by_layer.items():
        prefix = plan.prefixes[layer]
        skip = len(prefix)
        used = (floor or {}).get(layer, 0)
        allowed = None if known is None else known.get(layer, set())
        fresh = []
        for reg in mine.values():  # _numbered, inlined
            ls_id = reg.ls_id
            digits = ls_id[skip:]
            if ls_id.startswith(prefix) and digits and digits[0] != "0" and digits.isascii() and digits.isdigit() \
                    and (allowed is None or ls_id in allowed):
                reg.canonical_id = ls_id
                n = int(digits)
                if n > used:
                    used = n
            else:
                fresh.append(reg)
        if fresh:
            fresh.sort(key=lambda r: (r.start, -r.end, r.label, r.ls_id))
            for reg in fresh:
                used += 1
                reg.canonical_id = f"{prefix}{used}"


def _relations(items: list[tuple[int, dict]], regions: list[_Region], by_ls_id: dict[str, list[_Region]],
               rejected: set[str], plan: _Plan, issue, keep_ids: bool = False, floor: dict | None = None,
               known: dict | None = None) -> list[dict]:
    sources, relation_types = plan.sources, plan.relation_types
    out, seen = [], {}
    for k, item in items:
        a, b = item.get("from_id"), item.get("to_id")
        labels = item.get("labels") or []
        if not isinstance(labels, list) or len(labels) != 1:
            issue("relation-label-count", f"relation {a}->{b}: a relation carries exactly one type "
                  f"({relation_types}), found {labels!r}", item.get("id"))
            continue
        rel = labels[0]
        if type(rel) is not str or rel not in sources:
            issue("unknown-relation-type", f"relation {a}->{b}: type {rel!r} is not one of {relation_types}",
                  item.get("id"))
            continue
        missing = [x for x in (a, b) if type(x) is not str or x not in by_ls_id]
        if any(type(x) is str and x in rejected for x in missing):
            continue  # its region is reported already
        if missing:
            issue("dangling-relation", f"relation {a}->{b} ({rel}): region(s) {missing} do not exist in this "
                  f"annotation", item.get("id"))
            continue
        # the direction drawn in the editor does not matter: the claim end is the relation's source
        source = sources[rel]
        src = [r for r in by_ls_id[a] if r.layer == source]
        dst = [r for r in by_ls_id[b] if r.layer != source]
        if not src or not dst:
            src = [r for r in by_ls_id[b] if r.layer == source]
            dst = [r for r in by_ls_id[a] if r.layer != source]
        if not src or not dst:
            found = sorted({r.layer for r in by_ls_id[a] + by_ls_id[b]})
            issue("relation-endpoints", f"relation {a}->{b} ({rel}): one end must be a {source} region and the "
                  f"other not; found layers {found}", item.get("id"))
            continue
        key = (src[0].canonical_id, rel, dst[0].canonical_id)
        if key in seen:
            issue("duplicate-relation", f"relation {a}->{b}: {rel} from {key[0]} to {key[2]} is drawn twice",
                  item.get("id"))
            continue
        seen[key] = True
        out.append({"id": item.get("id"), "label": rel, "from_id": key[0], "to_id": key[2], "_order": k})
    if keep_ids:
        for rec in out:
            rec["id"] = rec["id"] if isinstance(rec["id"], str) else ""
        return [{f: rec[f] for f in standoff.FIELDS["relations"]} for rec in out]
    prefix = plan.relation_prefix
    used: set[int] = set()
    fresh = []
    for rec in sorted(out, key=lambda r: str(r["id"])):
        n = _numbered(prefix, rec["id"] if isinstance(rec["id"], str) else None)
        if n is not None and known is not None and rec["id"] not in known.get("relations", set()):
            n = None  # an id the document does not hold now (e.g. of a deleted relation) is never reused
        if n is not None and n not in used:
            used.add(n)
        else:
            fresh.append(rec)
    if fresh:
        # new relations: numbered by their claim's position in the text, then relation type order, then target
        position = {reg.canonical_id: (reg.start, -reg.end, reg.label) for reg in regions}
        order = plan.relation_order
        nxt = max(max(used, default=0), (floor or {}).get("relations", 0))
        for rec in sorted(fresh, key=lambda r: (position[r["from_id"]], r["from_id"], order[r["label"]],
                                                position[r["to_id"]], r["to_id"])):
            nxt += 1
            rec["id"] = f"{prefix}{nxt}"
    return [{f: rec[f] for f in standoff.FIELDS["relations"]} for rec in out]


# ---------------------------------------------------------------- new table keys proposed in Label Studio

@dataclass(frozen=True)
class Proposal:
    """A new key of a cross-document table, proposed in one region of one annotation (see config.PROPOSALS)."""

    table: str  # "entities" or "clusters"
    key: str  # the entity id or cluster id
    row: dict  # the table row without its key: {"name", "label"} or {"proposition"}
    document_id: str
    region: str  # the Label Studio region id
    where: dict = field(default_factory=dict, compare=False)  # file, task, annotator, ...


def describe_row(table: str, row: dict) -> str:
    """A table row as messages show it: 'Harbour City' (GPE), or the proposition."""
    if table == "entities":
        return f"{_snippet(row.get('name'), 80)} ({row.get('label')})"
    return _snippet(row.get("proposition"), 80)


def _typed_text(texts) -> tuple[str | None, str | None]:
    """(the one text of a TextArea item or None when empty, the test id of what is wrong with it or None)."""
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        return None, "malformed-item"
    found = [t.strip() for t in texts if t.strip()]
    if len(found) > 1:
        return None, "value-count"
    return (found[0] if found else None), None


def read_proposals(result, document_id: str, inv: Inventory, where: dict | None = None
                   ) -> tuple[list[Proposal], list[Issue]]:
    """The new entities and clusters proposed in one Label Studio result, and what is wrong with them.

    A proposal is the text of a proposal control (config.PROPOSALS) on a region: the key is what the region's
    key attribute holds (its entity_id, its cluster_id), which must have the form of a table key; a new entity's
    label is the region's label. White space inside the text is collapsed to single spaces. Items that are
    malformed in other ways are left to from_result, which reports them.
    """
    where = dict(where or {})
    issues: list[Issue] = []

    def issue(test_id: str, message: str, region: str, severity: str = "error") -> None:
        issues.append(Issue(severity, test_id, message, document_id, region, where))

    keys = _plan(inv).proposal_controls
    if not keys or not isinstance(result, list):
        return [], issues
    key_controls = {attribute_control(k.layer, k.attribute): k for k in keys.values()}
    layers = {k.layer for k in keys.values()}
    labels: dict[tuple[str, str], str | None] = {}  # (layer, region) -> its label (None: not a known label)
    typed: dict[tuple[str, str], str] = {}  # (control, region) -> the text typed
    for item in result:
        if not isinstance(item, dict) or item.get("type") == "relation":
            continue
        ls_id, name, value = item.get("id"), item.get("from_name"), item.get("value")
        if not isinstance(ls_id, str) or type(name) is not str or not isinstance(value, dict):
            continue
        if name in layers and item.get("type") == "labels":
            found = value.get("labels")
            label = found[0] if isinstance(found, list) and len(found) == 1 else None
            labels[(name, ls_id)] = label if type(label) is str and label in inv.labels(name) else None
        elif name in keys or name in key_controls:
            text, problem = _typed_text(value.get("text"))
            if problem and name in keys:  # the key controls are from_result's to report
                issue(problem, f"{name}: one text (a list of one string) expected, found {value.get('text')!r}",
                      ls_id)
            if text is None:
                continue
            typed[(name, ls_id)] = " ".join(text.split()) if name in keys else text
    out: list[Proposal] = []
    for (control, ls_id), text in typed.items():
        key: NewKey | None = keys.get(control)
        if key is None:
            continue
        what = "entity" if key.table == "entities" else "cluster"
        attribute = attribute_control(key.layer, key.attribute)
        if (key.layer, ls_id) not in labels:
            issue("value-without-region", f"{control} value belongs to region {ls_id!r}, but layer {key.layer} has "
                  f"no region with that id", ls_id)
            continue
        label = labels[(key.layer, ls_id)]
        if label is None:
            continue  # the region's label is reported by from_result
        ident = typed.get((attribute, ls_id))
        if ident is None:
            issue("proposal-without-id", f"{control}: {_snippet(text, 60)} proposes a new {what}, but the region's "
                  f"{attribute_title(key.attribute)} ({attribute}) is empty; type the new id there "
                  f"({tables.KEY_FORM})", ls_id)
            continue
        if not tables.is_key(ident):
            issue("proposal-id-pattern", f"{attribute}: the new {what} id {_snippet(ident)} does not match "
                  f"{tables.KEY_PATTERN.pattern}; expected {tables.KEY_FORM}", ls_id)
            continue
        row = {key.field: text, "label": label} if key.table == "entities" else {key.field: text}
        out.append(Proposal(key.table, ident, row, document_id, ls_id, where))
    out.sort(key=lambda p: (p.table, p.key, p.region))
    return out, issues


def add_proposals(found: list[Proposal], current: dict[str, dict[str, dict]]
                  ) -> tuple[dict[str, dict[str, dict]], list[Proposal], list[Issue]]:
    """(tables with the proposals added, the proposals that add a key, issues); pure.

    `current` maps "entities" and "clusters" to their tables. A proposal of a key the table holds with the same
    row adds nothing; with another row it is an error naming both, as are two proposals of one key that differ.
    A new key whose name (or proposition) the table already holds under another key gets a warning.
    """
    out = {name: dict(table) for name, table in current.items()}
    added: list[Proposal] = []
    issues: list[Issue] = []
    kinds = {key.table: key for key in PROPOSALS}
    first: dict[tuple[str, str], Proposal] = {}
    for p in found:
        what = "entity" if p.table == "entities" else "cluster"
        table = out.setdefault(p.table, {})
        kind = kinds.get(p.table)
        file, title = (kind.table_file, kind.title) if kind else (p.table, "the proposal field")

        def issue(test_id: str, message: str, severity: str = "error", p=p) -> None:
            issues.append(Issue(severity, test_id, message, p.document_id, p.region, p.where))

        earlier = first.get((p.table, p.key))
        if earlier is not None:
            if earlier.row != p.row:
                issue("proposal-conflict", f"new {what} {p.key!r} is proposed as {describe_row(p.table, p.row)} here "
                      f"and as {describe_row(p.table, earlier.row)} in Doc {earlier.document_id} Region "
                      f"{earlier.region}; expected one {'name and label' if p.table == 'entities' else 'proposition'}"
                      f" per id: make them agree")
            continue
        first[(p.table, p.key)] = p
        existing = current.get(p.table, {}).get(p.key)
        if existing is not None:
            if {k: existing.get(k) for k in p.row} != p.row:
                issue("proposal-conflict", f"new {what} {p.key!r} is proposed as {describe_row(p.table, p.row)}, but "
                      f"{file} has {p.key!r} as {describe_row(p.table, existing)}; empty '{title}' to use the "
                      f"table's entry, or type another id for another {what}")
            continue
        field_name = "name" if p.table == "entities" else "proposition"
        same = sorted(k for k, row in current.get(p.table, {}).items()
                      if isinstance(row, dict) and row.get(field_name) == p.row.get(field_name))
        if same:
            issue("proposal-known-name", f"new {what} {p.key!r}: {file} already has {describe_row(p.table, p.row)} "
                  f"as {same[0]!r}; if it is the same {what}, use that id", severity="warning")
        table[p.key] = dict(p.row)
        added.append(p)
    return out, added, issues

