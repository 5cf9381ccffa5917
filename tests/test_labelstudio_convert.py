"""canonical -> Label Studio result -> canonical is the identity, on real texts and on generated ones."""
import copy
import gc
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from label_studio_sdk.label_interface import LabelInterface

from pactnews.annotations import standoff
from pactnews.inventory import Inventory
from pactnews.labelstudio.config import labeling_config
from pactnews.labelstudio.convert import Proposal, add_proposals, from_result, read_proposals, to_result

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
    typed = 0
    for item in result:  # a time_id is typed as the id Label Studio shows for the time expression's region
        if item.get("from_name") == "claims_time_id":
            item["value"]["text"] = [fresh[item["value"]["text"][0]]]
            typed += 1
    assert typed, "the markup documents give some claims a time_id"
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


def test_value_text_differing_in_white_space_only_is_accepted():
    text = "Seoul  and Moscow"
    doc = standoff.empty("d", "h")
    doc["entities"] = [{"id": "E1", "start": 0, "end": 17, "text": text, "label": "GPE", "entity_id": None}]
    result = to_result(doc, text, INV)
    result[0]["value"]["text"] = "Seoul and Moscow"  # whitespace collapsed by a browser
    back, issues = from_result(result, text, "d", "h", INV)
    assert issues == []
    assert back["entities"][0]["text"] == text


def claim(**fields) -> dict:
    """A v2 claim record over "x" * 10 in the author's voice, every field present (the inventory's roles name
    the values), with `fields` on top."""
    rec = {f: None for f in standoff.FIELDS["claims"]}
    rec.update({"id": "C1", "start": 0, "end": 10, "text": "x" * 10, "label": INV.role("claim_label"),
                "source_type": INV.value_role("source_type", "author"),
                "factuality": INV.value_role("factuality", "asserted"),
                "author_stance": INV.value_role("author_stance", "none"),
                "modality": INV.value_role("modality", "actual")})
    rec.update(fields)
    return rec


@pytest.mark.parametrize("field", ["quantity_value", "quantity_high"])
def test_quantity_values_read_back_as_the_same_float(field):
    text = "x" * 10
    for value in (3000.0, 1.64e9, 0.1, -2.5, -0.0, 1e300, 5e-324, 2.0 ** 60 + 2048):
        doc = standoff.empty("d", "h")
        doc["claims"] = [claim(cluster_id="k", quantity_unit="person", **{field: value})]
        back, issues = roundtrip(doc, text)
        assert issues == []
        got = back["claims"][0][field]
        assert type(got) is float and got == value and math.copysign(1, got) == math.copysign(1, value), (value, got)


# ---------------------------------------------------------------- the short paths and the checks behind them

def one_claim(text: str = "x" * 10) -> tuple[dict, str]:
    doc = standoff.empty("d", "h")
    doc["claims"] = [claim(text=text)]
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
    twin["factuality"] = INV.value_role("factuality", "hedged")  # one claim span in two readings: allowed
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
    ("rel_from", ["C1"], "dangling-relation"), ("rel_type", [INV.role("source_relation")], "unknown-relation-type"),
])
def test_values_of_the_wrong_json_type_are_reported_not_raised(field, bad, test_id):
    doc, text = one_claim()
    result = to_result(doc, text, INV)
    if field == "from_name":
        result.append({"id": "E9", "from_name": bad, "to_name": "text", "type": "labels",
                       "value": {"start": 0, "end": 3, "labels": ["GPE"]}})
    else:
        result.append({"id": "R9", "type": "relation", "from_id": bad if field == "rel_from" else "C1", "to_id": "C1",
                       "labels": [bad] if field == "rel_type" else [INV.role("cue_relation")]})
    back, issues = from_result(result, text, "d", "h", INV)
    assert [i.test_id for i in issues] == [test_id], issues
    assert repr(bad) in issues[0].message or str(bad) in issues[0].message
    assert [c["id"] for c in back["claims"]] == ["C1"]


# ---------------------------------------------------------------- schema 2.0.0: every claim and timex attribute

SENTENCE = "Seoul and Moscow said on Thursday that about 2,000 to 3,000 troops were sent by the end of March."
ROLE = INV.value_role
DISTANCED = next(v for v in INV.values("author_stance") if v != ROLE("author_stance", "none"))


