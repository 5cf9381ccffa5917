"""annotations/GUIDELINES.md holds no answer of the corpus and covers the whole inventory."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GUIDELINES = ROOT / "annotations" / "GUIDELINES.md"
N = 8


def words(text: str) -> list[str]:
    """Lower-cased words, curly apostrophes made straight, white space collapsed (as the check of the
    project's before-stop hook reads them)."""
    return re.sub(r"\s+", " ", text.lower().replace("\u2019", "'")).split(" ")


def shared_sequences(guidelines: str, text: str, n: int = N) -> list[str]:
    g = " " + " ".join(words(guidelines)) + " "
    w = words(text)
    return [" ".join(w[i:i + n]) for i in range(len(w) - n + 1) if " " + " ".join(w[i:i + n]) + " " in g]


def test_the_check_finds_a_planted_sequence():
    text = "the harbour master said that the ferry would not sail before the storm had passed"
    assert shared_sequences("Intro. The harbour master said that the ferry would not sail. End.", text)
    assert not shared_sequences("The harbour master said that the boat would not sail.", text)


@pytest.mark.parametrize("path", sorted((ROOT / "corpus" / "clean").glob("*.txt")), ids=lambda p: p.stem)
def test_no_eight_word_sequence_of_a_clean_text_is_in_the_guidelines(path):
    found = shared_sequences(GUIDELINES.read_text(encoding="utf-8"), path.read_text(encoding="utf-8"))
    assert found == [], f"{len(found)} sequences of {path.name} in the guidelines, e.g. {found[:3]}"


def test_the_guidelines_name_every_label_value_relation_and_conflict_type():
    text = GUIDELINES.read_text(encoding="utf-8")
    inv = yaml.safe_load((ROOT / "schemas" / "labels.yaml").read_text(encoding="utf-8"))
    names = [label for spec in inv["layers"].values() for label in spec["labels"]]
    names += [a for spec in inv["layers"].values() for a in spec.get("attributes") or {}]
    names += [v for values in inv["values"].values() for v in values]
    names += list(inv["relations"]["types"]) + list(inv["conflicts"]["types"])
    missing = sorted({n for n in names if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)})
    assert missing == []
