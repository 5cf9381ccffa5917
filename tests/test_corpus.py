"""pactnews.corpus.readers and the committed corpus: raw hashes, metadata, and corpus/clean/ up to date."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from pactnews.cli import main
from pactnews.commands.clean import render_outputs
from pactnews.corpus.readers import CorpusError, read_clean_texts, read_dataset_info, read_documents, read_metadata
from pactnews.inventory import load_inventory
from pactnews.repo import Layout, find_root

ROOT = find_root(Path(__file__).parent)
LAYOUT = Layout(ROOT)


def copy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "corpus", root / "corpus")
    (root / "schemas").mkdir(parents=True)
    shutil.copy(ROOT / "schemas" / "labels.yaml", root / "schemas" / "labels.yaml")
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_metadata_ids_match_the_raw_and_clean_files():
    ids = [r["id"] for r in read_metadata(LAYOUT)]
    assert len(ids) == 5 and ids == sorted(set(ids))
    assert [p.stem for p in sorted(LAYOUT.raw.glob("*.txt"))] == ids
    assert [p.stem for p in sorted(LAYOUT.clean.glob("*.txt"))] == ids
    assert [p.name.removesuffix(".map.json") for p in sorted(LAYOUT.clean.glob("*.map.json"))] == ids
    for rec in read_metadata(LAYOUT):
        assert rec["raw_file"] == f"raw/{rec['id']}.txt"


def test_raw_files_hash_to_their_metadata():
    for rec in read_metadata(LAYOUT):
        data = (LAYOUT.metadata.parent / rec["raw_file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rec["raw_sha256"], rec["id"]
        data.decode("utf-8")
    assert [d["raw_text"] for d in read_documents(LAYOUT)] == [
        (LAYOUT.metadata.parent / r["raw_file"]).read_text(encoding="utf-8") for r in read_metadata(LAYOUT)]


def test_clean_folder_is_what_the_rules_give():
    expected = render_outputs(LAYOUT)
    assert sorted(expected) == sorted(p for p in LAYOUT.clean.iterdir() if p.is_file())
    for path, data in expected.items():
        assert path.read_bytes() == data, f"{path} is stale; run `pactnews clean`"


def test_map_files_rebuild_each_clean_text_from_its_raw_text():
    clean = read_clean_texts(LAYOUT)
    for doc in read_documents(LAYOUT):
        record = json.loads((LAYOUT.clean / f"{doc['id']}.map.json").read_text(encoding="utf-8"))
        assert record["document_id"] == doc["id"] and record["raw_sha256"] == doc["raw_sha256"]
        raw = doc["raw_text"]
        chars = []
        for c, r, n in record["segments"]:
            assert c == len(chars)
            chars += list(raw[r:r + n])
        subs = {s["raw_offset"]: s for s in record["substituted"]}
        kept_raw = [r + k for _, r, n in record["segments"] for k in range(n)]
        chars = [subs[j]["replacement"] if j in subs else ch for j, ch in zip(kept_raw, chars)]
        assert "".join(chars) == clean[doc["id"]]
        assert record["clean_length"] == len(clean[doc["id"]]) and record["raw_length"] == len(raw)
        removed = sum(x["raw_end"] - x["raw_start"] for x in record["removed"])
        assert removed + record["clean_length"] == record["raw_length"]


def test_metadata_records_are_complete_and_dated():
    inv = load_inventory(LAYOUT.labels)
    for rec in read_metadata(LAYOUT):
        assert rec["language"] == "en"
        dct = rec["dct"]
        assert isinstance(dct["value"], str) and inv.timex_value_re.match(dct["value"]), rec["id"]
        assert dct["basis"] in ("stated", "inferred") and dct["evidence"].strip()
        assert rec["copyright"].strip()
        for key in ("title", "source_outlet", "url"):
            assert key in rec and (rec[key] is not None or rec.get(f"{key}_basis") or rec.get(f"{key}_note")
                                   or rec.get("source_note"))


def test_dataset_info_declares_name_version_and_licence():
    info = read_dataset_info(LAYOUT)
    for key in ("name", "pretty_name", "version", "description", "license", "language"):
        assert info.get(key), key


def test_a_changed_raw_file_is_refused(tmp_path):
    root = copy_repo(tmp_path)
    raw = root / "corpus" / "raw" / "002_b6446a1b2c005969.txt"
    raw.write_bytes(raw.read_bytes().replace(b"Thursday", b"Tuesday", 1))
    with pytest.raises(CorpusError) as err:
        read_documents(Layout(root))
    message = str(err.value)
    assert "002_b6446a1b2c005969" in message and str(raw) in message
    assert "c69f459071d54b0d616cb9e6e8f1171b6886910e73d1f540851ce870d317147e" in message  # expected
    assert hashlib.sha256(raw.read_bytes()).hexdigest() in message  # found


def test_a_missing_or_undecodable_raw_file_is_refused(tmp_path):
    root = copy_repo(tmp_path)
    (root / "corpus" / "raw" / "003_4dc299c40bab5478.txt").unlink()
    with pytest.raises(CorpusError, match="003_4dc299c40bab5478.*does not exist"):
        read_documents(Layout(root))
    root = copy_repo(tmp_path / "b")
    bad = b"caf\xe9"
    (root / "corpus" / "raw" / "003_4dc299c40bab5478.txt").write_bytes(bad)
    meta = root / "corpus" / "metadata.yaml"
    meta.write_text(meta.read_text(encoding="utf-8").replace(
        "50cc950dd633e8ade70917a7f576cc5caaf4b9bb4bf3c86828ea86e5ddd8c343", hashlib.sha256(bad).hexdigest()),
        encoding="utf-8")
    with pytest.raises(CorpusError, match="not UTF-8 at byte 3"):
        read_documents(Layout(root))


def test_duplicate_document_ids_are_refused(tmp_path):
    root = copy_repo(tmp_path)
    meta = root / "corpus" / "metadata.yaml"
    data = yaml.safe_load(meta.read_text(encoding="utf-8"))
    data["documents"].append(dict(data["documents"][0]))
    meta.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(CorpusError, match="used twice.*000_c7af0f0315e9c0dc"):
        read_metadata(Layout(root))


def test_clean_command_checks_and_rewrites_atomically(tmp_path, capsys):
    root = copy_repo(tmp_path)
    before = tree(root)
    assert main(["--root", str(root), "clean", "--check"]) == 0
    stale = root / "corpus" / "clean" / "000_c7af0f0315e9c0dc.txt"
    stale.write_text("stale", encoding="utf-8")
    capsys.readouterr()
    assert main(["--root", str(root), "clean", "--check"]) == 1
    assert "000_c7af0f0315e9c0dc.txt" in capsys.readouterr().out
    assert stale.read_text(encoding="utf-8") == "stale", "--check must write nothing"
    assert main(["--root", str(root), "clean"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "Cleaned 5 documents: corpus/clean/"
    assert tree(root) == before
    assert main(["--root", str(root), "clean"]) == 0
    assert tree(root) == before, "cleaning twice must give the same bytes"


def _as_jsonl(root: Path) -> Path:
    """The copy's metadata.yaml rewritten as metadata.jsonl (one record per line, in reverse order)."""
    records = yaml.safe_load((root / "corpus" / "metadata.yaml").read_text(encoding="utf-8"))["documents"]
    path = root / "corpus" / "metadata.jsonl"
    path.write_text("".join(json.dumps(r, default=str) + "\n\n" for r in reversed(records)), encoding="utf-8")
    (root / "corpus" / "metadata.yaml").unlink()
    return path


