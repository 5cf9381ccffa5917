"""`pactnews diff A B`: span-level changes between two folders or two git revisions."""
from __future__ import annotations

import copy
import json
import subprocess

import pytest

import buildkit
from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.annotations.diff import diff_document, diff_versions, read_folder

DOC = "000_c7af0f0315e9c0dc"


@pytest.fixture
def versions(tmp_path):
    """Two annotation folders: the fixture, and the fixture with known edits."""
    root = buildkit.copy_repo(tmp_path / "repo", annotations=False)
    docs = buildkit.write_fixture(root)
    old = tmp_path / "old"
    new = tmp_path / "new"
    for folder, ds in ((old, docs), (new, edit(docs))):
        (folder / "tables").mkdir(parents=True)
        for doc_id, doc in ds.items():
            (folder / f"{doc_id}.json").write_text(standoff.dumps(doc))
        ents = dict(buildkit.ENTITIES)
        if folder == new:
            ents["russia"] = {"name": "Russian Federation", "label": "GPE"}
            del ents["kim-hong-kyun"]
        (folder / "tables" / "entities.json").write_text(tables.dumps_entities(ents))
        (folder / "tables" / "claim_clusters.json").write_text(tables.dumps_clusters(buildkit.CLUSTERS))
    (new / "not-annotations.json").write_text('{"report": true}')
    return root, old, new


def edit(docs: dict) -> dict:
    """Add an entity before the others (renumbering them), change a timex value, drop a claim's cue."""
    docs = copy.deepcopy(docs)
    d = docs[DOC]
    for e in d["entities"]:
        e["id"] = f"E{int(e['id'][1:]) + 1}"
    text = "South Korea"
    start = d["entities"][0]["start"]
    d["entities"].insert(0, {"id": "E1", "start": 86, "end": 97, "text": text, "label": "GPE", "entity_id": "south-korea"})
    assert start == 0
    d["timexes"][0]["value"] = "2024-10-23"
    cue_rel = next(r for r in d["relations"] if r["label"] == "claim_cue")
    d["relations"].remove(cue_rel)
    del docs["001_69d675cf0e69e825"]
    return docs


def test_folders_compare_span_by_span(versions):
    root, old, new = versions
    changes = diff_versions(read_folder(old), read_folder(new))
    doc = [c for c in changes if c.document_id == DOC]
    added = [c for c in doc if c.kind == "added"]
    assert [(c.layer, c.id_b, c.start, c.end, c.text) for c in added] == [("entities", "E1", 86, 97, "South Korea")]
    changed = [c for c in doc if c.kind == "changed"]
    assert [(c.layer, c.id_a, c.id_b, c.attributes) for c in changed] == [
        ("timexes", "T1", "T1", {"value": ["2024-10-24", "2024-10-23"]})]
    removed = [c for c in doc if c.kind == "removed"]
    assert len(removed) == 1 and removed[0].layer == "relations" and removed[0].label == "claim_cue"
    assert "'reported'" in removed[0].text
    gone = [c for c in changes if c.document_id == "001_69d675cf0e69e825"]
    assert gone and {c.kind for c in gone} == {"removed"}
    assert len([c for c in gone if c.layer != "relations"]) == sum(
        len(v) for k, v in json.loads((old / "001_69d675cf0e69e825.json").read_text()).items()
        if k in standoff.SPAN_LAYERS)
    tabs = [(c.layer, c.kind, c.id_a or c.id_b) for c in changes if c.document_id is None]
    assert tabs == [("entity_table", "removed", "kim-hong-kyun"), ("entity_table", "changed", "russia")]


def test_renumbered_ids_alone_are_no_change(versions):
    root, old, new = versions
    a = json.loads((old / f"{DOC}.json").read_text())
    b = copy.deepcopy(a)
    mapping = {}
    for layer in standoff.SPAN_LAYERS:
        for k, r in enumerate(reversed(b[layer]), 1):
            mapping[r["id"]] = f"{r['id'][0]}{100 + k}"
            r["id"] = mapping[r["id"]]
    for r in b["relations"]:
        r["from_id"], r["to_id"] = mapping[r["from_id"]], mapping[r["to_id"]]
    assert diff_document(DOC, a, b) == []


def test_git_revisions_are_read_without_checkout(versions, tmp_path):
    root, old, new = versions
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for folder, message in ((old, "v1"), (new, "v2")):
        for p in (root / "annotations").glob("*.json"):
            p.unlink()
        for p in folder.glob("*.json"):
            (root / "annotations" / p.name).write_bytes(p.read_bytes())
        (root / "annotations" / "tables").mkdir(exist_ok=True)
        for p in (folder / "tables").glob("*.json"):
            (root / "annotations" / "tables" / p.name).write_bytes(p.read_bytes())
        subprocess.run([*git, "add", "annotations"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", message], check=True)
    (root / "annotations" / f"{DOC}.json").write_text("not json")  # the working tree is not read
    rc, out = buildkit.run_cli(root, "diff", "HEAD~1", "HEAD")
    assert rc == 0, out
    assert f"{DOC} entities added E1 GPE [86:97] 'South Korea'" in out
    assert f"{DOC} timexes changed T1 DATE" in out and "value: '2024-10-24' -> '2024-10-23'" in out
    assert out.strip().splitlines()[-1].startswith("Compared 3 -> 2 annotated documents (HEAD~1 -> HEAD)")
    rc, out = buildkit.run_cli(root, "diff", "HEAD~1", str(new), "--json")
    assert rc == 0
    data = json.loads(out)
    assert data["summary"]["added"] == 1 and data["summary"]["changed"] == 2
    rc, out = buildkit.run_cli(root, "diff", "no-such-rev", "HEAD")
    assert rc == 1 and "neither a folder nor a git revision" in out
