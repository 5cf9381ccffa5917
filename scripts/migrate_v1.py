"""Rewrite format-1 annotation files (schema 1.0.0) in format 2 (schema 2.0.0), in place.

The new attributes get the values that say "not annotated under 1.0.0": no TIMEX mod,
no claim time, stance none, modality actual; a figure keeps its value as exact and its
unit word as the surface unit, with the normalised unit looked up below. Used once,
for the 0.1.0 gold and passes and the test fixtures.

    python scripts/migrate_v1.py FILE.json [FILE.json ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from pactnews import standoff

UNITS = {"troops": "person", "soldiers": "person", "usd": "USD"}


def migrate(doc: dict) -> dict:
    doc = dict(doc, format_version=standoff.FORMAT_VERSION)
    for rec in doc.get("timexes", []):
        if isinstance(rec, dict):
            rec.setdefault("mod", None)
    for rec in doc.get("claims", []):
        if not isinstance(rec, dict):
            continue
        unit = rec.get("quantity_unit")
        has = rec.get("quantity_value") is not None
        rec.setdefault("author_stance", "none")
        rec.setdefault("modality", "actual")
        rec.setdefault("time_id", None)
        rec.setdefault("quantity_high", None)
        rec.setdefault("quantity_approximation", "exact" if has else None)
        rec["quantity_surface_unit"] = unit
        rec["quantity_unit"] = UNITS.get(unit, "other") if isinstance(unit, str) else unit
    return doc


def main(paths: list[str]) -> int:
    for p in map(Path, paths):
        doc = json.loads(p.read_text(encoding="utf-8"))
        if doc.get("format_version") != 1:
            print(f"{p}: format_version {doc.get('format_version')!r}, left as it is")
            continue
        p.write_text(standoff.dumps(migrate(doc)), encoding="utf-8")
    print(f"Migrated {len(paths)} files to format {standoff.FORMAT_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
