"""The second pipeline: claim clusters, one partition per task.

The first pipeline wrote every claim into the partition of its cluster id (writers.PartitionWriter),
so a cluster lies whole in one partition and no task reads another's claims. Task r takes
partitions r, r+T, ...; for each it checks the document ids of its id partition, reads its
claims in passes of at most `members_per_pass` member claims, and writes
data/claim_clusters/test-0000p-of-0000P.parquet (clusters sorted by id; a row group closes at
`clusters_per_group` clusters or `members_per_group` member claims). A cluster flows as a datatrove Document (id = cluster id,
its member claims as an Arrow table in the metadata).
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep

from pactnews.annotations.conflicts import detect
from pactnews.pipeline.context import Context, kept_conflicts
from pactnews.pipeline.writers import (
    PARQUET_OPTIONS, Partitions, atomic_write_bytes, file_summary, partition_batches, partition_of, partition_schema,
    peak_rss_mb, read_partition, release_unused, shard_name, write_pickle,
)

SORT = [("cluster_id", "ascending"), ("document_id", "ascending"), ("start", "ascending"), ("end", "ascending"),
        ("id", "ascending")]


def partition_files(work: Path, p: int, what: str = "claims") -> list[Path]:
    folder = Path(work) / what / f"{p:05d}"
    return sorted(folder / n for n in os.listdir(folder) if n.endswith(Partitions.SUFFIX)) if folder.is_dir() else []


class IdCheck(PipelineStep):
    """Every document id used once: the ids of each partition are counted together (<work>/ids/)."""

    name = "unique ids"
    type = "🔍 - VALIDATOR"

    def __init__(self, work: Path, num_partitions: int, shard_names: list[str]):
        super().__init__()
        self.work, self.num_partitions, self.shard_names = Path(work), num_partitions, shard_names

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        for p in range(rank, self.num_partitions, world_size):
            with self.track_time():
                problems = self.check(p)
            self.stat_update("duplicate_ids", value=len(problems))
            atomic_write_bytes(self.work / "ids" / f"{p:05d}.json", json.dumps(problems).encode("utf-8"))

    def check(self, p: int) -> list[str]:
        files = partition_files(self.work, p, "ids")
        if not files:
            return []
        ids = pa.concat_tables([read_partition(f) for f in files])
        counts = pc.value_counts(ids.column("id").combine_chunks())
        twice = sorted(v for v, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())
                       if n > 1)
        out = []
        for doc_id in twice:
            rows = ids.filter(pc.equal(ids.column("id"), doc_id)).sort_by([("shard", "ascending"),
                                                                            ("position", "ascending")])
            where = ", ".join(f"{self.shard_names[s]} record {i}" for s, i in
                              zip(rows.column("shard").to_pylist(), rows.column("position").to_pylist()))
            out.append(f"[Doc {doc_id}]: [build-duplicate-id] the document id is used {rows.num_rows} times ({where}); "
                       "expected ids unique across the corpus")
        return out


def cluster_groups(counts: dict[str, int], clusters: list[str], budget: int) -> list[list[str]]:
    """The sorted cluster ids cut into consecutive groups of at most `budget` member claims (a larger cluster
    is a group of its own)."""
    groups: list[list[str]] = []
    size = 0
    for cid in clusters:
        n = counts.get(cid, 0)
        if not groups or size + n > budget:
            groups.append([])
            size = 0
        groups[-1].append(cid)
        size += n
    return groups


def member_counts(files: list[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in (t for p in files for t in partition_batches(p)):  # a batch at a time: the counts need one column
        col = t.column("cluster_id")
        if not len(col):
            continue
        vc = pc.value_counts(col.combine_chunks())
        for cid, n in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
            counts[cid] = counts.get(cid, 0) + n
    return counts


def read_claims(files: list[Path], clusters: list[str], schema: pa.Schema) -> pa.Table:
    """The claims of `clusters` from a partition's files, record batch by record batch."""
    keep = pa.array(sorted(clusters), pa.string())
    parts = []
    for p in files:
        for t in partition_batches(p):
            t = t.filter(pc.is_in(t.column("cluster_id"), value_set=keep))
            if t.num_rows:
                parts.append(t)
    return pa.concat_tables(parts) if parts else schema.empty_table()


