"""Test helpers for the Label Studio round trip: a throw-away repository, documents
made from the real clean texts with pactnews.annotations.markup, hypothesis strategies for
standoff documents over awkward text, and the real-server fixture body."""
from __future__ import annotations

import re
import shutil
import secrets
from pathlib import Path

from hypothesis import strategies as st

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.inventory import default_inventory
from pactnews.annotations.markup import to_standoff
from pactnews.files import sha256_text

REPO = Path(__file__).resolve().parent.parent
INV = default_inventory(REPO)
WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_NAME = re.compile(rf"\b(?!(?:{WEEKDAYS}|On|The|This|In|He|It|A|An|If|But|As)\b)[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*\b")
_DAY = re.compile(rf"\b(?:{WEEKDAYS})\b")
_CUE = re.compile(r"\b(?:said|says|urged|reported|added)\b")
_SOURCE = re.compile(r"\b(?:officials|ministry|reports|lawmakers)\b")
_SENTENCE = re.compile(r"[^\n.]+")


def make_repo(tmp: Path) -> Path:
    """A copy of what the Label Studio and pre-annotation verbs read: the inventory and the corpus (raw, metadata,
    cleaning rules, clean texts), with no annotations."""
    root = tmp / "repo"
    (root / "schemas").mkdir(parents=True)
    shutil.copy(REPO / "schemas" / "labels.yaml", root / "schemas" / "labels.yaml")
    shutil.copytree(REPO / "corpus", root / "corpus")
    for path in (root / "corpus").rglob("*"):  # the raw files are read-only in the repository
        if path.is_file():
            path.chmod(0o644)
    (root / "annotations").mkdir()
    return root


def clean_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((REPO / "corpus" / "clean").glob("*.txt"))}


def _esc(s: str) -> str:
    return re.sub(r"([\[\]{}\\])", r"\\\1", s)


def _value_other_than(attribute: str, role: str) -> str:
    """The first value of an attribute that does not play a role (e.g. the author stance that is not none)."""
    return next(v for v in INV.values(attribute) if v != INV.value_role(attribute, role))


