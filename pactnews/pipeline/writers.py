"""Writer steps of the first pipeline: the per-document configs, the partitions, the shard summaries.

Every file a task writes is named from its shard (or partition) key, never from the task or
the order in which tasks finish, so the output is the same for any number of tasks.

- ConfigWriter: data/<config>/test-0000k-of-0000n.parquet of documents, entities, timexes, claims
  and ner, one row group per batch;
- PartitionWriter: the claims, cut into P partitions by the hash of their cluster id (each cluster
  in exactly one), and the document ids by the hash of the id, for the second pipeline;
- ReportWriter: per shard, what the build merges: problems, source hashes, the datasheet's tally.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep

from pactnews.outputs.datasheet import Tally
from pactnews.pipeline import features as feats
from pactnews.pipeline.batches import batched
from pactnews.pipeline.context import Context
from pactnews.pipeline.jobs import write_pickle
from pactnews.pipeline.ner import ner_rows
from pactnews.pipeline.steps import shard_of, usable
from pactnews.files import atomic_write_bytes, sha256_file
from pactnews.validate.validator import conflict_inputs

# Pinned writer options: a rebuild gives byte-identical files (with the same pyarrow).
PARQUET_OPTIONS = dict(
    version="2.6", use_dictionary=True, compression="zstd", compression_level=6,
    write_statistics=True, data_page_version="1.0", use_compliant_nested_type=True,
    store_schema=True, write_page_index=False, write_page_checksum=False,
)
DOCUMENT_CONFIGS = ("documents", "entities", "timexes", "claims", "ner")  # written per shard by ConfigWriter
EXPLODED = ("entities", "timexes", "claims")
CLUSTER_INPUT = ("document_id", "id", "start", "end", "text", "source", "source_type", "cue_text",
                 "factuality", "modality", "time_value", "cluster_id", "quantity_value", "quantity_high",
                 "quantity_approximation", "quantity_unit")
PARTITION_ROWS = 65_536  # rows a task buffers (all partitions together) before writing them
# The scratch partitions' buffers: LZ4 frames, in the task's own thread. A flush writes a few hundred rows to each
# of up to hundreds of partitions; zstd cost 2.8x the CPU of LZ4 to write such batches and 4.6x to read them
# (python -m bench.partitions_memory --codec zstd|lz4), and Arrow's default thread pool put more threads on
# the cores than datatrove's one task per core (the 1M build at 6618c45, bench/RESULTS.md).
IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4", use_threads=False)
IPC_READ = pa.ipc.IpcReadOptions(use_threads=False)


def shard_name(k: int, n: int) -> str:
    return f"{feats.SPLIT}-{k:05d}-of-{n:05d}.parquet"


def partition_of(key: str | None, n: int) -> int:
    """A stable partition of a key (Python's hash() differs between processes); None goes to partition 0."""
    if key is None or n == 1:
        return 0
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") % n


def explode(docs: pa.Table, layer: str, schema: pa.Schema) -> pa.Table:
    """A flat table (one row per span, document_id first) from the nested column of `documents`."""
    col = docs.column(layer).combine_chunks()
    parents = pc.list_parent_indices(col)
    structs = pc.list_flatten(col)
    doc_ids = pc.take(docs.column("id").combine_chunks(), parents)
    arrays = [doc_ids] + [structs.field(name) for name in schema.names[1:]]
    return pa.Table.from_arrays(arrays, schema=schema)


def uncompressed_size(path: Path) -> int:
    """The uncompressed data size of a Parquet file (the card's num_bytes); read from its footer."""
    meta = pq.ParquetFile(path).metadata
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def file_summary(path: Path, data_dir: Path) -> dict:
    """What the manifest and the card need of a written file: rows, uncompressed bytes, sha256."""
    return {"file": path.relative_to(data_dir.parent).as_posix(), "rows": pq.ParquetFile(path).metadata.num_rows,
            "nbytes": uncompressed_size(path), "sha256": sha256_file(path)}


def release_unused() -> None:
    """Hand Arrow's freed memory back to the system at the end of a shard or a partition. Arrow's allocator
    (jemalloc) keeps freed pages for reuse, and over many partitions a claim-clusters task's peak ratcheted up:
    `python -m bench.cluster_memory` (200 partitions, 2 tasks) peaked at 324 MB without this, 306 MB with it; a
    100k build's documents task at 895 MB without, 812 MB with (bench/RESULTS.md)."""
    pa.default_memory_pool().release_unused()


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), for the benchmark."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ShardFiles:
    """The Parquet files of one shard, one per per-document config; one row group per written batch."""

    def __init__(self, data_dir: Path, schemas: dict, k: int, n: int):
        self.data_dir, self.schemas, self.k = data_dir, schemas, k
        self.paths, self.writers = {}, {}
        for config in DOCUMENT_CONFIGS:
            folder = data_dir / config
            folder.mkdir(parents=True, exist_ok=True)
            self.paths[config] = folder / shard_name(k, n)
            self.writers[config] = pq.ParquetWriter(self.paths[config], schemas[config], **PARQUET_OPTIONS)

    def write(self, tables: dict[str, pa.Table]) -> None:
        for config, table in tables.items():
            if table.num_rows:
                table = table.replace_schema_metadata(self.schemas[config].metadata)
                self.writers[config].write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self) -> dict:
        for w in self.writers.values():
            w.close()
        return {c: file_summary(p, self.data_dir) for c, p in self.paths.items()}


