"""canonical -> Label Studio result -> canonical is the identity, on real texts and on generated ones."""
import copy
import gc
import random

import pytest
from hypothesis import HealthCheck, given, settings
from label_studio_sdk.label_interface import LabelInterface

from pactnews import standoff
from pactnews.inventory import Inventory
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


# ---------------------------------------------------------------- the short paths and the checks behind them

def one_claim(text: str = "x" * 10) -> tuple[dict, str]:
    doc = standoff.empty("d", "h")
    doc["claims"] = [{"id": "C1", "start": 0, "end": 10, "text": text, "label": "CLAIM", "source_type": "author",
                      "factuality": "asserted", "cluster_id": None, "quantity_value": None, "quantity_unit": None}]
    return doc, text


def with_value(control: str, text_value) -> list[dict]:
    doc, text = one_claim()
    result = to_result(doc, text, INV)
    result.append({"id": "C1", "from_name": control, "to_name": "text", "type": "textarea",
                   "value": {"start": 0, "end": 10, "text": text_value}})
    return result


@pytest.mark.parametrize("text_value, expected", [
    (["3000"], 3000.0), (" 5,000 ", 5000.0), (["  ", " 1.5 "], 1.5), (["", " "], None), ([], None),
])
def test_textarea_values_in_every_shape_are_read(text_value, expected):
    back, issues = from_result(with_value("claims_quantity_value", text_value), "x" * 10, "d", "h", INV)
    assert issues == [] and back["claims"][0]["quantity_value"] == expected


@pytest.mark.parametrize("text_value, test_id", [
    (["a", "b"], "value-count"), ([3], "malformed-item"), (None, "malformed-item"), (["many"], "not-a-number"),
    (["inf"], "not-a-number"),
])
def test_textarea_values_that_do_not_fit_are_reported(text_value, test_id):
    _, issues = from_result(with_value("claims_quantity_value", text_value), "x" * 10, "d", "h", INV)
    assert [(i.test_id, i.region) for i in issues] == [(test_id, "C1")]


@pytest.mark.parametrize("labels, start, test_id, found", [
    (["PERSONA"], 0, "unknown-label", "'PERSONA'"), ([["GPE"]], 0, "unknown-label", "['GPE']"),
    ([1], 0, "unknown-label", "label 1 "), (["GPE", "ORG"], 0, "label-count", "['GPE', 'ORG']"),
    (["GPE"], True, "offset-out-of-range", "start=True"), (["GPE"], "0", "offset-out-of-range", "start='0'"),
    (["GPE"], 11, "offset-out-of-range", "[11:10]"),
])
def test_bad_regions_are_reported_with_what_was_found(labels, start, test_id, found):
    result = [{"id": "E1", "from_name": "entities", "to_name": "text", "type": "labels",
               "value": {"start": start, "end": 10, "labels": labels}}]
    back, issues = from_result(result, "x" * 10, "d", "h", INV)
    assert [(i.test_id, i.region) for i in issues] == [(test_id, "E1")] and back["entities"] == []
    assert found in issues[0].message


def test_each_inventory_is_asked_for_itself():
    """What the converters take from an inventory is kept per inventory object, not shared between them."""
    raw = copy.deepcopy(INV.raw)
    raw["layers"]["entities"]["labels"]["SHIP"] = "Vessels."
    raw["values"]["factuality"]["rumoured"] = "Heard of."
    wider = Inventory(raw)
    doc, text = one_claim()
    doc["claims"][0]["factuality"] = "rumoured"
    doc["entities"] = [{"id": "E1", "start": 0, "end": 4, "text": "xxxx", "label": "SHIP", "entity_id": None}]
    result = to_result(doc, text, wider)
    assert from_result(result, text, "d", "h", wider) == (doc, [])
    _, issues = from_result(result, text, "d", "h", INV)
    assert sorted(i.test_id for i in issues) == ["unknown-choice", "unknown-label"]
    assert from_result(result, text, "d", "h", wider) == (doc, [])


def test_same_span_twice_is_a_duplicate_unless_claim_attributes_differ():
    doc, text = one_claim()
    twin = {**doc["claims"][0], "id": "C2"}
    doc["claims"].append(twin)
    _, issues = from_result(to_result(doc, text, INV), text, "d", "h", INV)
    assert [(i.test_id, i.region) for i in issues] == [("duplicate-region", "C2")]
    twin["factuality"] = "hedged"  # one claim span in two readings: allowed
    back, issues = from_result(to_result(doc, text, INV), text, "d", "h", INV)
    assert issues == [] and [c["id"] for c in back["claims"]] == ["C1", "C2"]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was(enabled):
    doc, text = one_claim()
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        to_result(doc, text, INV)
        from_result(to_result(doc, text, INV), text, "d", "h", INV)
        assert gc.isenabled() is enabled
        with pytest.raises(KeyError):
            to_result({"claims": [{"id": "C1"}]}, text, INV)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


@pytest.mark.parametrize("field, bad, test_id", [
    ("from_name", ["entities"], "unknown-control"), ("from_name", {"x": 1}, "unknown-control"),
    ("rel_from", ["C1"], "dangling-relation"), ("rel_type", ["claim_source"], "unknown-relation-type"),
])
def test_values_of_the_wrong_json_type_are_reported_not_raised(field, bad, test_id):
    doc, text = one_claim()
    result = to_result(doc, text, INV)
    if field == "from_name":
        result.append({"id": "E9", "from_name": bad, "to_name": "text", "type": "labels",
                       "value": {"start": 0, "end": 3, "labels": ["GPE"]}})
    else:
        result.append({"id": "R9", "type": "relation", "from_id": bad if field == "rel_from" else "C1", "to_id": "C1",
                       "labels": [bad] if field == "rel_type" else ["claim_cue"]})
    back, issues = from_result(result, text, "d", "h", INV)
    assert [i.test_id for i in issues] == [test_id], issues
    assert repr(bad) in issues[0].message or str(bad) in issues[0].message
    assert [c["id"] for c in back["claims"]] == ["C1"]