def span(layer: str, ident: str, word: str, label: str, text: str = SENTENCE, **attrs) -> dict:
    """A record of `layer` over the first `word` of `text`, every field of the format present."""
    start = text.index(word)
    rec = {f: None for f in standoff.FIELDS[layer]}
    rec.update({"id": ident, "start": start, "end": start + len(word), "text": word, "label": label, **attrs})
    return rec


def relation(ident: str, role: str, from_id: str, to_id: str) -> dict:
    return {"id": ident, "label": INV.role(role), "from_id": from_id, "to_id": to_id}


def items(result: list[dict], name: str, ident: str | None = None) -> list[dict]:
    return [i for i in result if i.get("from_name") == name and (ident is None or i["id"] == ident)]


def sources_doc() -> dict:
    """A claim with two named sources (coordinated: "Seoul and Moscow said") and a cue."""
    doc = standoff.empty("d", "h")
    gpe = "GPE" if "GPE" in INV.labels("entities") else INV.labels("entities")[0]
    doc["entities"] = [span("entities", "E1", "Seoul", gpe, entity_id="seoul"),
                       span("entities", "E2", "Moscow", gpe, entity_id="moscow")]
    doc["attributions"] = [span("attributions", "A1", "said", INV.role("cue_label"))]
    content = SENTENCE[SENTENCE.index("about"):-1]
    doc["claims"] = [span("claims", "C1", content, INV.role("claim_label"), source_type=ROLE("source_type", "entity"),
                          factuality=ROLE("factuality", "hedged"), author_stance=ROLE("author_stance", "none"),
                          modality=ROLE("modality", "actual"), cluster_id="troops")]
    doc["relations"] = [relation("R1", "source_relation", "C1", "E1"), relation("R2", "source_relation", "C1", "E2"),
                        relation("R3", "cue_relation", "C1", "A1")]
    return doc


def test_a_claim_with_two_sources_round_trips():
    doc = sources_doc()
    result = to_result(doc, SENTENCE, INV)
    rels = sorted((i["from_id"], i["labels"][0], i["to_id"]) for i in result if i["type"] == "relation")
    assert rels == [("C1", INV.role("cue_relation"), "A1"), ("C1", INV.role("source_relation"), "E1"),
                    ("C1", INV.role("source_relation"), "E2")]
    assert_identity(doc, SENTENCE)
    assert LI.validate_prediction({"model_version": "t", "result": result}, return_errors=True) == []


def test_two_sources_drawn_in_the_editor_both_come_back():
    """Relations drawn by hand carry no canonical id, and one source was drawn from the source to the claim."""
    doc = sources_doc()
    result = to_result(doc, SENTENCE, INV)
    rels = [i for i in result if i["type"] == "relation"]
    for item in rels:
        del item["id"]
    second = next(i for i in rels if i["to_id"] == "E2")
    second["from_id"], second["to_id"], second["direction"] = "E2", "C1", "left"
    back, issues = from_result(result, SENTENCE, "d", "h", INV)
    assert issues == []
    assert back["relations"] == sorted(doc["relations"], key=standoff.sort_key("relations"))


def test_the_same_source_drawn_twice_is_a_duplicate_relation():
    doc = sources_doc()
    result = to_result(doc, SENTENCE, INV)
    result.append({"type": "relation", "from_id": "C1", "to_id": "E2", "direction": "right",
                   "labels": [INV.role("source_relation")]})
    back, issues = from_result(result, SENTENCE, "d", "h", INV)
    assert [i.test_id for i in issues] == ["duplicate-relation"]
    assert len(back["relations"]) == 3


