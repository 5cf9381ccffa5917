"""The conflict detectors of pactnews.annotations.conflicts, on small invented clusters (never the corpus)."""
from __future__ import annotations

import random

import pytest

from pactnews.annotations.conflicts import (DETECTORS, RULE_TYPES, Finding, Member, detect, figure_interval, figure_text,
                                reconcile, times_compatible)
from pactnews.inventory import Inventory, load_inventory
from pactnews.repo import Layout, find_root

INV = load_inventory(Layout(find_root()).labels)
FACT = {r: INV.value_role("factuality", r) for r in ("asserted", "hedged", "uncommitted", "denied")}
ACTUAL, EXPECTED = INV.value_role("modality", "actual"), INV.value_role("modality", "expected")
APPROX = {r: INV.value_role("quantity_approximation", r) for r in ("exact", "approximate", "at_least", "at_most", "range")}
PERSON, KM = INV.values("quantity_unit")[:2]  # any two units
DETECTED, ANNOTATED = INV.value_role("conflict_origin", "detected"), INV.value_role("conflict_origin", "annotated")


def claim(doc="doc-a", cid="C1", *, cluster="K1", value=None, approx=None, high=None, unit=None, modality=None,
          factuality=None, time=None, keys=None, source=None, text="Veltria moved troops to the Norland border.") -> dict:
    """A claim dict with defaults: an asserted, actual claim with no figure, no time and no resolved source."""
    return {
        "document_id": doc, "id": cid, "start": 0, "end": len(text), "text": text, "cluster_id": cluster,
        "factuality": factuality or FACT["asserted"], "modality": modality or ACTUAL,
        "source_type": INV.value_role("source_type", "author"),
        "quantity_value": value, "quantity_high": high,
        "quantity_approximation": APPROX[approx] if approx else (APPROX["exact"] if value is not None else None),
        "quantity_unit": (unit or PERSON) if value is not None else None,
        "time_value": time, "source_keys": keys, "source": source,
    }


def run(rule: str, claims: list[dict]) -> list[Finding]:
    return DETECTORS[rule](claims, INV)


def pairs(findings: list[Finding]) -> list[set]:
    return [{(m.document_id, m.claim_id) for m in f.members} for f in findings]


# --- the registry ----------------------------------------------------------------

def test_every_rule_has_an_inventory_conflict_type_and_a_docstring():
    assert list(DETECTORS) == list(RULE_TYPES)
    assert set(RULE_TYPES.values()) <= set(INV.conflict_types)
    assert all(fn.__doc__ and len(fn.__doc__.split()) > 10 for fn in DETECTORS.values())


def test_detect_refuses_a_rule_type_missing_from_the_inventory():
    raw = {**INV.raw, "conflicts": {**INV.raw["conflicts"], "types": {"polarity": "only this one"}}}
    with pytest.raises(ValueError, match="naming no conflict type"):
        detect([claim()], Inventory(raw))
    roles = {k: v for k, v in INV.raw["roles"]["conflict_type"].items() if k != "figure"}
    raw = {**INV.raw, "roles": {**INV.raw["roles"], "conflict_type": roles}}
    with pytest.raises(ValueError, match="figure"):
        detect([claim()], Inventory(raw))


def test_a_renamed_conflict_type_follows_the_inventory():
    types = {("numbers" if k == "figure" else k): v for k, v in INV.raw["conflicts"]["types"].items()}
    roles = {**INV.raw["roles"]["conflict_type"], "figure": "numbers"}
    inv = Inventory({**INV.raw, "conflicts": {**INV.raw["conflicts"], "types": types},
                     "roles": {**INV.raw["roles"], "conflict_type": roles}})
    found = detect([claim("doc-a", "C1", value=1500), claim("doc-b", "C4", value=3000)], inv)
    assert [f.type for f in found] == ["numbers"]


# --- figure-incompatible -----------------------------------------------------------

def test_figures_that_cannot_both_hold_conflict_with_both_members():
    found = run("figure-incompatible", [claim("doc-a", "C1", value=1500), claim("doc-b", "C4", value=3000)])
    assert len(found) == 1
    f = found[0]
    assert (f.rule, f.type, f.cluster_id) == ("figure-incompatible", "figure", "K1")
    assert f.members == (Member("doc-a", "C1", "quantity", "1500"), Member("doc-b", "C4", "quantity", "3000"))
    assert '"1500"' in f.rationale and '"3000"' in f.rationale


