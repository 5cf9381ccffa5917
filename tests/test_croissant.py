"""croissant.json: valid for mlcroissant, RAI names as the vocabulary spells them, record sets readable."""
from __future__ import annotations

import json
import logging
import subprocess
import sys

import mlcroissant as mlc
import pyarrow.parquet as pq
import pytest

import buildkit
from pactnews.croissant import RAI_SPELLING, dct_interval, fix_rai_spelling
from pactnews.inventory import load_inventory
from pactnews.repo import Layout

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


def test_metadata_comes_from_dataset_yaml_and_rai_uses_the_vocabulary_names(repo):
    obj = json.loads((repo / "croissant.json").read_text())
    info = __import__("yaml").safe_load((repo / "corpus" / "dataset.yaml").read_text())
    assert obj["name"] == info["name"] and obj["version"] == str(info["version"])
    assert obj["conformsTo"].startswith("http://mlcommons.org/croissant/")
    for wrong, right in RAI_SPELLING.items():
        assert wrong not in obj and right in obj
    assert "rai:dataPreprocessingProtocol" in obj and "rai:dataAnnotationProtocol" in obj
    dcts = sorted({str(d["dct"]["value"]) for d in __import__("yaml").safe_load(
        (repo / "corpus" / "metadata.yaml").read_text())["documents"]})
    first = min(d if len(d) == 10 else d + "-01" for d in dcts)
    last = max(d if len(d) == 10 else d + "-31" for d in dcts)  # the month dates of this corpus have 31 days
    assert obj["rai:dataCollectionTimeframe"] == [first, last]
    assert all(rule in obj["rai:dataPreprocessingProtocol"] for rule in ("spam_url_line", "nbsp_to_space"))


def test_dct_interval():
    assert dct_interval("2024-10-25") == ("2024-10-25", "2024-10-25")
    assert dct_interval("2024-02") == ("2024-02-01", "2024-02-29")
    assert dct_interval("2023") == ("2023-01-01", "2023-12-31")
    assert dct_interval("PRESENT_REF") is None


def test_fix_rai_spelling_keeps_order_and_other_keys():
    fixed = fix_rai_spelling({"a": 1, "rai:dataCollectionTimeFrame": [1], "rai:dataDataManipulationProtocol": "x", "z": 2})
    assert list(fixed) == ["a", "rai:dataCollectionTimeframe", "rai:dataManipulationProtocol", "z"]


def _records(repo, record_set: str) -> list[dict]:
    # one mlcroissant Dataset per read: a second records() call on the same object yields nothing
    return list(mlc.Dataset(str(repo / "croissant.json")).records(record_set))


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


def test_every_record_set_is_readable_and_matches_the_parquet(repo):
    obj = json.loads((repo / "croissant.json").read_text())
    manifest = json.loads((repo / "MANIFEST.json").read_text())
    names = [rs["name"] for rs in obj["recordSet"]]
    assert set(manifest["configs"]) <= set(names)
    for config in manifest["configs"]:
        recs = _records(repo, config)
        table = pq.read_table(repo / "data" / config).to_pylist()
        assert len(recs) == len(table) == manifest["rows"][config]
        for rec, row in zip(recs[:3], table[:3]):
            for col, value in row.items():
                if isinstance(value, dict):
                    continue
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    got = [{k.rsplit("/", 1)[-1]: _plain(x) for k, x in item.items()} for item in rec[f"{config}/{col}"]]
                    assert got == [{k: v for k, v in item.items() if k in got[0]} for item in value], (config, col)
                    continue
                assert _plain(rec[f"{config}/{col}"]) == value, (config, col)


def test_enumerations_list_the_inventory(repo):
    inv = load_inventory(Layout(repo).labels)
    tags = {r["ner_tag_names/index"]: _plain(r["ner_tag_names/name"]) for r in _records(repo, "ner_tag_names")}
    assert [tags[i] for i in range(len(tags))] == inv.ner_tags
    labels = [_plain(r["entities_labels/name"]) for r in _records(repo, "entities_labels")]
    assert labels == inv.labels("entities")
