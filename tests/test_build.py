"""`pactnews build`: determinism, --check, all-or-nothing failures, versions, the manifest."""
from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

import buildkit
from pactnews.pipeline import build
from pactnews.annotations import standoff
from pactnews.outputs.card import split_readme
from pactnews.repo import Layout
from pactnews.files import sha256_bytes

datasets.disable_progress_bars()
datasets.logging.set_verbosity_error()

GENERATED = ("README.md", "croissant.json", "MANIFEST.json")


@pytest.fixture(scope="module")
def fixture_repo(tmp_path_factory):
    return buildkit.built(tmp_path_factory, "fixture")


@pytest.fixture
def repo(fixture_repo, tmp_path):
    """A built repository this test may change."""
    return buildkit.fresh_copy(fixture_repo, tmp_path / "repo")


def outputs(root) -> dict[str, str]:
    hashes = buildkit.tree_hashes(root)
    return {k: v for k, v in hashes.items() if k.startswith("data/") or k in GENERATED}


def test_build_writes_every_config_and_the_generated_files(fixture_repo):
    files = outputs(fixture_repo)
    for config in ("documents", "entities", "timexes", "claims", "ner", "claim_clusters"):
        assert f"data/{config}/test-00000-of-00001.parquet" in files
    assert set(GENERATED) <= set(files)


def test_rebuild_is_byte_identical(repo):
    before = outputs(repo)
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 0, out
    assert outputs(repo) == before


def test_output_does_not_depend_on_num_proc_and_shards_load(repo, tmp_path, monkeypatch):
    whole = {c: pq.read_table(repo / "data" / c).to_pylist() for c in ("documents", "ner")}
    clusters = sorted(pq.read_table(repo / "data" / "claim_clusters").to_pylist(), key=lambda r: r["cluster_id"])
    documentation = {k: (repo / k).read_bytes() for k in ("DATASHEET.md", "CITATION.cff")}
    monkeypatch.setattr(build, "BATCH_SIZE", 2)
    monkeypatch.setattr(build, "DOCS_PER_SHARD", 4)  # 5 documents -> 2 shards (and claim partitions), 3 batches
    monkeypatch.setattr(build, "CLUSTERS_PER_ROW_GROUP", 1)  # one row group per cluster
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 0, out
    one = outputs(repo)
    assert "data/ner/test-00001-of-00002.parquet" in one
    assert pq.ParquetFile(repo / "data/documents/test-00000-of-00002.parquet").metadata.num_row_groups == 2
    parts = sorted((repo / "data" / "claim_clusters").glob("*.parquet"))
    assert [p.name for p in parts] == ["test-00000-of-00002.parquet", "test-00001-of-00002.parquet"]
    assert sum(pq.ParquetFile(p).metadata.num_row_groups for p in parts) == len(clusters)
    for config, rows in whole.items():  # the same rows, only cut differently
        assert pq.read_table(repo / "data" / config).to_pylist() == rows, config
    rows = pq.read_table(repo / "data" / "claim_clusters").to_pylist()
    assert sorted(rows, key=lambda r: r["cluster_id"]) == clusters  # each partition's clusters in id order
    for part in parts:
        ids = pq.read_table(part, columns=["cluster_id"]).column("cluster_id").to_pylist()
        assert ids == sorted(ids)
    # the datasheet's counts, merged from two shards, are those of one
    assert {k: (repo / k).read_bytes() for k in documentation} == documentation
    rc, out = buildkit.run_cli(repo, "build", "--quiet", "--num-proc", "2")
    assert rc == 0, out
    assert outputs(repo) == one
    manifest = json.loads((repo / "MANIFEST.json").read_text())
    for config in manifest["configs"]:
        ds = datasets.load_dataset(str(repo), config, cache_dir=str(tmp_path / config))["test"]
        assert ds.num_rows == manifest["rows"][config]
    docs = datasets.load_dataset(str(repo), "documents", cache_dir=str(tmp_path / "d"))["test"]
    assert docs["id"] == sorted(docs["id"])


def every_byte(root) -> dict[str, str]:
    """sha256 of every file a build writes: data/ and the generated files at the top."""
    hashes = buildkit.tree_hashes(root)
    return {k: v for k, v in hashes.items() if k.startswith("data/") or k in (*GENERATED, "DATASHEET.md", "CITATION.cff")}


