"""Agreement between two independent annotation passes, and the three-way view for adjudication.

Pass A is the reference for precision and recall (F1 is symmetric). Every
figure carries the number of items it rests on; a chance-corrected figure
that is undefined (a single value on both sides, no items) is null with a
`note` saying why, never 1.0.

- spans: F1 per layer and label, strict (same start, end and label) and
  overlap (one-to-one greedy matching of overlapping same-label spans).
- attributes: on spans matched by their offsets (claims also by overlap),
  Krippendorff's alpha (`krippendorff`; nominal, interval for the figures of
  numeric claims), Cohen's kappa (scikit-learn) and observed agreement per
  attribute, with the claim relations as attributes (source texts, cue text).
  Cross-document ids (entity_id, cluster_id) are not nominal labels: observed
  agreement only, and
- clusterings: entity ids over entity mentions matched strictly, claim
  clusters over claims matched by overlap: adjusted Rand index, B-cubed, and
  the unadjusted Rand index (the "pairwise co-clustering agreement" of 0.1.0).
- conflicts: B's conflicts mapped onto A's claims through the claim overlap
  matching; strict (same member set and type) and lenient (two shared members).
- threeway(): one row per distinct span of A, B and the gold, with the sources
  that agree on it, for the adjudicator's worklist.

`pactnews agreement A_DIR B_DIR [--gold DIR] [--out DIR]` writes agreement.json
and agreement.md (and threeway.json, threeway.md with --gold).
"""
from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.annotations.tables import read_conflicts
from pactnews.inventory import default_inventory
from pactnews.repo import Layout
from pactnews.files import dump_json

SPAN_LAYERS = standoff.SPAN_LAYERS
REPORT_FORMAT = "pactnews-agreement"
REPORT_VERSION = 2
THREEWAY_FORMAT = "pactnews-threeway"

# Cross-document identifiers: their values are names of clusters, not categories.
ID_ATTRIBUTES = ("entity_id", "cluster_id")
# Figures compared on an interval scale (Krippendorff's alpha), besides their exact-match kappa.
NUMERIC_ATTRIBUTES = ("quantity_value", "quantity_high")
# Claim attributes derived from the relations (claim_source, claim_cue).
SOURCES, CUE = "sources", "cue"

MEASURES = {
    "span_f1": "Span F1: pass A is the reference; precision = matched / B's spans, recall = matched / A's spans. "
               "Strict: same start, end and label. Overlap: spans of the same label that share at least one "
               "character, paired one-to-one, largest overlap first.",
    "krippendorff_alpha": "Krippendorff's alpha (package `krippendorff`) on the pairs of spans matched by offsets: "
                          "1 - observed / expected disagreement; nominal for categories (null counts as a value of "
                          "its own), interval for quantity_value and quantity_high on the pairs where both passes give a "
                          "figure (alpha_items). Null with a note when undefined (one value only on both sides).",
    "cohen_kappa": "Cohen's kappa (scikit-learn cohen_kappa_score) on the same pairs, values compared exactly; "
                   "null with a note when undefined.",
    "observed": "Observed agreement: the share of matched pairs on which both passes give the same value.",
    "ids": "entity_id and cluster_id are cross-document identifiers, not labels: only their observed agreement is "
           "given with the attributes (meaningful only when both passes share the id names); they are measured as "
           "clusterings.",
    "adjusted_rand": "Adjusted Rand index (scikit-learn adjusted_rand_score) between the two partitions of the matched "
                     "items: 0 for chance, 1 for identical partitions; null when both partitions are trivial in the same "
                     "way (all singletons or one cluster), where it is 0/0.",
    "bcubed": "B-cubed with A as reference: for each item, precision = |its B cluster ∩ its A cluster| / |its B cluster|, "
              "recall = the same over |its A cluster|, averaged over items; F1 their harmonic mean.",
    "rand_unadjusted": "Unadjusted Rand index (scikit-learn rand_score): the share of item pairs both partitions treat "
                       "alike (together or apart), the 'cluster pairwise agreement' of release 0.1.0; high by chance "
                       "when most pairs are apart.",
    "conflicts": "B's conflict members are mapped to A's claims through the claim overlap matching. Strict: the mapped "
                 "member set equals an A conflict's member set and the type is the same. Lenient: at least two mapped "
                 "members shared (one-to-one, most shared first); type agreement among lenient matches is reported "
                 "separately. Dismissed conflicts are left out.",
}


