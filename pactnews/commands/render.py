"""`pactnews render [--out DIR]`: write the static site of the annotated corpus (pactnews.outputs.site) to site/,
printing the problems shown on its pages and what was rendered."""
from __future__ import annotations

import sys
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.corpus.readers import CorpusError
from pactnews.outputs import site
from pactnews.repo import Layout
from pactnews.validate.validator import emit, refused


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to write the site to (default: site/ in the repository root)")


def run(args) -> int:
    layout = Layout(args.root)
    out = Path(args.out) if args.out else layout.root / "site"
    if refused(layout, "render"):  # one gate: what `pactnews validate` refuses is not rendered
        return 1
    try:
        inputs = site.read_inputs(layout)
        built = site.build_site(inputs["documents"], inputs["clean_texts"], inputs["annotations"],
                                inputs["entity_table"], inputs["cluster_table"], inputs["inv"],
                                inputs["conflict_table"])
        pages = site.render_pages(built, inputs["entity_table"], inputs["cluster_table"], inputs["inv"],
                                  inputs["dataset"])
    except (standoff.FormatError, CorpusError, ValueError, KeyError, OSError) as exc:
        emit(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"FAILED: nothing written to {out}/")
        return 1
    problems = built.all_problems
    for p in problems:
        emit(p, file=sys.stderr)
    try:
        site.write_site(out, pages)
    except OSError as exc:  # a read-only or full disk: one line, no traceback
        emit(f"FAILED: cannot write the site to {out}/: {type(exc).__name__}: {exc.strerror or exc}"
             + (f" ({exc.filename})" if isinstance(exc.filename, str) else ""))
        return 1
    n_docs = len(pages) - 1
    n_ann = len(inputs["annotations"])
    n_spans = sum(len(v.spans) for v in built.views)
    n_conflicts = len(built.conflicts.kept)
    note = f", {len(problems)} problem(s) shown on the pages" if problems else ""
    print(f"Rendered {len(pages)} pages ({n_docs} documents, {n_ann} annotated, {n_spans} spans, "
          f"{n_conflicts} conflict(s){note}): {out / 'index.html'}")
    return 0
