"""Every verb survives hostile input: `pactnews validate`, `clean`, and the verbs behind validate's gate.

Each class applies its fixture (tests/invalid/hostile/<class>.<ext>, named by
the class's test id) to a copy of the repository (and may plant files in a
folder beside it, `outside/`), then checks: the exact validate test ids, exit
status 1 (or the stated status) for validate, clean and clean --check; render,
export and publish refusing with validate's own incidents, one line each; no
traceback; and that no byte changed in the copy or beside it. The environment
classes (unreadable files, full and read-only disks, an ASCII terminal, the
token view's size limit) are made by monkeypatching. The last test greps every
output of the suite for a traceback.
"""
from __future__ import annotations

import builtins
import errno
import hashlib
import io
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
    for name in ("README.md", "croissant.json", "CHANGELOG.md"):  # what `publish` needs before its gate
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "data", root / "data")
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


# ---- fixtures: tests/invalid/hostile/<class>.<ext>, one per class, named by its test id -----------------
# A fixture is the hostile content itself (a file's bytes, a YAML record or patch), or, for a class that
# removes, links or replaces a file, the path it acts on. `{outside}` stands for the folder beside the repository.

HOSTILE = Path(__file__).parent / "invalid" / "hostile"


def fixture_file(case: str) -> Path:
    [path] = [p for p in HOSTILE.iterdir() if p.name.rsplit(".", 1)[0] == case]
    return path


def fixture_data(case: str, outside: Path) -> bytes:
    return fixture_file(case).read_bytes().replace(b"{outside}", os.fsencode(outside))


def fx(data: bytes):
    return yaml.safe_load(data.decode("utf-8"))


def paths_of(root: Path, data: bytes) -> list[Path]:
    return [root / line for line in data.decode("utf-8").splitlines() if line.strip()]


def ADD(r, o, f):  # a copy of the base record with the fixture's keys, appended
    add_record(r, **fx(f))


def SET(r, o, f):  # the fixture's keys set on the base record
    edit_metadata(r, lambda d: record(d).update(fx(f)))


def DROP(r, o, f):  # the fixture's keys removed from the base record
    edit_metadata(r, lambda d: [record(d).pop(k) for k in fx(f)])


def DCT(r, o, f):  # the fixture's keys set on the base record's dct
    edit_metadata(r, lambda d: record(d)["dct"].update(fx(f)))


def DCT_TEXT(r, o, f):  # the base record's dct value as the fixture writes it in YAML
    set_dct_text(r, f.decode("utf-8").strip())


def APPEND_RECORD(r, o, f):
    edit_metadata(r, lambda d: d.append(fx(f)))


def JSONL(r, o, f):  # corpus/metadata.jsonl instead of metadata.yaml, holding the fixture
    as_jsonl(r).write_bytes(f)


def JSONL_SET(r, o, f):  # metadata.jsonl with the fixture's JSON keys set on the base record (escapes kept)
    path = as_jsonl(r)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [json.dumps({**json.loads(line), **json.loads(f)}) if f'"{BASE_ID}"' in line else line for line in lines]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def JSONL_ADD(r, o, f):  # metadata.jsonl with a copy of the base record and the fixture's JSON keys appended
    path = as_jsonl(r)
    base = json.loads(next(line for line in path.read_text(encoding="utf-8").splitlines() if f'"{BASE_ID}"' in line))
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({**base, **json.loads(f)}) + "\n")


def write(path_of):  # the file holds the fixture
    return lambda r, o, f: path_of(r).write_bytes(f)


def place(*parts):  # a new file holding the fixture
    return lambda r, o, f: r.joinpath(*parts).write_bytes(f)


def append(path_of):
    return lambda r, o, f: path_of(r).write_bytes(path_of(r).read_bytes() + f)


def prepend(path_of):
    return lambda r, o, f: path_of(r).write_bytes(f + path_of(r).read_bytes())


def line_ends(path_of, rehash: str | None = None):  # every \n becomes the fixture (\r\n)
    def apply(r, o, f):
        data = path_of(r).read_bytes().replace(b"\n", f)
        if rehash:
            set_raw_bytes(r, data, rehash)
        else:
            path_of(r).write_bytes(data)
    return apply


def link_out(path_of, name: str):  # the file becomes a symlink to `name` beside the repository, holding the fixture
    return lambda r, o, f: symlink_out(path_of(r), o / name, f)


def FOLDER_OUT(r, o, f):  # the named folder moves beside the repository and a symlink takes its place
    for path in paths_of(r, f):
        shutil.move(path, o / path.name)
        path.symlink_to(o / path.name)


def REMOVE(r, o, f):
    for path in paths_of(r, f):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def FOLDER(r, o, f):  # the named file becomes an empty folder
    for path in paths_of(r, f):
        path.unlink()
        path.mkdir()


def DANGLING(r, o, f):  # `path -> target`: the file becomes a symlink to a target inside the folder that does not exist
    for line in f.decode("utf-8").splitlines():
        rel, target = line.split(" -> ")
        (r / rel).unlink()
        (r / rel).symlink_to(target)


def raw_bytes(doc_id: str = OTHER_ID, prefix: bool = False):  # a raw file's new content (its hash recorded)
    return lambda r, o, f: set_raw_bytes(r, f + raw_file(r, doc_id).read_bytes() if prefix else f, doc_id)


def patch(path_of):
    """The YAML file patched: `a.0.b: value` sets, `a.+: value` appends, `-: [a.0.b]` removes."""
    def apply(r, o, f):
        doc = yaml.safe_load(path_of(r).read_text(encoding="utf-8"))
        changes = fx(f)

        def walk(keys):
            obj = doc
            for k in keys:
                obj = obj[int(k)] if isinstance(obj, list) else obj[k]
            return obj

        for key in changes.pop("-", []):
            *parents, last = key.split(".")
            obj = walk(parents)
            del obj[int(last) if isinstance(obj, list) else last]
        for key, value in changes.items():
            *parents, last = key.split(".")
            obj = walk(parents)
            if last == "+":
                obj.append(value)
            else:
                obj[int(last) if isinstance(obj, list) else last] = value
        path_of(r).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return apply


