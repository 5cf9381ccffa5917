"""What every step of the build needs, read once in the submitting process and shipped with the pipeline."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from pactnews.annotations import tables
from pactnews.corpus.cleaning import load_rules
from pactnews.corpus.readers import CorpusError, read_dataset_info
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


@dataclass
class Context:
    """The inventory, rules, tables, features and schemas; small enough to go with every task."""

    root: Path
    inv: Inventory
    info: dict
    rules: list
    rule_names: list[str]
    entity_table: dict
    cluster_table: dict
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
    cluster_table = tables.read_clusters(layout.cluster_table) if layout.cluster_table.is_file() else {}
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
