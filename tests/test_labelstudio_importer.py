"""Importing a Label Studio export: every check, pseudonyms, agreement on several passes, atomicity."""
import copy
import json

import pytest

from pactnews.annotations import standoff
from pactnews.cli import main
from pactnews.labelstudio.importer import _span_figures, pseudonym
from pactnews.labelstudio.readers import read_corpus
from pactnews.labelstudio.tasks import build_tasks
from pactnews.repo import Layout

from ls_server import INV, REPO, make_repo, markup_docs, write_gold, write_tables

DOCS = markup_docs()
EMAILS = ["alice.annotator@example.org", "bob.annotator@example.org"]
STAMP = "2031-05-06T07:08:09.123456Z"


def annotation(doc_id: str, doc: dict, k: int = 0) -> dict:
    """An annotation as Label Studio exports it, personal and operational fields included."""
    (task,) = build_tasks([r for r in CORPUS if r["document_id"] == doc_id], INV, gold={doc_id: doc})
    return {"id": 900 + k, "completed_by": {"id": 41 + k, "email": EMAILS[k], "first_name": "A", "last_name": "B"},
            "result": task["annotations"][0]["result"], "was_cancelled": False, "ground_truth": False,
            "created_at": STAMP, "updated_at": STAMP, "lead_time": 123.4, "created_username": f"{EMAILS[k]}, {41 + k}",
            "unique_id": "0f1e2d3c-aaaa-bbbb-cccc-000000000000"}


def export(docs: dict[str, dict], annotators: int = 1) -> list[dict]:
    tasks = []
    for n, (doc_id, doc) in enumerate(sorted(docs.items())):
        (task,) = build_tasks([r for r in CORPUS if r["document_id"] == doc_id], INV)
        task.update({"id": 100 + n, "created_at": STAMP, "annotations": [annotation(doc_id, doc, k) for k in range(annotators)]})
        tasks.append(task)
    return tasks


@pytest.fixture()
def repo(tmp_path, monkeypatch):
    root = make_repo(tmp_path)
    write_tables(root, DOCS)
    monkeypatch.setenv("PACTNEWS_ANNOTATOR_SALT", "test-salt")
    return root


CORPUS = read_corpus(Layout(REPO))


