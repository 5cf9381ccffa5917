"""pactnews.annotations.markup: inline spans -> standoff, exact offsets, and errors that say where."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from pactnews.annotations import standoff
from pactnews.inventory import load_inventory
from pactnews.annotations.markup import MarkupError, compare_text, parse, to_standoff
from pactnews.repo import find_root
from pactnews.files import sha256_text

ROOT = find_root(Path(__file__).parent)
INV = load_inventory(ROOT / "schemas" / "labels.yaml")
DOC = "000_c7af0f0315e9c0dc"
CLEAN = (ROOT / "corpus" / "clean" / f"{DOC}.txt").read_text(encoding="utf-8")
SHA = sha256_text(CLEAN)


def mark(edits: list[tuple[str, str]], text: str = CLEAN) -> str:
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


SOURCE_SENTENCE = ("United States and South Korean officials reported on Wednesday that an estimated 3,000 North Korean "
                   "troops had been observed at multiple locations across Russia.")
MARKED_SENTENCE = ("[United States and South Korean officials]{SOURCE @s1} [reported]{CUE @q1} on "
                   "[Wednesday]{DATE 2024-10-23} that [an estimated [3,000]{CARDINAL cardinal-3000} "
                   "[North Korean]{NORP north-korean} troops had been observed at multiple locations across "
                   "[Russia]{GPE russia}]{CLAIM src=@s1 cue=@q1 fact=hedged cluster=nk-troops qty=3,000 approx=approximate unit=person unit_text=troops}.")
YOON = ("Yoon said during", "[Yoon]{PERSON yoon-suk-yeol @y} [said]{CUE @q2} during")
YOON_CLAIM = ("we will support Ukraine in stages",
              "[we will support [Ukraine]{GPE ukraine} in stages]{CLAIM src=@y cue=@q2 fact=asserted cluster=support}")
AUTHOR_CLAIM = ("Russia’s lower house of parliament unanimously approved a treaty",
                "[[Russia]{GPE russia}’s lower house of parliament unanimously approved a treaty]"
                "{CLAIM src=author cluster=duma}")


def convert(markup: str) -> dict:
    return to_standoff(markup, CLEAN, DOC, SHA, INV, where="m.txt")


def test_offsets_are_computed_and_texts_match():
    doc = convert(mark([(SOURCE_SENTENCE, MARKED_SENTENCE), YOON, YOON_CLAIM, AUTHOR_CLAIM]))
    for layer in standoff.SPAN_LAYERS:
        for rec in doc[layer]:
            assert CLEAN[rec["start"]:rec["end"]] == rec["text"], rec
    texts = {layer: [r["text"] for r in doc[layer]] for layer in standoff.SPAN_LAYERS}
    assert texts["entities"] == ["Russia", "Ukraine", "Yoon", "3,000", "North Korean", "Russia"]
    assert texts["timexes"] == ["Wednesday"]
    assert texts["attributions"] == ["said", "United States and South Korean officials", "reported"]
    assert [r["id"] for r in doc["entities"]] == ["E1", "E2", "E3", "E4", "E5", "E6"]  # in text order


def test_claim_attributes_and_relations():
    doc = convert(mark([(SOURCE_SENTENCE, MARKED_SENTENCE), YOON, YOON_CLAIM, AUTHOR_CLAIM]))
    claims = {c["text"]: c for c in doc["claims"]}
    author = claims["Russia’s lower house of parliament unanimously approved a treaty"]
    assert (author["source_type"], author["factuality"], author["cluster_id"]) == ("author", "asserted", "duma")
    yoon = claims["we will support Ukraine in stages"]
    assert yoon["source_type"] == "entity"
    count = claims["an estimated 3,000 North Korean troops had been observed at multiple locations across Russia"]
    assert (count["source_type"], count["factuality"], count["quantity_value"], count["quantity_approximation"],
            count["quantity_unit"], count["quantity_surface_unit"]) == (
        "unnamed", "hedged", 3000.0, "approximate", "person", "troops")
    by_id = {r["id"]: r for layer in standoff.SPAN_LAYERS for r in doc[layer]}
    relations = sorted((by_id[r["from_id"]]["text"][:12], r["label"], by_id[r["to_id"]]["text"])
                       for r in doc["relations"])
    assert relations == [("an estimated", "claim_cue", "reported"),
                         ("an estimated", "claim_source", "United States and South Korean officials"),
                         ("we will supp", "claim_cue", "said"), ("we will supp", "claim_source", "Yoon")]
    assert not any(r["from_id"] == author["id"] for r in doc["relations"])
    assert all(r["id"].startswith("R") for r in doc["relations"])


def test_conversion_is_deterministic_and_round_trips_through_the_file_format():
    markup = mark([(SOURCE_SENTENCE, MARKED_SENTENCE), YOON, YOON_CLAIM, AUTHOR_CLAIM])
    a, b = standoff.dumps(convert(markup)), standoff.dumps(convert(markup))
    assert a == b
    assert standoff.dumps(standoff.loads(a.encode("utf-8"))) == a


def test_parse_strips_markup_and_escapes():
    text, spans = parse(r"a [b \[c\] [d]{X 1}]{Y} \{e\} \\")
    assert text == "a b [c] d {e} \\"
    assert [(s["text"], s["tag"]) for s in spans] == [("d", "X 1"), ("b [c] d", "Y")]
    assert [(s["start"], s["end"]) for s in spans] == [(8, 9), (2, 9)]


def test_every_pass_markup_file_converts_to_its_committed_standoff():
    for pass_dir in sorted((ROOT / "annotations" / "passes").glob("*/markup")):
        for path in sorted(pass_dir.glob("*.txt")):
            clean = (ROOT / "corpus" / "clean" / f"{path.stem}.txt").read_text(encoding="utf-8")
            doc = to_standoff(path.read_text(encoding="utf-8"), clean, path.stem, sha256_text(clean), INV, str(path))
            committed = pass_dir.parent / f"{path.stem}.json"
            if committed.is_file():
                assert standoff.dumps(doc) == committed.read_text(encoding="utf-8"), path


# ---- errors name the place ------------------------------------------------------------------

@pytest.mark.parametrize("markup, message", [
    ("a [b", r"m.txt:1:3: '\[' is never closed"),
    ("a b]{X}", r"m.txt:1:4: '\]' closes no '\['"),
    ("a [b] c", r"m.txt:1:5: '\]' must be followed by"),
    ("a [b]{X\n}", r"m.txt:1:5: unterminated"),
    ("a }", r"m.txt:1:3: stray '}'"),
    ("x\ny [b]{X}{", r"m.txt:2:9: stray '{'"),
])
def test_syntax_errors_give_line_and_column(markup, message):
    with pytest.raises(MarkupError, match=message):
        parse(markup, "m.txt")


def test_text_that_differs_from_the_clean_text_is_located():
    with pytest.raises(MarkupError) as err:
        compare_text("abcXef", "abcdef", "m.txt")
    assert "character 3 (line 1)" in str(err.value) and "'abcdef'" in str(err.value) and "'abcXef'" in str(err.value)
    changed = mark([("Seoul’s Ministry", "[Seoul]{GPE seoul}'s Ministry")])  # straight apostrophe
    with pytest.raises(MarkupError, match=r"differs from the clean text at character 517 \(line 7\)"):
        convert(changed)


BAD_TAGS = [  # replacements for "Seoul’s Ministry" (line 7, column 1 of document 000)
    ("[Seoul]{CITY seoul}’s Ministry", "unknown label 'CITY'"),
    ("[Seoul]{GPE}’s Ministry", "exactly one entity id"),
    ("[Seoul]{GPE seoul seoul-2}’s Ministry", "exactly one entity id"),
    ("[Seoul]{GPE seoul @a @b}’s Ministry", "two handles"),
    ("[Seoul]{CUE seoul}’s Ministry", "other attribution labels nothing"),
    ("[Seoul]{DATE}’s Ministry", "exactly one TIMEX3 value"),
    ("[Seoul’s ]{GPE seoul}Ministry", "white space"),
    ("[Seoul]{CLAIM cluster=x}’s Ministry", "needs src="),
    ("[Seoul]{CLAIM src=author}’s Ministry", "needs cluster="),
    ("[Seoul]{CLAIM src=author cluster=x qty=3}’s Ministry", "qty= needs unit="),
    ("[Seoul]{CLAIM src=author cluster=x unit=person}’s Ministry", "given without qty="),
    ("[Seoul]{CLAIM src=author cluster=x qty=three unit=person unit_text=troops}’s Ministry", "qty must be a number"),
    ("[Seoul]{CLAIM src=author cluster=x qty=1e309 unit=person unit_text=troops}’s Ministry", "qty must be a finite number"),
    ("[Seoul]{CLAIM src=author cluster=x qty=3 unit=troops unit_text=troops}’s Ministry", "quantity_unit 'troops' is not one of"),
    ("[Seoul]{CLAIM src=author cluster=x qty=3 qty_high=5 unit=person unit_text=troops}’s Ministry", "qty_high= goes with approx=range"),
    ("[Seoul]{CLAIM src=author cluster=x qty=5 qty_high=3 approx=range unit=person unit_text=troops}’s Ministry", "must be above"),
    ("[Seoul]{CLAIM src=author cluster=x fact=maybe}’s Ministry", "factuality 'maybe' is not one of"),
    ("[Seoul]{CLAIM src=author cluster=x modality=later}’s Ministry", "modality 'later' is not one of"),
    ("[Seoul]{CLAIM src=author cluster=x time=@nowhere}’s Ministry", "@nowhere names no span"),
    ("[Seoul]{CLAIM src=author cluster=x time=@g}’s [Ministry]{ORG ministry @g}", "must name a time expression"),
    ("[Seoul]{DATE 2024 mod=LATE}’s Ministry", "mod 'LATE' is not one of"),
    ("[Seoul]{CLAIM src=author cluster=x colour=red}’s Ministry", "unknown claim attributes"),
    ("[Seoul]{CLAIM src=@nobody cluster=x}’s Ministry", "@nobody names no span"),
    ("[Seoul]{CLAIM src=q cluster=x}’s Ministry", "references are written @handle"),
]


@pytest.mark.parametrize("replacement, message", BAD_TAGS, ids=[m for _, m in BAD_TAGS])
def test_bad_spans_are_refused_with_their_place(replacement, message):
    with pytest.raises(MarkupError) as err:
        convert(mark([("Seoul’s Ministry", replacement)]))
    assert message in str(err.value)
    assert str(err.value).startswith("m.txt:7:1 [Seoul")


def test_references_must_point_to_the_right_kind_of_span():
    cue_as_source = mark([YOON, ("we will support Ukraine in stages",
                                 "[we will support Ukraine in stages]{CLAIM src=@q2 cluster=x}")])
    with pytest.raises(MarkupError, match="must name an entity mention or a SOURCE span"):
        convert(cue_as_source)
    entity_as_cue = mark([YOON, ("we will support Ukraine in stages",
                                 "[we will support Ukraine in stages]{CLAIM src=@y cue=@y cluster=x}")])
    with pytest.raises(MarkupError, match="must name a CUE span"):
        convert(entity_as_cue)
    twice = mark([YOON, ("Andrzej Duda.", "[Andrzej Duda]{PERSON andrzej-duda @y}.")])
    with pytest.raises(MarkupError, match="handle @y is used twice"):
        convert(twice)


# ---- property: random spans written as markup come back with their offsets ---------------

@st.composite
def flat_spans(draw):
    """Non-overlapping spans over the clean text, none starting or ending with white space."""
    cuts = sorted(draw(st.sets(st.integers(0, len(CLEAN)), min_size=2, max_size=16)))
    spans = []
    for s, e in zip(cuts[::2], cuts[1::2]):
        while s < e and CLEAN[s].isspace():
            s += 1
        while e > s and CLEAN[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e, draw(st.sampled_from(INV.labels("entities")))))
    return spans


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in "[]{}\\" else ch for ch in text)


@settings(max_examples=60, deadline=None, database=None)
@given(flat_spans())
def test_random_spans_survive_markup(spans):
    parts, at = [], 0
    for k, (s, e, label) in enumerate(spans):
        parts.append(_escape(CLEAN[at:s]))
        parts.append(f"[{_escape(CLEAN[s:e])}]{{{label} id-{k}}}")
        at = e
    parts.append(_escape(CLEAN[at:]))
    doc = convert("".join(parts))
    assert [(r["start"], r["end"], r["label"], r["entity_id"]) for r in doc["entities"]] == [
        (s, e, label, f"id-{k}") for k, (s, e, label) in enumerate(spans)]
    assert json.loads(standoff.dumps(doc))["entities"] == doc["entities"]
