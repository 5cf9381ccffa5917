"""The base a Label Studio project was set up from, and the three-way merge of `pull`.

`annotate` records, per document, the exact state it pushed (the *base*: the
canonical document loaded as the task's annotation, or an empty one when only
pre-annotations were loaded), with the hash of that base, the highest id
number ever used in the document per layer, and the relations of the
pre-annotation. The record lives in ``labelstudio-data/pactnews-base.json``
(git-ignored, beside the Label Studio database it describes).

`pull` reads Label Studio's result with the region ids Label Studio holds
(``from_result(keep_ids=True)``), computes the annotator's changes as that
result minus the base, and applies only those to the repository's current
file. A span Label Studio changed that the repository also changed since the
base is a conflict. Once a pull is written, the result becomes the new base,
with the canonical id each Label Studio region was given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from pactnews.annotations import standoff
from ..repo import Layout
from ..files import sha256_text
from .config import REFERENCES

STATE_FORMAT = "pactnews-labelstudio-base"
STATE_VERSION = 1
STATE_NAME = "pactnews-base.json"
SHARE = 0.20  # more than this share of a document's spans (and more than one) deleted needs consent


class StateError(ValueError):
    """A base record that cannot be trusted; the message is one line."""


def state_path(layout: Layout) -> Path:
    return layout.root / "labelstudio-data" / STATE_NAME


def base_hash(doc: dict) -> str:
    return sha256_text(standoff.dumps(doc))


def read_state(layout: Layout) -> dict:
    """document id -> entry; {} when nothing was recorded."""
    path = state_path(layout)
    if not path.is_file():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StateError(f"{path}: the recorded base cannot be read ({exc}); run `pactnews annotate` again") from exc
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT or not isinstance(data.get("documents"), dict):
        raise StateError(f"{path}: not a base record of pactnews ({STATE_FORMAT}); remove it or run `pactnews annotate`")
    docs = data["documents"]
    for doc_id, entry in docs.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("base"), dict) \
                or entry.get("base_sha256") != base_hash(entry["base"]):
            raise StateError(f"{path}: the base of document {doc_id} does not match its hash (the file was edited "
                             "or damaged); nothing can be merged safely; run `pactnews annotate` again")
    return docs


def dump_state(docs: dict) -> bytes:
    return orjson.dumps({"format": STATE_FORMAT, "version": STATE_VERSION, "documents": docs},
                        option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def numbered(prefix: str, ident) -> int:
    if isinstance(ident, str) and ident.startswith(prefix):
        digits = ident[len(prefix):]
        if digits and digits[0] != "0" and digits.isascii() and digits.isdigit():
            return int(digits)
    return 0


def highest_ids(doc: dict | None, inv, before: dict | None = None) -> dict:
    """layer -> the highest id number in a document (and in `before`)."""
    out = dict(before or {})
    for layer in standoff.LAYERS:
        prefix = inv.id_prefix(layer)
        top = max((numbered(prefix, r.get("id")) for r in (doc or {}).get(layer, [])), default=0)
        out[layer] = max(out.get(layer, 0), top)
    return out


def new_entry(base: dict, text_sha256: str, inv, gold: dict | None, prediction_relations: list | None = None,
              previous: dict | None = None) -> dict:
    """The record of one pushed document."""
    before = (previous or {}).get("highest")
    return {"text_sha256": text_sha256, "base": base, "base_sha256": base_hash(base), "ids": {},
            "highest": highest_ids(base, inv, highest_ids(gold, inv, before)),
            "prediction_relations": prediction_relations or []}


# ------------------------------------------------------------------ the merge

@dataclass
class Merge:
    doc: dict | None = None  # the merged document, None when Label Studio changed nothing
    touched: bool = False  # Label Studio's result differs from the base
    conflicts: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # spans Label Studio deleted (described)
    base_spans: int = 0
    deleted_relations: list[str] = field(default_factory=list)  # relations dropped whose ends both remain
    base_relations: int = 0
    entry: dict | None = None  # the record after this pull


def _span(rec: dict) -> str:
    return f"{rec['id']} [{rec['start']}:{rec['end']}] {rec['label']} {rec['text']!r}"


def _show(layer: str, rec: dict | None) -> str:
    if rec is None:
        return "deleted"
    extra = {k: v for k, v in rec.items() if k not in ("id", "start", "end", "text", "label") and v is not None}
    return f"[{rec['start']}:{rec['end']}] {rec['label']} {rec['text']!r}" + (f" {extra}" if extra else "")


def _references(layer: str) -> list[tuple[str, str]]:
    return [(attribute, target) for (lay, attribute), target in REFERENCES.items() if lay == layer]


def _layer_order() -> list[str]:
    """Span layers, the layers a reference attribute names first."""
    targets = {t for (_, _), t in REFERENCES.items()}
    return sorted(standoff.SPAN_LAYERS, key=lambda lay: (lay not in targets, standoff.SPAN_LAYERS.index(lay)))


def three_way(base: dict, theirs: dict, current: dict | None, entry: dict, inv, text_sha256: str) -> Merge:
    """Apply Label Studio's changes (theirs minus base, both keyed by Label Studio region id) to `current`."""
    out = Merge()
    current = current or standoff.empty(theirs["document_id"], text_sha256)
    idmap: dict[str, str] = dict(entry.get("ids") or {})  # "layer/region id" -> canonical id
    highest = highest_ids(current, inv, entry.get("highest"))
    ls_to_cid: dict[str, str] = {}  # region id -> canonical id (relations name regions by region id only)

    def cid(layer: str, ls_id: str) -> str:
        return idmap.get(f"{layer}/{ls_id}", ls_id)

    def canon(layer: str, rec: dict, mapping) -> dict:
        new = dict(rec)
        new["id"] = mapping(layer, rec["id"])
        for attribute, target in _references(layer):
            if new.get(attribute) is not None:
                new[attribute] = mapping(target, new[attribute])
        return new

    merged = {layer: {r["id"]: dict(r) for r in current.get(layer, [])} for layer in standoff.SPAN_LAYERS}
    touched = False
    assigned: dict[str, str] = {}  # "layer/region id" -> canonical id, for this pull
    for layer in _layer_order():
        b_ls = {r["id"]: r for r in base.get(layer, [])}
        t_ls = {r["id"]: r for r in theirs.get(layer, [])}
        out.base_spans += len(b_ls)

        def mapping(lay, ls_id):
            return assigned.get(f"{lay}/{ls_id}") or cid(lay, ls_id)

        for ls_id in b_ls:
            assigned[f"{layer}/{ls_id}"] = cid(layer, ls_id)
        # spans of the base: changed, deleted or left as they were in Label Studio
        for ls_id, b_rec in b_ls.items():
            c_id = assigned[f"{layer}/{ls_id}"]
            b = canon(layer, b_rec, mapping)
            t = canon(layer, t_ls[ls_id], mapping) if ls_id in t_ls else None
            if t == b:
                continue
            touched = True
            if t is None:
                out.deleted.append(f"{layer} {_span(b)}")
            c = merged[layer].get(c_id)
            if c == b:
                if t is None:
                    del merged[layer][c_id]
                else:
                    merged[layer][c_id] = t
            elif c != t:
                out.conflicts.append(
                    f"{layer} {c_id}: changed in Label Studio to {_show(layer, t)} and in the repository to "
                    f"{_show(layer, c)} since the base {_show(layer, b)}")
        # spans Label Studio added: an identical span already in the file is that span; the rest get fresh ids
        prefix = inv.id_prefix(layer)
        added = sorted((r for ls_id, r in t_ls.items() if ls_id not in b_ls),
                       key=lambda r: (r["start"], -r["end"], r["label"], r["id"]))
        for t_rec in added:
            touched = True
            t = canon(layer, t_rec, mapping)
            same = next((k for k, c in merged[layer].items()
                         if {**c, "id": None} == {**t, "id": None} and k not in assigned.values()), None)
            if same is None:
                highest[layer] = highest.get(layer, 0) + 1
                same = f"{prefix}{highest[layer]}"
                merged[layer][same] = {**t, "id": same}
            assigned[f"{layer}/{t_rec['id']}"] = same
        for key, value in assigned.items():
            if key.startswith(layer + "/"):
                ls_to_cid.setdefault(key[len(layer) + 1:], value)

    # relations, by (from, type, to) over canonical ids
    def rel_key(r):
        return (ls_to_cid.get(r["from_id"], r["from_id"]), r["label"], ls_to_cid.get(r["to_id"], r["to_id"]))

    b_rel = {rel_key(r) for r in base.get("relations", [])}
    t_rel = {rel_key(r) for r in theirs.get("relations", [])}
    out.base_relations = len(b_rel)
    alive = {k for layer in standoff.SPAN_LAYERS for k in merged[layer]}
    theirs_alive = {ls_to_cid.get(r["id"], r["id"]) for layer in standoff.SPAN_LAYERS for r in theirs.get(layer, [])}
    rels = list(current.get("relations", []))
    gone = b_rel - t_rel
    if gone or t_rel - b_rel:
        touched = True
    for key in sorted(gone):
        if key[0] in theirs_alive and key[2] in theirs_alive:
            out.deleted_relations.append(f"{key[0]} -{key[1]}-> {key[2]}")
    rels = [r for r in rels if (r["from_id"], r["label"], r["to_id"]) not in gone]
    have = {(r["from_id"], r["label"], r["to_id"]) for r in rels}
    r_prefix = inv.id_prefix("relations")
    position = {k: (r["start"], -r["end"], r["label"]) for layer in standoff.SPAN_LAYERS
                for k, r in merged[layer].items()}
    order = {rel: i for i, rel in enumerate(inv.relation_types)}
    far = (float("inf"), 0, "")

    def text_order(key):  # as new relations are numbered on a first import: by claim, type, then target
        return (position.get(key[0], far), key[0], order.get(key[1], len(order)), position.get(key[2], far), key[2])

    for key in sorted(t_rel - b_rel, key=text_order):
        if key in have:
            continue
        highest["relations"] = highest.get("relations", 0) + 1
        rels.append({"id": f"{r_prefix}{highest['relations']}", "label": key[1], "from_id": key[0], "to_id": key[2]})
    del alive
    out.touched = touched
    if touched:
        doc = standoff.empty(current["document_id"], text_sha256)
        for layer in standoff.SPAN_LAYERS:
            doc[layer] = sorted(merged[layer].values(), key=standoff.sort_key(layer))
        doc["relations"] = sorted(rels, key=standoff.sort_key("relations"))
        out.doc = doc
    ids = {k: v for k, v in assigned.items() if k.split("/", 1)[1] != v}
    out.entry = {**entry, "base": theirs, "base_sha256": base_hash(theirs), "ids": ids,
                 "highest": highest_ids(out.doc, inv, highest), "text_sha256": text_sha256}
    return out


