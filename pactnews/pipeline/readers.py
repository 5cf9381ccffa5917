"""Reader steps: the corpus as a stream of datatrove Documents, cut into shards.

Two inputs give the same Documents:

- the per-document files of a curated corpus (corpus/metadata.yaml or .jsonl, corpus/raw/,
  corpus/clean/, annotations/<id>.json): the records, sorted by id, are cut into shards of
  DOCS_PER_SHARD documents;
- a folder of sharded JSONL (`*.jsonl`, `*.jsonl.gz`) or Parquet (`*.parquet`) files, one
  record per document: `id`, `text` (the raw text), the metadata keys of
  corpus/metadata.yaml (title, dct, ...; raw_sha256 is checked when present) and optionally
  `annotation`, the standoff document (a JSON string or object). Each file is one shard.

A shard is the unit of work and of output: shard k of n is read by task k mod T and
written as data/<config>/test-0000k-of-0000n.parquet, so the output does not depend on the
number of tasks. A Document carries the text (raw until the clean step) and, in its
metadata, the record, its shard and position, the parsed annotation, the hashes of the
files read and the problems found (lines as the CLI prints them).
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep

from pactnews.annotations import standoff
from pactnews.corpus.readers import CorpusError, read_metadata, value_problems
from pactnews.repo import SAFE_ID_TEXT, Layout, is_safe_id
from pactnews.files import sha256_bytes

SHARD_SUFFIXES = {".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".parquet": "parquet"}
RECORD_KEYS = ("text", "annotation")  # what a shard record holds besides the metadata keys


@dataclass(frozen=True)
class Input:
    """The documents of a build: per-document files (files == ()) or shard files, and their shard count."""

    root: Path
    folder: Path | None = None  # the shard folder; None: the per-document files
    files: tuple[str, ...] = ()  # shard files relative to `folder`, sorted
    num_records: int = 0  # per-document files: how many metadata records
    docs_per_shard: int = 50_000

    @property
    def kind(self) -> str:
        return "files" if self.folder is None else "shards"

    @property
    def num_shards(self) -> int:
        if self.folder is None:
            return max(1, math.ceil(self.num_records / self.docs_per_shard))
        return len(self.files)

    def shown(self, name: str) -> str:
        """A shard file as the manifest and the messages name it: relative to the repository when inside it."""
        path = Path(os.path.abspath(self.folder / name))
        root = Path(os.path.abspath(self.root))
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else f"{self.folder.name}/{name}"

    def at_most(self, limit: int) -> int:
        """The number of documents, counted only up to limit + 1 (enough to know whether it exceeds `limit`)."""
        if self.folder is None:
            return self.num_records
        n = 0
        for name in self.files:
            path = self.folder / name
            if name.endswith(".parquet"):
                import pyarrow.parquet as pq

                n += pq.ParquetFile(path).metadata.num_rows
            else:
                with _open_text(path) as fh:
                    for line in fh:
                        n += bool(line.strip())
                        if n > limit:
                            break
            if n > limit:
                break
        return n


def open_input(root: Path, folder: Path | None = None, docs_per_shard: int = 50_000) -> Input:
    """The per-document files of the repository (folder None), or the shard files of `folder`.

    Raises CorpusError for unreadable metadata, or a folder without shard files or with both kinds.
    """
    root = Path(root)
    if folder is None:
        return Input(root, None, (), len(read_metadata(Layout(root))), docs_per_shard)
    folder = Path(folder) if Path(folder).is_absolute() else root / folder
    if not folder.is_dir():
        raise CorpusError(f"{folder}: no such folder; expected a folder of *.jsonl, *.jsonl.gz or *.parquet shards")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and not p.name.startswith(".") and _kind(p.name))
    kinds = {_kind(f) for f in files}
    if not files:
        raise CorpusError(f"{folder}: no *.jsonl, *.jsonl.gz or *.parquet files; expected the corpus in shards")
    if len(kinds) > 1:
        raise CorpusError(f"{folder}: both JSONL and Parquet shards; expected one format")
    return Input(root, folder, tuple(files), 0, docs_per_shard)


def _kind(name: str) -> str | None:
    return next((k for suffix, k in SHARD_SUFFIXES.items() if name.endswith(suffix)), None)


def _file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            sha.update(chunk)
    return sha.hexdigest()


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.name.endswith(".gz") else open(path, encoding="utf-8")


def new_document(doc_id: str, text: str, record: dict, shard: int, position: int, where: str) -> Document:
    """A Document as every step expects it: `where` names its annotations in messages; `readable` is False
    when the reader found it unusable."""
    return Document(text=text, id=doc_id, metadata={
        "record": record, "shard": shard, "position": position, "where": where, "annotation": None,
        "committed_clean": None,
        "sources": {}, "problems": [], "warnings": [], "readable": True,
    })


def _unreadable(doc: Document, line: str) -> Document:
    doc.metadata["problems"].append(line)
    doc.metadata["readable"] = False
    return doc


class CorpusFiles(PipelineStep):
    """Reader: the per-document files; the records sorted by id, shard k holding records [k*D, (k+1)*D)."""

    name = "corpus files"
    type = "📖 - READER"

    def __init__(self, root: Path, docs_per_shard: int):
        super().__init__()
        self.root, self.docs_per_shard = Path(root), docs_per_shard

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        layout = Layout(self.root)
        records = read_metadata(layout)
        n = max(1, math.ceil(len(records) / self.docs_per_shard))
        for k in range(rank, n, world_size):
            for i, rec in enumerate(records[k * self.docs_per_shard:(k + 1) * self.docs_per_shard]):
                with self.track_time():
                    doc = self.read(layout, rec, k, i)
                self.stat_update("documents")
                yield doc

    @staticmethod
    def read(layout: Layout, rec: dict, shard: int, position: int) -> Document:
        """Raw text (checked against raw_sha256), committed clean text and annotation file of one record."""
        doc_id = rec["id"]
        raw_path = layout.metadata.parent / rec["raw_file"]
        raw_rel = _rel(layout, raw_path)
        doc = new_document(doc_id, "", rec, shard, position, f"annotations/{doc_id}.json")
        meta = doc.metadata
        if not raw_path.is_file():
            return _unreadable(doc, f"[File {raw_rel} Doc {doc_id}]: [build-missing-raw] the raw file does not exist")
        raw_bytes = raw_path.read_bytes()
        raw_sha = sha256_bytes(raw_bytes)
        meta["sources"][raw_rel] = raw_sha
        if raw_sha != rec["raw_sha256"]:
            return _unreadable(doc, f"[File {raw_rel} Doc {doc_id}]: [build-raw-hash] raw_sha256 expected "
                                    f"{rec['raw_sha256']} but the file hashes to {raw_sha}")
        try:
            doc.text = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _unreadable(doc, f"[File {raw_rel} Doc {doc_id}]: [build-not-utf8] byte {exc.start} is not UTF-8")
        for suffix in (".txt", ".map.json"):
            path = layout.clean / f"{doc_id}{suffix}"
            if path.is_file():
                data = path.read_bytes()
                meta["sources"][_rel(layout, path)] = sha256_bytes(data)
                if suffix == ".txt":
                    meta["committed_clean"] = data.decode("utf-8", errors="replace")
        ann_path = layout.annotation_file(doc_id)
        if ann_path.is_file():
            data = ann_path.read_bytes()
            meta["sources"][_rel(layout, ann_path)] = sha256_bytes(data)
            try:
                meta["annotation"] = standoff.loads(data, _rel(layout, ann_path))
            except standoff.FormatError as exc:
                return _unreadable(doc, str(exc))
        return doc


def _rel(layout: Layout, path: Path) -> str:
    return Path(path).relative_to(layout.root).as_posix()


class CorpusShards(PipelineStep):
    """Reader: JSONL or Parquet shard files, file k being shard k; task r reads files r, r+T, ...

    Each file is hashed as it is read (its sha256 goes into MANIFEST.json's sources). A
    line or row that is not a usable record is a problem of the build, never skipped.
    """

    name = "corpus shards"
    type = "📖 - READER"

    def __init__(self, source: Input, batch_rows: int = 1_000):
        super().__init__()
        self.source, self.batch_rows = source, batch_rows

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        files = self.source.files
        for k in range(rank, len(files), world_size):
            self.stat_update("input_files")
            name = files[k]
            read = self._parquet if name.endswith(".parquet") else self._jsonl
            for doc in read(k, name):
                self.stat_update("documents")
                yield doc

    def _jsonl(self, k: int, name: str):
        import orjson

        shown = self.source.shown(name)
        sources = {shown: _file_sha256(self.source.folder / name)}
        position = 0
        with _open_text(self.source.folder / name) as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                with self.track_time():
                    try:
                        obj = orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        obj = exc
                    doc = self.document(obj, f"{shown}:{n}", k, position)
                if sources:  # the shard file's hash rides with its first document
                    doc.metadata["sources"].update(sources)
                    sources = None
                position += 1
                yield doc

    def _parquet(self, k: int, name: str):
        import pyarrow.parquet as pq

        shown = self.source.shown(name)
        sources = {shown: _file_sha256(self.source.folder / name)}
        position = 0
        for batch in pq.ParquetFile(self.source.folder / name).iter_batches(batch_size=self.batch_rows):
            for obj in batch.to_pylist():
                with self.track_time():
                    doc = self.document(obj, f"{shown}#{position}", k, position)
                if sources:
                    doc.metadata["sources"].update(sources)
                    sources = None
                position += 1
                yield doc

    @staticmethod
    def document(obj, where: str, shard: int, position: int) -> Document:
        """One shard record as a Document; what is wrong with it is a problem, named by file and line or row."""
        if not isinstance(obj, dict):
            found = f"not JSON ({obj})" if isinstance(obj, Exception) else type(obj).__name__
            doc = new_document(where, "", {"id": None}, shard, position, where)
            return _unreadable(doc, f"[File {where}]: [build-bad-record] expected a JSON object with id and text, "
                                    f"found {found}")
        doc_id = obj.get("id")
        text = obj.get("text")
        record = {k: v for k, v in obj.items() if k not in RECORD_KEYS}
        if record.get("raw_file") is None:  # the text is in the shard: its place there stands for a raw file
            record["raw_file"] = where
        doc = new_document(doc_id if isinstance(doc_id, str) else where, text if isinstance(text, str) else "",
                           record, shard, position, where)
        head = f"[File {where} Doc {doc_id}]"
        if not is_safe_id(doc_id):
            return _unreadable(doc, f"{head}: [build-bad-record] id {doc_id!r} is not a document id; expected "
                                    f"{SAFE_ID_TEXT}")
        if not isinstance(text, str) or not text.strip():
            return _unreadable(doc, f"{head}: [build-bad-record] text is {type(text).__name__ if not isinstance(text, str) else 'empty'}; "
                                    "expected the raw text of the article")
        sha = sha256_bytes(text.encode("utf-8"))
        given = record.get("raw_sha256")
        if given is not None and given != sha:
            return _unreadable(doc, f"{head}: [build-raw-hash] raw_sha256 expected {given} but the text hashes to {sha}")
        record["raw_sha256"] = sha
        dct = record.get("dct")
        if isinstance(dct, dict) and dct.get("value") is not None:
            record["dct"] = {**dct, "value": str(dct["value"])}
        for p in value_problems(Layout(Path(".")), record):
            doc.metadata["problems"].append(f"{head}: [build-{p.test_id}] {p.message}")
        if doc.metadata["problems"]:
            doc.metadata["readable"] = False
            return doc
        ann = obj.get("annotation")
        if ann is not None:
            import orjson

            data = ann.encode("utf-8") if isinstance(ann, str) else orjson.dumps(ann) if isinstance(ann, dict) else b"0"
            try:
                doc.metadata["annotation"] = standoff.loads(data, where)
            except standoff.FormatError as exc:
                return _unreadable(doc, str(exc))
        return doc
