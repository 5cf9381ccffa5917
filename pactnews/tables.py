"""The cross-document tables: the entity table and the claim-cluster table."""
from __future__ import annotations

import json
from pathlib import Path

from .repo import dump_json


def entity_rows(table: dict[str, dict]) -> list[dict]:
    return [{"entity_id": k, "name": v["name"], "label": v["label"]} for k, v in sorted(table.items())]


def cluster_rows(table: dict[str, dict]) -> list[dict]:
    return [{"cluster_id": k, "proposition": v["proposition"]} for k, v in sorted(table.items())]


def dumps_entities(table: dict[str, dict]) -> str:
    return dump_json({"entities": entity_rows(table)})


def dumps_clusters(table: dict[str, dict]) -> str:
    return dump_json({"clusters": cluster_rows(table)})


def read_entities(path: Path) -> dict[str, dict]:
    rows = json.loads(Path(path).read_text(encoding="utf-8"))["entities"]
    return {r["entity_id"]: {"name": r["name"], "label": r["label"]} for r in rows}


def read_clusters(path: Path) -> dict[str, dict]:
    rows = json.loads(Path(path).read_text(encoding="utf-8"))["clusters"]
    return {r["cluster_id"]: {"proposition": r["proposition"]} for r in rows}
