"""Cross-outlet conflict detectors over the claims of one claim cluster.

A claim cluster holds one proposition; where outlets report it in ways that
cannot all be true, a detector proposes a typed conflict. Proposals are only
candidates: a reader keeps or dismisses each one in the conflicts table, so
the detectors lean towards silence on whatever they cannot interpret
(missing units, durations, vague times) rather than flood the reader.

Detectors are pure functions of one cluster's claims and the inventory; every
label and value they test is taken from the inventory's roles, so renaming a
value in schemas/labels.yaml needs no change here. No I/O.
"""
from __future__ import annotations

import calendar
import math
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import combinations
from typing import Callable

from pactnews.inventory import Inventory

# The conflict type each rule produces, as a role of `roles.conflict_type` in
# labels.yaml (detect turns it into the inventory's name for that type, so a
# renamed type follows; a role missing from the inventory fails loudly).
RULE_TYPES: dict[str, str] = {
    "figure-incompatible": "figure",
    "polarity-opposite": "polarity",
    "source-different": "attribution",
    "time-different": "time",
}


@dataclass(frozen=True, order=True)
class Member:
    document_id: str
    claim_id: str
    attribute: str
    value: str


@dataclass(frozen=True)
class Finding:
    rule: str
    type: str
    cluster_id: str
    members: tuple[Member, ...]
    rationale: str

    @property
    def key(self) -> tuple[str, str, frozenset]:
        """What identifies a finding across runs: the rationale's wording and the values may change."""
        return self.rule, self.cluster_id, frozenset((m.document_id, m.claim_id) for m in self.members)


def _natural(s) -> tuple:
    """C2 before C10: ids compare by their numbers, as a reader expects."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(s)))


def _member_order(m: Member) -> tuple:
    return _natural(m.document_id), _natural(m.claim_id)


def _finding_order(f: Finding) -> tuple:
    return _natural(f.cluster_id), f.rule, [_member_order(m) + (m.attribute, m.value) for m in f.members]


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _finding(rule: str, claims: list[dict], attribute: str, value: Callable[[dict], str], why: str) -> Finding:
    """One finding over `claims`, its rationale `why` followed by each member's quoted value."""
    members = tuple(sorted({Member(c["document_id"], c["id"], attribute, value(c)) for c in claims},
                           key=_member_order))
    quoted = "; ".join(f'"{m.value}" ({m.document_id} {m.claim_id})' for m in members)
    return Finding(rule, RULE_TYPES[rule], claims[0]["cluster_id"], members, f"{why}: {quoted}.")


def _participants(claims: list[dict], clash: Callable[[dict, dict], bool]) -> list[dict]:
    """The claims taking part in at least one clashing pair (each pair tested once)."""
    hit: dict[int, dict] = {}
    for a, b in combinations(claims, 2):
        if clash(a, b):
            hit[id(a)], hit[id(b)] = a, b
    return list(hit.values())


def _cross(a: dict, b: dict) -> bool:
    return a["document_id"] != b["document_id"]


# --- time values -------------------------------------------------------------

# How the `claim_clusters.conflict` flag is derived (pactnews.pipeline.clusters.cluster_row); the card's and
# croissant.json's description of the column.
CLUSTER_CONFLICT_RULE = (
    "conflict is true when the conflicts table keeps at least one conflict with a member claim in this cluster "
    "(a detected conflict a reader kept, or an annotated one); conflict_types and conflict_ids list those "
    "conflicts, and a cluster whose claims differ without a kept conflict is not flagged"
)

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2}))?)?)?)?(?:T\w+)?$")
_PERIOD_RE = re.compile(r"^(\d{4})-(W(\d{2})|Q([1-4])|H([12]))$")
_VAGUE_RE = re.compile(r"^(\d{3}X|\d{2}XX)$")


def time_span(value: str | None) -> tuple[datetime, datetime] | None:
    """The half-open stretch of time a TIMEX3 value names, or None when it names none we can place.

    None (compatible with anything) for *_REF values, durations, sets and
    seasons: their extent is vague or not a point in time, and a vague time
    cannot show that two reports are about different times. A part of day
    (T MO, T AF...) counts as its whole day for the same reason.
    """
    if not value:
        return None
    if m := _DATE_RE.match(value):
        y, mo, d, h, mi = (int(g) if g else None for g in m.groups())
        try:
            if mo is None:
                return datetime(y, 1, 1), datetime(y + 1, 1, 1)
            if d is None:
                return datetime(y, mo, 1), datetime(y, mo, calendar.monthrange(y, mo)[1]) + timedelta(days=1)
            start = datetime(y, mo, d, h or 0, mi or 0)
        except ValueError:
            return None
        step = timedelta(days=1) if h is None else timedelta(hours=1) if mi is None else timedelta(minutes=1)
        return start, start + step
    if m := _PERIOD_RE.match(value):
        y = int(m[1])
        try:
            if m[3]:
                start = datetime.combine(date.fromisocalendar(y, int(m[3]), 1), datetime.min.time())
                return start, start + timedelta(weeks=1)
        except ValueError:
            return None
        months = 3 if m[4] else 6
        first = (int(m[4] or m[5]) - 1) * months + 1
        end = datetime(y + 1, 1, 1) if first + months > 12 else datetime(y, first + months, 1)
        return datetime(y, first, 1), end
    if _VAGUE_RE.match(value):  # 203X: a decade; 20XX: a century
        width = 10 ** value.count("X")
        start = int(value.rstrip("X")) * width
        return datetime(start, 1, 1), datetime(start + width, 1, 1)
    return None


