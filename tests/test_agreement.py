"""Agreement between two passes, on tiny invented passes whose figures are known."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import krippendorff
import pytest
from sklearn.metrics import adjusted_rand_score, cohen_kappa_score, rand_score

from pactnews.annotations import standoff
from pactnews.annotations import tables
from pactnews.evaluation.agreement import bcubed, compare, threeway
from pactnews.cli import main
from pactnews.inventory import default_inventory

REPO = Path(__file__).resolve().parents[1]
INV = default_inventory(REPO)


# ------------------------------------------------------------------ invented passes


def doc(doc_id, **layers):
    return {"document_id": doc_id, "text_sha256": "0" * 64, "entities": [], "timexes": [], "attributions": [],
            "claims": [], "relations": []} | layers


def ent(i, s, e, label, eid, text="ent"):
    return {"id": i, "start": s, "end": e, "text": text, "label": label, "entity_id": eid}


def tx(i, s, e, label, value, mod=None, text="time"):
    return {"id": i, "start": s, "end": e, "text": text, "label": label, "value": value, "mod": mod}


def att(i, s, e, label, eid=None, text="said"):
    return {"id": i, "start": s, "end": e, "text": text, "label": label, "entity_id": eid}


def claim(i, s, e, cluster, fact="asserted", src="author", modality="actual", qv=None, unit=None, time_id=None,
          stance="none", text="claim"):
    return {"id": i, "start": s, "end": e, "text": text, "label": "CLAIM", "source_type": src, "factuality": fact,
            "author_stance": stance, "modality": modality, "cluster_id": cluster, "time_id": time_id,
            "quantity_value": qv, "quantity_high": None, "quantity_approximation": "exact" if qv is not None else None,
            "quantity_unit": unit, "quantity_surface_unit": None}


def rel(i, label, frm, to):
    return {"id": i, "label": label, "from_id": frm, "to_id": to}


def rich_pass() -> dict[str, dict]:
    """Two documents with every layer, several labels and values, clusters spanning documents."""
    d1 = doc("d1",
             entities=[ent("E1", 0, 6, "GPE", "russia", "Russia"), ent("E2", 10, 17, "PERSON", "putin", "Putin"),
                       ent("E3", 20, 31, "GPE", "north-korea", "North Korea"), ent("E4", 40, 42, "ORG", "un", "UN"),
                       ent("E5", 50, 56, "GPE", "russia", "Moscow")],
             timexes=[tx("T1", 60, 67, "DATE", "2024-06"), tx("T2", 70, 79, "DURATION", "P3D", "APPROX")],
             attributions=[att("A1", 80, 84, "CUE", text="said"), att("A2", 85, 94, "SOURCE", "un", "officials"),
                           att("A3", 95, 102, "CUE", text="claimed")],
             claims=[claim("C1", 100, 140, "k1", "asserted", "entity", time_id="T1", text="troops arrived"),
                     claim("C2", 150, 190, "k2", "hedged", "unnamed", qv=10000, unit="person", text="10,000 troops"),
                     claim("C3", 200, 240, "k3", "denied", "entity", modality="expected", text="no deal")],
             relations=[rel("R1", "claim_source", "C1", "E2"), rel("R2", "claim_cue", "C1", "A1"),
                        rel("R3", "claim_source", "C2", "A2"), rel("R4", "claim_source", "C3", "E4"),
                        rel("R5", "claim_source", "C3", "E1"), rel("R6", "claim_cue", "C3", "A3")])
    d2 = doc("d2",
             entities=[ent("E1", 0, 5, "NORP", "russian", "Russian"), ent("E2", 10, 16, "GPE", "russia", "Russia"),
                       ent("E3", 20, 22, "ORG", "un", "UN")],
             timexes=[tx("T1", 30, 35, "DATE", "2024"), tx("T2", 40, 47, "DATE", "PAST_REF")],
             claims=[claim("C1", 100, 130, "k1", "asserted", "author", text="troops arrived"),
                     claim("C2", 140, 170, "k2", "hedged", "entity", qv=12000, unit="person", text="12,000 troops"),
                     claim("C3", 180, 200, "k3", "asserted", "author", modality="expected", text="a deal"),
                     claim("C4", 210, 230, "k4", "uncommitted", "entity", qv=5, unit="day", text="five days")],
             relations=[rel("R1", "claim_source", "C2", "E2"), rel("R2", "claim_source", "C4", "E3")])
    return {"d1": d1, "d2": d2}


def flat(obj, prefix=""):
    """Every number, string and null of a report by its path."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out |= flat(v, f"{prefix}/{k}")
        return out
    if isinstance(obj, list):
        return {prefix: json.dumps(obj)}
    return {prefix: obj}


