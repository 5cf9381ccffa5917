"""A corpus in shards: JSONL or Parquet files of one record per document, as `pactnews build --input` reads them.

A record is the document's metadata record (the keys of corpus/metadata.yaml; raw_file and
raw_sha256 are optional here), its raw text under `text`, and its standoff annotations under
`annotation` (a JSON string as pactnews.annotations.standoff.dumps writes it; absent or null
for a document without annotations).
"""
from __future__ import annotations

import json
from pathlib import Path

from pactnews.annotations import standoff

ROW_GROUP = 500  # records per Parquet row group: a reader holds one group of raw texts and annotations at a time


def shard_record(record: dict, raw: str, annotation: dict | None = None) -> dict:
    """A document as one shard record."""
    out = {k: v for k, v in record.items()}
    out["text"] = raw
    out["annotation"] = standoff.dumps(annotation) if annotation is not None else None
    return out


def write_shard(path: Path, records: list[dict]) -> None:
    """One shard file: JSONL (one object per line, keys sorted) or Parquet (zstd), by the file's suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path, compression="zstd", row_group_size=ROW_GROUP)
    else:
        with open(path, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