def test_one_task_and_four_tasks_on_two_workers_write_the_same_bytes(repo, monkeypatch):
    monkeypatch.setattr(build, "BATCH_SIZE", 1)
    monkeypatch.setattr(build, "DOCS_PER_SHARD", 2)  # 3 shards, 3 claim partitions: 4 tasks, one without work
    rc, out = buildkit.run_cli(repo, "build", "--quiet", "--tasks", "1", "--workers", "1")
    assert rc == 0, out
    one = every_byte(repo)
    assert "data/documents/test-00002-of-00003.parquet" in one and "data/claim_clusters/test-00002-of-00003.parquet" in one
    for name in list(one):  # the next build must write every file again
        if name.startswith("data/"):
            (repo / name).unlink()
    rc, out = buildkit.run_cli(repo, "build", "--quiet", "--tasks", "4", "--workers", "2")
    assert rc == 0, out
    assert every_byte(repo) == one
    assert not (repo / "build").exists()  # the executors' scratch and logs are gone


def test_claim_clusters_do_not_depend_on_the_members_read_per_pass(repo, monkeypatch):
    path = repo / "data" / "claim_clusters" / "test-00000-of-00001.parquet"
    before = path.read_bytes()
    assert pq.ParquetFile(path).metadata.num_rows > 2
    monkeypatch.setattr(build, "MEMBERS_PER_PASS", 2)  # a pass per cluster or two
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 0, out
    assert path.read_bytes() == before


def test_cluster_groups_hold_at_most_the_budget():
    from pactnews.pipeline.clusters import cluster_groups

    counts = {"a": 1, "b": 1, "c": 5, "d": 1, "e": 0}
    groups = cluster_groups(counts, sorted(counts), budget=2)
    assert groups == [["a", "b"], ["c"], ["d", "e"]]
    assert [c for g in groups for c in g] == sorted(counts)


def test_check_passes_on_a_fresh_build_and_names_stale_files(repo):
    rc, out = buildkit.run_cli(repo, "build", "--check", "--quiet")
    assert rc == 0, out
    doc = standoff.read(repo / "annotations" / "000_c7af0f0315e9c0dc.json")
    doc["timexes"][0]["value"] = "2024-10-23"
    (repo / "annotations" / "000_c7af0f0315e9c0dc.json").write_text(standoff.dumps(doc))
    rc, out = buildkit.run_cli(repo, "build", "--check", "--quiet")
    assert rc == 1
    for name in ("data/documents/test-00000-of-00001.parquet", "data/timexes/test-00000-of-00001.parquet",
                 "MANIFEST.json"):
        assert f"out of date: {name}" in out
    assert "data/entities" not in out  # unchanged configs are not reported


def test_check_catches_a_changed_data_file_card_and_extra_file(repo):
    path = repo / "data/ner/test-00000-of-00001.parquet"
    path.write_bytes(path.read_bytes() + b"\0")
    readme = (repo / "README.md").read_text()
    (repo / "README.md").write_text(readme.replace("pretty_name:", "pretty_name: x", 1))
    (repo / "data/claims/test-00000-of-00002.parquet").write_bytes(b"stale")
    rc, out = buildkit.run_cli(repo, "build", "--check", "--quiet")
    assert rc == 1
    assert "out of date: data/ner/test-00000-of-00001.parquet" in out
    assert "out of date: data/claims/test-00000-of-00002.parquet" in out
    assert "out of date: README.md" in out
    assert "croissant.json" not in out


def test_readme_is_generated_whole_and_hand_edits_are_flagged(repo):
    """The front matter comes from the build, the body from docs/card.template.md: both are generated."""
    built = (repo / "README.md").read_text(encoding="utf-8")
    front, body = split_readme(built)
    assert front and body.strip(), "the card needs both its metadata and its body"
    (repo / "README.md").write_text(built.replace(body, body + "\nhand-written line\n"), encoding="utf-8")
    rc, out = buildkit.run_cli(repo, "build", "--check", "--quiet")
    assert rc == 1 and "out of date: README.md" in out
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 0, out
    assert (repo / "README.md").read_text(encoding="utf-8") == built
    (repo / "README.md").unlink()
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 0, out
    assert (repo / "README.md").read_text(encoding="utf-8") == built

def test_a_misaligned_span_fails_the_build_and_changes_no_file(repo):
    path = repo / "annotations" / "003_4dc299c40bab5478.json"
    doc = standoff.read(path)
    text = (repo / "corpus/clean/003_4dc299c40bab5478.txt").read_text(encoding="utf-8")
    ent = next(e for e in doc["entities"] if e["text"] == "Kim Hong-kyun")
    ent["end"] -= 2  # "Kim Hong-ky": ends inside a word
    ent["text"] = text[ent["start"]: ent["end"]]
    path.write_text(standoff.dumps(doc))
    before = buildkit.tree_hashes(repo)
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 1
    assert buildkit.tree_hashes(repo) == before
    assert f"document 003_4dc299c40bab5478: entities {ent['id']} [{ent['start']}:{ent['end']}]" in out
    assert "cuts token 'kyun'" in out and "nothing written" in out