META = meta_path
JSONL_PATH = lambda r: r / "corpus" / "metadata.jsonl"  # noqa: E731
RULES = rules_path
RAW = raw_file
LABELS = lambda r: r / "schemas" / "labels.yaml"  # noqa: E731
ANN = lambda r: r / "annotations" / f"{BASE_ID}.json"  # noqa: E731
ENTITIES = lambda r: r / "annotations" / "tables" / "entities.json"  # noqa: E731
CLUSTERS = lambda r: r / "annotations" / "tables" / "claim_clusters.json"  # noqa: E731
CONFLICTS = lambda r: r / "annotations" / "tables" / "conflicts.json"  # noqa: E731
MAP = lambda r: clean_path(r, suffix=".map.json")  # noqa: E731
CLEAN_OTHER = lambda r: clean_path(r, OTHER_ID)  # noqa: E731
MAP_OTHER = lambda r: clean_path(r, OTHER_ID, ".map.json")  # noqa: E731


# ---- the cases ---------------------------------------------------------------------------------
# name -> (mutate(root, outside, fixture bytes), validate test ids (sorted), text in the validate output,
#          text in the `clean` output (None: clean legitimately rewrites, not run), text in `clean --check`;
#          for both a text, exit status 1 and nothing written; 0 for "" (nothing to refuse, nothing changes))

def _meta(mutate, ids, text, clean=None, check=None):
    return mutate, ids, text, clean if clean is not None else text, check if check is not None else (clean or text)


def _ann(mutate, ids, text):
    """A class of what `clean` does not read (annotations, tables, the inventory): clean exits 0, changes nothing."""
    return mutate, ids, text, "", ""


def _ok(mutate):
    """Hostile-looking input that is accepted: validate passes, clean changes nothing (a BOM, CRLF line ends)."""
    return mutate, [], "", "", ""


def place_link(path_of, name: str):  # a new file that is a symlink to `name` beside the repository, holding the fixture
    def apply(r, o, f):
        (o / name).write_bytes(f)
        path_of(r).symlink_to(o / name)
    return apply


