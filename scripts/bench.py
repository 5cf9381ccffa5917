"""Benchmark every stage on a synthetic corpus: `python scripts/bench.py [--sizes 1000,10000] ...`.

A wrapper of `python -m bench.suite` (bench/suite.py, the synthetic corpus in
bench/synthetic.py); results go to bench/results.json and bench/RESULTS.md.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's bench/, outside the package

from bench.suite import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