def test_an_implicit_source_claim_with_a_cue_round_trips():
    text = "There are accusations that 3,000 troops were sent."
    doc = standoff.empty("d", "h")
    doc["attributions"] = [span("attributions", "A1", "accusations", INV.role("cue_label"), text)]
    doc["claims"] = [span("claims", "C1", "3,000 troops were sent", INV.role("claim_label"), text,
                          source_type=ROLE("source_type", "implicit"), factuality=ROLE("factuality", "hedged"),
                          author_stance=ROLE("author_stance", "none"), modality=ROLE("modality", "actual"),
                          cluster_id="troops", quantity_value=3000.0,
                          quantity_approximation=ROLE("quantity_approximation", "exact"), quantity_unit="person",
                          quantity_surface_unit="troops")]
    doc["relations"] = [relation("R1", "cue_relation", "C1", "A1")]
    result = to_result(doc, text, INV)
    assert [(i["labels"], i["to_id"]) for i in result if i["type"] == "relation"] == [([INV.role("cue_relation")], "A1")]
    assert [i["value"]["choices"] for i in items(result, "claims_source_type")] == [[ROLE("source_type", "implicit")]]
    assert_identity(doc, text)


def test_a_timex_with_mod_end_round_trips():
    assert "END" in INV.values("mod")
    doc = standoff.empty("d", "h")
    doc["timexes"] = [span("timexes", "T1", "Thursday", "DATE", value="2024-10-24"),
                      span("timexes", "T2", "the end of March", "DATE", value="2024-03", mod="END")]
    result = to_result(doc, SENTENCE, INV)
    assert [(i["id"], i["type"], i["value"]["choices"]) for i in items(result, "timexes_mod")] == [("T2", "choices", ["END"])]
    back, issues = roundtrip(doc, SENTENCE)
    assert issues == [] and [t["mod"] for t in back["timexes"]] == [None, "END"]
    assert standoff.dumps(back) == standoff.dumps(doc)
    assert LI.validate_prediction({"model_version": "t", "result": result}, return_errors=True) == []


def range_doc() -> dict:
    """A claim timed by a time expression (time_id), with a range figure and a distanced author stance."""
    doc = sources_doc()
    doc["timexes"] = [span("timexes", "T1", "Thursday", "DATE", value="2024-10-24"),
                      span("timexes", "T2", "the end of March", "DATE", value="2024-03", mod="END")]
    doc["claims"][0].update(time_id="T2", author_stance=DISTANCED, modality=ROLE("modality", "actual"),
                            quantity_value=2000.0, quantity_high=3000.0,
                            quantity_approximation=ROLE("quantity_approximation", "range"),
                            quantity_unit="person", quantity_surface_unit="troops")
    return doc


def test_a_claim_with_time_id_a_range_and_a_distanced_stance_round_trips():
    doc = range_doc()
    result = to_result(doc, SENTENCE, INV)
    shown = {i["from_name"]: i["value"].get("text", i["value"].get("choices")) for i in result if i.get("id") == "C1"
             and i["type"] != "labels"}
    assert shown["claims_time_id"] == ["T2"]
    assert shown["claims_quantity_value"] == ["2000"] and shown["claims_quantity_high"] == ["3000"]
    assert shown["claims_quantity_approximation"] == [ROLE("quantity_approximation", "range")]
    assert shown["claims_author_stance"] == [DISTANCED]
    assert shown["claims_quantity_surface_unit"] == ["troops"]
    back, issues = roundtrip(doc, SENTENCE)
    assert issues == []
    (c,) = back["claims"]
    assert (c["time_id"], c["quantity_value"], c["quantity_high"], c["author_stance"]) == ("T2", 2000.0, 3000.0, DISTANCED)
    assert standoff.dumps(back) == standoff.dumps(doc)
    assert LI.validate_prediction({"model_version": "t", "result": result}, return_errors=True) == []


def test_a_time_id_typed_as_a_label_studio_region_id_becomes_the_canonical_id():
    """A time expression drawn in the editor has a random region id; the annotator types that id into time_id."""
    doc = range_doc()
    result = to_result(doc, SENTENCE, INV)
    for item in result:
        if item.get("id") == "T2":
            item["id"] = "Xq9_rT2abc"
    time_item = items(result, "claims_time_id")[0]
    time_item["value"]["text"] = [" Xq9_rT2abc "]
    back, issues = from_result(result, SENTENCE, "d", "h", INV)
    assert issues == []
    assert back["claims"][0]["time_id"] == "T2" and [t["id"] for t in back["timexes"]] == ["T1", "T2"]
    assert standoff.dumps(back) == standoff.dumps(doc)


