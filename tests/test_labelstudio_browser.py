"""The labeling view in headless Chromium on a real Label Studio (slow: one server boot and one browser).

A task with pre-annotations is opened as an annotator opens it. Checked: before a region is selected no
field is shown; selecting a region of a label shows exactly the fields of that label (attributes and
proposals), beside the text and inside the window wherever the region is; no relation label drawn by the
editor covers a line of the text.
"""
import time
from pathlib import Path

import pytest

from pactnews.labelstudio import server as ls_server
from pactnews.labelstudio.config import (SIDE_CLASS, TEXT_CLASS, attribute_control, attribute_header,
                                         attribute_labels, labeling_config, layer_attributes, proposal_header,
                                         proposals)
from pactnews.labelstudio.readers import read_corpus
from pactnews.labelstudio.tasks import build_tasks
from pactnews.inventory import SPAN_LAYERS
from pactnews.repo import Layout

from browserkit import CHROMIUM, LAUNCH_ARGS, need_browser
from ls_server import INV, REPO, markup_docs, new_credentials

pytestmark = [pytest.mark.server, pytest.mark.browser]

VIEWPORT = {"width": 1400, "height": 1000}
WAIT_MS = 90_000  # a first page load compiles nothing, but a busy machine serves it slowly
MODEL_VERSION = "markup-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A fresh label-studio on a free loopback port, stopped by its PID at the end."""
    need_browser()  # before the server's minute of start-up
    data = tmp_path_factory.mktemp("labelstudio-data")
    srv = ls_server.Server(data, new_credentials(), log_path=data / "server.log")
    srv.start()
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def task(server):
    """(project id, task id, the pre-annotated document) of a project with the generated config."""
    corpus = sorted(read_corpus(Layout(REPO)), key=lambda r: r["document_id"])
    record = corpus[0]
    doc = markup_docs()[record["document_id"]]
    assert doc["relations"] and all(doc[layer] for layer in SPAN_LAYERS)
    client = ls_server.client(server.url, server.creds.token)
    project_id, _ = ls_server.ensure_project(client, labeling_config(INV), MODEL_VERSION, title="browser")
    (one,) = build_tasks([record], INV, {record["document_id"]: doc}, MODEL_VERSION)
    (task_id,) = ls_server.import_tasks(client, project_id, [one])
    return project_id, task_id, doc


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def page(server, task, shots):
    """The task open in the labeling view, logged in through the login form."""
    from playwright.sync_api import sync_playwright

    project_id, task_id, doc = task
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            view = browser.new_page(viewport=VIEWPORT)
            view.set_default_timeout(WAIT_MS)
            view.goto(f"{server.url}/user/login/")
            view.fill("input[name=email]", server.creds.username)
            view.fill("input[name=password]", server.creds.password)
            view.click("button[type=submit], input[type=submit]")
            view.wait_for_url(lambda url: "/user/login" not in url)
            view.goto(f"{server.url}/projects/{project_id}/data?task={task_id}")
            view.wait_for_selector(".lsf-richtext__container .htx-highlight")
            # every relation of the pre-annotation drawn, with its label
            view.wait_for_function("n => document.querySelectorAll('svg.relations-overlay g[transform] text').length"
                                   " >= n", arg=len(doc["relations"]))
            view.wait_for_timeout(1000)  # the overlay settles after the last layout change
            view.screenshot(path=str(shots / "view.png"))
            yield view
        finally:
            browser.close()


# ---------------------------------------------------------------- what the page shows

HEADERS = "() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].filter(e => e.offsetParent !== null)" \
          ".map(e => e.textContent.trim())"
NAMED = "() => [...document.querySelectorAll('[name]')].filter(e => e.offsetParent !== null)" \
        ".map(e => e.getAttribute('name').split(':')[0])"
