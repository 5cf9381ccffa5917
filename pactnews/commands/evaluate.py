"""`pactnews evaluate --predictions FILE`: score a system's predictions against the gold with
pactnews.evaluation.scorer, print the figures and optionally write the report as JSON."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pactnews.evaluation import scorer
from pactnews.repo import Layout
from pactnews.files import atomic_write_text, dump_json
from pactnews.validate.validator import refused


def add_arguments(parser) -> None:
    parser.add_argument("--predictions", type=Path, required=True,
                        help="the system's predictions: rows of a config as Parquet or JSONL (entities, timexes, "
                             "claims, conflicts), or IOB2 rows over the ner config's tokens")
    parser.add_argument("--layer", choices=scorer.LAYERS, default=None,
                        help="the layer of the predictions (default: read from their columns)")
    parser.add_argument("--by-document", action="store_true", help="add per-document figures")
    parser.add_argument("--json", type=Path, default=None, dest="json_out", metavar="OUT",
                        help="also write the report as JSON to OUT")


def run(args: argparse.Namespace) -> int:
    if refused(Layout(args.root), "evaluate"):  # one gate: scored against a gold validate accepts, or not at all
        return 1
    try:
        report = scorer.evaluate(args.root, args.predictions, args.layer, args.by_document)
    except scorer.EvaluationError as exc:
        print(f"pactnews evaluate: {exc}", file=sys.stderr)
        return 1
    print(f"{report['input_layer']} predictions of {args.predictions} against the gold of "
          f"{len(report['documents'])} documents (schema {report['schema_version']})")
    print(scorer.table_text(report["layers"]), end="")
    for doc_id, layers in (report.get("by_document") or {}).items():
        print(f"\n{doc_id}")
        print(scorer.table_text(layers), end="")
    if args.json_out:
        try:
            atomic_write_text(args.json_out, dump_json(report))
        except OSError as exc:
            print(f"pactnews evaluate: cannot write {args.json_out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.json_out}")
    return 0
