"""`pactnews evaluate`: score a system's predictions against the gold of the current version.

Predictions come as rows of the dataset's own configs (Parquet or JSONL):
span rows like `entities`, `timexes`, `claims` (document_id, start, end,
label as a name or a class index, attributes...), IOB2 rows like `ner`
(document_id, ner_tags as names or indices, token_starts, token_ends), or
conflict rows like `conflicts` (type, members with document_id, start, end).
The layer is read from the columns, or given with --layer.

Metrics, per layer:
- entities (and ner): SemEval-2013 strict, exact, partial and type, per label,
  micro and macro, computed by nervaluate on character offsets;
- timexes: TempEval-3 extent F1, strict (same offsets) and relaxed (overlap),
  and type and value accuracy on the relaxed matches (with TempEval-3's
  attribute F1: a match with the right attribute is a true positive);
- attributions: strict and overlap span F1 per label;
- claims: strict and overlap span F1, factuality accuracy on overlap matches;
  with predicted cluster_ids, claim_clusters: MUC, B-cubed, CEAF-e, their
  CoNLL average, and the adjusted Rand index (scikit-learn) over the claims
  matched on both sides;
- conflicts: detection P/R/F1 per type: a predicted conflict is right when
  it links the same claims (document_id, start, end) with the same type as a
  kept gold conflict.

Overlap matches pair each gold span with at most one predicted span (an
optimal assignment that maximises the number of pairs, then their overlap).
Labels and values are never named here: they come from schemas/labels.yaml.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from pactnews.annotations import tables
from pactnews.annotations.conflicts import detect
from pactnews.annotations.preannotate import predict_corpus
from pactnews.corpus.readers import read_clean_texts, read_gold
from pactnews.inventory import Inventory, default_inventory
from pactnews.labelstudio.readers import read_corpus
from pactnews.pipeline.ner import decode_iob2, ner_spans
from pactnews.repo import Layout
from pactnews.validate.validator import conflict_inputs

FORMAT = "pactnews-evaluation"
SPAN_INPUT_LAYERS = ("entities", "timexes", "attributions", "claims")
LAYERS = SPAN_INPUT_LAYERS + ("ner", "conflicts")
NERVALUATE_STRATEGIES = {"strict": "strict", "exact": "exact", "partial": "partial", "type": "ent_type"}


class EvaluationError(ValueError):
    """A problem with the predictions that the user must fix; the message is one line."""


# ---------------------------------------------------------------- small helpers

def prf(tp: float, n_pred: int, n_gold: int) -> dict:
    """Precision, recall and F1 from true positives and the sizes of both sides."""
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": n_pred - tp, "fn": n_gold - tp, "precision": p, "recall": r, "f1": f}


def _pr(p: float, r: float) -> dict:
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def _overlap(a: tuple, b: tuple) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def overlap_pairs(gold: list[tuple], pred: list[tuple]) -> list[tuple[int, int]]:
    """One-to-one pairs (gold index, predicted index) of overlapping (start, end, ...) spans: the assignment
    with the most pairs, and among those the most overlapping characters."""
    if not gold or not pred:
        return []
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    weight = np.zeros((len(gold), len(pred)))
    for i, g in enumerate(gold):
        for j, p in enumerate(pred):
            ov = _overlap(g, p)
            if ov:
                weight[i, j] = 1e6 + ov
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return [(int(i), int(j)) for i, j in zip(rows, cols) if weight[i, j] > 0]


# ---------------------------------------------------------------- reading predictions

def read_rows(path: Path) -> list[dict]:
    """Rows of a Parquet or JSONL file (a JSON array is read too); unreadable files raise EvaluationError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvaluationError(f"cannot read predictions {path}: {exc.strerror or exc}") from None
    if data[:4] == b"PAR1" or path.suffix == ".parquet":
        import io

        import pyarrow.parquet as pq

        try:
            return pq.read_table(io.BytesIO(data)).to_pylist()
        except Exception as exc:  # noqa: BLE001 - any Arrow failure is an unreadable file
            raise EvaluationError(f"cannot read predictions {path} as Parquet: {str(exc).splitlines()[0]}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"cannot read predictions {path}: byte {exc.start} is not valid UTF-8") from None
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"cannot read predictions {path}: {exc.msg} at line {exc.lineno}") from None
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvaluationError(f"cannot read predictions {path}: line {n} is not JSON ({exc.msg})") from None
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise EvaluationError(f"cannot read predictions {path}: row {n} is {type(row).__name__}, not an object")
    return rows


