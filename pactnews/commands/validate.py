"""`pactnews validate`: every incident of the corpus and annotations, one a line, then a summary
(pactnews.validate: the one validator)."""
from __future__ import annotations

from pathlib import Path

from pactnews.repo import Layout
from pactnews.validate.incidents import emit, format_report
from pactnews.validate.repository import check_repository


def add_arguments(parser) -> None:
    parser.add_argument("--annotations", type=Path, default=None,
                        help="folder of <document_id>.json files and tables/ to validate (default: annotations/; "
                             "e.g. a converted pass under annotations/passes/A)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="print at most N incidents per test id (the summary still counts all)")
    parser.add_argument("--num-proc", type=int, default=1, metavar="N",
                        help="worker processes (default 1; the incidents are the same for any N)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")


def run(args) -> int:
    layout = Layout(args.root)
    incidents, stats = check_repository(layout, args.annotations, num_proc=args.num_proc,
                                        progress=True if args.progress else None)
    emit(format_report(incidents, limit=args.limit, **stats))
    return 1 if incidents else 0
