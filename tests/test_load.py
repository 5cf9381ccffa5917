"""The built repository as `datasets.load_dataset` sees it: every config, plain and streaming."""
from __future__ import annotations

import json

import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

import buildkit
from pactnews.pipeline import features as feats
from pactnews.pipeline.build import make_context
from pactnews.inventory import load_inventory
from pactnews.pipeline.ner import decode_iob2
from pactnews.repo import Layout

datasets.disable_progress_bars()
datasets.logging.set_verbosity_error()


@pytest.fixture(scope="module", params=buildkit.VARIANTS)
def repo(request, tmp_path_factory):
    return buildkit.built(tmp_path_factory, request.param)


def _configs(root) -> list[str]:
    return datasets.get_dataset_config_names(str(root))


def _load(root, config, tmp_path, streaming=False):
    return datasets.load_dataset(str(root), config, cache_dir=str(tmp_path / f"cache-{config}-{streaming}"),
                                 streaming=streaming)


def test_every_config_loads_with_its_generated_features(repo, tmp_path):
    ctx = make_context(repo)
    configs = _configs(repo)
    manifest = json.loads((repo / "MANIFEST.json").read_text())
    assert configs[0] == feats.DEFAULT_CONFIG
    assert set(configs) == set(manifest["configs"]) and set(configs) <= set(feats.CONFIGS)
    if "real" not in str(repo):
        assert set(configs) == set(feats.CONFIGS)  # the fixture has rows in every config
    for config in configs:
        ds = _load(repo, config, tmp_path)
        assert list(ds) == [feats.SPLIT]
        split = ds[feats.SPLIT]
        assert split.features == ctx.features[config], config
        assert split.num_rows == manifest["rows"][config] > 0
        assert split.info.version.version_str == str(ctx.info["version"])
        stream = _load(repo, config, tmp_path, streaming=True)[feats.SPLIT]
        assert stream.features == ctx.features[config]
        rows = list(stream)
        assert len(rows) == split.num_rows
        assert rows[0] == split[0]
        assert rows[-1] == split[-1]


def test_features_come_from_the_parquet_files_not_the_card(repo):
    """The card declares no features (parsing them was most of a warm load): every file carries them, and a
    Dataset made straight from the files (the card's fast way) has them too."""
    data = DatasetCard.load(repo / "README.md").data.to_dict()
    infos = data["dataset_info"] if isinstance(data["dataset_info"], list) else [data["dataset_info"]]
    assert infos and all("features" not in entry for entry in infos)
    ctx = make_context(repo)
    for config in _configs(repo):
        files = sorted((repo / "data" / config).glob(f"{feats.SPLIT}-*.parquet"))
        assert files, config
        for path in files:
            assert datasets.Features.from_arrow_schema(pq.read_schema(path)) == ctx.features[config], path
        assert datasets.Dataset(pq.read_table(files)).features == ctx.features[config], config


def test_default_config_is_documents(repo, tmp_path):
    ds = datasets.load_dataset(str(repo), cache_dir=str(tmp_path / "cache"))
    assert "text" in ds[feats.SPLIT].column_names and "entities" in ds[feats.SPLIT].column_names


def test_offsets_index_the_document_text_in_every_config(repo, tmp_path):
    docs = _load(repo, "documents", tmp_path)[feats.SPLIT]
    texts = {r["id"]: r["text"] for r in docs}
    clean = {p.stem: p.read_text(encoding="utf-8") for p in (repo / "corpus" / "clean").glob("*.txt")}
    assert texts == clean
    n = 0
    for row in docs:
        for layer in ("entities", "timexes", "attributions", "claims"):
            for span in row[layer]:
                assert row["text"][span["start"]: span["end"]] == span["text"]
                n += 1
    assert n > 0
    configs = _configs(repo)
    for config in ("entities", "timexes", "claims"):
        if config in configs:
            for span in _load(repo, config, tmp_path)[feats.SPLIT]:
                assert texts[span["document_id"]][span["start"]: span["end"]] == span["text"]
    for sent in _load(repo, "ner", tmp_path)[feats.SPLIT]:
        text = texts[sent["document_id"]]
        assert sent["token_starts"][0] == sent["start"] and sent["token_ends"][-1] == sent["end"]
        for tok, s, e in zip(sent["tokens"], sent["token_starts"], sent["token_ends"]):
            assert text[s:e] == tok
    if "claim_clusters" in configs:
        for cluster in _load(repo, "claim_clusters", tmp_path)[feats.SPLIT]:
            for m in cluster["members"]:
                assert texts[m["document_id"]][m["start"]: m["end"]] == m["text"]


def test_every_entity_and_time_span_is_recovered_from_the_ner_tags(repo, tmp_path):
    inv = load_inventory(Layout(repo).labels)
    docs = _load(repo, "documents", tmp_path)[feats.SPLIT]
    ner = _load(repo, "ner", tmp_path)[feats.SPLIT]
    tag_names = ner.features["ner_tags"].feature.names
    assert tag_names == inv.ner_tags
    found: dict[str, set] = {}
    for sent in ner:
        tags = [tag_names[t] for t in sent["ner_tags"]]
        found.setdefault(sent["document_id"], set()).update(decode_iob2(tags, sent["token_starts"], sent["token_ends"]))
    ent_labels = docs.features["entities"].feature["label"].names
    tim_labels = docs.features["timexes"].feature["label"].names
    total = 0
    for row in docs:
        expected = {(e["start"], e["end"], ent_labels[e["label"]]) for e in row["entities"]}
        expected |= {(t["start"], t["end"], inv.timex_to_ner[tim_labels[t["label"]]]) for t in row["timexes"]
                     if t["value"] not in inv.ner_untagged_values}  # "now", "soon": OntoNotes tags no DATE
        assert found.get(row["id"], set()) == expected, row["id"]
        total += len(expected)
    assert total > 0 or "real" in str(repo)


def test_card_metadata_parses_and_uses_the_allowed_values(repo):
    resources = buildkit.Path(datasets.__file__).parent / "utils" / "resources"
    card = DatasetCard.load(repo / "README.md")
    data = card.data.to_dict()
    info = make_context(repo).info
    sizes = json.loads((resources / "size_categories.json").read_text())
    languages = json.loads((resources / "languages.json").read_text())
    multi = json.loads((resources / "multilingualities.json").read_text())
    creators = json.loads((resources / "creators.json").read_text())
    assert data["size_categories"] and set(data["size_categories"]) <= set(sizes)
    assert set(data["language"]) <= set(languages)
    assert set(data["multilinguality"]) <= set(multi)
    assert set(data.get("annotations_creators") or []) <= set(creators["annotations"])
    assert set(data.get("language_creators") or []) <= set(creators["language"])
    assert data["license"] == info["license"] and data["pretty_name"] == info["pretty_name"]
    assert data["task_categories"] == info["task_categories"] and data["version"] == str(info["version"])
    assert [c["config_name"] for c in data["configs"]] == _configs(repo)
    assert all(c["version"] == str(info["version"]) for c in data["configs"])
    manifest = json.loads((repo / "MANIFEST.json").read_text())
    for entry in data["dataset_info"]:
        assert entry["splits"] == [{"name": "test", "num_bytes": entry["splits"][0]["num_bytes"],
                                    "num_examples": manifest["rows"][entry["config_name"]]}]
