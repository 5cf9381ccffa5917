"""`pactnews export --format brat|conll|spacy --out DIR`: write the gold annotations in another format
(pactnews.outputs.export), print what the format cannot carry and what was written."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.outputs import export
from pactnews.repo import Layout
from pactnews.validate.validator import emit, refused


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=export.FORMATS,
                        help="brat standoff, CoNLL-style IOB2 of the ner view, or a spaCy DocBin")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write (created; must be empty or absent)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    root = Path(args.root)
    layout = Layout(root)
    out = Path(os.path.abspath(Path(args.out).expanduser()))
    if refused(layout, "export"):  # one gate: what `pactnews validate` refuses is not exported
        return 1
    try:
        files, notes = export.write_export(layout, args.format, out, force=args.force)
    except (export.ExportError, standoff.FormatError) as exc:
        emit(f"pactnews export: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a read-only or full disk: one line, no traceback
        emit(f"pactnews export: cannot write {out}: {type(exc).__name__}: {exc.strerror or exc}"
             + (f" ({exc.filename})" if isinstance(exc.filename, str) else "") + "; nothing written", file=sys.stderr)
        return 1
    for note in notes:
        print(f"{args.format} cannot carry: {note}")
    size = sum(len(b) for b in files.values())
    print(f"wrote {len(files)} file(s) ({size:,} bytes) of the {args.format} export to {out}")
    return 0