def changed(base: dict, other: dict) -> set[str]:
    fa, fb = flat(base), flat(other)
    return {k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)}


@pytest.fixture()
def base():
    a = rich_pass()
    return a, compare(a, copy.deepcopy(a), INV)


# ------------------------------------------------------------------ identical passes


def test_identical_passes_give_f1_one_and_alpha_one_where_defined(base):
    _, r = base
    for layer, labels in r["spans"].items():
        assert labels["ALL"]["strict"]["a"] > 0, layer
        for label, m in labels.items():
            for mode in ("strict", "overlap"):
                assert m[mode]["f1"] == 1.0 and m[mode]["matched"] == m[mode]["a"] == m[mode]["b"], (layer, label)
    defined = 0
    for layer, tables_ in r["attributes"].items():
        for fig in (f for t in tables_.values() for f in t["attributes"].values()):
            assert fig["observed"] == 1.0
            if fig["alpha"] is not None:
                defined += 1
                assert fig["alpha"] == pytest.approx(1.0) and fig["kappa"] == pytest.approx(1.0)
            else:
                assert fig["note"]
    assert defined >= 8  # entity, timex and attribution labels, timex values, factuality, source_type, ...
    assert r["attributes"]["claims"]["offsets"]["attributes"]["factuality"]["alpha"] == pytest.approx(1.0)
    assert r["attributes"]["claims"]["offsets"]["attributes"]["quantity_value"]["alpha_items"] == 3
    for name, c in r["clusterings"].items():
        assert c["adjusted_rand"] == pytest.approx(1.0) and c["bcubed"]["f1"] == pytest.approx(1.0), name
    assert r["clusterings"]["claim_clusters"]["items"] == 7
    assert r["clusterings"]["entity_ids"]["items"] == 8
    assert r["clusterings"]["entity_ids"]["clusters_a"] == 5  # russia, putin, north-korea, un, russian
    assert r["attributes"]["attributions"]["offsets"]["attributes"]["entity_id"]["items"] == 1  # SOURCE only
    assert r["attributes"]["attributions"]["offsets"]["attributes"]["label"]["items"] == 3


# ------------------------------------------------------------------ one perturbation, one figure


def test_one_label_changed_lowers_label_agreement_only(base):
    a, r0 = base
    b = copy.deepcopy(a)
    b["d1"]["entities"][3]["label"] = "NORP"  # UN: ORG -> NORP
    r = compare(a, b, INV)
    allowed = ("/spans/entities/", "/attributes/entities/offsets/attributes/label/", "/clusterings/entity_ids/")
    diff = changed(r0, r)
    assert diff and all(p.startswith(allowed) for p in diff), sorted(diff)
    fig = r["attributes"]["entities"]["offsets"]["attributes"]["label"]
    # the same lists, computed directly with the libraries
    xs = [e["label"] for d in ("d1", "d2") for e in a[d]["entities"]]
    ys = [e["label"] for d in ("d1", "d2") for e in b[d]["entities"]]
    codes = {v: k for k, v in enumerate(sorted(set(xs) | set(ys)))}
    expected_alpha = krippendorff.alpha(reliability_data=[[codes[v] for v in xs], [codes[v] for v in ys]],
                                        level_of_measurement="nominal")
    assert fig["items"] == 8 and fig["observed"] == 7 / 8
    assert fig["alpha"] == pytest.approx(float(expected_alpha), abs=1e-12) and fig["alpha"] < 1
    assert fig["kappa"] == pytest.approx(cohen_kappa_score(xs, ys), abs=1e-12) and fig["kappa"] < 1
    assert r["spans"]["entities"]["ALL"]["strict"]["matched"] == 7
    assert r["spans"]["entities"]["ORG"]["strict"]["f1"] == pytest.approx(2 * 1 / 3)  # A has 2 ORG, B 1, 1 matched
    assert r["attributes"]["entities"]["offsets"]["attributes"]["entity_id"]["observed"] == 1.0
    assert r["clusterings"]["entity_ids"]["items"] == 7  # strict matching needs the same label


