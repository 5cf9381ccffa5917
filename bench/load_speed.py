"""Warm `load_dataset` of each config against `pyarrow.parquet.read_table` of the same files.

For every config of each built repository given, in one process: a first `load_dataset` fills a fresh
cache, then every round times, one after the other, the floor `pq.read_table(files)`, the warm
`load_dataset(root, config, split="test", cache_dir=...)` and the other ways of reading the config that
the card can document; a way's ratio is its median over the rounds divided by the floor's median.
Before timing, each way's features and rows are checked equal to load_dataset's, so a faster way that
changed the features would stop the script. Repositories given together are measured in the same rounds.

    .venv/bin/python bench/load_speed.py                             # this repository
    .venv/bin/python bench/load_speed.py --root /tmp/old --root .    # two built trees, interleaved
    .venv/bin/python bench/load_speed.py --profile entities          # where a warm load_dataset spends its time
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import datasets
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
SPLIT = "test"


def read_config(files: list[str]) -> datasets.Dataset:
    """The fast way the card documents (docs/card.template.md): the files' own features, a fingerprint of their bytes."""
    fingerprint = hashlib.sha256(b"".join(Path(f).read_bytes() for f in files)).hexdigest()
    return datasets.Dataset(pq.read_table(files), fingerprint=fingerprint)


def ways(root: Path, config: str, cache: str) -> dict:
    files = sorted(str(p) for p in (root / "data" / config).glob(f"{SPLIT}-*.parquet"))
    return {
        "read_table": lambda: pq.read_table(files),
        "load_dataset": lambda: datasets.load_dataset(str(root), config, split=SPLIT, cache_dir=cache),
        "Dataset(read_table)": lambda: datasets.Dataset(pq.read_table(files)),
        "card's read_config": lambda: read_config(files),
        "Dataset.from_parquet": lambda: datasets.Dataset.from_parquet(files, split=SPLIT, cache_dir=cache),
    }


def profile(root: Path, config: str, rounds: int) -> None:
    """cProfile of `rounds` warm load_dataset calls: the calls with the most cumulative time."""
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory(prefix="pactnews-load-") as cache:
        datasets.load_dataset(str(root), config, split=SPLIT, cache_dir=cache)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(rounds):
            datasets.load_dataset(str(root), config, split=SPLIT, cache_dir=cache)
        prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(r"load\.py|repocard|yaml/__init__|fingerprint\.py:.*\(hash\)|"
                                                           r"builder\.py.*(as_dataset|download_and_prepare)|"
                                                           r"info\.py.*from_dataset_card_data")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, action="append", default=None,
                        help="a built repository (README.md and data/); repeat to compare several (default: this one)")
    parser.add_argument("--rounds", type=int, default=21, help="timed rounds per config (default 21)")
    parser.add_argument("--json", type=Path, default=None, help="also write the medians and ratios to this file")
    parser.add_argument("--profile", metavar="CONFIG", default=None,
                        help="instead, profile warm load_dataset calls of this config of each --root (cProfile)")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    roots = [r.resolve() for r in (args.root or [ROOT])]
    if args.profile:
        for root in roots:
            print(f"{root}: {args.rounds} warm load_dataset({args.profile!r}) calls")
            profile(root, args.profile, args.rounds)
        return 0
    configs = [p.name for p in sorted((roots[0] / "data").iterdir()) if p.is_dir()]
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="pactnews-load-") as tmp:
        for config in configs:
            timers = {}
            for n, root in enumerate(roots):
                cache = os.path.join(tmp, f"cache{n}")
                ws = ways(root, config, cache)
                reference = ws["load_dataset"]()  # fills the cache: every later load is warm
                for name, way in ws.items():
                    got = way()
                    if name != "read_table" and (got.features != reference.features or got.to_list() != reference.to_list()):
                        raise SystemExit(f"{root} {config}: {name} does not give load_dataset's features and rows")
                    timers[(str(root), name)] = way
            times = {k: [] for k in timers}
            for _ in range(args.rounds):
                for k, way in timers.items():
                    t0 = time.perf_counter()
                    way()
                    times[k].append(time.perf_counter() - t0)
            for root in map(str, roots):
                floor = statistics.median(times[(root, "read_table")])
                row = {"read_table_ms": floor * 1e3}
                for (r, name), ts in times.items():
                    if r == root and name != "read_table":
                        row[name] = statistics.median(ts) / floor
                results.setdefault(root, {})[config] = row
    load = os.getloadavg()
    names = [n for n in ways(roots[0], configs[0], "") if n != "read_table"]
    for root, rows in results.items():
        print(f"\n{root}: median time over the median of read_table, {args.rounds} rounds\n")
        print("| config | read_table ms | " + " | ".join(names) + " |")
        print("|---|---:|" + "---:|" * len(names))
        for config, row in rows.items():
            print(f"| {config} | {row['read_table_ms']:.2f} | " + " | ".join(f"x{row[n]:.1f}" for n in names) + " |")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "datasets": datasets.__version__, "results": results,
                                         "loadavg_after": load}, indent=1) + "\n", encoding="utf-8")
    print(f"\nTimed {len(configs)} configs of {len(roots)} repository(ies), {args.rounds} rounds each; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
