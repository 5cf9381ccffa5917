"""`pactnews preannotate`: suggestions for annotators, scored against the gold.

Components, each timed:
- lexicon: a spaCy blank English pipeline with an EntityRuler over the known
  entities (names in the entity table plus the surface forms of gold mentions)
  and token patterns for numbers, money, percentages and ordinals;
- timex matcher: regular expressions for candidate time expressions;
- dateparser: TIMEX3 values, with the document creation time as RELATIVE_BASE;
- cues: a lexicon of attribution cues (gold CUE surfaces plus common reporting verbs);
- optionally the entities of an installed spaCy NER pipeline (never downloaded).

Scores are strict span matches per label. Each document is scored with a
lexicon built from the *other* documents' gold only (leave one document out),
so a document's own mentions never predict themselves.

Speed without changing a prediction (bench/PREANNOTATE.md has the figures):
the ruler's work is done by `EntityMatcher` on the tokenizer's Doc (number
predicates as lexeme flags), the time expression regex is run behind a
lookahead that rejects most positions at once, dateparser values are
remembered per (surface, relative base, preference), and `annotate_records`
spreads batches of documents over forked processes, in input order.
tests/test_preannotate.py holds the straightforward path they are checked against.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.inventory import Inventory, default_inventory
from pactnews.pipeline.batches import BATCH_SIZE, batched

COMPONENT = "pactnews-preannotate"
LEXICON_VERSION = 1

MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December")
WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50,
    "hundred": 100,
}
VAGUE_COUNTS = ("dozens", "hundreds", "thousands", "millions", "billions")
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10}
SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
UNITS = {"day": "D", "week": "W", "month": "M", "year": "Y"}
CUE_WORDS = (
    "said", "says", "say", "added", "urged", "reported", "reports", "noted", "stated", "warned", "told",
    "claimed", "claims", "announced", "acknowledged", "indicated", "emphasized", "stressed", "confirmed",
    "denied", "dismissed", "insisted", "according to", "pledged", "described", "accused", "called",
)
_NUM = "|".join(NUMBER_WORDS)
_DAYS = "today|yesterday|tomorrow"
_SOON = "soon|shortly"
_NOW = "currently|now"
_TIMEX = re.compile(
    rf"(?P<date>(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+(?:{MONTHS})\s+\d{{4}})"
    rf"|(?P<monthday>(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b)"
    rf"|(?P<monthyear>(?:{MONTHS})\s+\d{{4}})"
    rf"|(?P<relweek>(?i:this|last|next|the\s+coming|the\s+past)\s+(?i:week|month|year))"
    rf"|(?P<weekday>(?:(?i:last|next|this)\s+)?(?:{WEEKDAYS}))"
    rf"|(?P<month>\b(?:{MONTHS})\b)"
    rf"|(?P<day>\b(?i:{_DAYS})\b)"
    rf"|(?P<yearend>(?i:the\s+)?(?i:year[’']s\s+end|end\s+of\s+(?:the|this)\s+year))"
    rf"|(?P<duration>\b(?:\d+|(?i:{_NUM}))[- ](?i:day|week|month|year)s?\b)"
    rf"|(?P<future>\b(?i:{_SOON})\b)"
    rf"|(?P<present>\b(?i:{_NOW})\b)"
    rf"|(?P<past>\b(?i:the\s+past)\b)"
    rf"|(?P<year>(?<![\d,.$])\b(?:19|20)\d{{2}}\b(?![\d,])(?!\s*%))"
)
# Where a branch of _TIMEX can start, as a lookahead put in front of it: a digit; the first two letters
# of a month or weekday name (case as written); this/the/last/next with white space, year’/year' or end
# with white space (relweek, weekday, yearend; these may start inside a word); after a word boundary,
# the first two letters of a word of the other case-insensitive branches. Most positions of a text fail
# the first character class at once instead of trying the thirteen branches. The matches are those of
# _TIMEX (tests/test_preannotate.py compares the two).
_CASED = sorted({w[:2] for w in f"{MONTHS}|{WEEKDAYS}".split("|")})
_WORD_STARTS = sorted({w[:2] for w in f"{_DAYS}|{_NUM}|{_SOON}|{_NOW}|the".split("|")})
_UNCASED_STARTS = ("this\\s", "the\\s", "last\\s", "next\\s", "year[’']", "end\\s")
_TIMEX_SCAN = re.compile(
    rf"(?=[\d{''.join(sorted({p[0] for p in _CASED}))}]"
    rf"|(?i:[{''.join(sorted({w[0] for w in _WORD_STARTS} | {w[0] for w in _UNCASED_STARTS}))}]))"
    rf"(?=\d|{'|'.join(_CASED)}|(?i:{'|'.join(_UNCASED_STARTS)})|\b(?i:{'|'.join(_WORD_STARTS)}))"
    rf"(?:{_TIMEX.pattern})"
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("’", "").replace("'", "")).strip("-")


def _number(text: str) -> float | None:
    t = text.lower().replace(",", "").strip()
    if t in NUMBER_WORDS:
        return float(NUMBER_WORDS[t])
    try:
        return float(t)
    except ValueError:
        return None


def _num_id(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value).replace(".", "-")


# ------------------------------------------------------------------ lexicon

def build_lexicon(entity_table: dict, gold: dict[str, dict], exclude: str | None = None,
                  inv: Inventory | None = None) -> dict:
    """Known surface forms -> (label, entity id), and the cue words, from the table and the gold.

    With `exclude`, that document's gold is left out, and so are the table names
    of entities only that document mentions.
    """
    others = {d: doc for d, doc in gold.items() if d != exclude}
    seen_elsewhere = {s.get("entity_id") for doc in others.values() for s in doc["entities"]}
    only_excluded = ({s.get("entity_id") for s in gold[exclude]["entities"]} - seen_elsewhere
                     if exclude in gold else set())
    votes: dict[str, Counter] = defaultdict(Counter)
    for eid, row in entity_table.items():
        if eid not in only_excluded:
            votes[row["name"]][(row["label"], eid)] += 1
    cues = {w for w in CUE_WORDS}
    for doc in others.values():
        for s in doc["entities"]:
            votes[s["text"]][(s["label"], s.get("entity_id"))] += 1
        for s in doc["attributions"]:
            if s["label"] == (inv or default_inventory()).role("cue_label"):
                cues.add(s["text"].lower())
    entities = {}
    for surface, counter in votes.items():
        if not surface.strip():
            continue
        (label, eid), _ = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1])))[0]
        entities[surface] = (label, eid)
    return {"entities": dict(sorted(entities.items())), "cues": sorted(cues)}


def lexicon_version(lexicon: dict) -> str:
    """A model version that changes whenever the code's lexicon version or the lexicon changes."""
    digest = hashlib.sha256(json.dumps(lexicon, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"{COMPONENT}-v{LEXICON_VERSION}-{digest[:10]}"


class EntityMatcher:
    """What spaCy's EntityRuler (overwrite_ents) gives on a blank pipeline, as (start_char, end_char,
    label, entity id) in text order, without setting `Doc.ents`.

    The same Matcher and PhraseMatcher with the same keys, added in the ruler's order (token patterns,
    then phrase patterns), and the ruler's choice among overlapping matches (longest, then leftmost;
    a match is kept unless its first or last token is taken). The REGEX and IN predicates of token
    patterns become lexeme flags, computed once per word type rather than called in Python for every
    token; the Matcher then tests a bit. tests/test_preannotate.py compares it with the EntityRuler.
    """

    ENT_ID_SEP = "||"  # the EntityRuler's default

    def __init__(self, nlp, patterns: list[dict]):
        from spacy.matcher import Matcher, PhraseMatcher

        self.vocab = nlp.vocab
        self.matcher = Matcher(nlp.vocab, validate=False)
        self.phrase_matcher = PhraseMatcher(nlp.vocab)
        self.labels: dict[int, tuple[str, str]] = {}  # match key -> (label, entity id)
        self._flags: dict[tuple, int] = {}
        token = [p for p in patterns if not isinstance(p["pattern"], str)]
        phrase = [p for p in patterns if isinstance(p["pattern"], str)]
        for entry in token:
            if "id" in entry:
                raise ValueError(f"token pattern {entry!r}: entity ids are given to phrase patterns only")
            self.matcher.add(entry["label"], [[self._flagged(t) for t in entry["pattern"]]])
            self.labels[self.vocab.strings[entry["label"]]] = (entry["label"], "")
        for entry, doc in zip(phrase, (nlp.make_doc(p["pattern"]) for p in phrase)):
            eid = entry.get("id") or ""
            key = f"{entry['label']}{self.ENT_ID_SEP}{eid}" if eid else entry["label"]
            self.phrase_matcher.add(key, [doc])
            self.labels[self.vocab.strings[key]] = (entry["label"], eid)

    def _flagged(self, spec: dict) -> dict:
        """A token spec with each {"TEXT"|"ORTH"|"LOWER": {"REGEX"|"IN": ...}} predicate as a lexeme flag."""
        from spacy.attrs import LOWER

        out = {}
        for attr, value in spec.items():
            if not isinstance(value, dict):
                out[attr] = value
                continue
            op = next(iter(value))
            if len(value) != 1 or attr.upper() not in ("TEXT", "ORTH", "LOWER") or op not in ("REGEX", "IN"):
                raise ValueError(f"token predicate {attr}: {value!r} has no lexeme flag; add it here")
            arg = value[op]
            key = (attr.upper(), op, arg if op == "REGEX" else tuple(arg))
            if key not in self._flags:
                get = self.vocab.lex_attr_getters[LOWER] if key[0] == "LOWER" else str
                if op == "REGEX":
                    rx = re.compile(arg)
                    test = lambda s, rx=rx, get=get: bool(rx.search(get(s)))  # noqa: E731
                else:
                    values = frozenset(arg)
                    test = lambda s, values=values, get=get: get(s) in values  # noqa: E731
                free = next(i for i in range(19, 64) if i not in self.vocab.lex_attr_getters)  # FLAG19 on
                self._flags[key] = self.vocab.add_flag(test, free)
            out[self._flags[key]] = True
        return out

    def __call__(self, doc) -> list[tuple[int, int, str, str]]:
        matches = list(self.matcher(doc))
        if len(self.phrase_matcher):
            matches += list(self.phrase_matcher(doc))
        final = set([(m_id, start, end) for m_id, start, end in matches if start != end])
        final = sorted(final, key=lambda m: (m[2] - m[1], -m[1]), reverse=True)
        taken: set[int] = set()
        kept = []
        for m_id, start, end in final:
            if start not in taken and end - 1 not in taken:
                kept.append((start, end, m_id))
                taken.update(range(start, end))
        out = []
        for start, end, m_id in sorted(kept):
            last = doc[end - 1]
            out.append((doc[start].idx, last.idx + len(last), *self.labels[m_id]))
        return out


class Preannotator:
    """One pipeline per lexicon; `annotate` is pure over (document id, text, DCT)."""

    def __init__(self, lexicon: dict, inv: Inventory, spacy_model: str | None = None):
        import dateparser.date  # noqa: F401  once here, so that forked workers inherit it
        import spacy
        from spacy.matcher import PhraseMatcher

        self.inv = inv
        self.lexicon = lexicon
        self.model_version = lexicon_version(lexicon)
        self.timings: Counter = Counter()
        t0 = time.perf_counter()
        self.nlp = spacy.blank("en")
        self.patterns = [{"label": label, "pattern": surface, "id": eid or ""}
                         for surface, (label, eid) in lexicon["entities"].items()]
        self.patterns += self._number_patterns()
        self.entity_matcher = EntityMatcher(self.nlp, self.patterns)
        self.cue_matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.cue_matcher.add(inv.role("cue_label"), [self.nlp.make_doc(c) for c in lexicon["cues"]])
        self.model = None
        if spacy_model:
            if not spacy.util.is_package(spacy_model) and not Path(spacy_model).is_dir():
                raise SystemExit(f"spaCy pipeline {spacy_model!r} is not installed; it is never downloaded. "
                                 "Install it as a package or leave out --spacy-model.")
            self.model = spacy.load(spacy_model)
        self.timings["lexicon"] += time.perf_counter() - t0

    @staticmethod
    def _number_patterns() -> list[dict]:
        plain = r"^(?!(?:19|20)\d{2}$)(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$"
        scale = {"LOWER": {"IN": list(SCALES)}, "OP": "?"}
        return [
            {"label": "MONEY", "pattern": [{"ORTH": {"IN": ["$", "US$"]}}, {"TEXT": {"REGEX": plain}}, scale]},
            {"label": "MONEY", "pattern": [{"LOWER": {"IN": ["billions", "millions"]}}, {"LOWER": "of"},
                                           {"LOWER": "dollars"}]},
            {"label": "PERCENT", "pattern": [{"TEXT": {"REGEX": plain}}, {"LOWER": {"IN": ["%", "percent"]}}]},
            {"label": "CARDINAL", "pattern": [{"TEXT": {"REGEX": plain}}, scale]},
            {"label": "CARDINAL", "pattern": [{"LOWER": {"IN": list(NUMBER_WORDS) + list(VAGUE_COUNTS)}}]},
            {"label": "ORDINAL", "pattern": [{"LOWER": {"IN": list(ORDINALS)}}]},
            {"label": "ORDINAL", "pattern": [{"TEXT": {"REGEX": r"^\d+(?:st|nd|rd|th)$"}}]},
        ]

    # -------------------------------------------------------------- components

    def _timed(self, name: str, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.timings[name] += time.perf_counter() - t0

    def annotate(self, document_id: str, text: str, text_sha256: str, dct: str | None) -> dict:
        """A standoff document of suggestions (entities, time expressions, cues)."""
        doc = standoff.empty(document_id, text_sha256)
        sp, found = self._timed("entity_ruler", self._entities, text)
        doc["timexes"] = self._timexes(text, dct)
        durations = [(t["start"], t["end"]) for t in doc["timexes"]]
        ents = []
        for start, end, label, eid in found:
            if label == "CARDINAL" and any(s <= start and end <= e for s, e in durations):
                continue  # "four" of "four-day" is part of a time expression
            ents.append((start, end, label, eid or _guess_id(label, text[start:end])))
        if self.model is not None:
            ents = self._timed("spacy_ner", self._merge_model, text, ents)
        doc["entities"] = [{"start": s, "end": e, "text": text[s:e], "label": label, "entity_id": eid}
                           for s, e, label, eid in ents]
        doc["attributions"] = self._timed("cue_matcher", self._cues, sp, text)
        for layer in standoff.SPAN_LAYERS:
            doc[layer].sort(key=lambda r: (r["start"], -r["end"], r["label"]))
            prefix, fields = self.inv.id_prefix(layer), standoff.FIELDS[layer]
            for k, rec in enumerate(doc[layer], 1):
                rec["id"] = f"{prefix}{k}"
            doc[layer] = [{f: rec.get(f) for f in fields} for rec in doc[layer]]
        return doc

    def _entities(self, text: str):
        """(the tokenised text, its lexicon and number entities as (start_char, end_char, label, entity id))."""
        sp = self.nlp.make_doc(text)
        return sp, self.entity_matcher(sp)

    def _timexes(self, text: str, dct: str | None) -> list[dict]:
        candidates = self._timed("timex_matcher", _timex_candidates_scanned, text)
        return self._timed("dateparser", _normalise_all, candidates, text, dct)

    def _cues(self, sp, text: str) -> list[dict]:
        from spacy.util import filter_spans

        spans = filter_spans(self.cue_matcher(sp, as_spans=True))
        return [{"start": e.start_char, "end": e.end_char, "text": text[e.start_char:e.end_char],
                 "label": self.inv.role("cue_label"), "entity_id": None} for e in spans]

    def _merge_model(self, text: str, ents: list[tuple]) -> list[tuple]:
        allowed = set(self.inv.labels("entities"))
        out = list(ents)
        for ent in self.model(text).ents:
            if ent.label_ not in allowed:
                continue
            if any(ent.start_char < e and s < ent.end_char for s, e, *_ in out):
                continue
            out.append((ent.start_char, ent.end_char, ent.label_, _guess_id(ent.label_, ent.text)))
        return sorted(out)


def _amount(surface: str) -> float | None:
    """The number a numeric mention states ("3,000", "1.64 billion", "ten", "5%"), if it states one."""
    m = re.match(r"\$?\s*([\d,]*\.?\d+|[a-z]+)(?:st|nd|rd|th)?\s*(%|percent|[a-z]+)?$", surface.strip().lower())
    if not m:
        return None
    n = ORDINALS.get(m.group(1)) or _number(m.group(1))
    if n is None:
        return None
    return float(n) * SCALES.get(m.group(2) or "", 1.0)


def _guess_id(label: str, surface: str) -> str:
    """An entity id in the form the guidelines give (cardinal-3000, money-usd-1640000000, slug of a name)."""
    if label in ("CARDINAL", "ORDINAL", "PERCENT", "MONEY"):
        n = _amount(surface)
        prefix = "money-usd" if label == "MONEY" else label.lower()
        if n is not None:
            return f"{prefix}-{_num_id(n)}"
        return f"{prefix}-{_slug(surface.split()[0])}"
    return _slug(surface)


# ------------------------------------------------------------------ time expressions

def _timex_candidates(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.lastgroup) for m in _TIMEX.finditer(text)]


def _dct_parts(dct: str | None) -> tuple[dt.datetime | None, str]:
    """(relative base, granularity) of a DCT written YYYY, YYYY-MM or YYYY-MM-DD."""
    if not dct:
        return None, "none"
    parts = [int(p) for p in str(dct).split("-")]
    granularity = {1: "year", 2: "month", 3: "day"}[len(parts)]
    return dt.datetime(*(parts + [1] * (3 - len(parts)))), granularity


def _timex_candidates_scanned(text: str) -> list[tuple[int, int, str]]:
    """The candidates of `_timex_candidates`, found behind the start-of-match lookahead `_TIMEX_SCAN`."""
    return [(m.start(), m.end(), m.lastgroup) for m in _TIMEX_SCAN.finditer(text)]


def _date_parser(base: dt.datetime, prefer: str):
    """A dateparser parser for one relative base: "current" (a date of the current period, day of month
    first) or "future" (the coming one)."""
    from dateparser.date import DateDataParser

    if prefer == "future":
        return DateDataParser(languages=["en"], settings={
            "RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "RETURN_TIME_AS_PERIOD": True})
    return DateDataParser(languages=["en"], settings={
        "RELATIVE_BASE": base, "PREFER_DATES_FROM": "current_period", "RETURN_TIME_AS_PERIOD": True,
        "PREFER_DAY_OF_MONTH": "first"})


def _parse_value(surface: str, base: dt.datetime, prefer: str, parser=_date_parser) -> str | None:
    """The TIMEX3 value dateparser gives a surface string against a relative base (a new parser, no cache)."""
    data = parser(base, prefer).get_date_data(surface)
    return _timex_value(data.date_obj, data.period) if data.date_obj else None


_cached_parser = functools.lru_cache(maxsize=256)(_date_parser)


@functools.lru_cache(maxsize=1 << 16)
def _cached_value(surface: str, base: dt.datetime, prefer: str) -> str | None:
    """`_parse_value`, remembered per process. With RELATIVE_BASE set the value is a function of
    exactly these three: the parser's settings are fixed by (base, prefer), its only input is the
    surface, and a parser keeps no state between calls (no previous locales). Surface strings repeat
    across documents ("Thursday", "last week"), and so do DCTs; a parser is built once per
    (base, prefer) instead of twice per document."""
    return _parse_value(surface, base, prefer, _cached_parser)


def _normalise_all(candidates: list[tuple[int, int, str]], text: str, dct: str | None,
                   parse=_cached_value) -> list[dict]:
    base, granularity = _dct_parts(dct)
    relative_base = base or dt.datetime(2000, 1, 1)
    out = []
    for start, end, kind in candidates:
        surface = text[start:end]
        label, value = "DATE", None
        if kind == "duration":
            n = _number(re.split(r"[- ]", surface)[0])
            unit = re.split(r"[- ]", surface)[-1].lower().rstrip("s")
            label, value = "DURATION", f"P{_num_id(n)}{UNITS[unit]}" if n is not None else None
        elif kind == "future":
            value = "FUTURE_REF"
        elif kind == "present":
            value = "PRESENT_REF"
        elif kind == "past":
            value = "PAST_REF"
        elif kind == "yearend":
            value = f"{base.year:04d}" if base else None
        else:
            relative = kind in ("weekday", "day", "relweek", "month")
            if relative and base is None:
                value = None
            elif relative and granularity != "day" and kind in ("weekday", "day", "relweek"):
                value = str(dct)  # a day-relative expression resolves no finer than the DCT
            elif kind == "weekday" and _future_tense(text, start) and base.strftime("%A") != surface.split()[-1]:
                value = parse(surface, relative_base, "future")  # "will conclude on Friday": the coming one
            else:
                value = parse(surface, relative_base, "current")
        out.append({"start": start, "end": end, "text": surface, "label": label, "value": value})
    return out


_FUTURE = re.compile(r"\b(?:will|shall|going to|(?:is|are) set to|expected to|plans? to|scheduled)\b", re.I)


def _future_tense(text: str, start: int, window: int = 80) -> bool:
    """Whether the clause before a time expression speaks of the future (a future auxiliary in it)."""
    left = text[max(0, start - window):start]
    left = re.split(r"[.!?\n]", left)[-1]
    return bool(_FUTURE.search(left))


def _timex_value(date: dt.datetime, period: str) -> str:
    if period == "year":
        return f"{date.year:04d}"
    if period == "month":
        return f"{date.year:04d}-{date.month:02d}"
    if period == "week":
        iso = date.isocalendar()
        return f"{iso[0]:04d}-W{iso[1]:02d}"
    return date.strftime("%Y-%m-%d")


# ------------------------------------------------------------------ scoring

SCORED_LAYERS = ("entities", "timexes", "attributions")


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def score(predicted: dict[str, dict], gold: dict[str, dict], inv: Inventory) -> dict:
    """Strict span P/R/F1 per layer and label (same start, end and label), micro over documents.

    Attributions are scored for CUE only (the pre-annotator proposes no SOURCE).
    Value accuracy is over true positives: TIMEX3 value and entity id.
    """
    table: dict = {}
    extra = {"timex_value": [0, 0], "entity_id": [0, 0]}
    for layer in SCORED_LAYERS:
        labels = [inv.role("cue_label")] if layer == "attributions" else inv.labels(layer)
        counts = {label: [0, 0, 0] for label in labels}
        for doc_id in sorted(gold):
            g = {(s["start"], s["end"], s["label"]): s for s in gold[doc_id][layer] if s["label"] in labels}
            p = {(s["start"], s["end"], s["label"]): s for s in predicted.get(doc_id, {}).get(layer, [])
                 if s["label"] in labels}
            for key in set(g) | set(p):
                c = counts[key[2]]
                if key in g and key in p:
                    c[0] += 1
                    attr = {"timexes": ("timex_value", "value"), "entities": ("entity_id", "entity_id")}.get(layer)
                    if attr:
                        extra[attr[0]][0] += g[key].get(attr[1]) == p[key].get(attr[1])
                        extra[attr[0]][1] += 1
                elif key in p:
                    c[1] += 1
                else:
                    c[2] += 1
        rows = {label: _prf(*c) for label, c in counts.items() if any(c)}
        total = [sum(c[i] for c in counts.values()) for i in range(3)]
        rows["ALL"] = _prf(*total)
        table[layer] = rows
    return {
        "labels": table,
        "timex_value_accuracy": round(extra["timex_value"][0] / extra["timex_value"][1], 4) if extra["timex_value"][1] else None,
        "entity_id_accuracy": round(extra["entity_id"][0] / extra["entity_id"][1], 4) if extra["entity_id"][1] else None,
        "matched_timexes": extra["timex_value"][1], "matched_entities": extra["entity_id"][1],
    }


def markdown_table(scores: dict) -> str:
    lines = ["| layer | label | tp | fp | fn | precision | recall | F1 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for layer, rows in scores["labels"].items():
        for label, m in rows.items():
            lines.append(f"| {layer} | {label} | {m['tp']} | {m['fp']} | {m['fn']} | {m['precision']:.3f} | "
                         f"{m['recall']:.3f} | {m['f1']:.3f} |")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines.append("")
    lines.append(f"TIMEX3 value accuracy on {scores['matched_timexes']} matched time expressions: "
                 f"{fmt(scores['timex_value_accuracy'])}; entity id accuracy on {scores['matched_entities']} "
                 f"matched entities: {fmt(scores['entity_id_accuracy'])}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ batch entry points



def annotate_records(records: Iterable[dict], lexicon: dict, inv: Inventory, num_proc: int = 1,
                     batch_size: int = BATCH_SIZE, spacy_model: str | None = None,
                     timings: Counter | None = None, work: Path | None = None) -> Iterator[dict]:
    """Suggestions for many documents with one lexicon, in input order.

    Records are corpus records (document_id, text, text_sha256, dct). One Preannotator is built here
    (so a bad --spacy-model fails here, not in a task). With num_proc > 1 and a `work` folder (in the
    repository's build/: pactnews.pipeline.executors.work_area), batches of batch_size records are
    datatrove tasks (pactnews.pipeline.jobs.run_jobs), each building its own Preannotator once; the
    documents come back in input order, the same for any num_proc. Seconds per component are added to
    `timings`, summed over the processes.
    """
    if num_proc > 1 and work is None:
        raise ValueError(f"num_proc={num_proc} needs a work folder for the datatrove tasks")
    pre = Preannotator(lexicon, inv, spacy_model)
    if timings is not None:
        timings.update(pre.timings)
    if num_proc <= 1:
        return _annotated_here(pre, records, timings)
    return _annotated_in_tasks(lexicon, inv, spacy_model, records, num_proc, batch_size, timings, Path(work))


def _annotated_here(pre: Preannotator, records: Iterable[dict], timings: Counter | None) -> Iterator[dict]:
    for rec in records:
        before = dict(pre.timings)
        yield pre.annotate(rec["document_id"], rec["text"], rec["text_sha256"], rec["dct"])
        if timings is not None:
            timings.update({name: sec - before.get(name, 0.0) for name, sec in pre.timings.items()})


def _annotated_in_tasks(lexicon: dict, inv: Inventory, spacy_model: str | None, records: Iterable[dict],
                        num_proc: int, batch_size: int, timings: Counter | None, work: Path) -> Iterator[dict]:
    from pactnews.pipeline.jobs import run_jobs  # heavy: imports datatrove

    context = {"lexicon": lexicon, "inv": inv, "spacy_model": spacy_model}
    for docs, seconds in run_jobs(_annotate_batch, context, batched(records, batch_size), num_proc, work):
        if timings is not None:
            timings.update(seconds)
        yield from docs


def _annotate_batch(context: dict, records: list[dict]) -> tuple[list[dict], dict]:
    """A task's batch: its Preannotator is built on the first batch and kept in the task's copy of the context."""
    pre = context.get("preannotator")
    if pre is None:
        pre = context["preannotator"] = Preannotator(context["lexicon"], context["inv"], context["spacy_model"])
        before = {}
    else:
        before = dict(pre.timings)
    docs = [pre.annotate(r["document_id"], r["text"], r["text_sha256"], r["dct"]) for r in records]
    return docs, {name: sec - before.get(name, 0.0) for name, sec in pre.timings.items()}


def predict_corpus(corpus: list[dict], entity_table: dict, gold: dict[str, dict], inv: Inventory,
                   leave_one_out: bool, spacy_model: str | None = None, num_proc: int = 1,
                   work: Path | None = None) -> tuple[dict, Counter, str]:
    """Suggestions for every document: (docs by id, seconds per component, model version).

    With leave_one_out, each document gets a pipeline whose lexicon excludes its own gold; otherwise
    one lexicon serves all, over num_proc processes.
    """
    timings: Counter = Counter()
    if not leave_one_out:
        lexicon = build_lexicon(entity_table, gold, inv=inv)
        docs = annotate_records(corpus, lexicon, inv, num_proc=num_proc, spacy_model=spacy_model, timings=timings,
                                work=work)
        return {rec["document_id"]: doc for rec, doc in zip(corpus, docs)}, timings, lexicon_version(lexicon)
    out = {}
    for rec in corpus:
        pre = Preannotator(build_lexicon(entity_table, gold, exclude=rec["document_id"], inv=inv), inv, spacy_model)
        out[rec["document_id"]] = pre.annotate(rec["document_id"], rec["text"], rec["text_sha256"], rec["dct"])
        timings.update(pre.timings)
    return out, timings, lexicon_version(build_lexicon(entity_table, gold))