def snapshot(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run_import(root, tasks, capsys, tmp_path) -> tuple[int, str]:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    code = main(["--root", str(root), "import-ls", str(path)])
    return code, capsys.readouterr().out


def unreferenced_timex(doc: dict) -> int:
    """The index of the first time expression no claim names by its time_id."""
    named = {c["time_id"] for c in doc["claims"]}
    return next(k for k, t in enumerate(doc["timexes"]) if t["id"] not in named)


def test_the_documents_exercise_every_v2_attribute():
    """The markup documents the import tests use carry what schema 2.0.0 added, so that losing it fails them."""
    claims = [c for doc in DOCS.values() for c in doc["claims"]]
    timexes = [t for doc in DOCS.values() for t in doc["timexes"]]
    for field in ("time_id", "quantity_high", "quantity_approximation", "quantity_unit", "quantity_surface_unit"):
        assert any(c[field] is not None for c in claims), field
    assert {c["author_stance"] for c in claims} == set(INV.values("author_stance"))
    assert {c["modality"] for c in claims} == set(INV.values("modality"))
    assert INV.value_role("source_type", "implicit") in {c["source_type"] for c in claims}
    assert any(t["mod"] is not None for t in timexes)
    per_claim = [sum(r["label"] == INV.role("source_relation") and r["from_id"] == c["id"] for r in doc["relations"])
                 for doc in DOCS.values() for c in doc["claims"]]
    assert max(per_claim) >= 2


def test_one_annotation_becomes_the_gold(repo, capsys, tmp_path):
    code, out = run_import(repo, export(DOCS), capsys, tmp_path)
    assert code == 0, out
    for doc_id, doc in DOCS.items():
        assert (repo / "annotations" / f"{doc_id}.json").read_text(encoding="utf-8") == standoff.dumps(doc)
    assert "new gold" in out and out.rstrip().splitlines()[-1].startswith("Imported 5 document(s) as gold")


def test_a_repository_validate_refuses_is_not_imported_into(repo, capsys, tmp_path):
    """The one gate: a raw file changed after its hash was recorded; import-ls prints validate's incident and
    writes nothing, as pull and annotate would."""
    raw = sorted((repo / "corpus" / "raw").iterdir())[0]
    raw.write_bytes(raw.read_bytes() + b" ")
    before = snapshot(repo)
    code, out = run_import(repo, export(DOCS), capsys, tmp_path)
    assert code == 1 and "[L3 raw-file-invalid]" in out and raw.name in out, out
    assert out.rstrip().endswith("so pactnews import wrote nothing")
    assert snapshot(repo) == before


def test_several_annotations_are_kept_as_passes_with_an_agreement_report(repo, capsys, tmp_path):
    doc_id = sorted(DOCS)[0]
    other = copy.deepcopy(DOCS[doc_id])
    k = unreferenced_timex(other)
    del other["timexes"][k]  # the second annotator missed a time expression
    tasks = export({doc_id: DOCS[doc_id]}, annotators=2)
    tasks[0]["annotations"][1]["result"] = annotation(doc_id, other, 1)["result"]
    before = snapshot(repo)
    code, out = run_import(repo, tasks, capsys, tmp_path)
    assert code == 0, out
    names = sorted(pseudonym(f"user:{e}", b"test-salt") for e in EMAILS)
    passes = repo / "annotations" / "passes"
    assert sorted(p.name for p in passes.iterdir() if p.is_dir()) == names
    assert not (repo / "annotations" / f"{doc_id}.json").exists()  # no silent pick
    report = json.loads((repo / "annotations" / "reports" / "labelstudio-disagreements.json").read_text(encoding="utf-8"))
    entry = report["documents"][doc_id]
    assert entry["annotators"] == names
    missed = DOCS[doc_id]["timexes"][k]
    assert [(d["layer"], d["start"], d["end"]) for d in entry["disagreements"]] == \
           [("timexes", missed["start"], missed["end"])]
    (pair,) = report["pairs"]
    assert (pair["a"], pair["b"], pair["documents"]) == (*names, [doc_id])
    figures = _span_figures(pair["agreement"])
    assert figures["entities"]["ALL"]["strict"]["f1"] == 1.0 and figures["timexes"]["ALL"]["strict"]["f1"] < 1.0
    assert "gold left as it is" in out
    changed = set(snapshot(repo)) - set(before)
    assert all(p.startswith(("annotations/passes/", "annotations/reports/labelstudio-disagreements.")) for p in changed)
    assert (repo / "annotations" / "reports" / "labelstudio-disagreements.md").is_file()


# ------------------------------------------------------------------ several annotators: agreement and disagreements

def _by(doc_id: str, doc: dict, ann_id: int, user: int) -> dict:
    """An annotation by Label Studio user `user` (an e-mail of its own) with the Label Studio id `ann_id`."""
    ann = annotation(doc_id, doc)
    ann.update(id=ann_id, completed_by={"id": user, "email": f"user{user}@example.org"})
    return ann


def _pseudonym(user: int) -> str:
    return pseudonym(f"user:user{user}@example.org", b"test-salt")


def _editor_ids(result: list, layer: str, n: int, new_id: str) -> str:
    """Give the n-th region of a layer the random id the editor would give it (its attribute items and the
    relations naming it follow); returns the old id."""
    old = [i for i in result if i.get("from_name") == layer and i["type"] == "labels"][n]["id"]
    for item in result:
        if item.get("id") == old and item["type"] != "relation":
            item["id"] = new_id
        if item["type"] == "relation":
            item["from_id"] = new_id if item["from_id"] == old else item["from_id"]
            item["to_id"] = new_id if item["to_id"] == old else item["to_id"]
        if item.get("from_name") == "claims_time_id" and item["value"].get("text") == [old]:
            item["value"]["text"] = [new_id]
    return old


def test_the_report_names_annotation_ids_region_ids_and_pass_ids(repo, capsys, tmp_path):
    """Two annotators differ on one claim's attribute and on an entity one of them left out; the second drew
    its regions in the editor (random region ids): the report names each side's annotation, region and pass id."""
    doc_id = sorted(DOCS)[0]
    mine, theirs = copy.deepcopy(DOCS[doc_id]), copy.deepcopy(DOCS[doc_id])
    claim = theirs["claims"][1]
    claim["modality"] = next(v for v in INV.values("modality") if v != claim["modality"])
    named = {r["to_id"] for r in theirs["relations"]}
    dropped = theirs["entities"].pop(max(k for k, e in enumerate(theirs["entities"]) if e["id"] not in named))
    a, b = _by(doc_id, mine, 901, 7), _by(doc_id, theirs, 955, 8)
    claim_region = next(i for i in b["result"] if i.get("from_name") == "claims" and i["type"] == "labels"
                        and i["value"]["start"] == claim["start"] and i["value"]["end"] == claim["end"]
                        and i["id"] == claim["id"])
    claim_n = [i["id"] for i in b["result"] if i.get("from_name") == "claims" and i["type"] == "labels"].index(claim_region["id"])
    old = _editor_ids(b["result"], "claims", claim_n, "Xk3_q9Zr")
    assert old == claim["id"]
    (task,) = export({doc_id: mine})
    task["annotations"] = [a, b]
    code, out = run_import(repo, [task], capsys, tmp_path)
    assert code == 0, out
    report = json.loads((repo / "annotations" / "reports" / "labelstudio-disagreements.json").read_text(encoding="utf-8"))
    entry = report["documents"][doc_id]
    na, nb = _pseudonym(7), _pseudonym(8)
    assert entry["task"] == 100 and entry["annotations"] == {na: 901, nb: 955}
    by_layer = {d["layer"]: d for d in entry["disagreements"]}
    assert sorted(by_layer) == ["claims", "entities"] and len(entry["disagreements"]) == 2
    ent = by_layer["entities"]
    assert (ent["start"], ent["end"], ent["label"]) == (dropped["start"], dropped["end"], dropped["label"])
    assert ent["regions"][na] == {"annotation": 901, "region": dropped["id"], "pass_id": dropped["id"]}
    assert ent["regions"][nb] is None
    cl = by_layer["claims"]
    assert (cl["start"], cl["end"]) == (claim["start"], claim["end"]) and cl["differs"] == ["modality"]
    assert cl["regions"][na] == {"annotation": 901, "region": claim["id"], "pass_id": claim["id"]}
    assert cl["regions"][nb]["annotation"] == 955 and cl["regions"][nb]["region"] == "Xk3_q9Zr"
    # the pass file of the second annotator holds that claim under the id the report gives
    pass_b = standoff.read(repo / "annotations" / "passes" / nb / f"{doc_id}.json")
    (rec,) = [c for c in pass_b["claims"] if c["id"] == cl["regions"][nb]["pass_id"]]
    assert (rec["start"], rec["end"], rec["modality"]) == (claim["start"], claim["end"], claim["modality"])
    md = (repo / "annotations" / "reports" / "labelstudio-disagreements.md").read_text(encoding="utf-8")
    assert "annotation 955 region Xk3_q9Zr" in md and f"annotation 901 region {dropped['id']}" in md
    # pull reports agreement per layer, with the figures of pactnews.evaluation.agreement
    from pactnews.evaluation.agreement import compare

    first, second = sorted([na, nb])
    spans = {na: len(mine["entities"]), nb: len(theirs["entities"])}
    figures = compare({doc_id: standoff.read(repo / "annotations" / "passes" / first / f"{doc_id}.json")},
                      {doc_id: standoff.read(repo / "annotations" / "passes" / second / f"{doc_id}.json")}, INV)
    assert report["pairs"][0]["agreement"]["spans"] == figures["spans"]
    n = len(mine["entities"])
    assert figures["spans"]["entities"]["ALL"]["strict"]["f1"] == pytest.approx(2 * (n - 1) / (2 * n - 1))
    lines = out.splitlines()
    start = lines.index(next(x for x in lines if x.startswith("Agreement between annotators")))
    block = lines[start:start + 7]
    assert block[1] == f"  {first} vs {second} on 1 document(s):"
    ent_line = next(x for x in block if x.startswith("    entities:"))
    assert f"span F1 strict {2 * (n - 1) / (2 * n - 1):.3f}" in ent_line, ent_line
    assert f"{spans[first]} vs {spans[second]} spans, {n - 1} identical" in ent_line, ent_line
    assert "label alpha" in ent_line
    assert "disagreements per layer: entities 1, timexes 0, attributions 0, claims 1" in out
    assert "user7@example.org" not in out and b"example.org" not in b"".join(snapshot(repo).values())


def test_three_annotators_one_report_every_pair(repo, capsys, tmp_path):
    doc_id = sorted(DOCS)[1]
    docs = [copy.deepcopy(DOCS[doc_id]) for _ in range(3)]
    k = unreferenced_timex(docs[2])
    missed = docs[2]["timexes"].pop(k)
    (task,) = export({doc_id: docs[0]})
    task["annotations"] = [_by(doc_id, d, 910 + u, u) for u, d in enumerate(docs)]
    code, out = run_import(repo, [task], capsys, tmp_path)
    assert code == 0, out
    report = json.loads((repo / "annotations" / "reports" / "labelstudio-disagreements.json").read_text(encoding="utf-8"))
    names = sorted(_pseudonym(u) for u in range(3))
    assert [(p["a"], p["b"]) for p in report["pairs"]] == [(names[0], names[1]), (names[0], names[2]),
                                                          (names[1], names[2])]
    (item,) = report["documents"][doc_id]["disagreements"]
    assert (item["layer"], item["start"], item["end"]) == ("timexes", missed["start"], missed["end"])
    assert item["regions"][_pseudonym(2)] is None
    assert item["regions"][_pseudonym(0)] == {"annotation": 910, "region": missed["id"], "pass_id": missed["id"]}
    assert out.count(" on 1 document(s):") == 3


@pytest.mark.parametrize("ids, delete, keep", [((905, 901), "901", "905"), ((901, 903, 902), "901, 902", "903")])
def test_an_annotator_who_submitted_twice_is_told_which_annotation_to_delete(repo, capsys, tmp_path, ids, delete, keep):
    doc_id = sorted(DOCS)[0]
    (task,) = export({doc_id: DOCS[doc_id]})
    task["annotations"] = [_by(doc_id, DOCS[doc_id], i, 7) for i in ids] + [_by(doc_id, DOCS[doc_id], 990, 8)]
    before = snapshot(repo)
    code, out = run_import(repo, [task], capsys, tmp_path)
    assert code == 1 and "Traceback" not in out
    (line,) = [x for x in out.splitlines() if "[ERROR annotator-twice]" in x]
    s = "s" if "," in delete else ""
    assert f"delete annotation{s} {delete} in Label Studio (the older; {keep} is kept)" in line, line
    assert f"Annotator {_pseudonym(7)}" in line and "Task 100" in line and f"Doc {doc_id}" in line
    assert "990" not in line  # the other annotator's annotation is not named
    assert snapshot(repo) == before and "nothing written" in out.splitlines()[-1]


def test_no_email_user_id_or_timestamp_is_written(repo, capsys, tmp_path):
    code, out = run_import(repo, export(DOCS, annotators=2), capsys, tmp_path)
    assert code == 0, out
    written = b"".join(data for path, data in snapshot(repo).items() if path.startswith("annotations/"))
    for secret in [*EMAILS, "example.org", STAMP[:19], "completed_by", "created_at", "lead_time", "unique_id",
                   "0f1e2d3c", "created_username", "user:41", "user:42"]:
        assert secret.encode() not in written, secret
    for secret in EMAILS:
        assert secret not in out


def test_pseudonyms_are_stable_and_depend_on_the_salt(repo, capsys, tmp_path, monkeypatch):
    run_import(repo, export(DOCS, annotators=2), capsys, tmp_path)
    first = snapshot(repo)
    run_import(repo, export(DOCS, annotators=2), capsys, tmp_path)
    assert snapshot(repo) == first
    assert pseudonym("user:alice", b"one") != pseudonym("user:alice", b"two")
    assert pseudonym("user:alice", b"one") == pseudonym("user:alice", b"one")


def test_salt_is_created_once_outside_annotations(repo, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("PACTNEWS_ANNOTATOR_SALT")
    run_import(repo, export(DOCS, annotators=2), capsys, tmp_path)
    salt = (repo / "labelstudio-data" / "annotator-salt").read_bytes()
    names = sorted(p.name for p in (repo / "annotations" / "passes").iterdir() if p.is_dir())
    run_import(repo, export(DOCS, annotators=2), capsys, tmp_path)
    assert (repo / "labelstudio-data" / "annotator-salt").read_bytes() == salt
    assert sorted(p.name for p in (repo / "annotations" / "passes").iterdir() if p.is_dir()) == names


def _first(tasks):
    return tasks[0]["annotations"][0]["result"]


def _labels_item(tasks, layer="entities"):
    return next(i for i in _first(tasks) if i.get("from_name") == layer and i["type"] == "labels")


def _drift(t):
    t[0]["data"]["text"] = t[0]["data"]["text"].replace("Korea", "Corea", 1)


def _unknown_label(t):
    _labels_item(t)["value"]["labels"] = ["PERSONA"]


def _unknown_control(t):
    _labels_item(t)["from_name"] = "entity"


def _offsets(t):
    _labels_item(t)["value"]["end"] = len(t[0]["data"]["text"]) + 5


def _dangling(t):
    next(i for i in _first(t) if i["type"] == "relation")["to_id"] = "E9999"


def _orphan_value(t):
    item = next(i for i in _first(t) if i.get("from_name") == "entities_entity_id")
    _first(t).append({**copy.deepcopy(item), "id": "nowhere"})


def _duplicate_region(t):
    item = _labels_item(t)
    _first(t).append({**copy.deepcopy(item), "id": "copy-of-" + item["id"]})


def _duplicate_id(t):
    """Two regions with one id (its attribute item and relations dropped so that nothing else fails)."""
    items = [i for i in _first(t) if i.get("from_name") == "entities" and i["type"] == "labels"]
    gone = items[1]["id"]
    result = _first(t)
    result[:] = [i for i in result if not (i.get("id") == gone and i["type"] != "labels")
                 and not (i["type"] == "relation" and gone in (i["from_id"], i["to_id"]))]
    items[1]["id"] = items[0]["id"]


def _unknown_doc(t):
    t[0]["data"]["document_id"] = "999_nothing"


def _duplicate_task(t):
    t.append(copy.deepcopy(t[0]))


def _annotator_twice(t):
    t[0]["annotations"].append(copy.deepcopy(t[0]["annotations"][0]))


def _bad_choice(t):
    next(i for i in _first(t) if i.get("from_name") == "claims_factuality")["value"]["choices"] = ["certain"]


def _bad_number(t):
    item = next(i for i in _first(t) if i.get("from_name") == "claims" and i["type"] == "labels")
    _first(t).append({"id": item["id"], "from_name": "claims_quantity_value", "to_name": "text", "type": "textarea",
                      "value": {"start": item["value"]["start"], "end": item["value"]["end"], "text": ["many"]}})


def _dangling_time_id(t):
    next(i for i in _first(t) if i.get("from_name") == "claims_time_id")["value"]["text"] = ["T999"]


def _relation_without_type(t):
    next(i for i in _first(t) if i["type"] == "relation")["labels"] = []


def _unknown_relation(t):
    next(i for i in _first(t) if i["type"] == "relation")["labels"] = ["claim_target"]


def _propose(tasks, layer: str, key: str, text: str, k: int = 0) -> dict:
    """Type a new key into the k-th region of a layer (first task) and its proposal; the region's labels item."""
    result = _first(tasks)
    region = [i for i in result if i.get("from_name") == layer and i["type"] == "labels"][k]
    attribute, control = {"entities": ("entities_entity_id", "entities_new_entity"),
                          "claims": ("claims_cluster_id", "claims_new_cluster")}[layer]
    value = {"start": region["value"]["start"], "end": region["value"]["end"]}
    result[:] = [i for i in result if not (i["id"] == region["id"] and i.get("from_name") == attribute)]
    result.append({"id": region["id"], "from_name": attribute, "to_name": "text", "type": "textarea",
                   "value": {**value, "text": [key]}})
    result.append({"id": region["id"], "from_name": control, "to_name": "text", "type": "textarea",
                   "value": {**value, "text": [text]}})
    return region


def _proposal_id_pattern(t):
    _propose(t, "entities", "Harbour City", "Harbour City")


def _proposal_without_id(t):
    _propose(t, "claims", "", "Troops were sent.")


def _proposal_conflict(t):
    """An entity id the table has, proposed with another name (and the same label)."""
    region = _labels_item(t)
    key = next(i for i in _first(t) if i["id"] == region["id"] and i.get("from_name") == "entities_entity_id")
    _propose(t, "entities", key["value"]["text"][0], "Another Name")


CASES = {
    "text-drift": _drift,
    "unknown-label": _unknown_label,
    "unknown-control": _unknown_control,
    "offset-out-of-range": _offsets,
    "dangling-relation": _dangling,
    "value-without-region": _orphan_value,
    "duplicate-region": _duplicate_region,
    "unknown-document": _unknown_doc,
    "duplicate-task": _duplicate_task,
    "annotator-twice": _annotator_twice,
    "unknown-choice": _bad_choice,
    "not-a-number": _bad_number,
    "dangling-time-id": _dangling_time_id,
    "relation-label-count": _relation_without_type,
    "unknown-relation-type": _unknown_relation,
    "proposal-id-pattern": _proposal_id_pattern,
    "proposal-without-id": _proposal_without_id,
    "proposal-conflict": _proposal_conflict,
}


@pytest.mark.parametrize("test_id", sorted(CASES) + ["duplicate-region-id"])
def test_each_check_fails_the_import_and_changes_nothing(repo, capsys, tmp_path, test_id):
    tasks = export(DOCS)
    (CASES.get(test_id) or _duplicate_id)(tasks)
    before = snapshot(repo)
    code, out = run_import(repo, tasks, capsys, tmp_path)
    assert code == 1
    expected = "duplicate-region" if test_id == "duplicate-region-id" else test_id
    found = {line.split("[ERROR ")[1].split("]")[0] for line in out.splitlines() if "[ERROR " in line}
    assert found == {expected}, out
    assert "nothing written" in out.splitlines()[-1]
    assert snapshot(repo) == before


def test_messages_name_file_task_document_region_and_offsets(repo, capsys, tmp_path):
    tasks = export(DOCS)
    _offsets(tasks)
    item = _labels_item(tasks)
    code, out = run_import(repo, tasks, capsys, tmp_path)
    line = next(line for line in out.splitlines() if "offset-out-of-range" in line)
    assert "export.json" in line and "Task 100" in line and f"Doc {sorted(DOCS)[0]}" in line
    assert f"Region {item['id']}" in line and f"[{item['value']['start']}:{item['value']['end']}]" in line


def test_validation_runs_before_writing(repo, capsys, tmp_path):
    pytest.importorskip("pactnews.validate.validator")
    doc_id = sorted(DOCS)[0]
    doc = copy.deepcopy(DOCS[doc_id])
    doc["entities"][0]["entity_id"] = "not-in-the-table"
    before = snapshot(repo)
    code, out = run_import(repo, export({doc_id: doc}), capsys, tmp_path)
    assert code == 1 and "not-in-the-table" in out
    assert snapshot(repo) == before


def test_changes_against_the_gold_are_shown(repo, capsys, tmp_path):
    write_gold(repo, DOCS)
    doc_id = sorted(DOCS)[0]
    doc = copy.deepcopy(DOCS[doc_id])
    removed = doc["timexes"].pop(unreferenced_timex(doc))
    doc["claims"][0]["factuality"] = INV.value_role("factuality", "denied")
    code, out = run_import(repo, export({doc_id: doc}), capsys, tmp_path)
    assert code == 0, out
    assert f"{doc_id}: gold updated (+0 -1 ~1)" in out
    assert f"  - timexes {removed['id']} [{removed['start']}:{removed['end']}]" in out
    was = DOCS[doc_id]["claims"][0]["factuality"]
    assert f"factuality: {was!r} -> {INV.value_role('factuality', 'denied')!r}" in out


def test_check_mode_writes_nothing(repo, capsys, tmp_path):
    before = snapshot(repo)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export(DOCS)), encoding="utf-8")
    assert main(["--root", str(repo), "import-ls", str(path), "--check"]) == 0
    assert snapshot(repo) == before
    assert "nothing written" in capsys.readouterr().out