def detect_layer(rows: list[dict], inv: Inventory) -> str:
    """The layer a prediction file holds, from its columns (and, for bare spans, its labels)."""
    cols = set().union(*(r.keys() for r in rows)) if rows else set()
    if "ner_tags" in cols:
        return "ner"
    if "members" in cols:
        return "conflicts"
    if cols & {"factuality", "cluster_id", "source_type"}:
        return "claims"
    if "value" in cols:
        return "timexes"
    if "entity_id" in cols:
        return "entities"
    labels = {r.get("label") for r in rows}
    for layer in SPAN_INPUT_LAYERS:
        if labels and labels <= set(inv.labels(layer)):
            return layer
    raise EvaluationError("cannot tell the layer of the predictions from their columns "
                          f"{sorted(cols)}; give --layer ({', '.join(LAYERS)})")


class Gold:
    """The gold of the current version: standoff files, clean texts and the conflicts table."""

    def __init__(self, root: Path, inv: Inventory | None = None):
        self.layout = Layout(root)
        self.inv = inv or default_inventory(self.layout.root)
        self.texts = read_clean_texts(self.layout)
        self.docs = read_gold(self.layout, sorted(self.texts))
        self.entity_table = (tables.read_entities(self.layout.entity_table)
                             if self.layout.entity_table.is_file() else {})
        self.conflict_table = (tables.read_conflicts(self.layout.conflict_table)
                               if self.layout.conflict_table.is_file() else None)

    def subset(self, document_ids: list[str]) -> "Gold":
        """The same gold restricted to some documents (for per-document figures)."""
        sub = Gold.__new__(Gold)
        sub.__dict__.update(self.__dict__, docs={d: self.docs[d] for d in document_ids})
        return sub

    def kept_conflicts(self) -> list[dict] | None:
        """Kept conflicts as {type, members: [(document_id, start, end)]}; None without a conflicts table."""
        if self.conflict_table is None:
            return None
        kept = self.inv.value_role("conflict_status", "kept")
        claims = {(d, c["id"]): c for d, doc in self.docs.items() for c in doc["claims"]}
        out = []
        for e in self.conflict_table:
            if e.get("status") != kept:
                continue
            members = [(m["document_id"], claims[(m["document_id"], m["claim_id"])]["start"],
                        claims[(m["document_id"], m["claim_id"])]["end"]) for m in e["members"]]
            out.append({"id": e.get("conflict_id"), "type": e["type"], "members": members})
        return out


def _name(value, names: list[str], what: str, where: str) -> str:
    """A class name given as a name or a class index; unknown ones raise EvaluationError."""
    if isinstance(value, bool) or value is None:
        raise EvaluationError(f"{where}: {what} is {value!r}; expected one of {names} or a class index")
    if isinstance(value, int):
        if 0 <= value < len(names):
            return names[value]
        raise EvaluationError(f"{where}: unknown {what} index {value}; expected 0..{len(names) - 1} ({names})")
    if value in names:
        return value
    raise EvaluationError(f"{where}: unknown {what} {value!r}; expected one of {names}")


def _check_span(gold: Gold, doc_id, start, end, text, where: str) -> None:
    if doc_id not in gold.docs:
        raise EvaluationError(f"{where}: prediction on unknown document {doc_id!r}; the gold has {len(gold.docs)} "
                              f"documents ({', '.join(sorted(gold.docs)[:3])}{', ...' if len(gold.docs) > 3 else ''})")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise EvaluationError(f"{where}: start and end must be integers, found {start!r} and {end!r}")
    clean = gold.texts.get(doc_id)
    if not 0 <= start < end or (clean is not None and end > len(clean)):
        size = "" if clean is None else f" of {len(clean)} characters"
        raise EvaluationError(f"{where}: offsets [{start}:{end}] are not a span of the clean text{size} of {doc_id}")
    if text is not None and clean is not None and clean[start:end] != text:
        raise EvaluationError(f"{where}: offsets [{start}:{end}] of {doc_id} do not match the clean text: "
                              f"the text column has {text!r}, the clean text {clean[start:end]!r}")


SPAN_ATTRIBUTES = {"timexes": ("value",), "claims": ("factuality", "cluster_id")}


def span_predictions(rows: list[dict], layer: str, gold: Gold) -> dict[str, list[dict]]:
    """Rows of a span config -> document id -> [{start, end, label, attributes}], checked."""
    inv = gold.inv
    labels = inv.ner_labels if layer == "ner" else inv.labels(layer)
    factualities = inv.values("factuality")
    out: dict[str, list[dict]] = defaultdict(list)
    for n, row in enumerate(rows, 1):
        where = f"row {n}"
        missing = [k for k in ("document_id", "start", "end", "label") if k not in row]
        if missing:
            raise EvaluationError(f"{where}: missing {', '.join(missing)}; {layer} rows need document_id, start, end, label")
        doc_id = row["document_id"]
        _check_span(gold, doc_id, row["start"], row["end"], row.get("text"), where)
        if layer == "ner" and isinstance(row["label"], int):
            raise EvaluationError(f"{where}: label {row['label']!r} is a class index; spans scored as ner need label "
                                  "names (the entities and timexes configs number their labels differently)")
        rec = {"start": row["start"], "end": row["end"], "label": _name(row["label"], labels, f"{layer} label", where)}
        if layer == "timexes":
            rec["value"] = row.get("value")
        if layer == "claims":
            f = row.get("factuality")
            rec["factuality"] = None if f is None else _name(f, factualities, "factuality", where)
            rec["cluster_id"] = row.get("cluster_id")
        out[doc_id].append(rec)
    return dict(out)


