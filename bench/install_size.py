"""Packages and disk size of `pip install -e .` in a fresh virtualenv.

The package (pyproject.toml, README.md, pactnews/) is copied to a temporary folder, with another
pyproject.toml when one is given (an earlier one: `git show REV:pyproject.toml > /tmp/old.toml`), so
the repository is never touched. A fresh venv is made there, the copy is installed with pip (its cache
makes a repeated run quick) and the script reports the distributions the install added and how many
bytes the venv grew, with the largest distributions. With --verify, the installed `pactnews` then
validates the repository and checks its build (`validate`, `build --check`: both write nothing), which
shows the install is enough for them. It writes nothing in the repository.

    .venv/bin/python bench/install_size.py                       # the current pyproject.toml
    .venv/bin/python bench/install_size.py --extras annotate     # with an extra
    .venv/bin/python bench/install_size.py --pyproject /tmp/old.toml --json /tmp/before.json
    .venv/bin/python bench/install_size.py --verify              # and run validate, build --check
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE")
# Run inside the new venv: the size of every installed distribution, from its RECORD.
SIZES = """
import importlib.metadata as m, json
out = {}
for d in m.distributions():
    n = 0
    for f in d.files or []:
        p = f.locate()
        if p.is_file():
            n += p.stat().st_size
    out[d.metadata["Name"]] = [d.version, n]
print(json.dumps(out))
"""


def tree_bytes(path: Path) -> int:
    """Apparent size of every regular file under `path` (symlinks not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            p = os.path.join(folder, name)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def distributions(python: Path) -> dict[str, list]:
    out = subprocess.run([str(python), "-c", SIZES], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def verify(venv: Path) -> dict[str, int]:
    """Exit codes of the installed `pactnews validate` and `pactnews build --check` on this repository."""
    out = {}
    for words in (["validate"], ["build", "--check", "--quiet"]):
        done = subprocess.run([str(venv / "bin" / "pactnews"), "--root", str(ROOT), *words], capture_output=True,
                              text=True)
        out[" ".join(words)] = done.returncode
        last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
        print(f"pactnews {' '.join(words)}: exit {done.returncode}: {last}")
    return out


def measure(pyproject: Path, extras: str, python: str, work: Path, check: bool) -> dict:
    src = work / "src"
    src.mkdir()
    for name in PACKAGE_FILES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, src / name)
    shutil.copy2(pyproject, src / "pyproject.toml")
    shutil.copytree(ROOT / "pactnews", src / "pactnews", ignore=shutil.ignore_patterns("__pycache__"))
    venv = work / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    before_dists, before_bytes = distributions(vpy), tree_bytes(venv)
    target = f"{src}[{extras}]" if extras else str(src)
    t0 = time.perf_counter()
    subprocess.run([str(vpy), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", target], check=True)
    seconds = time.perf_counter() - t0
    after_dists, after_bytes = distributions(vpy), tree_bytes(venv)
    verified = verify(venv) if check else None
    added = {k: v for k, v in after_dists.items() if k not in before_dists and k != "pactnews"}
    return {
        "pyproject": str(pyproject),
        "extras": extras,
        "python": subprocess.run([str(vpy), "--version"], capture_output=True, text=True).stdout.strip(),
        "packages": len(added),
        "venv_growth_bytes": after_bytes - before_bytes,
        "install_seconds": round(seconds, 1),
        "verified": verified,
        "distributions": dict(sorted(added.items(), key=lambda kv: -kv[1][1])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml",
                        help="the pyproject.toml to install with (default: the repository's)")
    parser.add_argument("--extras", default="", help="extras to install too, comma-separated (default: none)")
    parser.add_argument("--python", default="python3", help="interpreter that makes the venv (default: python3)")
    parser.add_argument("--top", type=int, default=12, help="how many of the largest distributions to print")
    parser.add_argument("--verify", action="store_true",
                        help="then run the installed `pactnews validate` and `pactnews build --check` here")
    parser.add_argument("--json", type=Path, default=None, help="also write the full result to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pactnews-install-") as tmp:
        result = measure(args.pyproject.resolve(), args.extras, args.python, Path(tmp), args.verify)
    print(f"{'distribution':32} {'version':>12} {'MB':>8}")
    for name, (version, size) in list(result["distributions"].items())[: args.top]:
        print(f"{name:32} {version:>12} {size / 1e6:8.1f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    what = f"pip install -e '.[{args.extras}]'" if args.extras else "pip install -e ."
    print(f"{what} with {args.pyproject}: {result['packages']} packages, venv grew by "
          f"{result['venv_growth_bytes'] / 1e6:.0f} MB ({result['python']}, {result['install_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
