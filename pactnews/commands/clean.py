"""`pactnews clean`: raw articles -> corpus/clean/<id>.txt and <id>.map.json."""
from __future__ import annotations

from ..clean import clean_batch, load_rules
from ..corpus import read_documents
from ..repo import Layout, dump_json, write_files_atomically


def add_arguments(parser) -> None:
    parser.add_argument("--check", action="store_true", help="fail if corpus/clean/ is not what the rules give; write nothing")


def render_outputs(layout: Layout) -> dict:
    """Everything `clean` writes, as path -> bytes (pure apart from reading the inputs)."""
    docs = clean_batch(read_documents(layout), load_rules(layout.cleaning_rules))
    files = {}
    for doc in docs:
        files[layout.clean / f"{doc['id']}.txt"] = doc["text"].encode("utf-8")
        record = {"document_id": doc["id"], "raw_sha256": doc["raw_sha256"], **doc["cleaning"].to_record()}
        files[layout.clean / f"{doc['id']}.map.json"] = dump_json(record).encode("utf-8")
    return files


def run(args) -> int:
    layout = Layout(args.root)
    files = render_outputs(layout)
    if args.check:
        stale = [str(p.relative_to(layout.root)) for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
        if stale:
            print(f"FAILED: corpus/clean/ is out of date with the raw files and rules: {stale}; run `pactnews clean`")
            return 1
        print(f"corpus/clean/ is up to date ({len(files) // 2} documents)")
        return 0
    write_files_atomically(files)
    print(f"Cleaned {len(files) // 2} documents: {layout.clean.relative_to(layout.root)}/")
    return 0
