"""Issue 14: `pactnews validate` and `pactnews clean` survive hostile input.

Each case mutates a copy of the repository (and may plant files in a folder
beside it, `outside/`), then checks: the exact validate test ids, exit status
1 (or the stated status) for validate, clean and clean --check, one message
line naming the problem, no traceback, and that no byte changed in the copy or
beside it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import yaml

from pactnews.cli import main
from pactnews.repo import Layout, find_root
from pactnews.validate.validator import TESTS, check_repository

ROOT = find_root(Path(__file__).parent)
VALID = Path(__file__).parent / "invalid" / "_valid"
BASE_ID = "000_c7af0f0315e9c0dc"
OTHER_ID = "003_4dc299c40bab5478"
IDS = ["000_c7af0f0315e9c0dc", "001_69d675cf0e69e825", "002_b6446a1b2c005969", "003_4dc299c40bab5478",
       "004_c055902274b992f8"]
DEEP = 5000  # nesting depth of the deeply nested YAML and JSON


# ---- the repository copy, the folder beside it and their hash ---------------------------------

def make_repo(tmp_path: Path) -> tuple[Path, Path]:
    """(a repository copy as tests/test_validate.py makes it, with one annotation file; the folder beside it)."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "corpus", root / "corpus")
    (root / "schemas").mkdir(parents=True)
    shutil.copy(ROOT / "schemas" / "labels.yaml", root / "schemas" / "labels.yaml")
    shutil.copytree(VALID / "tables", root / "annotations" / "tables")
    shutil.copy(VALID / f"{BASE_ID}.json", root / "annotations" / f"{BASE_ID}.json")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("a file outside the repository\n", encoding="utf-8")
    return root, outside


def snapshot(folder: Path) -> str:
    """A hash of every name, file content and symlink target under `folder` (symlinks are not followed)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            h.update(path.relative_to(folder).as_posix().encode() + b"\0")
            if path.is_symlink():
                h.update(b"link:" + os.readlink(path).encode() + b"\0")
            elif path.is_file():
                h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def meta_path(root: Path) -> Path:
    return root / "corpus" / "metadata.yaml"


def edit_metadata(root: Path, fn) -> None:
    data = yaml.safe_load(meta_path(root).read_text(encoding="utf-8"))
    fn(data["documents"])
    meta_path(root).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def record(docs: list, doc_id: str = BASE_ID) -> dict:
    return next(d for d in docs if d["id"] == doc_id)


def add_record(root: Path, **changes) -> None:
    """A new record: the base document's, with `changes` (so the corpus is otherwise untouched)."""
    edit_metadata(root, lambda docs: docs.append({**record(docs), **changes}))


def set_field(root: Path, key: str, value, doc_id: str = BASE_ID) -> None:
    edit_metadata(root, lambda docs: record(docs, doc_id).__setitem__(key, value))


def set_dct_text(root: Path, text: str) -> None:
    """The base document's dct value as it stands in the YAML (quoted or not)."""
    path = meta_path(root)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if f"id: {BASE_ID}" in line)
    k = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("value:"))
    lines[k] = lines[k].split("value:")[0] + f"value: {text}\n"
    path.write_text("".join(lines), encoding="utf-8")


def raw_file(root: Path, doc_id: str = BASE_ID) -> Path:
    return root / "corpus" / "raw" / f"{doc_id}.txt"


def set_raw_bytes(root: Path, data: bytes, doc_id: str = OTHER_ID) -> None:
    """Replace a raw file and record its new hash: only the content is hostile, not the hash."""
    raw_file(root, doc_id).write_bytes(data)
    set_field(root, "raw_sha256", hashlib.sha256(data).hexdigest(), doc_id)


def as_jsonl(root: Path) -> Path:
    records = yaml.safe_load(meta_path(root).read_text(encoding="utf-8"))["documents"]
    path = root / "corpus" / "metadata.jsonl"
    path.write_text("".join(json.dumps(r, default=str) + "\n" for r in records), encoding="utf-8")
    meta_path(root).unlink()
    return path