@pytest.mark.parametrize("typed, found", [("T7", "no region of this annotation"), ("E1", "a region of layer entities")])
def test_a_time_id_that_names_no_time_expression_is_reported(typed, found):
    doc = range_doc()
    result = to_result(doc, SENTENCE, INV)
    items(result, "claims_time_id")[0]["value"]["text"] = [typed]
    _, issues = from_result(result, SENTENCE, "d", "h", INV)
    assert [(i.severity, i.test_id, i.region) for i in issues] == [("error", "dangling-time-id", "C1")]
    assert found in issues[0].message and repr(typed) in issues[0].message and "T1, T2" in issues[0].message


def test_a_time_id_naming_a_rejected_region_is_not_reported_twice():
    doc = range_doc()
    result = to_result(doc, SENTENCE, INV)
    items(result, "timexes", "T2")[0]["value"]["labels"] = ["NOT_A_TIMEX"]
    _, issues = from_result(result, SENTENCE, "d", "h", INV)
    assert [i.test_id for i in issues] == ["unknown-label"]


@pytest.mark.parametrize("field", ["quantity_value", "quantity_high"])
@pytest.mark.parametrize("raw, why", [("many", "is not a number"), ("3 thousand", "is not a number"),
                                       ("", None), ("inf", "is not a finite number"), ("NaN", "is not a finite number"),
                                       ("1e999", "is not a finite number"), ("2,500.5", None)])
def test_a_bad_number_in_an_export_gives_a_clear_issue(field, raw, why):
    doc = range_doc()
    result = to_result(doc, SENTENCE, INV)
    items(result, f"claims_{field}")[0]["value"]["text"] = [raw]
    back, issues = from_result(result, SENTENCE, "d", "h", INV)  # an issue, never a traceback
    if why is None:  # empty: null; thousands separators: a number
        assert issues == [] and back["claims"][0][field] == (2500.5 if raw else None)
        return
    assert [(i.severity, i.test_id, i.region) for i in issues] == [("error", "not-a-number", "C1")]
    message = str(issues[0])
    assert f"claims_{field}" in message and repr(raw) in message and why in message and "Doc d" in message
    assert back["claims"][0][field] is None and back["claims"][0]["time_id"] == "T2"  # the rest is read


def test_nulls_stay_null():
    """Optional attributes left empty give no result item, and an unticked choice or an emptied box reads as null."""
    doc = standoff.empty("d", "h")
    doc["timexes"] = [span("timexes", "T1", "Thursday", "DATE", value="2024-10-24")]
    doc["attributions"] = [span("attributions", "A1", "said", INV.role("source_label"))]
    doc["claims"] = [claim(cluster_id="k")]
    text = SENTENCE
    doc["claims"][0]["text"] = text[:10]
    result = to_result(doc, text, INV)
    names = {i["from_name"] for i in result if i["type"] != "labels"}
    empty = {f"{layer}_{f}" for layer in ("timexes", "attributions", "claims") for f in standoff.FIELDS[layer][5:]
             if doc[layer][0][f] is None}
    assert empty and not names & empty
    assert_identity(doc, text)
    result += [{"id": "C1", "from_name": "claims_quantity_unit", "to_name": "text", "type": "choices",
                "value": {"start": 0, "end": 10, "choices": []}},
               {"id": "C1", "from_name": "claims_time_id", "to_name": "text", "type": "textarea",
                "value": {"start": 0, "end": 10, "text": ["  "]}},
               {"id": "T1", "from_name": "timexes_mod", "to_name": "text", "type": "choices",
                "value": {"start": doc["timexes"][0]["start"], "end": doc["timexes"][0]["end"], "choices": []}}]
    back, issues = from_result(result, text, "d", "h", INV)
    assert issues == [] and standoff.dumps(back) == standoff.dumps(doc)


# ---------------------------------------------------------------- new entities and clusters proposed in Label Studio

def propose(result: list[dict], region: str, control: str, text, key: str | None = None) -> list[dict]:
    """Type a proposal into a region's proposal control, and a key into its key attribute (as the editor does)."""
    (labels,) = [i for i in result if i["id"] == region and i["type"] == "labels"]
    layer = labels["from_name"]
    attribute = {"entities": "entities_entity_id", "claims": "claims_cluster_id"}[layer]
    value = {"start": labels["value"]["start"], "end": labels["value"]["end"]}
    if key is not None:
        result[:] = [i for i in result if not (i["id"] == region and i.get("from_name") == attribute)]
        result.append({"id": region, "from_name": attribute, "to_name": "text", "type": "textarea",
                       "value": {**value, "text": [key]}})
    result.append({"id": region, "from_name": control, "to_name": "text", "type": "textarea",
                   "value": {**value, "text": text if isinstance(text, list) else [text]}})
    return result