BOX = "el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"
# A point on the region's own text (not on a region nested in it), after scrolling it to the middle.
REGION_POINT = """id => {
  const parts = [...document.querySelectorAll('.htx-highlight')]
    .filter(s => [...s.classList].some(c => c.startsWith('htx-highlight-' + id + '-')));
  for (const part of parts) {
    for (const node of part.childNodes) {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim().length >= 2) {
        part.scrollIntoView({block: 'center'});
        const range = document.createRange();
        range.setStart(node, 0);
        range.setEnd(node, 1);
        const r = range.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2];
      }
    }
  }
  return null;
}"""
# Every line of the text: the boxes of its glyphs, one per line fragment of every text node.
TEXT_LINES = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector('.lsf-richtext__container'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width > 0.5 && r.height > 0.5) out.push([r.left, r.top, r.right, r.bottom, node.textContent.slice(0, 30)]);
    }
  }
  return out;
}"""
# The relation labels the editor draws: the background box of each label shown.
RELATION_LABELS = """() => [...document.querySelectorAll('svg.relations-overlay g[transform]')]
  .filter(g => g.querySelector('text') && getComputedStyle(g).visibility === 'visible'
               && getComputedStyle(g).display !== 'none' && Number(getComputedStyle(g).opacity) > 0)
  .map(g => { const r = (g.querySelector('rect') || g).getBoundingClientRect();
              return [r.left, r.top, r.right, r.bottom, g.querySelector('text').textContent]; })"""


def field_headers() -> set[str]:
    """The header of every per-region field of the config."""
    out = {attribute_header(INV, layer, a) for layer in SPAN_LAYERS for a in layer_attributes(INV, layer)}
    return out | {proposal_header(INV, p) for p in proposals(INV)}


def expected_fields(layer: str, label: str) -> tuple[set[str], set[str]]:
    """(headers, control names) of the fields a region of this label has: the attributes that apply to its label,
    and the proposal after each key attribute among them."""
    attributes = [a for a in layer_attributes(INV, layer)
                  if attribute_labels(INV, layer, a) is None or label in attribute_labels(INV, layer, a)]
    headers = {attribute_header(INV, layer, a) for a in attributes}
    names = {attribute_control(layer, a) for a in attributes}
    for p in proposals(INV):
        if p.layer == layer and p.attribute in attributes:
            headers.add(proposal_header(INV, p))
            names.add(p.control)
    return headers, names


def shown_fields(page) -> set[str]:
    return set(page.evaluate(HEADERS)) & field_headers()


def overlap(a, b, slack: float = 1.0) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack


def deselect(page) -> None:
    page.keyboard.press("Escape")
    page.wait_for_function(f"() => ({HEADERS})().some(h => h.startsWith('Select a region'))")


def select(page, region: str) -> None:
    """Click a region's own text, as an annotator selects it."""
    point = page.evaluate(REGION_POINT, region)
    assert point is not None, f"region {region} is not drawn in the text"
    page.wait_for_timeout(300)  # the scroll settles
    point = page.evaluate(REGION_POINT, region)
    page.mouse.click(*point)
    page.wait_for_function(f"() => !({HEADERS})().some(h => h.startsWith('Select a region'))")
    page.wait_for_timeout(300)


# ---------------------------------------------------------------- the checks

def test_no_field_is_shown_before_a_region_is_selected(page):
    deselect(page)
    assert shown_fields(page) == set()
    assert not set(page.evaluate(NAMED)) & {f"{layer}_" for layer in SPAN_LAYERS}


def _regions(doc: dict) -> list[tuple[str, str, str]]:
    """(layer, label, region id) to select: the first region of each label the document has, and its last claim
    (far down the text)."""
    out, seen = [], set()
    for layer in SPAN_LAYERS:
        for rec in doc[layer]:
            if rec["label"] not in seen:
                seen.add(rec["label"])
                out.append((layer, rec["label"], rec["id"]))
    last = max(doc["claims"], key=lambda c: c["start"])
    return out + [("claims", last["label"], last["id"])]