def test_a_forecast_bound_is_not_compared_with_a_count():
    assert run("figure-incompatible", [claim("doc-a", value=500, approx="at_most", modality=EXPECTED),
                                       claim("doc-b", value=300, modality=ACTUAL)]) == []


def test_a_forecast_is_not_compared_with_a_count_even_when_they_differ():
    assert run("figure-incompatible", [claim("doc-a", value=1500, modality=EXPECTED),
                                       claim("doc-b", value=3000, modality=ACTUAL)]) == []


def test_an_upper_bound_is_compatible_with_a_smaller_figure():
    assert run("figure-incompatible", [claim("doc-a", value=500, approx="at_most"), claim("doc-b", value=300)]) == []


def test_an_upper_bound_conflicts_with_a_larger_figure():
    assert len(run("figure-incompatible", [claim("doc-a", value=500, approx="at_most"),
                                           claim("doc-b", value=800)])) == 1


def test_an_approximate_figure_admits_ten_percent():
    assert run("figure-incompatible", [claim("doc-a", value=1000, approx="approximate"),
                                       claim("doc-b", value=1050)]) == []
    assert len(run("figure-incompatible", [claim("doc-a", value=1000, approx="approximate"),
                                           claim("doc-b", value=1150)])) == 1


def test_lower_bound_and_range():
    at_least = claim("doc-a", value=1000, approx="at_least")
    assert run("figure-incompatible", [at_least, claim("doc-b", value=900, high=1200, approx="range")]) == []
    assert len(run("figure-incompatible", [at_least, claim("doc-b", value=500, high=900, approx="range")])) == 1


def test_figures_for_different_days_are_not_a_conflict():
    assert run("figure-incompatible", [claim("doc-a", value=1500, time="2031-03-01"),
                                       claim("doc-b", value=3000, time="2031-03-20")]) == []


@pytest.mark.parametrize("times", [("2031-03", "2031-03-10"), ("2031-03-10", "2031-03-10"), ("PAST_REF", "2031-03-20"),
                                   (None, "2031-03-20")])
def test_figures_for_compatible_times_still_conflict(times):
    assert len(run("figure-incompatible", [claim("doc-a", value=1500, time=times[0]),
                                           claim("doc-b", value=3000, time=times[1])])) == 1


def test_figures_in_different_units_are_not_compared():
    assert run("figure-incompatible", [claim("doc-a", value=1500, unit=PERSON),
                                       claim("doc-b", value=3000, unit=KM)]) == []


def test_figures_of_one_document_are_not_compared():
    assert run("figure-incompatible", [claim("doc-a", "C1", value=1500), claim("doc-a", "C2", value=3000)]) == []


def test_figure_members_are_only_the_claims_in_a_conflicting_pair():
    found = run("figure-incompatible", [claim("doc-a", "C1", value=1500), claim("doc-b", "C2", value=1500),
                                        claim("doc-c", "C3", value=3000), claim("doc-d", "C4")])
    assert pairs(found) == [{("doc-a", "C1"), ("doc-b", "C2"), ("doc-c", "C3")}]


def test_one_figure_finding_per_unit_and_modality():
    found = run("figure-incompatible", [claim("doc-a", "C1", value=1), claim("doc-b", "C2", value=2),
                                        claim("doc-a", "C3", value=10, unit=KM), claim("doc-b", "C4", value=20, unit=KM)])
    assert sorted(map(sorted, pairs(found))) == [[("doc-a", "C1"), ("doc-b", "C2")], [("doc-a", "C3"), ("doc-b", "C4")]]


@pytest.mark.parametrize("approx,high,interval,text", [
    ("exact", None, (1500, 1500), "1500"), ("approximate", None, (2700, 3300), "~3000"),
    ("at_least", None, (1000, float("inf")), ">=1000"), ("at_most", None, (0, 12000), "<=12000"),
    ("range", 2000, (1000, 2000), "1000-2000")])
def test_figure_interval_and_rendering(approx, high, interval, text):
    value = {"exact": 1500, "approximate": 3000, "at_least": 1000, "at_most": 12000, "range": 1000}[approx]
    c = claim(value=value, approx=approx, high=high)
    assert figure_interval(c, INV) == pytest.approx(interval)
    assert figure_text(c, INV) == text