def test_cancelled_annotations_are_ignored(repo, capsys, tmp_path):
    tasks = export(DOCS)
    tasks[0]["annotations"][0]["was_cancelled"] = True
    code, out = run_import(repo, tasks, capsys, tmp_path)
    assert code == 0
    assert not (repo / "annotations" / f"{tasks[0]['data']['document_id']}.json").exists()
    assert (repo / "annotations" / f"{tasks[1]['data']['document_id']}.json").exists()


def test_the_real_gold_comes_back_byte_identical(tmp_path, capsys, monkeypatch):
    """Export the committed gold as Label Studio would, import it: annotations/ does not change by a byte."""
    gold = {doc_id: standoff.read(REPO / "annotations" / f"{doc_id}.json")
            for doc_id in (r["document_id"] for r in CORPUS) if (REPO / "annotations" / f"{doc_id}.json").is_file()}
    if not gold:
        pytest.skip("no gold annotations yet")
    root = make_repo(tmp_path)
    for doc_id in gold:
        (root / "annotations" / f"{doc_id}.json").write_bytes((REPO / "annotations" / f"{doc_id}.json").read_bytes())
    (root / "annotations" / "tables").mkdir()
    for name in ("entities.json", "claim_clusters.json"):
        (root / "annotations" / "tables" / name).write_bytes((REPO / "annotations" / "tables" / name).read_bytes())
    monkeypatch.setenv("PACTNEWS_ANNOTATOR_SALT", "test-salt")
    before = snapshot(root)
    code, out = run_import(root, export(gold), capsys, tmp_path)
    assert code == 0, out
    assert snapshot(root) == before
    assert all(f"{doc_id}: unchanged (+0 -0 ~0)" in out for doc_id in gold)