CASES = {
    # metadata: ids
    "id-traversal": _meta(ADD, ["unsafe-document-id"],
                          "document id '../../../x' is not a safe file name"),
    "id-absolute": _meta(ADD, ["unsafe-document-id"],
                         f"document id '{'/'}"),
    "id-too-long": _meta(ADD, ["unsafe-document-id"],
                         "is not a safe file name; expected 1-128 characters"),
    "id-not-a-string": _meta(SET, ["invalid-metadata"],
                             "expected a mapping with a string id, found ['a', 'b']"),
    "id-duplicate": _meta(ADD, ["invalid-metadata"],
                          "document ids used twice"),
    # metadata: paths
    "raw-file-traversal": _meta(ADD, ["unsafe-path"],
                                "raw_file '../../outside/secret.txt' resolves to"),
    "raw-file-absolute": _meta(ADD, ["unsafe-path"],
                               "is an absolute path; expected a path relative to corpus/"),
    # metadata: values
    "dct-quoted-impossible-date": _meta(DCT_TEXT, ["malformed-dct-value"],
                                        "dct.value is '2024-13-45'; expected a TIMEX3 value naming a real calendar date"),
    "dct-unquoted-impossible-date": _meta(DCT_TEXT, ["malformed-dct-value"],
                                          "dct.value is '2024-99-99'; expected a TIMEX3 value naming a real"),
    "dct-not-a-leap-day": _meta(DCT_TEXT, ["malformed-dct-value"],
                                "dct.value is '2023-02-29'; expected a TIMEX3 value naming a real calendar date "
                                "(day is out of range for month)"),
    "dct-impossible-month": _meta(DCT_TEXT, ["malformed-dct-value"],
                                  "dct.value is '2024-00'; expected a TIMEX3 value naming a real calendar date"),
    "dct-not-a-mapping": _meta(SET, ["wrong-type"],
                               "metadata key 'dct' is '2024-10-25' (str); expected a mapping"),
    "unknown-key": _meta(SET, ["unknown-field"],
                         "unknown metadata keys ['athor']; expected only ['copyright', 'dct', 'id', 'language', "
                         "'raw_file', 'raw_sha256', 'source_note', 'source_outlet', 'title', 'title_basis', 'url', "
                         "'url_note']"),
    "unknown-dct-key": _meta(DCT,
                             ["unknown-field"], "unknown dct keys ['when']; expected only ['basis', 'evidence', 'value']"),
    "title-a-list": _meta(SET, ["wrong-type"],
                          "metadata key 'title' is ['a', 'b'] (list); expected a string or null"),
    "sha-not-a-string": _meta(SET, ["wrong-type"],
                              "metadata key 'raw_sha256' is 12 (int); expected a string"),
    "missing-raw-sha256": _meta(DROP, ["missing-field"],
                                "metadata key 'raw_sha256' is missing; expected a string"),
    # metadata: the file
    "metadata-invalid-yaml": _meta(write(META),
                                   ["invalid-metadata"], "corpus/metadata.yaml: not valid YAML"),
    "metadata-deeply-nested-yaml": _meta(write(META), ["invalid-metadata"],
        "not valid YAML: while increasing flow level exceeded maximum nesting depth"),
    "metadata-not-a-mapping": _meta(write(META),
                                    ["invalid-metadata"], "expected a mapping with a `documents` list, found list"),
    "metadata-record-not-a-mapping": _meta(APPEND_RECORD,
                                           ["invalid-metadata"], "documents[5]: expected a mapping with a string id"),
    "metadata-not-utf8": _meta(write(META),
                               ["invalid-metadata"], "metadata.yaml: not UTF-8 at byte 19"),
    "metadata-jsonl-deeply-nested": _meta(JSONL, ["invalid-metadata"],
        "metadata.jsonl: line 1: not a JSON object"),
    "metadata-jsonl-invalid": _meta(JSONL,
                                    ["invalid-metadata"], "metadata.jsonl: line 1: not a JSON object"),
    "metadata-symlink-out": _meta(link_out(META, "metadata.yaml"), ["invalid-metadata"],
                                  "the metadata file corpus/metadata.yaml resolves to"),
    # raw files
    "raw-wrong-hash": _meta(append(RAW),
                            ["raw-file-invalid"], "raw_sha256 expected be87239593ace55712e38cb9770659a6a1ec23a43a8b7153d0433cfbaa13b3be"),
    "raw-missing": _meta(REMOVE, ["raw-file-invalid"],
                         f"document {BASE_ID}: raw file"),
    "raw-a-folder": _meta(FOLDER, ["raw-file-invalid"],
                          "does not exist"),
    "raw-not-utf8": _meta(raw_bytes(), ["raw-file-invalid"],
                          f"document {OTHER_ID}: not UTF-8 at byte 3"),
    "raw-empty": _meta(raw_bytes(), ["empty-raw-file"],
                       "the raw file holds no text (0 bytes)"),
    "raw-only-white-space": _meta(raw_bytes(), ["empty-raw-file"],
                                  "the raw file holds no text (6 bytes)"),
    "raw-symlink-out": _meta(link_out(RAW, "raw.txt"), ["unsafe-path"],
                             f"raw_file 'raw/{BASE_ID}.txt' resolves to"),
    "raw-folder-symlink-out": _meta(FOLDER_OUT,
                                    ["unsafe-path"] * 5, "resolves to"),
    "raw-unlisted": _meta(place("corpus", "raw", "999_stray.txt"),
                          ["unlisted-raw-file"], "corpus/raw/999_stray.txt is named by no metadata record"),
    # clean files and maps: `clean` rewrites them (that is its job); validate and clean --check refuse
    "clean-map-invalid-json": (write(MAP),
                               ["clean-text-stale"], f"corpus/clean/{BASE_ID}.map.json differs", None,
                               f"corpus/clean/{BASE_ID}.map.json"),
    "clean-map-deeply-nested-json": (write(MAP), ["clean-text-stale"], f"corpus/clean/{BASE_ID}.map.json differs",
        None, f"corpus/clean/{BASE_ID}.map.json"),
    "clean-text-a-folder": _meta(FOLDER,
                                 ["clean-text-stale"], f"corpus/clean/{OTHER_ID}.txt is missing",
                                 "a folder is where `clean` writes a file", f"corpus/clean/{OTHER_ID}.txt"),
    "clean-text-symlink-out": _meta(link_out(CLEAN_OTHER, "clean.txt"), ["unsafe-path"],
                                    f"the clean file resolves to"),
    # (a clean text that is not read leaves the annotation file of its document without a text: unknown-document)
    "clean-folder-symlink-out": _meta(FOLDER_OUT,
                                      ["unknown-document"] + ["unsafe-path"] * 5, "the clean file resolves to",
                                      "corpus/clean: resolves to"),
    # cleaning rules
    "rules-bad-regex": _meta(patch(RULES),
                             ["raw-file-invalid"], "rule 'metadata_date_prefix': pattern '([' is not a valid regular "
                                                   "expression: unterminated character set at position 1"),
    "rules-huge-repeat": _meta(patch(RULES),
                               ["raw-file-invalid"], "pattern 'a{99999999999}' is not a valid regular expression"),
    "rules-missing-pattern": _meta(patch(RULES),
                                   ["raw-file-invalid"], "removals[1]: rule 'spam_url_line': pattern is None"),
    "rules-unknown-kind": _meta(patch(RULES),
                                ["raw-file-invalid"], "removals[1]: unknown kind 'glob'"),
    "rules-rule-not-a-mapping": _meta(patch(RULES),
                                      ["raw-file-invalid"], "removals[8]: a rule is a mapping"),
    "rules-not-a-mapping": _meta(write(RULES),
                                 ["raw-file-invalid"], "expected a mapping with the lists ['removals', 'substitutions']"),
    "rules-literal-strings-not-a-list": _meta(patch(RULES),
                                              ["raw-file-invalid"], "strings is 'x'; expected a non-empty list"),
    "rules-invalid-yaml": _meta(write(RULES),
                                ["raw-file-invalid"], "cleaning_rules.yaml: not valid YAML"),
    "rules-deeply-nested-yaml": _meta(write(RULES), ["raw-file-invalid"],
        "cleaning_rules.yaml: not valid YAML: while increasing flow level"),
    "rules-symlink-out": _meta(link_out(RULES, "rules.yaml"), ["raw-file-invalid"],
                               "the cleaning rules corpus/cleaning_rules.yaml resolves to"),
    # annotations: clean does not read them, so it has nothing to refuse and changes nothing (exit 0)
    "annotation-symlink-out": (link_out(ANN, "ann.json"),
                               ["unsafe-path"], f"annotations/{BASE_ID}.json is a symlink to", "", ""),

    # ---- metadata: encodings and line ends (accepted: nothing to refuse, nothing changes) ----
    "metadata-bom": _ok(prepend(META)),
    "metadata-crlf": _ok(line_ends(META)),
    "metadata-jsonl-crlf": _ok(lambda r, o, f: (as_jsonl(r), line_ends(JSONL_PATH)(r, o, f))),
    "metadata-jsonl-bom": _meta(lambda r, o, f: (as_jsonl(r), prepend(JSONL_PATH)(r, o, f)), ["invalid-metadata"],
                                "metadata.jsonl: line 1: not a JSON object: Unexpected UTF-8 BOM"),
    # metadata: values
    "metadata-jsonl-title-lone-surrogate": _meta(JSONL_SET, ["wrong-type"], "metadata key 'title' is 'South \\ud800 "
                                                 "Korea'; expected a string of Unicode characters (no lone surrogates)"),
    "metadata-jsonl-raw-file-lone-surrogate": _meta(JSONL_ADD, ["unsafe-path"],
                                                    "raw_file 'raw/\\udc00.txt' is not a file path"),
    "metadata-raw-file-nul": _meta(ADD, ["unsafe-path"], "raw_file 'raw/a\\x00b.txt' is not a file path"),
    "metadata-raw-file-empty": _meta(ADD, ["unsafe-path"], "raw_file '' is not a file path"),
    "metadata-raw-file-a-folder": _meta(ADD, ["raw-file-invalid"], "document 999_x: raw file"),
    "metadata-id-empty": _meta(ADD, ["unsafe-document-id"], "document id '' is not a safe file name"),
    "metadata-id-with-a-slash": _meta(ADD, ["unsafe-document-id"], "document id '999/x' is not a safe file name"),
    "metadata-id-with-a-newline": _meta(ADD, ["unsafe-document-id"], "document id '999_x\\n' is not a safe file name"),
    "metadata-id-not-ascii": _meta(ADD, ["unsafe-document-id"], "document id '999_dokument_ü' is not a safe file name"),
    "metadata-url-a-mapping": _meta(SET, ["wrong-type"], "metadata key 'url' is {'href': 'javascript:alert(1)'} "
                                                         "(dict); expected a string or null"),
    "metadata-dct-value-null": _meta(DCT, ["malformed-dct-value"], "dct.value is None; expected a TIMEX3 value"),
    # a "billion laughs": YAML aliases nest nine lists of nine nine times; no message may write them out
    "metadata-alias-bomb": _meta(SET, ["wrong-type"], "metadata key 'title' is [[[[...], [...], [...], [...], [...], "
                                                      "[...], [...], [...], ...], "),
    "metadata-dct-value-alias-bomb": _meta(DCT, ["malformed-dct-value"], "dct.value is [[[[...], [...], [...], "),
    # metadata: the file
    "metadata-documents-null": _meta(write(META), ["invalid-metadata"],
                                     "expected a mapping with a `documents` list, found NoneType"),
    "metadata-empty-file": _meta(write(META), ["invalid-metadata"],
                                 "expected a mapping with a `documents` list, found NoneType"),
    "metadata-python-tag": _meta(write(META), ["invalid-metadata"], "not valid YAML: could not determine a constructor "
                                                                    "for the tag 'tag:yaml.org,2002:python/object/apply"),
    "metadata-yaml-and-jsonl": _meta(place("corpus", "metadata.jsonl"), ["invalid-metadata"],
                                     "metadata.yaml and metadata.jsonl both exist"),
    "metadata-jsonl-symlink-out": _meta(lambda r, o, f: (as_jsonl(r), link_out(JSONL_PATH, "metadata.jsonl")(r, o, f)),
                                        ["invalid-metadata"], "the metadata file corpus/metadata.jsonl resolves to"),

    # ---- raw files ----
    "raw-bom": (raw_bytes(prefix=True), ["clean-text-stale"] * 2, f"corpus/clean/{OTHER_ID}.map.json differs", None,
                f"corpus/clean/{OTHER_ID}"),
    "raw-crlf": (line_ends(lambda r: raw_file(r, OTHER_ID), rehash=OTHER_ID), ["clean-text-stale"] * 2,
                 f"corpus/clean/{OTHER_ID}.map.json differs", None, f"corpus/clean/{OTHER_ID}"),
    "raw-utf16": _meta(raw_bytes(), ["raw-file-invalid"], f"document {OTHER_ID}: not UTF-8 at byte 0"),
    "raw-dangling-symlink": _meta(DANGLING, ["raw-file-invalid"], f"document {BASE_ID}: raw file"),

    # ---- clean files and maps ----
    "clean-map-symlink-out": _meta(link_out(MAP_OTHER, "map.json"), ["unsafe-path"], "the clean file resolves to"),
    "clean-map-a-folder": _meta(FOLDER, ["clean-text-stale"], f"corpus/clean/{OTHER_ID}.map.json is missing",
                                "a folder is where `clean` writes a file", f"corpus/clean/{OTHER_ID}.map.json"),
    "clean-text-bom": (prepend(CLEAN_OTHER), ["clean-text-stale"], f"corpus/clean/{OTHER_ID}.txt differs", None,
                       f"corpus/clean/{OTHER_ID}.txt"),
    "clean-text-crlf": (line_ends(CLEAN_OTHER), ["clean-text-stale"], f"corpus/clean/{OTHER_ID}.txt differs", None,
                        f"corpus/clean/{OTHER_ID}.txt"),
    "clean-text-not-utf8": (write(CLEAN_OTHER), ["clean-text-stale"], f"corpus/clean/{OTHER_ID}.txt differs", None,
                            f"corpus/clean/{OTHER_ID}.txt"),
    "clean-text-dangling-symlink": (DANGLING, ["clean-text-stale"], f"corpus/clean/{OTHER_ID}.txt is missing", None,
                                    f"corpus/clean/{OTHER_ID}.txt"),
    "clean-extra-file": (place("corpus", "clean", "999_x.txt"), ["clean-text-stale"],
                         "corpus/clean/999_x.txt is an extra file", "", ""),
    "clean-folder-missing": (REMOVE, ["clean-text-stale"] * 10 + ["unknown-document"],
                             f"corpus/clean/{BASE_ID}.txt is missing", None, f"corpus/clean/{BASE_ID}.txt"),

    # ---- annotation files: clean does not read them (exit 0, nothing changes) ----
    "annotation-crlf": _ok(write(ANN)),
    "annotation-bom": _ann(write(ANN), ["invalid-json"], "Unexpected UTF-8 BOM"),
    "annotation-deeply-nested-json": _ann(write(ANN), ["invalid-json"], "the JSON is nested deeper than the reader allows"),
    "annotation-utf16": _ann(write(ANN), ["not-utf8"], "byte 0 (0xff) is not valid UTF-8"),
    "annotation-empty-object": _ann(write(ANN), ["wrong-format"], '"format" expected \'pactnews-standoff\', found None'),
    "annotation-null-layer": _ann(write(ANN), ["missing-field"], "layer 'relations' must be a list, found None"),
    "annotation-lone-surrogate-text": _ann(write(ANN), ["wrong-type"], "expected a string of Unicode characters"),
    "annotation-integer-too-large": _ann(write(ANN), ["wrong-type"], "start is 1.1805916207174113e+21 (float); expected "
                                                                     "an integer"),
    "annotation-nan": _ann(write(ANN), ["non-finite-number"], "quantity_value is nan; expected a finite number"),
    "annotation-offset-a-float": _ann(write(ANN), ["wrong-type"], "start is 1452.0 (float); expected an integer"),
    "annotation-offset-a-bool": _ann(write(ANN), ["wrong-type"], "end is True (bool); expected an integer"),
    "annotation-negative-offset": _ann(write(ANN), ["offsets-out-of-range"], "start is -1452; expected start >= 0"),
    "annotation-record-a-string": _ann(write(ANN), ["record-not-an-object"], "a entities record is 'E7 Polish NORP'"),
    "annotation-html-label": _ann(write(ANN), ["unknown-label"], "label is '<script>alert(1)</script>'; expected one of"),
    "annotation-html-id": _ann(write(ANN), ["wrong-id-prefix"], 'id is \'E8"><img src=x onerror=alert(1)>\'; expected'),
    "annotation-nul-in-text": _ann(write(ANN), ["span-text-mismatch"], "span text is 'Andrzej\\x00Duda' but "
                                                                       "text[1452:1464] is 'Andrzej Duda'"),
    "annotation-a-folder": _ann(FOLDER, ["unreadable-file"], "cannot read the file: IsADirectoryError"),
    "annotation-dangling-symlink": _ann(DANGLING, ["unreadable-file"], "cannot read the file: FileNotFoundError"),
    "annotation-folder-symlink-out": _ann(FOLDER_OUT, ["unsafe-path"] * 3, f"annotations/{BASE_ID}.json resolves to"),
    "annotation-stray-symlink-out": _ann(place_link(lambda r: r / "annotations" / "999_stray.json", "stray.json"),
                                         ["unsafe-path"], "annotations/999_stray.json is a symlink to"),

    # ---- tables ----
    "table-entities-symlink-out": _ann(link_out(ENTITIES, "entities.json"), ["unsafe-path"],
                                       "annotations/tables/entities.json is a symlink to"),
    "table-clusters-symlink-out": _ann(link_out(CLUSTERS, "claim_clusters.json"), ["unsafe-path"],
                                       "annotations/tables/claim_clusters.json is a symlink to"),
    "table-conflicts-symlink-out": _ann(place_link(CONFLICTS, "conflicts.json"), ["unsafe-path"],
                                        "annotations/tables/conflicts.json is a symlink to"),
    "table-folder-symlink-out": _ann(FOLDER_OUT, ["unsafe-path"] * 2, "annotations/tables/entities.json resolves to"),
    "table-entities-invalid-json": _ann(write(ENTITIES), ["invalid-table"], "cannot read the table: JSONDecodeError"),
    "table-entities-deeply-nested": _ann(write(ENTITIES), ["invalid-table"], "cannot read the table: RecursionError"),
    "table-entities-not-utf8": _ann(write(ENTITIES), ["invalid-table"], "cannot read the table: UnicodeDecodeError"),
    "table-entities-bom": _ann(write(ENTITIES), ["invalid-table"], "Unexpected UTF-8 BOM"),
    "table-entities-row-not-an-object": _ann(write(ENTITIES), ["invalid-table"], "cannot read the table: TypeError"),
    "table-entities-lone-surrogate-name": _ann(write(ENTITIES), ["invalid-table"], "entity 'andrzej-duda' is "),
    "table-entities-html-label": _ann(write(ENTITIES), ["entity-table-label"],
                                      "entity 'x-script' has label '<script>alert(1)</script>'; expected one of"),
    "table-entities-id-a-number": _ann(write(ENTITIES), ["invalid-table"], "entity 5 is "),
    "table-entities-a-folder": _ann(FOLDER, ["unreadable-file"], "cannot read the table: IsADirectoryError"),
    "table-entities-missing": _ann(REMOVE, ["missing-table"], "annotations/tables/entities.json does not exist"),
    "table-clusters-proposition-a-list": _ann(write(CLUSTERS), ["invalid-table"],
                                              "cluster 'nk-troops-in-russia-count' is "),
    "table-clusters-missing": _ann(REMOVE, ["missing-table"], "annotations/tables/claim_clusters.json does not exist"),
    "table-conflicts-id-a-list": _ann(place("annotations", "tables", "conflicts.json"), ["invalid-table"],
                                      "conflict 1 has conflict_id ['X1']; expected strings of Unicode characters"),
    "table-conflicts-unknown-member": _ann(place("annotations", "tables", "conflicts.json"),
                                           ["unknown-conflict-member"], "member 999_nowhere/C1\"><script>alert(1)"
                                                                        "</script> names no claim"),
    "table-conflicts-html-type": _ann(place("annotations", "tables", "conflicts.json"), ["unknown-conflict-value"],
                                      "type is '<script>alert(1)</script>'; expected one of"),
    "table-conflicts-invalid-json": _ann(place("annotations", "tables", "conflicts.json"), ["invalid-table"],
                                         "cannot read the table: JSONDecodeError"),
    "table-conflicts-deeply-nested": _ann(place("annotations", "tables", "conflicts.json"), ["invalid-table"],
                                          "cannot read the table: "),

    # ---- the inventory, schemas/labels.yaml: clean does not read it (exit 0, nothing changes) ----
    "inventory-bom": _ok(prepend(LABELS)),
    "inventory-invalid-yaml": _ann(write(LABELS), ["invalid-inventory"], "schemas/labels.yaml: not valid YAML"),
    "inventory-deeply-nested-yaml": _ann(write(LABELS), ["invalid-inventory"], "not valid YAML: while increasing flow"),
    "inventory-not-utf8": _ann(write(LABELS), ["invalid-inventory"], "schemas/labels.yaml: not UTF-8 at byte 27"),
    "inventory-not-a-mapping": _ann(write(LABELS), ["invalid-inventory"], "the file is list; expected a mapping"),
    "inventory-empty-file": _ann(write(LABELS), ["invalid-inventory"], "the file is NoneType; expected a mapping"),
    "inventory-python-tag": _ann(write(LABELS), ["invalid-inventory"], "could not determine a constructor"),
    "inventory-symlink-out": _ann(link_out(LABELS, "labels.yaml"), ["unsafe-path"],
                                  "the label inventory schemas/labels.yaml resolves to"),
    "inventory-missing": _ann(REMOVE, ["invalid-inventory"], "cannot read the label inventory: FileNotFoundError"),
    "inventory-a-folder": _ann(FOLDER, ["invalid-inventory"], "cannot read the label inventory: IsADirectoryError"),
    "inventory-missing-layer": _ann(patch(LABELS), ["invalid-inventory"],
                                    "layers.timexes is None; expected a non-empty mapping with string keys"),
    "inventory-labels-a-list": _ann(patch(LABELS), ["invalid-inventory"],
                                    "layers.entities.labels is ['PERSON', 'GPE']; expected a non-empty mapping"),
    "inventory-bad-timex-pattern": _ann(patch(LABELS), ["invalid-inventory"],
                                        "timex_value_pattern is '(['; expected a regular expression"),
    "inventory-role-names-no-label": _ann(patch(LABELS), ["invalid-inventory"],
                                          "roles.source_label is 'NOPE'; expected a label of layers.attributions"),
    "inventory-relation-target-unknown": _ann(patch(LABELS), ["invalid-inventory"],
                                              "relations.types.claim_cue.to is ['attributions:NOPE']; expected"),
    "inventory-overlap-unknown": _ann(patch(LABELS), ["invalid-inventory"],
                                      "layers.entities.overlap is 'sometimes'; expected 'allowed' or 'forbidden'"),
    "inventory-id-prefix-not-letters": _ann(patch(LABELS), ["invalid-inventory"],
                                            "layers.entities.id_prefix is '.*'; expected letters"),
    "inventory-value-role-missing": _ann(patch(LABELS), ["invalid-inventory"],
                                         "roles.factuality.denied is None; expected a value of values.factuality"),
    "inventory-html-label": _ok(patch(LABELS)),  # a label is a name: markup in it is the site's to escape

    # ---- cleaning rules ----
    "rules-bom": _ok(prepend(RULES)),
    "rules-crlf": _ok(line_ends(RULES)),
    "rules-not-utf8": _meta(write(RULES), ["raw-file-invalid"], "cleaning_rules.yaml: not UTF-8 at byte 18"),
    # an empty rules file is no rules (pactnews.corpus.cleaning): every text that a rule cleaned is stale, and
    # `clean` rewrites them
    "rules-empty-file": (write(RULES), ["clean-text-stale"] * 8, f"corpus/clean/{BASE_ID}.txt differs", None,
                         f"corpus/clean/{BASE_ID}.txt"),
    "rules-python-tag": _meta(write(RULES), ["raw-file-invalid"], "could not determine a constructor"),
    "rules-a-folder": _meta(FOLDER, ["raw-file-invalid"], "IsADirectoryError"),
    "rules-missing": _meta(REMOVE, ["raw-file-invalid"], "FileNotFoundError"),
    "rules-substitution-not-one-character": _meta(patch(RULES), ["raw-file-invalid"], "substitutions[0]"),
}


