"""The round trip through a real Label Studio server (slow: one boot of ~40-60 s per module, and the
restart test boots its own: a fresh start and three warm ones)."""
import contextlib
import copy
import re

import pytest

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.cli import main
from pactnews.labelstudio import server as ls_server
from pactnews.labelstudio.project import setup_project
from pactnews.labelstudio.config import labeling_config
from pactnews.labelstudio.convert import from_result
from pactnews.labelstudio.readers import read_corpus
from pactnews.labelstudio.tasks import build_task, build_tasks
from pactnews.annotations.preannotate import Preannotator, build_lexicon
from pactnews.repo import Layout
from pactnews.files import sha256_text

from ls_server import INV, REPO, make_repo, markup_docs, new_credentials, real_annotations, tables_for

pytestmark = pytest.mark.server

CORPUS = read_corpus(Layout(REPO))
DOCS = markup_docs()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A fresh label-studio on a free loopback port, stopped by its PID at the end."""
    data = tmp_path_factory.mktemp("labelstudio-data")
    srv = ls_server.Server(data, new_credentials(), log_path=data / "server.log")
    srv.start()
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
    assert srv.process.poll() is not None


@pytest.fixture(scope="module")
def client(server):
    return ls_server.client(server.url, server.creds.token)


def awkward_record() -> tuple[dict, dict]:
    """A synthetic document with astral characters, CJK, combining marks and \\r\\n before every span."""
    text = "😀🇰🇷 한국 e\u0301\r\nSeoul said 北朝鮮 sent 3,000 troops 𝔸 on Thursday.\r\n"
    rec = {"document_id": "zz_awkward", "text": text, "text_sha256": sha256_text(text), "title": None,
           "dct": "2024-10-25", "source": None}
    doc = standoff.empty(rec["document_id"], rec["text_sha256"])
    at = text.index
    doc["entities"] = [
        {"id": "E1", "start": at("Seoul"), "end": at("Seoul") + 5, "text": "Seoul", "label": "GPE", "entity_id": "seoul"},
        {"id": "E2", "start": at("北朝鮮"), "end": at("北朝鮮") + 3, "text": "北朝鮮", "label": "GPE", "entity_id": "north-korea"},
        {"id": "E3", "start": at("3,000"), "end": at("3,000") + 5, "text": "3,000", "label": "CARDINAL", "entity_id": None},
    ]
    doc["timexes"] = [{"id": "T1", "start": at("Thursday"), "end": at("Thursday") + 8, "text": "Thursday",
                       "label": "DATE", "value": "2024-10-24", "mod": None}]
    doc["attributions"] = [{"id": "A1", "start": at("said"), "end": at("said") + 4, "text": "said", "label": "CUE",
                            "entity_id": None}]
    start, end = at("北朝鮮"), at(" 𝔸")
    doc["claims"] = [{"id": "C1", "start": start, "end": end, "text": text[start:end], "label": "CLAIM",
                      "source_type": "entity", "factuality": "asserted", "author_stance": "none",
                      "modality": "actual", "cluster_id": "nk-troops", "time_id": "T1", "quantity_value": 3000.0,
                      "quantity_high": None, "quantity_approximation": "exact", "quantity_unit": "person",
                      "quantity_surface_unit": "troops"}]
    doc["relations"] = [{"id": "R1", "label": "claim_source", "from_id": "C1", "to_id": "E1"},
                        {"id": "R2", "label": "claim_cue", "from_id": "C1", "to_id": "A1"}]
    return rec, doc


def test_round_trip_through_the_server_is_exact(client):
    """Predictions and annotations go in, come back through the SDK export, and convert back unchanged."""
    pre = Preannotator(build_lexicon({}, DOCS), INV)
    predictions = {r["document_id"]: pre.annotate(r["document_id"], r["text"], r["text_sha256"], r["dct"]) for r in CORPUS}
    annotations: dict[str, list[dict]] = {doc_id: [doc] for doc_id, doc in DOCS.items()}
    for path, doc in sorted(real_annotations().items()):
        annotations[doc["document_id"]].append(doc)  # the real gold and passes, when they exist
    project_id, created = ls_server.ensure_project(client, labeling_config(INV), pre.model_version, title="round trip")
    assert created
    tasks = [build_task(r, INV, predictions[r["document_id"]], pre.model_version, annotations[r["document_id"]])
             for r in CORPUS]
    rec, doc = awkward_record()
    tasks.append(build_task(rec, INV, doc, "hand-made", [doc]))
    records = {r["document_id"]: r for r in [*CORPUS, rec]}
    predictions[rec["document_id"]] = doc
    annotations[rec["document_id"]] = [doc]
    assert len(ls_server.import_tasks(client, project_id, tasks)) == len(tasks)

    exported = ls_server.export_json(client, project_id)
    assert sorted(t["data"]["document_id"] for t in exported) == sorted(records)
    for task in exported:
        doc_id = task["data"]["document_id"]
        r = records[doc_id]
        assert task["data"]["text"] == r["text"] and task["data"]["text_sha256"] == r["text_sha256"]
        back = []
        for ann in task["annotations"]:
            got, issues = from_result(ann["result"], task["data"]["text"], doc_id, r["text_sha256"], INV)
            assert issues == []
            back.append(standoff.dumps(got))
        assert back == [standoff.dumps(d) for d in annotations[doc_id]]
    stored = ls_server.export_predictions(client, project_id)
    for doc_id, (prediction,) in stored.items():
        got, issues = from_result(prediction["result"], records[doc_id]["text"], doc_id, records[doc_id]["text_sha256"], INV)
        assert issues == [] and standoff.dumps(got) == standoff.dumps(predictions[doc_id])
        assert prediction["model_version"] == ("hand-made" if doc_id == "zz_awkward" else pre.model_version)
    assert client.projects.get(project_id).model_version == pre.model_version


def test_annotate_setup_then_pull_imports_the_annotations(client, server, tmp_path, monkeypatch, capsys):
    """`annotate` sets the project up (twice: no duplicate tasks); annotations made there come back with `pull`."""
    root = make_repo(tmp_path)
    entities, clusters = tables_for(DOCS)
    (root / "annotations" / "tables").mkdir()
    (root / "annotations" / "tables" / "entities.json").write_text(tables.dumps_entities(entities), encoding="utf-8")
    (root / "annotations" / "tables" / "claim_clusters.json").write_text(tables.dumps_clusters(clusters), encoding="utf-8")
    layout = Layout(root)
    setup = setup_project(client, layout)
    project_id = setup.project_id
    assert setup.added == len(CORPUS)
    again = setup_project(client, layout)
    assert (again.project_id, again.added, again.updated, again.kept) == (project_id, 0, 0, 0)  # nothing changed
    by_doc = {t.data["document_id"]: t.id for t in client.tasks.list(project=project_id)}
    edited = {}
    for r in CORPUS:
        doc = copy.deepcopy(DOCS[r["document_id"]])
        (task,) = build_tasks([r], INV, gold={r["document_id"]: doc})
        client.annotations.create(id=by_doc[r["document_id"]], result=task["annotations"][0]["result"])
        edited[r["document_id"]] = doc
    monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", server.creds.token)
    monkeypatch.setenv("PACTNEWS_ANNOTATOR_SALT", "server-test")
    assert main(["--root", str(root), "pull"]) == 0, capsys.readouterr().out  # finds the project by its title
    out = capsys.readouterr().out
    for doc_id, doc in edited.items():
        assert (root / "annotations" / f"{doc_id}.json").read_text(encoding="utf-8") == standoff.dumps(doc)
        assert f"{doc_id}: new gold" in out
    assert server.creds.token not in out and server.creds.password not in out
    for path in (root / "annotations").rglob("*"):
        if path.is_file():
            assert server.creds.token.encode() not in path.read_bytes()


# ------------------------------------------------------------------ issue 13: the three-way pull on a real server

def _gold_repo(tmp_path):
    from ls_server import write_gold

    root = make_repo(tmp_path)
    write_gold(root, DOCS)
    return root


def _tree(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "annotations").rglob("*")) if p.is_file()}


def _pull(root, server, monkeypatch, capsys, project_id, *extra):
    monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", server.creds.token)
    monkeypatch.setenv("PACTNEWS_ANNOTATOR_SALT", "server-test")
    code = main(["--root", str(root), "pull", "--project", str(project_id), *extra])
    return code, capsys.readouterr().out


def _project(client, title, root):
    """A project set up as `annotate --with-gold` does (the base recorded), with its own title."""
    from pactnews.labelstudio import project as commands

    layout = Layout(root)
    inv, corpus, gold, pre = commands.load_preannotator(layout, None)
    project_id, _ = ls_server.ensure_project(client, labeling_config(inv), pre.model_version, title=title)
    tasks, entries = commands._tasks(corpus, inv, gold, pre, gold)
    ls_server.import_tasks(client, project_id, tasks)
    commands._record_base(layout, entries)
    by_doc = {t.data["document_id"]: t for t in client.tasks.list(project=project_id)}
    return project_id, by_doc


def _edit(client, task, doc):
    """The annotator edits the loaded gold in the editor: the annotation's result is replaced."""
    (ann,) = client.annotations.list(id=task.id)
    text = task.data["text"]
    client.annotations.update(id=ann.id, result=__import__("pactnews.labelstudio.convert", fromlist=["x"])
                              .to_result(doc, text, INV))