def markup_for(text: str) -> str:
    """Inline markup over a clean text: capitalised names as GPE, weekdays as DATE (some with a mod),
    reporting verbs as CUE, unnamed source words as SOURCE, and each sentence with a name as a CLAIM sourced
    to its first name (and its second, every other sentence), to its source word, cued by its cue and timed
    by its weekday; a sentence with a cue and no name is a CLAIM with an implicit source. Every claim
    attribute of the inventory turns up somewhere: stances, modalities, a figure with its approximation."""
    role = INV.value_role
    distanced = _value_other_than("author_stance", "none")
    claim, hedged = INV.role("claim_label"), role("factuality", "hedged")
    spans = []  # (start, end, open, close) with no crossing
    for n, m in enumerate(_SENTENCE.finditer(text)):
        s_start, s_end = m.start(), m.end()
        while s_start < s_end and text[s_start].isspace():
            s_start += 1
        while s_end > s_start and text[s_end - 1].isspace():
            s_end -= 1
        names = [x for x in _NAME.finditer(text, s_start, s_end)]
        days = [x for x in _DAY.finditer(text, s_start, s_end)]
        cues = [x for x in _CUE.finditer(text, s_start, s_end)]
        sources = [x for x in _SOURCE.finditer(text, s_start, s_end)]
        for k, x in enumerate(names):
            slug = re.sub(r"[^a-z0-9]+", "-", x.group().lower())
            handle = {0: f" @n{n}", 1: f" @m{n}"}.get(k, "")
            spans.append((x.start(), x.end(), f"GPE {slug}{handle}"))
        for k, x in enumerate(days):
            mod = f" mod={INV.values('mod')[n % len(INV.values('mod'))]}" if n % 3 == 0 else ""
            spans.append((x.start(), x.end(), f"DATE 2024-10-24{mod}" + (f" @t{n}" if k == 0 else "")))
        for k, x in enumerate(cues[:1]):
            spans.append((x.start(), x.end(), f"{INV.role('cue_label')} @q{n}"))
        for k, x in enumerate(sources[:1]):
            spans.append((x.start(), x.end(), f"{INV.role('source_label')} @s{n}"))
        extra = (f" time=@t{n}" if days and n % 2 == 0 else "") + (f" cue=@q{n}" if cues else "")
        extra += f" stance={distanced}" if n % 3 == 1 else ""
        extra += f" modality={role('modality', 'expected')}" if n % 4 == 3 else ""
        if "3,000" in text[s_start:s_end]:
            extra += f" qty=3000 approx={role('quantity_approximation', 'at_least')} unit=person unit_text=troops"
        elif "two" in text[s_start:s_end].split():
            extra += f" qty=2 qty_high=3 approx={role('quantity_approximation', 'range')} unit=other unit_text=units"
        if names and s_end - s_start > 20:
            named = [(names[0].start(), f"@n{n}")] + ([(names[1].start(), f"@m{n}")] if len(names) > 1 and n % 2 == 0
                                                       else []) + ([(sources[0].start(), f"@s{n}")] if sources else [])
            src = ",".join(h for _, h in sorted(named))  # in text order, as the editor's relations are numbered
            spans.append((s_start, s_end, f"{claim} src={src} fact={hedged} cluster=c{n % 3}{extra}"))
        elif cues and s_end - s_start > 20:
            spans.append((s_start, s_end, f"{claim} src={role('source_type', 'implicit')} fact={hedged} "
                                          f"cluster=c{n % 3}{extra}"))
        elif s_end - s_start > 20 and n % 4 == 0:
            spans.append((s_start, s_end, f"{claim} src={role('source_type', 'author')} "
                                          f"fact={role('factuality', 'asserted')} cluster=c{n % 3}"))
    opens: dict[int, list] = {}
    closes: dict[int, list] = {}
    for start, end, tag in spans:
        opens.setdefault(start, []).append((end, tag))
        closes.setdefault(end, []).append((start, tag))
    out = []
    for i in range(len(text) + 1):
        for start, tag in sorted(closes.get(i, []), key=lambda t: -t[0]):  # inner spans close first
            out.append("]{" + tag + "}")
        for _ in sorted(opens.get(i, []), key=lambda t: -t[0]):  # outer spans open first
            out.append("[")
        if i < len(text):
            out.append(_esc(text[i]))
    return "".join(out)


def markup_docs() -> dict[str, dict]:
    """Standoff documents over every real clean text, made through pactnews.annotations.markup."""
    out = {}
    for doc_id, text in clean_texts().items():
        out[doc_id] = to_standoff(markup_for(text), text, doc_id, sha256_text(text), INV, where=doc_id)
    return out


def tables_for(docs: dict[str, dict]) -> tuple[dict, dict]:
    entities, clusters = {}, {}
    for doc in docs.values():
        for layer in ("entities", "attributions"):
            for s in doc[layer]:
                if s.get("entity_id"):
                    entities.setdefault(s["entity_id"], {"name": s["text"], "label": s["label"] if layer == "entities" else "ORG"})
        for s in doc["claims"]:
            clusters.setdefault(s["cluster_id"], {"proposition": f"Proposition {s['cluster_id']}."})
    return entities, clusters


def write_tables(root: Path, docs: dict[str, dict]) -> None:
    """annotations/tables/ with every entity and cluster id the documents use (tables_for)."""
    entities, clusters = tables_for(docs)
    (root / "annotations" / "tables").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "tables" / "entities.json").write_text(tables.dumps_entities(entities), encoding="utf-8")
    (root / "annotations" / "tables" / "claim_clusters.json").write_text(tables.dumps_clusters(clusters),
                                                                         encoding="utf-8")


def write_gold(root: Path, docs: dict[str, dict]) -> None:
    """The documents as the gold of annotations/, with their tables (write_tables)."""
    for doc_id, doc in docs.items():
        (root / "annotations" / f"{doc_id}.json").write_text(standoff.dumps(doc), encoding="utf-8")
    write_tables(root, docs)


def real_annotations() -> dict[str, dict]:
    """Every real standoff file there is: the gold (annotations/<id>.json) and each pass
    (annotations/passes/<pass>/<id>.json), keyed by their path."""
    out = {}
    folders = [REPO / "annotations"] + sorted(p for p in (REPO / "annotations" / "passes").glob("*") if p.is_dir())
    for folder in folders:
        for doc_id in clean_texts():
            path = folder / f"{doc_id}.json"
            if path.is_file():
                out[str(path.relative_to(REPO))] = standoff.read(path)
    return out


