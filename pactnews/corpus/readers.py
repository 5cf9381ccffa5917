"""Reading the corpus: raw files plus their metadata records.

Hostile input is refused with a message, never a traceback: every path read
is resolved (symlinks included) and must lie inside the repository, document
ids must be safe file names, and the records' keys, types and dates are
checked (`source_problems` for what reading a raw file needs, `value_problems`
for the rest, which `pactnews validate` reports).
"""
from __future__ import annotations

import datetime
import json
import os
import re
import reprlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from pactnews.annotations import standoff
from pactnews.repo import SAFE_ID_TEXT, Confinement, Layout, UnsafePath, is_safe_id
from pactnews.files import sha256_bytes


class CorpusError(ValueError):
    """A corpus that cannot be read; `test_id` names the validate test it corresponds to, when one does."""

    def __init__(self, message: str, test_id: str | None = None, *, file: str | None = None, doc: str | None = None,
                 reason: str | None = None):
        super().__init__(message)
        self.test_id = test_id
        self.file, self.doc, self.reason = file, doc, reason  # where, and what without the where


# the keys of a metadata record and the JSON types of their values (None: null allowed)
METADATA_KEYS: dict[str, tuple[type, ...]] = {
    "id": (str,), "raw_file": (str,), "raw_sha256": (str,), "language": (str, type(None)),
    "title": (str, type(None)), "title_basis": (str, type(None)), "source_outlet": (str, type(None)),
    "source_note": (str, type(None)), "url": (str, type(None)), "url_note": (str, type(None)),
    "dct": (dict,), "copyright": (str, type(None)),
}
REQUIRED_KEYS = ("id", "raw_file", "raw_sha256")  # what reading and cleaning a document needs
DCT_KEYS: dict[str, tuple[type, ...]] = {"value": (str,), "basis": (str, type(None)), "evidence": (str, type(None))}
_TYPE_NAMES = {str: "a string", dict: "a mapping", type(None): "null"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a metadata record or its raw file, as `pactnews validate` names it."""

    test_id: str
    message: str
    file: str | None = None
    doc: str | None = None
    found: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        file = None if self.file and self.message.startswith(self.file) else self.file
        where = ": ".join(x for x in (file, f"document {self.doc}" if self.doc else None) if x)
        return f"{where}: {self.message}" if where else self.message


def _rel(layout: Layout, path: Path) -> str:
    return Confinement(layout.root).shown(path)


def _confined(layout: Layout, path: Path, what: str, confinement: Confinement | None = None,
              test_id: str = "unsafe-path") -> Path:
    try:
        return (confinement or Confinement(layout.root)).check(path, what)
    except UnsafePath as exc:
        raise CorpusError(str(exc), test_id) from exc


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present: same result, ~10x faster
    """The safe loader, except that a date-like scalar that is no calendar date (2024-99-99) stays a string."""


def _timestamp(loader, node):
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_yaml(path: Path, what: str = "YAML") -> object:
    """A YAML file's data; invalid, too deeply nested or undecodable YAML is a CorpusError naming the file."""
    try:
        return yaml.load(Path(path).read_bytes().decode("utf-8"), Loader=_Loader)
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 at byte {exc.start}") from exc
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise CorpusError(f"{path}: not valid {what}: {detail}") from exc


def read_dataset_info(layout: Layout) -> dict:
    return load_yaml(_confined(layout, layout.dataset, "corpus/dataset.yaml"))


def read_metadata(layout: Layout) -> list[dict]:
    """The metadata records sorted by id, from corpus/metadata.yaml or corpus/metadata.jsonl."""
    path = layout.metadata
    other = path.with_suffix(".jsonl" if path.suffix == ".yaml" else ".yaml")
    if other.is_file():
        raise CorpusError(f"{path} and {other.name} both exist; a corpus keeps its metadata in one of them")
    confinement = Confinement(layout.root)
    _confined(layout, path, "the metadata file", confinement)
    if path.suffix == ".jsonl":
        records = _read_jsonl(path)
    else:
        data = load_yaml(path, "YAML")
        if not isinstance(data, dict) or not isinstance(data.get("documents"), list):
            raise CorpusError(f"{path}: expected a mapping with a `documents` list, found "
                              f"{type(data.get('documents') if isinstance(data, dict) else data).__name__}")
        records = data["documents"]
        for n, rec in enumerate(records):
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                shown = _short(rec.get("id") if isinstance(rec, dict) else rec)
                raise CorpusError(f"{path}: documents[{n}]: expected a mapping with a string id, found "
                                  f"{shown}")
    for rec in records:
        dct = rec.get("dct")
        if isinstance(dct, dict) and isinstance(dct.get("value"), (datetime.date, int, float)):
            dct["value"] = str(dct["value"])  # YAML reads 2024-10-25 as a date (a list or mapping stays one)
    counts = Counter(r["id"] for r in records)
    dupes = sorted(i for i, n in counts.items() if n > 1)
    if dupes:
        raise CorpusError(f"{layout.metadata}: document ids used twice: {dupes}")
    return sorted(records, key=lambda r: r["id"])


def _read_jsonl(path: Path) -> list[dict]:
    """One JSON object per line (blank lines skipped); a bad line names its number."""
    records = []
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except (ValueError, RecursionError) as exc:
                    raise CorpusError(f"{path}: line {n}: not a JSON object: {exc or type(exc).__name__}") from exc
                if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                    raise CorpusError(f"{path}: line {n}: expected a JSON object with a string id, found {line.strip()[:80]!r}")
                records.append(rec)
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 at byte {exc.start}") from exc
    return records


# ---- record checks ----------------------------------------------------------------------

def source_problems(layout: Layout, rec: dict, confinement: Confinement | None = None) -> list[Problem]:
    """What must hold before a record's raw file is read or its clean files written: a safe id, the keys
    id, raw_file and raw_sha256 as strings, and a raw_file that resolves inside the repository."""
    meta = _rel(layout, layout.metadata)
    doc = rec.get("id")
    out = []
    if not is_safe_id(doc):
        out.append(Problem("unsafe-document-id", f"document id {doc!r} is not a safe file name; expected {SAFE_ID_TEXT}",
                           meta, doc, repr(doc), SAFE_ID_TEXT))
    for key in REQUIRED_KEYS[1:]:
        if key not in rec:
            out.append(Problem("missing-field", f"metadata key {key!r} is missing; expected a string",
                               meta, doc, "missing", "a string"))
        elif not isinstance(rec[key], str):
            out.append(Problem("wrong-type", f"metadata key {key!r} is {_short(rec[key])} "
                               f"({type(rec[key]).__name__}); expected a string", meta, doc,
                               _short(rec[key]), "a string"))
    raw_file = rec.get("raw_file")
    if isinstance(raw_file, str):
        if not raw_file or "\0" in raw_file or not is_unicode(raw_file):
            out.append(Problem("unsafe-path", f"raw_file {raw_file!r} is not a file path; expected a path inside "
                               "the repository", meta, doc, repr(raw_file), "a path inside the repository"))
        elif os.path.isabs(raw_file):
            out.append(Problem("unsafe-path", f"raw_file {raw_file!r} is an absolute path; expected a path "
                               "relative to corpus/, inside the repository", meta, doc, repr(raw_file),
                               "a path relative to corpus/"))
        else:
            confinement = confinement or Confinement(layout.root)
            path = layout.metadata.parent / raw_file
            if not confinement.inside(path):
                out.append(Problem("unsafe-path", f"raw_file {raw_file!r} resolves to {confinement.resolve(path)}, "
                                   f"outside the repository {confinement.root}; expected a path inside the repository "
                                   "(no `..`, absolute path or symlink may lead out)", meta, doc, repr(raw_file),
                                   "a path inside the repository"))
    return out


def value_problems(layout: Layout, rec: dict, timex_re: re.Pattern | None = None) -> list[Problem]:
    """Known keys only, the type of every value (REQUIRED_KEYS' are source_problems'), and a DCT value that
    is a TIMEX3 value (timex_re) naming a real calendar date."""
    meta = _rel(layout, layout.metadata)
    doc = rec.get("id")
    out = []
    unknown = sorted(set(rec) - set(METADATA_KEYS), key=str)
    if unknown:
        out.append(Problem("unknown-field", f"unknown metadata keys {unknown}; expected only {sorted(METADATA_KEYS)}",
                           meta, doc, repr(unknown), repr(sorted(METADATA_KEYS))))
    for key, types in METADATA_KEYS.items():
        if key in REQUIRED_KEYS or key not in rec or key == "dct":
            continue
        out += _type_problem(rec[key], types, key, meta, doc)
    dct = rec.get("dct")
    if dct is not None and not isinstance(dct, dict):
        return out + _type_problem(dct, (dict,), "dct", meta, doc)
    dct = dct or {}
    unknown = sorted(set(dct) - set(DCT_KEYS), key=str)
    if unknown:
        out.append(Problem("unknown-field", f"unknown dct keys {unknown}; expected only {sorted(DCT_KEYS)}",
                           meta, doc, repr(unknown), repr(sorted(DCT_KEYS))))
    for key in ("basis", "evidence"):
        if key in dct:
            out += _type_problem(dct[key], DCT_KEYS[key], f"dct.{key}", meta, doc)
    value = dct.get("value")
    why = dct_value_problem(value, timex_re)
    if why:
        out.append(Problem("malformed-dct-value", f"dct.value is {_short(value)}; expected {why}", meta, doc,
                           _short(value), "a TIMEX3 value"))
    return out


_REPR = reprlib.Repr()  # YAML aliases can nest lists exponentially (a "billion laughs"): never repr them whole
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 80, 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8


def _short(value) -> str:
    text = _REPR.repr(value) if isinstance(value, (list, tuple, dict, set)) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_unicode(value: str) -> bool:
    """A string that UTF-8 can encode: no lone surrogate (JSON's "\\ud800" escapes make them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type_problem(value, types, key: str, meta: str, doc) -> list[Problem]:
    if type(value) in types:
        if isinstance(value, str) and not is_unicode(value):
            expected = "a string of Unicode characters (no lone surrogates)"
            return [Problem("wrong-type", f"metadata key {key!r} is {_short(value)}; expected {expected}",
                            meta, doc, _short(value), expected)]
        return []
    expected = " or ".join(_TYPE_NAMES[t] for t in types)
    return [Problem("wrong-type", f"metadata key {key!r} is {_short(value)} ({type(value).__name__}); expected {expected}",
                    meta, doc, _short(value), expected)]


_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2}))?)?)?)?")


def dct_value_problem(value, timex_re: re.Pattern | None = None) -> str | None:
    """None for a good DCT value; else what was expected. The YYYY, YYYY-MM and YYYY-MM-DD(Thh(:mm)) forms
    must name a real calendar date (and time)."""
    if not isinstance(value, str) or (timex_re is not None and not timex_re.match(value)):
        return "a TIMEX3 value (timex_value_pattern in schemas/labels.yaml)"
    m = _DATE.match(value)
    if m:
        year, month, day, hour, minute = (int(g) if g else None for g in m.groups())
        try:
            datetime.datetime(year, 1 if month is None else month, 1 if day is None else day,
                              hour or 0, minute or 0)
        except ValueError as exc:
            return f"a TIMEX3 value naming a real calendar date ({exc})"
    return None


def raw_path(layout: Layout, rec: dict, confinement: Confinement | None = None) -> Path:
    """The raw file of a record, refused (CorpusError) unless it resolves inside the repository."""
    problems = source_problems(layout, rec, confinement)
    if problems:
        raise CorpusError(str(problems[0]), problems[0].test_id)
    return layout.metadata.parent / rec["raw_file"]


def read_raw(layout: Layout, rec: dict, confinement: Confinement | None = None) -> str:
    """The raw text of a metadata record; its file must lie inside the repository, exist, hash to raw_sha256,
    be UTF-8 and hold text (not only white space)."""
    path = raw_path(layout, rec, confinement)
    if not path.is_file():
        raise CorpusError(f"{layout.metadata}: document {rec['id']}: raw file {path} does not exist", "raw-file-invalid",
                          file=_rel(layout, path), doc=rec["id"])
    data = path.read_bytes()
    found = sha256_bytes(data)
    if found != rec["raw_sha256"]:
        raise CorpusError(
            f"{path}: document {rec['id']}: raw_sha256 expected {rec['raw_sha256']} but the file hashes to {found}; "
            "the raw copies must stay byte-identical to the sources", "raw-file-invalid", file=_rel(layout, path),
            doc=rec["id"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: document {rec['id']}: not UTF-8 at byte {exc.start}", "raw-file-invalid",
                          file=_rel(layout, path), doc=rec["id"]) from exc
    if not text.strip():
        reason = f"the raw file holds no text ({len(data)} bytes); expected the article's text"
        raise CorpusError(f"{path}: document {rec['id']}: {reason}", "empty-raw-file", file=_rel(layout, path),
                          doc=rec["id"], reason=reason)
    return text


def read_documents(layout: Layout) -> list[dict]:
    """Metadata records with `raw_text` added; the raw hash and encoding are checked."""
    confinement = Confinement(layout.root)
    return [{**rec, "raw_text": read_raw(layout, rec, confinement)} for rec in read_metadata(layout)]


def unlisted_raw_files(layout: Layout, records: list[dict]) -> list[Problem]:
    """Files under corpus/raw/ that no record's raw_file names (hidden files aside)."""
    if not layout.raw.is_dir():
        return []
    confinement = Confinement(layout.root)
    listed = {confinement.resolve(layout.metadata.parent / r["raw_file"]) for r in records
              if isinstance(r.get("raw_file"), str) and r["raw_file"] and "\0" not in r["raw_file"]
              and is_unicode(r["raw_file"])}
    out = []
    for folder, dirs, names in os.walk(layout.raw):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(".") or confinement.resolve(path) in listed:
                continue
            rel = _rel(layout, path)
            out.append(Problem("unlisted-raw-file", f"{rel} is named by no metadata record; expected a metadata record "
                               f"in {_rel(layout, layout.metadata)} whose raw_file names it", rel, None,
                               "no metadata record", "a metadata record"))
    return out


def read_clean_texts(layout: Layout) -> dict[str, str]:
    """The committed clean texts (written by `pactnews clean`)."""
    out = {}
    confinement = Confinement(layout.root)
    for path in sorted(layout.clean.glob("*.txt")):
        _confined(layout, path, "clean file", confinement)
        out[path.stem] = path.read_text(encoding="utf-8")
    return out


def read_gold(layout: Layout, document_ids) -> dict[str, dict]:
    """The gold standoff files that exist, of the given documents only (annotations/ also holds reports, so files
    are picked by document id, not by globbing); a malformed file raises standoff.FormatError naming it."""
    out = {}
    for doc_id in document_ids:
        path = layout.annotation_file(doc_id)
        if path.is_file():
            out[doc_id] = standoff.read(path)
    return out


def changelog_has(root: Path, version: str) -> bool:
    """Whether CHANGELOG.md has a heading for this version (`## 0.2.0`, `## [v0.2.0]`, ...)."""
    path = root / "CHANGELOG.md"
    if not path.is_file():
        return False
    pattern = re.compile(rf"^#+\s*\[?v?{re.escape(version)}\]?(\s|$)", re.MULTILINE)
    return bool(pattern.search(path.read_text(encoding="utf-8")))