class AgreementError(Exception):
    """A problem with the inputs, told in one line."""


# ------------------------------------------------------------------ values of spans


def _key(value) -> str:
    """A value as a comparable, hashable string (null, lists and numbers included)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _targets(doc: dict) -> dict[str, dict]:
    return {s["id"]: s for layer in ("entities", "attributions") for s in doc.get(layer, [])}


def span_views(doc: dict, layer: str, inv) -> list[dict]:
    """Each span's label and attributes as compared: for claims, time_id as the offsets and text of
    its time expression and the relations as `sources` (sorted source texts) and `cue` (cue text)."""
    attrs = inv.attributes(layer)
    out = []
    if layer == "claims":
        timexes = {t["id"]: t for t in doc.get("timexes", [])}
        targets = _targets(doc)
        src_rel, cue_rel = inv.role("source_relation"), inv.role("cue_relation")
        sources: dict[str, list[str]] = {}
        cues: dict[str, list[str]] = {}
        for r in doc.get("relations", []):
            text = targets[r["to_id"]]["text"] if r["to_id"] in targets else f"?{r['to_id']}"
            if r["label"] == src_rel:
                sources.setdefault(r["from_id"], []).append(text)
            elif r["label"] == cue_rel:
                cues.setdefault(r["from_id"], []).append(text)
    for s in doc.get(layer, []):
        view = {"label": s["label"], **{a: s.get(a) for a in attrs}}
        if layer == "claims":
            tid = s.get("time_id")
            if tid is not None:
                t = timexes.get(tid)
                view["time_id"] = f"{t['start']}:{t['end']} {t['text']}" if t else f"?{tid}"
            view[SOURCES] = sorted(sources.get(s["id"], [])) or None
            cue = sorted(cues.get(s["id"], []))
            view[CUE] = " | ".join(cue) if cue else None
        out.append(view)
    return out


def compared_attributes(layer: str, inv) -> list[str]:
    return ["label", *inv.attributes(layer), *([SOURCES, CUE] if layer == "claims" else [])]


def _similarity(va: dict, vb: dict) -> int:
    return sum(va.get(k) == vb.get(k) for k in va)


# ------------------------------------------------------------------ matching


def match(a: list[dict], b: list[dict], mode: str, va: list[dict] | None = None, vb: list[dict] | None = None):
    """One-to-one pairs (i, j) of spans of a and b.

    strict: same start, end and label; offsets: same start and end; overlap: same label and at
    least one shared character. Greedy: largest overlap first, then the pair with most equal
    attributes (`va`, `vb`: the span views), then document order.
    """
    cands = []
    if mode in ("strict", "offsets"):
        def key(s):
            return (s["start"], s["end"], s["label"]) if mode == "strict" else (s["start"], s["end"])
        index: dict = {}
        for j, y in enumerate(b):
            index.setdefault(key(y), []).append(j)
        for i, x in enumerate(a):
            for j in index.get(key(x), ()):
                sim = _similarity(va[i], vb[j]) if va is not None else 0
                cands.append((0, -sim, i, j))
    elif mode == "overlap":
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                if x["label"] == y["label"]:
                    ov = min(x["end"], y["end"]) - max(x["start"], y["start"])
                    if ov > 0:
                        sim = _similarity(va[i], vb[j]) if va is not None else 0
                        cands.append((-ov, -sim, i, j))
    else:
        raise ValueError(f"unknown matching mode {mode!r}")
    cands.sort()
    used_a, used_b, pairs = set(), set(), []
    for *_, i, j in cands:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def _matched(a_docs, b_docs, docs, layer, mode, inv):
    """[(document_id, span a, view a, span b, view b)] over the documents."""
    out = []
    for d in docs:
        a, b = a_docs[d].get(layer, []), b_docs[d].get(layer, [])
        va, vb = span_views(a_docs[d], layer, inv), span_views(b_docs[d], layer, inv)
        for i, j in match(a, b, mode, va, vb):
            out.append((d, a[i], va[i], b[j], vb[j]))
    return out


# ------------------------------------------------------------------ span F1


def _prf(matched: int, n_a: int, n_b: int) -> dict:
    p = matched / n_b if n_b else None
    r = matched / n_a if n_a else None
    f = (2 * matched / (n_a + n_b)) if n_a + n_b else None
    return {"a": n_a, "b": n_b, "matched": matched, "precision": p, "recall": r, "f1": f}


def span_f1(a_docs, b_docs, docs, layer, inv) -> dict:
    counts = {m: Counter() for m in ("a", "b", "strict", "overlap")}
    for d in docs:
        a, b = a_docs[d].get(layer, []), b_docs[d].get(layer, [])
        counts["a"].update(s["label"] for s in a)
        counts["b"].update(s["label"] for s in b)
        for mode in ("strict", "overlap"):
            counts[mode].update(a[i]["label"] for i, _ in match(a, b, mode))
    labels = inv.labels(layer)
    labels += sorted((set(counts["a"]) | set(counts["b"])) - set(labels))
    out = {"ALL": {m: _prf(sum(counts[m].values()), sum(counts["a"].values()), sum(counts["b"].values()))
                   for m in ("strict", "overlap")}}
    for label in labels:
        if counts["a"][label] or counts["b"][label]:
            out[label] = {m: _prf(counts[m][label], counts["a"][label], counts["b"][label]) for m in ("strict", "overlap")}
    return out


# ------------------------------------------------------------------ attribute agreement


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def nominal_figures(xs: list, ys: list) -> dict:
    """alpha (nominal), kappa and observed agreement of two parallel lists of values."""
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    n = len(xs)
    out = {"items": n, "alpha": None, "kappa": None, "observed": None, "values": 0, "note": None}
    if n == 0:
        out["note"] = "no matched items"
        return out
    kx, ky = [_key(v) for v in xs], [_key(v) for v in ys]
    out["observed"] = sum(p == q for p, q in zip(kx, ky)) / n
    distinct = sorted(set(kx) | set(ky))
    out["values"] = len(distinct)
    if len(distinct) < 2:
        out["note"] = (f"undefined: all {n} items have the value {distinct[0]} in both passes, so agreement "
                       f"expected by chance is total (observed agreement {out['observed']:g})")
        return out
    code = {v: i for i, v in enumerate(distinct)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alpha = float(krippendorff.alpha(reliability_data=[[code[v] for v in kx], [code[v] for v in ky]],
                                         level_of_measurement="nominal"))
        kappa = float(cohen_kappa_score(kx, ky))
    out["alpha"] = None if _nan(alpha) else alpha
    out["kappa"] = None if _nan(kappa) else kappa
    if out["alpha"] is None or out["kappa"] is None:
        out["note"] = "undefined: expected disagreement is zero"
    return out


def _number(v):
    if v is None or isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def interval_alpha(xs: list, ys: list) -> tuple[float | None, int, str | None]:
    """Krippendorff's alpha (interval) over the pairs where both values are numbers: (alpha, items, note)."""
    import krippendorff

    pairs = [(p, q) for p, q in zip(map(_number, xs), map(_number, ys)) if p is not None and q is not None]
    if not pairs:
        return None, 0, "no pair with a figure in both passes"
    if len({v for pq in pairs for v in pq}) < 2:
        return None, len(pairs), (f"undefined: all {len(pairs)} pairs with a figure in both passes give "
                                  f"{pairs[0][0]:g}, so agreement expected by chance is total")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alpha = float(krippendorff.alpha(reliability_data=[[p for p, _ in pairs], [q for _, q in pairs]],
                                         level_of_measurement="interval"))
    return (None, len(pairs), "undefined: expected disagreement is zero") if _nan(alpha) else (alpha, len(pairs), None)


