"""pactnews.validate.validator: every invalid fixture yields exactly its own test id; valid data passes."""
from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.cli import main
from pactnews.inventory import load_inventory
from pactnews.repo import Layout, find_root
from pactnews.validate.validator import (
    TESTS, Incident, check_repository, format_report, validate_annotations, validate_repository,
)

ROOT = find_root(Path(__file__).parent)
INVALID = Path(__file__).parent / "invalid"
VALID = INVALID / "_valid"
BASE_ID = "000_c7af0f0315e9c0dc"
FIXTURES = sorted(p for p in INVALID.iterdir() if p.is_file() and p.suffix in (".json", ".bin"))
# ids whose incident is about a whole file or document, or a record without an id, not one span
NO_SPAN = {"empty-file", "not-utf8", "invalid-json", "not-an-object", "wrong-format", "wrong-format-version",
           "document-id-mismatch", "text-hash-mismatch", "unknown-document", "record-not-an-object"}


def make_repo(tmp_path: Path) -> Path:
    """A repository copy with the corpus, the inventory and the valid tables, but no annotation files."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "corpus", root / "corpus")
    (root / "schemas").mkdir(parents=True)
    shutil.copy(ROOT / "schemas" / "labels.yaml", root / "schemas" / "labels.yaml")
    shutil.copytree(VALID / "tables", root / "annotations" / "tables")
    return root


def drop_in_name(fixture: Path) -> str:
    """The file name a fixture goes in under: its document_id, or the base document's."""
    if fixture.stem == "document-id-mismatch":
        return BASE_ID
    try:
        doc_id = json.loads(fixture.read_bytes()).get("document_id")
    except (ValueError, AttributeError):
        return BASE_ID
    return doc_id if isinstance(doc_id, str) else BASE_ID


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(p.relative_to(root).as_posix().encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def inventory():
    return load_inventory(ROOT / "schemas" / "labels.yaml")


def valid_doc() -> dict:
    return standoff.read(VALID / f"{BASE_ID}.json")


def valid_tables():
    return tables.read_entities(VALID / "tables" / "entities.json"), tables.read_clusters(VALID / "tables" / "claim_clusters.json")


def clean_text() -> str:
    return (ROOT / "corpus" / "clean" / f"{BASE_ID}.txt").read_text(encoding="utf-8")


def test_enough_fixtures_each_named_after_a_known_test():
    names = [p.stem for p in FIXTURES]
    assert len(set(names)) == len(names) >= 20
    unknown = sorted(set(names) - set(TESTS))
    assert not unknown, f"fixtures named after no test id: {unknown}"


def test_valid_fixture_passes(tmp_path, capsys):
    root = make_repo(tmp_path)
    shutil.copy(VALID / f"{BASE_ID}.json", root / "annotations" / f"{BASE_ID}.json")
    assert validate_repository(Layout(root)) == []
    assert main(["--root", str(root), "validate"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("PASSED: 1 documents, 20 spans, 4 relations, 0 incidents")


@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_invalid_fixture_yields_exactly_its_test_id(fixture, tmp_path, capsys):
    test_id = fixture.stem
    root = make_repo(tmp_path)
    name = drop_in_name(fixture)
    target = root / "annotations" / f"{name}.json"
    shutil.copy(fixture, target)
    before = tree_hash(root)

    incidents, _ = check_repository(Layout(root))
    assert [i.test_id for i in incidents] == [test_id], "\n".join(map(str, incidents))
    inc = incidents[0]
    assert inc.level == TESTS[test_id][0]
    assert inc.file == f"annotations/{name}.json"
    assert inc.document_id == name
    text = str(inc)
    assert text.startswith(f"[File annotations/{name}.json Doc {name}")
    assert f"[L{inc.level} {test_id}]" in text
    if test_id not in NO_SPAN:
        assert inc.span_id and inc.span_id in text
        if inc.start is not None:
            assert f"{inc.start}:{inc.end}" in text
    if inc.found is not None or inc.expected is not None:
        assert inc.found in inc.message and inc.expected in inc.message

    code = main(["--root", str(root), "validate"])
    out = capsys.readouterr().out
    assert code == 1
    assert text in out
    assert f"L{inc.level} {test_id}: 1" in out
    assert out.strip().splitlines()[-1].startswith("FAILED: 1 incidents")
    assert tree_hash(root) == before, "validate changed a file"


def test_span_incidents_name_offsets_and_both_texts():
    doc = valid_doc()
    e8 = next(r for r in doc["entities"] if r["id"] == "E8")
    e8["text"] = "Andrzej Dudu"
    ents, clus = valid_tables()
    [inc] = validate_annotations({BASE_ID: doc}, {BASE_ID: clean_text()}, ents, clus, inventory())
    assert str(inc) == (
        f"[File annotations/{BASE_ID}.json Doc {BASE_ID} Span E8 1452:1464]: [L3 span-text-mismatch] "
        "span text is 'Andrzej Dudu' but text[1452:1464] is 'Andrzej Duda'"
    )


def test_validate_annotations_is_pure_and_keeps_going_after_bad_records():
    doc = valid_doc()
    doc["entities"][0]["start"] = "0"  # wrong type
    doc["entities"][7]["label"] = "PER"  # unknown label
    doc["timexes"][0]["value"] = "yesterday"  # malformed value
    doc["relations"][0]["to_id"] = "A9"  # dangling
    snapshot = copy.deepcopy(doc)
    ents, clus = valid_tables()
    found = validate_annotations({BASE_ID: doc}, {BASE_ID: clean_text()}, ents, clus, inventory())
    assert sorted(i.test_id for i in found) == ["dangling-relation", "malformed-timex-value", "unknown-label", "wrong-type"]
    assert doc == snapshot


@pytest.mark.parametrize("layer, index, field, value", [
    ("entities", 0, "start", 0.0),  # Arrow would truncate a float into an int64 column
    ("entities", 0, "end", True),
    ("claims", 0, "quantity_value", True),  # ... and turn a bool into 1.0
    ("entities", 1, "start", 2 ** 70),
    ("entities", 0, "text", "South\ud800Korea"),
    ("relations", 0, "to_id", 5),
], ids=lambda v: repr(v)[:12])
def test_values_arrow_would_coerce_or_refuse_are_wrong_types(layer, index, field, value):
    doc = valid_doc()
    doc[layer][index][field] = value
    ents, clus = valid_tables()
    found = validate_annotations({BASE_ID: doc}, {BASE_ID: clean_text()}, ents, clus, inventory())
    assert [(i.test_id, i.span_id) for i in found] == [("wrong-type", doc[layer][index]["id"])]
    assert repr(value) in found[0].message


def test_relation_to_a_record_with_a_format_problem_is_not_dangling():
    doc = valid_doc()
    e5 = next(r for r in doc["entities"] if r["id"] == "E5")  # the source of C2
    e5["start"] = float(e5["start"])
    ents, clus = valid_tables()
    found = validate_annotations({BASE_ID: doc}, {BASE_ID: clean_text()}, ents, clus, inventory())
    assert [i.test_id for i in found] == ["wrong-type"]


def test_a_source_relation_with_a_format_problem_leaves_its_claim_unjudged():
    doc = valid_doc()
    r1 = next(r for r in doc["relations"] if r["id"] == "R1")  # C2's claim_source
    r1["to_id"] = ["E5"]
    ents, clus = valid_tables()
    found = validate_annotations({BASE_ID: doc}, {BASE_ID: clean_text()}, ents, clus, inventory())
    assert [(i.test_id, i.span_id) for i in found] == [("wrong-type", "R1")]


def test_claims_are_judged_even_when_a_corpus_has_no_relations():
    doc = valid_doc()
    doc["relations"] = []
    ents, clus = valid_tables()
    found = validate_annotations({BASE_ID: doc}, {BASE_ID: clean_text()}, ents, clus, inventory())
    assert sorted((i.test_id, i.span_id) for i in found) == [("source-type-mismatch", "C2"),
                                                             ("source-type-mismatch", "C3")]


def test_author_claim_with_a_cue_is_a_source_type_mismatch():
    doc = valid_doc()
    doc["relations"].append({"id": "R5", "label": "claim_cue", "from_id": "C1", "to_id": "A1"})
    ents, clus = valid_tables()
    [inc] = validate_annotations({BASE_ID: doc}, {BASE_ID: clean_text()}, ents, clus, inventory())
    assert (inc.test_id, inc.span_id) == ("source-type-mismatch", "C1")


def test_missing_source_relation_is_a_source_type_mismatch():
    doc = valid_doc()
    doc["relations"] = [r for r in doc["relations"] if r["id"] != "R3"]  # C3's claim_source
    ents, clus = valid_tables()
    [inc] = validate_annotations({BASE_ID: doc}, {BASE_ID: clean_text()}, ents, clus, inventory())
    assert (inc.test_id, inc.span_id, inc.found, inc.expected) == ("source-type-mismatch", "C3", "'unnamed'", "'author' or 'implicit'")


def test_every_overlap_in_a_forbidden_layer_is_found_and_claims_may_overlap():
    doc = valid_doc()
    text = clean_text()
    # nested entity (inside E8), a duplicate of E1 and an overlapping claim
    doc["entities"].append({"id": "E12", "start": 1460, "end": 1464, "text": text[1460:1464], "label": "PERSON",
                            "entity_id": "andrzej-duda"})
    doc["entities"].append({"id": "E13", "start": 0, "end": 11, "text": text[0:11], "label": "GPE",
                            "entity_id": "south-korea"})
    doc["claims"].append({**doc["claims"][0], "id": "C4", "start": 320, "end": 378, "text": text[320:378]})
    ents, clus = valid_tables()
    found = validate_annotations({BASE_ID: doc}, {BASE_ID: text}, ents, clus, inventory())
    assert sorted((i.test_id, i.span_id) for i in found) == [("overlapping-spans", "E12"), ("overlapping-spans", "E13")]


def test_documents_are_checked_independently():
    good, bad = valid_doc(), valid_doc()
    bad["document_id"] = "001_69d675cf0e69e825"
    bad["text_sha256"] = hashlib.sha256(b"x").hexdigest()
    ents, clus = valid_tables()
    texts = {BASE_ID: clean_text(), "001_69d675cf0e69e825": "short"}
    found = validate_annotations({BASE_ID: good, "001_69d675cf0e69e825": bad}, texts, ents, clus, inventory())
    assert {i.document_id for i in found} == {"001_69d675cf0e69e825"}
    assert "text-hash-mismatch" in {i.test_id for i in found}
    assert "offsets-out-of-range" in {i.test_id for i in found}


# ---- repository-level checks: one mutation of a copied repository each -------------------

def _write_yaml(path: Path, fn):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _stale_clean(root):
    p = root / "corpus" / "clean" / "001_69d675cf0e69e825.txt"
    p.write_text(p.read_text(encoding="utf-8") + "\n", encoding="utf-8")


def _raw_changed(root):
    p = root / "corpus" / "raw" / f"{BASE_ID}.txt"
    p.write_bytes(p.read_bytes() + b" ")


def _bad_dct(root):
    _write_yaml(root / "corpus" / "metadata.yaml", lambda d: d["documents"][2]["dct"].update(value="Friday"))


def _bad_metadata(root):
    (root / "corpus" / "metadata.yaml").write_text("documents: [\n", encoding="utf-8")


def _table_label(root):
    p = root / "annotations" / "tables" / "entities.json"
    rows = json.loads(p.read_text(encoding="utf-8"))
    rows["entities"].append({"entity_id": "kazan", "name": "Kazan", "label": "CITY"})
    p.write_text(json.dumps(rows), encoding="utf-8")


def _table_invalid(root):
    (root / "annotations" / "tables" / "claim_clusters.json").write_text('{"clusters": [{"id": 1}]}', encoding="utf-8")


def _table_missing(root):
    (root / "annotations" / "tables" / "claim_clusters.json").unlink()


def _conflicts(root, *entries, status="kept", origin="annotated", rule=None):
    rows = [{"conflict_id": e.get("id", f"X{n}"), "type": e.get("type", "sequence"), "origin": e.get("origin", origin),
             "rule": e.get("rule", rule), "status": status, "rationale": e.get("rationale", "They differ."),
             "members": [{"document_id": BASE_ID, "claim_id": c, "attribute": None, "value": None}
                         for c in e.get("members", ["C1", "C2"])]}
            for n, e in enumerate(entries, 1)]
    (root / "annotations" / "tables" / "conflicts.json").write_text(tables.dumps_conflicts(rows), encoding="utf-8")


def _denied_in_one_cluster(root):
    """C1 (the author) asserts and C3 (an unnamed source) denies one proposition: polarity-opposite finds it."""
    p = root / "annotations" / f"{BASE_ID}.json"
    doc = json.loads(p.read_text(encoding="utf-8"))
    doc["claims"][2].update(cluster_id=doc["claims"][0]["cluster_id"], factuality="denied")
    p.write_text(standoff.dumps(doc), encoding="utf-8")


def _extra_clean_file(root):
    (root / "corpus" / "clean" / "999_unknown.txt").write_text("x", encoding="utf-8")


REPO_CASES = {
    "clean-text-stale": (_stale_clean, "corpus/clean/001_69d675cf0e69e825.txt"),
    "clean-text-stale/extra": (_extra_clean_file, "corpus/clean/999_unknown.txt"),
    "raw-file-invalid": (_raw_changed, "corpus/metadata.yaml"),
    "malformed-dct-value": (_bad_dct, "corpus/metadata.yaml"),
    "invalid-metadata": (_bad_metadata, "corpus/metadata.yaml"),
    "entity-table-label": (_table_label, "annotations/tables/entities.json"),
    "invalid-table": (_table_invalid, "annotations/tables/claim_clusters.json"),
    "missing-table": (_table_missing, "annotations/tables/claim_clusters.json"),
    "invalid-table/conflicts": (lambda r: (r / "annotations" / "tables" / "conflicts.json").write_text(
        '{"conflicts": [{"conflict_id": "X1"}]}', encoding="utf-8"), "annotations/tables/conflicts.json"),
    "unknown-conflict-value": (lambda r: _conflicts(r, {"type": "rumour"}), "annotations/tables/conflicts.json"),
    "duplicate-conflict-id": (lambda r: _conflicts(r, {"id": "X1"}, {"id": "X1"}), "annotations/tables/conflicts.json"),
    "conflict-without-rationale": (lambda r: _conflicts(r, {"rationale": " "}), "annotations/tables/conflicts.json"),
    "unknown-conflict-member": (lambda r: _conflicts(r, {"members": ["C1", "C99"]}),
                                "annotations/tables/conflicts.json"),
    "unreviewed-conflict": (lambda r: (_conflicts(r), _denied_in_one_cluster(r)), "annotations/tables/conflicts.json"),
    "stale-conflict": (lambda r: _conflicts(r, {"type": "figure", "origin": "detected", "rule": "figure-incompatible"}),
                       "annotations/tables/conflicts.json"),
}


@pytest.mark.parametrize("case", sorted(REPO_CASES))
def test_repository_problem_yields_exactly_its_test_id(case, tmp_path, capsys):
    mutate, file = REPO_CASES[case]
    test_id = case.split("/")[0]
    root = make_repo(tmp_path)
    shutil.copy(VALID / f"{BASE_ID}.json", root / "annotations" / f"{BASE_ID}.json")
    mutate(root)
    before = tree_hash(root)
    incidents, _ = check_repository(Layout(root))
    assert [i.test_id for i in incidents] == [test_id], "\n".join(map(str, incidents))
    assert incidents[0].file == file
    assert main(["--root", str(root), "validate"]) == 1
    assert f"[L{TESTS[test_id][0]} {test_id}]" in capsys.readouterr().out
    assert tree_hash(root) == before


@pytest.mark.parametrize("case", [p.stem for p in FIXTURES] + sorted(REPO_CASES))
def test_render_and_export_refuse_what_validate_refuses_with_its_incidents(case, tmp_path, capsys):
    """One gate: `pactnews render` and `pactnews export` print validate's own incidents and write nothing."""
    root = make_repo(tmp_path / "x")
    if case in REPO_CASES:
        shutil.copy(VALID / f"{BASE_ID}.json", root / "annotations" / f"{BASE_ID}.json")
        REPO_CASES[case][0](root)
    else:
        fixture = INVALID / next(p.name for p in FIXTURES if p.stem == case)
        shutil.copy(fixture, root / "annotations" / f"{drop_in_name(fixture)}.json")
    expected = [str(i) for i in check_repository(Layout(root))[0]]
    assert expected, "validate accepts the case"
    before = tree_hash(tmp_path)
    for verb, argv in (("render", ["render", "--out", str(tmp_path / "site")]),
                       ("export", ["export", "--format", "brat", "--out", str(tmp_path / "brat")])):
        code = main(["--root", str(root), *argv])
        out = capsys.readouterr()
        lines = out.out.strip().splitlines()
        assert code == 1 and "Traceback" not in out.out + out.err
        assert lines[:len(expected)] == expected, out.out
        assert lines[-1].startswith(f"FAILED: {len(expected)} incidents")
        assert lines[-1].endswith(f"so pactnews {verb} wrote nothing")
    assert tree_hash(tmp_path) == before


def test_every_test_id_has_a_case():
    from test_hostile import CASES as HOSTILE, ENV_CASES

    covered = {p.stem for p in FIXTURES} | {c.split("/")[0] for c in REPO_CASES}
    covered |= {test_id for _, ids, *_ in HOSTILE.values() for test_id in ids}
    covered |= {test_id for ids, *_ in ENV_CASES.values() for test_id in ids}
    # schema-check is the fallback for a pandera check this module does not know
    assert set(TESTS) - covered == {"schema-check"}


def test_no_annotation_files_passes_with_a_clear_summary(tmp_path, capsys):
    root = make_repo(tmp_path)
    shutil.rmtree(root / "annotations" / "tables")
    assert main(["--root", str(root), "validate"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("PASSED: 0 documents, 0 spans, 0 relations, 0 incidents")
    assert "no annotation files yet" in out and "5 documents" in out


def test_another_annotation_folder_and_report_files_beside_the_documents(tmp_path, capsys):
    root = make_repo(tmp_path)
    folder = root / "annotations" / "passes" / "A"
    shutil.copytree(VALID, folder)
    (folder / "agreement.json").write_text('{"disagreements": []}', encoding="utf-8")
    assert main(["--root", str(root), "validate", "--annotations", str(folder)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("note: annotations/passes/A/agreement.json is not an annotation file")
    assert lines[-1].startswith("PASSED: 1 documents, 20 spans, 4 relations, 0 incidents (annotations/passes/A/")
    bad = json.loads((folder / f"{BASE_ID}.json").read_text(encoding="utf-8"))
    bad["entities"][0]["label"] = "COUNTRY"
    (folder / f"{BASE_ID}.json").write_text(json.dumps(bad), encoding="utf-8")
    assert main(["--root", str(root), "validate", "--annotations", str(folder)]) == 1
    assert f"[File annotations/passes/A/{BASE_ID}.json Doc {BASE_ID} Span E1 0:11]: [L2 unknown-label]" in \
        capsys.readouterr().out


def test_the_repository_itself_validates():
    incidents, stats = check_repository(Layout(ROOT))
    assert incidents == [], "\n".join(map(str, incidents[:20]))
    assert stats["corpus_documents"] == 5


def test_format_report_summary_and_limit():
    incs = [Incident(3, "span-text-mismatch", "a.json", "d", f"E{k}", k, k + 1, f"m{k}") for k in range(3)]
    incs.append(Incident(4, "dangling-relation", "a.json", "d", "R1", None, None, "gone"))
    report = format_report(incs, documents=1, spans=3, relations=1, limit=2)
    lines = report.splitlines()
    assert lines[:2] == ["[File a.json Doc d Span E0 0:1]: [L3 span-text-mismatch] m0",
                         "[File a.json Doc d Span E1 1:2]: [L3 span-text-mismatch] m1"]
    assert "[File a.json Doc d Span R1]: [L4 dangling-relation] gone" in lines
    assert "  L3 span-text-mismatch: 3 (first 2 shown)" in lines
    assert "  L4 dangling-relation: 1" in lines
    assert lines[-1].startswith("FAILED: 4 incidents in 1 documents")
    assert format_report([], documents=5, spans=812) == "PASSED: 5 documents, 812 spans, 0 incidents"


def test_test_ids_are_kebab_case_with_a_level():
    for test_id, (level, what) in TESTS.items():
        assert test_id == test_id.lower() and " " not in test_id and "_" not in test_id
        assert level in (1, 2, 3, 4) and what


# ---- the column-wise text and overlap checks against the obvious per-span loops ------------

from hypothesis import given, settings, strategies as st  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow  # noqa: E402

from pactnews.validate.validator import overlaps, text_mismatches  # noqa: E402

_CHARS = st.sampled_from(list("ab \n’é😀"))


@st.composite
def spans_over_texts(draw):
    texts = draw(st.lists(st.text(_CHARS, min_size=1, max_size=30), min_size=1, max_size=4))
    rows = []
    for _ in range(draw(st.integers(0, 25))):
        d = draw(st.integers(0, len(texts) - 1))
        s = draw(st.integers(0, len(texts[d]) - 1))
        e = draw(st.integers(s + 1, len(texts[d])))
        recorded = texts[d][s:e]
        if draw(st.booleans()):  # sometimes record something else
            recorded = draw(st.text(_CHARS, max_size=8))
        rows.append((d, s, e, recorded))
    return texts, rows


@settings(max_examples=300, deadline=None, database=None)
@given(spans_over_texts())
def test_text_mismatches_agrees_with_slicing(case):
    texts, rows = case
    doc = np.array([r[0] for r in rows], dtype=np.int64)
    start = np.array([r[1] for r in rows], dtype=np.int64)
    end = np.array([r[2] for r in rows], dtype=np.int64)
    recorded = pyarrow.chunked_array([pyarrow.array([r[3] for r in rows], pyarrow.string())])
    got = text_mismatches(texts, doc, start, end, recorded).tolist()
    assert got == [texts[d][s:e] != t for d, s, e, t in rows]


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 30), st.integers(1, 8)), max_size=30))
def test_overlaps_finds_exactly_the_overlapping_spans(spans):
    doc = np.array([d for d, _, _ in spans], dtype=np.int64)
    start = np.array([s for _, s, _ in spans], dtype=np.int64)
    end = start + np.array([n for _, _, n in spans], dtype=np.int64)
    pairs = overlaps(doc, start, end)
    flagged = {i for i, _ in pairs}
    for i, j in pairs:  # each reported pair really overlaps
        assert doc[i] == doc[j] and start[i] < end[j] and start[j] < end[i] and i != j
    # a span is flagged unless it is the first, in (start, end) order, of every overlap it takes part in
    for i in range(len(spans)):
        earlier = [j for j in range(len(spans)) if j != i and doc[j] == doc[i] and start[j] < end[i]
                   and start[i] < end[j] and (start[j], end[j], j) < (start[i], end[i], i)]
        assert (i in flagged) == bool(earlier)


# ---- pactnews.outputs.schemas: the exported schemas ------------------------------------------------

import jsonschema  # noqa: E402
import pandera.pandas as pa  # noqa: E402

from pactnews.outputs import schemas# noqa: E402
from pactnews.pipeline.flatten import flatten  # noqa: E402


def test_committed_schema_exports_are_up_to_date():
    files, _ = schemas.render_outputs(Layout(ROOT))
    for path, data in files.items():
        if path.name == "labelstudio.xml" and not path.is_file():
            continue  # written by `pactnews schemas` once pactnews.labelstudio.config exists
        assert path.read_bytes() == data, f"{path} is stale; run `pactnews schemas`"


def test_schemas_check_fails_on_a_changed_inventory_and_writes_nothing(tmp_path, capsys):
    root = make_repo(tmp_path)
    assert main(["--root", str(root), "schemas"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("Exported ")
    assert main(["--root", str(root), "schemas", "--check"]) == 0
    labels = root / "schemas" / "labels.yaml"
    labels.write_text(labels.read_text(encoding="utf-8").replace(
        "      CARDINAL: Numerals that do not fall under another type, with their modifiers (\"about\", \"as many as\").\n",
        "      CARDINAL: Numerals that do not fall under another type, with their modifiers (\"about\", \"as many as\").\n      VEHICLE: Named vehicles.\n"),
        encoding="utf-8")
    before = tree_hash(root)
    capsys.readouterr()
    assert main(["--root", str(root), "schemas", "--check"]) == 1
    out = capsys.readouterr().out
    assert "schemas/pandera/entities.yaml" in out and "schemas/standoff.schema.json" in out
    assert "schemas/pandera/timexes.yaml" not in out
    assert tree_hash(root) == before
    assert main(["--root", str(root), "schemas"]) == 0
    assert "- VEHICLE" in (root / "schemas" / "pandera" / "entities.yaml").read_text(encoding="utf-8")
    exported = json.loads((root / "schemas" / "standoff.schema.json").read_text(encoding="utf-8"))
    assert "VEHICLE" in exported["$defs"]["entities"]["properties"]["label"]["enum"]


def test_exported_pandera_yaml_round_trips_with_its_custom_checks(tmp_path):
    inv = inventory()
    doc = valid_doc()
    claim = doc["claims"][2]
    claim["quantity_unit"] = None
    doc["entities"][0]["label"] = "PER"
    frames = {layer: schemas.to_pandas(t) for layer, t in flatten({BASE_ID: doc}).items()}
    for layer, schema in schemas.table_schemas(inv).items():
        loaded = pa.DataFrameSchema.from_yaml(schema.to_yaml())
        assert loaded.to_yaml() == schema.to_yaml()
        if layer in ("claims", "entities"):
            with pytest.raises(pa.errors.SchemaErrors) as err:
                loaded.validate(frames[layer], lazy=True)
            checks = set(err.value.failure_cases["check"].astype(str))
            assert checks == ({"present_together(column=quantity_value, requires=quantity_unit)"} if layer == "claims"
                              else {f"isin({inv.labels('entities')})"})
        else:
            loaded.validate(frames[layer], lazy=True)


def test_table_schemas_follow_the_inventory():
    inv = inventory()
    raw = copy.deepcopy(inv.raw)
    raw["layers"]["timexes"]["labels"]["EPOCH"] = "A geological age."
    raw["values"]["factuality"]["retracted"] = "Taken back."
    changed = type(inv)(raw)
    timexes = schemas.table_schema("timexes", changed)
    assert "EPOCH" in timexes.columns["label"].checks[0].statistics["allowed_values"]
    claims = schemas.table_schema("claims", changed)
    assert "retracted" in claims.columns["factuality"].checks[0].statistics["allowed_values"]
    assert list(schemas.table_schema("entities", inv).columns) == ["document_id", *standoff.FIELDS["entities"]]


JSON_SCHEMA_REJECTS = {"wrong-format", "wrong-format-version", "missing-field", "unknown-field", "record-not-an-object",
                       "wrong-type", "unknown-label", "unknown-value", "wrong-id-prefix", "malformed-timex-value",
                       "null-value", "not-an-object"}


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("fixture", [p for p in FIXTURES if _parses(p)], ids=lambda p: p.stem)
def test_json_schema_agrees_with_the_validator_on_what_it_can_see(fixture):
    schema = json.loads(json.dumps(schemas.standoff_json_schema(inventory())))
    obj = json.loads(fixture.read_bytes())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(obj))
    assert bool(errors) == (fixture.stem in JSON_SCHEMA_REJECTS), [e.message for e in errors]


def test_json_schema_accepts_the_valid_fixture_and_is_a_valid_schema():
    schema = schemas.standoff_json_schema(inventory())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads((VALID / f"{BASE_ID}.json").read_bytes()), schema)


# ---- streaming: batches and processes give the same incidents ------------------------------

import pactnews.validate.validator as validate_module  # noqa: E402
import pactnews.validate.repository as repository_module  # noqa: E402
from pactnews.corpus.readers import read_metadata  # noqa: E402


def batched_run(root: Path, monkeypatch, batch_size: int, num_proc: int, annotations: Path | None = None):
    monkeypatch.setattr(repository_module, "BATCH_SIZE", batch_size)
    incidents, stats = check_repository(Layout(root), annotations, num_proc=num_proc)
    return incidents, stats, format_report(incidents, **stats)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_invalid_fixture_gives_the_same_incidents_in_batches(fixture, tmp_path, monkeypatch):
    root = make_repo(tmp_path)
    shutil.copy(fixture, root / "annotations" / f"{drop_in_name(fixture)}.json")
    whole = batched_run(root, monkeypatch, 10_000, 1)
    assert [i.test_id for i in whole[0]] == [fixture.stem]
    assert batched_run(root, monkeypatch, 2, 2) == whole


def _many_problems(tmp_path: Path) -> Path:
    """The real annotations with a problem in several documents, the corpus and the folder."""
    root = make_repo(tmp_path)
    shutil.rmtree(root / "annotations")
    shutil.copytree(ROOT / "annotations", root / "annotations", ignore=shutil.ignore_patterns("passes"))
    ids = [r["id"] for r in read_metadata(Layout(root))]
    first = root / "annotations" / f"{ids[0]}.json"
    doc = json.loads(first.read_text(encoding="utf-8"))
    doc["entities"][0]["label"] = "COUNTRY"
    first.write_text(json.dumps(doc), encoding="utf-8")
    last = root / "annotations" / f"{ids[4]}.json"
    doc = json.loads(last.read_text(encoding="utf-8"))
    doc["claims"][0]["text"] += "!"
    doc["relations"][0]["to_id"] = "E999"
    last.write_text(json.dumps(doc), encoding="utf-8")
    (root / "annotations" / f"{ids[3]}.json").write_text("{", encoding="utf-8")
    stale = root / "corpus" / "clean" / f"{ids[2]}.map.json"
    stale.write_text(stale.read_text(encoding="utf-8") + " ", encoding="utf-8")
    (root / "corpus" / "clean" / "zzz_extra.txt").write_text("x", encoding="utf-8")
    stray = dict(valid_doc(), document_id="999_not_in_the_corpus")
    (root / "annotations" / "999_not_in_the_corpus.json").write_text(json.dumps(stray), encoding="utf-8")
    (root / "annotations" / "agreement.json").write_text('{"pairs": []}', encoding="utf-8")
    return root


@pytest.mark.parametrize("batch_size, num_proc", [(1, 1), (2, 1), (2, 2), (3, 2)])
def test_many_problems_give_the_same_report_in_any_batches(tmp_path, monkeypatch, batch_size, num_proc):
    root = _many_problems(tmp_path)
    whole = batched_run(root, monkeypatch, 10_000, 1)
    found = {i.test_id for i in whole[0]}
    assert {"unknown-label", "span-text-mismatch", "dangling-relation", "invalid-json", "clean-text-stale",
            "unknown-document"} <= found, whole[2]
    assert sum(i.test_id == "clean-text-stale" for i in whole[0]) == 2  # the changed map and the extra file
    assert whole[1]["ignored"] == ["annotations/agreement.json"] and whole[1]["documents"] == 6
    assert batched_run(root, monkeypatch, batch_size, num_proc) == whole


def test_each_bad_raw_file_is_one_incident_in_any_batches(tmp_path, monkeypatch):
    root = make_repo(tmp_path)
    shutil.copy(VALID / f"{BASE_ID}.json", root / "annotations" / f"{BASE_ID}.json")
    ids = [r["id"] for r in read_metadata(Layout(root))]
    for doc_id in (ids[1], ids[4]):  # two bad raw files, in the first and the last batch
        p = root / "corpus" / "raw" / f"{doc_id}.txt"
        p.write_bytes(p.read_bytes() + b" ")
    whole = batched_run(root, monkeypatch, 10_000, 1)
    assert [i.test_id for i in whole[0]] == ["raw-file-invalid"] * 2
    assert [i.document_id for i in whole[0]] == [ids[1], ids[4]] and ids[1] in whole[0][0].message
    assert str(root) not in whole[0][0].message  # paths relative to the repository
    assert batched_run(root, monkeypatch, 2, 2) == whole


def test_validate_batch_covers_its_records_and_their_annotation_files(tmp_path):
    root = _many_problems(tmp_path)
    layout = Layout(root)
    records = read_metadata(layout)
    inv = inventory()
    entities, clusters = tables.read_entities(layout.entity_table), tables.read_clusters(layout.cluster_table)
    whole, _ = check_repository(layout)
    parts = []
    for k in range(0, len(records), 2):
        batch = validate_module.validate_batch(layout, inv, entities, clusters, records[k:k + 2])
        assert {i.document_id for i in batch} <= {r["id"] for r in records[k:k + 2]}
        parts += batch
    not_per_batch = [i for i in whole if i.document_id not in {r["id"] for r in records}]
    assert sorted(parts + not_per_batch, key=str) == sorted(whole, key=str)
    assert {i.file for i in not_per_batch} == {"corpus/clean/zzz_extra.txt", "annotations/999_not_in_the_corpus.json"}


def test_validate_command_takes_num_proc(tmp_path, capsys):
    root = _many_problems(tmp_path)
    assert main(["--root", str(root), "validate"]) == 1
    one = capsys.readouterr().out
    assert main(["--root", str(root), "validate", "--num-proc", "2"]) == 1
    assert capsys.readouterr().out == one


@pytest.mark.parametrize("status", ["kept", "dismissed"])
def test_a_reviewed_detector_finding_passes_kept_or_dismissed(status, tmp_path):
    root = make_repo(tmp_path)
    shutil.copy(VALID / f"{BASE_ID}.json", root / "annotations" / f"{BASE_ID}.json")
    _denied_in_one_cluster(root)
    _conflicts(root, {"type": "polarity", "origin": "detected", "rule": "polarity-opposite", "members": ["C1", "C3"],
                      "rationale": "The source of C3 denies what the article asserts in C1."}, status=status)
    incidents, _ = check_repository(Layout(root))
    assert incidents == []
    _conflicts(root, {"type": "polarity", "origin": "detected", "rule": "polarity-opposite", "members": ["C1", "C2"]},
               status=status)
    assert sorted(i.test_id for i in check_repository(Layout(root))[0]) == ["stale-conflict", "unreviewed-conflict"]


def test_table_lookups_look_up_each_distinct_value_once_and_miss_nulls_and_strangers():
    import pyarrow as pa

    from pactnews.validate.columns import _table_codes

    col = pa.chunked_array([pa.array(["a", None, "b"]), pa.array(["a", "z", "b"])])
    table = {"a": {"label": "X"}, "b": {"label": "Y"}, "c": {"label": "X"}}
    looked_up = []
    codes = _table_codes(col, table, lambda v: looked_up.append(v) or ["X", "Y"].index(v["label"]))
    assert codes.tolist() == [0, -1, 1, 0, -1, 1]
    assert len(looked_up) == 2  # "a" and "b" once each; "z" and null are not keys
    assert _table_codes(pa.chunked_array([pa.array([], pa.string())]), table, lambda v: 0).tolist() == []