def _other(field, value):
    return next(v for v in INV.values(field) if v != value)


def test_three_way_pull_edits_both_sides_conflicts_and_empty_results(client, server, tmp_path, monkeypatch, capsys):
    root = _gold_repo(tmp_path)
    project_id, by_doc = _project(client, "three way", root)
    doc_id = sorted(DOCS)[0]
    other_id = sorted(DOCS)[1]
    # 1. an edit in Label Studio comes back exactly; the other documents are not rewritten
    theirs = copy.deepcopy(DOCS[doc_id])
    theirs["claims"][1]["modality"] = _other("modality", theirs["claims"][1]["modality"])
    _edit(client, by_doc[doc_id], theirs)
    before = _tree(root)
    code, out = _pull(root, server, monkeypatch, capsys, project_id)
    assert code == 0, out
    after = _tree(root)
    assert after[f"annotations/{doc_id}.json"].decode() == standoff.dumps(theirs)
    assert {k: v for k, v in after.items() if k != f"annotations/{doc_id}.json"} == \
           {k: v for k, v in before.items() if k != f"annotations/{doc_id}.json"}
    # 2. a repository edit and a Label Studio edit on different spans are both kept
    ours = copy.deepcopy(theirs)
    ours["claims"][0]["factuality"] = _other("factuality", ours["claims"][0]["factuality"])
    (root / "annotations" / f"{doc_id}.json").write_text(standoff.dumps(ours), encoding="utf-8")
    theirs2 = copy.deepcopy(theirs)
    theirs2["claims"][2]["author_stance"] = _other("author_stance", theirs2["claims"][2]["author_stance"])
    _edit(client, by_doc[doc_id], theirs2)
    code, out = _pull(root, server, monkeypatch, capsys, project_id)
    assert code == 0, out
    got = standoff.read(root / "annotations" / f"{doc_id}.json")
    assert got["claims"][0]["factuality"] == ours["claims"][0]["factuality"]
    assert got["claims"][2]["author_stance"] == theirs2["claims"][2]["author_stance"]
    assert got["claims"][1]["modality"] == theirs["claims"][1]["modality"]
    # 3. the same span changed on both sides: a conflict naming both versions, nothing written
    mine = copy.deepcopy(got)
    mine["claims"][1]["factuality"] = _other("factuality", mine["claims"][1]["factuality"])
    (root / "annotations" / f"{doc_id}.json").write_text(standoff.dumps(mine), encoding="utf-8")
    theirs3 = copy.deepcopy(theirs2)
    theirs3["claims"][1]["factuality"] = next(v for v in INV.values("factuality")
                                             if v not in (mine["claims"][1]["factuality"], got["claims"][1]["factuality"]))
    _edit(client, by_doc[doc_id], theirs3)
    before = _tree(root)
    state = (root / "labelstudio-data" / "pactnews-base.json").read_bytes()
    code, out = _pull(root, server, monkeypatch, capsys, project_id)
    assert code == 1 and "[ERROR conflict]" in out and "nothing written" in out, out
    line = next(line for line in out.splitlines() if "[ERROR conflict]" in line)
    assert repr(mine["claims"][1]["factuality"]) in line and repr(theirs3["claims"][1]["factuality"]) in line
    assert _tree(root) == before and (root / "labelstudio-data" / "pactnews-base.json").read_bytes() == state
    # 4. an empty result is refused unless --allow-deletions
    (ann,) = client.annotations.list(id=by_doc[other_id].id)
    client.annotations.update(id=ann.id, result=[])
    _edit(client, by_doc[doc_id], mine)  # no conflict left on the first document
    code, out = _pull(root, server, monkeypatch, capsys, project_id)
    assert code == 1 and "[ERROR mass-deletion]" in out and "the annotation is empty" in out and other_id in out, out
    assert _tree(root) == before