def rules_path(root: Path) -> Path:
    return root / "corpus" / "cleaning_rules.yaml"


def edit_rules(root: Path, fn) -> None:
    data = yaml.safe_load(rules_path(root).read_text(encoding="utf-8"))
    fn(data)
    rules_path(root).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def symlink_out(path: Path, target: Path, content: bytes | None = None) -> None:
    """`path` becomes a symlink to `target` outside the repository, holding `content` (default: path's own)."""
    target.write_bytes(path.read_bytes() if content is None else content)
    path.unlink()
    path.symlink_to(target)


def clean_path(root: Path, doc_id: str = BASE_ID, suffix: str = ".txt") -> Path:
    return root / "corpus" / "clean" / f"{doc_id}{suffix}"


# ---- the cases ---------------------------------------------------------------------------------
# name -> (mutate(root, outside), validate test ids (sorted), text in the validate output,
#          text in the `clean` output (None: clean legitimately rewrites, not run), text in `clean --check`;
#          for both a text, exit status 1 and nothing written; 0 for "" (nothing to refuse, nothing changes))

def _meta(mutate, ids, text, clean=None, check=None):
    return mutate, ids, text, clean if clean is not None else text, check if check is not None else (clean or text)


CASES = {
    # metadata: ids
    "id-traversal": _meta(lambda r, o: add_record(r, id="../../../x"), ["unsafe-document-id"],
                          "document id '../../../x' is not a safe file name"),
    "id-absolute": _meta(lambda r, o: add_record(r, id=str(o / "x")), ["unsafe-document-id"],
                         f"document id '{'/'}"),
    "id-too-long": _meta(lambda r, o: add_record(r, id="a" * 129), ["unsafe-document-id"],
                         "is not a safe file name; expected 1-128 characters"),
    "id-not-a-string": _meta(lambda r, o: set_field(r, "id", ["a", "b"]), ["invalid-metadata"],
                             "expected a mapping with a string id, found ['a', 'b']"),
    "id-duplicate": _meta(lambda r, o: edit_metadata(r, lambda d: d.append(dict(d[0]))), ["invalid-metadata"],
                          "document ids used twice"),
    # metadata: paths
    "raw-file-traversal": _meta(lambda r, o: add_record(r, id="999_x", raw_file="../../outside/secret.txt"), ["unsafe-path"],
                                "raw_file '../../outside/secret.txt' resolves to"),
    "raw-file-absolute": _meta(lambda r, o: add_record(r, id="999_x", raw_file=str(o / "secret.txt")), ["unsafe-path"],
                               "is an absolute path; expected a path relative to corpus/"),
    # metadata: values
    "dct-quoted-impossible-date": _meta(lambda r, o: set_dct_text(r, "'2024-13-45'"), ["malformed-dct-value"],
                                        "dct.value is '2024-13-45'; expected a TIMEX3 value naming a real calendar date"),
    "dct-unquoted-impossible-date": _meta(lambda r, o: set_dct_text(r, "2024-99-99"), ["malformed-dct-value"],
                                          "dct.value is '2024-99-99'; expected a TIMEX3 value naming a real"),
    "dct-not-a-leap-day": _meta(lambda r, o: set_dct_text(r, "2023-02-29"), ["malformed-dct-value"],
                                "dct.value is '2023-02-29'; expected a TIMEX3 value naming a real calendar date "
                                "(day is out of range for month)"),
    "dct-impossible-month": _meta(lambda r, o: set_dct_text(r, "'2024-00'"), ["malformed-dct-value"],
                                  "dct.value is '2024-00'; expected a TIMEX3 value naming a real calendar date"),
    "dct-not-a-mapping": _meta(lambda r, o: set_field(r, "dct", "2024-10-25"), ["wrong-type"],
                               "metadata key 'dct' is '2024-10-25' (str); expected a mapping"),
    "unknown-key": _meta(lambda r, o: set_field(r, "athor", "someone"), ["unknown-field"],
                         "unknown metadata keys ['athor']; expected only ['copyright', 'dct', 'id', 'language', "
                         "'raw_file', 'raw_sha256', 'source_note', 'source_outlet', 'title', 'title_basis', 'url', "
                         "'url_note']"),
    "unknown-dct-key": _meta(lambda r, o: edit_metadata(r, lambda d: record(d)["dct"].update(when="now")),
                             ["unknown-field"], "unknown dct keys ['when']; expected only ['basis', 'evidence', 'value']"),
    "title-a-list": _meta(lambda r, o: set_field(r, "title", ["a", "b"]), ["wrong-type"],
                          "metadata key 'title' is ['a', 'b'] (list); expected a string or null"),
    "sha-not-a-string": _meta(lambda r, o: set_field(r, "raw_sha256", 12), ["wrong-type"],
                              "metadata key 'raw_sha256' is 12 (int); expected a string"),
    "missing-raw-sha256": _meta(lambda r, o: edit_metadata(r, lambda d: record(d).pop("raw_sha256")), ["missing-field"],
                                "metadata key 'raw_sha256' is missing; expected a string"),
    # metadata: the file
    "metadata-invalid-yaml": _meta(lambda r, o: meta_path(r).write_text("documents: [\n", encoding="utf-8"),
                                   ["invalid-metadata"], "corpus/metadata.yaml: not valid YAML"),
    "metadata-deeply-nested-yaml": _meta(lambda r, o: meta_path(r).write_text(
        "documents: " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8"), ["invalid-metadata"],
        "not valid YAML: while increasing flow level exceeded maximum nesting depth"),
    "metadata-not-a-mapping": _meta(lambda r, o: meta_path(r).write_text("- just\n- a list\n", encoding="utf-8"),
                                    ["invalid-metadata"], "expected a mapping with a `documents` list, found list"),
    "metadata-record-not-a-mapping": _meta(lambda r, o: edit_metadata(r, lambda d: d.append("oops")),
                                           ["invalid-metadata"], "documents[5]: expected a mapping with a string id"),
    "metadata-not-utf8": _meta(lambda r, o: meta_path(r).write_bytes(b"documents: []\n# caf\xe9\n"),
                               ["invalid-metadata"], "metadata.yaml: not UTF-8 at byte 19"),
    "metadata-jsonl-deeply-nested": _meta(lambda r, o: as_jsonl(r).write_text(
        "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8"), ["invalid-metadata"],
        "metadata.jsonl: line 1: not a JSON object"),
    "metadata-jsonl-invalid": _meta(lambda r, o: as_jsonl(r).write_text('{"id": "a",\n', encoding="utf-8"),
                                    ["invalid-metadata"], "metadata.jsonl: line 1: not a JSON object"),
    "metadata-symlink-out": _meta(lambda r, o: symlink_out(meta_path(r), o / "metadata.yaml"), ["invalid-metadata"],
                                  "the metadata file corpus/metadata.yaml resolves to"),
    # raw files
    "raw-wrong-hash": _meta(lambda r, o: raw_file(r).write_bytes(raw_file(r).read_bytes() + b" "),
                            ["raw-file-invalid"], "raw_sha256 expected be87239593ace55712e38cb9770659a6a1ec23a43a8b7153d0433cfbaa13b3be"),
    "raw-missing": _meta(lambda r, o: raw_file(r).unlink(), ["raw-file-invalid"],
                         f"document {BASE_ID}: raw file"),
    "raw-a-folder": _meta(lambda r, o: (raw_file(r).unlink(), raw_file(r).mkdir()), ["raw-file-invalid"],
                          "does not exist"),
    "raw-not-utf8": _meta(lambda r, o: set_raw_bytes(r, b"caf\xe9 au lait\n"), ["raw-file-invalid"],
                          f"document {OTHER_ID}: not UTF-8 at byte 3"),
    "raw-empty": _meta(lambda r, o: set_raw_bytes(r, b""), ["empty-raw-file"],
                       "the raw file holds no text (0 bytes)"),
    "raw-only-white-space": _meta(lambda r, o: set_raw_bytes(r, b" \n\n\t \n"), ["empty-raw-file"],
                                  "the raw file holds no text (6 bytes)"),
    "raw-symlink-out": _meta(lambda r, o: symlink_out(raw_file(r), o / "raw.txt"), ["unsafe-path"],
                             f"raw_file 'raw/{BASE_ID}.txt' resolves to"),
    "raw-folder-symlink-out": _meta(lambda r, o: (shutil.move(r / "corpus" / "raw", o / "raw"),
                                                  (r / "corpus" / "raw").symlink_to(o / "raw")),
                                    ["unsafe-path"] * 5, "resolves to"),
    "raw-unlisted": _meta(lambda r, o: (r / "corpus" / "raw" / "999_stray.txt").write_text("stray", encoding="utf-8"),
                          ["unlisted-raw-file"], "corpus/raw/999_stray.txt is named by no metadata record"),
    # clean files and maps: `clean` rewrites them (that is its job); validate and clean --check refuse
    "clean-map-invalid-json": (lambda r, o: clean_path(r, suffix=".map.json").write_text('{"segments": [', encoding="utf-8"),
                               ["clean-text-stale"], f"corpus/clean/{BASE_ID}.map.json differs", None,
                               f"corpus/clean/{BASE_ID}.map.json"),
    "clean-map-deeply-nested-json": (lambda r, o: clean_path(r, suffix=".map.json").write_text(
        "[" * DEEP + "]" * DEEP, encoding="utf-8"), ["clean-text-stale"], f"corpus/clean/{BASE_ID}.map.json differs",
        None, f"corpus/clean/{BASE_ID}.map.json"),
    "clean-text-a-folder": _meta(lambda r, o: (clean_path(r, OTHER_ID).unlink(), clean_path(r, OTHER_ID).mkdir()),
                                 ["clean-text-stale"], f"corpus/clean/{OTHER_ID}.txt is missing",
                                 "a folder is where `clean` writes a file", f"corpus/clean/{OTHER_ID}.txt"),
    "clean-text-symlink-out": _meta(lambda r, o: symlink_out(clean_path(r, OTHER_ID), o / "clean.txt"), ["unsafe-path"],
                                    f"the clean file resolves to"),
    # (a clean text that is not read leaves the annotation file of its document without a text: unknown-document)
    "clean-folder-symlink-out": _meta(lambda r, o: (shutil.move(r / "corpus" / "clean", o / "clean"),
                                                    (r / "corpus" / "clean").symlink_to(o / "clean")),
                                      ["unknown-document"] + ["unsafe-path"] * 5, "the clean file resolves to",
                                      "corpus/clean: resolves to"),
    # cleaning rules
    "rules-bad-regex": _meta(lambda r, o: edit_rules(r, lambda d: d["removals"][0].update(pattern="([")),
                             ["raw-file-invalid"], "rule 'metadata_date_prefix': pattern '([' is not a valid regular "
                                                   "expression: unterminated character set at position 1"),
    "rules-huge-repeat": _meta(lambda r, o: edit_rules(r, lambda d: d["removals"][0].update(pattern="a{99999999999}")),
                               ["raw-file-invalid"], "pattern 'a{99999999999}' is not a valid regular expression"),
    "rules-missing-pattern": _meta(lambda r, o: edit_rules(r, lambda d: d["removals"][1].pop("pattern")),
                                   ["raw-file-invalid"], "removals[1]: rule 'spam_url_line': pattern is None"),
    "rules-unknown-kind": _meta(lambda r, o: edit_rules(r, lambda d: d["removals"][1].update(kind="glob")),
                                ["raw-file-invalid"], "removals[1]: unknown kind 'glob'"),
    "rules-rule-not-a-mapping": _meta(lambda r, o: edit_rules(r, lambda d: d["removals"].append("strip ads")),
                                      ["raw-file-invalid"], "removals[8]: a rule is a mapping"),
    "rules-not-a-mapping": _meta(lambda r, o: rules_path(r).write_text("- a\n- b\n", encoding="utf-8"),
                                 ["raw-file-invalid"], "expected a mapping with the lists ['removals', 'substitutions']"),
    "rules-literal-strings-not-a-list": _meta(lambda r, o: edit_rules(r, lambda d: d["removals"][5].update(strings="x")),
                                              ["raw-file-invalid"], "strings is 'x'; expected a non-empty list"),
    "rules-invalid-yaml": _meta(lambda r, o: rules_path(r).write_text("removals: [\n", encoding="utf-8"),
                                ["raw-file-invalid"], "cleaning_rules.yaml: not valid YAML"),
    "rules-deeply-nested-yaml": _meta(lambda r, o: rules_path(r).write_text(
        "removals: " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8"), ["raw-file-invalid"],
        "cleaning_rules.yaml: not valid YAML: while increasing flow level"),
    "rules-symlink-out": _meta(lambda r, o: symlink_out(rules_path(r), o / "rules.yaml"), ["raw-file-invalid"],
                               "the cleaning rules corpus/cleaning_rules.yaml resolves to"),
    # annotations: clean does not read them, so it has nothing to refuse and changes nothing (exit 0)
    "annotation-symlink-out": (lambda r, o: symlink_out(r / "annotations" / f"{BASE_ID}.json", o / "ann.json"),
                               ["unsafe-path"], f"annotations/{BASE_ID}.json is a symlink to", "", ""),
}


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """main(argv) in this process: its exit status and everything it printed; an exception fails the test."""
    try:
        code = main(argv)
    except BaseException:  # noqa: BLE001 - what a user would see as a traceback
        pytest.fail(f"pactnews {' '.join(argv[2:])} raised:\n{traceback.format_exc()}")
    out = capsys.readouterr()
    return code, out.out + out.err


def test_enough_hostile_classes_and_their_test_ids_are_known():
    assert len(CASES) >= 25
    used = {t for _, ids, *_ in CASES.values() for t in ids}
    assert used <= set(TESTS), sorted(used - set(TESTS))
    assert {"unsafe-document-id", "unsafe-path", "unlisted-raw-file", "empty-raw-file", "malformed-dct-value",
            "unknown-field", "wrong-type", "missing-field", "invalid-metadata", "raw-file-invalid"} <= used


def test_the_unchanged_copy_passes(tmp_path, capsys):
    """The baseline every case departs from: the copy validates, is clean, and clean changes nothing."""
    root, outside = make_repo(tmp_path)
    before = snapshot(tmp_path)
    assert [str(i) for i in check_repository(Layout(root))[0]] == []
    for argv in (["validate"], ["clean", "--check"], ["clean"]):
        code, out = run_cli(["--root", str(root), *argv], capsys)
        assert code == 0, out
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_refused_with_a_message_and_nothing_changes(case, tmp_path, capsys):
    mutate, test_ids, validate_text, clean_text, check_text = CASES[case]
    root, outside = make_repo(tmp_path)
    mutate(root, outside)
    before = snapshot(tmp_path)  # the repository copy and the folder beside it

    incidents, _ = check_repository(Layout(root))
    assert sorted(i.test_id for i in incidents) == test_ids, "\n".join(map(str, incidents))
    assert any(validate_text in str(i) for i in incidents), "\n".join(map(str, incidents))

    code, out = run_cli(["--root", str(root), "validate"], capsys)
    assert code == 1
    assert "Traceback" not in out
    assert validate_text in out
    for t in set(test_ids):
        assert f"[L{TESTS[t][0]} {t}]" in out
    assert out.strip().splitlines()[-1].startswith(f"FAILED: {len(test_ids)} incidents")

    for argv, text in ((["clean", "--check"], check_text), (["clean"], clean_text)):
        if text is None:
            continue
        code, out = run_cli(["--root", str(root), *argv], capsys)
        assert "Traceback" not in out
        if text == "":
            assert code == 0, out
            continue
        assert code == 1, out
        lines = out.strip().splitlines()
        assert any(text in line for line in lines), out
        assert lines[-1].startswith("FAILED"), out
        if argv == ["clean"]:
            assert lines[-1].endswith("no file written"), out
            problems = [line for line in lines if line.startswith("error: ")]
            assert problems and len(problems) == len(lines) - 1, out  # one line per problem, then the verdict
    assert snapshot(tmp_path) == before, "a verb changed a file in the repository or beside it"


def test_clean_names_every_bad_raw_file_in_every_batch(tmp_path, capsys, monkeypatch):
    """Problems in several batches (and processes) are all named, one line each; nothing is written."""
    import pactnews.commands.clean as clean_command

    monkeypatch.setattr(clean_command, "BATCH_SIZE", 2)
    root, outside = make_repo(tmp_path)
    for path in (root / "corpus" / "clean").iterdir():  # every output stale: the good batches stage them all
        path.write_bytes(b"stale " + path.read_bytes())
    for doc_id in (IDS[0], IDS[4]):
        raw_file(root, doc_id).write_bytes(raw_file(root, doc_id).read_bytes() + b" ")
    before = snapshot(tmp_path)
    for num_proc in ("1", "2"):
        code, out = run_cli(["--root", str(root), "clean", "--num-proc", num_proc], capsys)
        assert code == 1
        lines = out.strip().splitlines()
        assert [line.split(": document ")[1].split(":")[0] for line in lines[:-1]] == [IDS[0], IDS[4]], out
        assert all("raw_sha256 expected" in line for line in lines[:-1])
        assert lines[-1] == "FAILED: 2 problems; no file written"
        assert snapshot(tmp_path) == before
        assert not [p for p in (root / "corpus" / "clean").iterdir() if p.name.startswith(".")]


def test_an_unsafe_id_is_refused_before_any_raw_file_is_read(tmp_path, capsys, monkeypatch):
    """clean checks every id and path first: with one unsafe id, no raw file is opened at all."""
    import pactnews.corpus.readers as corpus

    root, outside = make_repo(tmp_path)
    add_record(root, id="../../outside/pwned")
    opened = []
    real = corpus.read_raw
    monkeypatch.setattr(corpus, "read_raw", lambda *a, **k: opened.append(a[1]["id"]) or real(*a, **k))
    code, out = run_cli(["--root", str(root), "clean"], capsys)
    assert code == 1 and opened == []
    assert "error: corpus/metadata.yaml: document ../../outside/pwned: document id '../../outside/pwned' is not a " \
           "safe file name" in out
    assert not (outside / "pwned.txt").exists() and not (tmp_path / "pwned.txt").exists()


@pytest.mark.parametrize("case", ["id-traversal", "raw-wrong-hash", "rules-bad-regex", "metadata-deeply-nested-yaml"])
def test_the_installed_command_prints_no_traceback(case, tmp_path):
    """The real entry point, in a process of its own: exit status 1, a message, no traceback."""
    mutate, _, validate_text, clean_text, _ = CASES[case]
    root, outside = make_repo(tmp_path)
    mutate(root, outside)
    before = snapshot(tmp_path)
    for verb, text in (("validate", validate_text), ("clean", clean_text)):
        proc = subprocess.run([sys.executable, "-m", "pactnews.cli", "--root", str(root), verb],
                              capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        assert text in proc.stdout
    assert snapshot(tmp_path) == before
