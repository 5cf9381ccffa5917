"""canonical -> Label Studio result -> canonical is the identity, on real texts and on generated ones."""
import random

import pytest
from hypothesis import HealthCheck, given, settings
from label_studio_sdk.label_interface import LabelInterface

from pactnews import standoff
from pactnews.labelstudio.config import labeling_config
from pactnews.labelstudio.convert import from_result, to_result

from ls_server import INV, clean_texts, documents, markup_docs, real_annotations

LI = LabelInterface(labeling_config(INV))
TEXTS = clean_texts()


def roundtrip(doc: dict, text: str) -> tuple[dict, list]:
    result = to_result(doc, text, INV)
    return from_result(result, text, doc["document_id"], doc["text_sha256"], INV)


def assert_identity(doc: dict, text: str) -> None:
    back, issues = roundtrip(doc, text)
    assert issues == []
    assert standoff.dumps(back) == standoff.dumps(doc)


def test_real_annotations_round_trip():
    found = real_annotations()
    if not found:
        pytest.skip("no standoff annotations (annotations/*.json, annotations/passes/*/*.json) yet")
    for path, doc in found.items():
        assert_identity(doc, TEXTS[doc["document_id"]])


def test_markup_documents_over_the_clean_texts_round_trip():
    docs = markup_docs()
    assert len(docs) == len(TEXTS) and all(d["entities"] and d["claims"] and d["relations"] for d in docs.values())
    for doc_id, doc in docs.items():
        assert_identity(doc, TEXTS[doc_id])
        assert LI.validate_prediction({"model_version": "t", "result": to_result(doc, TEXTS[doc_id], INV)},
                                      return_errors=True) == []


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_documents_round_trip(case):
    text, doc = case
    assert_identity(doc, text)
    assert LI.validate_prediction({"model_version": "t", "result": to_result(doc, text, INV)},
                                  return_errors=True) == []


def test_offsets_are_code_points():
    text = "😀 Seoul\r\n한국 e\u0301 Moscow"
    doc = standoff.empty("d", "h")
    start = text.index("Moscow")
    doc["entities"] = [{"id": "E1", "start": start, "end": start + 6, "text": "Moscow", "label": "GPE",
                        "entity_id": "moscow"}]
    (item,) = [i for i in to_result(doc, text, INV) if i["type"] == "labels"]
    # code points: 1 emoji + 1 space + 5 + \r\n (2) + 2 CJK + 1 space + e + combining mark + 1 space = 15
    # (UTF-16 would count 16, UTF-8 bytes 24)
    assert (item["value"]["start"], item["value"]["text"]) == (15, "Moscow")
    assert_identity(doc, text)


def test_editor_made_regions_and_relations_get_ids_in_text_order():
    """Regions drawn in the editor carry random ids and relations none: they are numbered like the markup does."""
    doc_id, text = next(iter(TEXTS.items()))
    doc = markup_docs()[doc_id]
    result = to_result(doc, text, INV)
    rng = random.Random(7)
    fresh = {}
    for item in result:
        if item["type"] == "relation":
            del item["id"]
        else:
            item["id"] = fresh.setdefault(item["id"], "".join(rng.choice("abcdefXYZ_0123456789") for _ in range(10)))
    for item in result:
        if item["type"] == "relation":
            item["from_id"], item["to_id"] = fresh[item["from_id"]], fresh[item["to_id"]]
    rng.shuffle(result)
    back, issues = from_result(result, text, doc_id, doc["text_sha256"], INV)
    assert issues == []
    assert standoff.dumps(back) == standoff.dumps(doc)


def test_relation_drawn_backwards_is_read_from_the_claim():
    doc_id, text = next(iter(TEXTS.items()))
    doc = markup_docs()[doc_id]
    result = to_result(doc, text, INV)
    for item in result:
        if item["type"] == "relation":
            item["from_id"], item["to_id"], item["direction"] = item["to_id"], item["from_id"], "left"
    back, issues = from_result(result, text, doc_id, doc["text_sha256"], INV)
    assert issues == [] and back["relations"] == sorted(doc["relations"], key=standoff.sort_key("relations"))


def test_value_text_mismatch_is_a_warning_and_offsets_win():
    text = "Seoul  and Moscow"
    doc = standoff.empty("d", "h")
    doc["entities"] = [{"id": "E1", "start": 0, "end": 17, "text": text, "label": "GPE", "entity_id": None}]
    result = to_result(doc, text, INV)
    result[0]["value"]["text"] = "Seoul and Moscow"  # whitespace collapsed by a browser
    back, issues = from_result(result, text, "d", "h", INV)
    assert [(i.severity, i.test_id) for i in issues] == [("warning", "region-text-mismatch")]
    assert "'Seoul and Moscow'" in str(issues[0]) and "[0:17]" in str(issues[0])
    assert back["entities"][0]["text"] == text


def test_quantity_values_read_back_as_the_same_float():
    text = "x" * 10
    for value in (3000.0, 1.64e9, 0.1, -2.5, 1e300, 5e-324):
        doc = standoff.empty("d", "h")
        doc["claims"] = [{"id": "C1", "start": 0, "end": 10, "text": text, "label": "CLAIM", "source_type": "author",
                          "factuality": "asserted", "cluster_id": "k", "quantity_value": value, "quantity_unit": "u"}]
        back, _ = roundtrip(doc, text)
        assert back["claims"][0]["quantity_value"] == value
