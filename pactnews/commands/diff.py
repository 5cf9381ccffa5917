"""`pactnews diff A [B]`: print what changed in the annotations between two versions (pactnews.annotations.diff),
one line per change or as JSON, and a summary line."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.annotations.diff import DiffError, diff_versions, read_folder, read_version, summary


def add_arguments(parser) -> None:
    parser.add_argument("a", help="the old version: a git revision (e.g. v0.1.0, HEAD~1) or a folder")
    parser.add_argument("b", nargs="?", default=None, help="the new version (default: the working tree)")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")


def run(args) -> int:
    root = Path(args.root)
    try:
        a = read_version(args.a, root)
        b = read_version(args.b, root) if args.b else read_folder(root)
    except (DiffError, standoff.FormatError) as exc:
        print(f"FAILED: {exc}")
        return 1
    changes = diff_versions(a, b)
    counts = summary(changes)
    if args.json:
        print(json.dumps({"a": a.label, "b": b.label, "summary": counts, "changes": [asdict(c) for c in changes]},
                         ensure_ascii=False, indent=2))
    else:
        for c in changes:
            print(c.format())
    print(f"Compared {len(a.docs)} -> {len(b.docs)} annotated documents ({a.label} -> {b.label}): "
          f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed in "
          f"{counts['documents']} document(s)" + (f", {counts['text-changed']} text version change(s)" if counts['text-changed'] else ""),
          file=sys.stderr if args.json else sys.stdout)
    return 0
