"""Wall time of `pactnews validate` and `pactnews build` on the real corpus, as ratios to a floor.

The floor is `python -c "import pyarrow"`: the interpreter start and the one library every verb needs.
The source tree (pactnews/ with corpus/, annotations/, schemas/, docs/ ...) is copied to a temporary
folder and the verbs run there (`python -m pactnews.cli --root COPY VERB`, the copy's package first on
PYTHONPATH), so the repository is never written and an older tree can be measured with the same
interpreter. Each round runs the floor and every verb of every tree once, one after the other; a verb's
ratio is its median over the rounds divided by the floor's median of the same run, which keeps the
figures comparable on a shared, noisy machine, and trees given together are measured under the same load.

    .venv/bin/python bench/cli_time.py                                         # the current tree
    .venv/bin/python bench/cli_time.py --source /tmp/old-tree --source .       # two trees, interleaved
    .venv/bin/python bench/cli_time.py --source /tmp/old-tree --python .venv/bin/python \\
        --source . --python /tmp/light-venv/bin/python                         # each with its own install
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".venv", ".git", "build", "site", "__pycache__", ".pytest_cache", ".hypothesis",
                              "labelstudio-data", "*.egg-info")
VERBS = {"validate": ["validate"], "build": ["build", "--quiet"]}


def timed(cmd: list[str], env: dict, cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, action="append", default=None,
                        help="repository tree to copy and run; repeat to measure several (default: this one)")
    parser.add_argument("--python", action="append", default=None,
                        help="interpreter with the dependencies installed; one for every tree, or one per --source "
                             "in the same order (default: this one)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of floor + every verb (default 7)")
    parser.add_argument("--json", type=Path, default=None, help="also write the timings to this file")
    args = parser.parse_args()
    sources = args.source or [ROOT]
    pythons = args.python or [sys.executable]
    if len(pythons) == 1:
        pythons = pythons * len(sources)
    if len(pythons) != len(sources):
        parser.error("give one --python, or one per --source")
    with tempfile.TemporaryDirectory(prefix="pactnews-cli-") as tmp:
        commands = {}
        for python in dict.fromkeys(pythons):  # a floor per interpreter
            commands[("floor", python)] = ([python, "-c", "import pyarrow"], dict(os.environ), Path(tmp))
        for n, (source, python) in enumerate(zip(sources, pythons)):
            copy = Path(tmp) / f"repo{n}"
            shutil.copytree(source, copy, ignore=SKIP)
            env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
            for verb, words in VERBS.items():
                commands[(f"{source} with {python}", verb)] = (
                    [python, "-m", "pactnews.cli", "--root", str(copy), *words], env, copy)
        for cmd, env, cwd in commands.values():  # warm the page cache and the build's own outputs
            timed(cmd, env, cwd)
        times = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, (cmd, env, cwd) in commands.items():
                times[name].append(timed(cmd, env, cwd))
    median = {name: statistics.median(ts) for name, ts in times.items()}
    load = os.getloadavg()
    results = {}
    for (what, python), ts in times.items():
        if what == "floor":
            results[f"floor with {python}"] = {"median": median[(what, python)], "seconds": ts}
            print(f"floor (python -c 'import pyarrow') with {python}: median {median[(what, python)]:.2f} s "
                  f"(min {min(ts):.2f}, max {max(ts):.2f})")
    for (run, verb), ts in times.items():
        if run == "floor":
            continue
        python = run.rsplit(" with ", 1)[1]
        ratio = median[(run, verb)] / median[("floor", python)]
        results.setdefault(run, {})[verb] = {"median": median[(run, verb)], "ratio": ratio, "seconds": ts}
        print(f"{run}: {verb:9} median {median[(run, verb)]:6.2f} s (min {min(ts):.2f}, max {max(ts):.2f})  "
              f"x{ratio:.1f} its floor")
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "results": results, "loadavg_after": load},
                                        indent=1) + "\n", encoding="utf-8")
    print(f"{args.rounds} rounds of floor + validate + build on {len(sources)} tree(s); "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