def test_a_bad_entity_table_label_fails_the_build_once_and_changes_no_file(repo, monkeypatch):
    path = repo / "annotations" / "tables" / "entities.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    table["entities"][0]["label"] = "COMPANY"
    path.write_text(json.dumps(table, indent=2), encoding="utf-8")
    monkeypatch.setattr(build, "BATCH_SIZE", 2)  # three batches: the table is still reported once
    before = buildkit.tree_hashes(repo)
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 1 and buildkit.tree_hashes(repo) == before
    assert out.count("[L4 entity-table-label]") == 1 and "'COMPANY'" in out, out


def test_an_invalid_annotation_fails_the_build_and_changes_no_file(repo):
    path = repo / "annotations" / "001_69d675cf0e69e825.json"
    doc = standoff.read(path)
    doc["timexes"][0]["text"] = "June 19, 2025"
    path.write_text(standoff.dumps(doc))
    before = buildkit.tree_hashes(repo)
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 1
    assert buildkit.tree_hashes(repo) == before
    assert "span-text-mismatch" in out and "001_69d675cf0e69e825" in out and "T1" in out
    assert out.strip().endswith("pactnews build wrote nothing")


def test_a_stale_clean_text_fails_the_build(repo):
    path = repo / "corpus/clean/002_b6446a1b2c005969.txt"
    path.write_text(path.read_text() + "x")
    before = buildkit.tree_hashes(repo)
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 1 and buildkit.tree_hashes(repo) == before
    assert "002_b6446a1b2c005969" in out and "pactnews clean" in out


def test_unknown_annotation_documents_fail_and_other_json_is_ignored(repo):
    (repo / "annotations" / "agreement-report.json").write_text('{"disagreements": []}')
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 0, out
    doc = standoff.empty("999_unknown", "0" * 64)
    (repo / "annotations" / "999_unknown.json").write_text(standoff.dumps(doc))
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 1 and "999_unknown" in out


def test_version_goes_into_card_parquet_croissant_and_manifest(repo, tmp_path):
    path = repo / "corpus" / "dataset.yaml"
    path.write_text(path.read_text().replace("version: 0.2.0", "version: 0.3.0"))
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 0, out
    assert "CHANGELOG.md has no entry for version 0.3.0" in out
    front = yaml.safe_load(split_readme((repo / "README.md").read_text())[0])
    assert front["version"] == "0.3.0" and {c["version"] for c in front["configs"]} == {"0.3.0"}
    for p in (repo / "data").rglob("*.parquet"):
        meta = pq.read_schema(p).metadata
        assert json.loads(meta[b"pactnews"])["version"] == "0.3.0"
        assert b"huggingface" in meta
    assert json.loads((repo / "croissant.json").read_text())["version"] == "0.3.0"
    assert json.loads((repo / "MANIFEST.json").read_text())["version"] == "0.3.0"
    ds = datasets.load_dataset(str(repo), "entities", cache_dir=str(tmp_path / "c"))["test"]
    assert ds.info.version.version_str == "0.3.0"
    path.write_text(path.read_text().replace("version: 0.3.0", "version: 0.2"))
    rc, out = buildkit.run_cli(repo, "build", "--quiet")
    assert rc == 1 and "x.y.z" in out


def test_manifest_hashes_every_source_and_output(fixture_repo):
    manifest = json.loads((fixture_repo / "MANIFEST.json").read_text())
    layout = Layout(fixture_repo)
    sources = manifest["sources"]
    expected = [p for p in layout.raw.glob("*.txt")] + list(layout.clean.glob("*"))
    expected += [layout.metadata, layout.dataset, layout.cleaning_rules, layout.entity_table, layout.cluster_table]
    expected += [layout.annotation_file(d) for d in buildkit.FIXTURE]
    expected += [layout.labels]
    for p in expected:
        rel = p.relative_to(fixture_repo).as_posix()
        assert sources[rel] == sha256_bytes(p.read_bytes()), rel
    for rel, sha in manifest["outputs"].items():
        if rel.startswith("data/") or rel == "croissant.json":
            assert sha256_bytes((fixture_repo / rel).read_bytes()) == sha
    data_files = {p.relative_to(fixture_repo).as_posix() for p in (fixture_repo / "data").rglob("*.parquet")}
    assert data_files <= set(manifest["outputs"])
    front = split_readme((fixture_repo / "README.md").read_text())[0]
    assert manifest["outputs"]["README.md#front-matter"] == sha256_bytes(front.encode())


