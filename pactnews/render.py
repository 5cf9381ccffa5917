"""`pactnews render`: a static, self-contained HTML view of the annotated corpus.

`render_site` is a pure function from the documents, their annotations and
the two cross-document tables to {relative path: HTML}; only `run` reads and
writes files. Spans of different layers nest and overlap, so the text is cut
at every span boundary and elements are opened and closed as a stack: a span
that must close while a later one is still open is split into fragments
(all carrying the same data-span id), which keeps the HTML well formed and
the page's text exactly the clean text. Every piece of corpus data is
escaped; pages use inline CSS/JS only and carry no timestamps, so a re-render
of the same inputs is byte-identical.
"""
from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from . import standoff, tables
from .corpus import CorpusError, read_dataset_info, read_metadata, read_clean_texts
from .inventory import Inventory, default_inventory
from .repo import Layout, sha256_text, write_files_atomically

LAYER_CLASS = {"entities": "ent", "timexes": "tmx", "attributions": "att", "claims": "clm"}
LAYER_TITLE = {"entities": "Entities", "timexes": "Time expressions", "attributions": "Attributions", "claims": "Claims"}
# On equal extents the outer element is the one listed first.
NEST_ORDER = {"claims": 0, "attributions": 1, "entities": 2, "timexes": 3}
UNTITLED = '<span class="muted">(untitled)</span>'
SAFE_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class Span:
    layer: str
    rec: dict
    tip: str
    attrs: dict[str, str] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.rec["id"]


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page_path(doc_id: str) -> str:
    return f"doc/{doc_id}.html"


def fmt_quantity(value, unit) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"
    else:
        number = str(value)
    return f"{number} {unit}" if unit else number


# ---------------------------------------------------------------- spans


def check_spans(doc_id: str, text: str, ann: dict) -> tuple[list[tuple[str, dict]], list[str]]:
    """The span records that can be drawn, and a problem message for each one that cannot."""
    where = f"annotations/{doc_id}.json"
    found_sha = sha256_text(text)
    if ann.get("text_sha256") != found_sha:
        return [], [f"{where}: [text-sha-mismatch] annotations were made for text_sha256 "
                    f"{ann.get('text_sha256')} but the clean text hashes to {found_sha}; no span is shown"]
    good, problems, seen = [], [], set()
    for layer in standoff.SPAN_LAYERS:
        for rec in ann.get(layer) or []:
            if not isinstance(rec, dict):
                problems.append(f"{where}: [{layer}] record {rec!r} is not an object")
                continue
            sid, start, end = rec.get("id"), rec.get("start"), rec.get("end")
            loc = f"{where}: {layer} {sid} [{start}:{end}]"
            if not isinstance(sid, str) or not sid:
                problems.append(f"{loc}: [missing-id] the span has no id")
            elif sid in seen:
                problems.append(f"{loc}: [duplicate-id] id {sid} is used twice in this document")
            elif not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
                problems.append(f"{loc}: [bad-offsets] offsets must be integers")
            elif not 0 <= start < end <= len(text):
                problems.append(f"{loc}: [offsets-out-of-range] expected 0 <= start < end <= {len(text)}")
            elif rec.get("text") != text[start:end]:
                problems.append(f"{loc}: [span-text-mismatch] span text is {rec.get('text')!r} "
                                f"but text[{start}:{end}] is {text[start:end]!r}")
            else:
                seen.add(sid)
                good.append((layer, rec))
                continue
            if isinstance(sid, str):
                seen.add(sid)
    return good, problems


def entity_desc(eid, entity_table: dict) -> str:
    if eid is None:
        return ""
    row = entity_table.get(eid)
    if row is None:
        return f"{eid} (not in the entity table)"
    return f"{eid}: {row.get('name')} ({row.get('label')})"


@dataclass
class ClaimView:
    """A claim with its source and cue resolved through the relations."""
    doc_id: str
    rec: dict
    source: str
    source_ref: str | None
    cue: str
    cue_ref: str | None