class ConfigWriter(PipelineStep):
    """Writer: the per-document configs of each shard, from the `documents` rows and token views of a batch.

    entities, timexes and claims are the exploded layers of the batch's `documents` table; each
    shard's files are summarised (rows, bytes, sha256) in <work>/outputs/<shard>.json.
    """

    name = "configs"
    type = "💽 - WRITER"

    def __init__(self, ctx: Context, data_dir: Path, work: Path, num_shards: int, batch_size: int):
        super().__init__()
        self.ctx, self.data_dir, self.work = ctx, Path(data_dir), Path(work)
        self.num_shards, self.batch_size = num_shards, batch_size

    def tables(self, batch: list) -> dict[str, pa.Table]:
        schemas = self.ctx.schemas
        docs = pa.Table.from_pylist([d.metadata["row"] for d in batch], schema=schemas["documents"])
        out = {"documents": docs}
        for layer in EXPLODED:
            out[layer] = explode(docs, layer, schemas[layer])
        out["ner"] = ner_rows([(d.id, d.metadata["tokens"]) for d in batch], schemas["ner"])
        return out

    def run(self, data, rank: int = 0, world_size: int = 1):
        shard: ShardFiles | None = None
        done = set()
        for batch in batched(data, self.batch_size, key=shard_of):
            k = shard_of(batch[0])
            if shard is None or shard.k != k:
                self._finish(shard)
                shard = ShardFiles(self.data_dir, self.ctx.schemas, k, self.num_shards)
                done.add(k)
            if all(usable(d) and "row" in d.metadata and "tokens" in d.metadata for d in batch):
                with self.track_time("batch"):
                    shard.write(self.tables(batch))
            for d in batch:  # written: what the next steps do not need leaves the document
                d.metadata.pop("tokens", None)
            yield from batch
        self._finish(shard)
        for k in range(rank, self.num_shards, world_size):  # every shard exists, also one without documents
            if k not in done:
                self._finish(ShardFiles(self.data_dir, self.ctx.schemas, k, self.num_shards))

    def _finish(self, shard: ShardFiles | None) -> None:
        if shard is not None:
            summary = shard.close()
            for config, s in summary.items():
                self.stat_update(f"rows_{config}", value=s["rows"])
            atomic_write_bytes(self.work / "outputs" / f"{shard.k:05d}.json",
                               json.dumps(summary, sort_keys=True).encode("utf-8"))