def attribute_figures(attr: str, xs: list, ys: list) -> dict:
    """The figures of one attribute over matched pairs (xs from A, ys from B)."""
    if attr in ID_ATTRIBUTES:
        n = len(xs)
        return {"items": n, "measure": "identity", "observed": (sum(_key(p) == _key(q) for p, q in zip(xs, ys)) / n
                                                                if n else None),
                "alpha": None, "kappa": None, "non_null_items": sum(p is not None or q is not None for p, q in zip(xs, ys)),
                "note": ("cross-document id: observed agreement only (of the id names); measured under clusterings"
                         if n else "no matched items")}
    fig = nominal_figures(xs, ys)
    fig["measure"] = "nominal"
    fig["non_null_items"] = sum(p is not None or q is not None for p, q in zip(xs, ys))
    if attr in NUMERIC_ATTRIBUTES:
        fig["measure"] = "interval"
        fig["alpha"], fig["alpha_items"], note = interval_alpha(xs, ys)
        kappa_note = fig["note"]
        fig["note"] = "; ".join(x for x in (note and f"alpha: {note}", kappa_note and f"kappa: {kappa_note}") if x) or None
    else:
        fig["alpha_items"] = fig["items"]
    return fig


def attribute_agreement(pairs: list, layer: str, inv) -> dict:
    out = {"items": len(pairs), "attributes": {}}
    for attr in compared_attributes(layer, inv):
        applies = inv.attribute_labels(layer, attr) if attr not in ("label", SOURCES, CUE) else None
        sel = [(va, vb) for _, _, va, _, vb in pairs
               if applies is None or va["label"] in applies or vb["label"] in applies]
        out["attributes"][attr] = attribute_figures(attr, [va.get(attr) for va, _ in sel], [vb.get(attr) for _, vb in sel])
    return out


