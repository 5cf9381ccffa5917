"""`pactnews adjudication-log`: write annotations/ADJUDICATION.md and annotations/reports/adjudication.json
(pactnews.annotations.adjudication), or with --check say whether they are stale."""
from __future__ import annotations

from pactnews.annotations import adjudication
from pactnews.repo import Layout
from pactnews.files import write_files_atomically


def add_arguments(parser) -> None:
    parser.add_argument("--check", action="store_true", help="fail if ADJUDICATION.md or adjudication.json is stale")


def run(args) -> int:
    layout = Layout(args.root)
    try:
        summary, files = adjudication.log_files(layout)
    except (adjudication.AdjudicationError, OSError, KeyError, ValueError) as exc:
        print(f"FAILED: {exc}")
        return 1
    if args.check:
        stale = [str(p.relative_to(layout.root)) for p, data in files.items()
                 if not p.is_file() or p.read_bytes() != data]
        print(f"stale: {', '.join(stale)}; run `pactnews adjudication-log`" if stale else "adjudication log up to date")
        return 1 if stale else 0
    write_files_atomically(files)
    print(f"Logged {summary['decisions']} decisions ({summary['agreed_changed']} agreed items changed by the sweep): "
          "annotations/ADJUDICATION.md, annotations/reports/adjudication.json")
    return 0