OUTPUTS: list[str] = []  # everything the verbs of this suite printed, for the last test's grep for "Traceback"


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """main(argv) in this process: its exit status and everything it printed; an exception fails the test."""
    try:
        code = main(argv)
    except BaseException:  # noqa: BLE001 - what a user would see as a traceback
        OUTPUTS.append(traceback.format_exc())
        pytest.fail(f"pactnews {' '.join(argv[2:])} raised:\n{traceback.format_exc()}")
    out = capsys.readouterr()
    OUTPUTS.append(out.out + out.err)
    return code, out.out + out.err


# the verbs that read the corpus or the annotations through `pactnews validate`'s gate, with their output beside
# the repository (inside the hashed tree: a refused verb must not create it)
GATED = {
    "render": lambda t: ["render", "--out", str(t / "site")],
    "export": lambda t: ["export", "--format", "brat", "--out", str(t / "export")],
    "publish": lambda t: ["publish", "--to", str(t / "release")],
}


def assert_gated_verbs_refuse(root: Path, tmp_path: Path, test_ids: list[str], text: str, capsys) -> None:
    """render, export and publish refuse what validate refuses, with validate's own incidents, one line each."""
    for verb, args in GATED.items():
        code, out = run_cli(["--root", str(root), *args(tmp_path)], capsys)
        lines = out.strip().splitlines()
        assert code == 1, f"pactnews {verb}: {out}"
        assert "Traceback" not in out
        assert text in out, f"pactnews {verb}: {out}"
        for t in set(test_ids):
            shown = [line for line in lines if f"[L{TESTS[t][0]} {t}]" in line]
            assert len(shown) == test_ids.count(t), f"pactnews {verb}: {out}"
        if verb == "publish":
            assert lines[-1] == f"FAILED: {len(test_ids)} problem(s); nothing written", out
        else:
            assert lines[-1].startswith(f"FAILED: {len(test_ids)} incidents"), out
            assert lines[-1].endswith(f"so pactnews {verb} wrote nothing"), out


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


