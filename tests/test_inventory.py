"""schemas/labels.yaml is the single source: renaming labels, values and relation types there (and in the
data) is enough for every generated artefact to follow."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import yaml

import buildkit
from pactnews.repo import Layout

# old name -> new name, by kind
RENAMES = {
    "label": {"SOURCE": "ORIGIN_SPAN", "CUE": "TRIGGER", "CLAIM": "ASSERTION"},
    "relation": {"claim_source": "said_by"},
    "factuality": {"denied": "refuted", "uncommitted": "noncommittal"},
    "source_type": {"author": "narrator"},
    "conflict_type": {"figure": "numbers"},
}


def renamed_inventory(raw: dict) -> dict:
    """The inventory with every name of RENAMES changed where it is defined and where roles point to it."""
    raw = json.loads(json.dumps(raw))
    lab, rel = RENAMES["label"], RENAMES["relation"]
    for spec in raw["layers"].values():
        spec["labels"] = {lab.get(k, k): v for k, v in spec["labels"].items()}
    raw["attribute_labels"] = {k: [lab.get(x, x) for x in v] for k, v in raw["attribute_labels"].items()}
    raw["relations"]["types"] = {rel.get(k, k): v for k, v in raw["relations"]["types"].items()}
    for spec in raw["relations"]["types"].values():
        spec["to"] = [t.split(":")[0] + (":" + lab.get(t.split(":")[1], t.split(":")[1]) if ":" in t else "")
                      for t in spec["to"]]
    for attr in ("factuality", "source_type"):
        raw["values"][attr] = {RENAMES[attr].get(k, k): v for k, v in raw["values"][attr].items()}
        raw["roles"][attr] = {k: RENAMES[attr].get(v, v) for k, v in raw["roles"][attr].items()}
    raw["conflicts"]["types"] = {RENAMES["conflict_type"].get(k, k): v for k, v in raw["conflicts"]["types"].items()}
    raw["roles"]["conflict_type"] = {k: RENAMES["conflict_type"].get(v, v) for k, v in raw["roles"]["conflict_type"].items()}
    for key in ("source_label", "cue_label", "claim_label"):
        raw["roles"][key] = lab[raw["roles"][key]]
    raw["roles"]["source_relation"] = rel[raw["roles"]["source_relation"]]
    return raw


def rename_data(root: Path) -> None:
    """The annotation files and tables under the new names (as a migration would write them)."""
    swaps = [(f'"label": "{o}"', f'"label": "{n}"') for o, n in {**RENAMES["label"], **RENAMES["relation"]}.items()]
    swaps += [(f'"factuality": "{o}"', f'"factuality": "{n}"') for o, n in RENAMES["factuality"].items()]
    swaps += [(f'"source_type": "{o}"', f'"source_type": "{n}"') for o, n in RENAMES["source_type"].items()]
    swaps += [(f'"type": "{o}"', f'"type": "{n}"') for o, n in RENAMES["conflict_type"].items()]
    for p in list((root / "annotations").glob("*.json")) + list((root / "annotations" / "tables").glob("*.json")):
        text = p.read_text(encoding="utf-8")
        for old, new in swaps:
            text = text.replace(old, new)
        p.write_text(text, encoding="utf-8")


def test_renamed_labels_and_values_flow_into_every_generated_artefact(tmp_path):
    root = buildkit.prepare(tmp_path / "repo", "fixture")
    labels = Layout(root).labels
    text = yaml.safe_dump(renamed_inventory(yaml.safe_load(labels.read_text(encoding="utf-8"))),
                          allow_unicode=True, sort_keys=False)
    for old, new in {**RENAMES["label"], **RENAMES["relation"]}.items():  # and in the descriptions' prose
        text = re.sub(rf"(?<![\w-]){old}(?![\w-])", new, text)
    labels.write_text(text, encoding="utf-8")
    rename_data(root)
    for verb in ("schemas", "validate", "build"):
        rc, out = buildkit.run_cli(root, verb, *(["--quiet"] if verb == "build" else []))
        assert rc == 0, f"{verb}: {out}"
    generated = {
        "pandera": "\n".join(p.read_text(encoding="utf-8") for p in sorted((root / "schemas" / "pandera").glob("*.yaml"))),
        "json schema": (root / "schemas" / "standoff.schema.json").read_text(encoding="utf-8"),
        "label studio": (root / "schemas" / "labelstudio.xml").read_text(encoding="utf-8"),
        # the dataset features travel in each Parquet file's schema metadata (the card does not repeat them)
        "features": "\n".join(pq.read_schema(f).metadata[b"huggingface"].decode("utf-8")
                              for f in sorted((root / "data").rglob("*.parquet"))),
        "datasheet": (root / "DATASHEET.md").read_text(encoding="utf-8"),
    }
    for kind, names in RENAMES.items():
        for old, new in names.items():
            for what, text in generated.items():
                if what == "label studio" and kind in ("conflict_type",):
                    continue  # conflicts are not annotated in Label Studio
                if what in ("pandera", "json schema") and kind == "conflict_type":
                    continue  # the span tables have no conflict types
                assert re.search(rf"(?<![\w-]){re.escape(new)}(?![\w-])", text), f"{new} missing from {what}"
                if kind in ("label", "relation"):  # value names are English words the prose may use
                    assert not re.search(rf"(?<![\w./-]){re.escape(old)}(?![\w-])", text), f"{old} still in {what}"
