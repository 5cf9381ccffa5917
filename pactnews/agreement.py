"""Inter-annotator agreement between two annotation passes, and their disagreements.

Span layers: pairwise F1 per label, strict (same start, end and label) and
overlap (one-to-one matching of overlapping spans with the same label).
Time expressions: exact-match accuracy of `value` on spans both passes
marked with the same offsets. Claims: Cohen's kappa of the categorical
attributes on claims both passes marked with the same offsets, and the
pairwise co-clustering agreement of cluster ids on those claims. Pass A
is taken as the reference for precision and recall; F1 is symmetric.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from . import standoff
from .inventory import default_inventory
from .repo import atomic_write_text, dump_json

SPAN_LAYERS = ("entities", "timexes", "attributions", "claims")
_ATTRS = {"entities": ["entity_id"], "timexes": ["value"], "attributions": ["entity_id"],
          "claims": ["source_type", "factuality", "cluster_id", "quantity_value", "quantity_unit"]}


def _describe(span: dict | None, layer: str) -> str:
    if span is None:
        return "—"
    attrs = " ".join(str(span.get(k)) for k in _ATTRS[layer] if span.get(k) is not None)
    return f"{span['label']} {attrs}".strip()

CLAIM_ATTRIBUTES = ("source_type", "factuality")


def _prf(tp: int, n_a: int, n_b: int) -> dict:
    p = tp / n_b if n_b else 0.0
    r = tp / n_a if n_a else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"a": n_a, "b": n_b, "matched": tp, "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def _overlap_matches(a: list[dict], b: list[dict]) -> list[tuple[dict, dict]]:
    """Greedy one-to-one matching of overlapping same-label spans, largest overlap first."""
    pairs = []
    for x in a:
        for y in b:
            if x["label"] == y["label"]:
                ov = min(x["end"], y["end"]) - max(x["start"], y["start"])
                if ov > 0:
                    pairs.append((-ov, x["start"], y["start"], id(x), id(y), x, y))
    pairs.sort(key=lambda t: t[:3])
    used_a, used_b, out = set(), set(), []
    for *_, ia, ib, x, y in pairs:
        if ia not in used_a and ib not in used_b:
            used_a.add(ia)
            used_b.add(ib)
            out.append((x, y))
    return out


def span_agreement(a_docs: dict, b_docs: dict, layer: str, labels: list[str]) -> dict:
    ids = sorted(set(a_docs) & set(b_docs))
    result = {}
    for label in [None, *labels]:
        tp_s = tp_o = n_a = n_b = 0
        for d in ids:
            a = [s for s in a_docs[d][layer] if label is None or s["label"] == label]
            b = [s for s in b_docs[d][layer] if label is None or s["label"] == label]
            n_a += len(a)
            n_b += len(b)
            keys_b = {(s["start"], s["end"], s["label"]) for s in b}
            tp_s += sum((s["start"], s["end"], s["label"]) in keys_b for s in a)
            tp_o += len(_overlap_matches(a, b))
        if label is not None and n_a == 0 and n_b == 0:
            continue
        result[label or "ALL"] = {"strict": _prf(tp_s, n_a, n_b), "overlap": _prf(tp_o, n_a, n_b)}
    return result


def _pairs_at_same_offsets(a: list[dict], b: list[dict], layer: str):
    """Pair spans with identical offsets; where one side has several spans at the same
    offsets (e.g. two claims on one span), identical ones pair first, then in order.
    Returns (pairs, unpaired a, unpaired b)."""
    groups_a: dict = {}
    groups_b: dict = {}
    for s in a:
        groups_a.setdefault((s["start"], s["end"]), []).append(s)
    for s in b:
        groups_b.setdefault((s["start"], s["end"]), []).append(s)
    pairs, only_a, only_b = [], [], []
    for key in sorted(set(groups_a) | set(groups_b)):
        xs = sorted(groups_a.get(key, []), key=lambda s: _describe(s, layer))
        ys = sorted(groups_b.get(key, []), key=lambda s: _describe(s, layer))
        rest_y = list(ys)
        rest_x = []
        for x in xs:
            twin = next((y for y in rest_y if _describe(y, layer) == _describe(x, layer)), None)
            if twin is not None:
                rest_y.remove(twin)
                pairs.append((x, twin))
            else:
                rest_x.append(x)
        pairs += list(zip(rest_x, rest_y))
        only_a += rest_x[len(rest_y):]
        only_b += rest_y[len(rest_x):]
    return pairs, only_a, only_b


def _same_offsets(a_docs: dict, b_docs: dict, layer: str) -> list[tuple[str, dict, dict]]:
    out = []
    for d in sorted(set(a_docs) & set(b_docs)):
        pairs, _, _ = _pairs_at_same_offsets(a_docs[d][layer], b_docs[d][layer], layer)
        out += [(d, x, y) for x, y in pairs]
    return out


def _kappa(xs: list, ys: list) -> float | None:
    if not xs:
        return None
    if len(set(xs) | set(ys)) == 1:
        return 1.0  # both passes used one and the same value throughout: kappa is undefined, agreement total
    return round(float(cohen_kappa_score(xs, ys)), 4)


def compare(a_docs: dict[str, dict], b_docs: dict[str, dict], inv=None) -> dict:
    """Agreement figures between two passes (dicts of standoff docs keyed by document id)."""
    inv = inv or default_inventory()
    out: dict = {"documents": sorted(set(a_docs) & set(b_docs)), "layers": {}}
    for layer in SPAN_LAYERS:
        out["layers"][layer] = {"spans": span_agreement(a_docs, b_docs, layer, inv.labels(layer))}
    # entities: label agreement on same-offset spans, entity id exact agreement
    same = _same_offsets(a_docs, b_docs, "entities")
    out["layers"]["entities"]["same_offsets"] = len(same)
    out["layers"]["entities"]["label_kappa"] = _kappa([s["label"] for _, s, _ in same], [t["label"] for _, _, t in same])
    out["layers"]["entities"]["entity_id_accuracy"] = (
        round(sum(s["entity_id"] == t["entity_id"] for _, s, t in same) / len(same), 4) if same else None)
    same = _same_offsets(a_docs, b_docs, "timexes")
    out["layers"]["timexes"]["same_offsets"] = len(same)
    out["layers"]["timexes"]["value_accuracy"] = (
        round(sum(s["value"] == t["value"] for _, s, t in same) / len(same), 4) if same else None)
    out["layers"]["timexes"]["type_kappa"] = _kappa([s["label"] for _, s, _ in same], [t["label"] for _, _, t in same])
    same = _same_offsets(a_docs, b_docs, "claims")
    claims = out["layers"]["claims"]
    claims["same_offsets"] = len(same)
    for attr in CLAIM_ATTRIBUTES:
        claims[f"{attr}_kappa"] = _kappa([s[attr] for _, s, _ in same], [t[attr] for _, _, t in same])
        claims[f"{attr}_accuracy"] = round(sum(s[attr] == t[attr] for _, s, t in same) / len(same), 4) if same else None
    # co-clustering: for every pair of agreed claims, do both passes put them in one cluster or not?
    pair_agree = pair_total = 0
    for (_, s1, t1), (_, s2, t2) in itertools.combinations(same, 2):
        pair_total += 1
        pair_agree += (s1["cluster_id"] == s2["cluster_id"]) == (t1["cluster_id"] == t2["cluster_id"])
    claims["cluster_pair_agreement"] = round(pair_agree / pair_total, 4) if pair_total else None
    claims["cluster_pairs"] = pair_total
    return out


def disagreements(a_docs: dict[str, dict], b_docs: dict[str, dict]) -> list[dict]:
    """Every span on which the passes differ, for adjudication (deterministic order)."""
    out = []
    for d in sorted(set(a_docs) | set(b_docs)):
        for layer in SPAN_LAYERS:
            a = a_docs.get(d, {}).get(layer, [])
            b = b_docs.get(d, {}).get(layer, [])
            pairs, only_a, only_b = _pairs_at_same_offsets(a, b, layer)
            items = []
            for x, y in pairs:
                diffs = {f: [x.get(f), y.get(f)] for f in ["label", *_ATTRS[layer]] if x.get(f) != y.get(f)}
                if diffs:
                    items.append({"document_id": d, "layer": layer, "kind": "attribute", "start": x["start"],
                                  "end": x["end"], "text": x["text"], "a": x["id"], "b": y["id"], "differs": diffs})
            for s, kind, other in [(s, "only_a", b) for s in only_a] + [(s, "only_b", a) for s in only_b]:
                partner = [t for t in other if t["start"] < s["end"] and s["start"] < t["end"]]
                items.append({"document_id": d, "layer": layer, "kind": kind, "start": s["start"], "end": s["end"],
                              "text": s["text"], "label": s["label"], "id": s["id"],
                              "overlapping_in_other": [f"{t['id']} {t['start']}:{t['end']} {t['label']} {t['text']!r}" for t in partner]})
            out += sorted(items, key=lambda i: (i["start"], i["end"], i["kind"], i.get("a", i.get("id"))))
    return out


def markdown_table(result: dict) -> str:
    lines = ["| layer | label | A | B | strict F1 | overlap F1 |", "|---|---|---:|---:|---:|---:|"]
    for layer, body in result["layers"].items():
        for label, m in body["spans"].items():
            lines.append(f"| {layer} | {label} | {m['strict']['a']} | {m['strict']['b']} | "
                         f"{m['strict']['f1']:.3f} | {m['overlap']['f1']:.3f} |")
    t, c, e = result["layers"]["timexes"], result["layers"]["claims"], result["layers"]["entities"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines += [
        "",
        "| measure | on | value |", "|---|---|---:|",
        f"| entity label Cohen's kappa | {e['same_offsets']} entities with the same offsets | {fmt(e['label_kappa'])} |",
        f"| entity id exact agreement | {e['same_offsets']} entities with the same offsets | {fmt(e['entity_id_accuracy'])} |",
        f"| TIMEX3 value exact match | {t['same_offsets']} time expressions with the same offsets | {fmt(t['value_accuracy'])} |",
        f"| TIMEX3 type Cohen's kappa | {t['same_offsets']} time expressions with the same offsets | {fmt(t['type_kappa'])} |",
        f"| claim source_type Cohen's kappa | {c['same_offsets']} claims with the same offsets | {fmt(c['source_type_kappa'])} |",
        f"| claim factuality Cohen's kappa | {c['same_offsets']} claims with the same offsets | {fmt(c['factuality_kappa'])} |",
        f"| claim cluster pairwise agreement | {c['cluster_pairs']} pairs of those claims | {fmt(c['cluster_pair_agreement'])} |",
    ]
    return "\n".join(lines) + "\n"


def add_arguments(parser) -> None:
    parser.add_argument("pass_a", type=Path, help="folder of standoff files of the first pass")
    parser.add_argument("pass_b", type=Path, help="folder of standoff files of the second pass")
    parser.add_argument("--out", type=Path, help="write <out>.json (figures and disagreements) and <out>.md (tables)")


def run(args) -> int:
    a, b = standoff.read_all(args.pass_a), standoff.read_all(args.pass_b)
    if not a or not b:
        print(f"FAILED: no standoff files in {args.pass_a if not a else args.pass_b}")
        return 1
    result = compare(a, b, default_inventory(args.root))
    table = markdown_table(result)
    print(table, end="")
    if args.out:
        dis = disagreements(a, b)
        atomic_write_text(args.out.with_suffix(".json"), dump_json({**result, "disagreements": dis}))
        atomic_write_text(args.out.with_suffix(".md"), table)
        print(f"Agreement over {len(result['documents'])} documents, {len(dis)} disagreements: {args.out}.json, {args.out}.md")
    return 0


def adjudication_outcome(item: dict, a: dict, b: dict, gold: dict) -> tuple[str, str, str, str]:
    """(A's version, B's version, gold's version, which pass the gold followed).

    Every span at the item's offsets counts: two claims on one span read "X; Y".
    """
    key = (item["start"], item["end"])

    def at(docs):
        spans = [s for s in docs.get(item["document_id"], {}).get(item["layer"], []) if (s["start"], s["end"]) == key]
        return "; ".join(sorted(_describe(s, item["layer"]) for s in spans)) or "—"

    da, db, dg = at(a), at(b), at(gold)
    if dg == da and dg == db:
        followed = "both"
    elif dg == da:
        followed = "A"
    elif dg == db:
        followed = "B"
    else:
        followed = "neither"
    return da, db, dg, followed


def decision_log(a: dict, b: dict, gold: dict, rationale: dict[int, str], rules: dict[str, str]) -> str:
    """ADJUDICATION.md: every disagreement between the passes, what the gold says, and why."""
    items = disagreements(a, b)
    counts: dict[str, int] = {}
    rows = []
    for i, item in enumerate(items):
        da, db, dg, followed = adjudication_outcome(item, a, b, gold)
        counts[followed] = counts.get(followed, 0) + 1
        why = rationale.get(i, "")
        text = item["text"].replace("|", "\\|").replace("\n", " ")
        if len(text) > 70:
            text = text[:67] + "..."
        cell = lambda s: s.replace("|", "\\|")  # noqa: E731
        rows.append(f"| {i} | {item['document_id'][:3]} | {item['layer']} | {item['start']}:{item['end']} | {text} | "
                    f"{cell(da)} | {cell(db)} | {cell(dg)} | {followed} | {cell(why)} |")
    lines = [
        "# Adjudication log",
        "",
        "Generated by `pactnews adjudication-log` from the two passes (`annotations/passes/A`,",
        "`annotations/passes/B`), the gold (`annotations/*.json`) and the adjudicator's rationale",
        "(`annotations/passes/adjudicated/rationale.yaml`). One row per disagreement between the",
        "passes: what each pass said at those offsets, what the gold says, which pass the gold",
        "follows, and the reason (a decision rule below, or a note).",
        "",
        f"{len(items)} disagreements; the gold follows "
        + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + ".",
        "",
        "## Decision rules",
        "",
    ]
    lines += [f"- **{k}**: {v}" for k, v in rules.items()] or ["(none)"]
    lines += ["", "## Decisions", "",
              "| # | doc | layer | offsets | text | pass A | pass B | gold | follows | reason |",
              "|---:|---|---|---|---|---|---|---|---|---|", *rows]
    return "\n".join(lines) + "\n"


def parse_rationale(raw: dict) -> tuple[dict[int, str], dict[str, str]]:
    rules = {str(k): str(v) for k, v in (raw.get("rules") or {}).items()}
    out: dict[int, str] = {}
    for key, why in (raw.get("decisions") or {}).items():
        key = str(key)
        lo, _, hi = key.partition("-")
        for i in range(int(lo), int(hi or lo) + 1):
            out[i] = str(why)
    return out, rules


def add_arguments_adjudication_log(parser) -> None:
    parser.add_argument("--rationale", type=Path, default=None,
                        help="YAML with `rules: {D1: text}` and `decisions: {index or lo-hi: rule id or note}`")


def run_adjudication_log(args) -> int:
    import yaml

    from .repo import Layout

    layout = Layout(args.root)
    a, b = standoff.read_all(layout.passes / "A"), standoff.read_all(layout.passes / "B")
    gold = standoff.read_all(layout.annotations)
    path = args.rationale or layout.passes / "adjudicated" / "rationale.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    rationale, rules = parse_rationale(raw or {})
    text = decision_log(a, b, gold, rationale, rules)
    atomic_write_text(layout.annotations / "ADJUDICATION.md", text)
    missing = len(disagreements(a, b)) - len(rationale)
    print(f"Logged {len(disagreements(a, b))} decisions ({missing} without a stated reason): annotations/ADJUDICATION.md")
    return 0
