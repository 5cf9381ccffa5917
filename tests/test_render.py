"""Tests of `pactnews render`: the static site of the annotated corpus.

Fixtures are built in tmp folders from the real clean texts with inline
markup (pactnews.annotations.markup), plus a hand-made hostile document. The browser
tests drive Debian's Chromium through Playwright.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pactnews.outputs import site as render
from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.cli import main
from pactnews.commands.markup import convert_pass
from pactnews.inventory import load_inventory
from pactnews.repo import Layout, find_root

from browserkit import CHROMIUM, LAUNCH_ARGS, need_browser

REPO = find_root(Path(__file__).parent)
INV = load_inventory(Layout(REPO).labels)
SPAN_LAYERS = standoff.SPAN_LAYERS
KEPT, DISMISSED = INV.value_role("conflict_status", "kept"), INV.value_role("conflict_status", "dismissed")
DETECTED, ANNOTATED = INV.value_role("conflict_origin", "detected"), INV.value_role("conflict_origin", "annotated")

# ---------------------------------------------------------------- fixtures

# (document, plain text found in the clean text, the same text with inline markup)
MARKUP = [
    ("000_c7af0f0315e9c0dc",
     "South Korea denounces Russia’s decision to finalize a defense pact with North Korea.",
     "[South Korea]{GPE south-korea @sk} [denounces]{CUE @q0} [[Russia]{GPE russia}’s decision to finalize a "
     "defense pact with [North Korea]{GPE north-korea}]{CLAIM src=@sk cue=@q0 fact=asserted cluster=russia-ratifies-treaty}."),
    ("000_c7af0f0315e9c0dc",
     "United States and South Korean officials reported on Wednesday that an estimated 3,000 North Korean "
     "troops had been observed at multiple locations across Russia.",
     "[[United States]{GPE united-states} and [South Korean]{NORP south-korean} officials]{SOURCE @s1} "
     "[reported]{CUE @q1} on [Wednesday]{DATE 2024-10-23 @w} that [an estimated [3,000]{CARDINAL cardinal-3000} "
     "[North Korean]{NORP north-korean} troops had been observed at multiple locations across [Russia]{GPE russia}]"
     "{CLAIM src=@s1 cue=@q1 fact=hedged cluster=nk-troops-in-russia-count time=@w qty=3000 approx=approximate "
     "unit=person unit_text=troops}."),
    ("001_69d675cf0e69e825",
     'South Korea has voiced "grave concern" on Friday as Russia moved to ratify its "mutual assistance" '
     "defense treaty with North Korea.",
     '[[South Korea]{GPE south-korea} has voiced "grave concern"]{CLAIM src=author cluster=sk-grave-concern} on '
     '[Friday]{DATE 2024-10-25} as [[Russia]{GPE russia} moved to ratify its "mutual assistance" defense treaty '
     "with [North Korea]{GPE north-korea}]{CLAIM src=author cluster=russia-ratifies-treaty}."),
    ("001_69d675cf0e69e825",
     "South Korea and the US said that thousands of North Korean troops are training in Russia, with Ukraine "
     "saying this week that",
     "[South Korea]{GPE south-korea @sk2} and the [US]{GPE united-states @us2} [said]{CUE @q5} that "
     "[[thousands]{CARDINAL cardinal-thousands} of [North Korean]{NORP north-korean} troops are training in "
     "[Russia]{GPE russia}]{CLAIM src=@sk2,@us2 cue=@q5 cluster=nk-sends-troops-to-russia}, with [Ukraine]{GPE ukraine} "
     "saying [this week]{DATE 2024-W43} that"),
    ("001_69d675cf0e69e825",
     "One of North Korea's United Nations representatives said at the UN General Assembly's First Committee on "
     "Disarmament and International Security that the country was sending neither weapons nor soldiers to help Moscow.",
     "[[One]{CARDINAL cardinal-1} of [North Korea]{GPE north-korea}'s [United Nations]{ORG united-nations} "
     "representatives]{SOURCE rim-mu-song @s3} [said]{CUE @q3} at the [UN General Assembly]{ORG un-general-assembly}'s "
     "[First Committee on Disarmament and International Security]{ORG first-committee-unga} that [the country was "
     "sending neither weapons nor soldiers to help [Moscow]{GPE russia}]"
     "{CLAIM src=@s3 cue=@q3 fact=denied cluster=nk-sends-troops-to-russia}."),
    ("002_b6446a1b2c005969",
     "Reports from Ukrainian military intelligence claim that around 3,000 North Korean troops have been stationed "
     "at Russian military facilities, particularly in Russia’s Kursk region near Ukraine’s border.",
     "[Reports from [Ukrainian]{NORP ukrainian} military intelligence]{SOURCE @s4} [claim]{CUE @q4} that "
     "[around [3,000]{CARDINAL cardinal-3000} [North Korean]{NORP north-korean} troops have been stationed at "
     "[Russian]{NORP russian} military facilities, particularly in [Russia]{GPE russia}’s [Kursk]{GPE kursk-oblast} "
     "region near [Ukraine]{GPE ukraine}’s border]"
     "{CLAIM src=@s4 cue=@q4 fact=hedged stance=distanced cluster=nk-troops-in-russia-count qty=3000 "
     "approx=approximate unit=person unit_text=troops}."),
    ("003_4dc299c40bab5478",
     "South Korea’s spy agency has reported that approximately 1,500 North Korean soldiers, including special "
     "forces, have already arrived in Russia.",
     "[[South Korea]{GPE south-korea}’s spy agency]{SOURCE @s1} has [reported]{CUE @q1} that [approximately "
     "[1,500]{CARDINAL cardinal-1500} [North Korean]{NORP north-korean} soldiers, including special forces, have "
     "already arrived in [Russia]{GPE russia}]"
     "{CLAIM src=@s1 cue=@q1 fact=hedged cluster=nk-troops-in-russia-count qty=1500 approx=approximate unit=person "
     "unit_text=soldiers}."),
    ("003_4dc299c40bab5478",
     "There are reports suggests that as many as 12,000 North Korean soldiers might be deployed,",
     "There are [reports]{SOURCE @s2} [suggests]{CUE @q2} that [as many as [12,000]{CARDINAL cardinal-12000} "
     "[North Korean]{NORP north-korean} soldiers might be deployed]"
     "{CLAIM src=@s2 cue=@q2 fact=hedged cluster=nk-troops-in-russia-count qty=12000 approx=at_most modality=expected unit=person unit_text=soldiers},"),
    ("003_4dc299c40bab5478",
     "signed by their leaders in June,",
     "signed by their leaders in [June]{DATE 2024-06},"),
]

ENTITIES = {
    "south-korea": ("South Korea", "GPE"), "russia": ("Russia", "GPE"), "north-korea": ("North Korea", "GPE"),
    "united-states": ("United States", "GPE"), "ukraine": ("Ukraine", "GPE"), "kursk-oblast": ("Kursk Oblast", "GPE"),
    "south-korean": ("South Korean", "NORP"), "north-korean": ("North Korean", "NORP"),
    "ukrainian": ("Ukrainian", "NORP"), "russian": ("Russian", "NORP"),
    "cardinal-1": ("1", "CARDINAL"), "cardinal-1500": ("1,500", "CARDINAL"), "cardinal-3000": ("3,000", "CARDINAL"),
    "cardinal-12000": ("12,000", "CARDINAL"), "cardinal-thousands": ("thousands", "CARDINAL"),
    "united-nations": ("United Nations", "ORG"), "un-general-assembly": ("UN General Assembly", "ORG"),
    "first-committee-unga": ("First Committee on Disarmament and International Security", "ORG"),
    "rim-mu-song": ("Rim Mu Song", "PERSON"),
}
CLUSTERS = {
    "russia-ratifies-treaty": "Russia ratifies its defence treaty with North Korea.",
    "nk-troops-in-russia-count": "A number of North Korean troops are in Russia.",
    "nk-sends-troops-to-russia": "North Korea sends troops to Russia.",
    "sk-grave-concern": "South Korea voices grave concern.",
    "nk-troops-observed": "North Korean troops were observed in Russia.",
    "unused-cluster": "A proposition no claim states yet.",
}
# A claim that partly overlaps another one (markup brackets cannot say that).
OVERLAP = ("000_c7af0f0315e9c0dc", "North Korean troops had been observed at multiple locations across Russia. "
           "Ukraine’s military intelligence")


# The conflicts table: (id, type, origin, rule, status, [(document, a words of the claim's text, attribute, value)], rationale).
# Ids are not in type order, so that grouping by type is visible. The table is what `pactnews validate` accepts:
# the detectors find X2 and X3 and nothing else, so the dismissed entries are annotated ones.
CONFLICTS = [
    ("X1", "characterisation", ANNOTATED, None, KEPT,
     [("003_4dc299c40bab5478", "as many as 12,000", None, None),
      ("000_c7af0f0315e9c0dc", "an estimated 3,000", None, None)],
     "A forecast of up to 12,000 soldiers is set beside a count of about 3,000 as if they were one figure."),
    ("X2", "figure", DETECTED, "figure-incompatible", KEPT,
     [("000_c7af0f0315e9c0dc", "an estimated 3,000", "quantity", "~3000"),
      ("002_b6446a1b2c005969", "around 3,000", "quantity", "~3000"),
      ("003_4dc299c40bab5478", "approximately 1,500", "quantity", "~1500")],
     "Outlets report incompatible person figures (actual)."),
    ("X3", "polarity", DETECTED, "polarity-opposite", KEPT,
     [("001_69d675cf0e69e825", "thousands of North Korean troops", "factuality", "asserted"),
      ("001_69d675cf0e69e825", "the country was sending neither", "factuality", "denied")],
     "Seoul and Washington assert what North Korea's UN delegate denies."),
    ("X4", "time", ANNOTATED, "time-different", DISMISSED,
     [("000_c7af0f0315e9c0dc", "decision to finalize", "time", "2024-10-23"),
      ("001_69d675cf0e69e825", "moved to ratify", "time", "2024-10-25")],
     "Finalising and ratifying are two steps; the times do not diverge."),
    ("X5", "attribution", ANNOTATED, "source-different", DISMISSED,
     [("000_c7af0f0315e9c0dc", "an estimated 3,000", "source", "United States + South Korean"),
      ("002_b6446a1b2c005969", "around 3,000", "source", "Ukrainian")],
     "Two intelligence services agreeing is no divergence."),
]


def find_claim(docs: dict, doc_id: str, words: str) -> str:
    """The id of the one claim of a document whose text holds these words."""
    found = [c["id"] for c in docs[doc_id]["claims"] if words in c["text"]]
    assert len(found) == 1, (doc_id, words, found)
    return found[0]


def conflict_entries(docs: dict) -> list[dict]:
    return [{"conflict_id": cid, "type": typ, "origin": origin, "rule": rule, "status": status,
             "members": [{"document_id": d, "claim_id": find_claim(docs, d, words), "attribute": attr, "value": value}
                         for d, words, attr, value in members], "rationale": why}
            for cid, typ, origin, rule, status, members, why in CONFLICTS]


def copy_corpus(dest: Path) -> Layout:
    """A repository copy without annotations: schemas, metadata, dataset info, raw files, rules, clean texts
    (what `pactnews validate`, the gate of `pactnews render`, reads)."""
    for rel in ("schemas", "corpus/clean", "corpus/raw"):
        shutil.copytree(REPO / rel, dest / rel)
    for rel in ("corpus/metadata.yaml", "corpus/dataset.yaml", "corpus/cleaning_rules.yaml"):
        shutil.copy2(REPO / rel, dest / rel)
    return Layout(dest)


def write_pass(layout: Layout, pass_dir: Path) -> None:
    clean = {p.stem: p.read_text(encoding="utf-8") for p in sorted(layout.clean.glob("*.txt"))}
    marked = dict(clean)
    for doc_id, plain, markup in MARKUP:
        assert marked[doc_id].count(plain) == 1, (doc_id, plain)
        marked[doc_id] = marked[doc_id].replace(plain, markup)
    (pass_dir / "markup").mkdir(parents=True)
    for doc_id in sorted({m[0] for m in MARKUP}):
        (pass_dir / "markup" / f"{doc_id}.txt").write_text(marked[doc_id], encoding="utf-8")
    (pass_dir / "entities.yaml").write_text(
        yaml.safe_dump({k: {"name": n, "label": lab} for k, (n, lab) in ENTITIES.items()}, allow_unicode=True),
        encoding="utf-8")
    (pass_dir / "claim_clusters.yaml").write_text(
        yaml.safe_dump({k: {"proposition": p} for k, p in CLUSTERS.items()}, allow_unicode=True), encoding="utf-8")


def write_annotations(layout: Layout, docs: dict, entity_table: dict, cluster_table: dict) -> None:
    layout.tables.mkdir(parents=True, exist_ok=True)
    for doc_id, doc in docs.items():
        layout.annotation_file(doc_id).write_text(standoff.dumps(doc), encoding="utf-8")
    layout.entity_table.write_text(tables.dumps_entities(entity_table), encoding="utf-8")
    layout.cluster_table.write_text(tables.dumps_clusters(cluster_table), encoding="utf-8")


def annotate(layout: Layout, work: Path) -> None:
    write_pass(layout, work / "pass")
    docs, entity_table, cluster_table, _, errors = convert_pass(layout, work / "pass")
    assert errors == []
    doc_id, piece = OVERLAP
    text = (layout.clean / f"{doc_id}.txt").read_text(encoding="utf-8")
    start = text.index(piece)
    docs[doc_id]["claims"].append({
        "id": "C99", "start": start, "end": start + len(piece), "text": piece, "label": "CLAIM",
        "source_type": "author", "factuality": "asserted", "author_stance": "none", "modality": "actual",
        "cluster_id": "nk-troops-observed",
        "quantity_value": None, "quantity_unit": None})
    write_annotations(layout, docs, entity_table, cluster_table)
    layout.conflict_table.write_text(tables.dumps_conflicts(conflict_entries(docs)), encoding="utf-8")


@pytest.fixture(scope="module")
def annotated_repo(tmp_path_factory) -> Path:
    """A repository copy whose annotations were converted from MARKUP."""
    root = tmp_path_factory.mktemp("annotated")
    layout = copy_corpus(root / "repo")
    annotate(layout, root)
    return layout.root


HOSTILE_ID = "900_hostile"
HOSTILE_CONFLICT = "X1\"><svg/onload=alert(15)>"
HOSTILE_TEXT = (
    "Headline <script>alert(1)</script> & \"quotes\" 'single' &amp; &lt;b&gt;\n\n"
    "Body \"><img src=x onerror=alert(2)> and </span></div><b>bold</b> said Seoul officials.\n"
)
HOSTILE_MARKUP = (
    "Headline [<script>alert(1)</script> & \"quotes\"]{CLAIM src=author cluster=c\"><svg/onload=alert(5)> "
    "qty=3 unit=person unit_text=\"><img/src=x/onerror=alert(10)>} 'single' &amp; &lt;b&gt;\n\n"
    "Body [\"><img src=x onerror=alert(2)>]{DATE \"><b>9</b>} and </span></div><b>bold</b> "
    "[said]{CUE} [Seoul]{GPE x\"><script>alert(3)</script>} officials.\n"
)


@pytest.fixture
def hostile_repo(tmp_path) -> Path:
    """One document whose text, metadata, ids, names and values all try to inject markup."""
    layout = Layout(tmp_path / "repo")
    shutil.copytree(REPO / "schemas", layout.schemas)
    layout.clean.mkdir(parents=True)
    shutil.copy2(REPO / "corpus/dataset.yaml", layout.dataset)
    layout.metadata.write_text(yaml.safe_dump({"documents": [{
        "id": HOSTILE_ID, "raw_file": f"raw/{HOSTILE_ID}.txt", "raw_sha256": "0" * 64, "language": "en",
        "title": "<script>alert(7)</script> \"title\"", "title_basis": "hand-made",
        "source_outlet": "\"><img src=x onerror=alert(8)>", "source_note": "<b>note</b>",
        "dct": {"value": "2024-10-25", "basis": "stated", "evidence": "\"><script>alert(11)</script>"},
    }]}), encoding="utf-8")
    (layout.clean / f"{HOSTILE_ID}.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    pass_dir = tmp_path / "pass"
    (pass_dir / "markup").mkdir(parents=True)
    (pass_dir / "markup" / f"{HOSTILE_ID}.txt").write_text(HOSTILE_MARKUP, encoding="utf-8")
    (pass_dir / "entities.yaml").write_text(yaml.safe_dump(
        {"x\"><script>alert(3)</script>": {"name": "<img src=x onerror=alert(4)>", "label": "GPE"}}), encoding="utf-8")
    (pass_dir / "claim_clusters.yaml").write_text(yaml.safe_dump(
        {"c\"><svg/onload=alert(5)>": {"proposition": "</p><script>alert(6)</script>"}}), encoding="utf-8")
    docs, entity_table, cluster_table, _, errors = convert_pass(layout, pass_dir)
    assert errors == []
    write_annotations(layout, docs, entity_table, cluster_table)
    claim_id = docs[HOSTILE_ID]["claims"][0]["id"]
    layout.conflict_table.write_text(tables.dumps_conflicts([{
        "conflict_id": HOSTILE_CONFLICT, "type": "figure", "origin": DETECTED, "rule": "<b>rule</b>", "status": KEPT,
        "members": [
            {"document_id": HOSTILE_ID, "claim_id": claim_id, "attribute": "quantity",
             "value": "\"><img src=x onerror=alert(13)>"},
            {"document_id": HOSTILE_ID, "claim_id": "C9\"><script>alert(14)</script>", "attribute": "<b>attr</b>",
             "value": "</td><script>alert(16)</script>"}],
        "rationale": "</p><script>alert(12)</script>"}]), encoding="utf-8")
    return layout.root


def render_repo(root: Path) -> dict[str, str]:
    return render.render_site(**render.read_inputs(Layout(root)))


def annotations_of(root: Path) -> dict[str, dict]:
    return standoff.read_all(Layout(root).annotations)


def spans_of(doc: dict) -> dict[str, dict]:
    return {rec["id"]: rec for layer in SPAN_LAYERS for rec in doc[layer]}


# ---------------------------------------------------------------- an HTML reader for the checks


class PageReader(HTMLParser):
    """Checks that the HTML is well formed and collects what the tests look at."""

    VOID = {"meta", "link", "input", "br", "img", "hr", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.tags: list[tuple[str, dict]] = []
        self.text = ""  # the text inside #text
        self.span_text: dict[str, str] = defaultdict(str)
        self.fragments: dict[str, list[dict]] = defaultdict(list)
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "data-span" in attrs:
            self.fragments[attrs["data-span"]].append(attrs)
        if tag not in self.VOID:
            self.stack.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1][0] == tag, f"</{tag}> closes <{self.stack[-1][0]}>"
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "script":
            self.scripts.append(data)
        if any(a.get("id") == "text" for _, a in self.stack):
            self.text += data
            for sid in {a["data-span"] for _, a in self.stack if "data-span" in a}:
                self.span_text[sid] += data


def read_page(html_text: str) -> PageReader:
    reader = PageReader()
    reader.feed(html_text)
    reader.close()
    assert [t for t, _ in reader.stack] == [], "unclosed elements"
    return reader


ALLOWED_TAGS = {"html", "head", "meta", "link", "title", "style", "body", "main", "div", "span", "nav", "a",
                "h1", "h2", "h3", "p", "dl", "dt", "dd", "code", "table", "thead", "tbody", "tr", "th", "td",
                "ul", "li", "strong", "section", "label", "input", "script"}


def assert_no_injection(html_text: str) -> PageReader:
    page = read_page(html_text)
    tags = {t for t, _ in page.tags}
    assert tags <= ALLOWED_TAGS, f"unexpected elements {tags - ALLOWED_TAGS}"
    assert sum(1 for t, _ in page.tags if t == "script") == 1
    assert page.scripts == [render.JS]
    handlers = [(t, k) for t, a in page.tags for k in a if k.startswith("on")]
    assert handlers == []
    return page


# ---------------------------------------------------------------- unit tests


def test_hostile_text_and_values_stay_text(hostile_repo):
    pages = render_repo(hostile_repo)
    assert set(pages) == {"index.html", f"doc/{HOSTILE_ID}.html"}
    for html_text in pages.values():
        assert "<script>alert" not in html_text and "<img" not in html_text and "<svg" not in html_text
        assert_no_injection(html_text)
    doc_page = pages[f"doc/{HOSTILE_ID}.html"]
    page = assert_no_injection(doc_page)
    assert page.text == HOSTILE_TEXT
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in doc_page
    assert "&amp;amp; &amp;lt;b&amp;gt;" in doc_page  # entity-like text stays literal
    # every value still reaches the page as text, escaped
    for value in ('x"><script>alert(3)</script>', "<img src=x onerror=alert(4)>",
                  '"><b>9</b>', '"><img/src=x/onerror=alert(10)>'):
        assert any(value in " ".join(v or "" for v in a.values()) for _, a in page.tags), value
    index = assert_no_injection(pages["index.html"])
    index_text = pages["index.html"]
    assert "&lt;/p&gt;&lt;script&gt;alert(6)&lt;/script&gt;" in index_text
    assert "&quot;&gt;&lt;img src=x onerror=alert(8)&gt;" in index_text
    assert any(a.get("data-cluster") == 'c"><svg/onload=alert(5)>' for _, a in index.tags)
    # the conflicts table: id, rule, rationale, member ids and values, and the problem of the missing member
    assert any(a.get("data-conflict") == HOSTILE_CONFLICT for _, a in index.tags)
    section = conflicts_section(index_text)
    for value in ("</p><script>alert(12)</script>", "<b>rule</b>", '"><img src=x onerror=alert(13)>',
                  "</td><script>alert(16)</script>", 'C9"><script>alert(14)</script>'):
        assert render.esc(value) in section, value
    assert "[unknown-conflict-member]" in index_text and render.esc('C9"><script>alert(14)</script>') in index_text
    claim = annotations_of(hostile_repo)[HOSTILE_ID]["claims"][0]
    attrs = page.fragments[claim["id"]][0]
    assert attrs["data-conflicts"] == HOSTILE_CONFLICT
    assert f'conflict {HOSTILE_CONFLICT} (figure) — this claim: quantity = "><img src=x onerror=alert(13)>' in attrs["title"]
    assert f'  vs {HOSTILE_ID} C9"><script>alert(14)</script>: names no claim' in attrs["title"]


def test_every_span_marks_exactly_its_text(annotated_repo):
    pages = render_repo(annotated_repo)
    clean = {p.stem: p.read_text(encoding="utf-8") for p in Layout(annotated_repo).clean.glob("*.txt")}
    anns = annotations_of(annotated_repo)
    assert len(anns) == 4
    for doc_id, text in clean.items():
        page = read_page(pages[f"doc/{doc_id}.html"])
        assert page.text == text
        expected = spans_of(anns[doc_id]) if doc_id in anns else {}
        assert set(page.fragments) == set(expected)
        for sid, rec in expected.items():
            assert page.span_text[sid] == rec["text"], sid
            frags = page.fragments[sid]
            assert frags[0].get("id") == sid and "first" in frags[0]["class"].split()
            assert "last" in frags[-1]["class"].split()
            assert all(f["data-layer"] in SPAN_LAYERS and f["data-label"] == rec["label"] for f in frags)
    # the overlapping claim pair forces a split: C99 starts inside C2 and ends after it
    page = read_page(pages["doc/000_c7af0f0315e9c0dc.html"])
    assert len(page.fragments["C99"]) == 2


def test_tooltips_carry_the_span_details(annotated_repo):
    pages = render_repo(annotated_repo)
    page = read_page(pages["doc/003_4dc299c40bab5478.html"])
    doc = annotations_of(annotated_repo)["003_4dc299c40bab5478"]
    by_text = {rec["text"]: rec for layer in SPAN_LAYERS for rec in doc[layer]}
    tip = lambda rec: page.fragments[rec["id"]][0]["title"]  # noqa: E731
    assert "entity cardinal-1500: 1,500 (CARDINAL)" in tip(by_text["1,500"])
    assert "value 2024-06" in tip(by_text["June"])
    claim = next(r for r in doc["claims"] if r["quantity_value"] == 12000)
    t = tip(claim).split("\n")
    for part in ("source: unnamed: “reports”", "cue: “suggests”", "factuality: hedged", "modality: expected",
                 "cluster: nk-troops-in-russia-count — A number of North Korean troops are in Russia.",
                 "quantity: ≤12,000 person (soldiers)"):
        assert part in t
    assert t[0] == f"CLAIM {claim['id']}"
    assert not any(line.startswith(("author stance", "time:")) for line in t)  # stance none, no time linked
    assert "claim_source of " + claim["id"] in tip(by_text["reports"])


def test_claim_tooltips_show_the_v2_attributes(annotated_repo):
    inputs = render.read_inputs(Layout(annotated_repo))
    pages = render.render_site(**inputs)
    anns = inputs["annotations"]

    def claim_tip(doc_id, words):
        page = read_page(pages[f"doc/{doc_id}.html"])
        cid = find_claim(anns, doc_id, words)
        return page.fragments[cid][0], page.fragments[cid][0]["title"].split("\n")

    # a linked time expression, an approximate figure with its surface unit
    _, t = claim_tip("000_c7af0f0315e9c0dc", "an estimated 3,000")
    timex = next(x for x in anns["000_c7af0f0315e9c0dc"]["timexes"] if x["text"] == "Wednesday")
    assert f"time: “Wednesday” = 2024-10-23 ({timex['id']})" in t
    assert "quantity: ~3,000 person (troops)" in t
    # the article distancing itself
    _, t = claim_tip("002_b6446a1b2c005969", "around 3,000")
    assert "author stance: distanced" in t
    # a coordinated source: every source listed, every one lit on hover
    attrs, t = claim_tip("001_69d675cf0e69e825", "thousands of North Korean troops")
    doc = anns["001_69d675cf0e69e825"]
    us = next(e for e in doc["entities"] if e["text"] == "US")
    sk = max((e for e in doc["entities"] if e["text"] == "South Korea" and e["start"] < us["start"]),
             key=lambda e: e["start"])  # "South Korea and the US said"
    i = t.index("sources (entity, 2 coordinated):")
    assert t[i + 1: i + 3] == ["  “South Korea” = south-korea: South Korea (GPE)",
                               "  “US” = united-states: United States (GPE)"]
    assert attrs["data-src"].split() == [sk["id"], us["id"]]
    # an implicit source has no source span, which is not an error
    claim = next(c for c in doc["claims"] if c["text"].startswith("South Korea has voiced"))
    claim["source_type"] = INV.value_role("source_type", "implicit")
    claim["factuality"] = INV.value_role("factuality", "uncommitted")
    page = read_page(render.render_site(**inputs)["doc/001_69d675cf0e69e825.html"])
    frag = page.fragments[claim["id"]][0]
    assert "source: implicit (in the wording; no source span)" in frag["title"].split("\n")
    assert "f-uncommitted" in frag["class"].split() and "data-src" not in frag


@pytest.mark.parametrize("rec, shown", [
    ({"quantity_value": 3000.0, "quantity_approximation": "approximate", "quantity_unit": "person",
      "quantity_surface_unit": "troops"}, "~3,000 person (troops)"),
    ({"quantity_value": 12000.0, "quantity_approximation": "at_most"}, "≤12,000"),
    ({"quantity_value": 500.0, "quantity_approximation": "at_least", "quantity_unit": "item",
      "quantity_surface_unit": "item"}, "≥500 item"),
    ({"quantity_value": 1000.0, "quantity_high": 2000.0, "quantity_approximation": "range"}, "1,000–2,000"),
    ({"quantity_value": 1.5, "quantity_approximation": "exact", "quantity_unit": "percent"}, "1.5 percent"),
    ({"quantity_value": 1500.0, "quantity_approximation": None, "quantity_unit": "person"}, "1,500 person"),
    ({"quantity_value": 7.0, "quantity_approximation": "roughly"}, "7 [approximation roughly]"),
    ({"quantity_value": None}, ""),
])
def test_quantities_are_shown_with_their_approximation(rec, shown):
    role = rec.get("quantity_approximation")
    if role in INV.raw["roles"]["quantity_approximation"]:
        rec = {**rec, "quantity_approximation": INV.value_role("quantity_approximation", role)}
    assert render.fmt_claim_quantity(rec, INV) == shown


def conflicts_section(html_text: str) -> str:
    m = re.search(r'<section class="conflicts" id="conflicts">(.*?)</section>', html_text, re.S)
    assert m, "no conflicts section"
    return m.group(1)


def test_index_first_section_lists_the_kept_conflicts_by_type(annotated_repo):
    html_text = render_repo(annotated_repo)["index.html"]
    index = read_page(html_text)
    # the first section and the first heading after the title are the conflicts
    assert next(a for t, a in index.tags if t == "section").get("id") == "conflicts"
    assert re.findall(r"<h2>([^<]*)</h2>", html_text)[0] == "Conflicts (3)"
    section = conflicts_section(html_text)
    kept = [c for c in CONFLICTS if c[4] == KEPT]
    by_type = sorted(kept, key=lambda c: INV.conflict_types.index(c[1]))
    assert [c[0] for c in by_type] != [c[0] for c in kept]  # the fixture's ids are not in type order
    assert re.findall(r'<div class="conflict-card" id="conflict-([^"]+)" data-conflict="\1" data-type="([^"]+)"',
                      section) == [(c[0], c[1]) for c in by_type]
    assert re.findall(r'<h3 class="conflict-type" id="[^"]+" data-type="([^"]+)"', section) == \
        [t for t in INV.conflict_types if t in {c[1] for c in kept}]
    cards = dict(re.findall(r'data-conflict="([^"]+)" data-type="[^"]+">(.*?)</div>', section, re.S))
    anns = annotations_of(annotated_repo)
    for cid, typ, origin, rule, _, members, why in kept:
        card = cards[cid]
        assert f'<span class="badge conflict">{typ}</span>' in card and f"origin {origin}" in card
        assert (f"rule <code>{rule}</code>" in card) == (origin == DETECTED) and (rule is not None) == (origin == DETECTED)
        assert render.esc(why) in card
        rows = re.findall(r'<tr data-member="([^"]+)">(.*?)</tr>', card)
        assert [r[0] for r in rows] == sorted(f"{d}/{find_claim(anns, d, w)}" for d, w, _, _ in members)
        for d, words, attr, value in members:
            claim_id = find_claim(anns, d, words)
            row = dict(rows)[f"{d}/{claim_id}"]
            claim = next(c for c in anns[d]["claims"] if c["id"] == claim_id)
            assert f'<a href="doc/{d}.html#{claim_id}">' in row and render.esc(claim["text"]) in row
            assert row.endswith(f"<td>{attr} = {value}</td>" if attr else "<td></td>")
    # the source of each member: the figure's three sources and a coordinated one
    assert "<td>unnamed: “South Korea’s spy agency”</td>" in cards["X2"]
    assert ("entity: “South Korea” = south-korea: South Korea (GPE) + “US” = united-states: United States (GPE)"
            in cards["X3"])


def test_dismissed_entries_are_not_conflicts(annotated_repo):
    pages = render_repo(annotated_repo)
    section = conflicts_section(pages["index.html"])
    assert re.search(r'<p class="muted" id="dismissed">Dismissed, not shown as conflicts: 2 entries '
                     r"\(source-different: 1, time-different: 1\)\.</p>", section)
    dismissed = {c[0] for c in CONFLICTS if c[4] == DISMISSED}
    for path, html_text in pages.items():
        page = read_page(html_text)
        for _, attrs in page.tags:
            for key in ("data-conflict", "data-conflict-link", "data-conflicts", "id"):
                assert not set((attrs.get(key) or "").split()) & dismissed, (path, attrs)
            assert not re.search(r"conflict X[45]\b", attrs.get("title") or ""), path
    assert "Finalising and ratifying" not in pages["index.html"]
    # the claims of the dismissed time conflict take part in no kept one: unmarked
    anns = annotations_of(annotated_repo)
    for doc_id, words in (("000_c7af0f0315e9c0dc", "decision to finalize"), ("001_69d675cf0e69e825", "moved to ratify")):
        frag = read_page(pages[f"doc/{doc_id}.html"]).fragments[find_claim(anns, doc_id, words)][0]
        assert "conflict" not in frag["class"].split() and "data-conflicts" not in frag
    clusters = read_page(pages["index.html"])
    marked = {a["data-cluster"] for t, a in clusters.tags if t == "section" and "conflict" in a["class"].split()}
    assert marked == {"nk-troops-in-russia-count", "nk-sends-troops-to-russia"}  # not russia-ratifies-treaty


def test_claims_in_a_conflict_are_marked_with_the_other_versions(annotated_repo):
    pages = render_repo(annotated_repo)
    anns = annotations_of(annotated_repo)
    members = {(d, find_claim(anns, d, w)): (attr, value) for c in CONFLICTS if c[4] == KEPT for d, w, attr, value in c[5]}
    ids = {}
    for c in CONFLICTS:
        if c[4] == KEPT:
            for d, w, _, _ in c[5]:
                ids.setdefault((d, find_claim(anns, d, w)), []).append(c[0])
    for doc_id in anns:
        page = read_page(pages[f"doc/{doc_id}.html"])
        for claim in anns[doc_id]["claims"]:
            frag = page.fragments[claim["id"]][0]
            marked = "conflict" in frag["class"].split()
            assert marked == ((doc_id, claim["id"]) in members), (doc_id, claim["id"])
            assert frag.get("data-conflicts") == (" ".join(ids[doc_id, claim["id"]]) if marked else None)
    # the 1,500 figure of 003: its conflict, the other outlets' versions, not its own as another's
    d3, c3 = "003_4dc299c40bab5478", find_claim(anns, "003_4dc299c40bab5478", "approximately 1,500")
    page = read_page(pages[f"doc/{d3}.html"])
    tip = page.fragments[c3][0]["title"].split("\n")
    assert "conflict X2 (figure) — this claim: quantity = ~1500" in tip
    others = [line for line in tip if line.startswith("  vs ")]
    c0 = find_claim(anns, "000_c7af0f0315e9c0dc", "an estimated 3,000")
    c2 = find_claim(anns, "002_b6446a1b2c005969", "around 3,000")
    text = {cid: next(c["text"] for c in anns[d]["claims"] if c["id"] == cid)
            for d, cid in (("000_c7af0f0315e9c0dc", c0), ("002_b6446a1b2c005969", c2))}
    assert others == [
        f"  vs 000_c7af0f0315e9c0dc {c0}: “{text[c0]}” — source: unnamed: “United States and South Korean officials”"
        " — quantity = ~3000",
        f"  vs 002_b6446a1b2c005969 {c2}: “{text[c2]}” — source: unnamed: “Reports from Ukrainian military "
        "intelligence” — quantity = ~3000"]
    # the page says which conflicts its claims take part in, and the claims table links them
    notice = re.search(r'<p class="notice" id="doc-conflicts">(.*?)</p>', pages[f"doc/{d3}.html"]).group(1)
    assert notice.startswith("2 claim(s) of this document take part in 2 kept conflict(s)")
    assert re.findall(r'data-conflict-link="([^"]+)"', notice) == ["X1", "X2"]
    # a claim in two conflicts lists both; an annotated conflict without values lists the others' claims only
    d0 = "000_c7af0f0315e9c0dc"
    tip = read_page(pages[f"doc/{d0}.html"]).fragments[c0][0]["title"].split("\n")
    c12 = find_claim(anns, d3, "as many as 12,000")
    assert "conflict X1 (characterisation)" in tip and "conflict X2 (figure) — this claim: quantity = ~3000" in tip
    assert f"  vs {d3} {c12}: “as many as 12,000 North Korean soldiers might be deployed” — source: unnamed: “reports”" in tip
    # no conflicts table: nothing is marked
    inputs = render.read_inputs(Layout(annotated_repo))
    assert inputs["conflict_table"] is not None
    bare = render.render_site(**{**inputs, "conflict_table": None})
    assert 'id="no-conflicts"' in conflicts_section(bare["index.html"])
    assert not any("data-conflicts" in a for h in bare.values() for _, a in read_page(h).tags)


def test_conflict_members_that_name_no_claim_are_reported(annotated_repo, tmp_path, capsys):
    root = tmp_path / "repo"
    shutil.copytree(annotated_repo, root)
    layout = Layout(root)
    entries = tables.read_conflicts(layout.conflict_table)
    x2 = next(e for e in entries if e["conflict_id"] == "X2")
    x2["members"].append({"document_id": "003_4dc299c40bab5478", "claim_id": "C404", "attribute": "quantity",
                          "value": "9000"})
    entries.append({"conflict_id": "X9", "type": "time", "origin": ANNOTATED, "rule": None, "status": DISMISSED,
                    "members": [{"document_id": "999_nowhere", "claim_id": "C1", "attribute": None, "value": None},
                                {"document_id": "004_c055902274b992f8", "claim_id": "C1", "attribute": None,
                                 "value": None}],
                    "rationale": "Members that name no claim."})
    layout.conflict_table.write_text(tables.dumps_conflicts(entries), encoding="utf-8")
    expected = [
        "annotations/tables/conflicts.json: conflict X2 member 003_4dc299c40bab5478/C404: [unknown-conflict-member] "
        "annotations/003_4dc299c40bab5478.json has no claim 'C404'; expected a claim of an annotation file",
        "annotations/tables/conflicts.json: conflict X9 member 004_c055902274b992f8/C1: [unknown-conflict-member] "
        "annotations/004_c055902274b992f8.json does not exist, so it has no claim 'C1'",
        "annotations/tables/conflicts.json: conflict X9 member 999_nowhere/C1: [unknown-conflict-member] "
        "corpus/metadata.yaml has no document '999_nowhere'",
    ]
    pages = render_repo(root)
    index = pages["index.html"]
    problems = re.search(r'<div class="problems">(.*?)</div>', index, re.S).group(1)
    for message in expected:
        assert render.esc(message) in problems, message
    assert "<strong>3 problem(s)</strong>" in problems
    # the entry is still shown, the missing member flagged, the other members still marked
    card = re.search(r'data-conflict="X2" data-type="figure">(.*?)</div>', index, re.S).group(1)
    assert re.search(r'<tr data-member="003_4dc299c40bab5478/C404">.*names no claim.*<td>quantity = 9000</td></tr>', card)
    tip = read_page(pages["doc/003_4dc299c40bab5478.html"]).fragments[
        find_claim(annotations_of(root), "003_4dc299c40bab5478", "approximately 1,500")][0]["title"]
    assert "  vs 003_4dc299c40bab5478 C404: names no claim" in tip.split("\n")
    # the command refuses them, as `pactnews validate` does, with validate's incidents, and writes nothing
    out = tmp_path / "site"
    assert main(["--root", str(root), "render", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    lines = captured.out.strip().splitlines()
    members = [line for line in lines if "[L4 unknown-conflict-member]" in line]
    assert len(members) == 3 and all(line.startswith("[File annotations/tables/conflicts.json") for line in members)
    assert any("member 999_nowhere/C1 names no claim" in line for line in members)
    # X2 with another member is no longer what the detector finds: stale, and its finding unreviewed
    assert sum("[L4 stale-conflict]" in line or "[L4 unreviewed-conflict]" in line for line in lines) == 2
    assert lines[-1].startswith("FAILED: 5 incidents") and lines[-1].endswith("so pactnews render wrote nothing")
    assert not out.exists()


def test_a_malformed_conflicts_table_fails_naming_it(annotated_repo, tmp_path, capsys):
    root = tmp_path / "repo"
    shutil.copytree(annotated_repo, root)
    out = tmp_path / "site"
    for broken in ("{not json", '{"conflicts": [{"conflict_id": "X1"}]}'):
        Layout(root).conflict_table.write_text(broken, encoding="utf-8")
        assert main(["--root", str(root), "render", "--out", str(out)]) == 1
        captured = capsys.readouterr()
        assert captured.out.startswith("[File annotations/tables/conflicts.json]: [L1 invalid-table] cannot read "
                                       "the table: ")
        assert captured.out.strip().splitlines()[-1].startswith("FAILED") and not out.exists()


def test_index_lists_documents_entities_and_clusters(annotated_repo):
    pages = render_repo(annotated_repo)
    index = read_page(pages["index.html"])
    html_text = pages["index.html"]
    rows = {a["data-entity"] for t, a in index.tags if "data-entity" in a}
    assert rows == set(ENTITIES)
    assert "figures conflict" not in html_text and "qty-conflict" not in html_text  # no conflict computed here
    assert {a["data-cluster"] for t, a in index.tags if "data-cluster" in a} == set(CLUSTERS)
    summary = re.search(r'<table class="cluster-summary">(.*?)</table>', html_text, re.S).group(1)
    assert summary.count("<tr>") == len(CLUSTERS) + 1
    assert re.search(r'#cluster-nk-troops-in-russia-count"><code>[^<]*</code></a></td><td class="num">4</td>'
                     r'<td class="num">3</td><td>~1,500 person \(soldiers\) · ~3,000 person \(troops\) · '
                     r"≤12,000 person \(soldiers\)</td><td>hedged</td><td>"
                     r'<a class="badge conflict" href="#conflict-X1" data-conflict-link="X1">X1 characterisation</a> '
                     r'<a class="badge conflict" href="#conflict-X2" data-conflict-link="X2">X2 figure</a></td></tr>',
                     summary)
    sends = re.search(r'<section class="cluster conflict" id="cluster-nk-sends-troops-to-russia"[^>]*>\s*<h3>(.*?)</h3>',
                      html_text).group(1)
    assert 'href="#conflict-X3"' in sends
    anns = annotations_of(annotated_repo)
    claims = sum(len(d["claims"]) for d in anns.values())
    assert sum(1 for t, a in index.tags if t == "tr" and "data-claim" in a) == claims
    assert "Defence Talks" in html_text and html_text.count(">unknown<") == 4
    # mentions per document: russia appears in 000 (twice), 001 (2 + Moscow), 002, 003
    row = re.search(r'<tr data-entity="russia">(.*?)</tr>', html_text).group(1)
    counts = re.findall(r'<td class="num[^"]*">(\d+)</td>', row)
    expected = [sum(1 for e in anns.get(d, {"entities": []})["entities"] if e["entity_id"] == "russia")
                for d in sorted(p.stem for p in Layout(annotated_repo).clean.glob("*.txt"))]
    assert [int(c) for c in counts] == expected + [sum(expected), 0]
    row = re.search(r'<tr data-entity="rim-mu-song">(.*?)</tr>', html_text).group(1)
    assert [int(c) for c in re.findall(r'<td class="num[^"]*">(\d+)</td>', row)] == [0] * 6 + [1]
    assert expected == [2, 3, 1, 1, 0]


def test_without_annotations_the_clean_texts_render(tmp_path):
    layout = copy_corpus(tmp_path / "repo")
    pages = render_repo(layout.root)
    assert "Annotations are missing" in pages["index.html"]
    assert 'id="no-conflicts"' in conflicts_section(pages["index.html"])  # no table: no conflicts, not an error
    assert 'class="problems"' not in pages["index.html"]
    for path in layout.clean.glob("*.txt"):
        html_text = pages[f"doc/{path.stem}.html"]
        assert 'id="no-annotations"' in html_text
        page = read_page(html_text)
        assert page.text == path.read_text(encoding="utf-8") and not page.fragments


def test_other_json_files_in_annotations_are_not_documents(annotated_repo, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(annotated_repo, root)
    (root / "annotations" / "agreement.json").write_text('{"span_f1": 0.9}', encoding="utf-8")
    inputs = render.read_inputs(Layout(root))
    assert sorted(inputs["annotations"]) == sorted(annotations_of(annotated_repo))
    assert render.render_site(**inputs) == render_repo(annotated_repo)
    # an annotation record without a document is reported on the index
    stray = {**inputs["annotations"]["000_c7af0f0315e9c0dc"], "document_id": "999_stray"}
    pages = render.render_site(**{**inputs, "annotations": {**inputs["annotations"], "999_stray": stray}})
    assert "annotations/999_stray.json: [unknown-document]" in pages["index.html"]
    assert "doc/999_stray.html" not in pages


def test_broken_spans_are_reported_not_drawn(annotated_repo):
    inputs = render.read_inputs(Layout(annotated_repo))
    doc = inputs["annotations"]["003_4dc299c40bab5478"]
    doc["entities"][0] = {**doc["entities"][0], "text": "Acne"}
    doc["entities"][1] = {**doc["entities"][1], "end": 10 ** 6}
    doc["entities"][2] = {**doc["entities"][2], "entity_id": "not-in-table"}
    pages = render.render_site(**inputs)
    html_text = pages["doc/003_4dc299c40bab5478.html"]
    page = read_page(html_text)
    assert "[span-text-mismatch]" in html_text and "[offsets-out-of-range]" in html_text
    bad = {doc["entities"][0]["id"], doc["entities"][1]["id"]}
    assert not bad & set(page.fragments)
    assert "not-in-table (not in the entity table)" in page.fragments[doc["entities"][2]["id"]][0]["title"]
    assert "not in the entity table" in pages["index.html"]
    inputs["annotations"]["001_69d675cf0e69e825"]["text_sha256"] = "0" * 64
    html_text = render.render_site(**inputs)["doc/001_69d675cf0e69e825.html"]
    assert "[text-sha-mismatch]" in html_text and not read_page(html_text).fragments


def test_rendering_is_deterministic(annotated_repo):
    inputs = render.read_inputs(Layout(annotated_repo))
    first = render.render_site(**inputs)
    again = render.render_site(**render.read_inputs(Layout(annotated_repo)))
    assert first == again
    shuffled = {k: {**d, **{layer: list(reversed(d[layer])) for layer in standoff.LAYERS}}
                for k, d in inputs["annotations"].items()}
    conflicts = [{**e, "members": list(reversed(e["members"]))} for e in reversed(inputs["conflict_table"])]
    assert render.render_site(**{**inputs, "annotations": shuffled, "conflict_table": conflicts,
                                 "documents": list(reversed(inputs["documents"]))}) == first


def test_pages_need_no_network(annotated_repo):
    for html_text in render_repo(annotated_repo).values():
        assert not re.search(r'\b(src|href)="(https?:)?//', html_text)
        assert "@import" not in html_text and "url(" not in html_text


def test_command_writes_the_site_atomically_and_identically(annotated_repo, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["--root", str(annotated_repo), "render", "--out", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("Rendered 6 pages (5 documents, 4 annotated") and str(out / "index.html") in last
    files = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert set(map(str, files)) == {"index.html", *(f"doc/{p.stem}.html" for p in Layout(annotated_repo).clean.glob("*.txt"))}
    assert files == {Path(k): v.encode("utf-8") for k, v in render_repo(annotated_repo).items()}
    stale = out / "doc" / "999_removed.html"
    stale.write_text("old", encoding="utf-8")
    assert main(["--root", str(annotated_repo), "render", "--out", str(out)]) == 0
    assert not stale.exists()
    assert {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == files


def test_command_fails_on_a_malformed_file_and_writes_nothing(tmp_path, capsys):
    layout = copy_corpus(tmp_path / "repo")
    layout.annotations.mkdir()
    layout.annotation_file("000_c7af0f0315e9c0dc").write_text("{not json", encoding="utf-8")
    out = tmp_path / "site"
    assert main(["--root", str(layout.root), "render", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("[File annotations/000_c7af0f0315e9c0dc.json Doc 000_c7af0f0315e9c0dc]: "
                                   "[L1 invalid-json]")
    assert captured.out.strip().splitlines()[-1].startswith("FAILED")
    assert not out.exists()


# nesting and overlap over arbitrary spans of every layer

_CHARS = st.sampled_from(list("ab <>&\"'\n’é"))


@st.composite
def texts_and_spans(draw):
    text = draw(st.text(_CHARS, min_size=1, max_size=40))
    n = draw(st.integers(0, 12))
    spans = []
    for k in range(n):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        layer = draw(st.sampled_from(SPAN_LAYERS))
        rec = {"id": f"S{k}", "start": start, "end": end, "text": text[start:end], "label": "X"}
        spans.append(render.Span(layer, rec, f"tip <{k}> \"", {"data-layer": layer, "data-label": "X"},
                                 [render.LAYER_CLASS[layer]]))
    return text, spans


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts_and_spans())
def test_marks_nest_and_overlap_correctly(case):
    text, spans = case
    marked, fragments = render.mark_text(text, spans)
    page = read_page(f'<div id="text">{marked}</div>')
    assert page.text == text
    assert set(page.fragments) == {s.id for s in spans}
    for s in spans:
        assert page.span_text[s.id] == s.rec["text"]
        assert len(page.fragments[s.id]) == fragments[s.id]
        assert page.fragments[s.id][0]["title"] == s.tip
    # a span that overlaps no other span crossing its boundaries stays whole
    for s in spans:
        a, b = s.rec["start"], s.rec["end"]
        crossing = [o for o in spans if o is not s and (o.rec["start"] < a < o.rec["end"] < b
                                                        or a < o.rec["start"] < b < o.rec["end"])]
        if not crossing:
            assert fragments[s.id] == 1, s.id


# ---------------------------------------------------------------- the real browser

@pytest.fixture(scope="module")
def browser():
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(folder) -> base URL of a local http.server on 127.0.0.1 and a free port."""
    servers = []

    def start(folder: Path) -> str:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                functools.partial(_Quiet, directory=str(folder)))
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        servers.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class Watched:
    """A page with every console error, page error, failed or foreign request and dialog recorded."""

    def __init__(self, browser, base: str):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.problems: list[str] = []
        self.base = base
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"requestfailed: {r.url}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.on("request", lambda r: r.url.startswith(base) or self.problems.append(f"foreign request: {r.url}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))

    def open(self, path: str):
        self.page.goto(self.base + path, wait_until="load")
        return self.page