class ClusterReader(PipelineStep):
    """Reader: the clusters of this task's partitions, in id order, each as a Document with its claims.

    A cluster of the cluster table without claims is a cluster with no members. Claims without a cluster
    id are in no cluster (their conflict inputs still count).
    """

    name = "claim partitions"
    type = "📖 - READER"

    def __init__(self, ctx: Context, work: Path, num_partitions: int, members_per_pass: int):
        super().__init__()
        self.ctx, self.work = ctx, Path(work)
        self.num_partitions, self.members_per_pass = num_partitions, members_per_pass

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        schema = partition_schema(self.ctx)
        mine = range(rank, self.num_partitions, world_size)
        tabled: dict[int, set[str]] = {p: set() for p in mine}  # the cluster table by partition, read once a task
        for c in self.ctx.cluster_table:
            tabled.get(partition_of(c, self.num_partitions), set()).add(c)
        for p in mine:
            files = partition_files(self.work, p)
            counts = member_counts(files)
            unclustered = counts.pop(None, 0)
            table = tabled[p]
            clusters = sorted(table | set(counts))
            if unclustered:  # claims in no cluster: read for their conflict inputs only
                yield Document(text="", id="", metadata={"partition": p, "cluster": None,
                                                         "claims": _unclustered(files, schema)})
            for group in cluster_groups(counts, clusters, self.members_per_pass):
                with self.track_time("pass"):
                    claims = read_claims(files, group, schema).sort_by(SORT)
                    bounds = {}
                    pos = 0
                    if claims.num_rows:
                        runs = claims.group_by("cluster_id", use_threads=False).aggregate([("cluster_id", "count")])
                        for cid, n in sorted(zip(runs.column("cluster_id").to_pylist(),
                                                 runs.column("cluster_id_count").to_pylist())):
                            bounds[cid] = (pos, n)
                            pos += n
                for cid in group:
                    lo, n = bounds.get(cid, (0, 0))
                    self.stat_update("clusters")
                    yield Document(text="", id=cid, metadata={"partition": p, "cluster": cid,
                                                              "claims": claims.slice(lo, n)})
            yield Document(text="", id="", metadata={"partition": p, "cluster": None, "end": True})


def _unclustered(files: list[Path], schema: pa.Schema) -> pa.Table:
    parts = []
    for t in (t for p in files for t in partition_batches(p)):
        t = t.filter(pc.is_null(t.column("cluster_id")))
        if t.num_rows:
            parts.append(t)
    return pa.concat_tables(parts) if parts else schema.empty_table()


class ClusterConflicts(PipelineStep):
    """The conflicts table against each cluster: its kept conflicts, the detectors' findings and the claims
    the table's members name (only with annotations/tables/conflicts.json)."""

    name = "cluster conflicts"
    type = "🔍 - VALIDATOR"

    def __init__(self, ctx: Context):
        super().__init__()
        self.ctx = ctx

    def run(self, data, rank: int = 0, world_size: int = 1):
        ctx = self.ctx
        def keys(entry) -> set:  # the table is checked after this pipeline: a malformed entry names nothing
            ms = entry.get("members") if isinstance(entry, dict) else None
            return {(m.get("document_id"), m.get("claim_id")) for m in ms if isinstance(m, dict)} \
                if isinstance(ms, list) else set()

        members = set().union(*(keys(e) for e in ctx.conflict_table or []))
        types = ctx.inv.conflict_types
        kept = [(e, keys(e)) for e in kept_conflicts(ctx) if e.get("type") in types]
        for doc in data:
            meta = doc.metadata
            meta["conflicts"], meta["findings"], meta["members"] = [], [], {}
            claims = meta.get("claims")
            if ctx.conflict_table is not None and claims is not None and claims.num_rows:
                with self.track_time():
                    inputs = [json.loads(c) for c in claims.column("conflict_input").to_pylist() if c is not None]
                    claim_keys = {(c["document_id"], c["id"]) for c in inputs}
                    meta["members"] = {(c["document_id"], c["id"]): c for c in inputs
                                       if (c["document_id"], c["id"]) in members}
                    if meta["cluster"] is not None:
                        meta["findings"] = detect(inputs, ctx.inv)
                        meta["conflicts"] = [(e["conflict_id"], types.index(e["type"])) for e, ms in kept
                                             if ms & claim_keys]
                self.stat_update("findings", value=len(meta["findings"]))
            yield doc


