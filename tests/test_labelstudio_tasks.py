"""Tasks: one per document, with pre-annotations Label Studio's own validator accepts."""
import pytest
from label_studio_sdk.label_interface import LabelInterface

from pactnews.labelstudio.config import labeling_config
from pactnews.labelstudio.convert import from_result
from pactnews.labelstudio.readers import read_corpus
from pactnews.labelstudio.tasks import build_task, build_tasks
from pactnews.annotations.preannotate import Preannotator, build_lexicon
from pactnews.repo import Layout

from ls_server import INV, REPO, markup_docs

CORPUS = read_corpus(Layout(REPO))


def test_tasks_carry_the_document_and_valid_predictions():
    gold = markup_docs()
    pre = Preannotator(build_lexicon({}, gold), INV)
    predictions = {r["document_id"]: pre.annotate(r["document_id"], r["text"], r["text_sha256"], r["dct"]) for r in CORPUS}
    tasks = build_tasks(CORPUS, INV, predictions, pre.model_version, gold)
    li = LabelInterface(labeling_config(INV))
    assert [t["data"]["document_id"] for t in tasks] == sorted(r["document_id"] for r in CORPUS)
    for task, rec in zip(tasks, sorted(CORPUS, key=lambda r: r["document_id"])):
        assert set(task["data"]) == {"text", "document_id", "title", "dct", "text_sha256", "source"}
        assert task["data"]["text"] == rec["text"] and task["data"]["dct"] == rec["dct"]
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == pre.model_version and prediction["result"]
        assert li.validate_prediction(prediction, return_errors=True) == []
        back, issues = from_result(prediction["result"], rec["text"], rec["document_id"], rec["text_sha256"], INV)
        assert issues == [] and back == predictions[rec["document_id"]]
        (annotation,) = task["annotations"]
        assert li.validate_annotation(annotation) if hasattr(li, "validate_annotation") else True


def test_a_prediction_needs_a_model_version():
    with pytest.raises(ValueError, match="model_version"):
        build_task(CORPUS[0], INV, prediction=markup_docs()[CORPUS[0]["document_id"]])


def test_tasks_without_predictions_or_gold_are_bare():
    (task,) = build_tasks(CORPUS[:1], INV)
    assert set(task) == {"data"}


def test_annotate_tasks_file_writes_tasks_the_importer_reads_back(tmp_path):
    """`pactnews annotate --tasks-file` writes every document's task without a server; read_export reads it
    and the loaded gold converts back to the gold files."""
    from pactnews.annotations import standoff
    from pactnews.cli import main
    from pactnews.labelstudio.importer import read_export

    import shutil

    from ls_server import make_repo

    root = make_repo(tmp_path)  # annotate records its base under labelstudio-data/: never in the real repository
    shutil.rmtree(root / "annotations")
    shutil.copytree(REPO / "annotations", root / "annotations")
    path = tmp_path / "tasks.json"
    assert main(["--root", str(root), "annotate", "--with-gold", "--tasks-file", str(path)]) == 0
    assert (root / "labelstudio-data" / "pactnews-base.json").is_file()
    tasks = read_export(path)
    assert [t["data"]["document_id"] for t in tasks] == sorted(r["document_id"] for r in CORPUS)
    li = LabelInterface(labeling_config(INV))
    for task in tasks:
        data = task["data"]
        assert li.validate_prediction(task["predictions"][0], return_errors=True) == []
        back, issues = from_result(task["annotations"][0]["result"], data["text"], data["document_id"],
                                   data["text_sha256"], INV)
        gold = standoff.read(REPO / "annotations" / f"{data['document_id']}.json")
        assert issues == [] and standoff.dumps(back) == standoff.dumps(gold)