def test_selecting_a_region_shows_exactly_its_fields_beside_the_text(page, task, shots):
    _, _, doc = task
    from pactnews.labelstudio.convert import PREDICTION_PREFIX

    regions = _regions(doc)
    labels = {label for _, label, _ in regions}
    assert {INV.role("source_label"), INV.role("cue_label"), INV.role("claim_label")} <= labels
    text_box = page.eval_on_selector(f".{TEXT_CLASS} .lsf-richtext__container", BOX)
    for layer, label, ident in regions:
        deselect(page)
        select(page, PREDICTION_PREFIX + ident)
        shot = shots / f"selected-{label}-{ident}.png"
        page.screenshot(path=str(shot))
        headers, names = expected_fields(layer, label)
        assert shown_fields(page) == headers, f"{label} region {ident}: see {shot}"
        shown_names = {n for n in page.evaluate(NAMED) if n.split("_")[0] in SPAN_LAYERS}
        assert shown_names <= names, f"{label} region {ident}: controls of other labels {shown_names - names}; {shot}"
        if not headers:
            continue
        assert shown_names, f"{label} region {ident}: headers but no control; see {shot}"
        # beside the text, and in the window, wherever the region is in the text
        boxes = [page.locator(f".{SIDE_CLASS} :is(h1,h2,h3,h4,h5,h6)", has_text=text).first.evaluate(BOX)
                 for text in sorted(headers)]
        assert all(box[0] >= text_box[2] for box in boxes), f"{label}: fields not beside the text; see {shot}"
        top = min(box[1] for box in boxes)
        assert 0 <= top < VIEWPORT["height"] - 100, f"{label} region {ident}: its fields are out of view; see {shot}"
    deselect(page)


def test_no_relation_label_covers_the_text(page, task, shots):
    _, _, doc = task
    deselect(page)
    labels = page.evaluate(RELATION_LABELS)
    lines = page.evaluate(TEXT_LINES)
    shot = shots / "relations.png"
    page.screenshot(path=str(shot), full_page=True)
    assert len(labels) >= len(doc["relations"]), f"relation labels drawn: {len(labels)}; see {shot}"
    assert len(lines) > 20
    covered = [(label[4], line[4]) for label in labels for line in lines if overlap(label, line)]
    assert covered == [], f"relation labels over the text (label, text): {covered[:8]}; see {shot}"


def test_a_new_entity_typed_in_the_view_is_read_as_a_proposal(page, task, server, shots):
    """The proposal field as the editor saves it: typed, submitted, exported, read back (runs last: it submits)."""
    from pactnews.labelstudio.convert import PREDICTION_PREFIX, Proposal, from_result, read_proposals
    from pactnews.labelstudio.importer import parse_export

    project_id, task_id, doc = task
    entity = doc["entities"][0]
    region = PREDICTION_PREFIX + entity["id"]
    deselect(page)
    select(page, region)
    box = page.locator(f".{SIDE_CLASS} input[name='entities_new_entity']")
    box.fill("Republic of Korea")
    box.press("Enter")
    page.screenshot(path=str(shots / "typed.png"))
    page.locator("[data-testid=bottombar-submit-button]").click()
    client = ls_server.client(server.url, server.creds.token)
    annotations, deadline = [], time.monotonic() + WAIT_MS / 1000
    while not annotations and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        exported = [t for t in parse_export(ls_server.export_bytes(client, project_id), "export") if t["id"] == task_id]
        annotations = exported[0]["annotations"] if exported else []
    page.screenshot(path=str(shots / "submitted.png"))
    assert len(annotations) == 1, f"the annotation was not submitted; see {shots / 'submitted.png'}"
    (annotation,) = annotations
    record = next(r for r in read_corpus(Layout(REPO)) if r["document_id"] == doc["document_id"])
    back, issues = from_result(annotation["result"], record["text"], doc["document_id"], record["text_sha256"], INV)
    assert [i for i in issues if i.severity == "error"] == []
    found, issues = read_proposals(annotation["result"], doc["document_id"], INV)
    assert issues == []
    assert found == [Proposal("entities", entity["entity_id"], {"name": "Republic of Korea", "label": entity["label"]},
                              doc["document_id"], region)]
