"""Agreement figures on small hand-checked examples."""
from pactnews.agreement import compare, disagreements
from pactnews.inventory import default_inventory


def ent(i, s, e, label, eid="x", text="t"):
    return {"id": i, "start": s, "end": e, "text": text, "label": label, "entity_id": eid}


def doc(**layers):
    base = {"entities": [], "timexes": [], "attributions": [], "claims": [], "relations": []}
    return base | layers


def claim(i, s, e, fact, src="author", cluster="c1"):
    return {"id": i, "start": s, "end": e, "text": "t", "label": "CLAIM", "source_type": src,
            "factuality": fact, "cluster_id": cluster, "quantity_value": None, "quantity_unit": None}


def test_span_f1_strict_and_overlap():
    a = {"d": doc(entities=[ent("E1", 0, 5, "GPE"), ent("E2", 10, 20, "ORG"), ent("E3", 30, 35, "PERSON")])}
    b = {"d": doc(entities=[ent("E1", 0, 5, "GPE"), ent("E2", 12, 20, "ORG"), ent("E3", 40, 45, "PERSON")])}
    r = compare(a, b, default_inventory())["layers"]["entities"]["spans"]
    # strict: 1 of 3 on each side; overlap: 2 of 3
    assert r["ALL"]["strict"]["f1"] == round(1 / 3, 4)
    assert r["ALL"]["overlap"]["f1"] == round(2 / 3, 4)
    assert r["GPE"]["strict"]["f1"] == 1.0
    assert r["ORG"]["strict"]["f1"] == 0.0 and r["ORG"]["overlap"]["f1"] == 1.0
    assert r["PERSON"]["overlap"]["f1"] == 0.0


def test_overlap_matching_is_one_to_one():
    a = {"d": doc(entities=[ent("E1", 0, 10, "ORG")])}
    b = {"d": doc(entities=[ent("E1", 0, 4, "ORG"), ent("E2", 5, 10, "ORG")])}
    r = compare(a, b, default_inventory())["layers"]["entities"]["spans"]["ALL"]["overlap"]
    assert r["matched"] == 1 and r["precision"] == 0.5 and r["recall"] == 1.0


def test_claim_kappa_and_cluster_pairs():
    a = {"d": doc(claims=[claim("C1", 0, 5, "asserted", cluster="x"), claim("C2", 6, 9, "hedged", cluster="x"),
                          claim("C3", 10, 12, "asserted", cluster="y"), claim("C4", 13, 15, "denied", cluster="z")])}
    b = {"d": doc(claims=[claim("C1", 0, 5, "asserted", cluster="p"), claim("C2", 6, 9, "asserted", cluster="p"),
                          claim("C3", 10, 12, "asserted", cluster="q"), claim("C4", 13, 15, "denied", cluster="q")])}
    c = compare(a, b, default_inventory())["layers"]["claims"]
    assert c["same_offsets"] == 4
    assert c["factuality_accuracy"] == 0.75
    assert 0 < c["factuality_kappa"] < 1
    # pairs: (1,2) same/same, (1,3) diff/diff, (1,4) diff/diff, (2,3) diff/diff, (2,4) diff/diff, (3,4) diff/same
    assert c["cluster_pairs"] == 6 and c["cluster_pair_agreement"] == round(5 / 6, 4)


def test_disagreements_name_each_difference():
    a = {"d": doc(entities=[ent("E1", 0, 5, "GPE", "seoul"), ent("E2", 10, 20, "ORG")])}
    b = {"d": doc(entities=[ent("E1", 0, 5, "GPE", "south-korea"), ent("E2", 12, 20, "ORG")])}
    kinds = sorted((x["kind"], x["start"]) for x in disagreements(a, b))
    assert kinds == [("attribute", 0), ("only_a", 10), ("only_b", 12)]
    attr = [x for x in disagreements(a, b) if x["kind"] == "attribute"][0]
    assert attr["differs"] == {"entity_id": ["seoul", "south-korea"]}