def test_one_claim_moved_to_another_cluster(base):
    a, r0 = base
    b = copy.deepcopy(a)
    b["d2"]["claims"][2]["cluster_id"] = "k1"  # d2 C3: k3 -> k1
    r = compare(a, b, INV)
    allowed = ("/clusterings/claim_clusters/", "/attributes/claims/offsets/attributes/cluster_id/observed",
               "/attributes/claims/overlap/attributes/cluster_id/observed")
    diff = changed(r0, r)
    assert diff and all(p.startswith(allowed) for p in diff), sorted(diff)
    ref = ["k1", "k2", "k3", "k1", "k2", "k3", "k4"]  # d1 C1-C3, d2 C1-C4
    moved = ["k1", "k2", "k3", "k1", "k2", "k1", "k4"]
    c = r["clusterings"]["claim_clusters"]
    assert c["items"] == 7 and c["clusters_a"] == 4 and c["clusters_b"] == 4
    assert c["adjusted_rand"] == pytest.approx(adjusted_rand_score(ref, moved), abs=1e-12) and c["adjusted_rand"] < 1
    assert c["rand_unadjusted"] == pytest.approx(rand_score(ref, moved), abs=1e-12)
    # B-cubed by hand. A: k1={1,4} k2={2,5} k3={3,6} k4={7}; B: k1={1,4,6} k2={2,5} k3={3} k4={7}.
    # precision per item (|B∩A| / |B|): 2/3, 1, 1, 2/3, 1, 1/3, 1 -> 17/3 / 7
    # recall per item (|B∩A| / |A|):    1, 1, 1/2, 1, 1, 1/2, 1   -> 6 / 7
    p, rc = 17 / 21, 6 / 7
    assert c["bcubed"]["precision"] == pytest.approx(p)
    assert c["bcubed"]["recall"] == pytest.approx(rc)
    assert c["bcubed"]["f1"] == pytest.approx(2 * p * rc / (p + rc))
    assert r["attributes"]["claims"]["offsets"]["attributes"]["cluster_id"]["observed"] == pytest.approx(6 / 7)


def test_cluster_ids_are_partitions_not_labels(base):
    a, _ = base
    b = copy.deepcopy(a)
    for d in b.values():
        for c in d["claims"]:
            c["cluster_id"] = "other-" + c["cluster_id"]
    r = compare(a, b, INV)
    fig = r["attributes"]["claims"]["offsets"]["attributes"]["cluster_id"]
    assert fig["measure"] == "identity" and fig["alpha"] is None and fig["kappa"] is None and fig["observed"] == 0.0
    assert r["clusterings"]["claim_clusters"]["adjusted_rand"] == pytest.approx(1.0)