@pytest.mark.parametrize("field, raw, why", [("quantity_high", "inf", "not a finite number"),
                                             ("quantity_value", "about 3000", "not a number")])
def test_a_bad_figure_fails_the_import_with_a_clear_message(repo, capsys, tmp_path, field, raw, why):
    tasks = export(DOCS)
    task, item = next((t, i) for t in tasks for i in t["annotations"][0]["result"]
                      if i.get("from_name") == f"claims_{field}")
    item["value"]["text"] = [raw]
    before = snapshot(repo)
    code, out = run_import(repo, tasks, capsys, tmp_path)
    assert code == 1 and "Traceback" not in out
    (line,) = [line for line in out.splitlines() if "[ERROR " in line]
    assert "[ERROR not-a-number]" in line and f"claims_{field}" in line and repr(raw) in line and why in line
    assert f"Region {item['id']}" in line and f"Task {task['id']}" in line
    assert snapshot(repo) == before


def test_time_ids_drawn_in_the_editor_are_imported_as_canonical_ids(repo, capsys, tmp_path):
    """A time expression drawn in the editor has a random region id: the claim's time_id names it by that id."""
    doc_id = next(d for d, doc in sorted(DOCS.items()) if any(c["time_id"] for c in doc["claims"]))
    tasks = export({doc_id: DOCS[doc_id]})
    result = _first(tasks)
    target = next(c["time_id"] for c in DOCS[doc_id]["claims"] if c["time_id"])
    for item in result:
        if item.get("id") == target:
            item["id"] = "lsRegion42"
        if item.get("from_name") == "claims_time_id" and item["value"]["text"] == [target]:
            item["value"]["text"] = ["lsRegion42"]
    code, out = run_import(repo, tasks, capsys, tmp_path)
    assert code == 0, out
    gold = standoff.read(repo / "annotations" / f"{doc_id}.json")
    old = next(t for t in DOCS[doc_id]["timexes"] if t["id"] == target)
    (new,) = [t for t in gold["timexes"] if (t["start"], t["end"]) == (old["start"], old["end"])]
    assert new["id"] != "lsRegion42" and new["id"].startswith(INV.id_prefix("timexes"))
    timed = [c["id"] for c in gold["claims"] if c["time_id"] == new["id"]]
    assert timed and timed == [c["id"] for c in DOCS[doc_id]["claims"] if c["time_id"] == target]
    assert all(c["time_id"] in {t["id"] for t in gold["timexes"]} for c in gold["claims"] if c["time_id"])