def times_compatible(a: str | None, b: str | None) -> bool:
    """Whether two time values may name the same time: one equals or contains the other, or either is vague."""
    sa, sb = time_span(a), time_span(b)
    if sa is None or sb is None:
        return True
    return (sa[0] <= sb[0] and sb[1] <= sa[1]) or (sb[0] <= sa[0] and sa[1] <= sb[1])


def _time_clash(a: dict, b: dict) -> bool:
    return bool(a.get("time_value") and b.get("time_value")) and not times_compatible(a["time_value"], b["time_value"])


# --- figures -----------------------------------------------------------------

_APPROXIMATIONS = ("exact", "approximate", "at_least", "at_most", "range")  # roles of quantity_approximation


def _approximation(claim: dict, inv: Inventory) -> str:
    """The role of a claim's approximation value; a missing one reads as exact (the figure as stated)."""
    value = claim.get("quantity_approximation")
    if value is None:
        return "exact"
    roles = {inv.value_role("quantity_approximation", r): r for r in _APPROXIMATIONS}
    if value not in roles:
        raise ValueError(f"{claim['document_id']} {claim['id']}: unknown quantity_approximation {value!r}")
    return roles[value]


def figure_interval(claim: dict, inv: Inventory) -> tuple[float, float] | None:
    """The values a reported figure admits, so that bounds ("at most 500") are not read as points.

    None (never compared) without a figure, or for a range without its high end.
    """
    v = claim.get("quantity_value")
    if v is None:
        return None
    kind, high = _approximation(claim, inv), claim.get("quantity_high")
    if kind == "approximate":
        return tuple(sorted((v * 9 / 10, v * 11 / 10)))
    if kind == "at_least":
        return v, math.inf
    if kind == "at_most":
        return min(0.0, v), v
    if kind == "range":
        return None if high is None else (min(v, high), max(v, high))
    return v, v


def figure_text(claim: dict, inv: Inventory) -> str:
    """The figure as a reader would quote it: ~3000, >=1000, <=12000, 1000-2000, 1500."""
    v, kind = _number(claim["quantity_value"]), _approximation(claim, inv)
    if kind == "range" and claim.get("quantity_high") is not None:
        return f"{v}-{_number(claim['quantity_high'])}"
    return {"approximate": "~", "at_least": ">=", "at_most": "<="}.get(kind, "") + v