def iob2_predictions(rows: list[dict], gold: Gold, keep: set[str] | None = None) -> dict[str, list[dict]]:
    """Rows of the `ner` config -> document id -> decoded spans (only labels in `keep`, when given)."""
    tags = gold.inv.ner_tags
    out: dict[str, list[dict]] = defaultdict(list)
    for n, row in enumerate(rows, 1):
        where = f"row {n}" + (f" ({row['id']})" if row.get("id") else "")
        missing = [k for k in ("document_id", "ner_tags", "token_starts", "token_ends") if row.get(k) is None]
        if missing:
            raise EvaluationError(f"{where}: missing {', '.join(missing)}; IOB2 rows need document_id, ner_tags, "
                                  "token_starts, token_ends")
        doc_id = row["document_id"]
        names = [_name(t, tags, "IOB2 tag", where) for t in row["ner_tags"]]
        starts, ends, tokens = row["token_starts"], row["token_ends"], row.get("tokens")
        if not len(names) == len(starts) == len(ends) or (tokens is not None and len(tokens) != len(names)):
            raise EvaluationError(f"{where}: ner_tags, token_starts, token_ends (and tokens) differ in length")
        for k, (s, e) in enumerate(zip(starts, ends)):
            _check_span(gold, doc_id, s, e, tokens[k] if tokens is not None else None, f"{where} token {k}")
        out.setdefault(doc_id, [])
        for s, e, label in decode_iob2(names, starts, ends):
            if keep is None or label in keep:
                out[doc_id].append({"start": s, "end": e, "label": label})
    return dict(out)


def conflict_predictions(rows: list[dict], gold: Gold) -> list[dict]:
    """Rows of the `conflicts` config -> [{type, members: [(document_id, start, end)]}], checked."""
    types = gold.inv.conflict_types
    out = []
    for n, row in enumerate(rows, 1):
        where = f"row {n}" + (f" ({row['conflict_id']})" if row.get("conflict_id") else "")
        if "type" not in row or not isinstance(row.get("members"), list):
            raise EvaluationError(f"{where}: conflict rows need type and members (a list of document_id, start, end)")
        members = []
        for k, m in enumerate(row["members"]):
            if not isinstance(m, dict) or any(m.get(x) is None for x in ("document_id", "start", "end")):
                raise EvaluationError(f"{where} member {k}: needs document_id, start and end")
            _check_span(gold, m["document_id"], m["start"], m["end"], m.get("text"), f"{where} member {k}")
            members.append((m["document_id"], m["start"], m["end"]))
        out.append({"type": _name(row["type"], types, "conflict type", where), "members": members})
    return out


# ---------------------------------------------------------------- gold spans

def gold_spans(gold: Gold, layer: str, labels: list[str] | None = None) -> dict[str, list[dict]]:
    """document id -> gold spans of a layer ({start, end, label, attributes}); `ner` is the token view's spans."""
    out = {}
    for doc_id, doc in gold.docs.items():
        if layer == "ner":
            untagged = set(gold.inv.ner_untagged_values)
            spans = ner_spans(doc_id, doc["entities"], [t for t in doc["timexes"] if t.get("value") not in untagged],
                              gold.inv)
            recs = [{"start": s.start, "end": s.end, "label": s.label} for s in spans]
        else:
            recs = [dict(r) for r in doc[layer]]
        out[doc_id] = [r for r in recs if labels is None or r["label"] in labels]
    return out


# ---------------------------------------------------------------- metrics per layer