def test_bcubed_by_hand():
    assert bcubed(["x", "x", "y"], ["p", "q", "q"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert bcubed(["x", "x"], ["p", "p"]) == pytest.approx((1, 1, 1))


# ------------------------------------------------------------------ undefined figures


def test_undefined_alpha_is_null_with_a_note(base):
    _, r = base
    label = r["attributes"]["claims"]["offsets"]["attributes"]["label"]  # every claim is CLAIM
    assert label["alpha"] is None and label["kappa"] is None and label["observed"] == 1.0
    assert "undefined" in label["note"] and label["items"] == 7
    stance = r["attributes"]["claims"]["offsets"]["attributes"]["author_stance"]  # "none" throughout
    assert stance["alpha"] is None and "undefined" in stance["note"]


def test_undefined_interval_alpha_and_trivial_partitions():
    a = {"d": doc("d", claims=[claim("C1", 0, 5, "k1", qv=3, unit="day"), claim("C2", 10, 15, "k2", qv=3, unit="day")])}
    r = compare(a, copy.deepcopy(a), INV)
    qv = r["attributes"]["claims"]["offsets"]["attributes"]["quantity_value"]
    assert qv["measure"] == "interval" and qv["alpha"] is None and qv["alpha_items"] == 2 and "undefined" in qv["note"]
    c = r["clusterings"]["claim_clusters"]
    assert c["adjusted_rand"] is None and "all singletons" in c["note"] and c["bcubed"]["f1"] == 1.0
    empty = r["attributes"]["timexes"]["offsets"]["attributes"]["value"]
    assert empty["items"] == 0 and empty["alpha"] is None and empty["note"] == "no matched items"


def test_interval_alpha_on_figures():
    a = {"d": doc("d", claims=[claim("C1", 0, 5, "k1", qv=10), claim("C2", 10, 15, "k2", qv=20),
                               claim("C3", 20, 25, "k3", qv=30), claim("C4", 30, 35, "k4")])}
    b = copy.deepcopy(a)
    b["d"]["claims"][2]["quantity_value"] = 35
    b["d"]["claims"][3]["quantity_value"] = 7  # a figure against none: not in the interval alpha
    fig = compare(a, b, INV)["attributes"]["claims"]["offsets"]["attributes"]["quantity_value"]
    expected = krippendorff.alpha(reliability_data=[[10, 20, 30], [10, 20, 35]], level_of_measurement="interval")
    assert fig["alpha_items"] == 3 and fig["items"] == 4
    assert fig["alpha"] == pytest.approx(float(expected), abs=1e-12)
    assert fig["observed"] == 0.5


def test_claim_relations_are_attributes():
    a = rich_pass()
    b = copy.deepcopy(a)
    b["d1"]["relations"][0]["to_id"] = "E1"  # C1's source: Putin -> Russia
    r = compare(a, b, INV)
    src = r["attributes"]["claims"]["offsets"]["attributes"]["sources"]
    assert src["items"] == 7 and src["observed"] == pytest.approx(6 / 7) and src["alpha"] < 1
    assert r["attributes"]["claims"]["offsets"]["attributes"]["cue"]["observed"] == 1.0


def test_overlap_matching_for_claims_and_span_f1():
    a = {"d": doc("d", claims=[claim("C1", 0, 20, "k1", "asserted"), claim("C2", 30, 40, "k2", "hedged")],
                  entities=[ent("E1", 0, 10, "ORG", "x"), ent("E2", 20, 30, "PERSON", "y")])}
    b = {"d": doc("d", claims=[claim("C7", 2, 20, "k1", "asserted"), claim("C8", 30, 40, "k2", "hedged")],
                  entities=[ent("E1", 0, 4, "ORG", "x"), ent("E2", 5, 10, "ORG", "x"), ent("E3", 20, 28, "GPE", "y")])}
    r = compare(a, b, INV)
    assert r["spans"]["claims"]["ALL"]["strict"]["f1"] == 0.5 and r["spans"]["claims"]["ALL"]["overlap"]["f1"] == 1.0
    assert r["attributes"]["claims"]["offsets"]["items"] == 1 and r["attributes"]["claims"]["overlap"]["items"] == 2
    ov = r["spans"]["entities"]["ALL"]["overlap"]  # one-to-one: one of B's two halves is left over; PERSON != GPE
    assert ov["matched"] == 1 and ov["precision"] == pytest.approx(1 / 3) and ov["recall"] == 0.5
    assert r["spans"]["entities"]["ORG"]["overlap"]["f1"] == pytest.approx(2 / 3)


def test_two_claims_on_one_span_pair_with_their_counterparts():
    two = [claim("C1", 0, 10, "k1", "asserted"), claim("C2", 0, 10, "k2", "hedged")]
    a = {"d": doc("d", claims=copy.deepcopy(two))}
    b = {"d": doc("d", claims=copy.deepcopy(two[::-1]))}
    for mode in ("offsets", "overlap"):
        figs = compare(a, b, INV)["attributes"]["claims"][mode]["attributes"]
        assert figs["factuality"]["items"] == 2 and figs["factuality"]["observed"] == 1.0, mode


# ------------------------------------------------------------------ conflicts


def conflict(cid, ctype, members, status="kept"):
    return {"conflict_id": cid, "type": ctype, "origin": "annotated", "rule": None, "status": status,
            "members": [{"document_id": d, "claim_id": c, "attribute": "quantity_value", "value": None}
                        for d, c in members], "rationale": "r"}


def test_conflicts_strict_and_lenient():
    a = rich_pass()
    b = copy.deepcopy(a)
    for d in b.values():  # B's claims have other ids and slightly other offsets
        for c in d["claims"]:
            c["id"] = c["id"].replace("C", "C9")
            c["start"] += 1
        for r_ in d["relations"]:
            r_["from_id"] = r_["from_id"].replace("C", "C9")
    a_conf = [conflict("X1", "figure", [("d1", "C2"), ("d2", "C2")]),
              conflict("X2", "polarity", [("d1", "C3"), ("d2", "C3"), ("d2", "C4")]),
              conflict("X3", "time", [("d1", "C1"), ("d2", "C1")])]
    b_conf = [conflict("X1", "figure", [("d1", "C92"), ("d2", "C92")]),          # strict match of A's X1
              conflict("X2", "characterisation", [("d1", "C93"), ("d2", "C93"), ("d2", "C94")]),  # A's X2, other type
              conflict("X3", "time", [("d1", "C91"), ("d2", "C99")]),            # 1 shared with A's X3; C99 maps to nothing
              conflict("X4", "figure", [("d1", "C91"), ("d2", "C91")], status="dismissed")]
    c = compare(a, b, INV, a_conf, b_conf)["conflicts"]
    assert (c["a"], c["b"], c["dismissed_left_out"], c["unmapped_members_b"]) == (3, 3, {"a": 0, "b": 1}, 1)
    assert c["strict"]["matched"] == 1 and c["strict"]["pairs"] == [["X1", "X1"]]
    assert c["strict"]["precision"] == pytest.approx(1 / 3) and c["strict"]["recall"] == pytest.approx(1 / 3)
    assert c["lenient"]["matched"] == 2 and c["lenient"]["pairs"] == [["X1", "X1"], ["X2", "X2"]]
    assert c["lenient"]["precision"] == pytest.approx(2 / 3) and c["lenient"]["recall"] == pytest.approx(2 / 3)
    assert c["lenient"]["f1"] == pytest.approx(2 / 3)
    assert c["lenient"]["type_agreement"] == {"items": 2, "same_type": 1, "observed": 0.5}
    b_conf[1]["members"].pop()  # two of A's X2's three members: still a lenient match
    c = compare(a, b, INV, a_conf, b_conf)["conflicts"]
    assert c["strict"]["matched"] == 1 and c["lenient"]["pairs"] == [["X1", "X1"], ["X2", "X2"]]
    assert compare(a, b, INV)["conflicts"]["strict"] is None  # no tables: said, not guessed


# ------------------------------------------------------------------ three-way


def test_threeway_statuses():
    def p(eids):
        return {"d": doc("d", entities=[ent(f"E{k}", 10 * k, 10 * k + 5, "GPE", e) for k, e in eids if e is not None])}
    #            span: 0    1    2    3    4    5    6    7    8
    A = p(enumerate(["x", "x", "x", "a", "a", "x", "x", "x", "a"]))
    B = p(enumerate(["x", "x", "b", "x", "b", None, "x", None, "b"]))
    G = p(enumerate(["x", "g", "x", "x", "g", None, None, "x", None]))
    items = threeway({"A": A, "B": B, "G": G}, INV)
    assert [i["start"] for i in items] == [0, 10, 20, 30, 40, 50, 60, 70, 80]
    assert [i["status"] for i in items] == ["A=B=G", "A=B≠G", "A=G≠B", "B=G≠A", "A≠B≠G", "only A", "A=B only",
                                            "A=G only", "A≠B only"]
    assert items[1]["differs"] == ["entity_id"] and items[0]["differs"] == []
    assert items[5]["sources"] == {"A": {"entity_id": "x"}, "B": None, "G": None}
    assert items[1]["ids"] == {"A": "E1", "B": "E1", "G": "E1"}


def test_threeway_claim_relations_labels_and_order():
    A = rich_pass()
    B = copy.deepcopy(A)
    G = copy.deepcopy(A)
    B["d1"]["relations"][0]["to_id"] = "E1"       # C1's source in B: Russia, not Putin
    G["d1"]["entities"][1]["label"] = "ORG"       # Putin as ORG in the gold: another span key
    items = threeway({"A": A, "B": B, "G": G}, INV)
    keys = [(i["document_id"], ["entities", "timexes", "attributions", "claims"].index(i["layer"]), i["start"], i["end"])
            for i in items]
    assert keys == sorted(keys)
    c1 = next(i for i in items if i["layer"] == "claims" and i["document_id"] == "d1" and i["start"] == 100)
    assert c1["status"] == "A=G≠B" and c1["differs"] == ["sources"]
    assert c1["sources"]["A"]["sources"] == ["Putin"] and c1["sources"]["B"]["sources"] == ["Russia"]
    assert c1["sources"]["A"]["cue"] == "said" and c1["sources"]["A"]["time_id"] == "60:67 time"
    putin = [i for i in items if i["layer"] == "entities" and i["start"] == 10 and i["document_id"] == "d1"]
    assert [(i["label"], i["status"]) for i in putin] == [("ORG", "only G"), ("PERSON", "A=B only")]
    assert sum(i["status"] != "A=B=G" for i in items) == 3


def test_threeway_pairs_two_claims_on_one_span():
    two = [claim("C1", 0, 10, "k1", "asserted"), claim("C2", 0, 10, "k2", "hedged")]
    A = {"d": doc("d", claims=copy.deepcopy(two))}
    B = {"d": doc("d", claims=copy.deepcopy(two[::-1]))}
    B["d"]["claims"][0]["id"], B["d"]["claims"][1]["id"] = "C5", "C6"
    items = threeway({"A": A, "B": B}, INV)
    assert [i["status"] for i in items] == ["A=B", "A=B"]
    assert sorted((i["ids"]["A"], i["ids"]["B"]) for i in items) == [("C1", "C6"), ("C2", "C5")]
    # no order of the records pairs these: the most alike are paired (C1 with C7 differ only in author_stance)
    A = {"d": doc("d", claims=[claim("C1", 0, 10, "k9", "asserted"), claim("C2", 0, 10, "k1", "hedged")])}
    B = {"d": doc("d", claims=[claim("C7", 0, 10, "k9", "asserted", stance="distanced"),
                               claim("C8", 0, 10, "k1", "hedged")])}
    items = threeway({"A": A, "B": B}, INV)
    assert sorted((i["ids"]["A"], i["ids"]["B"], i["status"], tuple(i["differs"])) for i in items) == [
        ("C1", "C7", "A≠B", ("author_stance",)), ("C2", "C8", "A=B", ())]


# ------------------------------------------------------------------ command line


def write_pass(folder: Path, docs: dict, conflicts: list | None = None) -> Path:
    folder.mkdir(parents=True)
    for d, body in docs.items():
        (folder / f"{d}.json").write_text(standoff.dumps(body), encoding="utf-8")
    if conflicts is not None:
        (folder / "tables").mkdir()
        (folder / "tables" / "conflicts.json").write_text(tables.dumps_conflicts(conflicts), encoding="utf-8")
    return folder


def test_cli_writes_the_reports(tmp_path, capsys):
    a = rich_pass()
    b = copy.deepcopy(a)
    b["d1"]["claims"][0]["factuality"] = "hedged"
    conf = [conflict("X1", "figure", [("d1", "C2"), ("d2", "C2")])]
    pa, pb = write_pass(tmp_path / "A", a, conf), write_pass(tmp_path / "B", b, conf)
    pg = write_pass(tmp_path / "G", a)
    out = tmp_path / "reports"
    rc = main(["--root", str(REPO), "agreement", str(pa), str(pb), "--gold", str(pg), "--out", str(out)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert sorted(p.name for p in out.iterdir()) == ["agreement.json", "agreement.md", "threeway.json", "threeway.md"]
    lines = printed.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Wrote") and "threeway.md" in lines[0]
    report = json.loads((out / "agreement.json").read_text())
    assert report["conflicts"]["strict"]["f1"] == 1.0
    assert report["attributes"]["claims"]["offsets"]["attributes"]["factuality"]["observed"] == pytest.approx(6 / 7)
    md = (out / "agreement.md").read_text()
    assert "Krippendorff" in md and "| claims | CLAIM | 7 | 7 |" in md and "adjusted Rand" in md
    tw = json.loads((out / "threeway.json").read_text())
    assert [i["status"] for i in tw["items"] if i["status"] != "A=B=G"] == ["A=G≠B"]
    assert "A=G≠B" in (out / "threeway.md").read_text()


def test_cli_refuses_a_missing_folder_in_one_line(tmp_path, capsys):
    pa = write_pass(tmp_path / "A", rich_pass())
    out = tmp_path / "reports"
    rc = main(["--root", str(REPO), "agreement", str(pa), str(tmp_path / "nope"), "--out", str(out)])
    printed = capsys.readouterr()
    assert rc == 1 and not out.exists() and printed.out == ""
    assert len(printed.err.strip().splitlines()) == 1 and "nope" in printed.err and "Traceback" not in printed.err


def test_cli_refuses_an_unreadable_file_in_one_line(tmp_path, capsys):
    pa = write_pass(tmp_path / "A", rich_pass())
    pb = write_pass(tmp_path / "B", rich_pass())
    (pb / "d2.json").write_text('{"format": "pactnews-standoff", ', encoding="utf-8")
    rc = main(["--root", str(REPO), "agreement", str(pa), str(pb), "--out", str(tmp_path / "reports")])
    printed = capsys.readouterr()
    assert rc == 1 and not (tmp_path / "reports").exists()
    assert len(printed.err.strip().splitlines()) == 1 and "d2.json" in printed.err
