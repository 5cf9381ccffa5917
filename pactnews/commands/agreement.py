"""`pactnews agreement A_DIR B_DIR [--gold DIR] [--out DIR]`: write the agreement reports of two passes
(and the three-way comparison with a gold) made by pactnews.evaluation.agreement."""
from __future__ import annotations

import sys
from pathlib import Path

from pactnews.evaluation import agreement
from pactnews.files import write_files_atomically


def add_arguments(parser) -> None:
    parser.add_argument("pass_a", type=Path, help="converted folder of the first pass (<doc>.json and tables/)")
    parser.add_argument("pass_b", type=Path, help="converted folder of the second pass")
    parser.add_argument("--gold", type=Path, default=None,
                        help="folder of the gold annotations: also write threeway.json and threeway.md")
    parser.add_argument("--out", type=Path, default=None, help="folder of the reports (default: annotations/reports/)")


def run(args) -> int:
    try:
        files, report, items = agreement.report_files(args.root, args.pass_a, args.pass_b, args.gold, args.out)
        write_files_atomically(files)
    except agreement.AgreementError as exc:
        print(f"pactnews agreement: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"pactnews agreement: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError) as exc:  # a record of the wrong shape: validate's business, told in one line
        print(f"pactnews agreement: an annotation record has an unexpected shape ({type(exc).__name__}: {exc}); "
              "run `pactnews validate` on the passes", file=sys.stderr)
        return 1
    extra = ""
    if items is not None:
        extra = f"; {len(items)} three-way items, {sum(i['status'] != 'A=B=G' for i in items)} to adjudicate"
    print(f"Wrote {', '.join(agreement.shown_path(p, args.root) for p in files)} "
          f"({len(report['documents'])} documents{extra})")
    return 0