def assert_refused(root: Path, tmp_path: Path, test_ids: list[str], validate_text: str, clean_text: str | None,
                   check_text: str | None, capsys) -> None:
    """validate names exactly `test_ids` (none: it passes); render, export and publish refuse the same; clean and
    clean --check exit 1 naming `clean_text` / `check_text` ("": exit 0; None: not run)."""
    incidents, _ = check_repository(Layout(root))
    assert sorted(i.test_id for i in incidents) == test_ids, "\n".join(map(str, incidents))
    assert not test_ids or any(validate_text in str(i) for i in incidents), "\n".join(map(str, incidents))

    code, out = run_cli(["--root", str(root), "validate"], capsys)
    assert "Traceback" not in out
    if not test_ids:  # accepted: nothing to refuse
        assert code == 0 and out.strip().splitlines()[-1].startswith("PASSED"), out
    else:
        assert code == 1
        assert validate_text in out
        for t in set(test_ids):
            assert f"[L{TESTS[t][0]} {t}]" in out
        assert out.strip().splitlines()[-1].startswith(f"FAILED: {len(test_ids)} incidents")
        assert_gated_verbs_refuse(root, tmp_path, test_ids, validate_text, capsys)

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


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_refused_with_a_message_and_nothing_changes(case, tmp_path, capsys):
    mutate, test_ids, validate_text, clean_text, check_text = CASES[case]
    root, outside = make_repo(tmp_path)
    mutate(root, outside, fixture_data(case, outside))
    before = snapshot(tmp_path)  # the repository copy and the folder beside it

    assert_refused(root, tmp_path, test_ids, validate_text, clean_text, check_text, capsys)
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
    mutate(root, outside, fixture_data(case, outside))
    before = snapshot(tmp_path)
    for verb, text in (("validate", validate_text), ("clean", clean_text)):
        proc = subprocess.run([sys.executable, "-m", "pactnews.cli", "--root", str(root), verb],
                              capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        assert text in proc.stdout
    assert snapshot(tmp_path) == before


# ---- the environment: unreadable files, full and read-only disks, an ASCII terminal, the size limit ----------
# The faults are made by monkeypatching (the suite may run as root, where file modes deny nothing), and only for
# paths inside the test's folder. name -> (validate test ids, text in validate's output, clean text, check text),
# as for CASES; the write faults expect the writing verbs to fail with one line naming the error.

ENV_CASES = {
    "env-annotation-unreadable": (["unreadable-file"], "cannot read the file: PermissionError: Permission denied", "",
                                  ""),
    "env-annotation-io-error": (["unreadable-file"], "cannot read the file: OSError: Input/output error", "", ""),
    "env-table-unreadable": (["unreadable-file"], "cannot read the table: PermissionError: Permission denied", "", ""),
    "env-inventory-unreadable": (["invalid-inventory"], "cannot read the label inventory: PermissionError: Permission "
                                                        "denied", "", ""),
    "env-metadata-unreadable": (["invalid-metadata"], "PermissionError: [Errno 13] Permission denied",
                                "PermissionError: [Errno 13] Permission denied", None),
    "env-raw-unreadable": (["raw-file-invalid"], "PermissionError: [Errno 13] Permission denied",
                           "PermissionError: [Errno 13] Permission denied", None),
    "env-rules-unreadable": (["raw-file-invalid"], "PermissionError: [Errno 13] Permission denied",
                             "PermissionError: [Errno 13] Permission denied", None),
    "env-clean-unreadable": (["unreadable-file"], f"cannot read corpus/clean/{OTHER_ID}.txt: PermissionError", None,
                             "PermissionError: [Errno 13] Permission denied"),
    "env-map-unreadable": (["unreadable-file"], f"cannot read corpus/clean/{OTHER_ID}.map.json: PermissionError", None,
                           "PermissionError: [Errno 13] Permission denied"),
    "env-disk-full": ([], "", "", ""),
    "env-read-only-file-system": ([], "", "", ""),
    "env-output-permission-denied": ([], "", "", ""),
    "env-stdout-ascii": (["unknown-label"], "label is 'PERS\\xd6N\\u2019'; expected one of", "", ""),
    "env-document-over-the-token-view-limit": (["document-too-large"], "the clean text has 28,399 characters; expected "
                                               "at most 20,000 (pactnews.pipeline.ner.MAX_CHARS", "", ""),
}


class _FullFile:
    """A file open for writing on a full disk: it opens, and every write fails with ENOSPC."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), getattr(self._fh, "name", None))

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def install_fault(monkeypatch, tmp_path: Path, root: Path, spec: dict) -> None:
    """The fault a fixture describes: `read: <path>` fails to read that file, `write: "*"` fails every file and
    folder made for writing under tmp_path (ENOSPC: the file opens, its writes fail)."""
    code = getattr(errno, spec["errno"])

    def fail(path):
        raise OSError(code, os.strerror(code), os.fspath(path))

    if "read" in spec:
        target = os.path.abspath(root / spec["read"])
        for name in ("read_bytes", "read_text", "open"):
            real = getattr(Path, name)
            monkeypatch.setattr(Path, name, lambda self, *a, _real=real, **k: fail(self)
                                if os.path.abspath(self) == target else _real(self, *a, **k))
        return
    mine = lambda p: isinstance(p, (str, bytes, os.PathLike)) and os.path.abspath(os.fsdecode(p)).startswith(  # noqa: E731
        str(tmp_path))
    writing = lambda mode: any(c in mode for c in "wax+")  # noqa: E731
    real_open, real_fdopen, real_os_open, real_mkdir = builtins.open, os.fdopen, os.open, os.mkdir
    if code == errno.ENOSPC:
        def full_open(file, mode="r", *a, **k):
            fh = real_open(file, mode, *a, **k)
            return _FullFile(fh) if writing(mode) and mine(file) else fh

        def full_fdopen(fd, mode="r", *a, **k):
            fh = real_fdopen(fd, mode, *a, **k)
            return _FullFile(fh) if writing(mode) else fh
        monkeypatch.setattr(builtins, "open", full_open)
        monkeypatch.setattr(io, "open", full_open)
        monkeypatch.setattr(os, "fdopen", full_fdopen)
        monkeypatch.setattr(os, "sendfile", lambda out_fd, *a, **k: fail(f"<fd {out_fd}>"))  # shutil's copies
        return

    def no_open(file, mode="r", *a, **k):
        return fail(file) if writing(mode) and mine(file) else real_open(file, mode, *a, **k)

    def no_os_open(path, flags, *a, **k):
        made = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        return fail(path) if made and mine(path) else real_os_open(path, flags, *a, **k)
    monkeypatch.setattr(builtins, "open", no_open)
    monkeypatch.setattr(io, "open", no_open)
    monkeypatch.setattr(os, "open", no_os_open)
    monkeypatch.setattr(os, "mkdir", lambda path, *a, **k: fail(path) if mine(path) else real_mkdir(path, *a, **k))


def prepare_environment(case: str, spec: dict, root: Path, monkeypatch, capsys) -> None:
    """What a class needs in the repository before its fault: a label that is not ASCII, a long document."""
    if "label" in spec:
        path = ANN(root)
        path.write_text(path.read_text(encoding="utf-8").replace('"label": "PERSON"', json.dumps(
            {"label": spec["label"]})[1:-1]), encoding="utf-8")
    if "max_chars" in spec:
        import pactnews.pipeline.ner as ner

        monkeypatch.setattr(ner, "MAX_CHARS", spec["max_chars"])
        data = (spec["line"] * spec["times"]).encode("utf-8")
        (root / "corpus" / "raw" / "999_long.txt").write_bytes(data)
        add_record(root, id="999_long", raw_file="raw/999_long.txt", raw_sha256=hashlib.sha256(data).hexdigest())
        code, out = run_cli(["--root", str(root), "clean"], capsys)  # its clean text and map, as `clean` writes them
        assert code == 0, out


def files_snapshot(folder: Path) -> dict[str, str]:
    """Every file (and symlink) under `folder` with its hash: what a refused write must leave as it was."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[path.relative_to(folder).as_posix()] = "link:" + os.readlink(path)
        elif path.is_file():
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("case", sorted(ENV_CASES))
def test_the_environment_fails_with_a_message_and_nothing_changes(case, tmp_path, capsys, monkeypatch):
    test_ids, validate_text, clean_text, check_text = ENV_CASES[case]
    spec = fx(fixture_data(case, tmp_path))
    root, outside = make_repo(tmp_path)
    prepare_environment(case, spec, root, monkeypatch, capsys)
    before, files = snapshot(tmp_path), files_snapshot(tmp_path)
    if spec.get("stdout") == "ascii":  # the terminal's encoding: every verb writes what it cannot show as escapes
        for verb, args in {"validate": lambda t: ["validate"], **GATED}.items():
            if verb == "publish":
                continue  # publish prints its problems with print(): see the report of the gate issue
            stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict", write_through=True)
            monkeypatch.setattr(sys, "stdout", stream)
            code, out = run_cli(["--root", str(root), *args(tmp_path)], capsys)
            monkeypatch.undo()
            printed = stream.buffer.getvalue().decode("ascii")
            OUTPUTS.append(printed)
            assert code == 1 and "Traceback" not in out + printed, out + printed
            assert validate_text in printed, printed
        assert snapshot(tmp_path) == before
        return
    if "write" in spec:
        install_fault(monkeypatch, tmp_path, root, spec)
        for argv in (["validate"], ["clean", "--check"]):  # they write nothing: the fault does not touch them
            code, out = run_cli(["--root", str(root), *argv], capsys)
            assert code == 0, out
        for verb, args in GATED.items():
            # publish without its build check: a valid repository would be built first (the build's own writes
            # are the build's; see the report of the gate issue)
            extra = ["--skip-build-check"] if verb == "publish" else []
            code, out = run_cli(["--root", str(root), *args(tmp_path), *extra], capsys)
            lines = out.strip().splitlines()
            assert code == 1 and "Traceback" not in out, f"pactnews {verb}: {out}"
            assert len(lines) == 1 and os.strerror(getattr(errno, spec["errno"])) in lines[0], f"pactnews {verb}: {out}"
        monkeypatch.undo()
        # no file is written or changed (an empty output folder may stay: the crash safety of outputs is not
        # this suite's)
        assert files_snapshot(tmp_path) == files
        return
    if "read" in spec:
        install_fault(monkeypatch, tmp_path, root, spec)
    assert_refused(root, tmp_path, test_ids, validate_text, clean_text, check_text, capsys)
    monkeypatch.undo()
    assert snapshot(tmp_path) == before, "a verb changed a file in the repository or beside it"


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c][1]))
def test_build_refuses_what_validate_refuses(case, tmp_path, capsys):
    mutate, test_ids, validate_text, _, _ = CASES[case]
    root, outside = make_repo(tmp_path)
    shutil.copytree(ROOT / "docs", root / "docs")  # the templates of the datasheet and the card
    mutate(root, outside, fixture_data(case, outside))
    before = snapshot(tmp_path)
    code, out = run_cli(["--root", str(root), "build"], capsys)
    assert code == 1 and "Traceback" not in out, out
    for t in set(test_ids):
        assert f"[L{TESTS[t][0]} {t}]" in out, out
    assert snapshot(tmp_path) == before


