"""The one command: only the verb asked for is imported."""
from __future__ import annotations

import subprocess
import sys

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
