"""`pactnews hydrate --texts DIR`: the full edition from an annotations-only edition and your own articles.

The logic is pactnews.outputs.editions; this verb reads an edition, not a
repository, so it looks for no repository root.
"""
from __future__ import annotations

from pathlib import Path

from pactnews.outputs import editions


def add_arguments(parser) -> None:
    parser.add_argument("--texts", type=Path, required=True, metavar="DIR",
                        help="folder with your copies of the raw article files, each named as the last part of "
                             "its documents.metadata.raw_file (e.g. 000_c7af0f0315e9c0dc.txt)")
    parser.add_argument("--edition", type=Path, default=Path("."), metavar="DIR",
                        help="the annotations-only edition (default: the current folder)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write the full edition (default: the edition's folder name plus -full, "
                             "beside it)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    parser.set_defaults(root=Path("."))  # an edition is not a repository: no root is looked for


def run(args) -> int:
    edition_dir = Path(args.edition).resolve()
    out = args.out or edition_dir.with_name(f"{edition_dir.name}-full")
    try:
        edition, documents, files = editions.hydrate(edition_dir, args.texts, out, args.force)
    except editions.HydrationError as exc:
        for line in exc.problems:
            print(line)
        print(exc.summary)
        return 1
    except OSError as exc:
        print(f"FAILED: {exc}; nothing written")
        return 1
    print(f"Hydrated {documents} articles into the full edition of {edition['name']} {edition['version']}, "
          f"{files} files, byte for byte as published: {out}")
    return 0