# ---- large documents ------------------------------------------------------------------------------------

def test_a_long_article_is_tokenised_past_spacys_default_limit():
    """spaCy refuses texts over 10**6 characters by default (E088); the token view takes up to MAX_CHARS."""
    from pactnews.pipeline import ner

    text = "North Korean troops were observed in Russia, officials said. " * 20_000  # 1.2 million characters
    tokens = ner.tokenize("999_long", text, [], ner.Stats())
    assert len(text) > 10 ** 6 and tokens.ends[-1] == len(text.rstrip())


def test_a_50_mb_article_is_refused_naming_the_limit_and_the_document():
    from pactnews.pipeline import ner

    text = "a" * 50_000_000
    with pytest.raises(ner.DocumentTooLarge) as info:
        ner.tokenize("999_huge", text, [], ner.Stats())
    assert str(info.value) == ("document 999_huge: [document-too-large] the clean text has 50,000,000 characters; the "
                               f"token view takes at most {ner.MAX_CHARS:,} (pactnews.pipeline.ner.MAX_CHARS, "
                               "spaCy's max_length)")


# ---- generated documents: the card's YAML front matter stays YAML with hostile titles ------------------------

@pytest.mark.parametrize("title", ["a\n---\nb", "x: y\n---\n<script>alert(1)</script>", "---", "'\"#:{}[]&*!|>%@`",
                                   "a\x85---\x85b", "\u2028---\u2029", "a\x00b", "\ufeff---", "...\n---\n# body"],
                         ids=["dashes-line", "yaml-and-html", "only-dashes", "yaml-indicators", "nel-breaks",
                              "unicode-line-separators", "nul", "bom", "document-end"])
