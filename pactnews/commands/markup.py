"""`pactnews markup`: an annotation pass in inline markup -> canonical standoff files.

A pass folder holds markup/<document_id>.txt (the clean text with inline
spans), entities.yaml (entity id -> name, label) and claim_clusters.yaml
(cluster id -> proposition). The standoff files and tables go to --out.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from .. import standoff, tables
from ..corpus import read_clean_texts
from ..inventory import default_inventory
from ..markup import MarkupError, to_standoff
from ..repo import Layout, sha256_text, write_files_atomically


def add_arguments(parser) -> None:
    parser.add_argument("pass_dir", type=Path, help="pass folder with markup/, entities.yaml, claim_clusters.yaml")
    parser.add_argument("--out", type=Path, help="where to write <document_id>.json and tables/ (default: the pass folder)")
    parser.add_argument("--check", action="store_true", help="only check; write nothing")


def convert_pass(layout: Layout, pass_dir: Path) -> tuple[dict[str, dict], dict, dict, list[str]]:
    """Convert every markup file of a pass; returns (docs, entity table, cluster table, errors)."""
    inv = default_inventory(layout.root)
    clean = read_clean_texts(layout)
    errors: list[str] = []
    ent_path, clu_path = pass_dir / "entities.yaml", pass_dir / "claim_clusters.yaml"
    entity_table = yaml.safe_load(ent_path.read_text(encoding="utf-8")) if ent_path.is_file() else {}
    cluster_table = yaml.safe_load(clu_path.read_text(encoding="utf-8")) if clu_path.is_file() else {}
    entity_table = entity_table or {}
    cluster_table = cluster_table or {}
    for key, row in entity_table.items():
        if not isinstance(row, dict) or set(row) != {"name", "label"}:
            errors.append(f"{ent_path}: entity {key!r} must have exactly name and label, found {row!r}")
        elif row["label"] not in inv.labels("entities"):
            errors.append(f"{ent_path}: entity {key!r} has unknown label {row['label']!r}")
    for key, row in cluster_table.items():
        if not isinstance(row, dict) or set(row) != {"proposition"}:
            errors.append(f"{clu_path}: cluster {key!r} must have exactly a proposition, found {row!r}")
    docs = {}
    for path in sorted((pass_dir / "markup").glob("*.txt")):
        doc_id = path.stem
        if doc_id not in clean:
            errors.append(f"{path}: no clean text for document {doc_id!r}")
            continue
        try:
            doc = to_standoff(path.read_text(encoding="utf-8"), clean[doc_id], doc_id,
                              sha256_text(clean[doc_id]), inv, where=str(path))
        except MarkupError as exc:
            errors.append(str(exc))
            continue
        for layer in ("entities", "attributions"):
            for rec in doc[layer]:
                eid = rec.get("entity_id")
                if eid is not None and eid not in entity_table:
                    errors.append(f"{path}: {rec['id']} [{rec['start']}:{rec['end']}] {rec['text']!r}: entity id {eid!r} is not in {ent_path.name}")
        for rec in doc["claims"]:
            if rec["cluster_id"] not in cluster_table:
                errors.append(f"{path}: {rec['id']} [{rec['start']}:{rec['end']}]: cluster {rec['cluster_id']!r} is not in {clu_path.name}")
        docs[doc_id] = doc
    return docs, entity_table, cluster_table, errors


def run(args) -> int:
    layout = Layout(args.root)
    docs, entity_table, cluster_table, errors = convert_pass(layout, args.pass_dir)
    for e in errors:
        print(e)
    if errors:
        print(f"FAILED: {len(errors)} problem(s) in {args.pass_dir}; nothing written")
        return 1
    counts = {layer: sum(len(d[layer]) for d in docs.values()) for layer in standoff.LAYERS}
    if args.check:
        print(f"{args.pass_dir}: {len(docs)} documents OK {counts}")
        return 0
    out = args.out or args.pass_dir
    files = {out / f"{k}.json": standoff.dumps(d).encode("utf-8") for k, d in docs.items()}
    files[out / "tables" / "entities.json"] = tables.dumps_entities(entity_table).encode("utf-8")
    files[out / "tables" / "claim_clusters.json"] = tables.dumps_clusters(cluster_table).encode("utf-8")
    write_files_atomically(files)
    print(f"Converted {len(docs)} documents {counts}: {out}/")
    return 0
