"""Reading the corpus: raw files plus their metadata records."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml

from .repo import Layout, sha256_bytes


class CorpusError(ValueError):
    pass


def read_dataset_info(layout: Layout) -> dict:
    return yaml.safe_load(layout.dataset.read_text(encoding="utf-8"))


def read_metadata(layout: Layout) -> list[dict]:
    """The metadata records sorted by id, from corpus/metadata.yaml or corpus/metadata.jsonl."""
    path = layout.metadata
    other = path.with_suffix(".jsonl" if path.suffix == ".yaml" else ".yaml")
    if other.is_file():
        raise CorpusError(f"{path} and {other.name} both exist; a corpus keeps its metadata in one of them")
    if path.suffix == ".jsonl":
        records = _read_jsonl(path)
    else:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same result, ~10x faster
        records = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)["documents"]
    for rec in records:
        dct = rec.get("dct") or {}
        if dct.get("value") is not None:
            dct["value"] = str(dct["value"])  # YAML reads 2024-10-25 as a date
    counts = Counter(r["id"] for r in records)
    dupes = sorted(i for i, n in counts.items() if n > 1)
    if dupes:
        raise CorpusError(f"{layout.metadata}: document ids used twice: {dupes}")
    return sorted(records, key=lambda r: r["id"])


def _read_jsonl(path: Path) -> list[dict]:
    """One JSON object per line (blank lines skipped); a bad line names its number."""
    records = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise CorpusError(f"{path}: line {n}: not a JSON object: {exc}") from exc
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                raise CorpusError(f"{path}: line {n}: expected a JSON object with a string id, found {line.strip()[:80]!r}")
            records.append(rec)
    return records


def read_documents(layout: Layout) -> list[dict]:
    """Metadata records with `raw_text` added; the raw hash and encoding are checked."""
    docs = []
    for rec in read_metadata(layout):
        path = layout.metadata.parent / rec["raw_file"]
        if not path.is_file():
            raise CorpusError(f"{layout.metadata}: document {rec['id']}: raw file {path} does not exist")
        data = path.read_bytes()
        found = sha256_bytes(data)
        if found != rec["raw_sha256"]:
            raise CorpusError(
                f"{path}: document {rec['id']}: raw_sha256 expected {rec['raw_sha256']} but the file hashes to {found}; "
                "the raw copies must stay byte-identical to the sources"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: document {rec['id']}: not UTF-8 at byte {exc.start}") from exc
        docs.append({**rec, "raw_text": text})
    return docs


def read_clean_texts(layout: Layout) -> dict[str, str]:
    """The committed clean texts (written by `pactnews clean`)."""
    out = {}
    for path in sorted(layout.clean.glob("*.txt")):
        out[path.stem] = path.read_text(encoding="utf-8")
    return out
