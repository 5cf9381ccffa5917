"""The label inventory (schemas/labels.yaml): what the code asks of it, checked before any other check runs."""
from __future__ import annotations

import re

from pactnews.annotations import standoff
from pactnews.corpus.readers import CorpusError, load_yaml
from pactnews.inventory import Inventory
from pactnews.repo import Confinement, Layout, UnsafePath
from pactnews.validate.incidents import Incident, _rel, _short, incident


# The roles of schemas/labels.yaml the code asks for (Inventory.role, Inventory.value_role): a label role names
# a label of its layer, a relation role a relation type, and each value role a value of its attribute.
LABEL_ROLES = {"source_label": "attributions", "cue_label": "attributions", "claim_label": "claims"}
RELATION_ROLES = ("source_relation", "cue_relation")
VALUE_ROLES = {
    "source_type": ("entity", "unnamed", "implicit", "author"),
    "factuality": ("asserted", "hedged", "uncommitted", "denied"),
    "modality": ("actual", "expected"),
    "author_stance": ("none",),
    "quantity_approximation": ("exact", "approximate", "at_least", "at_most", "range"),
    "conflict_origin": ("detected", "annotated"),
    "conflict_status": ("kept", "dismissed"),
    "conflict_type": ("figure", "polarity", "attribution", "time"),
}
_CONFLICT_SECTIONS = {"conflict_origin": "origins", "conflict_status": "status", "conflict_type": "types"}


def inventory_problems(raw) -> list[tuple[str, str, str]]:
    """(where, found, expected) of each thing the code needs from schemas/labels.yaml that `raw` lacks."""
    if not isinstance(raw, dict):
        return [("the file", type(raw).__name__, "a mapping")]
    out: list[tuple[str, str, str]] = []

    def need(obj, key: str, where: str, kind=dict):
        value = obj.get(key) if isinstance(obj, dict) else None
        names = {dict: "a non-empty mapping", str: "a string", list: "a non-empty list"}
        if not isinstance(value, kind) or (kind is not str and not value) or (
                kind is dict and not all(isinstance(k, str) for k in value)):
            out.append((f"{where}{key}", _short(value), names[kind] + (" with string keys" if kind is dict else "")))
            return None
        return value

    layers = need(raw, "layers", "") or {}
    labels = {}
    for layer in standoff.SPAN_LAYERS:
        spec = need(layers, layer, "layers.") if layers else None
        if spec is None:
            continue
        labels[layer] = need(spec, "labels", f"layers.{layer}.") or {}
        prefix = need(spec, "id_prefix", f"layers.{layer}.", str)
        if prefix is not None and not re.fullmatch(r"[A-Za-z]+", prefix):
            out.append((f"layers.{layer}.id_prefix", _short(prefix), "letters (an id is the prefix and a number)"))
        if spec.get("overlap") not in ("allowed", "forbidden"):
            out.append((f"layers.{layer}.overlap", _short(spec.get("overlap")), "'allowed' or 'forbidden'"))
    relations = need(raw, "relations", "") or {}
    if relations:
        need(relations, "id_prefix", "relations.", str)
    types = need(relations, "types", "relations.") if relations else None
    for name, spec in (types or {}).items():
        where = f"relations.types.{name}"
        if not isinstance(spec, dict) or spec.get("from") not in standoff.SPAN_LAYERS:
            out.append((f"{where}.from", _short(spec.get("from") if isinstance(spec, dict) else spec),
                        f"one of {list(standoff.SPAN_LAYERS)}"))
            continue
        targets = spec.get("to")
        bad = [t for t in targets or [] if not isinstance(t, str) or t.partition(":")[0] not in labels
               or (t.partition(":")[2] and t.partition(":")[2] not in labels[t.partition(":")[0]])] \
            if isinstance(targets, list) else None
        if not targets or bad:
            out.append((f"{where}.to", _short(bad or targets), "a list of 'layer' or 'layer:LABEL' of the inventory"))
    values = raw.get("values")
    if not isinstance(values, dict):
        out.append(("values", _short(values), "a mapping of attribute to values"))
        values = {}
    for attribute, allowed in values.items():
        if not isinstance(allowed, dict) or not allowed or not all(isinstance(v, str) for v in allowed):
            out.append((f"values.{attribute}", _short(allowed), "a non-empty mapping of value to description"))
    pattern = need(raw, "timex_value_pattern", "", str)
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            out.append(("timex_value_pattern", _short(pattern), f"a regular expression ({exc})"))
    conflicts = need(raw, "conflicts", "") or {}
    for section in ("types", "origins", "status"):
        if conflicts:
            need(conflicts, section, "conflicts.")
    roles = need(raw, "roles", "") or {}
    for role, layer in LABEL_ROLES.items():
        if roles and roles.get(role) not in labels.get(layer, {}):
            out.append((f"roles.{role}", _short(roles.get(role)), f"a label of layers.{layer}"))
    for role in RELATION_ROLES:
        if roles and roles.get(role) not in (types or {}):
            out.append((f"roles.{role}", _short(roles.get(role)), "a type of relations.types"))
    for attribute, names in VALUE_ROLES.items():
        section = _CONFLICT_SECTIONS.get(attribute)
        allowed = (conflicts.get(section) if section else values.get(attribute)) or {}
        given = roles.get(attribute) if roles else None
        for name in names:
            found = given.get(name) if isinstance(given, dict) else None
            if roles and (not isinstance(found, str) or found not in allowed):
                home = f"conflicts.{section}" if section else f"values.{attribute}"
                out.append((f"roles.{attribute}.{name}", _short(found), f"a value of {home}"))
    if not out:  # the shape holds: the generated schemas must build from it
        from pactnews.outputs.schemas import table_schemas  # heavy: imports pandera

        try:
            table_schemas(Inventory(raw))
        except Exception as exc:  # noqa: BLE001 - anything the schemas cannot be built from is one problem
            out.append(("the table schemas", f"{type(exc).__name__}: {exc}", "an inventory pactnews.outputs.schemas "
                        "can build the table schemas from"))
    return out


def load_checked_inventory(layout: Layout) -> tuple[Inventory | None, list[Incident]]:
    """The inventory of schemas/labels.yaml, or None and the incidents that stop every other check: a file
    outside the repository, unreadable, not YAML, or without what the code asks of it."""
    path = layout.labels
    rel = _rel(layout, path)
    try:
        Confinement(layout.root).check(path, "the label inventory")
        raw = load_yaml(path, "YAML")
    except UnsafePath as exc:
        return None, [incident("unsafe-path", f"{exc}; expected a file inside the repository", file=rel,
                               found="a path out of the repository", expected="a file inside the repository")]
    except (CorpusError, OSError) as exc:
        found = " ".join(str(exc).split()) if isinstance(exc, CorpusError) else f"{type(exc).__name__}: {exc.strerror}"
        found = found.replace(str(path), rel)
        return None, [incident("invalid-inventory", f"cannot read the label inventory: {found}; expected the YAML "
                               "of schemas/labels.yaml", file=rel, found=found, expected="the YAML of schemas/labels.yaml")]
    problems = inventory_problems(raw)
    if problems:
        return None, [incident("invalid-inventory", f"{where} is {found}; expected {expected} (no other check runs "
                               "without the inventory)", file=rel, found=found, expected=expected)
                      for where, found, expected in problems]
    return Inventory(raw), []