def test_claim_clusters_carry_the_kept_conflicts_of_the_table(fixture_repo):
    rows = {r["cluster_id"]: r for r in pq.read_table(fixture_repo / "data/claim_clusters").to_pylist()}
    assert set(rows) == set(buildkit.CLUSTERS)
    members: dict[str, int] = {}
    for specs in buildkit.FIXTURE.values():
        for _, _, tag in specs:
            if tag.startswith("CLAIM"):
                attrs = dict(t.split("=", 1) for t in tag.split()[1:])
                members[attrs["cluster"]] = members.get(attrs["cluster"], 0) + 1
    conflicts = pq.read_table(fixture_repo / "data/conflicts").to_pylist()
    in_cluster: dict[str, set] = {}
    for c in conflicts:
        for cid in c["cluster_ids"]:
            in_cluster.setdefault(cid, set()).add(c["conflict_id"])
    for cid, row in rows.items():
        assert row["num_claims"] == members.get(cid, 0) == len(row["members"])
        assert row["conflict"] == bool(in_cluster.get(cid)) and set(row["conflict_ids"]) == in_cluster.get(cid, set())
        assert len(row["dcts"]) == len(row["documents"])
    nk = rows["nk-troops-in-russia-count"]
    assert nk["conflict"] and nk["documents"] == ["000_c7af0f0315e9c0dc", "003_4dc299c40bab5478"]
    assert nk["dcts"] == ["2024-10-25", "2024-10"]
    figure = [c for c in conflicts if c["rule"] == "figure-incompatible"]
    # the at-most forecast of 12,000 is not set against the counts; 3,000 and 1,500 are
    assert len(figure) == 1
    texts = [m["text"] for m in figure[0]["members"]]
    assert len(texts) == 2 and any("3,000" in t for t in texts) and any("1,500" in t for t in texts)
    sources = {m["source"] for m in nk["members"]}
    assert sources == {"United States and South Korean officials", "South Korea’s spy agency", "reports"}
    putin = rows["putin-our-business"]["members"][0]
    assert putin["source"] == "Vladimir Putin" and putin["cue"] == "said"
    assert rows["duma-ratifies-treaty"]["members"][0]["source"] == "author"


def test_configs_without_rows_are_left_out(tmp_path):
    root = buildkit.copy_repo(tmp_path / "repo", annotations=False)
    rc, out = buildkit.run_cli(root, "build", "--quiet")
    assert rc == 0, out
    assert "5 of 5 documents have no annotation file" in out
    assert sorted(p.name for p in (root / "data").iterdir()) == ["documents", "ner"]
    front = yaml.safe_load(split_readme((root / "README.md").read_text())[0])
    assert [c["config_name"] for c in front["configs"]] == ["documents", "ner"]
    ds = datasets.load_dataset(str(root), "ner", cache_dir=str(tmp_path / "c"))["test"]
    assert ds.num_rows > 0 and set(sum(ds["ner_tags"], [])) == {0}




def test_build_check_and_publish_check_write_nothing_outside_the_repository(repo, tmp_path, monkeypatch):
    """The rebuild they compare against is staged in the repository's build/ (removed after), never in the
    system's temporary folder: every temporary folder made in this process lies inside the repository."""
    import tempfile

    made = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        path = real_mkdtemp(*args, **kwargs)
        made.append(Path(path).resolve())
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    before = buildkit.tree_hashes(repo)
    rc, out = buildkit.run_cli(repo, "build", "--check", "--quiet")
    assert rc == 0, out
    rc, out = buildkit.run_cli(repo, "publish", "--to", str(repo / "build" / "out"), "--dry-run")
    assert rc == 0, out
    assert made and [p for p in made if not p.is_relative_to(repo.resolve())] == []
    assert buildkit.tree_hashes(repo) == before and not (repo / "build").exists()


def test_the_cluster_table_of_the_build_answers_as_the_dict_it_was_read_as():
    import pickle

    from pactnews.pipeline.context import ClusterTable, make_context

    table = {f"c-{i:05d}": {"proposition": f"Proposition {i}, é"} for i in range(2000, 0, -1)}
    ct = ClusterTable.of(table)
    assert isinstance(ct, ClusterTable)
    assert dict(ct.items()) == table and list(ct) == sorted(table) and len(ct) == 2000
    assert "c-00007" in ct and "c-7" not in ct and "" not in ct and None not in ct and 7 not in ct
    assert ct["c-02000"] == table["c-02000"] and ct.get("c-00001") == table["c-00001"]
    assert ct.get("zzz") is None and ct.get("zzz", 0) == 0
    with pytest.raises(KeyError):
        ct["zzz"]
    assert dict(pickle.loads(pickle.dumps(ct)).items()) == table
    empty = ClusterTable.of({})
    assert isinstance(empty, ClusterTable) and "c-00001" not in empty and len(empty) == 0
    for bad in ({"a": {"proposition": 5}}, {"a": {"proposition": "\ud800"}}, {"a": None}, {5: {"proposition": "p"}}):
        assert ClusterTable.of(bad) is bad  # the table check reports it; the tasks keep the dict
    assert isinstance(make_context(Path(__file__).resolve().parent.parent).cluster_table, ClusterTable)
