"""Peak RSS of the build's scratch partitions (pactnews.pipeline.writers.Partitions) against the number of flushes.

A documents task of the build writes each flush of its claim buffer to every partition it touches; at 1M
documents that is about 217 flushes over 200 partitions. This script writes `--flushes` flushes of PARTITION_ROWS
rows (18 columns, random text) over `--partitions` partitions, into a scratch folder under build/, and prints the
process's peak RSS: it should not grow with the number of flushes.

    .venv/bin/python -m bench.partitions_memory --flushes 10
    .venv/bin/python -m bench.partitions_memory --flushes 40
"""
from __future__ import annotations

import argparse
import random
import resource
import shutil
import string
import sys
import tempfile
from pathlib import Path

import pyarrow as pa

from pactnews.pipeline.writers import PARTITION_ROWS, Partitions

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.partitions_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--flushes", type=int, default=40)
    parser.add_argument("--partitions", type=int, default=200)
    args = parser.parse_args(argv)
    columns = {f"s{i}": pa.string() for i in range(12)} | {f"f{i}": pa.float64() for i in range(6)}
    schema = pa.schema(list(columns.items()))
    rng = random.Random(0)
    rows = PARTITION_ROWS // args.partitions + 1
    data = {name: ([''.join(rng.choices(string.ascii_letters, k=rng.randint(20, 200))) for _ in range(rows)]
                   if kind == pa.string() else [rng.random() for _ in range(rows)]) for name, kind in columns.items()}
    table = pa.table(data, schema=schema)
    (ROOT / "build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="partitions-", dir=ROOT / "build"))
    try:
        writer = Partitions(folder, schema, 0)
        for _ in range(args.flushes):
            for p in range(args.partitions):
                writer.add(table, [p] * table.num_rows)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        writer.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.flushes} flushes over {args.partitions} partitions: peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
