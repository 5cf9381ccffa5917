"""Peak RSS of the build's scratch partitions (pactnews.pipeline.writers.Partitions) against the number of flushes.

A documents task of the build writes each flush of its claim buffer to every partition it touches; at 1M
documents that is about 217 flushes over 200 partitions. This script writes `--flushes` flushes of PARTITION_ROWS
rows (18 columns, random text) over `--partitions` partitions, into a scratch folder under build/, and prints the
process's peak RSS: it should not grow with the number of flushes. It also times the writes and the reads
(pactnews.pipeline.writers.read_partition, every partition whole) with the scratch's codec or another.

    .venv/bin/python -m bench.partitions_memory --flushes 10
    .venv/bin/python -m bench.partitions_memory --flushes 40
    .venv/bin/python -m bench.partitions_memory --codec zstd
"""
from __future__ import annotations

import argparse
import random
import resource
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from pactnews.pipeline.writers import IPC_OPTIONS, PARTITION_ROWS, Partitions, read_partition

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.partitions_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--flushes", type=int, default=40)
    parser.add_argument("--partitions", type=int, default=200)
    parser.add_argument("--codec", choices=("lz4", "zstd", "none"), default=IPC_OPTIONS.compression or "none",
                        help="compression of the IPC buffers (default: the build's)")
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
        options = pa.ipc.IpcWriteOptions(compression=None if args.codec == "none" else args.codec, use_threads=False)
        writer = Partitions(folder, schema, 0, options=options)
        t0 = time.process_time()
        for _ in range(args.flushes):
            for p in range(args.partitions):
                writer.add(table, [p] * table.num_rows)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        writer.close()
        write = time.process_time() - t0
        files = sorted(folder.rglob(f"*{Partitions.SUFFIX}"))
        size = sum(f.stat().st_size for f in files)
        t0 = time.process_time()
        rows = sum(read_partition(f).num_rows for f in files)
        read = time.process_time() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if rows != args.flushes * args.partitions * table.num_rows:
        raise SystemExit(f"read {rows} rows back; expected {args.flushes * args.partitions * table.num_rows}")
    print(f"{args.flushes} flushes over {args.partitions} partitions ({args.codec}): peak RSS {peak:.0f} MB, "
          f"write {write:.2f} CPU s, read {read:.2f} CPU s, {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
