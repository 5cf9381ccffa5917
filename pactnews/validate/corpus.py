"""The corpus and the annotation files on disk: metadata records, raw files and corpus/clean/ (in batches),
extra clean files, the tables and the annotation files read with their confinement, and one batch validated.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Collection
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.corpus.cleaning import clean_records, load_rules
from pactnews.corpus.readers import CorpusError, read_metadata, source_problems, unlisted_raw_files, value_problems
from pactnews.inventory import Inventory
from pactnews.pipeline import ner
from pactnews.repo import Confinement, Layout, is_safe_id
from pactnews.validate.conflicts import conflict_inputs
from pactnews.validate.documents import validate_documents
from pactnews.validate.incidents import Incident, _rel, _sort_key, incident


_FORMAT_ERROR = re.compile(r"^(?P<path>.*?): \[L(?P<level>\d) (?P<test>[a-z0-9-]+)\] (?P<message>.*)$", re.DOTALL)


def _problem_incident(p) -> Incident:
    """An Incident from a corpus.Problem."""
    return incident(p.test_id, p.message, file=p.file, doc=p.doc, found=p.found, expected=p.expected)


def check_corpus_batch(layout: Layout, inv: Inventory, rules, records: list[dict]) -> tuple[list[Incident], dict[str, str]]:
    """Metadata records, their raw files and their corpus/clean/ files; returns (incidents, clean texts by id).

    Each record: a safe id, its keys, their types, a dct value naming a real
    date, a raw_file inside the repository (corpus.source_problems and
    value_problems). A record whose id or raw_file is unsafe, missing or mistyped
    is read no further. Without rules (they could not be read) the clean files
    are not compared. A raw file that is missing, changed or not UTF-8 is one
    raw-file-invalid incident of its document, and the clean files are then not
    compared; an empty raw file or a clean file resolving outside the
    repository is an incident of its own document.
    """

    meta_file = _rel(layout, layout.metadata)
    out = []
    pattern = inv.timex_value_re
    confinement = Confinement(layout.root)
    readable = []
    for rec in records:
        source = source_problems(layout, rec, confinement)
        out += [_problem_incident(p) for p in source + value_problems(layout, rec, pattern)]
        if source:
            continue
        readable.append(rec)
    errors: list[CorpusError] = []
    try:
        expected = clean_records(layout, rules, readable, errors) if rules is not None else {}
    except (CorpusError, OSError, ValueError) as exc:
        errors.append(exc)
        expected = {}
    raw_invalid = [e for e in errors if getattr(e, "test_id", None) in (None, "raw-file-invalid")]
    for exc in errors:
        if exc not in raw_invalid:  # an empty raw file, a clean file out of the repository: of one document
            out.append(incident(exc.test_id, exc.reason or str(exc), file=exc.file or meta_file, doc=exc.doc))
    for exc in raw_invalid:  # one incident each, its paths relative to the repository
        message = str(exc).replace(f"{layout.root}{os.sep}", "")
        out.append(incident("raw-file-invalid", f"{type(exc).__name__}: {message}; expected raw files byte-identical "
                            "to their raw_sha256", file=meta_file, doc=getattr(exc, "doc", None),
                            found=type(exc).__name__, expected="raw files byte-identical to their raw_sha256"))
    if raw_invalid:
        expected = {}
    on_disk = {}
    for path, data in expected.items():
        try:
            found = on_disk[path] = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            found = None
        except OSError as exc:
            out.append(_unreadable(layout, path, exc, path.name.split(".")[0]))
            continue
        if found != data:
            state = "is missing" if not path.is_file() else "differs from what the raw file and rules give"
            out.append(incident("clean-text-stale", f"{_rel(layout, path)} {state}; expected the output of "
                                "`pactnews clean` (run it)", file=_rel(layout, path), doc=path.name.split(".")[0],
                                found=state, expected="the output of `pactnews clean`"))
    texts = {}
    for rec in records:  # a record whose raw_file is bad still has its clean text, for its annotation file
        if not is_safe_id(rec.get("id")):
            continue
        path = layout.clean / f"{rec['id']}.txt"
        data = on_disk.get(path)
        if data is None and path.is_file() and confinement.inside(path):
            try:
                data = path.read_bytes()
            except OSError as exc:
                if path not in expected:  # else reported above
                    out.append(_unreadable(layout, path, exc, rec["id"]))
                continue
        if data is not None:
            texts[rec["id"]] = data.decode("utf-8", errors="replace")
            out += _too_large(layout, path, rec["id"], texts[rec["id"]])
    return out, texts


def _unreadable(layout: Layout, path: Path, exc: OSError, doc: str | None) -> Incident:
    rel = _rel(layout, path)
    return incident("unreadable-file", f"cannot read {rel}: {type(exc).__name__}: {exc.strerror or exc}; expected a "
                    "readable file", file=rel, doc=doc, found=type(exc).__name__, expected="a readable file")


def _too_large(layout: Layout, path: Path, doc: str, text: str) -> list[Incident]:
    """A clean text longer than the token view takes (spaCy's max_length, set in pactnews.pipeline.ner)."""
    if len(text) <= ner.MAX_CHARS:
        return []
    rel = _rel(layout, path)
    return [incident("document-too-large", f"the clean text has {len(text):,} characters; expected at most "
                     f"{ner.MAX_CHARS:,} (pactnews.pipeline.ner.MAX_CHARS, spaCy's max_length for the token view)",
                     file=rel, doc=doc, found=f"{len(text):,} characters",
                     expected=f"at most {ner.MAX_CHARS:,} characters")]


def extra_clean_files(layout: Layout, ids) -> list[Incident]:
    """Files in corpus/clean/ that `pactnews clean` does not write for these document ids, and files in
    corpus/raw/ that no metadata record names (unlisted-raw-file)."""
    out = []
    try:
        out += [_problem_incident(p) for p in unlisted_raw_files(layout, read_metadata(layout))]
    except (CorpusError, OSError):  # unreadable metadata is reported as invalid-metadata
        pass
    if not layout.clean.is_dir():
        return out
    ids = set(ids)
    try:
        names = sorted(e.name for e in os.scandir(layout.clean) if e.is_file())
    except OSError as exc:
        return out + [_unreadable(layout, layout.clean, exc, None)]
    for name in names:
        stem = name[:-4] if name.endswith(".txt") else name[:-9] if name.endswith(".map.json") else None
        if stem not in ids:
            path = layout.clean / name
            out.append(incident("clean-text-stale", f"{_rel(layout, path)} is an extra file; expected only "
                                "files `pactnews clean` writes (no metadata record names it)",
                                file=_rel(layout, path), found="an extra file",
                                expected="only files `pactnews clean` writes"))
    return out


def _read_table(reader, path: Path, layout: Layout, needed: bool,
                confinement=None) -> tuple[dict | None, list[Incident]]:
    """The table, or None with an incident when it is needed and missing or unreadable, or when it resolves
    outside `confinement` (default: the repository; such a table is not opened)."""
    rel = _rel(layout, path)
    confinement = confinement or Confinement(layout.root)
    if os.path.lexists(path) and not confinement.inside(path):
        how = "is a symlink to" if os.path.islink(path) else "resolves to"
        return None, [incident("unsafe-path", f"{rel} {how} {confinement.resolve(path)}, outside the repository "
                               f"{confinement.root}; expected a table inside the repository", file=rel,
                               found="a path out of the repository", expected="a table inside the repository")]
    if not os.path.lexists(path) or (os.path.islink(path) and not path.exists()):
        if needed:
            return None, [incident("missing-table", f"{rel} does not exist; expected a table beside the annotation files",
                                 file=rel, found="does not exist", expected="a table beside the annotation files")]
        return {}, []
    try:
        return reader(path), []
    except OSError as exc:
        return None, [incident("unreadable-file", f"cannot read the table: {type(exc).__name__}: {exc.strerror or exc}; "
                               "expected a readable table", file=rel, found=type(exc).__name__,
                               expected="a readable file")]
    except Exception as exc:  # noqa: BLE001 - any unreadable table is one incident
        detail = " ".join(str(exc).split())[:300] or "nested deeper than the reader allows"
        return None, [incident("invalid-table", f"cannot read the table: {type(exc).__name__}: {detail}; expected a "
                             "table as written by pactnews.annotations.tables", file=rel, found=type(exc).__name__,
                             expected="a table as written by pactnews.annotations.tables")]


def is_annotation_file(path: Path, ids: Collection[str] | None, confinement=None) -> bool:
    """A document file: named after a corpus document, or a JSON object that declares the standoff format.

    Other JSON files beside them (reports such as agreement.json) are not annotations. A file outside
    `confinement` or one that cannot be read is not opened here: it counts as an annotation file, so that
    reading it is refused with an incident.
    """
    if path.stem in (ids or ()):
        return True
    if confinement is not None and not confinement.inside(path):
        return True
    try:
        obj = json.loads(path.read_bytes())
    except OSError:
        return True
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(obj, dict) and (obj.get("format") == standoff.FORMAT or {"document_id", "text_sha256"} <= set(obj))


def confinement_of(layout: Layout, folder: Path):
    """Where the files of an annotation folder must resolve: the repository, or the folder itself when
    --annotations names one outside the repository."""
    inside = Path(os.path.abspath(folder)).is_relative_to(os.path.abspath(layout.root))
    return Confinement(layout.root) if inside or Confinement(layout.root).inside(folder) else Confinement(folder)


def _read_annotation(layout: Layout, path: Path, confinement) -> tuple[dict | None, Incident | None]:
    """One annotation file as standoff.loads reads it, or the incident that stops reading it: a path out of
    the repository (not opened at all), a file that cannot be read, or a malformed file."""
    rel = _rel(layout, path)
    where = dict(file=rel, doc=path.stem)
    if not confinement.inside(path):
        how = "is a symlink to" if os.path.islink(path) else "resolves to"
        return None, incident("unsafe-path", f"{rel} {how} {confinement.resolve(path)}, outside the repository "
                              f"{confinement.root}; expected a file inside the repository", **where,
                              found="a path out of the repository", expected="a file inside the repository")
    try:
        return standoff.loads(confinement.read_bytes(path, "annotation file"), rel), None
    except OSError as exc:
        return None, incident("unreadable-file", f"cannot read the file: {type(exc).__name__}: {exc.strerror or exc}; "
                              "expected a readable annotation file", **where, found=type(exc).__name__,
                              expected="a readable file")
    except RecursionError:
        return None, incident("invalid-json", "the JSON is nested deeper than the reader allows; expected an "
                              "annotation file (a JSON object of lists of records)", **where,
                              found="nesting too deep", expected="a JSON object of lists of records")
    except standoff.FormatError as exc:
        m = _FORMAT_ERROR.match(str(exc))
        test, message = (m["test"], m["message"]) if m else ("invalid-json", str(exc))
        return None, incident(test, message, **where, level=int(m["level"]) if m else 1)


def _annotation_incidents(layout: Layout, paths: list[Path], texts: dict[str, str] | None, entities, clusters,
                          inv: Inventory, table_files: tuple[str, str],
                          claims_out: list | None = None, confinement=None) -> tuple[list[Incident], Counter]:
    """Read and validate annotation files (all of one batch); returns (incidents, counts of documents, spans, relations).

    `claims_out`, when given, receives the conflict_inputs of every document without an incident. A file
    that resolves outside `confinement` (default: the repository) is refused unread.
    """
    confinement = confinement or Confinement(layout.root)
    out, docs, files = [], {}, {}
    for path in paths:
        doc, problem = _read_annotation(layout, path, confinement)
        if problem is not None:
            out.append(problem)
        else:
            docs[path.stem] = doc
            files[path.stem] = _rel(layout, path)
    if docs:
        out += validate_documents(docs, texts, entities, clusters, inv, files, table_files=table_files)
    if claims_out is not None:
        bad = {i.document_id for i in out}
        for k in sorted(docs):
            if k not in bad:
                claims_out += conflict_inputs(docs[k], entities, inv)
    counts = Counter(documents=len(paths),
                     spans=sum(len(d.get(layer, [])) for d in docs.values() for layer in standoff.SPAN_LAYERS),
                     relations=sum(len(d.get("relations", [])) for d in docs.values()))
    return out, counts


def validate_batch(layout: Layout, inv: Inventory, entities: dict | None, clusters: dict | None, records: list[dict],
                   *, rules=None, annotations: Path | None = None) -> list[Incident]:
    """Every incident of a batch of metadata records and of the annotation files named after them; sorted.

    What `pactnews validate` runs per batch: dct values, raw files, corpus/clean/
    and the annotation files (of `annotations`, default annotations/) against
    the tables. The checks of the tables themselves, of extra files in
    corpus/clean/ and of files named after no document are not per batch.
    """
    folder = Path(annotations) if annotations else layout.annotations
    rules = load_rules(layout.cleaning_rules) if rules is None else rules
    out, texts = check_corpus_batch(layout, inv, rules, records)
    paths = [p for p in (folder / f"{r['id']}.json" for r in records) if os.path.lexists(p)]
    more, _ = _annotation_incidents(layout, paths, texts, entities, clusters, inv, _table_files(layout, folder),
                                    confinement=confinement_of(layout, folder))
    return sorted(out + more, key=_sort_key)


def _table_files(layout: Layout, folder: Path) -> tuple[str, str]:
    return _rel(layout, folder / "tables" / "entities.json"), _rel(layout, folder / "tables" / "claim_clusters.json")
