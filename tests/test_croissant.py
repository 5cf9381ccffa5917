"""croissant.json: valid for mlcroissant, every record equal to its Parquet row (nested fields included), every RAI 1.0 property filled from the data, the licence of each part."""
from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import mlcroissant as mlc
import pyarrow.parquet as pq
import pytest
import yaml

import buildkit
from pactnews.outputs.croissant import (RAI_SPELLING, _field, dct_interval, fix_rai_spelling, json_path,
                                license_statement)
from pactnews.inventory import load_inventory
from pactnews.repo import Layout
from pactnews.annotations.tables import read_entities

logging.getLogger("absl").setLevel(logging.ERROR)


@pytest.fixture(scope="module", params=buildkit.VARIANTS)
def repo(request, tmp_path_factory):
    return buildkit.built(tmp_path_factory, request.param)


def _validate(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlcroissant.scripts.validate", "--jsonld", str(path)],
                          capture_output=True, text=True)


def test_mlcroissant_validates_the_file(repo, tmp_path):
    proc = _validate(repo / "croissant.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    md = mlc.Dataset(str(repo / "croissant.json")).metadata  # raises on errors
    assert not md.issues.errors
    broken = json.loads((repo / "croissant.json").read_text())
    broken["recordSet"][-1]["field"][0]["source"]["fileSet"]["@id"] = "no-such-file-set"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    assert _validate(tmp_path / "broken.json").returncode == 1


# the properties of the Croissant RAI 1.0 vocabulary, spelled as the vocabulary spells them
RAI_1_0 = (
    "rai:dataCollection", "rai:dataCollectionType", "rai:dataCollectionMissingData", "rai:dataCollectionRawData",
    "rai:dataCollectionTimeframe", "rai:dataImputationProtocol", "rai:dataPreprocessingProtocol",
    "rai:dataManipulationProtocol", "rai:dataAnnotationProtocol", "rai:dataAnnotationPlatform",
    "rai:dataAnnotationAnalysis", "rai:annotationsPerItem", "rai:annotatorDemographics",
    "rai:machineAnnotationTools", "rai:dataBiases", "rai:dataUseCases", "rai:dataLimitations",
    "rai:dataSocialImpact", "rai:personalSensitiveInformation", "rai:dataReleaseMaintenancePlan",
)


def _text(value) -> str:
    return " ".join(value) if isinstance(value, list) else str(value)


def test_metadata_comes_from_dataset_yaml_and_rai_uses_the_vocabulary_names(repo):
    obj = json.loads((repo / "croissant.json").read_text())
    info = yaml.safe_load((repo / "corpus" / "dataset.yaml").read_text())
    assert obj["name"] == info["name"] and obj["version"] == str(info["version"])
    assert obj["conformsTo"] == ["http://mlcommons.org/croissant/1.0", "http://mlcommons.org/croissant/RAI/1.0"]
    for wrong, right in RAI_SPELLING.items():
        assert wrong not in obj and right in obj
    assert sorted(k for k in obj if k.startswith("rai:")) == sorted(RAI_1_0)
    assert all(obj[k] and all(obj[k]) for k in RAI_1_0)
    records = yaml.safe_load((repo / "corpus" / "metadata.yaml").read_text())["documents"]
    dcts = sorted({str(d["dct"]["value"]) for d in records})
    first = min(d if len(d) == 10 else d + "-01" for d in dcts)
    last = max(d if len(d) == 10 else d + "-31" for d in dcts)  # the month dates of this corpus have 31 days
    assert obj["rai:dataCollectionTimeframe"] == [first, last]
    assert "date of extraction" in obj["rai:dataCollection"] and f"on or after {last}" in obj["rai:dataCollection"]
    assert all(rule in obj["rai:dataPreprocessingProtocol"] for rule in ("spam_url_line", "nbsp_to_space"))
    n = len(records)
    urls = sum(1 for d in records if d.get("url"))
    assert f"a URL in {urls} of {n}" in obj["rai:dataCollectionMissingData"]
    inferred = sum(1 for d in records if d["dct"]["basis"] == "inferred")
    assert f"({inferred} of {n})" in obj["rai:dataImputationProtocol"]


def test_rai_facts_come_from_the_gold(repo):
    obj = json.loads((repo / "croissant.json").read_text())
    layout = Layout(repo)
    entities = read_entities(layout.entity_table)
    mentioned = set()
    counts = {"entities": 0, "claims": 0}
    for p in (repo / "annotations").glob("*.json"):
        doc = json.loads(p.read_text())
        mentioned |= {e.get("entity_id") for e in doc.get("entities", [])}
        for layer in counts:
            counts[layer] += len(doc.get(layer, []))
    persons = sorted(v["name"] for k, v in entities.items() if v["label"] == "PERSON" and k in mentioned)
    personal = _text(obj["rai:personalSensitiveInformation"])
    assert f"the gold names {len(persons)} persons" in personal and all(name in personal for name in persons)
    assert "No data of private individuals" in personal
    assert f"{counts['entities']} entities" in obj["rai:dataAnnotationProtocol"][0]
    assert f"{counts['claims']} claims" in obj["rai:dataAnnotationProtocol"][0]
    assert "not people" in _text(obj["rai:annotatorDemographics"])
    tools = _text(obj["rai:machineAnnotationTools"])
    import spacy

    assert "spaCy " + spacy.__version__ in tools and "language-model agent" in tools
    assert any("Label Studio" in p for p in obj["rai:dataAnnotationPlatform"])
    # the test copies hold no annotations/reports: the RAI text says so instead of giving figures
    assert "No agreement report" in _text(obj["rai:dataAnnotationAnalysis"])


@pytest.fixture(scope="module")
def with_reports(tmp_path_factory):
    """The real gold built together with the repository's agreement and adjudication reports and guidelines."""
    import shutil

    if not buildkit.real_annotation_files() or not (buildkit.REPO / "annotations" / "reports").is_dir():
        pytest.skip("the repository has no gold or no annotations/reports")
    root = buildkit.prepare(tmp_path_factory.mktemp("with-reports") / "repo", "real")
    shutil.copytree(buildkit.REPO / "annotations" / "reports", root / "annotations" / "reports")
    shutil.copy2(buildkit.REPO / "annotations" / "GUIDELINES.md", root / "annotations" / "GUIDELINES.md")
    rc, out = buildkit.run_cli(root, "build", "--quiet")
    assert rc == 0, out
    return root


def test_rai_annotation_figures_come_from_the_reports(with_reports):
    obj = json.loads((with_reports / "croissant.json").read_text())
    reports = with_reports / "annotations" / "reports"
    agreement = json.loads((reports / "agreement.json").read_text())
    adjudication = json.loads((reports / "adjudication.json").read_text())
    a, b = sorted(agreement["passes"])
    per_item = obj["rai:annotationsPerItem"]
    assert per_item.startswith(f"Two independent passes ({a} and {b}) plus an adjudication")
    items = sum(c["items"] for c in adjudication["layers"].values())
    assert f"({items} items in the three-way comparison, {adjudication['decisions']} logged decisions)" in per_item
    analysis = _text(obj["rai:dataAnnotationAnalysis"])
    for layer, v in agreement["spans"].items():
        assert f"{layer} strict {v['ALL']['strict']['f1']:.3f} ({v['ALL']['strict']['matched']} matched" in analysis
    ari = agreement["clusterings"]["claim_clusters"]["adjusted_rand"]
    assert f"claim_clusters: adjusted Rand {ari:.3f}" in analysis
    assert f"{adjudication['cluster_decisions']} claim-cluster decisions" in analysis
    assert "overstates" in analysis
    version = re.search(r"Version ([0-9][^\s*]*)", (with_reports / "annotations" / "GUIDELINES.md").read_text())[1]
    assert f"(version {version})" in obj["rai:dataAnnotationProtocol"][0]
    assert _validate(with_reports / "croissant.json").returncode == 0


def test_license_file_and_statement():
    licence = (buildkit.REPO / "LICENSE").read_text()
    assert licence.startswith("MIT License\n\nCopyright (c) 2026 PactNews contributors\n")
    assert "Permission is hereby granted, free of charge" in licence and 'THE SOFTWARE IS PROVIDED "AS IS"' in licence
    assert re.search(r'^license = "MIT"$', (buildkit.REPO / "pyproject.toml").read_text(), re.MULTILINE)


def test_croissant_license_names_every_part(repo):
    license = json.loads((repo / "croissant.json").read_text())["license"]
    (statement,) = license if isinstance(license, list) else [license]
    assert "Code: MIT" in statement and "CC BY 4.0" in statement
    assert "the copyright of their original publishers" in statement and "LICENSE" in statement
    info = yaml.safe_load((repo / "corpus" / "dataset.yaml").read_text())
    assert statement.startswith(" ".join(info["license_details"].split()))
    del info["license_details"]
    with pytest.raises(ValueError, match="license_details"):
        license_statement(info)


def test_dct_interval():
    assert dct_interval("2024-10-25") == ("2024-10-25", "2024-10-25")
    assert dct_interval("2024-02") == ("2024-02-01", "2024-02-29")
    assert dct_interval("2023") == ("2023-01-01", "2023-12-31")
    assert dct_interval("PRESENT_REF") is None


def test_fix_rai_spelling_keeps_order_and_other_keys():
    fixed = fix_rai_spelling({"a": 1, "rai:dataCollectionTimeFrame": [1], "rai:dataDataManipulationProtocol": "x", "z": 2})
    assert list(fixed) == ["a", "rai:dataCollectionTimeframe", "rai:dataManipulationProtocol", "z"]


def _records(repo, record_set: str, jsonld: str = "croissant.json") -> list[dict]:
    # one mlcroissant Dataset per read: a second records() call on the same object yields nothing
    return list(mlc.Dataset(jsonld=str(repo / jsonld)).records(record_set=record_set))


def _plain(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k.rsplit("/", 1)[-1]: _plain(x) for k, x in v.items()}
    if hasattr(v, "tolist"):
        return _plain(v.tolist())
    return v


def _nested(rec: dict) -> dict:
    """An mlcroissant record as a Parquet row: mlcroissant 1.1 returns a struct inside a struct under its own
    field id ("documents/metadata/dct") next to its parent's, so the ids give the nesting back."""
    out: dict = {}
    for key in sorted(rec, key=lambda k: k.count("/")):
        *parents, name = key.split("/")[1:]
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        value = _plain(rec[key])
        if isinstance(value, dict) and isinstance(node.get(name), dict):
            node[name].update(value)
        else:
            node[name] = value
    return out


def _differences(repo, config: str, jsonld: str = "croissant.json") -> list[str]:
    """Every record of the record set against the Parquet row of the same config, every field, nested ones
    included; [] when all are equal."""
    recs = [_nested(r) for r in _records(repo, config, jsonld)]
    rows = pq.read_table(repo / "data" / config).to_pylist()
    if len(recs) != len(rows):
        return [f"{config}: {len(recs)} records, {len(rows)} Parquet rows"]
    out = []
    for i, (rec, row) in enumerate(zip(recs, rows)):
        if rec != row:
            keys = sorted(set(rec) | set(row))
            out += [f"{config}[{i}].{k}: croissant {str(rec.get(k, '<missing>'))[:200]} != parquet "
                    f"{str(row.get(k, '<missing>'))[:200]}" for k in keys if rec.get(k, "<missing>") != row.get(k)]
    return out


def test_every_record_set_matches_the_parquet_field_by_field(repo):
    obj = json.loads((repo / "croissant.json").read_text())
    manifest = json.loads((repo / "MANIFEST.json").read_text())
    assert set(manifest["configs"]) <= {rs["name"] for rs in obj["recordSet"]}
    assert {"documents", "claim_clusters", "conflicts"} <= set(manifest["configs"])
    for config in manifest["configs"]:
        assert len(pq.read_table(repo / "data" / config)) == manifest["rows"][config]
        assert _differences(repo, config) == [], config


def test_nested_metadata_gives_the_real_dcts_and_cleaning_counts(repo):
    meta = {d["id"]: d for d in yaml.safe_load((repo / "corpus" / "metadata.yaml").read_text())["documents"]}
    recs = [_nested(r) for r in _records(repo, "documents")]
    assert {r["id"] for r in recs} == set(meta)
    for r in recs:
        dct = r["metadata"]["dct"]
        assert dct == {k: str(meta[r["id"]]["dct"][k]) for k in ("value", "basis", "evidence")}
        assert all(isinstance(v, int) for v in r["metadata"]["cleaning"].values())
    assert sum(sum(r["metadata"]["cleaning"].values()) for r in recs) > 0
    members = [m for r in _records(repo, "claim_clusters") for m in _nested(r)["members"]]
    assert members and all(m["claim_id"] and m["document_id"] in meta for m in members)


def test_the_comparison_catches_inside_out_nested_paths(repo, tmp_path):
    """The paths as the old code wrote them (innermost name first) give None, and the comparison says so."""
    copy = buildkit.fresh_copy(repo, tmp_path / "copy")
    obj = json.loads((copy / "croissant.json").read_text())
    documents = next(rs for rs in obj["recordSet"] if rs["name"] == "documents")
    metadata = next(f for f in documents["field"] if f["name"] == "metadata")
    dct = next(f for f in metadata["subField"] if f["name"] == "dct")
    assert dct["subField"][0]["source"]["transform"]["jsonPath"] == "$.dct.value"
    for sub in dct["subField"]:
        sub["source"]["transform"]["jsonPath"] = f"{sub['name']}.dct"
    (copy / "inside-out.json").write_text(json.dumps(obj))
    diffs = _differences(copy, "documents", "inside-out.json")
    assert diffs and all(d.split(":")[0].endswith(".metadata") for d in diffs)
    rec = _nested(_records(copy, "documents", "inside-out.json")[0])
    assert rec["metadata"]["dct"] == {"value": None, "basis": None, "evidence": None}


def test_json_path_quotes_what_jsonpath_rw_cannot_read_bare():
    import jsonpath_rw

    assert json_path(["dct", "value"]) == "$.dct.value"
    for name in ("where", "a b", "x-y", "1st"):
        assert [m.value for m in jsonpath_rw.parse(json_path([name])).find({name: 7})] == [7]


def test_nesting_mlcroissant_cannot_read_is_refused():
    from datasets import List, Value

    nested_list = {"a": List({"b": Value("string")})}
    with pytest.raises(TypeError, match="list of structs inside"):
        _field("c/x", "x", nested_list, lambda p: None, [], {}, {})
    with pytest.raises(TypeError, match="struct inside a list of structs"):
        _field("c/x", "x", List({"s": {"t": Value("string")}}), lambda p: None, [], {}, {})


def test_enumerations_list_the_inventory(repo):
    inv = load_inventory(Layout(repo).labels)
    tags = {r["ner_tag_names/index"]: _plain(r["ner_tag_names/name"]) for r in _records(repo, "ner_tag_names")}
    assert [tags[i] for i in range(len(tags))] == inv.ner_tags
    labels = [_plain(r["entities_labels/name"]) for r in _records(repo, "entities_labels")]
    assert labels == inv.labels("entities")