# ------------------------------------------------------------------ clusterings


def bcubed(ref: list, pred: list) -> tuple[float, float, float]:
    """B-cubed (precision, recall, F1) of `pred` against `ref`, two cluster labels per item."""
    n = len(ref)
    ref_members: dict = {}
    pred_members: dict = {}
    for i, (r, p) in enumerate(zip(ref, pred)):
        ref_members.setdefault(r, set()).add(i)
        pred_members.setdefault(p, set()).add(i)
    precision = recall = 0.0
    for r, p in zip(ref, pred):
        common = len(ref_members[r] & pred_members[p])
        precision += common / len(pred_members[p])
        recall += common / len(ref_members[r])
    precision, recall = precision / n, recall / n
    return precision, recall, 2 * precision * recall / (precision + recall)


def _cluster_labels(values: list) -> list:
    """Cluster names of items; an item without one (null) is a cluster of its own."""
    return [v if v is not None else f"\x00singleton-{i}" for i, v in enumerate(values)]


def clustering_figures(a_ids: list, b_ids: list) -> dict:
    from sklearn.metrics import adjusted_rand_score, rand_score
    from sklearn.metrics.cluster import pair_confusion_matrix

    n = len(a_ids)
    a, b = _cluster_labels(a_ids), _cluster_labels(b_ids)
    out = {"items": n, "clusters_a": len(set(a)), "clusters_b": len(set(b)), "adjusted_rand": None,
           "rand_unadjusted": None, "bcubed": {"precision": None, "recall": None, "f1": None}, "note": None}
    if n == 0:
        out["note"] = "no matched items"
        return out
    out["bcubed"] = dict(zip(("precision", "recall", "f1"), bcubed(a, b)))
    if n < 2:
        out["note"] = "one item: no pair of items, so the Rand indices are undefined"
        return out
    out["rand_unadjusted"] = float(rand_score(a, b))
    (tn, fp), (fn, tp) = pair_confusion_matrix(a, b).tolist()
    if (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn) == 0:
        kind = "one cluster" if tp else "all singletons"
        out["note"] = (f"adjusted Rand undefined (0/0): both partitions are trivial ({kind}), so chance already "
                       "explains their agreement")
    else:
        out["adjusted_rand"] = float(adjusted_rand_score(a, b))
    return out


# ------------------------------------------------------------------ conflicts


def _live(conflicts: list[dict], inv) -> tuple[list[dict], int]:
    dismissed = inv.value_role("conflict_status", "dismissed")
    kept = [c for c in conflicts if c.get("status") != dismissed]
    return kept, len(conflicts) - len(kept)