def test_proposals_are_read_and_leave_the_document_as_it_was():
    """A new entity (its label is the region's) and a new cluster, typed into regions drawn in the editor."""
    doc = sources_doc()
    result = to_result(doc, SENTENCE, INV)
    for item in result:  # regions drawn in the editor carry Label Studio's ids
        item["id"] = {"E2": "lsE2xyz", "C1": "lsC1abc"}.get(item.get("id"), item.get("id"))
        if item["type"] == "relation":
            item["to_id"] = {"E2": "lsE2xyz"}.get(item["to_id"], item["to_id"])
            item["from_id"] = {"C1": "lsC1abc"}.get(item["from_id"], item["from_id"])
    propose(result, "lsE2xyz", "entities_new_entity", "  Moscow\n city ", key="moscow-city")
    propose(result, "lsC1abc", "claims_new_cluster", "Troops were sent.", key="troops-sent")
    back, issues = from_result(result, SENTENCE, "d", "h", INV, {"file": "x.json", "task": 7})
    assert issues == []  # a proposal is no field of the document
    assert [e["entity_id"] for e in back["entities"]] == ["seoul", "moscow-city"]
    assert back["claims"][0]["cluster_id"] == "troops-sent"
    found, issues = read_proposals(result, "d", INV, {"file": "x.json", "task": 7})
    assert issues == []
    gpe = doc["entities"][1]["label"]
    assert found == [Proposal("clusters", "troops-sent", {"proposition": "Troops were sent."}, "d", "lsC1abc"),
                     Proposal("entities", "moscow-city", {"name": "Moscow city", "label": gpe}, "d", "lsE2xyz")]
    assert found[1].where == {"file": "x.json", "task": 7}
    assert LI.validate_prediction({"model_version": "t", "result": result}, return_errors=True) == []


def test_no_proposal_without_a_proposal_field():
    doc = sources_doc()
    result = to_result(doc, SENTENCE, INV)
    result.append({"id": "E1", "from_name": "entities_new_entity", "to_name": "text", "type": "textarea",
                   "value": {"start": 0, "end": 5, "text": ["   "]}})  # typed and emptied again
    assert read_proposals(to_result(doc, SENTENCE, INV), "d", INV) == ([], [])
    assert read_proposals(result, "d", INV) == ([], [])


@pytest.mark.parametrize("region, text, key, test_id, found", [
    ("E1", "Seoul City", "Seoul City", "proposal-id-pattern", "'Seoul City'"),
    ("E1", "Seoul City", "seoul_city", "proposal-id-pattern", "'seoul_city'"),
    ("E1", "Seoul City", "seoul--city", "proposal-id-pattern", "'seoul--city'"),
    ("E1", "Seoul City", "séoul", "proposal-id-pattern", "'séoul'"),
    ("C1", "Troops were sent.", "-troops", "proposal-id-pattern", "'-troops'"),
    ("E1", "Seoul City", "", "proposal-without-id", "entities_entity_id"),
    ("C1", "Troops were sent.", " ", "proposal-without-id", "claims_cluster_id"),
    ("E1", ["Seoul", "City"], "seoul-city", "value-count", "['Seoul', 'City']"),
    ("E1", [7], "seoul-city", "malformed-item", "[7]"),
])
def test_a_bad_proposal_is_reported_with_what_was_found(region, text, key, test_id, found):
    doc = sources_doc()
    control = "entities_new_entity" if region.startswith("E") else "claims_new_cluster"
    result = propose(to_result(doc, SENTENCE, INV), region, control, text, key=key)
    proposals, issues = read_proposals(result, "d", INV, {"task": 3})
    assert proposals == []
    assert [(i.severity, i.test_id, i.region) for i in issues] == [("error", test_id, region)]
    line = str(issues[0])
    assert found in line and "Task 3" in line and "Doc d" in line and f"Region {region}" in line
    if test_id == "proposal-id-pattern":
        assert "lowercase" in line  # what an id looks like