# ------------------------------------------------------------------ hypothesis

# astral emoji, CJK, combining marks, \r\n and plain text
CHARS = st.sampled_from(list("abc XYZ,.’“”\n\t") + ["\r\n", "😀", "🇰🇷", "𝔸", "한국", "北朝鮮", "e\u0301", "\u0308", "\u200d", "ﬁ"])
VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).filter(lambda s: s.strip("-"))
# free text as an annotator types it: any characters, no white space around it (a TextArea value is stripped)
WORDS = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12).filter(lambda s: s == s.strip() and s)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def documents(draw) -> tuple[str, dict]:
    """A clean text and a well-formed standoff document over it (any layer, any attribute)."""
    text = "".join(draw(st.lists(CHARS, min_size=1, max_size=60)))
    n = len(text)
    doc = standoff.empty("doc", sha256_text(text))

    def spans(layer, labels, attrs, max_size=6):
        out = []
        for k, (a, b) in enumerate(draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, n)), max_size=max_size))):
            start, end = min(a, b), max(a, b)
            if start == end:
                end = start + 1
            rec = {"id": f"{INV.id_prefix(layer)}{draw(st.integers(1, 999))}", "start": start, "end": end,
                   "text": text[start:end], "label": draw(st.sampled_from(labels))}
            for name, strategy in attrs.items():
                rec[name] = draw(strategy)
            out.append(rec)
        ids, keys, unique = set(), set(), []
        for rec in out:
            key = (rec["start"], rec["end"], rec["label"])
            if rec["id"] not in ids and key not in keys:  # Label Studio would see a duplicate region
                ids.add(rec["id"])
                keys.add(key)
                unique.append(rec)
        return unique

    optional = lambda s: st.one_of(st.none(), s)  # noqa: E731
    closed = lambda attribute: optional(st.sampled_from(INV.values(attribute)))  # noqa: E731
    doc["entities"] = spans("entities", INV.labels("entities"), {"entity_id": optional(VALUES)})
    doc["timexes"] = spans("timexes", INV.labels("timexes"), {"value": optional(VALUES), "mod": closed("mod")})
    doc["attributions"] = spans("attributions", INV.labels("attributions"), {"entity_id": optional(VALUES)})
    timex_ids = [t["id"] for t in doc["timexes"]]
    doc["claims"] = spans("claims", INV.labels("claims"), {
        "source_type": closed("source_type"),
        "factuality": closed("factuality"),
        "author_stance": closed("author_stance"),
        "modality": closed("modality"),
        "cluster_id": optional(VALUES),
        "time_id": optional(st.sampled_from(timex_ids)) if timex_ids else st.none(),
        "quantity_value": optional(NUMBERS),
        "quantity_high": optional(NUMBERS),
        "quantity_approximation": closed("quantity_approximation"),
        "quantity_unit": closed("quantity_unit"),
        "quantity_surface_unit": optional(WORDS),
    })
    for layer in standoff.SPAN_LAYERS:  # every field of the format, in its order
        doc[layer] = [{f: rec.get(f) for f in standoff.FIELDS[layer]} for rec in doc[layer]]
    targets = [s["id"] for s in doc["entities"] + doc["attributions"]]
    rels, seen, used = [], set(), set()
    if doc["claims"] and targets:
        for _ in range(draw(st.integers(0, 8))):  # several claim_source relations of one claim: coordinated sources
            c = draw(st.sampled_from(doc["claims"]))["id"]
            t = draw(st.sampled_from(targets))
            label = draw(st.sampled_from(INV.relation_types))
            rid = draw(st.integers(1, 99))
            if (c, label, t) in seen or rid in used:
                continue
            seen.add((c, label, t))
            used.add(rid)
            rels.append({"id": f"R{rid}", "label": label, "from_id": c, "to_id": t})
    doc["relations"] = rels
    return text, doc


# ------------------------------------------------------------------ server

def new_credentials():
    from pactnews.labelstudio.server import Credentials

    return Credentials("tester@pactnews.invalid", secrets.token_urlsafe(12), secrets.token_hex(20))
