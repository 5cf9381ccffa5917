"""Rewrite format-1 annotation files (schema 1.0.0) in format 2 (schema 2.0.0), in place.

The conversion is pactnews.annotations.standoff.upgrade_v1 (the attributes 2.0.0 added get values that say
"not annotated under 1.0.0"). Used once, for the 0.1.0 gold (annotations/passes/gold-0.1.0/) and
the test fixtures.

    python scripts/migrate_v1.py FILE.json [FILE.json ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from pactnews.annotations import standoff


def main(paths: list[str]) -> int:
    done = 0
    for p in map(Path, paths):
        doc = json.loads(p.read_text(encoding="utf-8"))
        if doc.get("format_version") != 1:
            print(f"{p}: format_version {doc.get('format_version')!r}, left as it is")
            continue
        p.write_text(standoff.dumps(standoff.upgrade_v1(doc)), encoding="utf-8")
        done += 1
    print(f"Migrated {done} of {len(paths)} files to format {standoff.FORMAT_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
