"""`pactnews diff A B`: what changed in the annotations between two versions.

A version is a git revision of the repository (files are read with
`git show REV:path`, nothing is checked out) or a folder (a repository root
or an annotations folder). Spans are matched within a document and layer by
their offsets, so renumbered ids are not reported as changes; relations are
matched by type and the offsets of the spans they join. Entity and cluster
tables are compared by key.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pactnews.annotations import standoff

ENTITY_TABLE = "annotations/tables/entities.json"
CLUSTER_TABLE = "annotations/tables/claim_clusters.json"


class DiffError(ValueError):
    pass


@dataclass
class Version:
    label: str
    docs: dict[str, dict]
    entities: dict = field(default_factory=dict)
    clusters: dict = field(default_factory=dict)


@dataclass
class Change:
    kind: str  # added | removed | changed | text-changed
    document_id: str | None
    layer: str
    id_a: str | None = None
    id_b: str | None = None
    start: int | None = None
    end: int | None = None
    text: str | None = None
    label: str | None = None
    attributes: dict = field(default_factory=dict)  # field -> [old, new]

    def format(self) -> str:
        where = self.document_id or "tables"
        ids = self.id_a if self.id_a == self.id_b or self.id_b is None else (self.id_b if self.id_a is None else f"{self.id_a}->{self.id_b}")
        span = f" [{self.start}:{self.end}] {self.text!r}" if self.start is not None else (f" {self.text}" if self.text else "")
        label = f" {self.label}" if self.label else ""
        attrs = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in self.attributes.items())
        return f"{where} {self.layer} {self.kind} {ids}{label}{span}" + (f": {attrs}" if attrs else "")


# ---------------------------------------------------------------- readers


def _parse_tables(entities: bytes | None, clusters: bytes | None, where: str) -> tuple[dict, dict]:
    try:
        ent = {r["entity_id"]: {"name": r["name"], "label": r["label"]} for r in json.loads(entities)["entities"]} if entities else {}
        clu = {r["cluster_id"]: {"proposition": r["proposition"]} for r in json.loads(clusters)["clusters"]} if clusters else {}
    except (ValueError, KeyError, TypeError) as exc:
        raise DiffError(f"{where}: an entity or cluster table cannot be read: {exc}") from exc
    return ent, clu


def _is_standoff(data: bytes) -> bool:
    try:
        obj = json.loads(data)
    except ValueError:
        return True  # let standoff.loads report it
    return isinstance(obj, dict) and obj.get("format") == standoff.FORMAT


def read_folder(path: Path) -> Version:
    folder = path / "annotations" if (path / "annotations").is_dir() else path
    docs = {}
    for p in sorted(folder.glob("*.json")):
        data = p.read_bytes()
        if _is_standoff(data):
            docs[p.stem] = standoff.loads_any(data, str(p))
    ent = folder / "tables" / "entities.json"
    clu = folder / "tables" / "claim_clusters.json"
    entities, clusters = _parse_tables(ent.read_bytes() if ent.is_file() else None,
                                       clu.read_bytes() if clu.is_file() else None, str(folder))
    return Version(str(path), docs, entities, clusters)


def _git(root: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True)
    if proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip() or "unknown revision or path"
        raise DiffError(f"git {' '.join(args)}: {why}")
    return proc.stdout


def read_revision(root: Path, rev: str) -> Version:
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    names = _git(root, "ls-tree", "--name-only", commit, "annotations/").decode("utf-8").splitlines()
    docs = {}
    for name in sorted(names):
        if not name.endswith(".json"):
            continue
        data = _git(root, "show", f"{commit}:{name}")
        if _is_standoff(data):
            docs[Path(name).stem] = standoff.loads_any(data, f"{rev}:{name}")
    tables = set(_git(root, "ls-tree", "--name-only", commit, "annotations/tables/").decode().splitlines())
    entities, clusters = _parse_tables(
        _git(root, "show", f"{commit}:{ENTITY_TABLE}") if ENTITY_TABLE in tables else None,
        _git(root, "show", f"{commit}:{CLUSTER_TABLE}") if CLUSTER_TABLE in tables else None, rev)
    return Version(rev, docs, entities, clusters)


def read_version(spec: str, root: Path) -> Version:
    path = Path(spec)
    if path.is_dir():
        return read_folder(path)
    try:
        return read_revision(root, spec)
    except DiffError as exc:
        raise DiffError(f"{spec!r} is neither a folder nor a git revision of {root}: {exc}") from exc


# ---------------------------------------------------------------- comparison (pure)


def _match(a: list[dict], b: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """Pairs of spans at the same offsets (same label first), then what is left on each side."""
    by_pos_a: dict[tuple, list[dict]] = {}
    by_pos_b: dict[tuple, list[dict]] = {}
    for r in a:
        by_pos_a.setdefault((r["start"], r["end"]), []).append(r)
    for r in b:
        by_pos_b.setdefault((r["start"], r["end"]), []).append(r)
    pairs, removed, added = [], [], []
    for pos in sorted(set(by_pos_a) | set(by_pos_b)):
        left, right = list(by_pos_a.get(pos, [])), list(by_pos_b.get(pos, []))
        for ra in list(left):
            same = next((rb for rb in right if rb.get("label") == ra.get("label")), None)
            if same is not None:
                pairs.append((ra, same))
                left.remove(ra)
                right.remove(same)
        while left and right:
            pairs.append((left.pop(0), right.pop(0)))
        removed += left
        added += right
    return pairs, removed, added


def _span_change(kind: str, doc_id: str, layer: str, ra: dict | None, rb: dict | None, attrs: dict | None = None) -> Change:
    r = rb if rb is not None else ra
    return Change(kind, doc_id, layer, ra.get("id") if ra else None, rb.get("id") if rb else None,
                  r.get("start"), r.get("end"), r.get("text"), r.get("label"), attrs or {})


def _span_key(doc: dict, span_id: str):
    for layer in standoff.SPAN_LAYERS:
        for r in doc.get(layer, []):
            if r.get("id") == span_id:
                return (layer, r["start"], r["end"], r.get("text"))
    return ("?", span_id)


def _describe(key) -> str:
    return f"{key[0]} [{key[1]}:{key[2]}] {key[3]!r}" if len(key) == 4 else f"unresolved {key[1]}"


def diff_document(doc_id: str, a: dict | None, b: dict | None) -> list[Change]:
    a = a or standoff.empty(doc_id, "")
    b = b or standoff.empty(doc_id, "")
    out = []
    if a.get("text_sha256") and b.get("text_sha256") and a["text_sha256"] != b["text_sha256"]:
        out.append(Change("text-changed", doc_id, "document", attributes={"text_sha256": [a["text_sha256"], b["text_sha256"]]}))
    for layer in standoff.SPAN_LAYERS:
        pairs, removed, added = _match(a.get(layer, []), b.get(layer, []))
        compared = [f for f in standoff.FIELDS[layer] if f not in ("id", "start", "end")]
        for ra, rb in pairs:
            attrs = {f: [ra.get(f), rb.get(f)] for f in compared if ra.get(f) != rb.get(f)}
            if attrs:
                out.append(_span_change("changed", doc_id, layer, ra, rb, attrs))
        out += [_span_change("removed", doc_id, layer, r, None) for r in removed]
        out += [_span_change("added", doc_id, layer, None, r) for r in added]
    rels_a = {(r["label"], _span_key(a, r["from_id"]), _span_key(a, r["to_id"])): r for r in a.get("relations", [])}
    rels_b = {(r["label"], _span_key(b, r["from_id"]), _span_key(b, r["to_id"])): r for r in b.get("relations", [])}
    for key in sorted(set(rels_a) - set(rels_b), key=str):
        r = rels_a[key]
        out.append(Change("removed", doc_id, "relations", r["id"], None, label=key[0],
                          text=f"{r['from_id']} {_describe(key[1])} -> {r['to_id']} {_describe(key[2])}"))
    for key in sorted(set(rels_b) - set(rels_a), key=str):
        r = rels_b[key]
        out.append(Change("added", doc_id, "relations", None, r["id"], label=key[0],
                          text=f"{r['from_id']} {_describe(key[1])} -> {r['to_id']} {_describe(key[2])}"))
    return out


def diff_table(name: str, a: dict, b: dict) -> list[Change]:
    out = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            out.append(Change("removed", None, name, key, None, text=json.dumps(a[key], ensure_ascii=False, sort_keys=True)))
        elif key not in a:
            out.append(Change("added", None, name, None, key, text=json.dumps(b[key], ensure_ascii=False, sort_keys=True)))
        elif a[key] != b[key]:
            attrs = {f: [a[key].get(f), b[key].get(f)] for f in sorted(set(a[key]) | set(b[key])) if a[key].get(f) != b[key].get(f)}
            out.append(Change("changed", None, name, key, key, attributes=attrs))
    return out


def diff_versions(a: Version, b: Version) -> list[Change]:
    out = []
    for doc_id in sorted(set(a.docs) | set(b.docs)):
        out += diff_document(doc_id, a.docs.get(doc_id), b.docs.get(doc_id))
    out += diff_table("entity_table", a.entities, b.entities)
    out += diff_table("cluster_table", a.clusters, b.clusters)
    return out


def summary(changes: list[Change]) -> dict:
    counts = {"added": 0, "removed": 0, "changed": 0, "text-changed": 0}
    for c in changes:
        counts[c.kind] += 1
    counts["documents"] = len({c.document_id for c in changes if c.document_id})
    return counts
