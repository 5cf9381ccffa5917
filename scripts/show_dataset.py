"""Load every config of the dataset from this repository and print what load_dataset gives.

Uses a fresh cache directory so that what is printed is what is on disk now
(datasets keys its cache on the file patterns, not on the file contents).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import datasets
from datasets import get_dataset_config_names, load_dataset

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory(prefix="pactnews-cache-") as cache:
        configs = get_dataset_config_names(str(ROOT))
        for config in configs:
            ds = load_dataset(str(ROOT), config, cache_dir=cache)
            split = ds["test"]
            print(f"== {config}: {split.num_rows} rows")
            print(f"   features: {split.features}")
            if split.num_rows:
                row = split[0]
                shown = {k: (v[:80] + "..." if isinstance(v, str) and len(v) > 80 else v) for k, v in row.items()}
                text = repr(shown)
                print(f"   first row: {text[:600]}{'...' if len(text) > 600 else ''}")
        print(f"Loaded {len(configs)} configs from {ROOT} with datasets {datasets.__version__}: {', '.join(configs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