class ClusterWriter(PipelineStep):
    """Writer: data/claim_clusters/test-0000p-of-0000P.parquet, and per partition <work>/clusters/<p>.pkl (rows,
    bytes, sha256, the detectors' findings and the claims the conflicts table names)."""

    name = "claim clusters"
    type = "💽 - WRITER"

    def __init__(self, ctx: Context, data_dir: Path, work: Path, num_partitions: int, clusters_per_group: int,
                 members_per_group: int):
        super().__init__()
        self.ctx, self.data_dir, self.work = ctx, Path(data_dir), Path(work)
        self.num_partitions = num_partitions
        self.clusters_per_group, self.members_per_group = clusters_per_group, members_per_group

    def run(self, data, rank: int = 0, world_size: int = 1):
        schema = self.ctx.schemas["claim_clusters"]
        done = set()
        state = None
        for doc in data:
            meta = doc.metadata
            p = meta["partition"]
            if state is None or state["p"] != p:
                state = self._open(p, schema)
                done.add(p)
            state["findings"] += meta.get("findings", [])
            state["members"].update(meta.get("members", {}))
            if meta.get("end"):
                self._close(state)
                state = None
            elif meta["cluster"] is not None:
                with self.track_time():
                    claims = meta.pop("claims")
                    state["parts"].append(cluster_row(meta["cluster"], claims, self.ctx.cluster_table, schema,
                                                      meta["conflicts"]))
                    state["in_group"] += claims.num_rows
                    if len(state["parts"]) == self.clusters_per_group or state["in_group"] >= self.members_per_group:
                        self._flush(state)
            yield doc
        for p in range(rank, self.num_partitions, world_size):  # a partition without clusters: an empty file
            if p not in done:
                self._close(self._open(p, schema))

    def _open(self, p: int, schema: pa.Schema) -> dict:
        folder = self.data_dir / "claim_clusters"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / shard_name(p, self.num_partitions)
        return {"p": p, "path": path, "writer": pq.ParquetWriter(path, schema, **PARQUET_OPTIONS), "parts": [],
                "in_group": 0, "findings": [], "members": {}}

    def _flush(self, state: dict) -> None:
        if state["parts"]:
            part = pa.concat_tables(state["parts"])
            state["writer"].write_table(part)
            self.stat_update("rows", value=part.num_rows)
        state["parts"], state["in_group"] = [], 0

    def _close(self, state: dict) -> None:
        self._flush(state)
        state["writer"].close()
        write_pickle(self.work / "clusters" / f"{state['p']:05d}.pkl", {
            "partition": state["p"], "output": file_summary(state["path"], self.data_dir),
            "findings": state["findings"], "members": state["members"], "peak_rss_mb": peak_rss_mb()})
        release_unused()


def cluster_row(cid: str, claims: pa.Table, cluster_table: Mapping, schema: pa.Schema,
                conflicts: list[tuple[str, int]]) -> pa.Table:
    """One `claim_clusters` row from the cluster's claims (sorted by document and offsets, with their document's
    DCT); its conflicts are the kept conflicts with a member in it, [(conflict id, type class index)]."""
    doc_ids = claims.column("document_id").combine_chunks()
    columns = {"document_id": doc_ids, "claim_id": claims.column("id"), "cue": claims.column("cue_text")}
    member_type = schema.field("members").type.value_type

    def member_column(name: str) -> pa.Array:
        col = columns[name] if name in columns else claims.column(name)
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col

    struct = pa.StructArray.from_arrays([member_column(f.name) for f in member_type], fields=list(member_type))
    members = pa.ListArray.from_arrays(pa.array([0, len(struct)], pa.int32()), struct, type=schema.field("members").type)
    dct_of = dict(zip(doc_ids.to_pylist(), claims.column("dct").to_pylist()))
    docs = sorted(dct_of)
    row = {
        "cluster_id": [cid],
        "proposition": [(cluster_table.get(cid) or {}).get("proposition")],
        "num_claims": [claims.num_rows],
        "documents": [docs],
        "dcts": [[dct_of[d] for d in docs]],
        "members": members,
        "conflict": [bool(conflicts)],
        "conflict_types": [sorted({t for _, t in conflicts})],
        "conflict_ids": [[c for c, _ in conflicts]],
    }
    return pa.Table.from_arrays([row[f.name] if isinstance(row[f.name], pa.Array) else pa.array(row[f.name], f.type)
                                 for f in schema], schema=schema)
