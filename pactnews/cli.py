"""The one command: `pactnews <verb>`. Each verb is a thin module of pactnews/commands/ over its stage."""
from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

# verb -> module that defines `add_arguments(parser)` and `run(args) -> int` (or `add_arguments_<verb>`, `run_<verb>`)
VERBS = {
    "clean": ("pactnews.commands.clean", "Clean the raw articles into corpus/clean/ with an exact offset map."),
    "markup": ("pactnews.commands.markup", "Convert inline authoring markup to canonical standoff annotations."),
    "validate": ("pactnews.commands.validate", "Validate the corpus and annotations; print every failure."),
    "schemas": ("pactnews.commands.schemas", "Export the generated schemas (pandera, Label Studio config) to schemas/."),
    "agreement": ("pactnews.commands.agreement", "Measure agreement between two annotation passes."),
    "adjudication-log": ("pactnews.commands.adjudication_log", "Write annotations/ADJUDICATION.md: every item of the three-way comparison, the gold's decision and its logged rule."),
    "preannotate": ("pactnews.commands.preannotate", "Pre-annotate documents and score the pre-annotator against the gold."),
    "annotate": ("pactnews.commands.labelstudio", "Start a local Label Studio with the corpus loaded."),
    "pull": ("pactnews.commands.labelstudio", "Pull annotations from Label Studio into annotations/."),
    "import-ls": ("pactnews.commands.labelstudio", "Import a Label Studio JSON export file into annotations/."),
    "build": ("pactnews.commands.build", "Build data/*.parquet, the card metadata, croissant.json and datasheet figures."),
    "diff": ("pactnews.commands.diff", "Report added, removed and changed annotations between two versions."),
    "evaluate": ("pactnews.commands.evaluate", "Score a system's predictions against the gold of the current version."),
    "export": ("pactnews.commands.export", "Export the gold annotations as brat standoff, CoNLL IOB2 or a spaCy DocBin."),
    "publish": ("pactnews.commands.publish", "Upload the dataset files to the Hugging Face Hub and tag the version."),
    "hydrate": ("pactnews.commands.hydrate", "Rebuild the full edition from an annotations-only edition and your own copies of the articles."),
    "render": ("pactnews.commands.render", "Write a static browsable site of the annotated corpus to site/."),
}


def _available() -> dict[str, str]:
    out = {}
    for verb, (module, help_text) in VERBS.items():
        try:
            importlib.util.find_spec(module)
        except ModuleNotFoundError:
            continue
        if importlib.util.find_spec(module) is not None:
            out[verb] = module
    return out


def _missing_dependency(exc: ImportError) -> str | None:
    """What to install when the missing module is a dependency of pactnews: its extra, or the package itself.

    Read from the installed package's metadata, so pyproject.toml is the only list of the extras; None for
    any other missing module (a bug, shown with its traceback).
    """
    from importlib.metadata import PackageNotFoundError, requires

    missing = (getattr(exc, "name", None) or "").split(".")[0]
    if not missing:
        return None
    try:
        requirements = requires("pactnews") or []
    except PackageNotFoundError:  # run from a source tree that was never installed
        return None
    as_import = re.sub(r"[-_.]+", "_", missing).lower()
    for req in requirements:  # e.g. 'label-studio-sdk<3,>=2.1.2; extra == "annotate"'
        found = re.match(r"""\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:[^;]*;.*\bextra\s*==\s*['"]([^'"]+)['"])?""", req)
        if found and re.sub(r"[-_.]+", "_", found.group(1)).lower() == as_import:
            extra = found.group(2)
            if extra:
                return f"needs {missing}, which the '{extra}' extra installs: pip install -e '.[{extra}]' in the repository"
            return f"needs {missing}, a dependency of pactnews: pip install -e . in the repository"
    return None


def _verb_of(argv: list[str]) -> str | None:
    """The verb on the command line: the first word that is not an option or the value of --root."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--root":
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def main(argv: list[str] | None = None) -> int:
    import importlib.util  # noqa: F401

    _printable_on_any_terminal()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="pactnews", description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="repository root (default: found above the current folder)")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    chosen = _verb_of(argv)
    module, broken = None, None
    for verb, module_name in _available().items():
        p = sub.add_parser(verb, help=VERBS[verb][1], description=VERBS[verb][1])
        if verb != chosen:  # only the verb asked for is imported: the others' dependencies cost nothing
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # one stage's missing dependency must not take the other verbs down
            broken = _missing_dependency(exc) or f"{module_name} cannot be imported: {exc}"
            continue
        adder = getattr(module, f"add_arguments_{verb.replace('-', '_')}", None) or getattr(module, "add_arguments")
        adder(p)
    if broken:  # before parsing: the verb's options were never added, so they would read as unknown
        print(f"pactnews {chosen}: {broken}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    from .repo import find_root  # lazy: no pactnews module before the verb's, whose missing dependency is one line

    args.root = (args.root.resolve() if args.root else find_root())
    recovered = _recover(args.root, args.verb)
    if recovered is not None:
        return recovered
    runner = getattr(module, f"run_{args.verb.replace('-', '_')}", None) or getattr(module, "run")
    try:
        return int(runner(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:  # a heavy or optional dependency is imported where it is used
        message = _missing_dependency(exc)
        if message is None:
            raise
        print(f"pactnews {args.verb}: {message}", file=sys.stderr)
        return 2


def _printable_on_any_terminal() -> None:
    """A character the terminal's encoding cannot show (an ASCII-only locale, a title in Korean) is printed as its
    escape, never a UnicodeEncodeError: every verb prints names and texts from the data."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and (getattr(stream, "encoding", "") or "").lower() not in ("utf-8", "utf8"):
            stream.reconfigure(errors="backslashreplace")


def _recover(root: Path, verb: str) -> int | None:
    """Every verb first finishes or undoes an install a killed run left half done (pactnews.pipeline.install),
    so that no verb reads a mixed output tree. None to go on; an exit status when recovery failed."""
    # lazy, like find_root: the dispatcher imports no pactnews module at its top
    from .pipeline.install import InstallError, recover
    from .repo import MARKER

    if not (root / MARKER).is_file():
        return None
    try:
        for line in recover(root):
            print(f"pactnews {verb}: {line}", file=sys.stderr)
    except InstallError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return None


if __name__ == "__main__":
    sys.exit(main())