# --- polarity-opposite ---------------------------------------------------------------

def test_an_assertion_and_a_denial_by_different_sources_conflict():
    found = run("polarity-opposite", [claim("doc-a", "C1", factuality=FACT["hedged"], keys=["veltria"]),
                                      claim("doc-b", "C2", factuality=FACT["denied"], keys=["norland"])])
    assert len(found) == 1
    assert found[0].type == RULE_TYPES["polarity-opposite"]
    assert found[0].members == (Member("doc-a", "C1", "factuality", FACT["hedged"]),
                                Member("doc-b", "C2", "factuality", FACT["denied"]))


def test_polarity_compares_claims_of_one_document_by_source_name():
    found = run("polarity-opposite", [claim("doc-a", "C1", source="Veltrian officials"),
                                      claim("doc-a", "C2", factuality=FACT["denied"], source="Norland's ministry")])
    assert pairs(found) == [{("doc-a", "C1"), ("doc-a", "C2")}]


def test_an_uncommitted_claim_is_not_a_denial():
    assert run("polarity-opposite", [claim("doc-a", keys=["veltria"]),
                                     claim("doc-b", factuality=FACT["uncommitted"], keys=["norland"])]) == []


def test_a_source_contradicting_itself_is_not_compared():
    assert run("polarity-opposite", [claim("doc-a", keys=["veltria"]),
                                     claim("doc-b", factuality=FACT["denied"], keys=["veltria"])]) == []
    assert run("polarity-opposite", [claim("doc-a", source="officials"),
                                     claim("doc-b", factuality=FACT["denied"], keys=["norland"], source="officials")]) == []


# --- source-different -------------------------------------------------------------------

def test_disjoint_resolved_sources_of_different_documents_conflict():
    found = run("source-different", [claim("doc-a", "C1", keys=["veltria"], source="Veltria"),
                                     claim("doc-b", "C2", keys=["norland", "ostmark"])])
    assert len(found) == 1
    assert found[0].type == RULE_TYPES["source-different"]
    assert found[0].members == (Member("doc-a", "C1", "source", "Veltria"),
                                Member("doc-b", "C2", "source", "norland+ostmark"))


@pytest.mark.parametrize("a,b", [(["veltria"], None), (["veltria"], ["norland", "veltria"]), (None, None)])
def test_unresolved_or_shared_sources_do_not_conflict(a, b):
    assert run("source-different", [claim("doc-a", keys=a, source="x"), claim("doc-b", keys=b, source="y")]) == []


def test_sources_within_one_document_are_not_compared():
    assert run("source-different", [claim("doc-a", "C1", keys=["veltria"]), claim("doc-a", "C2", keys=["norland"])]) == []


# --- time-different -----------------------------------------------------------------------

def test_different_days_of_one_event_conflict():
    found = run("time-different", [claim("doc-a", "C1", time="2031-03-01"), claim("doc-b", "C2", time="2031-03-20")])
    assert len(found) == 1
    assert found[0].type == RULE_TYPES["time-different"]
    assert found[0].members == (Member("doc-a", "C1", "time", "2031-03-01"), Member("doc-b", "C2", "time", "2031-03-20"))
    assert "2031-03-01" in found[0].rationale and "2031-03-20" in found[0].rationale


@pytest.mark.parametrize("a,b", [("2031-03", "2031-03-10"), ("2031-W11", "2031-03-12"), ("2031-Q1", "2031-02"),
                                 ("FUTURE_REF", "2031-03-20"), ("P3D", "2031-03-20"), ("2031-03-01", None)])
def test_contained_or_vague_times_do_not_conflict(a, b):
    assert run("time-different", [claim("doc-a", time=a), claim("doc-b", time=b)]) == []


def test_times_of_different_modality_or_one_document_are_not_compared():
    assert run("time-different", [claim("doc-a", time="2031-03-01"),
                                  claim("doc-b", time="2031-03-20", modality=EXPECTED)]) == []
    assert run("time-different", [claim("doc-a", "C1", time="2031-03-01"), claim("doc-a", "C2", time="2031-03-20")]) == []


