"""What every step of the build needs, read once in the submitting process and shipped with the pipeline."""
from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from pactnews.annotations import tables
from pactnews.corpus.cleaning import load_rules
from pactnews.corpus.readers import CorpusError, is_unicode, read_dataset_info
from pactnews.inventory import Inventory, load_inventory
from pactnews.pipeline import features as feats
from pactnews.repo import Layout


class BuildError(Exception):
    """A build that must not produce output; `problems` are the lines to print."""

    def __init__(self, problems: list[str], summary: str):
        super().__init__(summary)
        self.problems = problems
        self.summary = summary

    def __reduce__(self):
        return BuildError, (self.problems, self.summary)


class ClusterTable(Mapping):
    """annotations/tables/claim_clusters.json as the build holds it: {cluster id: {"proposition": ...}}, read-only,
    with the ids (sorted) and the propositions in two Arrow string arrays.

    The main process holds the context and every task a copy (forked from the main process, then unpickled), and
    the table grows with the corpus. At the 79,000 clusters of 1M synthetic documents a dict of dicts took 63 MB in
    the main process and 36 MB unpickled in a task; the two arrays take 8 and 13 MB. An id is found by binary
    search over the sorted ids (about 1 ms for a batch's distinct ids, bench/table_lookup.py).
    """

    def __init__(self, ids: pa.Array, propositions: pa.Array):
        self.ids, self.propositions = ids, propositions
        self._sorted = _Strings(ids)

    def __reduce__(self):
        return ClusterTable, (self.ids, self.propositions)

    @classmethod
    def of(cls, table: dict) -> "ClusterTable | dict":
        """The compact form of a table read by tables.read_clusters; the dict itself if an id or a proposition is
        not a string UTF-8 can encode (the table check reports it, and the build stops on it)."""
        if not all(isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("proposition"), str)
                   and is_unicode(k) and is_unicode(v["proposition"]) for k, v in table.items()):
            return table
        ids = sorted(table)
        return cls(pa.array(ids, pa.string()), pa.array([table[k]["proposition"] for k in ids], pa.string()))

    def _find(self, key) -> int:
        if not isinstance(key, str):
            return -1
        i = bisect.bisect_left(self._sorted, key)
        return i if i < len(self.ids) and self.ids[i].as_py() == key else -1

    def __contains__(self, key) -> bool:
        return self._find(key) >= 0

    def get(self, key, default=None):
        i = self._find(key)
        return default if i < 0 else {"proposition": self.propositions[i].as_py()}

    def __getitem__(self, key) -> dict:
        i = self._find(key)
        if i < 0:
            raise KeyError(key)
        return {"proposition": self.propositions[i].as_py()}

    def __iter__(self):
        return iter(self.ids.to_pylist())

    def items(self):
        return [(k, {"proposition": v}) for k, v in zip(self.ids.to_pylist(), self.propositions.to_pylist())]

    def __len__(self) -> int:
        return len(self.ids)


class _Strings:
    """An Arrow string array as the sequence of str that bisect searches."""

    def __init__(self, array: pa.Array):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i: int) -> str:
        return self.array[i].as_py()


@dataclass
class Context:
    """The inventory, rules, tables, features and schemas; small enough to go with every task."""

    root: Path
    inv: Inventory
    info: dict
    rules: list
    rule_names: list[str]
    entity_table: dict
    cluster_table: Mapping  # a ClusterTable, or the dict of a malformed table
    features: dict
    schemas: dict
    conflict_table: list | None = None  # annotations/tables/conflicts.json; None: no conflict reviewed yet

    @property
    def layout(self) -> Layout:
        return Layout(self.root)


def config_schema(features, config: str, info: dict, inv: Inventory) -> pa.Schema:
    """The Arrow schema of a config with the features and the corpus version in its metadata."""
    schema = features.arrow_schema
    meta = dict(schema.metadata or {})
    meta[b"pactnews"] = json.dumps(
        {"name": info["name"], "version": str(info["version"]), "schema_version": inv.schema_version, "config": config},
        sort_keys=True,
    ).encode("utf-8")
    return schema.with_metadata(meta)


def make_context(root: Path) -> Context:
    """Inventory, dataset info, rules, tables, features; unreadable inputs raise BuildError."""
    try:
        return _make_context(root)
    except (CorpusError, OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise BuildError([f"{type(exc).__name__}: {exc}"], "FAILED: the build inputs cannot be read; nothing written") from exc


def _make_context(root: Path) -> Context:
    layout = Layout(root)
    inv = load_inventory(layout.labels)
    info = read_dataset_info(layout)
    check_version(str(info.get("version")), layout.dataset)
    rules = load_rules(layout.cleaning_rules)
    rule_names = [r.name for r in rules]
    entity_table = tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else {}
    cluster_table = ClusterTable.of(tables.read_clusters(layout.cluster_table) if layout.cluster_table.is_file() else {})
    features = feats.all_features(inv, rule_names)
    schemas = {c: config_schema(f, c, info, inv) for c, f in features.items()}
    conflict_table = tables.read_conflicts(layout.conflict_table) if layout.conflict_table.is_file() else None
    return Context(Path(root), inv, info, rules, rule_names, entity_table, cluster_table, features, schemas,
                   conflict_table)


def check_version(version: str, where: Path) -> None:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise BuildError([f"{where}: version {version!r} is not x.y.z (datasets.Version accepts only x.y.z)"],
                         "FAILED: bad corpus version")


def kept_conflicts(ctx: Context) -> list[dict]:
    kept = ctx.inv.value_role("conflict_status", "kept")
    return [e for e in ctx.conflict_table or [] if isinstance(e, dict) and e.get("status") == kept]