def claim_views(doc_id: str, spans: list[tuple[str, dict]], relations: list, entity_table: dict) -> dict[str, ClaimView]:
    by_id = {rec["id"]: rec for _, rec in spans}
    out = {}
    rels: dict[tuple[str, str], list[str]] = {}
    for rel in relations or []:
        if isinstance(rel, dict):
            rels.setdefault((rel.get("from_id"), rel.get("label")), []).append(rel.get("to_id"))
    for layer, rec in spans:
        if layer != "claims":
            continue
        src_ids = sorted(i for i in rels.get((rec["id"], "claim_source"), []) if isinstance(i, str))
        cue_ids = sorted(i for i in rels.get((rec["id"], "claim_cue"), []) if isinstance(i, str))
        st = rec.get("source_type")
        if st == "author":
            source = "author (the article's own voice)"
        elif src_ids:
            parts = []
            for i in src_ids:
                target = by_id.get(i)
                if target is None:
                    parts.append(f"{i} (no such span)")
                    continue
                eid = target.get("entity_id")
                parts.append(f"“{target.get('text')}”" + (f" = {entity_desc(eid, entity_table)}" if eid else ""))
            source = f"{st}: " + "; ".join(parts)
        else:
            source = f"{st} (no claim_source relation)"
        cue = "; ".join(f"“{by_id[i].get('text')}”" if i in by_id else f"{i} (no such span)" for i in cue_ids)
        out[rec["id"]] = ClaimView(doc_id, rec, source, src_ids[0] if src_ids else None, cue,
                                   cue_ids[0] if cue_ids else None)
    return out


def build_spans(spans: list[tuple[str, dict]], claims: dict[str, ClaimView], relations: list,
                entity_table: dict, cluster_table: dict, inv: Inventory) -> list[Span]:
    """Tooltip text, data attributes and classes of every drawable span."""
    used_by: dict[str, list[str]] = {}
    for rel in relations or []:
        if isinstance(rel, dict) and isinstance(rel.get("to_id"), str):
            used_by.setdefault(rel["to_id"], []).append(f"{rel.get('label')} of {rel.get('from_id')}")
    factualities = set(inv.values("factuality"))
    out = []
    for layer, rec in spans:
        label = rec.get("label")
        lines = [f"{label} {rec['id']}"]
        attrs = {"data-layer": layer, "data-label": str(label)}
        classes = [LAYER_CLASS[layer]]
        if layer == "entities":
            lines.append(f"entity {entity_desc(rec.get('entity_id'), entity_table)}")
        elif layer == "timexes":
            lines.append(f"value {rec.get('value')}")
            attrs["data-value"] = str(rec.get("value"))
        elif layer == "attributions":
            if rec.get("entity_id"):
                lines.append(f"refers to {entity_desc(rec.get('entity_id'), entity_table)}")
        else:
            view = claims[rec["id"]]
            cid = rec.get("cluster_id")
            prop = (cluster_table.get(cid) or {}).get("proposition") if cid is not None else None
            lines.append(f"source: {view.source}")
            lines.append(f"cue: {view.cue or '(none)'}")
            lines.append(f"factuality: {rec.get('factuality')}")
            lines.append(f"cluster: {cid}" + (f" — {prop}" if prop else " (not in the cluster table)"))
            quantity = fmt_quantity(rec.get("quantity_value"), rec.get("quantity_unit"))
            if quantity:
                lines.append(f"quantity: {quantity}")
            fact = rec.get("factuality")
            classes.append(f"f-{fact}" if fact in factualities else "f-other")
            if view.source_ref:
                attrs["data-src"] = view.source_ref
            if view.cue_ref:
                attrs["data-cue"] = view.cue_ref
        lines += sorted(used_by.get(rec["id"], []))
        out.append(Span(layer, rec, "\n".join(lines), attrs, classes))
    return out