def partition_schema(ctx: Context) -> pa.Schema:
    """The claims a cluster row needs, with the document's DCT and (with a conflicts table) the claim as the
    conflict detectors read it (JSON)."""
    claims = ctx.schemas["claims"]
    return pa.schema([claims.field(c) for c in CLUSTER_INPUT]
                     + [pa.field("dct", pa.string()), pa.field("conflict_input", pa.string())])


ID_SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("shard", pa.int64()), pa.field("position", pa.int64())])


class Partitions:
    """Rows cut by partition, written to <folder>/<partition>/task-<rank>.arrows (scratch for the second pipeline).

    The second pipeline sorts what it reads, so which task wrote a row does not change the output. Rows are
    buffered up to PARTITION_ROWS in all, then every partition's buffer is appended to its file as a record
    batch. The files are Arrow IPC streams (LZ4-compressed buffers), not Parquet: a Parquet writer keeps the
    footer metadata of every row group it wrote until it closes (about 18 KB a row group at 18 columns), and a
    task writes a row group to most of its partitions at every flush, so its memory grew with the corpus
    (bench/RESULTS.md, 1M documents). A stream writer keeps nothing per batch.
    """

    SUFFIX = ".arrows"

    def __init__(self, folder: Path, schema: pa.Schema, rank: int, budget: int = PARTITION_ROWS,
                 options: pa.ipc.IpcWriteOptions = IPC_OPTIONS):
        self.folder, self.schema, self.rank, self.budget, self.options = folder, schema, rank, budget, options
        self.buffers: dict[int, list[pa.Table]] = {}
        self.buffered = 0
        self.writers: dict[int, tuple] = {}

    def add(self, table: pa.Table, parts: list[int]) -> None:
        if not table.num_rows:
            return
        if len(set(parts)) == 1:
            self.buffers.setdefault(parts[0], []).append(table)
        else:
            index = pa.array(parts, pa.int32())
            for p in sorted(set(parts)):
                self.buffers.setdefault(p, []).append(table.filter(pc.equal(index, p)))
        self.buffered += table.num_rows
        if self.buffered >= self.budget:
            self.flush()

    def flush(self) -> None:
        for p, tables in sorted(self.buffers.items()):
            if p not in self.writers:
                path = self.folder / f"{p:05d}" / f"task-{self.rank:05d}{self.SUFFIX}"
                path.parent.mkdir(parents=True, exist_ok=True)
                sink = pa.OSFile(str(path), "wb")
                self.writers[p] = (sink, pa.ipc.new_stream(sink, self.schema, options=self.options))
            self.writers[p][1].write_table(pa.concat_tables(tables))
        self.buffers, self.buffered = {}, 0

    def close(self) -> None:
        self.flush()
        for sink, writer in self.writers.values():
            writer.close()
            sink.close()


def read_partition(path: Path) -> pa.Table:
    """A scratch file of Partitions, whole."""
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_stream(source, options=IPC_READ).read_all()


def partition_batches(path: Path):
    """A scratch file of Partitions, one record batch (one flush) at a time, as tables."""
    with pa.OSFile(str(path), "rb") as source:
        for batch in pa.ipc.open_stream(source, options=IPC_READ):
            yield pa.Table.from_batches([batch])


