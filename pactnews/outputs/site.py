"""`pactnews render`: a static, self-contained HTML view of the annotated corpus.

`render_site` is a pure function from the documents, their annotations and
the cross-document tables (entities, claim clusters, conflicts) to
{relative path: HTML}; only `read_inputs` reads files and only `write_site`
writes them (pactnews.commands.render calls both). Spans of different layers
nest and overlap, so the text is cut at every span boundary and
elements are opened and closed as a stack: a span that must close while a
later one is still open is split into fragments (all carrying the same
data-span id), which keeps the HTML well formed and the page's text exactly
the clean text. Every piece of corpus data is escaped; pages use inline
CSS/JS only and carry no timestamps, so a re-render of the same inputs is
byte-identical.

Conflicts are those the conflicts table keeps (annotations/tables/conflicts.json);
the site computes none itself. Labels and values the code relies on are
taken from the inventory's roles (schemas/labels.yaml), never named here.
"""
from __future__ import annotations

import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.corpus.readers import read_dataset_info, read_metadata, read_clean_texts
from pactnews.inventory import Inventory, default_inventory
from pactnews.repo import Layout
from pactnews.files import sha256_text, write_files_atomically

LAYER_CLASS = {"entities": "ent", "timexes": "tmx", "attributions": "att", "claims": "clm"}
LAYER_TITLE = {"entities": "Entities", "timexes": "Time expressions", "attributions": "Attributions", "claims": "Claims"}
# On equal extents the outer element is the one listed first.
NEST_ORDER = {"claims": 0, "attributions": 1, "entities": 2, "timexes": 3}
UNTITLED = '<span class="muted">(untitled)</span>'
SAFE_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CONFLICT_FILE = "annotations/tables/conflicts.json"
# Role names (keys of `roles:` in labels.yaml) of the values the page styles or words differently;
# the values themselves come from the inventory. CSS classes are named after the roles.
FACTUALITY_ROLES = ("asserted", "hedged", "uncommitted", "denied")
APPROXIMATION_ROLES = ("exact", "approximate", "at_least", "at_most", "range")
APPROXIMATION_SIGN = {"approximate": "~", "at_least": "≥", "at_most": "≤"}


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


