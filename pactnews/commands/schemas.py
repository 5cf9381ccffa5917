"""`pactnews schemas`: write the schemas generated from schemas/labels.yaml (pactnews.outputs.schemas) to
schemas/, or with --check name the ones that are out of date."""
from __future__ import annotations

from pactnews.outputs import schemas
from pactnews.repo import Layout
from pactnews.files import write_files_atomically


def add_arguments(parser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="fail if an exported schema differs from what the inventory gives; write nothing")


def run(args) -> int:
    layout = Layout(args.root)
    files, notes = schemas.render_outputs(layout)
    for note in notes:
        print(f"note: {note}")
    names = [str(p.relative_to(layout.root)) for p in files]
    if args.check:
        stale = [str(p.relative_to(layout.root)) for p, data in files.items()
                 if not p.is_file() or p.read_bytes() != data]
        if stale:
            print(f"FAILED: {len(stale)} exported schema file(s) are out of date with schemas/labels.yaml: "
                  f"{stale}; run `pactnews schemas`")
            return 1
        print(f"schemas/ is up to date ({len(files)} files checked)")
        return 0
    write_files_atomically(files)
    print(f"Exported {len(files)} schema files: {', '.join(names)}")
    return 0
