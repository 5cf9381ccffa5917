"""`pactnews preannotate`: pre-annotate the corpus (pactnews.annotations.preannotate), print each component's
time and the scores against the gold, and write the suggestions and annotations/reports/preannotation_scores.json."""
from __future__ import annotations

from pathlib import Path

from pactnews.annotations import preannotate, standoff
from pactnews.inventory import default_inventory
from pactnews.corpus.readers import read_gold
from pactnews.labelstudio.readers import read_corpus, read_tables
from pactnews.repo import Layout
from pactnews.files import dump_json, write_files_atomically
from pactnews.validate.validator import refused


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, help="also write the suggestions as standoff files to this folder")
    parser.add_argument("--spacy-model", help="name or path of an installed spaCy pipeline whose entities are added "
                        "(never downloaded)")
    parser.add_argument("--no-write", action="store_true", help="print the scores only; write no file")


def run(args) -> int:
    layout = Layout(args.root)
    if refused(layout, "preannotate"):  # one gate: the texts, gold and tables validate accepts, or nothing
        return 1
    inv = default_inventory(layout.root)
    corpus = read_corpus(layout)
    gold = read_gold(layout, [r["document_id"] for r in corpus])
    entity_table, _ = read_tables(layout)
    predicted, timings, version = preannotate.predict_corpus(corpus, entity_table, gold, inv,
                                                             leave_one_out=bool(gold), spacy_model=args.spacy_model)
    files = {}
    if args.out:
        for doc_id, doc in predicted.items():
            files[args.out / f"{doc_id}.json"] = standoff.dumps(doc).encode("utf-8")
    if timings:
        _print_timings(timings)
    if gold:
        scores = preannotate.score(predicted, gold, inv)
        report = {"model_version": version, "mode": "leave-one-document-out", "documents": sorted(gold),
                  "spacy_model": args.spacy_model, **scores}
        print(preannotate.markdown_table(scores), end="")
        files[layout.annotations / "reports" / "preannotation_scores.json"] = dump_json(report).encode("utf-8")
    if args.no_write:
        print(f"Pre-annotated {len(predicted)} documents ({version}); nothing written")
        return 0
    write_files_atomically(files)
    written = ", ".join(str(p.relative_to(layout.root)) if p.is_relative_to(layout.root) else str(p)
                        for p in sorted(files)[:3]) + (" …" if len(files) > 3 else "")
    if not gold:
        print(f"Pre-annotated {len(predicted)} documents ({version}); no gold annotations yet, nothing scored"
              + (f": {written}" if files else ""))
    else:
        print(f"Pre-annotated and scored {len(predicted)} documents against {len(gold)} gold files: {written}")
    return 0


def _print_timings(timings) -> None:
    """The seconds of each component, slowest first, and the slowest named."""
    total = sum(timings.values())
    print("| component | seconds | share |\n|---|---:|---:|")
    for name, sec in timings.most_common():
        print(f"| {name} | {sec:.3f} | {sec / total:.0%} |")
    slowest = timings.most_common(1)[0]
    print(f"slowest component: {slowest[0]} ({slowest[1]:.3f} s of {total:.3f} s)\n")
