"""Peak RSS of the claim-clusters tasks at the shape of a 10k or a 1M build, without the documents pipeline.

A partition of the build holds about 142,000 claims at every corpus size (one partition per shard of 5,000
synthetic documents); what grows with the corpus is the number of partitions, the cluster table (bench/synthetic.py
copies it once per 1,000 documents) and how finely the partitions' files are cut (each documents task appends to
every partition at every flush of its buffer: a few batches a file at 10k, about 217 of ~330 rows at 1M).

This script makes that input for `--documents` N: a repository skeleton with the cluster table scaled to N
(bench.synthetic), and `--partitions` partitions of `--claims` claims each (the project's own claims, repeated),
written as two documents tasks would write them, with the build's `Partitions` in batches of `--batch-rows`
(written by a child process, so the measuring process holds only what the build's main process holds). Then it
runs the build's cluster steps (ClusterReader, ClusterConflicts, ClusterWriter) on the build's local executor with
`--tasks` tasks, and prints each task's peak RSS as the build records it. Scratch lives under build/.

    .venv/bin/python -m bench.cluster_memory --documents 10000 --partitions 2 --batch-rows 50000
    .venv/bin/python -m bench.cluster_memory --documents 1000000 --partitions 200 --batch-rows 330
"""
from __future__ import annotations

import argparse
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_input(work: Path, documents: int, partitions: int, claims: int, batch_rows: int) -> None:
    """The skeleton repository (work/repo) and the claim partitions (work/claims/<p>/task-<r>.arrows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.synthetic import _skeleton
    from pactnews.pipeline.context import make_context
    from pactnews.pipeline.writers import CLUSTER_INPUT, Partitions, partition_schema

    _skeleton(ROOT, work / "repo", documents)
    ctx = make_context(work / "repo")
    schema = partition_schema(ctx)
    real = pq.read_table(ROOT / "data" / "claims").select(list(CLUSTER_INPUT))
    base = real.take(pa.array([i % real.num_rows for i in range(claims)], pa.int64()))
    base = base.set_column(base.schema.get_field_index("id"), "id", pa.array([f"C{i % 28}" for i in range(claims)]))
    base = base.append_column("dct", pa.array(["2024-10-25"] * claims, pa.string()))
    base = base.append_column("conflict_input", pa.nulls(claims, pa.string()))
    per_partition = max(1, len(ctx.cluster_table) // partitions)  # the scaled table's clusters, spread evenly
    writers = [Partitions(work / "claims", schema, rank, budget=batch_rows * partitions) for rank in (0, 1)]
    for p in range(partitions):
        t = base.set_column(base.schema.get_field_index("document_id"), "document_id",
                            pa.array([f"p{p:05d}-d{i // 28:07d}" for i in range(claims)], pa.string()))
        t = t.set_column(t.schema.get_field_index("cluster_id"), "cluster_id",
                         pa.array([f"p{p:05d}-cluster-{(i * 7919) % per_partition:05d}" for i in range(claims)]))
        t = t.cast(schema)
        for rank, half in enumerate((t.slice(0, claims // 2), t.slice(claims // 2))):
            for start in range(0, half.num_rows, batch_rows):
                part = half.slice(start, batch_rows)
                writers[rank].add(part, [p] * part.num_rows)
    for w in writers:
        w.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1_000_000, help="corpus size the cluster table is scaled to")
    parser.add_argument("--partitions", type=int, default=200, help="partitions (one per shard of 5,000 documents)")
    parser.add_argument("--claims", type=int, default=142_000, help="claims a partition (the synthetic corpus: ~142,000)")
    parser.add_argument("--batch-rows", type=int, default=330, help="rows a record batch (1M: ~330)")
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--trace", action="store_true", help="each task's peak at the end of each of its partitions")
    parser.add_argument("--write", type=Path, default=None, help=argparse.SUPPRESS)  # the child that writes the input
    args = parser.parse_args(argv)
    if args.write:
        write_input(args.write, args.documents, args.partitions, args.claims, args.batch_rows)
        return 0
    (ROOT / "build").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cluster-memory-", dir=ROOT / "build"))
    try:
        subprocess.run([sys.executable, "-m", "bench.cluster_memory", "--write", str(work), "--documents",
                        str(args.documents), "--partitions", str(args.partitions), "--claims", str(args.claims),
                        "--batch-rows", str(args.batch_rows)], check=True, cwd=ROOT)
        from pactnews.pipeline import executors
        from pactnews.pipeline.build import CLUSTERS_PER_ROW_GROUP, MEMBERS_PER_PASS, MEMBERS_PER_ROW_GROUP
        from pactnews.pipeline.clusters import ClusterConflicts, ClusterReader, ClusterWriter
        from pactnews.pipeline.context import make_context

        executors.quiet()
        ctx = make_context(work / "repo")
        main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        steps = [ClusterReader(ctx, work, args.partitions, MEMBERS_PER_PASS), ClusterConflicts(ctx),
                 ClusterWriter(ctx, work / "data", work, args.partitions, CLUSTERS_PER_ROW_GROUP, MEMBERS_PER_ROW_GROUP)]
        executors.local(steps, args.tasks, args.tasks, work / "logs").run()
        peaks = {}
        for f in sorted((work / "clusters").glob("*.pkl")):
            r = pickle.loads(f.read_bytes())
            peaks[r["partition"]] = r["peak_rss_mb"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.documents} documents' cluster table ({len(ctx.cluster_table)} clusters), {args.partitions} partitions "
          f"of {args.claims} claims in batches of {args.batch_rows} rows, {args.tasks} tasks: main process "
          f"{main_mb:.0f} MB before the tasks; largest task {max(peaks.values()):.0f} MB (the peak recorded at each "
          f"partition's end: {min(peaks.values()):.0f} to {max(peaks.values()):.0f} MB)")
    if args.trace:
        for rank in range(args.tasks):
            print(f"task {rank}:", " ".join(f"{peaks[p]:.0f}" for p in sorted(peaks) if p % args.tasks == rank))
    return 0


if __name__ == "__main__":
    sys.exit(main())