# ---------------------------------------------------------------- new entities and clusters proposed in Label Studio

def read_tables(root):
    from pactnews.annotations import tables

    return (tables.read_entities(root / "annotations" / "tables" / "entities.json"),
            tables.read_clusters(root / "annotations" / "tables" / "claim_clusters.json"))


def test_a_new_entity_and_cluster_proposed_in_label_studio_join_their_tables(repo, capsys, tmp_path):
    validator = pytest.importorskip("pactnews.validate.validator")
    doc_id = sorted(DOCS)[0]
    tasks = export({doc_id: DOCS[doc_id]})
    region = _propose(tasks, "entities", "harbour-city", "Harbour  City", k=1)
    claim = _propose(tasks, "claims", "troops-sent", "Troops were sent to the front.")
    entities_before, clusters_before = read_tables(repo)
    code, out = run_import(repo, tasks, capsys, tmp_path)
    assert code == 0, out
    entities, clusters = read_tables(repo)
    label = region["value"]["labels"][0]
    assert entities == {**entities_before, "harbour-city": {"name": "Harbour City", "label": label}}
    assert clusters == {**clusters_before, "troops-sent": {"proposition": "Troops were sent to the front."}}
    gold = standoff.read(repo / "annotations" / f"{doc_id}.json")
    where = (region["value"]["start"], region["value"]["end"])
    (mention,) = [e for e in gold["entities"] if (e["start"], e["end"]) == where]
    assert mention["entity_id"] == "harbour-city"
    assert [c["cluster_id"] for c in gold["claims"] if c["start"] == claim["value"]["start"]][0] == "troops-sent"
    # the project's validator accepts the gold with the tables as written
    texts = {r["document_id"]: r["text"] for r in CORPUS}
    assert validator.validate_annotations({doc_id: gold}, texts, entities, clusters, INV) == []
    assert f"annotations/tables/entities.json: + harbour-city 'Harbour City' ({label})" in out
    assert "annotations/tables/claim_clusters.json: + troops-sent 'Troops were sent to the front.'" in out
    # the tables are written as the project writes them
    from pactnews.annotations import tables

    written = (repo / "annotations" / "tables" / "entities.json").read_text(encoding="utf-8")
    assert written == tables.dumps_entities(entities)