def natural(value) -> tuple:
    """C2 before C10, X2 before X10: ids compare by their numbers, as a reader expects."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(value)))


def fmt_number(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"
    return str(value)


def factuality_class(value, inv: Inventory) -> str:
    """The CSS class of a factuality value: f-<role>, or f-other for a value no role names."""
    roles = {inv.value_role("factuality", r): r for r in FACTUALITY_ROLES}
    return f"f-{roles[value]}" if value in roles else "f-other"


def fmt_claim_quantity(rec: dict, inv: Inventory) -> str:
    """A claim's figure with its approximation, unit and the text's own unit word:
    "~3,000 person (troops)", "≤12,000 person (soldiers)", "1,000–2,000 USD", "1,500"."""
    value = rec.get("quantity_value")
    if value is None:
        return ""
    roles = {inv.value_role("quantity_approximation", r): r for r in APPROXIMATION_ROLES}
    approx = rec.get("quantity_approximation")
    role = "exact" if approx is None else roles.get(approx)  # a missing approximation reads as the figure as stated
    number = fmt_number(value)
    if role == "range":
        high = rec.get("quantity_high")
        number = f"{number}–{fmt_number(high) if high is not None else '?'}"
    else:
        number = APPROXIMATION_SIGN.get(role, "") + number
    unit, surface = rec.get("quantity_unit"), rec.get("quantity_surface_unit")
    out = number + (f" {unit}" if unit else "")
    if surface and surface != unit:
        out += f" ({surface})"
    if role is None:
        out += f" [approximation {approx}]"
    return out


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
    """A claim with its sources, cue and time expression resolved through the relations."""
    doc_id: str
    rec: dict
    sources: list[str]  # one description per claim_source target, in text order
    source_type: str
    source_refs: list[str]
    cue: str
    cue_ref: str | None
    time: str  # the linked time expression, "" when the claim names none

    @property
    def source(self) -> str:
        """All sources in one line: coordinated sources are joined with " + "."""
        return f"{self.source_type}: " + " + ".join(self.sources) if self.sources else self.source_type


def claim_views(doc_id: str, spans: list[tuple[str, dict]], relations: list, entity_table: dict,
                inv: Inventory) -> dict[str, ClaimView]:
    by_id = {rec["id"]: rec for _, rec in spans}
    timexes = {rec["id"] for layer, rec in spans if layer == "timexes"}
    source_rel, cue_rel = inv.role("source_relation"), inv.role("cue_relation")
    author, implicit = inv.value_role("source_type", "author"), inv.value_role("source_type", "implicit")
    out = {}
    rels: dict[tuple[str, str], list[str]] = {}
    for rel in relations or []:
        if isinstance(rel, dict):
            rels.setdefault((rel.get("from_id"), rel.get("label")), []).append(rel.get("to_id"))

    def in_text_order(i: str) -> tuple:
        target = by_id.get(i)
        return (0, target["start"], target["end"], natural(i)) if target else (1, 0, 0, natural(i))

    for layer, rec in spans:
        if layer != "claims":
            continue
        src_ids = sorted({i for i in rels.get((rec["id"], source_rel), []) if isinstance(i, str)}, key=in_text_order)
        cue_ids = sorted({i for i in rels.get((rec["id"], cue_rel), []) if isinstance(i, str)}, key=in_text_order)
        st = rec.get("source_type")
        sources = []
        if st == author:
            source_type = f"{st} (the article's own voice)"
        elif src_ids:
            source_type = str(st)
            for i in src_ids:
                target = by_id.get(i)
                if target is None:
                    sources.append(f"{i} (no such span)")
                    continue
                eid = target.get("entity_id")
                sources.append(f"“{target.get('text')}”" + (f" = {entity_desc(eid, entity_table)}" if eid else ""))
        elif st == implicit:
            source_type = f"{st} (in the wording; no source span)"
        else:
            source_type = f"{st} (no {source_rel} relation)"
        cue = "; ".join(f"“{by_id[i].get('text')}”" if i in by_id else f"{i} (no such span)" for i in cue_ids)
        tid = rec.get("time_id")
        if tid is None:
            time = ""
        elif tid in timexes:
            t = by_id[tid]
            time = f"“{t.get('text')}” = {t.get('value')}" + (f" ({t.get('mod')})" if t.get("mod") else "") + f" ({tid})"
        else:
            time = f"{tid} (no such time expression)"
        out[rec["id"]] = ClaimView(doc_id, rec, sources, source_type, [i for i in src_ids if i in by_id],
                                   cue, cue_ids[0] if cue_ids else None, time)
    return out


# ---------------------------------------------------------------- conflicts


@dataclass
class ConflictMember:
    document_id: str
    claim_id: str
    attribute: str | None
    value: str | None
    claim: ClaimView | None  # None: the claim is missing or its span cannot be shown
    text: str | None  # the claim's text when the claim exists
    problem: str = ""  # why the member names no claim

    @property
    def key(self) -> tuple:
        return self.document_id, self.claim_id

    @property
    def version(self) -> str:
        """attribute = value, when the entry gives them."""
        if self.attribute is None and self.value is None:
            return ""
        return f"{self.attribute} = {self.value}"


@dataclass
class Conflict:
    id: str
    type: str
    origin: str
    rule: str | None
    rationale: str
    members: list[ConflictMember]


@dataclass
class Conflicts:
    """The conflicts table as the site shows it."""
    present: bool  # the table exists
    kept: list[Conflict]
    dismissed: list[dict]
    problems: list[str]
    by_claim: dict[tuple[str, str], list[Conflict]]

    def of(self, doc_id: str, claim_id: str) -> list[Conflict]:
        return self.by_claim.get((doc_id, claim_id), [])


def conflict_anchor(conflict_id) -> str:
    return "conflict-" + quote(str(conflict_id), safe="")


def conflict_type_anchor(conflict_type) -> str:
    return "conflicts-" + quote(str(conflict_type), safe="")  # never a conflict_anchor: "conflicts-" vs "conflict-"


def resolve_conflicts(table: list | None, views: list["DocView"], inv: Inventory) -> Conflicts:
    """Kept entries with their members' claims; dismissed entries; a problem for each entry or member the
    site cannot place (a member naming no claim, a type or status not in the inventory, a repeated id)."""
    if table is None:
        return Conflicts(False, [], [], [], {})
    kept, dismissed = inv.value_role("conflict_status", "kept"), inv.value_role("conflict_status", "dismissed")
    types = inv.conflict_types
    docs = {v.id: v for v in views}
    claims = {(v.id, rec["id"]): rec for v in views for rec in (v.ann or {}).get("claims") or []
              if isinstance(rec, dict) and isinstance(rec.get("id"), str)}
    problems, out_kept, out_dismissed, seen = [], [], [], set()
    entries = [e for e in table if isinstance(e, dict)]
    problems += [f"{CONFLICT_FILE}: [invalid-conflict] entry {e!r} is not an object" for e in table if not isinstance(e, dict)]
    # id order; entries that repeat an id by their content, so that the table's order never shows
    for e in sorted(entries, key=lambda e: (natural(e.get("conflict_id")), json.dumps(e, sort_keys=True, default=str))):
        cid = str(e.get("conflict_id"))
        where = f"{CONFLICT_FILE}: conflict {cid}"
        if cid in seen:
            problems.append(f"{where}: [duplicate-conflict-id] conflict id {cid} is used twice; expected a unique id")
        seen.add(cid)
        status = e.get("status")
        if status not in (kept, dismissed):
            problems.append(f"{where}: [unknown-conflict-value] status is {status!r}; expected one of "
                            f"{[kept, dismissed]}; the entry is not shown")
            continue
        if e.get("type") not in types:
            problems.append(f"{where}: [unknown-conflict-value] type is {e.get('type')!r}; expected one of {types}")
        members = []
        for m in e.get("members") or []:
            m = m if isinstance(m, dict) else {}
            doc_id, claim_id = m.get("document_id"), m.get("claim_id")
            key = (doc_id, claim_id) if isinstance(doc_id, str) and isinstance(claim_id, str) else None
            rec = claims.get(key) if key else None
            problem = ""
            if rec is None:
                if key is None:
                    problem = f"document_id {doc_id!r} and claim_id {claim_id!r} must be strings"
                elif doc_id not in docs:
                    problem = f"corpus/metadata.yaml has no document {doc_id!r}"
                elif docs[doc_id].ann is None:
                    problem = f"annotations/{doc_id}.json does not exist, so it has no claim {claim_id!r}"
                else:
                    problem = f"annotations/{doc_id}.json has no claim {claim_id!r}"
                problems.append(f"{where} member {doc_id}/{claim_id}: [unknown-conflict-member] {problem}; "
                                "expected a claim of an annotation file (run pactnews validate)")
            view = docs[doc_id].claims.get(claim_id) if rec is not None else None
            members.append(ConflictMember(str(doc_id), str(claim_id), m.get("attribute"), m.get("value"),
                                          view, rec.get("text") if rec else None, problem))
        members.sort(key=lambda m: (natural(m.document_id), natural(m.claim_id)))
        if status == dismissed:
            out_dismissed.append(e)
            continue
        out_kept.append(Conflict(cid, str(e.get("type")), str(e.get("origin")), e.get("rule"),
                                 str(e.get("rationale") or ""), members))
    by_claim: dict[tuple[str, str], list[Conflict]] = {}
    for c in out_kept:
        for m in c.members:
            if m.text is not None and c not in by_claim.setdefault(m.key, []):
                by_claim[m.key].append(c)
    return Conflicts(True, out_kept, out_dismissed, problems, by_claim)


def conflict_types_in_order(conflicts: list[Conflict], inv: Inventory) -> list[str]:
    """The types of these conflicts: the inventory's order, then any unknown type by name."""
    used = {c.type for c in conflicts}
    return [t for t in inv.conflict_types if t in used] + sorted(used - set(inv.conflict_types))


