"""The round trip through a real Label Studio server (slow: one boot of ~40-60 s per module)."""
import copy

import pytest

from pactnews import standoff, tables
from pactnews.cli import main
from pactnews.labelstudio import server as ls_server
from pactnews.labelstudio.commands import setup_project
from pactnews.labelstudio.config import labeling_config
from pactnews.labelstudio.convert import from_result
from pactnews.labelstudio.readers import read_corpus
from pactnews.labelstudio.tasks import build_task, build_tasks
from pactnews.preannotate import Preannotator, build_lexicon
from pactnews.repo import Layout, sha256_text

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
    project_id, added, version = setup_project(client, layout)
    assert added == len(CORPUS)
    assert setup_project(client, layout)[:2] == (project_id, 0)
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
