"""Benchmark every stage on a synthetic corpus: `python scripts/bench.py [--sizes 1000,10000] ...`.

A thin wrapper of `pactnews bench` (see pactnews/bench.py); results go to
bench/results.json and bench/RESULTS.md.
"""
from __future__ import annotations

import sys

from pactnews.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