def member_line(m: ConflictMember) -> str:
    """One member's version of a conflict, for a tooltip."""
    if m.text is None:
        return f"{m.document_id} {m.claim_id}: names no claim"
    source = m.claim.source if m.claim else "(the claim's span cannot be shown)"
    return f"{m.document_id} {m.claim_id}: “{m.text}” — source: {source}" + (f" — {m.version}" if m.version else "")


def conflict_tip(c: Conflict, doc_id: str, claim_id: str) -> list[str]:
    """Tooltip lines of a claim in a kept conflict: the conflict and the OTHER members' versions."""
    own = [m for m in c.members if m.key == (doc_id, claim_id)]
    head = f"conflict {c.id} ({c.type})"
    if own and own[0].version:
        head += f" — this claim: {own[0].version}"
    return [head] + [f"  vs {member_line(m)}" for m in c.members if m.key != (doc_id, claim_id)]


# ---------------------------------------------------------------- marks


def build_spans(spans: list[tuple[str, dict]], claims: dict[str, ClaimView], relations: list,
                entity_table: dict, cluster_table: dict, inv: Inventory,
                conflicts: Conflicts | None = None, doc_id: str = "") -> list[Span]:
    """Tooltip text, data attributes and classes of every drawable span."""
    used_by: dict[str, list[str]] = {}
    for rel in relations or []:
        if isinstance(rel, dict) and isinstance(rel.get("to_id"), str):
            used_by.setdefault(rel["to_id"], []).append(f"{rel.get('label')} of {rel.get('from_id')}")
    no_stance = inv.value_role("author_stance", "none")
    out = []
    for layer, rec in spans:
        label = rec.get("label")
        lines = [f"{label} {rec['id']}"]
        attrs = {"data-layer": layer, "data-label": str(label)}
        classes = [LAYER_CLASS[layer]]
        if layer == "entities":
            lines.append(f"entity {entity_desc(rec.get('entity_id'), entity_table)}")
        elif layer == "timexes":
            lines.append(f"value {rec.get('value')}" + (f" (mod {rec.get('mod')})" if rec.get("mod") else ""))
            attrs["data-value"] = str(rec.get("value"))
        elif layer == "attributions":
            if rec.get("entity_id"):
                lines.append(f"refers to {entity_desc(rec.get('entity_id'), entity_table)}")
        else:
            view = claims[rec["id"]]
            cid = rec.get("cluster_id")
            prop = (cluster_table.get(cid) or {}).get("proposition") if cid is not None else None
            if len(view.sources) > 1:
                lines.append(f"sources ({view.source_type}, {len(view.sources)} coordinated):")
                lines += [f"  {s}" for s in view.sources]
            else:
                lines.append(f"source: {view.source}")
            lines.append(f"cue: {view.cue or '(none)'}")
            lines.append(f"factuality: {rec.get('factuality')}")
            if rec.get("author_stance") is not None and rec.get("author_stance") != no_stance:
                lines.append(f"author stance: {rec.get('author_stance')}")
            if rec.get("modality") is not None:
                lines.append(f"modality: {rec.get('modality')}")
            if view.time:
                lines.append(f"time: {view.time}")
            lines.append(f"cluster: {cid}" + (f" — {prop}" if prop else " (not in the cluster table)"))
            quantity = fmt_claim_quantity(rec, inv)
            if quantity:
                lines.append(f"quantity: {quantity}")
            classes.append(factuality_class(rec.get("factuality"), inv))
            if view.source_refs:  # every source of a coordinated source is lit on hover
                attrs["data-src"] = " ".join(i for i in view.source_refs if not re.search(r"\s", i))
            if view.cue_ref:
                attrs["data-cue"] = view.cue_ref
            involved = conflicts.of(doc_id, rec["id"]) if conflicts else []
            if involved:
                classes.append("conflict")
                attrs["data-conflicts"] = " ".join(c.id for c in involved)
                for c in involved:
                    lines += conflict_tip(c, doc_id, rec["id"])
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
.conflict-card{border:1px solid var(--line);border-left:6px solid #c62828;background:#fff5f5;border-radius:.4rem;padding:.6rem .9rem;margin:0 0 1rem}
.conflict-card p{margin:.2rem 0 .4rem}
h3.conflict-type{margin:1.2rem 0 .5rem}
.badge{display:inline-block;font-size:.75rem;font-weight:700;border-radius:1rem;padding:.05rem .55rem;margin-left:.4rem;vertical-align:middle}
.badge.conflict{background:#c62828;color:#fff;text-decoration:none}
.badge.missing{background:#757575;color:#fff}
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
.clm.f-uncommitted{border-bottom-style:dotted;border-bottom-color:#5f6368}
.clm.f-denied{border-bottom-style:double;border-bottom-width:4px;border-bottom-color:#c62828}
.clm.f-other{border-bottom-color:#757575}
.clm.conflict{background:rgba(198,40,40,.13)}
.clm.conflict.last::after{content:"\\26A0  " attr(data-conflicts);font-size:.62em;font-weight:700;color:#fff;background:#c62828;border-radius:1rem;padding:0 .45em;margin-left:.3em;vertical-align:middle}
.m.hl{outline:2px solid #1a56b0;outline-offset:1px}
.m.rel{outline:2px dotted #1a56b0;outline-offset:1px}
body.hide-entities .ent,body.hide-timexes .tmx,body.hide-attributions .att{background:none;border-color:transparent;outline:none;padding:0}
body.hide-claims .clm{background:none;border-bottom-color:transparent}
body.hide-claims .clm::after{content:none}
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
  function light(ids, cls) {
    var list = (ids || "").split(" ");
    for (var k = 0; k < list.length; k++) {
      if (!list[k]) { continue; }
      var els = document.querySelectorAll('[data-span="' + CSS.escape(list[k]) + '"]');
      for (var i = 0; i < els.length; i++) { els[i].classList.add(cls); lit.push(els[i]); }
    }
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


def conflict_links(conflicts: list[Conflict], prefix: str = "") -> str:
    """Badges linking to kept conflicts on the index ("" for none)."""
    return " ".join(f'<a class="badge conflict" href="{prefix}#{esc(conflict_anchor(c.id))}" data-conflict-link="{esc(c.id)}">'
                    f"{esc(c.id)} {esc(c.type)}</a>" for c in conflicts)


def render_document(view: DocView, inv: Inventory, cluster_table: dict, css: str,
                    prev_id: str | None = None, next_id: str | None = None,
                    conflicts: Conflicts | None = None) -> str:
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
            + "".join(f'<span class="m clm {factuality_class(fact, inv)}">claim, {esc(fact)}</span>' for fact in facts)
            + "</div>")
    involved: list[Conflict] = []
    for cv in view.claims.values():
        for c in conflicts.of(doc_id, cv.rec["id"]) if conflicts else []:
            if c not in involved:
                involved.append(c)
    if involved:
        involved.sort(key=lambda c: natural(c.id))
        n_claims = sum(1 for cv in view.claims.values() if conflicts.of(doc_id, cv.rec["id"]))
        out.append(f'<p class="notice" id="doc-conflicts">{n_claims} claim(s) of this document take part in '
                   f"{len(involved)} kept conflict(s) with other reports: {conflict_links(involved, '../index.html')} "
                   '<span class="muted">(hover a marked claim for the other versions)</span></p>')
    marked, _ = mark_text(view.text, view.spans)
    out.append(f'<div class="text" id="text">{marked}</div>')
    if view.claims:
        out.append(f"<h2>Claims ({len(view.claims)})</h2>")
        out.append('<table class="claims"><thead><tr><th>Claim</th><th>Text</th><th>Source</th><th>Cue</th>'
                   '<th>Factuality</th><th>Stance</th><th>Modality</th><th>Time</th><th>Cluster</th>'
                   '<th class="num">Quantity</th><th>Conflicts</th></tr></thead><tbody>')
        for cv in sorted(view.claims.values(), key=lambda c: (c.rec["start"], c.rec["end"], c.rec["id"])):
            rec = cv.rec
            cid = rec.get("cluster_id")
            cluster = (f'<a href="../index.html#{esc(cluster_anchor(cid))}"><code>{esc(cid)}</code></a>'
                       + ("" if cid in cluster_table else ' <span class="badge missing">not in table</span>'))
            out.append(
                f'<tr><td><a href="#{esc(rec["id"])}"><code>{esc(rec["id"])}</code></a></td><td>{esc(rec.get("text"))}</td>'
                f"<td>{esc(cv.source)}</td><td>{esc(cv.cue)}</td><td>{esc(rec.get('factuality'))}</td>"
                f"<td>{esc(rec.get('author_stance'))}</td><td>{esc(rec.get('modality'))}</td><td>{esc(cv.time)}</td>"
                f"<td>{cluster}</td><td class=\"num\">{esc(fmt_claim_quantity(rec, inv))}</td>"
                f"<td>{conflict_links(conflicts.of(doc_id, rec['id']) if conflicts else [], '../index.html')}</td></tr>")
        out.append("</tbody></table>")
    return page(f"{title or doc_id} · PactNews", "\n".join(out), css)


def cluster_anchor(cluster_id) -> str:
    return "cluster-" + quote(str(cluster_id), safe="")


def render_conflicts(conflicts: Conflicts, inv: Inventory) -> list[str]:
    """The index's first section: kept conflicts by type (inventory order), dismissed entries in one line."""
    out = ['<section class="conflicts" id="conflicts">', f"<h2>Conflicts ({len(conflicts.kept)})</h2>"]
    if not conflicts.present:
        out.append(f'<p class="muted" id="no-conflicts">No conflicts table ({CONFLICT_FILE}) yet: no conflict '
                   "between reports has been reviewed.</p></section>")
        return out
    types = conflict_types_in_order(conflicts.kept, inv)
    descriptions = inv.conflict_section("types")
    by_type = {t: [c for c in conflicts.kept if c.type == t] for t in types}
    if conflicts.kept:
        out.append('<p class="muted">Divergences between reports kept in '
                   f"<code>{esc(CONFLICT_FILE)}</code>, by type: "
                   + " · ".join(f'<a href="#{esc(conflict_type_anchor(t))}">{esc(t)}</a> {len(by_type[t])}'
                                for t in types) + "</p>")
    else:
        out.append('<p class="muted">No kept conflict.</p>')
    detected = inv.value_role("conflict_origin", "detected")
    for t in types:
        desc = descriptions.get(t)
        out.append(f'<h3 class="conflict-type" id="{esc(conflict_type_anchor(t))}" data-type="{esc(t)}">'
                   f"{esc(t)} ({len(by_type[t])})"
                   + (f' <span class="muted">— {esc(desc)}</span>' if desc else
                      ' <span class="badge missing">not a conflict type of the inventory</span>') + "</h3>")
        for c in by_type[t]:
            how = f"origin {esc(c.origin)}" + (f" · rule <code>{esc(c.rule or '(none)')}</code>" if c.origin == detected else "")
            out.append(f'<div class="conflict-card" id="{esc(conflict_anchor(c.id))}" data-conflict="{esc(c.id)}" '
                       f'data-type="{esc(c.type)}">')
            out.append(f'<p><strong><code>{esc(c.id)}</code></strong><span class="badge conflict">{esc(c.type)}</span> '
                       f'<span class="muted">{how}</span></p>')
            out.append(f'<p class="rationale">{esc(c.rationale)}</p>')
            out.append('<table class="members"><thead><tr><th>Document</th><th>Claim</th><th>Source</th>'
                       "<th>Version</th></tr></thead><tbody>")
            for m in c.members:
                if m.text is None:
                    out.append(f'<tr data-member="{esc(m.document_id)}/{esc(m.claim_id)}"><td><code>{esc(m.document_id)}</code> '
                               f'<code>{esc(m.claim_id)}</code></td><td colspan="2"><span class="badge missing">names no claim'
                               f"</span> {esc(m.problem)}</td><td>{esc(m.version)}</td></tr>")
                    continue
                source = esc(m.claim.source) if m.claim else '<span class="muted">(the span cannot be shown)</span>'
                out.append(f'<tr data-member="{esc(m.document_id)}/{esc(m.claim_id)}">'
                           f'<td><a href="{esc(page_path(m.document_id))}#{esc(m.claim_id)}"><code>{esc(m.document_id)}'
                           f"</code> <code>{esc(m.claim_id)}</code></a></td><td>{esc(m.text)}</td><td>{source}</td>"
                           f"<td>{esc(m.version)}</td></tr>")
            out.append("</tbody></table></div>")
    if conflicts.dismissed:
        rules = Counter(str(e.get("rule") or f"{e.get('origin')}, no rule") for e in conflicts.dismissed)
        out.append(f'<p class="muted" id="dismissed">Dismissed, not shown as conflicts: {len(conflicts.dismissed)} '
                   "entr" + ("y" if len(conflicts.dismissed) == 1 else "ies") + " ("
                   + ", ".join(f"{esc(rule)}: {n}" for rule, n in sorted(rules.items())) + ").</p>")
    out.append("</section>")
    return out


def render_index(views: list[DocView], orphans: list[str], entity_table: dict | None, cluster_table: dict | None,
                 dataset: dict, inv: Inventory, css: str, conflicts: Conflicts | None = None) -> str:
    ents = entity_table or {}
    clus = cluster_table or {}
    conflicts = conflicts or Conflicts(False, [], [], [], {})
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

    # conflicts: the first section
    out += render_conflicts(conflicts, inv)

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
    source_label = esc(inv.role("source_label"))
    out.append('<p class="muted">Mentions per document (entity layer); the last column counts '
               f"{source_label} spans that refer to the entity.</p>")
    if entity_table is None:
        out.append('<p class="notice">The entity table annotations/tables/entities.json is missing.</p>')
    entity_ids = sorted(set(ents) | set(mentions) | set(source_refs))
    if entity_ids:
        out.append('<table class="entities"><thead><tr><th>Entity id</th><th>Canonical name</th><th>Label</th>'
                   + "".join(f'<th class="num" title="{esc(v.id)}">{esc(short_id(v.id))}</th>' for v in views)
                   + f'<th class="num">total</th><th class="num" title="{source_label} spans that refer to the entity">'
                   f"as {source_label}</th></tr></thead><tbody>")
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

    def cluster_conflicts(cvs: list[ClaimView]) -> list[Conflict]:
        found = {c.id: c for cv in cvs for c in conflicts.of(cv.doc_id, cv.rec["id"])}
        return [found[k] for k in sorted(found, key=natural)]

    def quantity_sort(cv: ClaimView) -> tuple:
        q = cv.rec.get("quantity_value")
        return (float(q) if isinstance(q, (int, float)) and not isinstance(q, bool) else float("inf"),
                fmt_claim_quantity(cv.rec, inv))

    out.append("<h2>Claim clusters</h2>")
    if cluster_table is None:
        out.append('<p class="notice">The cluster table annotations/tables/claim_clusters.json is missing.</p>')
    cluster_ids = sorted(set(clus) | set(members))
    if not cluster_ids and cluster_table is not None:
        out.append('<p class="muted">No claim clusters yet.</p>')
    if cluster_ids:
        out.append('<table class="cluster-summary"><thead><tr><th>Cluster</th><th class="num">claims</th>'
                   '<th class="num">documents</th><th>figures</th><th>factuality</th><th>conflicts</th></tr></thead><tbody>')
        for cid in cluster_ids:
            cvs = members.get(cid, [])
            figs = list(dict.fromkeys(fmt_claim_quantity(c.rec, inv) for c in sorted(cvs, key=quantity_sort)
                                      if c.rec.get("quantity_value") is not None))
            facts = sorted({str(c.rec.get("factuality")) for c in cvs})
            out.append(f'<tr><td><a href="#{esc(cluster_anchor(cid))}"><code>{esc(cid)}</code></a></td>'
                       f'<td class="num">{len(cvs)}</td><td class="num">{len({c.doc_id for c in cvs})}</td>'
                       f'<td>{esc(" · ".join(figs))}</td><td>{esc(", ".join(facts))}</td>'
                       f"<td>{conflict_links(cluster_conflicts(cvs))}</td></tr>")
        out.append("</tbody></table>")
    for cid in cluster_ids:
        cvs = sorted(members.get(cid, []), key=lambda c: (c.doc_id, c.rec["start"], c.rec["end"], c.rec["id"]))
        in_conflict = cluster_conflicts(cvs)
        badges = conflict_links(in_conflict)
        if cid not in clus:
            badges += '<span class="badge missing">not in the cluster table</span>'
        prop = (clus.get(cid) or {}).get("proposition")
        out.append(f'<section class="cluster{" conflict" if in_conflict else ""}" id="{esc(cluster_anchor(cid))}" '
                   f'data-cluster="{esc(cid)}">')
        out.append(f"<h3><code>{esc(cid)}</code>{badges}</h3>")
        if prop:
            out.append(f"<p>{esc(prop)}</p>")
        if not cvs:
            out.append('<p class="muted">No claim in this cluster.</p></section>')
            continue
        out.append('<table><thead><tr><th>Document</th><th>Claim</th><th>Source</th><th>Cue</th>'
                   '<th>Factuality</th><th>Modality</th><th class="num">Quantity</th><th>Conflicts</th></tr></thead><tbody>')
        for cv in cvs:
            rec = cv.rec
            out.append(
                f'<tr data-claim="{esc(rec["id"])}"><td><a href="{esc(page_path(cv.doc_id))}#{esc(rec["id"])}">'
                f'<code>{esc(short_id(cv.doc_id))}</code> <code>{esc(rec["id"])}</code></a></td>'
                f"<td>{esc(rec.get('text'))}</td><td>{esc(cv.source)}</td><td>{esc(cv.cue)}</td>"
                f'<td>{esc(rec.get("factuality"))}</td><td>{esc(rec.get("modality"))}</td>'
                f'<td class="num">{esc(fmt_claim_quantity(rec, inv))}</td>'
                f"<td>{conflict_links(conflicts.of(cv.doc_id, rec['id']))}</td></tr>")
        out.append("</tbody></table></section>")
    return page(f"{name}", "\n".join(out), css)


@dataclass
class Site:
    """Everything the pages show: one view per document, the kept conflicts, the problems outside any page."""
    views: list[DocView]
    conflicts: Conflicts
    problems: list[str]  # unknown documents, conflicts table entries the site cannot place

    @property
    def all_problems(self) -> list[str]:
        return self.problems + [p for v in self.views for p in v.problems]


def build_site(documents: list[dict], clean_texts: dict[str, str], annotations: dict[str, dict],
               entity_table: dict | None, cluster_table: dict | None, inv: Inventory,
               conflict_table: list | None = None) -> Site:
    """Every document checked and described, and the conflicts table resolved against their claims."""
    ents, clus = entity_table or {}, cluster_table or {}
    views, drawable = [], []
    for meta in sorted(documents, key=lambda m: m["id"]):
        doc_id = meta["id"]
        if not SAFE_DOC_ID.fullmatch(doc_id):
            raise ValueError(f"corpus/metadata.yaml: document id {doc_id!r} cannot name a page; "
                             f"expected {SAFE_DOC_ID.pattern}")
        text, ann = clean_texts.get(doc_id), annotations.get(doc_id)
        good, problems, claims = [], [], {}
        if text is not None and ann is not None:
            good, problems = check_spans(doc_id, text, ann)
            claims = claim_views(doc_id, good, ann.get("relations"), ents, inv)
        views.append(DocView(meta, text, ann, [], claims, problems))
        drawable.append(good)
    conflicts = resolve_conflicts(conflict_table, views, inv)
    for v, good in zip(views, drawable):
        if good:
            v.spans = build_spans(good, v.claims, v.ann.get("relations"), ents, clus, inv, conflicts, v.id)
    known = {v.id for v in views}
    orphans = [f"annotations/{doc_id}.json: [unknown-document] corpus/metadata.yaml has no document {doc_id!r}"
               for doc_id in sorted(set(annotations) - known)]
    return Site(views, conflicts, orphans + conflicts.problems)


def render_pages(site: Site, entity_table: dict | None, cluster_table: dict | None, inv: Inventory,
                 dataset: dict | None = None) -> dict[str, str]:
    css = label_css(inv)
    views = site.views
    pages = {"index.html": render_index(views, site.problems, entity_table, cluster_table, dataset or {}, inv, css,
                                        site.conflicts)}
    for k, v in enumerate(views):
        prev_id = views[k - 1].id if k > 0 else None
        next_id = views[k + 1].id if k + 1 < len(views) else None
        pages[page_path(v.id)] = render_document(v, inv, cluster_table or {}, css, prev_id, next_id, site.conflicts)
    return pages


def render_site(documents: list[dict], clean_texts: dict[str, str], annotations: dict[str, dict],
                entity_table: dict | None, cluster_table: dict | None, inv: Inventory,
                dataset: dict | None = None, conflict_table: list | None = None) -> dict[str, str]:
    """The whole site as {relative path: HTML}; an entity or cluster table that is None is reported as
    missing, a conflicts table that is None means no conflict has been reviewed."""
    site = build_site(documents, clean_texts, annotations, entity_table, cluster_table, inv, conflict_table)
    return render_pages(site, entity_table, cluster_table, inv, dataset)


# ---------------------------------------------------------------- reading and writing


def read_annotations(layout: Layout, documents: list[dict]) -> dict[str, dict]:
    """annotations/<document_id>.json of each document that has one (other JSON files there are reports)."""
    out = {}
    for meta in documents:
        path = layout.annotation_file(meta["id"])
        if path.is_file():
            out[meta["id"]] = standoff.read(path)
    return out


def read_conflict_table(layout: Layout) -> list[dict] | None:
    """annotations/tables/conflicts.json, None when there is none; a malformed table raises ValueError naming it."""
    path = layout.conflict_table
    if not path.is_file():
        return None
    try:
        return tables.read_conflicts(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{CONFLICT_FILE}: {type(exc).__name__}: {exc}") from exc


def read_inputs(layout: Layout) -> dict:
    """Everything render_site needs, read from the repository."""
    docs = read_metadata(layout)
    return {
        "documents": docs,
        "clean_texts": read_clean_texts(layout),
        "annotations": read_annotations(layout, docs),
        "entity_table": tables.read_entities(layout.entity_table) if layout.entity_table.is_file() else None,
        "cluster_table": tables.read_clusters(layout.cluster_table) if layout.cluster_table.is_file() else None,
        "conflict_table": read_conflict_table(layout),
        "inv": default_inventory(layout.root),
        "dataset": read_dataset_info(layout) if layout.dataset.is_file() else {},
    }


def write_site(out: Path, pages: dict[str, str]) -> None:
    """Write the pages under `out` at once, then remove the document pages of documents no longer rendered."""
    write_files_atomically({out / path: text.encode("utf-8") for path, text in pages.items()})
    for stale in sorted((out / "doc").glob("*.html")):
        if f"doc/{stale.name}" not in pages:
            stale.unlink()