def conflict_agreement(a_conflicts: list[dict] | None, b_conflicts: list[dict] | None, claim_map: dict, inv) -> dict:
    """Conflicts of B matched to those of A. claim_map: (document, B claim id) -> (document, A claim id)."""
    if a_conflicts is None or b_conflicts is None:
        missing = " and ".join(p for p, c in (("A", a_conflicts), ("B", b_conflicts)) if c is None)
        return {"a": None, "b": None, "strict": None, "lenient": None,
                "note": f"no tables/conflicts.json in pass {missing}: conflicts not compared"}
    a, dis_a = _live(a_conflicts, inv)
    b, dis_b = _live(b_conflicts, inv)
    a_sets = [frozenset((m["document_id"], m["claim_id"]) for m in c["members"]) for c in a]
    b_sets, unmapped = [], 0
    for c in b:
        mapped = set()
        for m in c["members"]:
            target = claim_map.get((m["document_id"], m["claim_id"]))
            if target is None:
                unmapped += 1
                mapped.add(("B", m["document_id"], m["claim_id"]))  # matches nothing of A
            else:
                mapped.add(target)
        b_sets.append(frozenset(mapped))
    strict, used_a, used_b = [], set(), set()
    for i, (ca, sa) in enumerate(zip(a, a_sets)):
        for j, (cb, sb) in enumerate(zip(b, b_sets)):
            if j not in used_b and sa == sb and ca["type"] == cb["type"]:
                strict.append((i, j))
                used_a.add(i)
                used_b.add(j)
                break
    cands = sorted((-len(sa & sb), ca["type"] != cb["type"], i, j)
                   for i, (ca, sa) in enumerate(zip(a, a_sets)) for j, (cb, sb) in enumerate(zip(b, b_sets))
                   if len(sa & sb) >= 2)
    lenient, used_a, used_b = [], set(), set()
    for _, _, i, j in cands:
        if i not in used_a and j not in used_b:
            lenient.append((i, j))
            used_a.add(i)
            used_b.add(j)
    same_type = sum(a[i]["type"] == b[j]["type"] for i, j in lenient)
    lenient_fig = _prf(len(lenient), len(a), len(b))
    lenient_fig["type_agreement"] = {"items": len(lenient), "same_type": same_type,
                                     "observed": same_type / len(lenient) if lenient else None}
    lenient_fig["pairs"] = sorted([a[i]["conflict_id"], b[j]["conflict_id"]] for i, j in lenient)
    strict_fig = _prf(len(strict), len(a), len(b))
    strict_fig["pairs"] = sorted([a[i]["conflict_id"], b[j]["conflict_id"]] for i, j in strict)
    note = None
    if unmapped:
        note = f"{unmapped} member(s) of B's conflicts have no claim of A matched to them by overlap"
    return {"a": len(a), "b": len(b), "dismissed_left_out": {"a": dis_a, "b": dis_b},
            "unmapped_members_b": unmapped, "strict": strict_fig, "lenient": lenient_fig, "note": note}


# ------------------------------------------------------------------ the report


def compare(a_docs: dict[str, dict], b_docs: dict[str, dict], inv=None, a_conflicts: list[dict] | None = None,
            b_conflicts: list[dict] | None = None) -> dict:
    """Agreement between two passes (standoff docs keyed by document id) over the documents both have."""
    if inv is None:
        inv = default_inventory()
    docs = sorted(set(a_docs) & set(b_docs))
    differ = [d for d in docs if a_docs[d].get("text_sha256") != b_docs[d].get("text_sha256")]
    if differ:
        raise AgreementError(f"document {differ[0]} has a different text_sha256 in the two passes "
                             f"({len(differ)} document(s)); their offsets cannot be compared")
    report: dict = {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "schema_version": inv.schema_version,
        "documents": docs,
        "documents_only_in_a": sorted(set(a_docs) - set(b_docs)),
        "documents_only_in_b": sorted(set(b_docs) - set(a_docs)),
        "spans": {}, "attributes": {}, "clusterings": {}, "conflicts": None, "measures": dict(MEASURES),
    }
    for layer in SPAN_LAYERS:
        report["spans"][layer] = span_f1(a_docs, b_docs, docs, layer, inv)
        report["attributes"][layer] = {
            "offsets": attribute_agreement(_matched(a_docs, b_docs, docs, layer, "offsets", inv), layer, inv)}
    claims_overlap = _matched(a_docs, b_docs, docs, "claims", "overlap", inv)
    report["attributes"]["claims"]["overlap"] = attribute_agreement(claims_overlap, "claims", inv)
    entities_strict = _matched(a_docs, b_docs, docs, "entities", "strict", inv)
    report["clusterings"]["claim_clusters"] = {
        "matched_by": "overlap", **clustering_figures([s["cluster_id"] for _, s, _, _, _ in claims_overlap],
                                                      [t["cluster_id"] for _, _, _, t, _ in claims_overlap])}
    report["clusterings"]["entity_ids"] = {
        "matched_by": "strict", **clustering_figures([s["entity_id"] for _, s, _, _, _ in entities_strict],
                                                     [t["entity_id"] for _, _, _, t, _ in entities_strict])}
    claim_map = {(d, t["id"]): (d, s["id"]) for d, s, _, t, _ in claims_overlap}
    report["conflicts"] = conflict_agreement(a_conflicts, b_conflicts, claim_map, inv)
    return report