def test_the_card_front_matter_stays_valid_yaml_with_a_hostile_title(title):
    from huggingface_hub import DatasetCardData

    from pactnews.outputs import card

    info = {"version": "0.2.0", "language": ["en"], "pretty_name": title, "license": "cc-by-4.0",
            "size_category": "n<1K", "tags": [title]}
    data = card.card_data(info, {}, [], {}, {}, {}).to_dict()
    text = card.front_matter(info, {}, [], {}, {}, {})
    readme = card.render_readme("---\nold: 1\n---\n# The body\n", text)
    front, body = card.split_readme(readme)
    assert body == "# The body\n"
    assert yaml.safe_load(front) == data and data["pretty_name"] == title
    assert isinstance(DatasetCardData(**yaml.safe_load(front)), DatasetCardData)


def test_the_croissant_citation_escapes_braces():
    from pactnews.outputs.croissant import citation

    text = citation({"name": "x", "pretty_name": "A} title {with \\ braces", "version": "1.0.0", "authors": ["B}C"]})
    assert "title = {A\\} title \\{with \\textbackslash{} braces}," in text and "author = {B\\}C}" in text
    # every brace of the fields is escaped: the entry's own braces balance
    bare = text.replace("\\{", "").replace("\\}", "").replace("\\textbackslash{}", "")
    assert bare.count("{") == bare.count("}")


# ---- the count of classes, their fixtures, and the outputs of the whole suite ---------------------------------

def test_at_least_100_hostile_classes_each_with_one_fixture_named_by_its_test_id():
    classes = set(CASES) | set(ENV_CASES)
    assert not set(CASES) & set(ENV_CASES)
    assert len(classes) >= 100, len(classes)
    stems = [p.name.rsplit(".", 1)[0] for p in HOSTILE.iterdir()]
    assert len(stems) == len(set(stems)), "two fixtures for one class"
    assert set(stems) == classes, (sorted(set(stems) - classes), sorted(classes - set(stems)))
    used = {t for _, ids, *_ in CASES.values() for t in ids} | {t for ids, *_ in ENV_CASES.values() for t in ids}
    assert {"invalid-inventory", "unreadable-file", "document-too-large", "unsafe-path"} <= used


def test_no_output_of_the_suite_holds_a_traceback():
    """Runs last: every output the verbs printed in this module (when the whole module ran)."""
    if not OUTPUTS:
        pytest.skip("run with the rest of tests/test_hostile.py: it greps their outputs")
    assert len(OUTPUTS) > 500
    assert not [o for o in OUTPUTS if "Traceback" in o]
