"""The committed repository is consistent: every generated file is what its generator gives now.

These run the real `--check` modes against the repository root (they write nothing there),
so CI fails when corpus/clean/, schemas/, data/, the card, croissant.json, the manifest or
the datasheet are out of date with corpus/ + annotations/ + schemas/labels.yaml.
"""
import hashlib
from pathlib import Path

import pytest

from pactnews.cli import main
from pactnews.repo import Layout
from pactnews.validate.validator import validate_repository

ROOT = Path(__file__).resolve().parent.parent


GENERATED = ["corpus", "schemas", "annotations", "data", "README.md", "croissant.json", "MANIFEST.json", "DATASHEET.md"]


def tracked_state() -> dict[str, str]:
    """sha256 of every file under the inputs and generated outputs."""
    out = {}
    for name in GENERATED:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            out[str(f.relative_to(ROOT))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("argv", [
    ["clean", "--check"],
    ["schemas", "--check"],
    ["build", "--check"],
    ["adjudication-log", "--check"],
], ids=lambda a: " ".join(a))
def test_generated_files_are_up_to_date(argv, capsys):
    before = tracked_state()
    code = main(["--root", str(ROOT), *argv])
    out = capsys.readouterr().out
    assert code == 0, out
    assert tracked_state() == before, "a --check run changed the repository"


def test_gold_annotations_validate():
    incidents = validate_repository(Layout(ROOT))
    assert incidents == [], "\n".join(map(str, incidents[:20]))


def test_every_document_has_gold_in_every_layer():
    import json

    from pactnews.corpus.readers import read_metadata

    layout = Layout(ROOT)
    for rec in read_metadata(layout):
        doc = json.loads(layout.annotation_file(rec["id"]).read_text(encoding="utf-8"))
        for layer in ("entities", "timexes", "attributions", "claims", "relations"):
            assert doc[layer], f"{rec['id']} has no {layer}"


def test_the_gold_is_the_adjudicated_markup_converted():
    """annotations/*.json and the tables are what `pactnews markup` makes of annotations/passes/adjudicated/."""
    from pactnews.annotations import standoff
    from pactnews.annotations import tables
    from pactnews.commands.markup import convert_pass, fill_findings
    from pactnews.inventory import default_inventory

    layout = Layout(ROOT)
    docs, entities, clusters, conflicts, errors = convert_pass(layout, layout.passes / "adjudicated")
    fill_findings(conflicts, docs, entities, default_inventory(ROOT), errors)
    assert errors == []
    for doc_id, doc in docs.items():
        assert layout.annotation_file(doc_id).read_text(encoding="utf-8") == standoff.dumps(doc), doc_id
    assert layout.entity_table.read_text(encoding="utf-8") == tables.dumps_entities(entities)
    assert layout.cluster_table.read_text(encoding="utf-8") == tables.dumps_clusters(clusters)
    assert layout.conflict_table.read_text(encoding="utf-8") == tables.dumps_conflicts(conflicts)