def test_an_unknown_entity_or_cluster_id_says_what_to_do(repo, capsys, tmp_path):
    pytest.importorskip("pactnews.validate.validator")
    doc_id = sorted(DOCS)[0]
    doc = copy.deepcopy(DOCS[doc_id])
    doc["entities"][0]["entity_id"] = "not-in-the-table"
    doc["claims"][0]["cluster_id"] = "no-such-cluster"
    before = snapshot(repo)
    code, out = run_import(repo, export({doc_id: doc}), capsys, tmp_path)
    assert code == 1 and snapshot(repo) == before
    (entity_line,) = [line for line in out.splitlines() if "unknown-entity-id" in line]
    assert "'not-in-the-table'" in entity_line and f"Doc {doc_id}" in entity_line
    assert "New entity: canonical name" in entity_line and "annotations/tables/entities.json" in entity_line
    (cluster_line,) = [line for line in out.splitlines() if "unknown-cluster" in line]
    assert "'no-such-cluster'" in cluster_line
    assert "New cluster: proposition" in cluster_line and "annotations/tables/claim_clusters.json" in cluster_line


def test_check_mode_shows_the_table_additions_and_writes_nothing(repo, capsys, tmp_path):
    doc_id = sorted(DOCS)[0]
    tasks = export({doc_id: DOCS[doc_id]})
    _propose(tasks, "entities", "harbour-city", "Harbour City")
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    before = snapshot(repo)
    assert main(["--root", str(repo), "import-ls", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "annotations/tables/entities.json: + harbour-city 'Harbour City'" in out and "nothing written" in out
    assert snapshot(repo) == before


def test_a_proposal_of_a_document_label_studio_did_not_change_is_not_applied_again(repo, capsys, tmp_path):
    """Pulled once, a proposal stays in its Label Studio annotation: an unchanged document does not propose it
    again (the table may have been edited since); a changed one does, and a contradiction is then an error."""
    write_gold(repo, DOCS)
    doc_id = sorted(DOCS)[0]
    tasks = export({doc_id: DOCS[doc_id]})
    _proposal_conflict(tasks)
    before = snapshot(repo)
    code, out = run_import(repo, tasks, capsys, tmp_path)
    assert code == 0, out
    assert f"{doc_id}: unchanged" in out and snapshot(repo) == before
    doc = copy.deepcopy(DOCS[doc_id])
    doc["claims"][0]["factuality"] = INV.value_role("factuality", "denied")
    tasks = export({doc_id: doc})
    _proposal_conflict(tasks)
    code, out = run_import(repo, tasks, capsys, tmp_path)
    assert code == 1 and "[ERROR proposal-conflict]" in out and "'Another Name'" in out
    assert snapshot(repo) == before