def test_times_compatible():
    assert times_compatible("2031", "2031-03-10T14:00") and times_compatible("2031-03-10T14", "2031-03-10T14:30")
    assert not times_compatible("2031-W11", "2031-03-20") and not times_compatible("2031-03-10T14", "2031-03-10T15")


# --- detect -----------------------------------------------------------------------------------

def corpus() -> list[dict]:
    """Two clusters across three documents, with one finding of every rule."""
    return [
        claim("doc-a", "C1", cluster="K1", value=1500, time="2031-03", keys=["veltria"], source="Veltria"),
        claim("doc-b", "C10", cluster="K1", value=3000, time="2031-03-10", keys=["norland"], source="Norland"),
        claim("doc-c", "C2", cluster="K1", factuality=FACT["denied"], keys=["ostmark"], source="Ostmark"),
        claim("doc-a", "C3", cluster="K2", time="2031-03-01"),
        claim("doc-b", "C4", cluster="K2", time="2031-03-20"),
        claim("doc-c", "C5", cluster=None, value=99, factuality=FACT["denied"]),
    ]


def test_detect_runs_every_rule_per_cluster_and_ignores_unclustered_claims():
    found = detect(corpus(), INV)
    assert [(f.cluster_id, f.rule) for f in found] == [
        ("K1", "figure-incompatible"), ("K1", "polarity-opposite"), ("K1", "source-different"), ("K2", "time-different")]
    assert pairs(found)[0] == {("doc-a", "C1"), ("doc-b", "C10")}
    assert all(("doc-c", "C5") not in p for p in pairs(found))


def test_detect_is_deterministic():
    expected = detect(corpus(), INV)
    for seed in range(5):
        shuffled = corpus()
        random.Random(seed).shuffle(shuffled)
        assert detect(shuffled, INV) == expected


def test_findings_are_sorted_by_cluster_number_whatever_the_document_order():
    found = detect([claim("doc-a", "C1", cluster="K10", value=1), claim("doc-b", "C2", cluster="K10", value=2),
                    claim("doc-a", "C3", cluster="K2", value=1), claim("doc-b", "C4", cluster="K2", value=2)], INV)
    assert [f.cluster_id for f in found] == ["K2", "K10"]


def test_members_are_sorted_by_document_and_claim_number():
    found = detect([claim("doc-b", "C2", value=1), claim("doc-a", "C10", value=2), claim("doc-a", "C9", value=3)], INV)
    assert [(m.document_id, m.claim_id) for m in found[0].members] == [("doc-a", "C9"), ("doc-a", "C10"), ("doc-b", "C2")]


# --- reconcile ---------------------------------------------------------------------------------

def entry(finding: Finding, origin=DETECTED, **changes) -> dict:
    row = {"conflict_id": "X1", "type": finding.type, "origin": origin, "rule": finding.rule,
           "status": INV.value_role("conflict_status", "kept"), "rationale": finding.rationale,
           "members": [{"document_id": m.document_id, "claim_id": m.claim_id, "attribute": m.attribute,
                        "value": m.value} for m in reversed(finding.members)]}
    return {**row, **changes}


def test_reconcile_returns_what_is_unmatched_both_ways():
    figure, polarity, source, time = detect(corpus(), INV)
    stale = entry(source, members=[{"document_id": "doc-a", "claim_id": "C1", "attribute": "source", "value": "V"}])
    dismissed = entry(time, status=INV.value_role("conflict_status", "dismissed"), rationale="reworded")
    annotated = entry(polarity, origin=ANNOTATED)
    new, gone = reconcile([figure, polarity, source, time], [entry(figure), stale, dismissed, annotated], INV)
    assert new == [polarity, source]
    assert gone == [stale]


def test_reconcile_matches_on_the_cluster_an_entry_names():
    (figure, *_) = detect(corpus(), INV)
    assert reconcile([figure], [entry(figure, cluster_id="K1")], INV) == ([], [])
    wrong = entry(figure, cluster_id="K2")
    assert reconcile([figure], [wrong], INV) == ([figure], [wrong])


def test_finding_key_is_rule_cluster_and_member_claims():
    (figure, *_) = detect(corpus(), INV)
    assert figure.key == ("figure-incompatible", "K1", frozenset({("doc-a", "C1"), ("doc-b", "C10")}))