def count_spans(doc: dict | None) -> int:
    return sum(len((doc or {}).get(layer, [])) for layer in standoff.SPAN_LAYERS)


def two_way_deletions(old: dict | None, new: dict) -> tuple[list[str], list[str]]:
    """(spans, relations) of `old` that `new` drops: a span neither kept by id nor by position and label;
    a relation whose two ends remain."""
    if not old:
        return [], []
    spans = []
    for layer in standoff.SPAN_LAYERS:
        ids = {r["id"] for r in new.get(layer, [])}
        where = {(r["start"], r["end"], r["label"]) for r in new.get(layer, [])}
        spans += [f"{layer} {_span(r)}" for r in old.get(layer, [])
                  if r["id"] not in ids and (r["start"], r["end"], r["label"]) not in where]
    alive = {r["id"] for layer in standoff.SPAN_LAYERS for r in new.get(layer, [])}
    keys = {(r["from_id"], r["label"], r["to_id"]) for r in new.get("relations", [])}
    rels = [f"{r['from_id']} -{r['label']}-> {r['to_id']}" for r in old.get("relations", [])
            if (r["from_id"], r["label"], r["to_id"]) not in keys and r["from_id"] in alive and r["to_id"] in alive]
    return spans, rels


def too_many(deleted: int, total: int) -> bool:
    return deleted > 1 and deleted > SHARE * total
