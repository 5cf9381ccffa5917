"""The one command: only the verb asked for is imported."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import buildkit


def _modules_after(*argv: str) -> set[str]:
    code = ("import sys; from pactnews.cli import main; rc = main(sys.argv[1:]); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith(('pactnews', 'spacy', 'datasets'))))); "
            "sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=buildkit.REPO)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split()[-1000:])


def test_a_verb_imports_its_own_module_only():
    loaded = _modules_after("--root", str(buildkit.REPO), "clean", "--check")
    assert "pactnews.commands.clean" in loaded
    assert not {"pactnews.pipeline.build", "pactnews.annotations.preannotate", "spacy", "datasets"} & loaded, sorted(loaded)


def test_every_verb_is_listed_and_its_options_parsed():
    from pactnews.cli import VERBS

    out = subprocess.run([sys.executable, "-m", "pactnews.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and all(verb in out.stdout for verb in VERBS)
    out = subprocess.run([sys.executable, "-m", "pactnews.cli", "build", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--num-proc" in out.stdout
    out = subprocess.run([sys.executable, "-m", "pactnews.cli", "clean", "--no-such-flag"], capture_output=True, text=True)
    assert out.returncode == 2 and "--no-such-flag" in out.stderr


BLOCKED = """
import sys, importlib.abc
blocked = set(sys.argv[1].split(","))
class Blocked(importlib.abc.MetaPathFinder):  # as if these distributions were not installed
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Blocked())
from pactnews.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _without(modules: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKED, modules, *argv], capture_output=True, text=True,
                          cwd=buildkit.REPO, timeout=300)


def test_a_verb_whose_extra_is_missing_names_the_extra_in_one_line(tmp_path):
    passes = buildkit.REPO / "annotations" / "passes"
    out = _without("krippendorff", "--root", str(buildkit.REPO), "agreement", str(passes / "A"), str(passes / "B"),
                   "--out", str(tmp_path / "reports"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == ["pactnews agreement: needs krippendorff, which the 'annotate' extra installs: "
                                       "pip install -e '.[annotate]' in the repository"]
    assert not (tmp_path / "reports").exists()


def test_a_missing_core_dependency_is_one_line_too():
    out = _without("datasets", "--root", str(buildkit.REPO), "build", "--check", "--quiet")
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["pactnews build: needs datasets, a dependency of pactnews: pip install -e . "
                                       "in the repository"]


def test_validate_needs_none_of_the_build_and_annotation_libraries():
    """validate needs pandera, but not the libraries of the card, the token view or the extras."""
    heavy = ("datasets", "spacy", "mlcroissant", "sklearn", "label_studio_sdk", "krippendorff", "nervaluate")
    out = _without(",".join(heavy), "--root", str(buildkit.REPO), "validate")
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def built_repo(tmp_path_factory):
    return buildkit.built(tmp_path_factory, "real")


@pytest.mark.parametrize("argv", [["validate"], ["clean", "--check"], ["build", "--check", "--quiet"],
                                  ["export", "--format", "brat", "--out", "out"],
                                  ["publish", "--to", "out", "--dry-run"]])
def test_an_ascii_only_terminal_gets_escapes_never_a_traceback(built_repo, tmp_path, argv):
    """A raw file under a non-ASCII name (raw/dokument_ü.txt), changed after its hash was recorded, on a terminal
    that can show only ASCII: every verb names it as an escape, exits 1 and changes nothing."""
    root = buildkit.fresh_copy(built_repo, tmp_path / "repo")
    meta = root / "corpus" / "metadata.yaml"
    text = meta.read_text(encoding="utf-8")
    first = text.index("raw_file: raw/") + len("raw_file: raw/")
    name = text[first:].split()[0]
    meta.write_text(text.replace(f"raw/{name}", "raw/dokument_\u00fc.txt", 1), encoding="utf-8")
    raw = root / "corpus" / "raw" / name
    raw.rename(raw.with_name("dokument_\u00fc.txt"))
    with raw.with_name("dokument_\u00fc.txt").open("ab") as f:
        f.write(b"\nchanged\n")
    before = buildkit.tree_hashes(tmp_path)
    env = {**os.environ, "PYTHONIOENCODING": "ascii:strict", "LC_ALL": "C"}
    run = subprocess.run([sys.executable, "-m", "pactnews.cli", "--root", str(root), *argv], capture_output=True,
                         text=True, encoding="ascii", timeout=600, env=env, cwd=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 1 and "Traceback" not in out, out
    assert "dokument_\\xfc.txt" in out, out
    assert buildkit.tree_hashes(tmp_path) == before