class PartitionWriter(PipelineStep):
    """Writer: each claim into the partition of its cluster id and each document id into the partition of
    the id (<work>/claims/ and <work>/ids/), so that the second pipeline sees every cluster, and every
    use of an id, in exactly one partition."""

    name = "partitions"
    type = "💽 - WRITER"

    def __init__(self, ctx: Context, work: Path, num_partitions: int, batch_size: int):
        super().__init__()
        self.ctx, self.work = ctx, Path(work)
        self.num_partitions, self.batch_size = num_partitions, batch_size

    def run(self, data, rank: int = 0, world_size: int = 1):
        schema = partition_schema(self.ctx)
        with_conflicts = self.ctx.conflict_table is not None
        n = self.num_partitions
        cache: dict = {}
        claims = Partitions(self.work / "claims", schema, rank)
        ids = Partitions(self.work / "ids", ID_SCHEMA, rank)

        def part(key):
            p = cache.get(key)
            if p is None:
                p = cache[key] = partition_of(key, n)
            return p

        for batch in batched(data, self.batch_size, key=shard_of):
            k = shard_of(batch[0])
            with self.track_time("batch"):
                rows = [r for d in batch if usable(d) and "row" in d.metadata for r in self.claim_rows(d, with_conflicts)]
                claims.add(pa.Table.from_pylist(rows, schema=schema), [part(r["cluster_id"]) for r in rows])
                ids.add(pa.table({"id": [d.id for d in batch], "shard": [k] * len(batch),
                                  "position": [d.metadata["position"] for d in batch]}, schema=ID_SCHEMA),
                        [partition_of(d.id, n) for d in batch])
            self.stat_update("claims", value=len(rows))
            for d in batch:
                d.metadata.pop("row", None)
            yield from batch
        claims.close()
        ids.close()

    def claim_rows(self, doc, with_conflicts: bool) -> list[dict]:
        dct = (doc.metadata["record"].get("dct") or {}).get("value")
        inputs = {}
        if with_conflicts and doc.metadata["annotation"] is not None:
            for c in conflict_inputs(doc.metadata["annotation"], self.ctx.entity_table, self.ctx.inv):
                inputs[c["id"]] = json.dumps(c, ensure_ascii=False, sort_keys=True)
        out = []
        for span in doc.metadata["row"]["claims"]:
            row = {c: span[c] for c in CLUSTER_INPUT[1:]}
            row["document_id"] = doc.id
            row["dct"] = dct
            row["conflict_input"] = inputs.get(span["id"])
            out.append(row)
        return out


class ReportWriter(PipelineStep):
    """Writer: per shard, <work>/reports/<shard>.pkl: documents, problems, warnings, the hashes of the files
    read and the datasheet's tally (pactnews.outputs.datasheet.Tally), merged by the build in shard order."""

    name = "shard reports"
    type = "💽 - WRITER"

    def __init__(self, ctx: Context, work: Path, detail: bool):
        super().__init__()
        self.ctx, self.work, self.detail = ctx, Path(work), detail

    def run(self, data, rank: int = 0, world_size: int = 1):
        report = None
        for doc in data:
            k = shard_of(doc)
            if report is None or report["shard"] != k:
                self._write(report)
                report = {"shard": k, "documents": 0, "without_annotations": 0, "problems": [], "warnings": [],
                          "sources": {}, "tally": Tally.start(self.ctx.inv, self.detail)}
            meta = doc.metadata
            with self.track_time():
                report["documents"] += 1
                report["sources"].update(meta["sources"])
                for key in ("problems", "warnings"):
                    report[key] += [line for line in meta[key] if line not in report[key]]
                if meta["readable"]:
                    tally = report["tally"]
                    tally.add_record(meta["record"])
                    tally.add_map(doc.id, meta["cleaning"])
                    tally.add_gold(doc.id, meta["annotation"])
                    report["without_annotations"] += meta["annotation"] is None
            yield doc
        self._write(report)

    def _write(self, report: dict | None) -> None:
        if report is not None:
            report["peak_rss_mb"] = peak_rss_mb()
            write_pickle(self.work / "reports" / f"{report['shard']:05d}.pkl", report)
            release_unused()


def read_pickles(folder: Path) -> list:
    """The pickles of a folder in the order of their names (shard or partition keys)."""
    if not folder.is_dir():
        return []
    return [pickle.loads((folder / name).read_bytes()) for name in sorted(os.listdir(folder)) if name.endswith(".pkl")]
