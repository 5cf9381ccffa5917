"""The cross-document tables: the entity table and the claim-cluster table."""
from __future__ import annotations

import json
import re
from pathlib import Path

from pactnews.files import dump_json


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


# The form of an entity id and of a cluster id (annotations/GUIDELINES.md 1.6 and 5): lowercase ASCII letters and
# digits, words joined by single hyphens.
KEY_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
KEY_FORM = "lowercase ASCII letters and digits, words joined by single hyphens, e.g. 'harbour-city'"


def is_key(value) -> bool:
    """Whether a value has the form of an entity or cluster id."""
    return isinstance(value, str) and KEY_PATTERN.fullmatch(value) is not None


CONFLICT_KEYS = ("conflict_id", "type", "origin", "rule", "status", "members", "rationale")
MEMBER_KEYS = ("document_id", "claim_id", "attribute", "value")


def conflict_rows(entries: list[dict]) -> list[dict]:
    """Conflicts in id order (X1, X2, ... by number), keys and members in a fixed order."""
    def number(e):
        cid = e["conflict_id"]
        digits = cid.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return (int(digits) if digits.isdigit() else 0, cid)
    out = []
    for e in sorted(entries, key=number):
        row = {k: e.get(k) for k in CONFLICT_KEYS}
        row["members"] = sorted(({k: m.get(k) for k in MEMBER_KEYS} for m in e.get("members") or []),
                                key=lambda m: (m["document_id"], m["claim_id"]))
        out.append(row)
    return out


def dumps_conflicts(entries: list[dict]) -> str:
    return dump_json({"conflicts": conflict_rows(entries)})


def read_conflicts(path: Path) -> list[dict]:
    """The conflicts table; a row of the wrong shape raises ValueError naming it (values are validate's business)."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))["conflicts"]
    if not isinstance(rows, list):
        raise ValueError(f'"conflicts" is {type(rows).__name__}; expected a list')
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or set(row) != set(CONFLICT_KEYS):
            raise ValueError(f"conflict {n} is {row!r}; expected exactly the keys {list(CONFLICT_KEYS)}")
        members = row["members"]
        if not isinstance(members, list) or len(members) < 2 or not all(
                isinstance(m, dict) and set(m) == set(MEMBER_KEYS) for m in members):
            raise ValueError(f"conflict {row['conflict_id']!r} has members {members!r}; expected a list of at least "
                             f"two objects with the keys {list(MEMBER_KEYS)}")
    return rows

