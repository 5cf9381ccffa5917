"""The label inventory of schemas/labels.yaml: one object every stage asks."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .repo import Layout, find_root

SPAN_LAYERS = ("entities", "timexes", "attributions", "claims")
ALL_LAYERS = SPAN_LAYERS + ("relations",)


@dataclass(frozen=True)
class Inventory:
    raw: dict

    @property
    def schema_version(self) -> str:
        return str(self.raw["schema_version"])

    def labels(self, layer: str) -> list[str]:
        return list(self.raw["layers"][layer]["labels"])

    def label_descriptions(self, layer: str) -> dict[str, str]:
        return dict(self.raw["layers"][layer]["labels"])

    def id_prefix(self, layer: str) -> str:
        if layer in ("relations", "conflicts"):
            return self.raw[layer]["id_prefix"]
        return self.raw["layers"][layer]["id_prefix"]

    def overlap_allowed(self, layer: str) -> bool:
        return self.raw["layers"][layer]["overlap"] == "allowed"

    def values(self, attribute: str) -> list[str]:
        return list(self.raw["values"][attribute])

    def value_descriptions(self, attribute: str) -> dict[str, str]:
        return dict(self.raw["values"][attribute])

    @property
    def relation_types(self) -> list[str]:
        return list(self.raw["relations"]["types"])

    def relation_targets(self, relation: str) -> list[tuple[str, str | None]]:
        """(layer, label or None) pairs a relation of this type may point to."""
        out = []
        for target in self.raw["relations"]["types"][relation]["to"]:
            layer, _, label = target.partition(":")
            out.append((layer, label or None))
        return out

    def role(self, name: str) -> str:
        """The inventory name that plays a role the code relies on (roles: in labels.yaml)."""
        return self.raw["roles"][name]

    def value_role(self, attribute: str, role: str) -> str:
        """The value of `attribute` that plays `role` (e.g. the factuality value for denial)."""
        return self.raw["roles"][attribute][role]

    def optional(self, layer: str, field: str) -> bool:
        """Whether a field of a layer may hold null."""
        return f"{layer}.{field}" in (self.raw.get("optional") or [])

    def attribute_labels(self, layer: str, attribute: str) -> list[str] | None:
        """The labels an attribute applies to (None: every label of its layer)."""
        labels = (self.raw.get("attribute_labels") or {}).get(f"{layer}.{attribute}")
        return list(labels) if labels is not None else None

    def attributes(self, layer: str) -> list[str]:
        return list(self.raw["layers"][layer].get("attributes") or {})

    def has_values(self, attribute: str) -> bool:
        return attribute in (self.raw.get("values") or {})

    @property
    def conflict_types(self) -> list[str]:
        return list(self.raw["conflicts"]["types"])

    def conflict_section(self, key: str) -> dict[str, str]:
        """types, origins or status of the conflicts table, name -> description."""
        return dict(self.raw["conflicts"][key])

    @property
    def ner_untagged_values(self) -> list[str]:
        return list(self.raw["ner"].get("untagged_values") or [])

    @property
    def ner_labels(self) -> list[str]:
        return list(self.raw["ner"]["labels"])

    @property
    def ner_tags(self) -> list[str]:
        """IOB2 tag names: O, then B-/I- for each label, in inventory order."""
        tags = ["O"]
        for label in self.ner_labels:
            tags += [f"B-{label}", f"I-{label}"]
        return tags

    @property
    def timex_to_ner(self) -> dict[str, str]:
        return dict(self.raw["ner"]["timex_map"])

    @property
    def timex_value_re(self) -> re.Pattern:
        return re.compile(self.raw["timex_value_pattern"])


def load_inventory(path: Path) -> Inventory:
    return Inventory(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=None)
def _cached(path: str) -> Inventory:
    return load_inventory(Path(path))


def default_inventory(root: Path | None = None) -> Inventory:
    return _cached(str(Layout(root or find_root()).labels))
