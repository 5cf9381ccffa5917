"""Canonical standoff document <-> Label Studio result list (pure functions).

A span becomes one ``labels`` item whose ``id`` is the span id and whose
``from_name`` is the layer; each non-null attribute becomes a ``textarea`` or
``choices`` item with the same id and ``from_name`` ``<layer>_<attribute>``; a
relation becomes a ``relation`` item that also carries the canonical relation
id (Label Studio keeps unknown keys of imported results; regions and
relations drawn in the editor arrive without canonical ids and get the next
free number, in text order).

Offsets are Unicode code points over the clean text. ``value.text`` is
informative: start/end are authoritative and a differing ``value.text`` is
reported as a warning.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa

from .. import standoff
from ..flatten import arrow_schema
from ..inventory import SPAN_LAYERS, Inventory
from .config import TEXT_NAME, attribute_control, controls, is_choice, layer_attributes


@dataclass(frozen=True)
class Issue:
    """One problem found while reading Label Studio results: data, not a print."""

    severity: str  # "error" | "warning"
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


# ---------------------------------------------------------------- canonical -> Label Studio

def to_result(doc: dict, text: str, inv: Inventory) -> list[dict]:
    """The Label Studio result list of one canonical document (deterministic order)."""
    out: list[dict] = []
    for layer in SPAN_LAYERS:
        attributes = layer_attributes(inv, layer)
        for span in sorted(doc.get(layer, []), key=standoff.sort_key(layer)):
            start, end = span["start"], span["end"]
            out.append({
                "id": span["id"], "from_name": layer, "to_name": TEXT_NAME, "type": "labels",
                "value": {"start": start, "end": end, "text": text[start:end], "labels": [span["label"]]},
            })
            for attribute in attributes:
                value = span.get(attribute)
                if value is None:
                    continue
                item = {"id": span["id"], "from_name": attribute_control(layer, attribute),
                        "to_name": TEXT_NAME}
                if is_choice(inv, attribute):
                    item["type"] = "choices"
                    item["value"] = {"start": start, "end": end, "choices": [value]}
                else:
                    item["type"] = "textarea"
                    item["value"] = {"start": start, "end": end, "text": [format_value(value)]}
                out.append(item)
    for rel in sorted(doc.get("relations", []), key=standoff.sort_key("relations")):
        out.append({"id": rel["id"], "from_id": rel["from_id"], "to_id": rel["to_id"],
                    "type": "relation", "direction": "right", "labels": [rel["label"]]})
    return out


# ---------------------------------------------------------------- Label Studio -> canonical

@dataclass
class _Region:
    ls_id: str
    layer: str
    start: int
    end: int
    label: str
    attrs: dict = field(default_factory=dict)
    canonical_id: str | None = None


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
                where: dict | None = None) -> tuple[dict, list[Issue]]:
    """A canonical document from one Label Studio result list, and the problems found.

    Every problem is reported (not only the first); the document is only
    meaningful when no issue has severity "error".
    """
    where = dict(where or {})
    issues: list[Issue] = []

    def issue(test_id: str, message: str, region: str | None = None, severity: str = "error") -> None:
        issues.append(Issue(severity, test_id, message, document_id, region, where))

    known = controls(inv)
    if not isinstance(result, list):
        issue("result-not-a-list", f"the annotation result must be a list, found {type(result).__name__}")
        return standoff.empty(document_id, text_sha256), issues
    regions: dict[tuple[str, str], _Region] = {}
    rejected: set[str] = set()  # ids of regions already reported: their values and relations are not
    value_items: list[tuple[int, dict, str, str]] = []
    relation_items: list[tuple[int, dict]] = []
    for k, item in enumerate(result):
        if not isinstance(item, dict):
            issue("malformed-item", f"result item {k} must be an object, found {item!r}")
            continue
        kind = item.get("type")
        if kind == "relation":
            relation_items.append((k, item))
            continue
        ls_id, name = item.get("id"), item.get("from_name")
        rid = f"{ls_id}" if ls_id is not None else f"#{k}"
        if not isinstance(ls_id, str) or not ls_id:
            issue("missing-region-id", f"result item {k} ({kind}, {name}) has no region id", rid)
            continue
        if name not in known:
            issue("unknown-control", f"from_name {name!r} is not a control of the labeling config; "
                  f"expected one of {sorted(known)}", rid)
            rejected.add(ls_id)
            continue
        if item.get("to_name", TEXT_NAME) != TEXT_NAME:
            issue("unknown-object", f"to_name {item.get('to_name')!r}; expected {TEXT_NAME!r}", rid)
            continue
        layer, attribute = known[name]
        value = item.get("value")
        if not isinstance(value, dict):
            issue("malformed-item", f"{name}: value must be an object, found {value!r}", rid)
            continue
        if attribute is not None:
            value_items.append((k, item, layer, attribute))
            continue
        if kind != "labels":
            issue("wrong-item-type", f"{name}: type {kind!r}; expected 'labels'", rid)
            rejected.add(ls_id)
            continue
        labels = value.get("labels")
        if not isinstance(labels, list) or len(labels) != 1:
            issue("label-count", f"{name}: a region carries exactly one label, found {labels!r}", rid)
            rejected.add(ls_id)
            continue
        label = labels[0]
        if label not in inv.labels(layer):
            issue("unknown-label", f"{name}: label {label!r} is not in the inventory; expected one of "
                  f"{inv.labels(layer)}", rid)
            rejected.add(ls_id)
            continue
        offsets = _offsets(value, text)
        if isinstance(offsets, str):
            issue("offset-out-of-range", f"{name} {label}: {offsets}", rid)
            rejected.add(ls_id)
            continue
        start, end = offsets
        if "text" in value and value["text"] != text[start:end]:
            issue("region-text-mismatch",
                  f"{label} [{start}:{end}]: value.text is {_snippet(str(value['text']))} but the clean text there is "
                  f"{_snippet(text[start:end])}; the offsets are kept", rid, severity="warning")
        if (layer, ls_id) in regions:
            issue("duplicate-region", f"region id {ls_id!r} is used twice in layer {layer}", rid)
            continue
        regions[(layer, ls_id)] = _Region(ls_id, layer, start, end, label)

    for k, item, layer, attribute in value_items:
        ls_id, name, value, kind = item["id"], item["from_name"], item["value"], item.get("type")
        reg = regions.get((layer, ls_id))
        if reg is None and ls_id in rejected:
            continue
        if reg is None:
            issue("value-without-region", f"{name} value belongs to region {ls_id!r}, but layer {layer} has no "
                  f"region with that id", ls_id)
            continue
        if attribute in reg.attrs:
            issue("duplicate-value", f"{name}: region has two values", ls_id)
            continue
        if is_choice(inv, attribute):
            if kind != "choices":
                issue("wrong-item-type", f"{name}: type {kind!r}; expected 'choices'", ls_id)
                continue
            chosen = value.get("choices")
            if not isinstance(chosen, list) or len(chosen) != 1:
                issue("value-count", f"{name}: exactly one choice expected, found {chosen!r}", ls_id)
                continue
            if chosen[0] not in inv.values(attribute):
                issue("unknown-choice", f"{name}: {chosen[0]!r} is not one of {inv.values(attribute)}", ls_id)
                continue
            reg.attrs[attribute] = chosen[0]
            continue
        if kind != "textarea":
            issue("wrong-item-type", f"{name}: type {kind!r}; expected 'textarea'", ls_id)
            continue
        texts = value.get("text")
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
        if _is_float(layer, attribute):
            try:
                number = float(raw.replace(",", ""))
            except ValueError:
                issue("not-a-number", f"{name}: {raw!r} is not a number", ls_id)
                continue
            if not math.isfinite(number):
                issue("not-a-number", f"{name}: {raw!r} is not a finite number", ls_id)
                continue
            reg.attrs[attribute] = number
        else:
            reg.attrs[attribute] = raw

    # the same span labelled twice in one layer (checked once the attributes are known)
    seen: dict[tuple, str] = {}
    for (layer, ls_id), reg in sorted(regions.items()):
        key = (layer, reg.start, reg.end, reg.label)
        if inv.overlap_allowed(layer):  # e.g. one claim span in two clusters: a duplicate only if nothing differs
            key += tuple(sorted((k, str(v)) for k, v in reg.attrs.items()))
        if key in seen:
            issue("duplicate-region", f"{reg.label} [{reg.start}:{reg.end}] {_snippet(text[reg.start:reg.end])} "
                  f"is annotated twice in layer {layer} (regions {seen[key]!r} and {ls_id!r})", ls_id)
        else:
            seen[key] = ls_id

    _assign_ids(regions, inv)
    doc = standoff.empty(document_id, text_sha256)
    for reg in regions.values():
        rec = {"id": reg.canonical_id, "start": reg.start, "end": reg.end, "text": text[reg.start:reg.end],
               "label": reg.label}
        for attribute in layer_attributes(inv, reg.layer):
            rec[attribute] = reg.attrs.get(attribute)
        doc[reg.layer].append({f: rec.get(f) for f in standoff.FIELDS[reg.layer]})

    doc["relations"] = _relations(relation_items, regions, rejected, inv, issue)
    for layer in standoff.LAYERS:
        doc[layer].sort(key=standoff.sort_key(layer))
    return doc, issues


def _numbered(prefix: str, ident: str | None) -> int | None:
    m = re.fullmatch(re.escape(prefix) + r"([1-9][0-9]*)", ident or "")
    return int(m.group(1)) if m else None


def _assign_ids(regions: dict[tuple[str, str], _Region], inv: Inventory) -> None:
    """Keep canonical ids (prefix + number, unique in the document); number the rest in text order."""
    for layer in SPAN_LAYERS:
        prefix = inv.id_prefix(layer)
        mine = [r for (lay, _), r in regions.items() if lay == layer]
        used: set[int] = set()
        fresh = []
        for reg in sorted(mine, key=lambda r: r.ls_id):
            n = _numbered(prefix, reg.ls_id)
            if n is not None and n not in used:
                used.add(n)
                reg.canonical_id = reg.ls_id
            else:
                fresh.append(reg)
        nxt = max(used, default=0)
        for reg in sorted(fresh, key=lambda r: (r.start, -r.end, r.label, r.ls_id)):
            nxt += 1
            reg.canonical_id = f"{prefix}{nxt}"


def _relations(items: list[tuple[int, dict]], regions: dict[tuple[str, str], _Region], rejected: set[str],
               inv: Inventory, issue) -> list[dict]:
    by_ls_id: dict[str, list[_Region]] = {}
    for (_, ls_id), reg in regions.items():
        by_ls_id.setdefault(ls_id, []).append(reg)
    sources = {rel: inv.raw["relations"]["types"][rel]["from"] for rel in inv.relation_types}
    out, seen = [], {}
    for k, item in items:
        a, b = item.get("from_id"), item.get("to_id")
        name = f"relation {a}->{b}"
        labels = item.get("labels") or []
        if not isinstance(labels, list) or len(labels) != 1:
            issue("relation-label-count", f"{name}: a relation carries exactly one type "
                  f"({inv.relation_types}), found {labels!r}", item.get("id"))
            continue
        rel = labels[0]
        if rel not in sources:
            issue("unknown-relation-type", f"{name}: type {rel!r} is not one of {inv.relation_types}", item.get("id"))
            continue
        missing = [x for x in (a, b) if x not in by_ls_id]
        if any(x in rejected for x in missing):
            continue  # its region is reported already
        if missing:
            issue("dangling-relation", f"{name} ({rel}): region(s) {missing} do not exist in this annotation",
                  item.get("id"))
            continue
        # the direction drawn in the editor does not matter: the claim end is the relation's source
        src = [r for r in by_ls_id[a] if r.layer == sources[rel]]
        dst = [r for r in by_ls_id[b] if r.layer != sources[rel]]
        if not src or not dst:
            src = [r for r in by_ls_id[b] if r.layer == sources[rel]]
            dst = [r for r in by_ls_id[a] if r.layer != sources[rel]]
        if not src or not dst:
            found = sorted({r.layer for r in by_ls_id[a] + by_ls_id[b]})
            issue("relation-endpoints", f"{name} ({rel}): one end must be a {sources[rel]} region and the other "
                  f"not; found layers {found}", item.get("id"))
            continue
        key = (src[0].canonical_id, rel, dst[0].canonical_id)
        if key in seen:
            issue("duplicate-relation", f"{name}: {rel} from {key[0]} to {key[2]} is drawn twice", item.get("id"))
            continue
        seen[key] = True
        out.append({"id": item.get("id"), "label": rel, "from_id": key[0], "to_id": key[2], "_order": k})
    prefix = inv.id_prefix("relations")
    used: set[int] = set()
    fresh = []
    for rec in sorted(out, key=lambda r: str(r["id"])):
        n = _numbered(prefix, rec["id"] if isinstance(rec["id"], str) else None)
        if n is not None and n not in used:
            used.add(n)
        else:
            fresh.append(rec)
    # new relations: numbered by their claim's position in the text, then relation type order, then target
    position = {reg.canonical_id: (reg.start, -reg.end, reg.label) for reg in regions.values()}
    order = {rel: i for i, rel in enumerate(inv.relation_types)}
    nxt = max(used, default=0)
    for rec in sorted(fresh, key=lambda r: (position[r["from_id"]], r["from_id"], order[r["label"]],
                                            position[r["to_id"]], r["to_id"])):
        nxt += 1
        rec["id"] = f"{prefix}{nxt}"
    return [{f: rec[f] for f in standoff.FIELDS["relations"]} for rec in out]
