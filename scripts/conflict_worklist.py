"""Print the conflict detectors' findings on a pass folder as a worklist for the reader who reviews them.

Each finding comes out as a conflicts.yaml entry (rule, type, members by claim handle) with the
claims' texts, sources and differing values as comments; the reader sets `status` (kept or
dismissed) and writes the `rationale`, and `pactnews markup` then checks every entry against the
detectors again.

    python scripts/conflict_worklist.py annotations/passes/adjudicated > worklist.yaml
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from pactnews.commands.markup import convert_pass
from pactnews.annotations.conflicts import detect
from pactnews.inventory import default_inventory
from pactnews.annotations.markup import to_standoff
from pactnews.corpus.readers import read_clean_texts
from pactnews.repo import Layout, find_root
from pactnews.files import sha256_text
from pactnews.validate.validator import conflict_inputs


def main(pass_dir: Path) -> int:
    layout = Layout(find_root())
    inv = default_inventory(layout.root)
    docs, entities, _, _, errors = convert_pass(layout, pass_dir)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    clean = read_clean_texts(layout)
    handle_of: dict[tuple[str, str], str] = {}
    for path in sorted((pass_dir / "markup").glob("*.txt")):
        handles: dict = {}
        to_standoff(path.read_text(encoding="utf-8"), clean[path.stem], path.stem, sha256_text(clean[path.stem]), inv,
                    handles_out=handles)
        handle_of.update({(path.stem, cid): f"@{h}" for h, (layer, cid) in handles.items() if layer == "claims"})
    claims = {(c["document_id"], c["id"]): c for k in sorted(docs) for c in conflict_inputs(docs[k], entities, inv)}
    findings = detect(list(claims.values()), inv)
    for n, f in enumerate(findings, 1):
        print(f"# finding {n}: {f.rationale}")
        for m in f.members:
            c = claims[(m.document_id, m.claim_id)]
            print(f"#   {m.document_id} {m.claim_id} {handle_of.get((m.document_id, m.claim_id), '(no handle)')}: "
                  f"{c['source']} | {m.attribute}={m.value} | {c['text'][:150]!r}")
        entry = [{"type": f.type, "rule": f.rule, "status": "REVIEW: kept or dismissed",
                  "members": [{"document": m.document_id, "claim": handle_of.get((m.document_id, m.claim_id), "?")}
                              for m in f.members],
                  "rationale": "REVIEW: one sentence: what diverges, or why this is not a conflict"}]
        print(yaml.safe_dump(entry, allow_unicode=True, sort_keys=False, width=200))
    print(f"# {len(findings)} findings", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