# ------------------------------------------------------------------ three-way comparison


def _status(names: list[str], recs: dict[str, dict | None]) -> str:
    present = [n for n in names if recs[n] is not None]
    if len(present) == 1:
        return f"only {present[0]}"
    classes: dict[str, list[str]] = {}
    for n in present:
        classes.setdefault(_key(recs[n]), []).append(n)
    groups = sorted(classes.values(), key=lambda g: (-len(g), names.index(g[0])))
    text = "≠".join("=".join(g) for g in groups)
    return text if len(present) == len(names) else f"{text} only"


def threeway(sources: dict[str, dict[str, dict]], inv) -> list[dict]:
    """One item per distinct span (layer, document, start, end, label) of the sources (name -> docs), with
    each source's attributes (null where it lacks the span) and a status naming who agrees with whom.

    Several spans with one key in a source (two claims on one span) give several items; their
    counterparts in the other sources are paired with the most alike first. Claim relations are
    attributes (`sources`, `cue`). Ordered by document, layer (file order), start, end, label.
    """
    names = list(sources)
    items = []
    for d in sorted(set().union(*[set(docs) for docs in sources.values()])):
        for layer in SPAN_LAYERS:
            groups: dict[tuple, dict[str, list]] = {}
            for name in names:
                doc = sources[name].get(d)
                if doc is None:
                    continue
                for s, v in zip(doc.get(layer, []), span_views(doc, layer, inv)):
                    attrs = {k: val for k, val in v.items() if k != "label"}
                    groups.setdefault((s["start"], s["end"], s["label"]), {}).setdefault(name, []).append((s, attrs))
            for (start, end, label) in sorted(groups):
                rest = {n: sorted(groups[(start, end, label)].get(n, []), key=lambda t: (_key(t[1]), t[0]["id"]))
                        for n in names}
                while any(rest.values()):
                    lead = next(n for n in names if rest[n])
                    _, ref = rest[lead][0]
                    recs: dict[str, tuple | None] = {}
                    for n in names:
                        if not rest[n]:
                            recs[n] = None
                            continue
                        best = max(range(len(rest[n])), key=lambda k: (_similarity(ref, rest[n][k][1]), -k))
                        recs[n] = rest[n].pop(best)
                    attrs = {n: (r[1] if r else None) for n, r in recs.items()}
                    present = [a for a in attrs.values() if a is not None]
                    keys = list(dict.fromkeys(k for a in present for k in a))
                    differs = [k for k in keys if len({_key(a.get(k)) for a in present}) > 1]
                    first = next(r for r in recs.values() if r)
                    items.append({
                        "document_id": d, "layer": layer, "start": start, "end": end, "label": label,
                        "text": first[0].get("text"), "status": _status(names, attrs), "differs": differs,
                        "ids": {n: (r[0]["id"] if r else None) for n, r in recs.items()}, "sources": attrs,
                    })
    return items


def disagreements(a_docs: dict[str, dict], b_docs: dict[str, dict], inv=None) -> list[dict]:
    """The spans on which two passes differ: the three-way items of A and B that are not 'A=B'."""
    if inv is None:
        inv = default_inventory()
    return [i for i in threeway({"A": a_docs, "B": b_docs}, inv) if i["status"] != "A=B"]


# ------------------------------------------------------------------ Markdown


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _cell(v, limit: int | None = 120) -> str:
    if v is None:
        return "—"
    text = " / ".join(map(str, v)) if isinstance(v, list) else str(v)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."


def _note(v) -> str:
    return _cell(v, None) if v else ""