def test_a_proposal_on_no_region_is_reported():
    result = to_result(sources_doc(), SENTENCE, INV)
    result.append({"id": "gone", "from_name": "entities_new_entity", "to_name": "text", "type": "textarea",
                   "value": {"start": 0, "end": 5, "text": ["Seoul"]}})
    _, issues = read_proposals(result, "d", INV)
    assert [(i.test_id, i.region) for i in issues] == [("value-without-region", "gone")]


def test_a_proposal_on_a_region_with_an_unknown_label_is_left_to_from_result():
    result = propose(to_result(sources_doc(), SENTENCE, INV), "E1", "entities_new_entity", "Seoul", key="seoul-x")
    items(result, "entities", "E1")[0]["value"]["labels"] = ["NOT_A_LABEL"]
    assert read_proposals(result, "d", INV) == ([], [])
    _, issues = from_result(result, SENTENCE, "d", "h", INV)
    assert "unknown-label" in {i.test_id for i in issues}


TABLES = {"entities": {"seoul": {"name": "Seoul", "label": "GPE"}},
          "clusters": {"troops": {"proposition": "Troops were sent."}}}


def proposal(table: str, key: str, doc: str = "d1", region: str = "r1", **row) -> Proposal:
    return Proposal(table, key, row, doc, region, {"task": 5})


def test_proposals_add_new_keys_to_their_tables():
    new = [proposal("entities", "harbour-city", name="Harbour City", label="GPE"),
           proposal("clusters", "strike-ended", proposition="The strike ended.", region="r2"),
           proposal("entities", "harbour-city", doc="d2", name="Harbour City", label="GPE")]  # again, the same
    tables, added, issues = add_proposals(new, TABLES)
    assert issues == []
    assert added == new[:2]
    assert tables["entities"] == {**TABLES["entities"], "harbour-city": {"name": "Harbour City", "label": "GPE"}}
    assert tables["clusters"] == {**TABLES["clusters"], "strike-ended": {"proposition": "The strike ended."}}
    assert "harbour-city" not in TABLES["entities"]  # pure


def test_a_proposal_of_a_key_the_table_has_adds_nothing_when_it_agrees():
    tables, added, issues = add_proposals([proposal("entities", "seoul", name="Seoul", label="GPE")], TABLES)
    assert (tables, added, issues) == (TABLES, [], [])


@pytest.mark.parametrize("row, found", [({"name": "Seoul City", "label": "GPE"}, "'Seoul City' (GPE)"),
                                        ({"name": "Seoul", "label": "ORG"}, "'Seoul' (ORG)")])
def test_a_proposal_that_contradicts_the_table_names_both(row, found):
    tables, added, issues = add_proposals([proposal("entities", "seoul", **row)], TABLES)
    assert added == [] and tables == TABLES
    assert [(i.severity, i.test_id, i.region) for i in issues] == [("error", "proposal-conflict", "r1")]
    line = str(issues[0])
    assert found in line and "'Seoul' (GPE)" in line and "annotations/tables/entities.json" in line
    assert "Task 5" in line and "Doc d1" in line


def test_two_proposals_of_one_key_that_differ_name_both():
    new = [proposal("clusters", "strike-ended", proposition="The strike ended."),
           proposal("clusters", "strike-ended", doc="d2", region="r9", proposition="The strike is over.")]
    _, added, issues = add_proposals(new, TABLES)
    assert added == new[:1]
    assert [(i.test_id, i.document_id, i.region) for i in issues] == [("proposal-conflict", "d2", "r9")]
    assert "'The strike ended.'" in issues[0].message and "'The strike is over.'" in issues[0].message
    assert "Doc d1 Region r1" in issues[0].message


def test_a_new_key_for_a_name_the_table_has_is_warned_about():
    tables, added, issues = add_proposals([proposal("entities", "seoul-city", name="Seoul", label="GPE")], TABLES)
    assert "seoul-city" in tables["entities"] and len(added) == 1
    assert [(i.severity, i.test_id) for i in issues] == [("warning", "proposal-known-name")]
    assert "'seoul'" in issues[0].message
