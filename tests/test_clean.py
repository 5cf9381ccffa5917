"""pactnews.corpus.cleaning: what cleaning removes from each seed, and an exact raw<->clean projection."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from pactnews.corpus.cleaning import Cleaned, clean_batch, clean_text, load_rules, parse_rules
from pactnews.corpus.readers import read_documents
from pactnews.repo import Layout, find_root

ROOT = find_root(Path(__file__).parent)
LAYOUT = Layout(ROOT)
RULES = load_rules(LAYOUT.cleaning_rules)
DOCS = {d["id"]: d for d in clean_batch(read_documents(LAYOUT), RULES)}

AD_URL = "https://www.cpmrevenuegate.com/vt6hstxc?key=785582df3563a5011d6a42a72f53041eh\n"

# (reason, removed raw text) for every removal, in raw order, read off the seeds
REMOVALS = {
    "000_c7af0f0315e9c0dc": [("trailing_whitespace", "\n\n"), ("share_button", "Share this post")],
    "001_69d675cf0e69e825": [
        ("metadata_date_prefix", " date 2024-10-25 "),
        ("inline_related_headline", "Russia Putin says US relations with Russia will depend on presidential election "),
        ("inline_related_headline",
         "Russia US accuses Russia of withholding access for detained American Stephen Hubbard "),
    ],
    "002_b6446a1b2c005969": [("spam_url_line", AD_URL)] * 5,
    "003_4dc299c40bab5478": [],
    "004_c055902274b992f8": [
        ("see_also_link", "See also\u00a0 Putin establishes a nuclear boundary for West\n\n"),
        ("see_also_link", "See also\u00a0 The ammunition that Russia receives from North Korea is a big problem "
                          "for our forces, the intelligence chief of Ukraine\n\n"),
        ("trailing_whitespace", "\n\n\n"),
        ("subscribe_comment_footer", None),  # from "Discover more from" to the end, checked below
    ],
}

# sentences that must survive, and where each clean text starts and ends
KEPT = {
    "000_c7af0f0315e9c0dc": [
        "South Korea has voiced “grave concern” over Russia’s initiative to establish a defense pact with North Korea",
        "Yoon said during a joint news conference with Polish President Andrzej Duda.",
        "dismissed the troop deployment claims as “groundless, stereotyped rumors.”",
    ],
    "001_69d675cf0e69e825": [
        "© STR / KCNA VIA KNS / AFP On Thursday, Russian lawmakers voted unanimously",
        "© Alexander NEMENOV / POOL / AFP Russian President Vladimir Putin said",
        "\"I mean to say that it's our sovereign decision",
        "he added. Seoul and Washington have long claimed",
        "Putin responds to criticism of Russian defense treaty with North Korea",
    ],
    "002_b6446a1b2c005969": [
        "Reports from Ukrainian military intelligence claim that around 3,000 North Korean troops",
        "Implications for Global Security",
    ],
    "003_4dc299c40bab5478": [
        "South Korea’s spy agency has reported that approximately 1,500 North Korean soldiers",
        "There are reports suggests that as many as 12,000 North Korean soldiers might be deployed",
    ],
    "004_c055902274b992f8": [
        "Hanwha Aerospace has also finalized a $1.64 billion agreement with Poland",
        "“Queen Kim Keon Hee, a figure who rivals Marie Antoinette, the epitome of luxury and indulgence.”",
        "his nation’s “dearest friend.”",
    ],
}
STARTS = {
    "000_c7af0f0315e9c0dc": "South Korea denounces Russia’s decision to finalize a defense pact with North Korea.\n\n",
    "001_69d675cf0e69e825": "South Korea has voiced \"grave concern\" on Friday as Russia moved to ratify",
    "002_b6446a1b2c005969": "South Korea has expressed strong disapproval and “grave concern”",
    "003_4dc299c40bab5478": "South Korea is demanding the immediate withdrawal of North Korean troops from Russia",
    "004_c055902274b992f8": "Russia ready to ratify defense agreement with North Korea, South Korea issue a warning\n\n",
}
ENDS = {
    "000_c7af0f0315e9c0dc": "as “groundless, stereotyped rumors.”",
    "004_c055902274b992f8": "the epitome of luxury and indulgence.”",
}
BOILERPLATE = ["https://", "cpmrevenuegate", "Share this post", "See also", "Discover more from", "Leave a Reply",
               "date 2024-10-25", "Putin says US relations with Russia will depend", "withholding access for detained"]


def test_the_five_seeds_are_there():
    assert sorted(DOCS) == sorted(REMOVALS)


@pytest.mark.parametrize("doc_id", sorted(REMOVALS))
def test_each_removal_has_its_reason_and_text(doc_id):
    doc = DOCS[doc_id]
    raw, cleaned = doc["raw_text"], doc["cleaning"]
    found = [(why, raw[s:e]) for s, e, why in cleaned.removed]
    expected = REMOVALS[doc_id]
    assert [w for w, _ in found] == [w for w, _ in expected]
    for (why, text), (_, want) in zip(found, expected):
        if want is not None:
            assert text == want, why
    assert cleaned.substituted == []  # the seeds' no-break spaces all sit in removed "See also" lines
    assert "\u00a0" not in doc["text"]


def test_004_footer_runs_from_discover_more_to_the_end():
    doc = DOCS["004_c055902274b992f8"]
    raw = doc["raw_text"]
    [(s, e)] = [(s, e) for s, e, why in doc["cleaning"].removed if why == "subscribe_comment_footer"]
    assert raw[s:].startswith("Discover more from Defence Talks | Defense News Military Pictures")
    assert e == len(raw)
    assert raw[s:e].rstrip().endswith("Required fields are marked *")


def test_counts_are_per_reason():
    assert DOCS["002_b6446a1b2c005969"]["cleaning"].counts() == {"spam_url_line": 5}
    assert DOCS["001_69d675cf0e69e825"]["cleaning"].counts() == {"inline_related_headline": 2,
                                                                  "metadata_date_prefix": 1}
    assert DOCS["003_4dc299c40bab5478"]["cleaning"].counts() == {}


def test_003_is_unchanged():
    doc = DOCS["003_4dc299c40bab5478"]
    assert doc["text"] == doc["raw_text"]
    assert doc["cleaning"].segments == [(0, 0, len(doc["raw_text"]))]


@pytest.mark.parametrize("doc_id", sorted(KEPT))
def test_content_survives_and_boilerplate_does_not(doc_id):
    text = DOCS[doc_id]["text"]
    for sentence in KEPT[doc_id]:
        assert sentence in text, sentence
    assert text.startswith(STARTS[doc_id])
    if doc_id in ENDS:
        assert text.endswith(ENDS[doc_id])
    for junk in BOILERPLATE:
        assert junk not in text, junk
    assert text == text.strip()


def test_headline_of_001_keeps_its_own_sentence():
    text = DOCS["001_69d675cf0e69e825"]["text"]
    # the related headline sat inside a paragraph: removing it joins the neighbours with one space
    assert "Russia's ratification of the Russia-North Korea treaty amidst the ongoing deployment of North Korean " \
           "troops to Russia,\" the foreign ministry said in a statement. It added that" in text


# ---- the projection is exact ---------------------------------------------------------------

def assert_exact(raw: str, c: Cleaned) -> None:
    """Every clean character comes from its raw character; every raw character is kept or removed."""
    subs = {o: (found, repl) for o, found, repl, _ in c.substituted}
    previous = -1
    for i, ch in enumerate(c.text):
        j = c.to_raw(i)
        assert j > previous, "to_raw must increase"
        previous = j
        if j in subs:
            assert (raw[j], ch) == subs[j]
        else:
            assert raw[j] == ch, (i, j)
        assert c.to_clean(j) == i
    assert c.to_raw(len(c.text)) == (c.segments[-1][1] + c.segments[-1][2] if c.segments else 0)
    covered = [0] * len(raw)
    for _, r, n in c.segments:
        for j in range(r, r + n):
            covered[j] += 1
    for s, e, _ in c.removed:
        assert s < e
        for j in range(s, e):
            covered[j] += 1
            assert c.to_clean(j) is None
    assert covered == [1] * len(raw), "kept and removed runs must partition the raw text"
    assert c.span_to_raw(0, len(c.text)) == [(r, r + n) for _, r, n in c.segments]
    assert sum(n for *_, n in c.segments) == len(c.text)
    assert c.raw_length == len(raw)


@pytest.mark.parametrize("doc_id", sorted(REMOVALS))
def test_projection_is_exact_for_every_character_of_the_seeds(doc_id):
    assert_exact(DOCS[doc_id]["raw_text"], DOCS[doc_id]["cleaning"])


def test_span_to_raw_splits_around_a_removal():
    doc = DOCS["001_69d675cf0e69e825"]
    c, raw = doc["cleaning"], doc["raw_text"]
    anchor = c.text.index("in a statement. It added")
    runs = c.span_to_raw(anchor, anchor + len("in a statement. It added"))
    assert len(runs) == 2
    assert raw[runs[0][0]:runs[0][1]] == "in a statement. "
    assert raw[runs[1][0]:runs[1][1]] == "It added"
    assert raw[runs[0][1]:runs[1][0]].startswith("Russia Putin says")


# ---- property tests on random texts and rules --------------------------------------------

ALPHABET = list("ab \n\u00a0X")
REGEXES = [r"a+", r"^X.*\n", r"\s+\Z", r"\A\s+", r"b a", r"^$\n", r"(?<=a)b"]


@st.composite
def rule_sets(draw):
    removals = []
    for k in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            removals.append({"name": f"regex_{k}", "kind": "regex", "pattern": draw(st.sampled_from(REGEXES))})
        else:
            strings = draw(st.lists(st.text(st.sampled_from(ALPHABET), min_size=1, max_size=3), min_size=1, max_size=2))
            removals.append({"name": f"literal_{k}", "kind": "literal", "strings": strings})
    subs = []
    if draw(st.booleans()):
        subs.append({"name": "nbsp", "kind": "substitute", "chars": "\u00a0", "replacement": " "})
    if draw(st.booleans()):
        subs.append({"name": "x_to_y", "kind": "substitute", "chars": "Xb", "replacement": "Y"})
    return {"removals": removals, "substitutions": subs}


def reference_clean(raw: str, spec: dict) -> str:
    """The same rules applied the plain way, without any offset bookkeeping."""
    text = raw
    for r in spec["removals"]:
        if r["kind"] == "regex":
            text = re.sub(r["pattern"], "", text, flags=re.MULTILINE)
        else:
            text = re.sub("|".join(re.escape(s) for s in r["strings"]), "", text)
    for s in spec["substitutions"]:
        text = "".join(s["replacement"] if ch in s["chars"] else ch for ch in text)
    return text


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(st.sampled_from(ALPHABET), max_size=60), rule_sets())
def test_random_texts_and_rules_project_exactly(raw, spec):
    cleaned = clean_text(raw, parse_rules(spec))
    assert cleaned.text == reference_clean(raw, spec)
    assert_exact(raw, cleaned)
    names = {r["name"] for r in spec["removals"]} | {s["name"] for s in spec["substitutions"]}
    assert set(cleaned.counts()) <= names
    assert cleaned.removed == sorted(cleaned.removed)


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(st.sampled_from(ALPHABET), max_size=60), rule_sets())
def test_cleaning_is_deterministic(raw, spec):
    a, b = clean_text(raw, parse_rules(spec)), clean_text(raw, parse_rules(spec))
    assert a.to_record() == b.to_record() and a.text == b.text


@pytest.mark.parametrize("spec, message", [
    ({"removals": [{"name": "Bad-Name", "kind": "regex", "pattern": "a"}]}, "snake_case name"),
    ({"removals": [{"name": "a", "kind": "regex", "pattern": "a"}, {"name": "a", "kind": "literal", "strings": ["b"]}]},
     "used twice"),
    ({"removals": [{"name": "a", "kind": "glob", "pattern": "a"}]}, "unknown kind"),
    ({"substitutions": [{"name": "a", "kind": "substitute", "chars": "x", "replacement": "yy"}]}, "one character"),
])
def test_bad_rules_are_refused_with_their_place(spec, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_rules(spec, "rules.yaml")
    assert "rules.yaml:" in str(err.value)


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(st.sampled_from(list("abcX\u00a0 ")), max_size=40), st.text(st.sampled_from(list("abX\u00a0")), min_size=1,
                                                                           max_size=3), st.sampled_from(list("ab ")))
def test_a_substitution_is_one_translate_even_when_its_replacement_is_one_of_its_chars(raw, chars, replacement):
    spec = {"substitutions": [{"name": "sub", "kind": "substitute", "chars": chars, "replacement": replacement}]}
    cleaned = clean_text(raw, parse_rules(spec))
    assert cleaned.text == raw.translate({ord(c): replacement for c in chars})
    assert [o for o, *_ in cleaned.substituted] == [i for i, c in enumerate(raw) if c in chars]
