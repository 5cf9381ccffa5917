"""The validator's entity and cluster id checks against the size of their tables.

The build validates batches of BATCH_SIZE documents; every batch checks its claims' cluster ids (and its
mentions' entity ids) against the cluster (entity) table, which grows with the corpus (bench/synthetic.py
copies the cluster table once per 1,000 documents: 79,000 clusters at 1M documents). This script times one
batch's cluster-id check (pactnews.validate.references) with the table built as the synthetic corpus builds
it, for each table size: as the dict `pactnews validate` reads and as the build's ClusterTable, against the same
check written as one Arrow array of the table's keys per batch (the rule before this script): the check should
not grow with the table.

    .venv/bin/python -m bench.table_lookup
"""
from __future__ import annotations

import argparse
import json
import timeit
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.synthetic import cluster_key, scaled_clusters
from pactnews.annotations import tables
from pactnews.pipeline.batches import BATCH_SIZE
from pactnews.pipeline.context import ClusterTable
from pactnews.repo import Layout
from pactnews.validate.columns import _table_codes

ROOT = Path(__file__).resolve().parent.parent
CLAIMS_PER_DOCUMENT = 28  # the synthetic corpus: 28.4M claims at 1M documents (bench/RESULTS.md)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.table_lookup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="corpus sizes (documents)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "table_lookup.json")
    args = parser.parse_args(argv)
    table = tables.read_clusters(Layout(ROOT).cluster_table)
    results = {"batch_documents": BATCH_SIZE, "claims_per_document": CLAIMS_PER_DOCUMENT, "sizes": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        clusters = scaled_clusters(table, n)
        # a batch of the synthetic corpus names the clusters of its block of CLUSTER_BLOCK documents
        named = [cluster_key(cid, n - 1) for cid in sorted(table)]
        col = pa.chunked_array([pa.array([named[i % len(named)] for i in range(BATCH_SIZE * CLAIMS_PER_DOCUMENT)],
                                         pa.string())])
        per_batch = lambda: np.asarray(pc.is_in(col, value_set=pa.array(list(clusters), pa.string()))  # noqa: E731
                                       .to_numpy(zero_copy_only=False), bool)
        distinct = lambda: _table_codes(col, clusters, lambda _: 0) >= 0  # noqa: E731
        compact = ClusterTable.of(clusters)
        searched = lambda: _table_codes(col, compact, lambda _: 0) >= 0  # noqa: E731
        if not ((per_batch() == distinct()).all() and (per_batch() == searched()).all()):
            raise SystemExit("the checks disagree")
        row = {"clusters": len(clusters)}
        for name, f in (("table_array_ms", per_batch), ("distinct_lookup_ms", distinct),
                        ("cluster_table_ms", searched)):
            row[name] = round(min(timeit.repeat(f, number=20, repeat=5)) / 20 * 1e3, 3)
        results["sizes"][str(n)] = row
        print(f"{n:>9} documents, {len(clusters):>6} clusters: array of the table {row['table_array_ms']:.2f} ms a "
              f"batch, distinct ids looked up in the dict {row['distinct_lookup_ms']:.2f} ms, in the build's "
              f"ClusterTable {row['cluster_table_ms']:.2f} ms")
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
