"""pactnews.annotations.standoff: the canonical file format round-trips, is deterministic and refuses malformed files."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from pactnews.annotations import standoff
from pactnews.repo import find_root
from pactnews.files import sha256_text

ROOT = find_root(Path(__file__).parent)
VALID = Path(__file__).parent / "invalid" / "_valid" / "000_c7af0f0315e9c0dc.json"


def sample() -> dict:
    doc = standoff.read(VALID)
    return {k: v for k, v in doc.items() if k not in ("format", "format_version")}


def test_round_trip_of_a_real_file_is_byte_identical():
    data = VALID.read_bytes()
    assert standoff.dumps(standoff.loads(data, str(VALID))).encode("utf-8") == data


def test_every_annotation_file_in_the_repository_is_canonical():
    files = [p for folder in (ROOT / "annotations", *sorted((ROOT / "annotations" / "passes").glob("*")))
             for p in sorted(folder.glob("*.json")) if p.stem[:3].isdigit()]
    for p in files:
        assert standoff.dumps(standoff.read(p)).encode("utf-8") == p.read_bytes(), p


def test_dumps_writes_one_record_per_line_in_a_fixed_order():
    text = standoff.dumps(sample())
    lines = text.splitlines()
    assert lines[1:5] == ['  "format": "pactnews-standoff",', '  "format_version": 2,',
                          '  "document_id": "000_c7af0f0315e9c0dc",',
                          '  "text_sha256": "76820466d4b07311c5194f5c2fc3ee9a63ab0a356e1b04e557f7d35f6d829d5a",']
    records = [json.loads(line.strip().rstrip(",")) for line in lines if line.startswith("    {")]
    assert len(records) == sum(len(sample()[layer]) for layer in standoff.LAYERS)
    for rec in records:
        layer = next(layer for layer in standoff.LAYERS if set(rec) == set(standoff.FIELDS[layer]))
        assert list(rec) == standoff.FIELDS[layer]
    assert text.endswith("}\n") and json.loads(text)["entities"][0]["id"] == "E1"


def test_records_are_sorted_by_offsets_and_relations_by_ends():
    doc = json.loads(standoff.dumps(sample()))
    for layer in standoff.SPAN_LAYERS:
        keys = [(r["start"], -r["end"], r["label"], r["id"]) for r in doc[layer]]
        assert keys == sorted(keys)
    rel = [(r["from_id"], r["label"], r["to_id"], r["id"]) for r in doc["relations"]]
    assert rel == sorted(rel)


def test_order_of_records_and_keys_does_not_change_the_bytes():
    doc = sample()
    expected = standoff.dumps(doc)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = {k: doc[k] for k in rng.sample(list(doc), len(doc))}
        for layer in standoff.LAYERS:
            records = [dict(rng.sample(list(r.items()), len(r))) for r in doc[layer]]
            rng.shuffle(records)
            shuffled[layer] = records
        assert standoff.dumps(shuffled) == expected


def test_empty_document():
    doc = standoff.empty("x", sha256_text(""))
    assert standoff.loads(standoff.dumps(doc).encode()) == {"format": standoff.FORMAT,
                                                             "format_version": standoff.FORMAT_VERSION, **doc}
    assert all(doc[layer] == [] for layer in standoff.LAYERS)


def test_read_all_keys_documents_by_file_stem(tmp_path):
    for name in ("b_doc", "a_doc"):
        (tmp_path / f"{name}.json").write_text(standoff.dumps(standoff.empty(name, "0" * 64)), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not json", encoding="utf-8")
    docs = standoff.read_all(tmp_path)
    assert list(docs) == ["a_doc", "b_doc"] and docs["a_doc"]["document_id"] == "a_doc"


def _obj(**changes):
    doc = {"format": standoff.FORMAT, "format_version": standoff.FORMAT_VERSION, **standoff.empty("d", "0" * 64)}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not _DROP}


_DROP = object()


@pytest.mark.parametrize("data, test_id", [
    (b"", "empty-file"),
    (b"  \n", "empty-file"),
    (b'{"format": "caf\xe9"}', "not-utf8"),
    (b'{"format": "pactnews-standoff",', "invalid-json"),
    (b"[1, 2]", "not-an-object"),
    (json.dumps(_obj(format="brat")).encode(), "wrong-format"),
    (json.dumps(_obj(format_version=standoff.FORMAT_VERSION + 1)).encode(), "wrong-format-version"),
    (json.dumps(_obj(document_id=_DROP)).encode(), "missing-field"),
    (json.dumps(_obj(text_sha256=5)).encode(), "missing-field"),
    (json.dumps(_obj(claims=_DROP)).encode(), "missing-field"),
    (json.dumps(_obj(relations={})).encode(), "missing-field"),
    (json.dumps(_obj(comments=[])).encode(), "unknown-field"),
])
def test_structural_problems_raise_format_error_with_their_test_id(data, test_id):
    with pytest.raises(standoff.FormatError) as err:
        standoff.loads(data, "annotations/d.json")
    assert str(err.value).startswith(f"annotations/d.json: [L1 {test_id}] ")


def test_not_utf8_names_the_byte():
    with pytest.raises(standoff.FormatError, match=r"byte 15 \(0xe9\)"):
        standoff.loads(b'{"format": "caf\xe9"}', "x.json")


# ---- property: any document survives dumps -> loads unchanged ------------------------------

# characters that stress JSON and UTF-8 (drawn from a list: no Unicode tables cached on disk)
_CHAR = st.sampled_from(list('aZ0 "\\/\n\t\u00a0’“”é中😀{}[],:\u2028\x00\x7f'))
_TEXT = st.text(_CHAR, max_size=12)
_IDS = st.integers(1, 500)


def _spans(prefix, extra):
    return st.lists(st.fixed_dictionaries({
        "id": _IDS.map(lambda n: f"{prefix}{n}"), "start": st.integers(0, 10_000), "end": st.integers(0, 10_000),
        "text": _TEXT, "label": st.sampled_from(["A", "B", "GPE"]), **extra}), max_size=6, unique_by=lambda r: r["id"])


_DOCS = st.fixed_dictionaries({
    "document_id": st.text(_CHAR, min_size=1, max_size=10), "text_sha256": st.text("0123456789abcdef", min_size=64, max_size=64),
    "entities": _spans("E", {"entity_id": _TEXT}),
    "timexes": _spans("T", {"value": _TEXT, "mod": st.none() | st.sampled_from(["END", "APPROX"])}),
    "attributions": _spans("A", {"entity_id": st.none() | _TEXT}),
    "claims": _spans("C", {"source_type": st.sampled_from(["entity", "unnamed", "author"]),
                           "factuality": st.sampled_from(["asserted", "hedged", "uncommitted", "denied"]),
                           "author_stance": st.sampled_from(["none", "distanced"]),
                           "modality": st.sampled_from(["actual", "expected"]),
                           "cluster_id": _TEXT, "time_id": st.none() | _TEXT,
                           "quantity_value": st.none() | st.floats(allow_nan=False),
                           "quantity_high": st.none() | st.floats(allow_nan=False),
                           "quantity_approximation": st.none() | _TEXT,
                           "quantity_unit": st.none() | _TEXT, "quantity_surface_unit": st.none() | _TEXT}),
    "relations": st.lists(st.fixed_dictionaries({
        "id": _IDS.map(lambda n: f"R{n}"), "label": st.sampled_from(["claim_source", "claim_cue"]),
        "from_id": _IDS.map(lambda n: f"C{n}"), "to_id": _IDS.map(lambda n: f"E{n}")}),
        max_size=6, unique_by=lambda r: r["id"]),
})


@settings(max_examples=200, deadline=None, database=None)
@given(_DOCS)
def test_any_document_round_trips(doc):
    text = standoff.dumps(doc)
    back = standoff.loads(text.encode("utf-8"))
    assert back["document_id"] == doc["document_id"] and back["text_sha256"] == doc["text_sha256"]
    for layer in standoff.LAYERS:
        assert back[layer] == sorted(doc[layer], key=standoff.sort_key(layer))
    assert standoff.dumps(back) == text
