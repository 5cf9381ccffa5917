"""`pactnews markup`: an annotation pass in inline markup -> canonical standoff files.

A pass folder holds markup/<document_id>.txt (the clean text with inline
spans), entities.yaml (entity id -> name, label), claim_clusters.yaml
(cluster id -> proposition) and optionally conflicts.yaml (conflicts found by
reading, whose members name claims by handle). The standoff files and tables
go to --out.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.annotations.conflicts import detect
from pactnews.corpus.readers import read_clean_texts
from ..inventory import default_inventory
from pactnews.annotations.markup import MarkupError, to_standoff
from ..repo import Layout
from ..files import sha256_text, write_files_atomically


def add_arguments(parser) -> None:
    parser.add_argument("pass_dir", type=Path, help="pass folder with markup/, entities.yaml, claim_clusters.yaml")
    parser.add_argument("--out", type=Path, help="where to write <document_id>.json and tables/ (default: the pass folder)")
    parser.add_argument("--check", action="store_true", help="only check; write nothing")


def convert_pass(layout: Layout, pass_dir: Path) -> tuple[dict[str, dict], dict, dict, list[dict], list[str]]:
    """Convert every markup file of a pass; returns (docs, entity table, cluster table, conflicts, errors)."""
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
    docs, handles = {}, {}
    for path in sorted((pass_dir / "markup").glob("*.txt")):
        doc_id = path.stem
        if doc_id not in clean:
            errors.append(f"{path}: no clean text for document {doc_id!r}")
            continue
        try:
            handles[doc_id] = {}
            doc = to_standoff(path.read_text(encoding="utf-8"), clean[doc_id], doc_id,
                              sha256_text(clean[doc_id]), inv, where=str(path), handles_out=handles[doc_id])
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
    conflicts = read_pass_conflicts(pass_dir / "conflicts.yaml", handles, inv, errors)
    return docs, entity_table, cluster_table, conflicts, errors


def read_pass_conflicts(path: Path, handles: dict[str, dict], inv, errors: list[str]) -> list[dict]:
    """conflicts.yaml of a pass -> conflict table rows (origin annotated, kept), members by claim id."""
    if not path.is_file():
        return []
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        errors.append(f"{path}: not YAML: {exc}")
        return []
    if not isinstance(entries, list):
        errors.append(f"{path}: expected a list of conflicts, found {type(entries).__name__}")
        return []
    origin = inv.value_role("conflict_origin", "annotated")
    kept = inv.value_role("conflict_status", "kept")
    out = []
    for n, e in enumerate(entries, 1):
        where = f"{path}: conflict {n}"
        if not isinstance(e, dict) or set(e) - {"type", "members", "rationale", "rule", "status"}:
            errors.append(f"{where}: expected type, members, rationale (and for a detector's finding its rule and "
                          f"status), found {e!r}")
            continue
        if e.get("status", kept) not in inv.conflict_section("status"):
            errors.append(f"{where}: status {e.get('status')!r} is not one of {list(inv.conflict_section('status'))}")
        if e.get("type") not in inv.conflict_types:
            errors.append(f"{where}: type {e.get('type')!r} is not one of {inv.conflict_types}")
        if not isinstance(e.get("rationale"), str) or not e["rationale"].strip():
            errors.append(f"{where}: a conflict needs a one-sentence rationale")
        members = e.get("members")
        if not isinstance(members, list) or len(members) < 2:
            errors.append(f"{where}: a conflict needs at least two members, found {members!r}")
            continue
        rows = []
        for m in members:
            doc, ref = (m.get("document"), m.get("claim")) if isinstance(m, dict) else (None, None)
            found = handles.get(doc, {}).get(str(ref or "").lstrip("@"))
            if doc not in handles:
                errors.append(f"{where}: member {m!r} names no converted document; expected {{document: ID, claim: '@handle'}}")
            elif not found or found[0] != "claims":
                errors.append(f"{where}: member {m!r}: {ref!r} names no claim of {doc}")
            else:
                rows.append({"document_id": doc, "claim_id": found[1], "attribute": None, "value": None})
        out.append({"conflict_id": f"{inv.id_prefix('conflicts')}{n}", "type": e.get("type"),
                    "origin": inv.value_role("conflict_origin", "detected") if e.get("rule") else origin,
                    "rule": e.get("rule"), "status": e.get("status", kept), "members": rows,
                    "rationale": e.get("rationale")})
    return out


def fill_findings(conflicts: list[dict], docs: dict[str, dict], entity_table: dict, inv, errors: list[str]) -> None:
    """Entries with a rule are a reader's review of a detector finding: each must match one finding (by rule
    and member claims), whose attributes and values it takes."""
    from pactnews.validate.validator import conflict_inputs  # heavy: imports pandas and pyarrow

    if not any(e["rule"] for e in conflicts):
        return
    claims = [c for k in sorted(docs) for c in conflict_inputs(docs[k], entity_table, inv)]
    found = {(f.rule, f.key[2]): f for f in detect(claims, inv)}
    for e in conflicts:
        if not e["rule"]:
            continue
        f = found.get((e["rule"], frozenset((m["document_id"], m["claim_id"]) for m in e["members"])))
        if f is None:
            errors.append(f"conflicts.yaml: {e['conflict_id']}: rule {e['rule']!r} finds no conflict with exactly these "
                          f"members {[(m['document_id'], m['claim_id']) for m in e['members']]}")
            continue
        e["type"] = f.type
        e["members"] = [{"document_id": m.document_id, "claim_id": m.claim_id, "attribute": m.attribute,
                         "value": m.value} for m in f.members]


def run(args) -> int:
    layout = Layout(args.root)
    docs, entity_table, cluster_table, conflicts, errors = convert_pass(layout, args.pass_dir)
    if not errors:
        fill_findings(conflicts, docs, entity_table, default_inventory(layout.root), errors)
    for e in errors:
        print(e)
    if errors:
        print(f"FAILED: {len(errors)} problem(s) in {args.pass_dir}; nothing written")
        return 1
    counts = {layer: sum(len(d[layer]) for d in docs.values()) for layer in standoff.LAYERS}
    if args.check:
        print(f"{args.pass_dir}: {len(docs)} documents, {len(conflicts)} conflicts OK {counts}")
        return 0
    out = args.out or args.pass_dir
    files = {out / f"{k}.json": standoff.dumps(d).encode("utf-8") for k, d in docs.items()}
    files[out / "tables" / "entities.json"] = tables.dumps_entities(entity_table).encode("utf-8")
    files[out / "tables" / "claim_clusters.json"] = tables.dumps_clusters(cluster_table).encode("utf-8")
    if (args.pass_dir / "conflicts.yaml").is_file():
        files[out / "tables" / "conflicts.json"] = tables.dumps_conflicts(conflicts).encode("utf-8")
    write_files_atomically(files)
    print(f"Converted {len(docs)} documents {counts}: {out}/")
    return 0