def figure_incompatible(claims: list[dict], inv: Inventory) -> list[Finding]:
    """Figures from different documents that cannot both hold.

    Compared: claims with a figure and a unit, of the same unit and the same
    modality (a forecast never contradicts a count), whose figure intervals
    (exact [v, v], approximate [0.9v, 1.1v], at_least [v, inf), at_most [0, v],
    range [low, high]) are disjoint. A pair whose time values are both set and
    incompatible is skipped: figures for different times may both be true.
    One finding per (unit, modality) group, its members every claim in at least
    one conflicting pair.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in claims:
        if c.get("quantity_unit") is not None and figure_interval(c, inv) is not None:
            groups[c["quantity_unit"], c["modality"]].append(c)

    def clash(a: dict, b: dict) -> bool:
        (alo, ahi), (blo, bhi) = figure_interval(a, inv), figure_interval(b, inv)
        return _cross(a, b) and not _time_clash(a, b) and (ahi < blo or bhi < alo)

    out = []
    for (unit, modality), group in groups.items():
        if hit := _participants(group, clash):
            out.append(_finding("figure-incompatible", hit, "quantity", lambda c: figure_text(c, inv),
                                f"Outlets report incompatible {unit} figures ({modality})"))
    return out


# --- polarity, attribution, time ----------------------------------------------

def _same_source(a: dict, b: dict) -> bool:
    """Resolved sources compare by entity ids; unresolved ones only by their readable names."""
    if a.get("source_keys") is not None and b.get("source_keys") is not None:
        return a["source_keys"] == b["source_keys"]
    return a.get("source") == b.get("source")


def polarity_opposite(claims: list[dict], inv: Inventory) -> list[Finding]:
    """One source presents the proposition as true or probable (asserted, hedged), another denies it.

    The one rule that also compares claims of one document: an article quoting
    a claim and its denial reports a conflict too. Claims by the same source
    are not compared (a source hedging and then denying is not two outlets
    diverging). Uncommitted claims neither assert nor deny, and take no part.
    Members: every claim in at least one opposite pair of different sources.
    """
    positive = {inv.value_role("factuality", "asserted"), inv.value_role("factuality", "hedged")}
    denied = inv.value_role("factuality", "denied")

    def clash(a: dict, b: dict) -> bool:
        pair = {a["factuality"], b["factuality"]}
        return denied in pair and bool(pair & positive) and not _same_source(a, b)

    hit = _participants(claims, clash)
    if not hit:
        return []
    return [_finding("polarity-opposite", hit, "factuality", lambda c: c["factuality"],
                     "Some sources present the claim as true or probable and others deny it")]


def _source_text(c: dict) -> str:
    return c.get("source") or "+".join(c["source_keys"])


def source_different(claims: list[dict], inv: Inventory) -> list[Finding]:
    """Different documents credit the proposition to resolved sources that share no entity.

    Only claims whose sources resolve to entity ids are compared: an author's
    voice or an unnamed official cannot be shown to be someone else. Members:
    every such claim whose source is disjoint from a claim's of another document.
    """
    resolved = [c for c in claims if c.get("source_keys") is not None]

    def clash(a: dict, b: dict) -> bool:
        return _cross(a, b) and not set(a["source_keys"]) & set(b["source_keys"])

    hit = _participants(resolved, clash)
    if not hit:
        return []
    return [_finding("source-different", hit, "source", _source_text, "Outlets credit the claim to different sources")]


def time_different(claims: list[dict], inv: Inventory) -> list[Finding]:
    """Different documents place the proposition at incompatible times.

    Compared: claims of the same modality (when something is expected and
    when it happened may differ without conflict), both with a time value,
    neither of which equals or contains the other; vague values (*_REF,
    durations) never conflict. One finding per modality, its members every
    claim in at least one incompatible pair.
    """
    groups: dict[str, list[dict]] = defaultdict(list)
    for c in claims:
        if c.get("time_value"):
            groups[c["modality"]].append(c)
    out = []
    for modality, group in groups.items():
        if hit := _participants(group, lambda a, b: _cross(a, b) and _time_clash(a, b)):
            out.append(_finding("time-different", hit, "time", lambda c: c["time_value"],
                                f"Outlets place the claim ({modality}) at incompatible times"))
    return out


DETECTORS: dict[str, Callable[[list[dict], Inventory], list[Finding]]] = {
    "figure-incompatible": figure_incompatible,
    "polarity-opposite": polarity_opposite,
    "source-different": source_different,
    "time-different": time_different,
}


def detect(claims: list[dict], inv: Inventory) -> list[Finding]:
    """Every detector over every claim cluster, in a stable order (input order does not matter).

    Claims without a cluster hold no proposition shared with another claim and are ignored.
    """
    roles = inv.raw.get("roles", {}).get("conflict_type", {})
    missing = sorted(set(RULE_TYPES.values()) - set(roles))
    if missing or set(DETECTORS) != set(RULE_TYPES) or not set(roles.values()) <= set(inv.conflict_types):
        raise ValueError(f"conflict rules and inventory disagree: roles {missing} not in roles.conflict_type of "
                         "labels.yaml, a rule without a type, or a role naming no conflict type")
    clusters: dict[str, list[dict]] = defaultdict(list)
    for c in sorted(claims, key=lambda c: (_natural(c["document_id"]), _natural(c["id"]))):
        if c.get("cluster_id") is not None:
            clusters[c["cluster_id"]].append(c)
    found = [replace(f, type=roles[f.type])
             for group in clusters.values() for detector in DETECTORS.values() for f in detector(group, inv)]
    return sorted(found, key=_finding_order)


def reconcile(findings: list[Finding], entries: list[dict], inv: Inventory) -> tuple[list[Finding], list[dict]]:
    """What the conflicts table and a fresh detection run disagree on.

    Returns the findings no detected entry matches (new, to be read and kept
    or dismissed) and the detected entries no finding matches (stale: their
    claims changed). Entries match by rule and member claims, and by cluster
    when the entry names one (the members fix it otherwise); a dismissed entry
    still matches, so a rejected finding is not proposed again. Annotated
    entries have no rule and take no part.
    """
    detected = inv.value_role("conflict_origin", "detected")
    by_key: dict[tuple, list[Finding]] = defaultdict(list)
    for f in findings:
        by_key[f.rule, f.key[2]].append(f)
    matched: set[int] = set()
    stale = []
    for entry in entries:
        if entry.get("origin") != detected:
            continue
        key = entry.get("rule"), frozenset((m["document_id"], m["claim_id"]) for m in entry.get("members") or [])
        hits = [f for f in by_key.get(key, []) if entry.get("cluster_id") in (None, f.cluster_id)]
        if hits:
            matched.update(id(f) for f in hits)
        else:
            stale.append(entry)
    return [f for f in findings if id(f) not in matched], stale
