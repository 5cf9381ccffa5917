"""`pactnews build --input`: a corpus in JSONL or Parquet shards gives the dataset of the same documents as files."""
from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

import buildkit
from pactnews.annotations import standoff
from pactnews.outputs.card import split_readme
from pactnews.corpus.readers import read_metadata
from pactnews.corpus.shards import shard_record, write_shard
from pactnews.repo import Layout


@pytest.fixture(scope="module")
def built_from_files(tmp_path_factory):
    """The gold corpus as per-document files, built."""
    root = buildkit.copy_repo(tmp_path_factory.mktemp("files") / "repo")
    rc, out = buildkit.run_cli(root, "build", "--quiet")
    assert rc == 0, out
    return root


def shard_repo(src, dest, cuts: list[int], suffix: str):
    """A copy of `src` whose documents are only in shards (cut after the given counts), not in corpus/ files."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("data", "build"))
    layout = Layout(dest)
    records = read_metadata(layout)
    shards = []
    for rec in records:
        raw = (layout.metadata.parent / rec["raw_file"]).read_text(encoding="utf-8")
        path = layout.annotation_file(rec["id"])
        shards.append(shard_record(rec, raw, standoff.read(path) if path.is_file() else None))
    parts, start = [], 0
    for n in cuts + [len(shards)]:
        if n > start:
            parts.append(shards[start:n])
        start = n
    for k, part in enumerate(parts):
        write_shard(dest / "shards" / f"part-{k:05d}{suffix}", part)
    for path in (layout.metadata, layout.raw, layout.clean, *(layout.annotation_file(r["id"]) for r in records)):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return dest


def data_bytes(root) -> dict[str, str]:
    return {k: v for k, v in buildkit.tree_hashes(root).items() if k.startswith("data/")}


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_one_shard_gives_the_bytes_of_the_per_document_files(built_from_files, tmp_path, suffix):
    root = shard_repo(built_from_files, tmp_path / "repo", [], suffix)
    rc, out = buildkit.run_cli(root, "build", "--quiet", "--input", "shards")
    assert rc == 0, out
    assert out.strip().splitlines()[-1].startswith("Built PactNews 0.2.0 from 5 documents")
    assert data_bytes(root) == data_bytes(built_from_files)
    assert (root / "croissant.json").read_bytes() == (built_from_files / "croissant.json").read_bytes()
    front = [split_readme((r / "README.md").read_text(encoding="utf-8"))[0] for r in (root, built_from_files)]
    assert front[0] == front[1]  # the card's body differs: no per-document gold to score the baselines on
    manifest = json.loads((root / "MANIFEST.json").read_text())
    before = json.loads((built_from_files / "MANIFEST.json").read_text())
    assert {k: v for k, v in manifest.items() if k != "sources"} == {k: v for k, v in before.items() if k != "sources"}
    assert f"shards/part-00000{suffix}" in manifest["sources"] and "corpus/metadata.yaml" not in manifest["sources"]


def test_shards_cut_the_output_and_tasks_do_not_change_a_byte(built_from_files, tmp_path):
    root = shard_repo(built_from_files, tmp_path / "repo", [3], ".parquet")
    rc, out = buildkit.run_cli(root, "build", "--quiet", "--input", "shards", "--tasks", "1")
    assert rc == 0, out
    one = buildkit.tree_hashes(root)
    assert "data/documents/test-00001-of-00002.parquet" in one
    assert pq.ParquetFile(root / "data/documents/test-00000-of-00002.parquet").metadata.num_rows == 3
    rows = pq.read_table(root / "data" / "entities").to_pylist()
    assert rows == pq.read_table(built_from_files / "data" / "entities").to_pylist()
    rc, out = buildkit.run_cli(root, "build", "--quiet", "--input", "shards", "--tasks", "3", "--workers", "2")
    assert rc == 0, out
    assert buildkit.tree_hashes(root) == one


def test_four_tasks_over_four_shards_write_the_bytes_of_one_task(built_from_files, tmp_path):
    root = shard_repo(built_from_files, tmp_path / "repo", [1, 2, 3], ".parquet")
    assert len(list((root / "shards").glob("*.parquet"))) == 4
    rc, out = buildkit.run_cli(root, "build", "--quiet", "--input", "shards", "--tasks", "1")
    assert rc == 0, out
    one = buildkit.tree_hashes(root)
    assert "data/documents/test-00003-of-00004.parquet" in one
    rc, out = buildkit.run_cli(root, "build", "--quiet", "--input", "shards", "--tasks", "4", "--workers", "2")
    assert rc == 0, out
    assert buildkit.tree_hashes(root) == one


def test_an_id_in_two_shards_fails_the_build_and_names_both(built_from_files, tmp_path):
    root = shard_repo(built_from_files, tmp_path / "repo", [3], ".jsonl")
    first = (root / "shards" / "part-00000.jsonl").read_text().splitlines()[0]
    with open(root / "shards" / "part-00001.jsonl", "a", encoding="utf-8") as fh:
        fh.write(first + "\n")
    before = buildkit.tree_hashes(root)
    rc, out = buildkit.run_cli(root, "build", "--quiet", "--input", "shards", "--tasks", "2")
    assert rc == 1 and buildkit.tree_hashes(root) == before
    doc_id = json.loads(first)["id"]
    assert f"[Doc {doc_id}]: [build-duplicate-id]" in out
    assert "shards/part-00000.jsonl record 0, shards/part-00001.jsonl record 2" in out
    assert out.strip().endswith("nothing written")


def test_a_bad_line_or_record_is_a_problem_never_skipped(built_from_files, tmp_path):
    root = shard_repo(built_from_files, tmp_path / "repo", [], ".jsonl")
    path = root / "shards" / "part-00000.jsonl"
    lines = path.read_text().splitlines()
    bad = json.loads(lines[1])
    del bad["text"]
    path.write_text("\n".join([lines[0], json.dumps(bad), "{not json", *lines[2:]]) + "\n")
    rc, out = buildkit.run_cli(root, "build", "--quiet", "--input", "shards")
    assert rc == 1
    assert f"[File shards/part-00000.jsonl:2 Doc {bad['id']}]: [build-bad-record] text is NoneType" in out
    assert "[File shards/part-00000.jsonl:3]: [build-bad-record] expected a JSON object" in out


def test_a_folder_without_shards_is_refused(built_from_files, tmp_path):
    root = buildkit.fresh_copy(built_from_files, tmp_path / "repo")
    (root / "empty").mkdir()
    rc, out = buildkit.run_cli(root, "build", "--quiet", "--input", "empty")
    assert rc == 1 and "no *.jsonl, *.jsonl.gz or *.parquet files" in out