def mark_text(text: str, spans: list[Span]) -> tuple[str, dict[str, int]]:
    """The text as HTML with every span as nested marks; also the fragment count per span id."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i].rec["start"], -spans[i].rec["end"],
                                                     NEST_ORDER[spans[i].layer], spans[i].id))
    starts: dict[int, list[int]] = {}
    ends: dict[int, list[int]] = {}
    for i in order:
        starts.setdefault(spans[i].rec["start"], []).append(i)
        ends.setdefault(spans[i].rec["end"], []).append(i)
    bounds = sorted({0, len(text), *starts, *ends})
    tokens: list[tuple] = []  # ("open", span index, depth) | ("close",) | ("text", str)
    stack: list[int] = []
    fragments = [0] * len(spans)

    def rank(i):
        return (-spans[i].rec["end"], NEST_ORDER[spans[i].layer], spans[i].rec["start"], spans[i].id)

    for k, b in enumerate(bounds):
        closing = set(ends.get(b, []))
        reopen: list[int] = []
        if closing:
            lowest = min(stack.index(i) for i in closing)
            while len(stack) > lowest:
                i = stack.pop()
                tokens.append(("close",))
                if i not in closing:
                    reopen.append(i)
        for i in sorted(reopen + starts.get(b, []), key=rank):
            depth = sum(1 for j in stack if spans[j].layer == spans[i].layer)
            tokens.append(("open", i, fragments[i], depth))
            fragments[i] += 1
            stack.append(i)
        if k + 1 < len(bounds):
            tokens.append(("text", text[b: bounds[k + 1]]))
    assert not stack, "every span closes at its end"
    parts = []
    for tok in tokens:
        if tok[0] == "text":
            parts.append(esc(tok[1]))
        elif tok[0] == "close":
            parts.append("</span>")
        else:
            _, i, frag, depth = tok
            s = spans[i]
            classes = ["m", *s.classes, f"d{min(depth, 3)}"]
            if frag == 0:
                classes.append("first")
            if frag == fragments[i] - 1:
                classes.append("last")
            attrs = {"class": " ".join(classes), "data-span": s.id, **s.attrs, "title": s.tip}
            if frag == 0:
                attrs = {"id": s.id, **attrs}
            parts.append("<span " + " ".join(f'{k}="{esc(v)}"' for k, v in attrs.items()) + ">")
    return "".join(parts), {s.id: fragments[i] for i, s in enumerate(spans)}


# ---------------------------------------------------------------- pages

CSS = """
:root{--fg:#1b1b1b;--muted:#5f6368;--line:#d9d9d9;--bg:#fff;--soft:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:72rem;margin:0 auto;padding:1.5rem 1.5rem 4rem}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.25rem;margin:2rem 0 .75rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
h3{font-size:1rem;margin:0 0 .25rem}
a{color:#1a56b0}
nav{font-size:.9rem;margin-bottom:.5rem}
.muted{color:var(--muted)}
.notice{background:#fff8e1;border:1px solid #f0c36d;border-radius:.4rem;padding:.6rem .9rem;margin:1rem 0}
.problems{background:#fdecea;border:1px solid #e0a39c;border-radius:.4rem;padding:.6rem .9rem;margin:1rem 0}
.problems li{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.8rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0 1rem}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.zero{color:#b0b0b0}
code,.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.9rem;margin:0 0 1rem}
dl.meta dt{font-weight:600}
dl.meta dd{margin:0}
.cluster{border:1px solid var(--line);border-radius:.4rem;padding:.6rem .9rem;margin:0 0 1rem}
.cluster.conflict{border-left:6px solid #c62828;background:#fff5f5}
.badge{display:inline-block;font-size:.75rem;font-weight:700;border-radius:1rem;padding:.05rem .55rem;margin-left:.4rem;vertical-align:middle}
.badge.conflict{background:#c62828;color:#fff}
.badge.disputed{background:#ef6c00;color:#fff}
.badge.missing{background:#757575;color:#fff}
td.qty-conflict{background:#ffcdd2;font-weight:700}
.controls{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center;font-size:.9rem;padding:.5rem .8rem;background:var(--soft);border:1px solid var(--line);border-radius:.4rem;position:sticky;top:0;z-index:2}
.controls label{cursor:pointer;white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;gap:.3rem;margin:.6rem 0 1rem;font-size:.75rem}
.legend span{border-radius:.3rem;padding:.05rem .45rem;font-weight:700}
.legend .clm{border-radius:0;font-weight:400}
.text{white-space:pre-wrap;overflow-wrap:anywhere;font-size:1.05rem;line-height:2.4;margin:1rem 0 2rem;padding:1rem 1.2rem;border:1px solid var(--line);border-radius:.4rem}
.m{border-radius:.3em;-webkit-box-decoration-break:clone;box-decoration-break:clone}
.ent{padding:.15em .3em;background:#ddd}
.m::after{white-space:nowrap}
.ent.last::after{content:attr(data-label);font-size:.62em;font-weight:700;margin-left:.35em;vertical-align:middle;letter-spacing:.02em}
.tmx{padding:.15em .3em;background:#bfe1d9;outline:1px solid #7fb8aa}
.tmx.last::after{content:attr(data-label) " " attr(data-value);font-size:.62em;font-weight:700;margin-left:.35em;vertical-align:middle}
.att{padding:.1em .2em;border:1.5px dashed #6a5acd;background:rgba(106,90,205,.07)}
.att.last::after{content:attr(data-label);font-size:.6em;font-weight:700;color:#4b3db5;margin-left:.3em;vertical-align:middle}
.clm{border-radius:0;background:rgba(255,214,0,.16);border-bottom:2.5px solid #2e7d32;padding-bottom:.2em}
.clm.d1{padding-bottom:.45em}.clm.d2{padding-bottom:.7em}.clm.d3{padding-bottom:.95em}
.clm.f-hedged{border-bottom-style:dashed;border-bottom-color:#ef6c00}
.clm.f-denied{border-bottom-style:double;border-bottom-width:4px;border-bottom-color:#c62828}
.clm.f-other{border-bottom-color:#757575}
.m.hl{outline:2px solid #1a56b0;outline-offset:1px}
.m.rel{outline:2px dotted #1a56b0;outline-offset:1px}
body.hide-entities .ent,body.hide-timexes .tmx,body.hide-attributions .att{background:none;border-color:transparent;outline:none;padding:0}
body.hide-claims .clm{background:none;border-bottom-color:transparent}
body.hide-entities .ent::after,body.hide-timexes .tmx::after,body.hide-attributions .att::after{content:none}
#tip{position:fixed;z-index:10;max-width:28rem;background:#202124;color:#fff;font-size:.8rem;line-height:1.35;border-radius:.35rem;padding:.45rem .6rem;box-shadow:0 2px 8px rgba(0,0,0,.3);pointer-events:none;white-space:pre-wrap}
#tip[hidden]{display:none}
#tip div+div{border-top:1px solid #5f6368;margin-top:.3rem;padding-top:.3rem}
"""

# Moves each mark's title into data-tip (so the browser's own tooltip does not
# double the custom one) and shows every span under the pointer, innermost
# first. Text is inserted with textContent only.
JS = """
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  var body = document.body;
  var marks = document.querySelectorAll("[data-span]");
  for (var i = 0; i < marks.length; i++) {
    marks[i].setAttribute("data-tip", marks[i].getAttribute("title") || "");
    marks[i].removeAttribute("title");
  }
  var lit = [];
  function unlight() {
    for (var i = 0; i < lit.length; i++) { lit[i].classList.remove("hl", "rel"); }
    lit = [];
  }
  function light(id, cls) {
    if (!id) { return; }
    var els = document.querySelectorAll('[data-span="' + CSS.escape(id) + '"]');
    for (var i = 0; i < els.length; i++) { els[i].classList.add(cls); lit.push(els[i]); }
  }
  function shown(el) {
    return !body.classList.contains("hide-" + el.getAttribute("data-layer"));
  }
  function place(ev) {
    if (!tip || tip.hidden) { return; }
    var x = ev.clientX + 14, y = ev.clientY + 18;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 4) { x = Math.max(4, window.innerWidth - w - 4); }
    if (y + h > window.innerHeight - 4) { y = Math.max(4, ev.clientY - h - 10); }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function over(ev) {
    if (!tip) { return; }
    unlight();
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    var n = ev.target instanceof Element ? ev.target.closest("[data-span]") : null;
    for (; n; n = n.parentElement ? n.parentElement.closest("[data-span]") : null) {
      if (!shown(n)) { continue; }
      var line = document.createElement("div");
      line.className = "tip-" + n.getAttribute("data-layer");
      line.textContent = n.getAttribute("data-tip");
      tip.appendChild(line);
      if (!lit.length) {
        light(n.getAttribute("data-span"), "hl");
        light(n.getAttribute("data-src"), "rel");
        light(n.getAttribute("data-cue"), "rel");
      }
    }
    tip.hidden = !tip.firstChild;
    place(ev);
  }
  document.addEventListener("mouseover", over);
  document.addEventListener("mousemove", place);
  var boxes = document.querySelectorAll("input[data-toggle]");
  for (var j = 0; j < boxes.length; j++) {
    boxes[j].addEventListener("change", function (ev) {
      body.classList.toggle("hide-" + ev.target.getAttribute("data-toggle"), !ev.target.checked);
    });
  }
})();
"""


def label_css(inv: Inventory) -> str:
    """Per-label colours: spaCy displaCy's palette for the entity types."""
    from spacy.displacy.render import DEFAULT_LABEL_COLORS  # imported here: spaCy is slow to import

    rules = []
    for label in inv.labels("entities"):
        if re.fullmatch(r"[A-Z_]+", label) and label in DEFAULT_LABEL_COLORS:
            rules.append(f'.ent[data-label="{label}"]{{background:{DEFAULT_LABEL_COLORS[label]}}}')
    return "\n".join(rules)


def page(title: str, body: str, css: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}{css}\n</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n"
        '<div id="tip" role="tooltip" hidden></div>\n'
        f"<script>{JS}</script>\n</body>\n</html>\n"
    )


def counts_of(ann: dict | None) -> dict[str, int] | None:
    if ann is None:
        return None
    return {layer: len(ann.get(layer) or []) for layer in standoff.LAYERS}


def dct_text(meta: dict) -> tuple[str, str]:
    dct = meta.get("dct") or {}
    value = dct.get("value")
    shown = f"{value} ({dct.get('basis') or 'basis unknown'})" if value else "unknown"
    return shown, (dct.get("evidence") or "").strip()


def short_id(doc_id: str) -> str:
    return doc_id.split("_", 1)[0]


@dataclass
class DocView:
    meta: dict
    text: str | None
    ann: dict | None
    spans: list[Span]
    claims: dict[str, ClaimView]
    problems: list[str]

    @property
    def id(self) -> str:
        return self.meta["id"]


def render_document(view: DocView, inv: Inventory, cluster_table: dict, css: str,
                    prev_id: str | None = None, next_id: str | None = None) -> str:
    doc_id = view.id
    meta = view.meta
    title = meta.get("title")
    dct, evidence = dct_text(meta)
    nav = ['<a href="../index.html">← Corpus overview</a>']
    if prev_id:
        nav.append(f'<a href="{esc(prev_id)}.html" rel="prev">‹ {esc(short_id(prev_id))}</a>')
    if next_id:
        nav.append(f'<a href="{esc(next_id)}.html" rel="next">{esc(short_id(next_id))} ›</a>')
    out = ["<nav>" + " · ".join(nav) + "</nav>"]
    out.append(f"<h1>{esc(title) if title else UNTITLED}</h1>")
    out.append('<dl class="meta">')
    out.append(f'<dt>Document</dt><dd><code>{esc(doc_id)}</code></dd>')
    if not title and meta.get("title_basis"):
        out.append(f"<dt>Title</dt><dd>none: {esc(meta.get('title_basis'))}</dd>")
    out.append(f'<dt>DCT</dt><dd>{esc(dct)}' + (f' — <span class="muted">{esc(evidence)}</span>' if evidence else "") + "</dd>")
    outlet = meta.get("source_outlet")
    out.append(f"<dt>Source</dt><dd>{esc(outlet) if outlet else 'unknown'}"
               + (f' — <span class="muted">{esc(meta.get("source_note"))}</span>' if meta.get("source_note") else "") + "</dd>")
    counts = counts_of(view.ann)
    if counts is not None:
        out.append("<dt>Annotations</dt><dd>" + ", ".join(f"{n} {esc(layer)}" for layer, n in counts.items()) + "</dd>")
    out.append("</dl>")
    if view.text is None:
        out.append(f'<p class="notice">The clean text corpus/clean/{esc(doc_id)}.txt is missing; run <code>pactnews clean</code>.</p>')
        return page(f"{doc_id} · PactNews", "\n".join(out), css)
    if view.ann is None:
        out.append(f'<p class="notice" id="no-annotations">Annotations are missing: annotations/{esc(doc_id)}.json '
                   "does not exist yet, so the clean text is shown without highlights.</p>")
    if view.problems:
        out.append('<div class="problems"><strong>Spans that cannot be shown:</strong><ul>'
                   + "".join(f"<li>{esc(p)}</li>" for p in view.problems) + "</ul></div>")
    if view.spans:
        present = {layer for layer in LAYER_CLASS if any(s.layer == layer for s in view.spans)}
        boxes = "".join(
            f'<label><input type="checkbox" checked data-toggle="{layer}"> {LAYER_TITLE[layer]}</label>'
            for layer in LAYER_CLASS if layer in present)
        out.append(f'<div class="controls"><strong>Layers</strong>{boxes}'
                   '<span class="muted">hover a highlight for its details</span></div>')
        labels = sorted({(s.layer, str(s.rec.get("label"))) for s in view.spans},
                        key=lambda p: (NEST_ORDER[p[0]], p[1]))
        facts = sorted({str(s.rec.get("factuality")) for s in view.spans if s.layer == "claims"})
        out.append('<div class="legend">' + "".join(
            f'<span class="m {LAYER_CLASS[layer]}" data-label="{esc(label)}">{esc(label)}</span>'
            for layer, label in labels if layer != "claims")
            + "".join(f'<span class="m clm {cls}">claim, {esc(fact)}</span>'
                      for fact, cls in ((f, f"f-{f}" if f in inv.values("factuality") else "f-other") for f in facts))
            + "</div>")
    marked, _ = mark_text(view.text, view.spans)
    out.append(f'<div class="text" id="text">{marked}</div>')
    if view.claims:
        out.append(f"<h2>Claims ({len(view.claims)})</h2>")
        out.append('<table class="claims"><thead><tr><th>Claim</th><th>Text</th><th>Source</th><th>Cue</th>'
                   '<th>Factuality</th><th>Cluster</th><th class="num">Quantity</th></tr></thead><tbody>')
        for cv in sorted(view.claims.values(), key=lambda c: (c.rec["start"], c.rec["end"], c.rec["id"])):
            rec = cv.rec
            cid = rec.get("cluster_id")
            cluster = (f'<a href="../index.html#{esc(cluster_anchor(cid))}"><code>{esc(cid)}</code></a>'
                       + ("" if cid in cluster_table else ' <span class="badge missing">not in table</span>'))
            out.append(
                f'<tr><td><a href="#{esc(rec["id"])}"><code>{esc(rec["id"])}</code></a></td><td>{esc(rec.get("text"))}</td>'
                f"<td>{esc(cv.source)}</td><td>{esc(cv.cue)}</td><td>{esc(rec.get('factuality'))}</td><td>{cluster}</td>"
                f'<td class="num">{esc(fmt_quantity(rec.get("quantity_value"), rec.get("quantity_unit")))}</td></tr>')
        out.append("</tbody></table>")
    return page(f"{title or doc_id} · PactNews", "\n".join(out), css)


def cluster_anchor(cluster_id) -> str:
    return "cluster-" + quote(str(cluster_id), safe="")


def render_index(views: list[DocView], orphans: list[str], entity_table: dict | None, cluster_table: dict | None,
                 dataset: dict, inv: Inventory, css: str) -> str:
    ents = entity_table or {}
    clus = cluster_table or {}
    name = dataset.get("pretty_name") or dataset.get("name") or "PactNews"
    annotated = [v for v in views if v.ann is not None]
    out = [f"<h1>{esc(name)}</h1>",
           f'<p class="muted">Version {esc(dataset.get("version"))} · schema {esc(inv.schema_version)} · '
           f"{len(views)} documents, {len(annotated)} annotated</p>"]
    if not annotated:
        out.append('<p class="notice" id="no-annotations">Annotations are missing: annotations/ holds no '
                   "document files yet. The clean texts are shown without highlights.</p>")
    problems = [p for v in views for p in v.problems]
    if problems or orphans:
        out.append(f'<div class="problems"><strong>{len(problems) + len(orphans)} problem(s)</strong>: '
                   f"{len(problems)} on the document pages; run <code>pactnews validate</code>."
                   + ("<ul>" + "".join(f"<li>{esc(p)}</li>" for p in orphans) + "</ul>" if orphans else "")
                   + "</div>")

    # documents
    layers = standoff.LAYERS
    out.append("<h2>Documents</h2>")
    out.append('<table class="documents"><thead><tr><th>Document</th><th>Title</th><th>DCT</th><th>Source</th>'
               + "".join(f'<th class="num">{esc(layer)}</th>' for layer in layers) + "</tr></thead><tbody>")
    for v in views:
        dct, evidence = dct_text(v.meta)
        title = v.meta.get("title")
        outlet = v.meta.get("source_outlet")
        counts = counts_of(v.ann)
        cells = ("".join(f'<td class="num">{n}</td>' for n in counts.values()) if counts is not None
                 else f'<td colspan="{len(layers)}" class="muted">not annotated</td>')
        out.append(
            f'<tr><td><a href="{esc(page_path(v.id))}"><code>{esc(v.id)}</code></a></td>'
            f"<td>{esc(title) if title else UNTITLED}</td>"
            f'<td title="{esc(evidence)}">{esc(dct)}</td>'
            f'<td title="{esc(v.meta.get("source_note"))}">{esc(outlet) if outlet else "unknown"}</td>{cells}</tr>')
    out.append("</tbody></table>")

    # entities across documents
    mentions: dict[str, dict[str, int]] = {}
    source_refs: dict[str, int] = {}
    for v in views:
        for s in v.spans:
            eid = s.rec.get("entity_id")
            if eid is None:
                continue
            if s.layer == "entities":
                row = mentions.setdefault(str(eid), {})
                row[v.id] = row.get(v.id, 0) + 1
            elif s.layer == "attributions":
                source_refs[str(eid)] = source_refs.get(str(eid), 0) + 1
    out.append("<h2>Entities across documents</h2>")
    out.append('<p class="muted">Mentions per document (entity layer); the last column counts SOURCE spans '
               "that refer to the entity.</p>")
    if entity_table is None:
        out.append('<p class="notice">The entity table annotations/tables/entities.json is missing.</p>')
    entity_ids = sorted(set(ents) | set(mentions) | set(source_refs))
    if entity_ids:
        out.append('<table class="entities"><thead><tr><th>Entity id</th><th>Canonical name</th><th>Label</th>'
                   + "".join(f'<th class="num" title="{esc(v.id)}">{esc(short_id(v.id))}</th>' for v in views)
                   + '<th class="num">total</th><th class="num" title="SOURCE spans that refer to the entity">'
                   'as SOURCE</th></tr></thead><tbody>')
        for eid in entity_ids:
            row = ents.get(eid)
            per = mentions.get(eid, {})
            name_cell = esc(row.get("name")) if row else '<span class="badge missing">not in the entity table</span>'
            out.append(
                f'<tr data-entity="{esc(eid)}"><td><code>{esc(eid)}</code></td><td>{name_cell}</td>'
                f"<td>{esc(row.get('label')) if row else ''}</td>"
                + "".join(f'<td class="num{"" if per.get(v.id) else " zero"}">{per.get(v.id, 0)}</td>' for v in views)
                + f'<td class="num">{sum(per.values())}</td>'
                + f'<td class="num{"" if source_refs.get(eid) else " zero"}">{source_refs.get(eid, 0)}</td></tr>')
        out.append("</tbody></table>")
    elif entity_table is not None:
        out.append('<p class="muted">No entities yet.</p>')

    # claim clusters
    members: dict[str, list[ClaimView]] = {}
    for v in views:
        for cv in v.claims.values():
            members.setdefault(str(cv.rec.get("cluster_id")), []).append(cv)
    out.append("<h2>Claim clusters</h2>")
    if cluster_table is None:
        out.append('<p class="notice">The cluster table annotations/tables/claim_clusters.json is missing.</p>')
    cluster_ids = sorted(set(clus) | set(members))
    conflicts = [c for c in cluster_ids if len(figures(members.get(c, []))) > 1]
    if conflicts:
        out.append('<p id="conflicts"><strong>Figures conflict in ' + str(len(conflicts)) + " cluster(s):</strong> "
                   + ", ".join(f'<a href="#{esc(cluster_anchor(c))}"><code>{esc(c)}</code></a>' for c in conflicts) + "</p>")
    if not cluster_ids and cluster_table is not None:
        out.append('<p class="muted">No claim clusters yet.</p>')
    if cluster_ids:
        out.append('<table class="cluster-summary"><thead><tr><th>Cluster</th><th class="num">claims</th>'
                   '<th class="num">documents</th><th>figures</th><th>factuality</th></tr></thead><tbody>')
        for cid in cluster_ids:
            cvs = members.get(cid, [])
            figs = figures(cvs)
            facts = sorted({str(c.rec.get("factuality")) for c in cvs})
            fig_cls = ' class="qty-conflict"' if len(figs) > 1 else ""
            out.append(f'<tr><td><a href="#{esc(cluster_anchor(cid))}"><code>{esc(cid)}</code></a></td>'
                       f'<td class="num">{len(cvs)}</td><td class="num">{len({c.doc_id for c in cvs})}</td>'
                       f'<td{fig_cls}>'
                       f'{esc(" · ".join(fmt_quantity(f, None) for f in figs))}</td><td>{esc(", ".join(facts))}</td></tr>')
        out.append("</tbody></table>")
    for cid in cluster_ids:
        cvs = sorted(members.get(cid, []), key=lambda c: (c.doc_id, c.rec["start"], c.rec["end"], c.rec["id"]))
        figs = figures(cvs)
        facts = {c.rec.get("factuality") for c in cvs}
        conflict = len(figs) > 1
        badges = ""
        if conflict:
            units = sorted({str(c.rec.get("quantity_unit")) for c in cvs if c.rec.get("quantity_value") is not None})
            badges += (f'<span class="badge conflict">figures conflict: '
                       f'{esc(" · ".join(fmt_quantity(f, None) for f in figs))} {esc("/".join(units))}</span>')
        if "denied" in facts and facts & {"asserted", "hedged"}:
            badges += '<span class="badge disputed">asserted and denied</span>'
        if cid not in clus:
            badges += '<span class="badge missing">not in the cluster table</span>'
        prop = (clus.get(cid) or {}).get("proposition")
        out.append(f'<section class="cluster{" conflict" if conflict else ""}" id="{esc(cluster_anchor(cid))}" '
                   f'data-cluster="{esc(cid)}">')
        out.append(f"<h3><code>{esc(cid)}</code>{badges}</h3>")
        if prop:
            out.append(f"<p>{esc(prop)}</p>")
        if not cvs:
            out.append('<p class="muted">No claim in this cluster.</p></section>')
            continue
        out.append('<table><thead><tr><th>Document</th><th>Claim</th><th>Source</th><th>Cue</th>'
                   '<th>Factuality</th><th class="num">Quantity</th></tr></thead><tbody>')
        for cv in cvs:
            rec = cv.rec
            q = rec.get("quantity_value")
            qcls = "num qty-conflict" if conflict and q is not None else "num"
            out.append(
                f'<tr data-claim="{esc(rec["id"])}"><td><a href="{esc(page_path(cv.doc_id))}#{esc(rec["id"])}">'
                f'<code>{esc(short_id(cv.doc_id))}</code> <code>{esc(rec["id"])}</code></a></td>'
                f"<td>{esc(rec.get('text'))}</td><td>{esc(cv.source)}</td><td>{esc(cv.cue)}</td>"
                f'<td>{esc(rec.get("factuality"))}</td><td class="{qcls}">{esc(fmt_quantity(q, rec.get("quantity_unit")))}</td></tr>')
        out.append("</tbody></table></section>")
    return page(f"{name}", "\n".join(out), css)


def figures(cvs: list[ClaimView]) -> list[float]:
    """The distinct figures a cluster's claims report."""
    vals = set()
    for c in cvs:
        q = c.rec.get("quantity_value")
        if isinstance(q, (int, float)) and not isinstance(q, bool):
            vals.add(float(q))
    return sorted(vals)


def build_views(documents: list[dict], clean_texts: dict[str, str], annotations: dict[str, dict],
                entity_table: dict | None, cluster_table: dict | None, inv: Inventory) -> tuple[list[DocView], list[str]]:
    """One view per document (spans checked and described) and the problems outside any document."""
    ents, clus = entity_table or {}, cluster_table or {}
    views = []
    for meta in sorted(documents, key=lambda m: m["id"]):
        doc_id = meta["id"]
        if not SAFE_DOC_ID.fullmatch(doc_id):
            raise ValueError(f"corpus/metadata.yaml: document id {doc_id!r} cannot name a page; "
                             f"expected {SAFE_DOC_ID.pattern}")
        text, ann = clean_texts.get(doc_id), annotations.get(doc_id)
        spans, problems, claims = [], [], {}
        if text is not None and ann is not None:
            good, problems = check_spans(doc_id, text, ann)
            claims = claim_views(doc_id, good, ann.get("relations"), ents)
            spans = build_spans(good, claims, ann.get("relations"), ents, clus, inv)
        views.append(DocView(meta, text, ann, spans, claims, problems))
    known = {v.id for v in views}
    orphans = [f"annotations/{doc_id}.json: [unknown-document] corpus/metadata.yaml has no document {doc_id!r}"
               for doc_id in sorted(set(annotations) - known)]
    return views, orphans


def render_site(documents: list[dict], clean_texts: dict[str, str], annotations: dict[str, dict],
                entity_table: dict | None, cluster_table: dict | None, inv: Inventory,
                dataset: dict | None = None) -> dict[str, str]:
    """The whole site as {relative path: HTML}; a table that is None is reported as missing."""
    css = label_css(inv)
    views, orphans = build_views(documents, clean_texts, annotations, entity_table, cluster_table, inv)
    pages = {"index.html": render_index(views, orphans, entity_table, cluster_table, dataset or {}, inv, css)}
    for k, v in enumerate(views):
        prev_id = views[k - 1].id if k > 0 else None
        next_id = views[k + 1].id if k + 1 < len(views) else None
        pages[page_path(v.id)] = render_document(v, inv, cluster_table or {}, css, prev_id, next_id)
    return pages


# ---------------------------------------------------------------- command


def read_annotations(layout: Layout, documents: list[dict]) -> dict[str, dict]:
    """annotations/<document_id>.json of each document that has one (other JSON files there are reports)."""
    out = {}
    for meta in documents:
        path = layout.annotation_file(meta["id"])
        if path.is_file():
            out[meta["id"]] = standoff.read(path)
    return out


def read_inputs(layout: Layout) -> dict:
    """Everything render_site needs, read from the repository."""
    docs = read_metadata(layout)
    return {
        "documents": docs,
        "clean_texts": read_clean_texts(layout),
        "annotations": read_annotations(layout, docs),
        "entity_table": tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else None,
        "cluster_table": tables.read_clusters(layout.cluster_table) if layout.cluster_table.is_file() else None,
        "inv": default_inventory(layout.root),
        "dataset": read_dataset_info(layout) if layout.dataset.is_file() else {},
    }


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to write the site to (default: site/ in the repository root)")


def run(args) -> int:
    layout = Layout(args.root)
    out = Path(args.out) if args.out else layout.root / "site"
    try:
        inputs = read_inputs(layout)
        pages = render_site(**inputs)
    except (standoff.FormatError, CorpusError, ValueError, KeyError, OSError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"FAILED: nothing written to {out}/")
        return 1
    views, orphans = build_views(inputs["documents"], inputs["clean_texts"], inputs["annotations"],
                                 inputs["entity_table"], inputs["cluster_table"], inputs["inv"])
    problems = orphans + [p for v in views for p in v.problems]
    for p in problems:
        print(p, file=sys.stderr)
    write_files_atomically({out / path: text.encode("utf-8") for path, text in pages.items()})
    for stale in sorted((out / "doc").glob("*.html")):
        if f"doc/{stale.name}" not in pages:
            stale.unlink()
    n_docs = len(pages) - 1
    n_ann = len(inputs["annotations"])
    n_spans = sum(len(v.spans) for v in views)
    note = f", {len(problems)} problem(s) shown on the pages" if problems else ""
    print(f"Rendered {len(pages)} pages ({n_docs} documents, {n_ann} annotated, {n_spans} spans{note}): {out / 'index.html'}")
    return 0