def tip_after_hover(page, selector: str) -> str:
    page.locator(selector).first.hover()
    tip = page.locator("#tip")
    tip.wait_for(state="visible")
    return tip.inner_text()


def assert_png(path: Path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, path


@pytest.mark.browser
def test_browser_every_page(annotated_repo, tmp_path, browser, serve):
    out = tmp_path / "site"
    assert main(["--root", str(annotated_repo), "render", "--out", str(out)]) == 0
    base = serve(out)
    anns = annotations_of(annotated_repo)
    clean = {p.stem: p.read_text(encoding="utf-8") for p in Layout(annotated_repo).clean.glob("*.txt")}
    entity_names = {k: n for k, (n, _) in ENTITIES.items()}

    w = Watched(browser, base)
    page = w.open("index.html")
    assert page.locator("tr[data-entity]").count() == len(ENTITIES)
    assert page.locator("main section").first.get_attribute("id") == "conflicts"
    kept = sorted((c for c in CONFLICTS if c[4] == KEPT), key=lambda c: INV.conflict_types.index(c[1]))
    assert page.locator("#conflicts .conflict-card").evaluate_all("els => els.map(e => e.dataset.conflict)") == \
        [c[0] for c in kept]
    assert page.locator("#conflicts .conflict-card").first.evaluate("e => getComputedStyle(e).borderLeftWidth") == "6px"
    assert page.locator("section.cluster.conflict").evaluate_all("els => els.map(e => e.dataset.cluster)") == \
        ["nk-sends-troops-to-russia", "nk-troops-in-russia-count"]
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
    assert_png(tmp_path / "index.png")
    page.locator("table.documents a").first.click()
    page.wait_for_load_state("load")
    assert page.url == base + "doc/000_c7af0f0315e9c0dc.html"
    assert w.problems == []

    for doc_id, text in sorted(clean.items()):
        page = w.open(f"doc/{doc_id}.html")
        assert page.locator("#text").evaluate("e => e.textContent") == text
        expected = spans_of(anns[doc_id]) if doc_id in anns else {}
        marked = page.evaluate("""() => {
            const out = {};
            for (const e of document.querySelectorAll('#text [data-span]')) {
                out[e.dataset.span] = (out[e.dataset.span] || '') + e.textContent;
            }
            return out;
        }""")
        assert marked == {sid: rec["text"] for sid, rec in expected.items()}
        for sid, rec in expected.items():
            tip = tip_after_hover(page, f'#text [data-span="{sid}"]')
            assert f"{rec['label']} {sid}" in tip
            if "entity_id" in rec and rec["entity_id"] and rec["label"] not in ("SOURCE", "CUE"):
                assert f"entity {rec['entity_id']}: {entity_names[rec['entity_id']]}" in tip
            if "value" in rec:
                assert f"value {rec['value']}" in tip
            if rec["label"] == "CLAIM":
                assert f"factuality: {rec['factuality']}" in tip and f"cluster: {rec['cluster_id']}" in tip
                if rec["quantity_value"] is not None:
                    assert f"quantity: {render.fmt_claim_quantity(rec, INV)}" in tip
                marked = page.locator(f'#text [data-span="{sid}"].conflict.last')
                if marked.count():  # a claim in a kept conflict: its card names each conflict and the other versions
                    for cid in marked.get_attribute("data-conflicts").split():
                        assert f"conflict {cid} (" in tip
                    assert "  vs " in tip
            # the innermost span under the pointer (first in the tooltip) is lit in all its fragments
            innermost = tip.split("\n")[0].split()[1]
            assert innermost in expected
            assert page.locator(f'#text [data-span="{innermost}"].hl').count() == \
                page.locator(f'#text [data-span="{innermost}"]').count() > 0
        if not expected:
            assert page.locator("#no-annotations").is_visible()
        page.mouse.move(0, 0)
        page.evaluate("window.scrollTo(0, 0)")
        shot = tmp_path / f"{doc_id}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert_png(shot)
    assert w.problems == []


@pytest.mark.browser
def test_browser_layer_toggles_and_nested_tooltips(annotated_repo, tmp_path, browser, serve):
    out = tmp_path / "site"
    assert main(["--root", str(annotated_repo), "render", "--out", str(out)]) == 0
    w = Watched(browser, serve(out))
    page = w.open("doc/003_4dc299c40bab5478.html")
    doc = annotations_of(annotated_repo)["003_4dc299c40bab5478"]
    inner = next(e for e in doc["entities"] if e["text"] == "12,000")
    claim = next(c for c in doc["claims"] if c["quantity_value"] == 12000)
    tip = tip_after_hover(page, f'#text [data-span="{inner["id"]}"]')
    assert tip.index(f"CARDINAL {inner['id']}") < tip.index(f"CLAIM {claim['id']}")  # innermost first
    assert page.locator(f'#text [data-span="{claim["id"]}"]').get_attribute("title") is None  # no double tooltip
    entity = page.locator(f'#text [data-span="{inner["id"]}"]')
    colour = lambda: entity.evaluate("e => getComputedStyle(e).backgroundColor")  # noqa: E731
    assert colour() != "rgba(0, 0, 0, 0)"
    page.locator('input[data-toggle="entities"]').uncheck()
    assert colour() == "rgba(0, 0, 0, 0)"
    tip = tip_after_hover(page, f'#text [data-span="{inner["id"]}"]')
    assert f"CLAIM {claim['id']}" in tip and "CARDINAL" not in tip
    page.screenshot(path=str(tmp_path / "toggled.png"), full_page=True)
    assert_png(tmp_path / "toggled.png")
    assert w.problems == []


@pytest.mark.browser
def test_browser_hostile_document_stays_text(hostile_repo, tmp_path, browser, serve):
    out = tmp_path / "site"  # the pages as render_site makes them (the command refuses the unreviewed conflict)
    for path, html_text in render_repo(hostile_repo).items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(html_text, encoding="utf-8")
    w = Watched(browser, serve(out))
    for path in ("index.html", f"doc/{HOSTILE_ID}.html"):
        page = w.open(path)
        assert page.locator("img, svg, b").count() == 0
        assert page.locator("script").count() == 1
        if path.startswith("doc/"):
            assert page.locator("#text").evaluate("e => e.textContent") == HOSTILE_TEXT
            for sid in spans_of(annotations_of(hostile_repo)[HOSTILE_ID]):
                tip_after_hover(page, f'#text [data-span="{sid}"]')
            assert page.locator("#tip img, #tip script").count() == 0
        shot = tmp_path / (Path(path).stem + ".png")
        page.screenshot(path=str(shot), full_page=True)
        assert_png(shot)
    assert w.problems == []


@pytest.mark.browser
def test_browser_the_repository_annotations(tmp_path, browser, serve):
    """The site of whatever annotations the repository holds now (none yet, a pass, or the gold)."""
    out = tmp_path / "site"
    assert main(["--root", str(REPO), "render", "--out", str(out)]) == 0
    inputs = render.read_inputs(Layout(REPO))
    w = Watched(browser, serve(out))
    page = w.open("index.html")
    assert page.locator("table.documents tbody tr").count() == len(inputs["documents"])
    for meta in inputs["documents"]:
        doc_id = meta["id"]
        page = w.open(f"doc/{doc_id}.html")
        assert page.locator("#text").evaluate("e => e.textContent") == inputs["clean_texts"][doc_id]
        doc = inputs["annotations"].get(doc_id)
        expected = spans_of(doc) if doc else {}
        marks = page.evaluate("() => [...new Set([...document.querySelectorAll('#text [data-span]')]"
                              ".map(e => e.dataset.span))].sort()")
        assert marks == sorted(expected)
        if not doc:
            assert page.locator("#no-annotations").is_visible()
        sample = {}
        for sid, rec in expected.items():  # one span of each label per page keeps the test short
            sample.setdefault(rec["label"], (sid, rec))
        for sid, rec in sample.values():
            assert f"{rec['label']} {sid}" in tip_after_hover(page, f'#text [data-span="{sid}"]')
        page.mouse.move(0, 0)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(tmp_path / f"{doc_id}.png"), full_page=True)
        assert_png(tmp_path / f"{doc_id}.png")
    assert w.problems == []