def markdown_table(report: dict) -> str:
    """The figures of an agreement report as Markdown tables (span F1, attributes, clusterings, conflicts)."""
    lines = ["### Spans", "",
             "| layer | label | A | B | strict matched | strict P | strict R | strict F1 | overlap matched | overlap P | "
             "overlap R | overlap F1 |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for layer, body in report["spans"].items():
        for label, m in body.items():
            s, o = m["strict"], m["overlap"]
            lines.append(f"| {layer} | {label} | {s['a']} | {s['b']} | {s['matched']} | {_f(s['precision'])} | "
                         f"{_f(s['recall'])} | {_f(s['f1'])} | {o['matched']} | {_f(o['precision'])} | "
                         f"{_f(o['recall'])} | {_f(o['f1'])} |")
    for layer, tables in report["attributes"].items():
        for matching, body in tables.items():
            how = "the same offsets" if matching == "offsets" else "overlap (one-to-one)"
            lines += ["", f"### {layer}: attributes on {body['items']} pairs matched by {how}", "",
                      "| attribute | measure | items | alpha | alpha items | kappa | observed | non-null items | note |",
                      "|---|---|---:|---:|---:|---:|---:|---:|---|"]
            for attr, fig in body["attributes"].items():
                lines.append(f"| {attr} | {fig['measure']} | {fig['items']} | {_f(fig['alpha'])} | "
                             f"{fig.get('alpha_items', '—') if fig['measure'] != 'identity' else '—'} | "
                             f"{_f(fig['kappa'])} | {_f(fig['observed'])} | {fig['non_null_items']} | "
                             f"{_note(fig['note'])} |")
    lines += ["", "### Clusterings", "",
              "| clustering | matched by | items | clusters A | clusters B | adjusted Rand | B-cubed P | B-cubed R | "
              "B-cubed F1 | Rand (unadjusted) | note |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, c in report["clusterings"].items():
        b3 = c["bcubed"]
        lines.append(f"| {name} | {c['matched_by']} | {c['items']} | {c['clusters_a']} | {c['clusters_b']} | "
                     f"{_f(c['adjusted_rand'])} | {_f(b3['precision'])} | {_f(b3['recall'])} | {_f(b3['f1'])} | "
                     f"{_f(c['rand_unadjusted'])} | {_note(c['note'])} |")
    c = report["conflicts"]
    lines += ["", "### Conflicts", ""]
    if c["strict"] is None:
        lines.append(c["note"])
    else:
        lines += ["| matching | A | B | matched | precision | recall | F1 | same type |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for kind in ("strict", "lenient"):
            m = c[kind]
            ta = m.get("type_agreement")
            same = f"{ta['same_type']} of {ta['items']}" if ta else "(required)"
            lines.append(f"| {kind} | {m['a']} | {m['b']} | {m['matched']} | {_f(m['precision'])} | "
                         f"{_f(m['recall'])} | {_f(m['f1'])} | {same} |")
        if c["note"]:
            lines += ["", c["note"] + "."]
    return "\n".join(lines) + "\n"


def agreement_markdown(report: dict, a_label: str, b_label: str) -> str:
    docs = report["documents"]
    lines = ["# Agreement between two annotation passes", "",
             f"Pass A: `{a_label}`; pass B: `{b_label}`; {len(docs)} document(s) annotated in both. "
             "Generated by `pactnews agreement`; every figure is given with the number of items it rests on.", ""]
    for side in ("a", "b"):
        only = report[f"documents_only_in_{side}"]
        if only:
            lines += [f"Left out, only in pass {side.upper()}: {', '.join(only)}.", ""]
    lines += ["## Measures", ""]
    lines += [f"- {text}" for text in report["measures"].values()]
    lines += ["", "## Figures", "", markdown_table(report).rstrip("\n")]
    return "\n".join(lines) + "\n"


def threeway_markdown(items: list[dict], names: list[str], labels: dict[str, str]) -> str:
    full = "=".join(names)
    lines = ["# Three-way comparison for adjudication", "",
             "Sources: " + "; ".join(f"{n} = `{labels[n]}`" for n in names) + ". One row per distinct span "
             "(document, layer, start, end, label) of any source; the status names the sources that agree on the "
             f"span and all its attributes (`{full}`: all agree; `only A`: A alone has the span; `A=B only`: A and B "
             "agree and the others lack it). Claim relations are the attributes `sources` and `cue`. "
             "`#` is the item's index in threeway.json.", "", "## Statuses", "",
             "| layer | status | items |", "|---|---|---:|"]
    counts = Counter((i["layer"], i["status"]) for i in items)
    for layer in SPAN_LAYERS:
        for (lay, status), n in sorted(counts.items()):
            if lay == layer:
                lines.append(f"| {layer} | {status} | {n} |")
    work = [(k, i) for k, i in enumerate(items) if i["status"] != full]
    lines += ["", f"## Worklist: {len(work)} of {len(items)} items on which the sources do not all agree"]
    doc = None
    for k, i in work:
        if i["document_id"] != doc:
            doc = i["document_id"]
            lines += ["", f"### {doc}", "", f"| # | layer | offsets | label | text | status | "
                      + " | ".join(names) + " |", "|---:|---|---|---|---|---|" + "---|" * len(names)]
        cells = []
        for n in names:
            rec = i["sources"][n]
            if rec is None:
                cells.append("—")
                continue
            shown = i["differs"] or [a for a, v in rec.items() if v is not None]
            cells.append(_cell("; ".join(f"{a}={_cell(rec.get(a))}" for a in shown) or "(no attributes)"))
        lines.append(f"| {k} | {i['layer']} | {i['start']}:{i['end']} | {i['label']} | {_cell(i['text'])} | "
                     f"{i['status']} | " + " | ".join(cells) + " |")
    if not work:
        lines += ["", "Nothing to adjudicate: every source agrees on every span."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ command line


def read_pass(folder: Path) -> dict[str, dict]:
    """The annotation files of a folder (other JSON objects beside them, such as reports, are skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AgreementError(f"{folder}: no such folder")
    docs = {}
    for path in sorted(folder.glob("*.json")):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AgreementError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        try:
            docs[path.stem] = standoff.loads(data, str(path))
        except standoff.FormatError as exc:
            try:
                obj = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                obj = None
            if isinstance(obj, dict) and "format" not in obj and "document_id" not in obj:
                continue  # a report or table, not an annotation file
            raise AgreementError(str(exc)) from exc
    if not docs:
        raise AgreementError(f"{folder}: no annotation files")
    return docs


def read_pass_conflicts(folder: Path) -> list[dict] | None:
    path = Path(folder) / "tables" / "conflicts.json"
    if not path.is_file():
        return None
    try:
        return read_conflicts(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AgreementError(f"{path}: cannot read the conflicts table: {exc}") from exc


def shown_path(path: Path, root: Path) -> str:
    """A folder or file as the reports name it: relative to the root when it is inside it."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def report_files(root: Path, pass_a: Path, pass_b: Path, gold: Path | None = None,
                 out: Path | None = None) -> tuple[dict[Path, bytes], dict, list[dict] | None]:
    """What `pactnews agreement` writes, as path -> bytes (agreement.json and .md; with a gold folder also
    threeway.json and .md), the agreement report and the three-way items (None without a gold). Raises
    AgreementError, OSError, or KeyError/TypeError/ValueError for a record of the wrong shape."""
    inv = default_inventory(root)
    a, b = read_pass(pass_a), read_pass(pass_b)
    report = compare(a, b, inv, read_pass_conflicts(pass_a), read_pass_conflicts(pass_b))
    la, lb = shown_path(pass_a, root), shown_path(pass_b, root)
    report["passes"] = {"A": la, "B": lb}
    out = Path(out) if out else Layout(root).annotations / "reports"
    files = {out / "agreement.json": dump_json(report).encode("utf-8"),
             out / "agreement.md": agreement_markdown(report, la, lb).encode("utf-8")}
    items = None
    if gold is not None:
        gold_docs = read_pass(gold)
        docs = set(a) | set(b)
        gold_docs = {d: g for d, g in gold_docs.items() if d in docs}
        items = threeway({"A": a, "B": b, "G": gold_docs}, inv)
        labels = {"A": la, "B": lb, "G": shown_path(gold, root)}
        files[out / "threeway.json"] = dump_json({"format": THREEWAY_FORMAT, "sources": labels,
                                                  "documents": sorted(docs), "items": items}).encode("utf-8")
        files[out / "threeway.md"] = threeway_markdown(items, ["A", "B", "G"], labels).encode("utf-8")
    return files, report, items