def test_jsonl_metadata_gives_the_same_records_and_clean_output(tmp_path):
    root = copy_repo(tmp_path)
    expected = read_metadata(Layout(root))
    outputs = render_outputs(Layout(root))
    path = _as_jsonl(root)
    assert Layout(root).metadata == path
    assert read_metadata(Layout(root)) == expected
    assert render_outputs(Layout(root)) == outputs


def test_jsonl_metadata_errors_name_the_line(tmp_path):
    root = copy_repo(tmp_path)
    path = _as_jsonl(root)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:-1]  # a record cut short
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"metadata\.jsonl: line 3: not a JSON object"):
        read_metadata(Layout(root))
    path.write_text('["no", "object"]\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"line 1: expected a JSON object with a string id"):
        read_metadata(Layout(root))


def test_metadata_in_both_formats_is_refused(tmp_path):
    root = copy_repo(tmp_path)
    shutil.copy(root / "corpus" / "metadata.yaml", tmp_path / "keep.yaml")
    _as_jsonl(root)
    shutil.copy(tmp_path / "keep.yaml", root / "corpus" / "metadata.yaml")
    with pytest.raises(CorpusError, match="metadata.jsonl both exist"):
        read_metadata(Layout(root))


# ---- `pactnews clean` in batches -----------------------------------------------------------

import pactnews.commands.clean as clean_command  # noqa: E402


def clean_tree(root: Path) -> dict[str, bytes]:
    return tree(root / "corpus" / "clean")


@pytest.mark.parametrize("num_proc", [1, 2])
@pytest.mark.parametrize("batch_size", [1, 2, 200])
def test_clean_output_does_not_depend_on_batches_or_processes(tmp_path, monkeypatch, capsys, num_proc, batch_size):
    monkeypatch.setattr(clean_command, "BATCH_SIZE", batch_size)
    root = copy_repo(tmp_path)
    committed = clean_tree(root)
    shutil.rmtree(root / "corpus" / "clean")
    assert main(["--root", str(root), "clean", "--num-proc", str(num_proc)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "Cleaned 5 documents: corpus/clean/"
    assert clean_tree(root) == committed
    assert main(["--root", str(root), "clean", "--check", "--num-proc", str(num_proc)]) == 0


def test_clean_records_is_render_outputs_batch_by_batch():
    from pactnews.corpus.cleaning import load_rules

    records = read_metadata(LAYOUT)
    rules = load_rules(LAYOUT.cleaning_rules)
    whole = render_outputs(LAYOUT)
    parts = {}
    for k in range(0, len(records), 2):
        parts.update(clean_command.clean_records(LAYOUT, rules, records[k:k + 2]))
    assert list(parts) == list(whole) and parts == whole


@pytest.mark.parametrize("num_proc", [1, 2])
def test_a_failure_in_a_later_batch_changes_no_file_and_leaves_no_temporary_file(tmp_path, monkeypatch, num_proc,
                                                                                   capsys):
    monkeypatch.setattr(clean_command, "BATCH_SIZE", 2)
    root = copy_repo(tmp_path)
    for path in (root / "corpus" / "clean").iterdir():  # every output stale: the early batches stage them all
        path.write_bytes(b"stale " + path.read_bytes())
    last = sorted((root / "corpus" / "raw").glob("*.txt"))[-1]  # the third batch's only document
    last.write_bytes(last.read_bytes() + b" ")
    before = tree(root)
    assert main(["--root", str(root), "clean", "--num-proc", str(num_proc)]) == 1
    out = capsys.readouterr().out
    assert re.search(f"{last.stem}.*raw_sha256", out) and "Traceback" not in out
    assert tree(root) == before
    assert not [p for p in (root / "corpus" / "clean").iterdir() if p.name.startswith(".")]


def test_clean_check_in_batches_names_the_stale_files_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(clean_command, "BATCH_SIZE", 2)
    root = copy_repo(tmp_path)
    stale = [root / "corpus" / "clean" / "001_69d675cf0e69e825.map.json", root / "corpus" / "clean" / "004_c055902274b992f8.txt"]
    for path in stale:
        path.write_text("stale", encoding="utf-8")
    before = tree(root)
    assert main(["--root", str(root), "clean", "--check", "--num-proc", "2"]) == 1
    out = capsys.readouterr().out
    assert "['corpus/clean/001_69d675cf0e69e825.map.json', 'corpus/clean/004_c055902274b992f8.txt']" in out
    assert tree(root) == before


def test_clean_rewrites_only_what_changed(tmp_path):
    root = copy_repo(tmp_path)
    target = root / "corpus" / "clean" / "002_b6446a1b2c005969.txt"
    committed = target.read_bytes()
    target.write_text("stale", encoding="utf-8")
    untouched = root / "corpus" / "clean" / "003_4dc299c40bab5478.txt"
    inode = untouched.stat().st_ino
    assert clean_command.clean_corpus(Layout(root)) == (5, 1)
    assert target.read_bytes() == committed
    assert untouched.stat().st_ino == inode, "an up-to-date file is not replaced"