def test_pull_with_a_bad_token_is_one_line(server, tmp_path, monkeypatch, capsys):
    root = make_repo(tmp_path)
    monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "not-the-token-123")
    code = main(["--root", str(root), "pull"])
    out = capsys.readouterr().out
    assert code == 1 and len(out.strip().splitlines()) == 1 and "refused the token" in out, out


# ------------------------------------------------------------------ issue 13 (6): annotate again on an existing project

@contextlib.contextmanager
def _running(data, creds):
    """A server on an existing labelstudio-data/ (the annotator's session), stopped by its PID."""
    srv = ls_server.Server(data, creds, log_path=data / "server.log")
    srv.start()
    try:
        srv.wait_ready()
        yield srv, ls_server.client(srv.url, creds.token)
    finally:
        srv.stop()


def _annotate(root, capsys) -> tuple[int, str]:
    code = main(["--root", str(root), "annotate", "--with-gold", "--no-serve"])
    return code, capsys.readouterr().out


def _version(out: str) -> str:
    return re.search(r"pre-annotations (\S+)\)", out).group(1)


def test_annotate_again_updates_config_tasks_and_predictions_and_keeps_work(tmp_path, monkeypatch, capsys):
    """`annotate` runs on an existing project after the entity table (hence the pre-annotator's model version)
    and the gold changed, and while an annotator's edit is not yet pulled: it succeeds, updates the labeling
    config and every task's prediction, refreshes the loaded gold nobody touched, keeps the edit, and the pull
    afterwards applies the edit without undoing the repository's change."""
    from pactnews.labelstudio import project as commands
    from pactnews.labelstudio.convert import PREDICTION_PREFIX, to_result

    root = _gold_repo(tmp_path)
    creds = new_credentials()
    for name, value in (("LABEL_STUDIO_USERNAME", creds.username), ("LABEL_STUDIO_PASSWORD", creds.password),
                        ("LABEL_STUDIO_API_KEY", creds.token), ("PACTNEWS_ANNOTATOR_SALT", "server-test")):
        monkeypatch.setenv(name, value)
    code, out = _annotate(root, capsys)
    assert code == 0, out
    first_version = _version(out)
    data = root / "labelstudio-data"
    doc_a, doc_b = sorted(DOCS)[:2]
    edited = copy.deepcopy(DOCS[doc_a])
    edited["claims"][1]["modality"] = _other("modality", edited["claims"][1]["modality"])
    generated = labeling_config(INV)
    with _running(data, creds) as (srv, ls):  # the annotator edits A; the project holds an older config
        project = ls_server.find_project(ls)
        by_doc = {t.data["document_id"]: t for t in ls.tasks.list(project=project.id)}
        _edit(ls, by_doc[doc_a], edited)
        old_config = generated.replace("<Relations>", "<Relations><Relation value=\"retired\"/>", 1)
        assert old_config != generated
        ls.projects.update(project.id, label_config=old_config)
    # the repository moves on: a new entity (the lexicon, so the model version, changes) and an edit of B
    entities, clusters = tables_for(DOCS)
    entities["grave-concern"] = {"name": "grave concern", "label": "EVENT"}
    (root / "annotations" / "tables" / "entities.json").write_text(tables.dumps_entities(entities), encoding="utf-8")
    ours_b = copy.deepcopy(DOCS[doc_b])
    ours_b["claims"][0]["factuality"] = _other("factuality", ours_b["claims"][0]["factuality"])
    (root / "annotations" / f"{doc_b}.json").write_text(standoff.dumps(ours_b), encoding="utf-8")

    code, out = _annotate(root, capsys)  # used to fail: ApiError "Model version doesn't exist ..."
    assert code == 0 and "Traceback" not in out, out
    version = _version(out)
    assert version != first_version
    assert "tasks added: 0;" in out and "1 task(s) hold annotations not yet pulled" in out, out

    inv, corpus, gold, pre = commands.load_preannotator(Layout(root), None)
    assert pre.model_version == version
    with _running(data, creds) as (srv, ls):
        project = ls.projects.get(ls_server.find_project(ls).id)
        assert project.model_version == version
        assert project.label_config.strip() == generated.strip()
        tasks = {t.data["document_id"]: t for t in ls.tasks.list(project=project.id)}
        assert sorted(tasks) == sorted(r["document_id"] for r in corpus)  # no task added or lost
        predictions = ls_server.predictions_by_task(ls, project.id)
        for r in corpus:
            (p,) = predictions[tasks[r["document_id"]].id]
            expected = pre.annotate(r["document_id"], r["text"], r["text_sha256"], r["dct"])
            assert p.model_version == version
            assert p.result == to_result(expected, r["text"], INV, PREDICTION_PREFIX)
        assert any(item.get("value", {}).get("text") == "grave concern" and item["value"].get("labels") == ["EVENT"]
                   for p in predictions[tasks[doc_a].id] for item in p.result)  # the new entity is predicted
        (ann_a,) = ls.annotations.list(id=tasks[doc_a].id)
        got_a, _ = from_result(ann_a.result, tasks[doc_a].data["text"], doc_a, DOCS[doc_a]["text_sha256"], INV)
        assert standoff.dumps(got_a) == standoff.dumps(edited)  # the annotator's work is kept
        (ann_b,) = ls.annotations.list(id=tasks[doc_b].id)
        got_b, _ = from_result(ann_b.result, tasks[doc_b].data["text"], doc_b, DOCS[doc_b]["text_sha256"], INV)
        assert standoff.dumps(got_b) == standoff.dumps(ours_b)  # the loaded gold nobody touched is the current gold
        code, out = _pull(root, srv, monkeypatch, capsys, project.id)
    assert code == 0, out
    assert (root / "annotations" / f"{doc_a}.json").read_text(encoding="utf-8") == standoff.dumps(edited)
    assert (root / "annotations" / f"{doc_b}.json").read_text(encoding="utf-8") == standoff.dumps(ours_b)
    assert f"{doc_b}: unchanged" in out