def score_entities(gold: dict[str, list[dict]], pred: dict[str, list[dict]], labels: list[str]) -> dict:
    """SemEval-2013 strict/exact/partial/type per label, micro and macro (nervaluate over character offsets)."""
    from nervaluate import Evaluator

    docs = sorted(gold)
    conv = lambda spans: [{"label": s["label"], "start": s["start"], "end": s["end"] - 1} for s in spans]  # noqa: E731
    true = [conv(gold.get(d, [])) for d in docs]
    predicted = [conv(pred.get(d, [])) for d in docs]
    res = Evaluator(true, predicted, tags=list(labels), loader="dict").evaluate() if docs else {"overall": {}, "entities": {}}

    def block(r) -> dict:
        if r is None:
            return {"correct": 0, "incorrect": 0, "partial": 0, "missed": 0, "spurious": 0, "possible": 0,
                    "actual": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
        return {k: getattr(r, k) for k in ("correct", "incorrect", "partial", "missed", "spurious", "possible",
                                           "actual", "precision", "recall", "f1")}

    micro = {ours: block(res["overall"].get(theirs)) for ours, theirs in NERVALUATE_STRATEGIES.items()}
    per_label = {label: {ours: block(res["entities"][label].get(theirs)) for ours, theirs in NERVALUATE_STRATEGIES.items()}
                 for label in labels if label in res["entities"]}
    macro = {}
    for ours in NERVALUATE_STRATEGIES:
        rows = [per_label[label][ours] for label in per_label]
        macro[ours] = ({k: sum(r[k] for r in rows) / len(rows) for k in ("precision", "recall", "f1")}
                       if rows else {"precision": 0.0, "recall": 0.0, "f1": 0.0})
    return {"gold": sum(len(v) for v in true), "predicted": sum(len(v) for v in predicted),
            "micro": micro, "macro": macro, "labels": per_label}


def _match(gold: dict, pred: dict, typed: bool):
    """Per document, the strict and the overlap pairs of gold and predicted spans (same label when typed)."""
    strict, overlap = [], []
    for doc_id in sorted(set(gold) | set(pred)):
        g, p = gold.get(doc_id, []), pred.get(doc_id, [])
        groups = defaultdict(lambda: ([], []))
        for i, s in enumerate(g):
            groups[s["label"] if typed else None][0].append(i)
        for j, s in enumerate(p):
            groups[s["label"] if typed else None][1].append(j)
        for gi, pj in groups.values():
            free = Counter((p[j]["start"], p[j]["end"]) for j in pj)
            by_key = defaultdict(list)
            for j in pj:
                by_key[(p[j]["start"], p[j]["end"])].append(j)
            for i in gi:
                key = (g[i]["start"], g[i]["end"])
                if free[key]:
                    free[key] -= 1
                    strict.append((g[i], p[by_key[key].pop()]))
            gs = [(g[i]["start"], g[i]["end"]) for i in gi]
            ps = [(p[j]["start"], p[j]["end"]) for j in pj]
            overlap += [(g[gi[a]], p[pj[b]], doc_id) for a, b in overlap_pairs(gs, ps)]
    return strict, overlap


def _sizes(gold: dict, pred: dict) -> tuple[int, int]:
    return sum(map(len, gold.values())), sum(map(len, pred.values()))


def _accuracy(pairs, attribute: str, n_gold: int, n_pred: int) -> dict:
    right = sum(g.get(attribute) == p.get(attribute) for g, p, *_ in pairs)
    out = prf(right, n_pred, n_gold)  # TempEval-3 attribute F1: a match with the right value is a true positive
    out.update({"accuracy": right / len(pairs) if pairs else 0.0, "matched": len(pairs), "correct": right})
    return out


def score_timexes(gold: dict, pred: dict, inv: Inventory) -> dict:
    ng, np_ = _sizes(gold, pred)
    strict, relaxed = _match(gold, pred, typed=False)
    return {"gold": ng, "predicted": np_, "strict": prf(len(strict), np_, ng), "relaxed": prf(len(relaxed), np_, ng),
            "type": _accuracy(relaxed, "label", ng, np_), "value": _accuracy(relaxed, "value", ng, np_)}


def score_spans(gold: dict, pred: dict, labels: list[str]) -> dict:
    """Strict and overlap span F1, micro and per label (attributions)."""
    ng, np_ = _sizes(gold, pred)
    strict, overlap = _match(gold, pred, typed=True)
    per_label = {}
    for label in labels:
        g = sum(s["label"] == label for v in gold.values() for s in v)
        p = sum(s["label"] == label for v in pred.values() for s in v)
        if g or p:
            per_label[label] = {"strict": prf(sum(a["label"] == label for a, _ in strict), p, g),
                                "overlap": prf(sum(a["label"] == label for a, *_ in overlap), p, g)}
    return {"gold": ng, "predicted": np_, "strict": prf(len(strict), np_, ng), "overlap": prf(len(overlap), np_, ng),
            "labels": per_label}


def score_claims(gold: dict, pred: dict) -> dict:
    ng, np_ = _sizes(gold, pred)
    strict, overlap = _match(gold, pred, typed=False)
    return {"gold": ng, "predicted": np_, "strict": prf(len(strict), np_, ng), "overlap": prf(len(overlap), np_, ng),
            "factuality": _accuracy(overlap, "factuality", ng, np_)}


# ---------------------------------------------------------------- coreference-style cluster metrics

def muc(key: list[set], response: list[set]) -> dict:
    """MUC (Vilain et al. 1995): links kept, over the partition of each key cluster by the response."""
    def recall(k_clusters, r_clusters):
        where = {m: n for n, c in enumerate(r_clusters) for m in c}
        num = den = 0
        for c in k_clusters:
            parts = {where.get(m, ("alone", m)) for m in c}
            num += len(c) - len(parts)
            den += len(c) - 1
        return num / den if den else 0.0
    return _pr(recall(response, key), recall(key, response))


def b_cubed(key: list[set], response: list[set]) -> dict:
    """B-cubed (Bagga and Baldwin 1998) as the CoNLL reference scorer computes it (twinless mentions score 0)."""
    def recall(k_clusters, r_clusters):
        total = sum(len(c) for c in k_clusters)
        num = sum(len(k & r) ** 2 / len(k) for k in k_clusters for r in r_clusters if k & r)
        return num / total if total else 0.0
    return _pr(recall(response, key), recall(key, response))


def ceaf_e(key: list[set], response: list[set]) -> dict:
    """Entity-based CEAF (Luo 2005, phi4): the best one-to-one alignment of clusters (scipy's linear_sum_assignment)."""
    if not key or not response:
        return _pr(0.0, 0.0)
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    sim = np.array([[2 * len(k & r) / (len(k) + len(r)) for r in response] for k in key])
    rows, cols = linear_sum_assignment(sim, maximize=True)
    total = float(sim[rows, cols].sum())
    return _pr(total / len(response), total / len(key))


def score_clusters(gold: dict, pred: dict) -> dict:
    """Cluster metrics of predicted cluster_ids, claims aligned by the overlap matching.

    A predicted claim paired with a gold claim stands for that gold claim; the others are mentions of their
    own (they lower precision as twinless mentions do in the CoNLL scorer). ARI is over the paired claims.
    """
    _, pairs = _match(gold, pred, typed=False)
    ident = {}
    for g, p, doc_id in pairs:
        ident[id(p)] = (doc_id, g["start"], g["end"], "gold", id(g))
    key, response = defaultdict(set), defaultdict(set)
    for doc_id, spans in gold.items():
        for g in spans:
            key[g.get("cluster_id") or ("singleton", id(g))].add((doc_id, g["start"], g["end"], "gold", id(g)))
    for doc_id, spans in pred.items():
        for p in spans:
            mention = ident.get(id(p), (doc_id, p["start"], p["end"], "pred", id(p)))
            response[p.get("cluster_id") or ("singleton", id(p))].add(mention)
    k, r = list(key.values()), list(response.values())
    m, b, c = muc(k, r), b_cubed(k, r), ceaf_e(k, r)
    from sklearn.metrics import adjusted_rand_score

    labels_true = [g.get("cluster_id") or f"\0gold-{n}" for n, (g, _, _) in enumerate(pairs)]
    labels_pred = [p.get("cluster_id") or f"\0pred-{n}" for n, (_, p, _) in enumerate(pairs)]
    ari = float(adjusted_rand_score(labels_true, labels_pred)) if pairs else 0.0
    return {"gold": sum(map(len, k)), "predicted": sum(map(len, r)), "gold_clusters": len(k),
            "predicted_clusters": len(r), "muc": m, "b_cubed": b, "ceaf_e": c,
            "conll_f1": (m["f1"] + b["f1"] + c["f1"]) / 3, "ari": ari, "ari_claims": len(pairs)}


def score_conflicts(gold: list[dict], pred: list[dict], types: list[str]) -> dict:
    """Detection P/R/F1 per type: same type and the same member claims (document_id, start, end)."""
    key = lambda c: (c["type"], frozenset(c["members"]))  # noqa: E731
    g, p = Counter(map(key, gold)), Counter(map(key, pred))
    hit = g & p
    per_type = {}
    for t in types:
        ng, np_ = sum(v for k, v in g.items() if k[0] == t), sum(v for k, v in p.items() if k[0] == t)
        if ng or np_:
            per_type[t] = prf(sum(v for k, v in hit.items() if k[0] == t), np_, ng)
    return {"gold": len(gold), "predicted": len(pred), "micro": prf(sum(hit.values()), len(pred), len(gold)),
            "types": per_type}


# ---------------------------------------------------------------- the report

def score_layer(layer: str, gold: Gold, pred, labels: list[str] | None = None) -> dict:
    """The figures of one layer (a dict of layer name -> figures: claims also give claim_clusters); `labels`
    restricts the attributions scored (default: every label of the layer)."""
    inv = gold.inv
    if layer in ("entities", "ner"):
        labels = inv.labels("entities") if layer == "entities" else inv.ner_labels
        return {layer: score_entities(gold_spans(gold, layer), pred, labels)}
    if layer == "timexes":
        return {layer: score_timexes(gold_spans(gold, layer), pred, inv)}
    if layer == "attributions":
        labels = labels or inv.labels(layer)
        return {layer: score_spans(gold_spans(gold, layer, labels), pred, labels)}
    if layer == "claims":
        g = gold_spans(gold, layer)
        out = {"claims": score_claims(g, pred)}
        if any(s.get("cluster_id") is not None for v in pred.values() for s in v):
            out["claim_clusters"] = score_clusters(g, pred)
        return out
    if layer == "conflicts":
        kept = gold.kept_conflicts()
        if kept is None:
            return {layer: {"gold": None, "predicted": len(pred), "scored": False,
                            "reason": f"no conflicts table ({gold.layout.conflict_table.relative_to(gold.layout.root)})"}}
        return {layer: score_conflicts(kept, pred, inv.conflict_types)}
    raise EvaluationError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")


def evaluate(root: Path, predictions: Path, layer: str | None = None, by_document: bool = False,
             gold: Gold | None = None) -> dict:
    """The report of one prediction file against the gold (raises EvaluationError on bad predictions)."""
    rows = read_rows(predictions)
    if gold is None:
        try:
            gold = Gold(root)
        except (OSError, ValueError, KeyError) as exc:  # the gold is validate's business; say so in one line
            raise EvaluationError(f"cannot read the gold under {root}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
                                  "; run `pactnews validate`") from None
    inv = gold.inv
    found = "ner" if rows and any("ner_tags" in r for r in rows) else None
    layer = layer or detect_layer(rows, inv)
    if found == "ner" and layer not in ("ner", "entities"):
        raise EvaluationError(f"IOB2 predictions can be scored as ner or entities, not {layer}")
    if found == "ner":
        pred = iob2_predictions(rows, gold, keep=set(inv.labels("entities")) if layer == "entities" else None)
    elif layer == "conflicts":
        pred = conflict_predictions(rows, gold)
    else:
        pred = span_predictions(rows, layer, gold)
    report = {"format": FORMAT, "schema_version": inv.schema_version, "predictions": str(predictions),
              "input_layer": layer, "documents": sorted(gold.docs), "layers": score_layer(layer, gold, pred)}
    if by_document and layer != "conflicts":
        report["by_document"] = {}
        for doc_id in sorted(gold.docs):
            figures = score_layer(layer, gold.subset([doc_id]), {doc_id: pred.get(doc_id, [])})
            figures.pop("claim_clusters", None)  # clusters run across documents
            report["by_document"][doc_id] = figures
    return report


def summary_rows(layers: dict) -> list[tuple]:
    """(layer, metric, P, R, F1, items) rows of a report's layers; P and R are None for one-number metrics."""
    out = []
    for layer, m in layers.items():
        if layer in ("entities", "ner"):
            for s in NERVALUATE_STRATEGIES:
                r = m["micro"][s]
                out.append((layer, f"{s} (micro)", r["precision"], r["recall"], r["f1"], m["gold"]))
            r = m["macro"]["strict"]
            out.append((layer, "strict (macro over labels)", r["precision"], r["recall"], r["f1"], m["gold"]))
        elif layer == "timexes":
            for s in ("strict", "relaxed"):
                out.append((layer, f"extent {s}", m[s]["precision"], m[s]["recall"], m[s]["f1"], m["gold"]))
            for a in ("type", "value"):
                r = m[a]
                out.append((layer, f"{a} (relaxed match)", r["precision"], r["recall"], r["f1"], m["gold"]))
                out.append((layer, f"{a} accuracy on matches (in F1)", None, None, r["accuracy"], r["matched"]))
        elif layer in ("attributions", "claims"):
            for s in ("strict", "overlap"):
                out.append((layer, f"span {s}", m[s]["precision"], m[s]["recall"], m[s]["f1"], m["gold"]))
            if layer == "attributions":
                for label, r in m["labels"].items():
                    out.append((layer, f"{label} strict", r["strict"]["precision"], r["strict"]["recall"],
                                r["strict"]["f1"], r["strict"]["tp"] + r["strict"]["fn"]))
            else:
                r = m["factuality"]
                out.append((layer, "factuality (overlap match)", r["precision"], r["recall"], r["f1"], m["gold"]))
                out.append((layer, "factuality accuracy on matches (in F1)", None, None, r["accuracy"], r["matched"]))
        elif layer == "claim_clusters":
            for s, name in (("muc", "MUC"), ("b_cubed", "B-cubed"), ("ceaf_e", "CEAF-e")):
                out.append((layer, name, m[s]["precision"], m[s]["recall"], m[s]["f1"], m["gold"]))
            out.append((layer, "CoNLL F1 (mean of MUC, B-cubed, CEAF-e)", None, None, m["conll_f1"], m["gold"]))
            out.append((layer, "adjusted Rand index (in F1)", None, None, m["ari"], m["ari_claims"]))
        elif layer == "conflicts":
            if not m.get("scored", True):
                out.append((layer, f"not scored: {m['reason']}", None, None, None, m["predicted"]))
                continue
            r = m["micro"]
            out.append((layer, "detection (micro)", r["precision"], r["recall"], r["f1"], m["gold"]))
            for t, r in m["types"].items():
                out.append((layer, f"{t}", r["precision"], r["recall"], r["f1"], r["tp"] + r["fn"]))
    return out


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def table_text(layers: dict) -> str:
    rows = [("layer", "metric", "P", "R", "F1", "items")]
    rows += [(a, b, _fmt(p), _fmt(r), _fmt(f), str(n)) for a, b, p, r, f, n in summary_rows(layers)]
    widths = [max(len(r[k]) for r in rows) for k in range(6)]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if k < 2 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def markdown_rows(layers: dict) -> list[str]:
    lines = ["| layer | metric | P | R | F1 | items |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {a} | {b} | {_fmt(p)} | {_fmt(r)} | {_fmt(f)} | {n} |" for a, b, p, r, f, n in summary_rows(layers)]
    return lines


# ---------------------------------------------------------------- baselines

CLAIM_SIMILARITY = 0.5  # TF-IDF cosine at or above which two claims are linked by the cluster baseline
_AFTER_CUE = re.compile(r"\s*(?:that\b\s*)?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|[\"'”’)\]]|$)|\n")


def claims_after_cues(text: str, cues: list[dict], inv: Inventory) -> list[dict]:
    """The rule claim baseline: for each cue span, one claim from the end of the cue (after white space and a
    following "that") to the end of its sentence (before the final punctuation or the line break), factuality
    asserted. Cues with nothing after them in their sentence give no claim; identical spans are given once."""
    out, seen = [], set()
    for cue in sorted(cues, key=lambda c: (c["start"], c["end"])):
        start = _AFTER_CUE.match(text, cue["end"]).end()
        stop = _SENTENCE_END.search(text, cue["end"])
        end = stop.start() if stop else len(text)
        while end > start and text[end - 1].isspace():
            end -= 1
        if end <= start or (start, end) in seen:
            continue
        seen.add((start, end))
        out.append({"start": start, "end": end, "text": text[start:end], "label": inv.role("claim_label"),
                    "factuality": inv.value_role("factuality", "asserted"), "cluster_id": None})
    return out


def tfidf_clusters(texts: list[str], threshold: float = CLAIM_SIMILARITY) -> list[str]:
    """The cluster baseline: a cluster id per text, the connected components of the graph linking texts whose
    TF-IDF cosine similarity (scikit-learn's TfidfVectorizer, default settings) is at least `threshold`.
    Ids are numbered in the order of the texts' first members, so the same texts give the same ids."""
    if not texts:
        return []
    import numpy as np
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        matrix = TfidfVectorizer().fit_transform(texts)
    except ValueError:  # no word in any text: every text stands alone
        return [f"tfidf-{n}" for n in range(len(texts))]
    sim = (matrix @ matrix.T).toarray()  # rows are L2-normalised: the product is the cosine
    _, labels = connected_components(sim >= threshold - 1e-12, directed=False)
    first: dict[int, int] = {}
    for label in labels.tolist():
        first.setdefault(label, len(first))
    return [f"tfidf-{first[label]}" for label in np.asarray(labels).tolist()]


def baselines(root: Path) -> dict:
    """The figures of the project's own baselines, measured now; writes nothing.

    - the rule-based pre-annotator (pactnews.annotations.preannotate), leave one document out: entities, timexes and CUE
      spans of each document predicted with a lexicon built from the other documents' gold;
    - the conflict detectors (pactnews.annotations.conflicts) over the gold claims: every finding is a predicted conflict,
      scored against the kept conflicts of annotations/tables/conflicts.json;
    - claims after cues (claims_after_cues): one asserted claim from each pre-annotated cue (the same
      leave-one-document-out cues) to the end of its sentence, scored as the claims layer;
    - TF-IDF clusters (tfidf_clusters) over the gold claims: only the grouping is predicted, scored as
      claim_clusters.
    """
    gold = Gold(root)
    inv = gold.inv
    corpus = [r for r in read_corpus(gold.layout) if r["document_id"] in gold.docs]
    predicted, _, version = predict_corpus(corpus, gold.entity_table, gold.docs, inv, leave_one_out=True)
    layers = {}
    for layer in ("entities", "timexes"):
        pred = {d: [dict(s) for s in doc[layer]] for d, doc in predicted.items()}
        layers.update(score_layer(layer, gold, pred))
    cue = inv.role("cue_label")
    pred = {d: [dict(s) for s in doc["attributions"] if s["label"] == cue] for d, doc in predicted.items()}
    layers.update(score_layer("attributions", gold, pred, labels=[cue]))
    pred = {d: claims_after_cues(gold.texts[d], pred.get(d, []), inv) for d in sorted(gold.docs)}
    layers["claims"] = score_layer("claims", gold, pred)["claims"]
    gold_claims = gold_spans(gold, "claims")
    order = [(d, k) for d in sorted(gold_claims) for k in range(len(gold_claims[d]))]
    ids = tfidf_clusters([gold.texts[d][gold_claims[d][k]["start"]:gold_claims[d][k]["end"]] for d, k in order])
    pred = {d: [dict(c, cluster_id=None) for c in spans] for d, spans in gold_claims.items()}
    for (d, k), cid in zip(order, ids):
        pred[d][k]["cluster_id"] = cid
    layers["claim_clusters"] = score_layer("claims", gold, pred)["claim_clusters"]
    claims = [c for doc in gold.docs.values() for c in conflict_inputs(doc, gold.entity_table, inv)]
    offsets = {(c["document_id"], c["id"]): (c["start"], c["end"]) for c in claims}
    findings = detect(claims, inv)
    pred_conflicts = [{"type": f.type, "members": [(m.document_id, *offsets[(m.document_id, m.claim_id)])
                                                   for m in f.members]} for f in findings]
    layers.update(score_layer("conflicts", gold, pred_conflicts))
    return {"format": FORMAT, "schema_version": inv.schema_version, "documents": sorted(gold.docs),
            "baselines": {"preannotator": {"model_version": version, "mode": "leave-one-document-out",
                                           "layers": ["entities", "timexes", "attributions"]},
                          "conflict_detectors": {"rules": sorted({f.rule for f in findings}),
                                                 "findings": len(findings), "layers": ["conflicts"]},
                          "claims_after_cues": {"cues": "preannotator, leave-one-document-out",
                                                "factuality": inv.value_role("factuality", "asserted"),
                                                "layers": ["claims"]},
                          "tfidf_clusters": {"threshold": CLAIM_SIMILARITY, "input": "gold claims",
                                             "clusters": len(set(ids)), "layers": ["claim_clusters"]}},
            "layers": layers}


def baseline_markdown(report: dict) -> str:
    """A Markdown table of a baselines() report, and a sentence per baseline on what it is and its optimism."""
    pre = report["baselines"]["preannotator"]
    det = report["baselines"]["conflict_detectors"]
    lines = markdown_rows(report["layers"])
    lines += [
        "",
        f"The pre-annotator ({pre['model_version']}) is the rule-based tagger of `pactnews preannotate`: an "
        "entity ruler over a lexicon of known surface forms, number patterns, TIMEX3 regular expressions "
        "normalised by dateparser against the document creation time, and a cue-word matcher; it is run "
        f"{pre['mode']}, but its lexicon is still drawn from this corpus (the entity table and the other "
        "documents' gold mentions and cues of the same story), so its figures are optimistic for unseen text.",
        f"The conflict detectors ({', '.join(det['rules']) or 'none'}) are run over the gold claims with their "
        f"gold clusters, sources, times and figures, and each of their {det['findings']} findings counts as a "
        "predicted conflict; their input is the gold itself and the kept conflicts they found were reviewed from "
        "their own output, so recall on detected conflicts is optimistic and only conflicts annotated by reading "
        "can be missed.",
    ]
    if "claims_after_cues" in report["baselines"]:
        lines.append(
            "The claims baseline predicts, for each cue the pre-annotator finds (run as above), one claim from the "
            "end of the cue (after a following \"that\") to the end of its sentence, with factuality "
            f"{report['baselines']['claims_after_cues']['factuality']}; it depends on the pre-annotator's cue "
            "lexicon drawn from this corpus, so it is optimistic for unseen text, and it misses claims stated "
            "before their cue or without one.")
    if "tfidf_clusters" in report["baselines"]:
        tf = report["baselines"]["tfidf_clusters"]
        lines.append(
            "The claim_clusters baseline groups the gold claims whose TF-IDF cosine similarity is at least "
            f"{tf['threshold']} (connected components, {tf['clusters']} clusters); it sees the gold claim spans, "
            "so it measures grouping alone and is optimistic for a system that must also find the claims.")
    conflicts = report["layers"].get("conflicts", {})
    if conflicts.get("scored") is False:
        lines.append(f"The conflicts are not scored: {conflicts['reason']}.")
    return "\n".join(lines) + "\n"
