"""`pactnews adjudication-log`: what the gold decided at every item of the three-way comparison, and why.

The comparison (annotations/reports/threeway.json, written by `pactnews agreement --gold`)
lists every span of pass A, pass B and the previous gold G. The adjudication re-decided all of
them: it settled the items the sources disagree on, then swept every span, agreed ones included,
against the guidelines. This module compares the new gold with each item, classifies it, and
checks that every decided item, every agreed item the sweep changed and every new span has a
logged rule and reason (annotations/passes/adjudicated/decisions/*.yaml), so that no decision
goes unexplained. It writes annotations/ADJUDICATION.md and annotations/reports/adjudication.json.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml

from pactnews.annotations import standoff
from pactnews.evaluation.agreement import SPAN_LAYERS, span_views, threeway
from pactnews.inventory import load_inventory
from pactnews.repo import Layout
from pactnews.files import dump_json

SOURCES = ("A", "B", "G")
GOLD = "gold"
# Cross-document ids are judged as clusterings, not per span (agreement.json; the cluster decisions).
IDENTITY = ("entity_id", "cluster_id")
# What the previous gold never decided: schema 2.0.0 added these; its files carry migration defaults.
NOT_IN_G = ("mod", "author_stance", "modality", "time_id", "quantity_high", "quantity_approximation",
            "quantity_unit", "quantity_surface_unit")
KINDS = ("agreed, kept", "agreed, changed by the sweep", "decided", "new in the gold")


class AdjudicationError(ValueError):
    pass


def _view(attrs: dict | None, source: str) -> dict | None:
    if attrs is None:
        return None
    skip = IDENTITY + (NOT_IN_G if source == "G" else ())
    return {k: v for k, v in attrs.items() if k not in skip}


def _same(x: dict | None, y: dict | None) -> bool:
    """x equals y on the attributes both carry (G carries fewer)."""
    if x is None or y is None:
        return x is None and y is None
    keys = set(x) & set(y)
    return all(json.dumps(x[k], sort_keys=True) == json.dumps(y[k], sort_keys=True) for k in keys)


def key_of(item: dict) -> str:
    """How a decision names an item: `document layer start:end LABEL`."""
    return f"{item['document_id']} {item['layer']} {item['start']}:{item['end']} {item['label']}"


def classify(sources: dict[str, dict[str, dict]], gold: dict[str, dict], inv) -> list[dict]:
    """Every item of the sources and the gold, with its kind and the sources the gold agrees with."""
    out = []
    for item in threeway({**sources, GOLD: gold}, inv):
        views = {n: _view(item["sources"][n], n) for n in SOURCES}
        mine = _view(item["sources"][GOLD], GOLD)
        present = [n for n in SOURCES if views[n] is not None]
        agreed = len(present) == len(SOURCES) and all(_same(views[SOURCES[0]], views[n]) for n in SOURCES)
        follows = [n for n in SOURCES if _same(views[n], mine)]
        if not present:
            kind = "new in the gold"
        elif agreed:
            kind = "agreed, kept" if _same(views["A"], mine) else "agreed, changed by the sweep"
        else:
            kind = "decided"
        out.append({"key": key_of(item), "document_id": item["document_id"], "layer": item["layer"],
                    "text": item["text"], "kind": kind, "in_gold": mine is not None, "follows": follows,
                    "differs": [k for k in item["differs"] if k not in IDENTITY]})
    return out


def read_decisions(folder: Path, items_3way: list[dict]) -> tuple[dict[str, dict], list[str]]:
    """decisions/*.yaml -> {item key: decision}; entries cite a three-way item id or a new span."""
    out, problems = {}, []
    for path in sorted(folder.glob("*.yaml")):
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            problems.append(f"{path}: not YAML ({exc})")
            continue
        doc = path.stem
        for n, e in enumerate(entries if isinstance(entries, list) else [], 1):
            if not isinstance(e, dict) or not e.get("rule") or not str(e.get("reason") or "").strip():
                problems.append(f"{path}: entry {n} needs a rule and a reason, found {e!r}")
                continue
            if e.get("item") == "new":
                span = str(e.get("span", "")).split(" ")
                key = f"{doc} {' '.join(span[:3])}" if len(span) >= 3 else None
            elif isinstance(e.get("item"), int) and 0 <= e["item"] < len(items_3way):
                key = key_of(items_3way[e["item"]])
            else:
                key = None
            if key is None:
                problems.append(f"{path}: entry {n} names no item ({e.get('item')!r} {e.get('span')!r})")
                continue
            out[key] = {"rule": str(e["rule"]), "reason": " ".join(str(e["reason"]).split())}
    return out, problems


def log(layout: Layout) -> tuple[dict, str]:
    """(adjudication.json, ADJUDICATION.md); AdjudicationError when an item lacks its logged decision."""
    inv = load_inventory(layout.labels)
    report = json.loads((layout.annotations / "reports" / "threeway.json").read_text(encoding="utf-8"))
    folders = {n: layout.root / report["sources"][n] for n in SOURCES}
    sources = {n: standoff.read_all(p) for n, p in folders.items()}
    docs = sorted({d for s in sources.values() for d in s})
    gold = {d: standoff.read(layout.annotation_file(d)) for d in docs}
    items = classify(sources, gold, inv)
    decisions, problems = read_decisions(layout.passes / "adjudicated" / "decisions", report["items"])
    needed = [i for i in items if i["kind"] != "agreed, kept"]
    missing = [i["key"] for i in needed if i["key"] not in decisions]
    if missing or problems:
        raise AdjudicationError("\n".join(problems + [f"no logged decision for {k}" for k in missing]))
    clusters = _cluster_decisions(layout)
    counts = {layer: Counter() for layer in SPAN_LAYERS}
    rules: Counter = Counter()
    for i in items:
        c = counts[i["layer"]]
        c["items"] += 1
        c[i["kind"]] += 1
        if i["kind"] == "decided":
            c["gold as " + ("+".join(i["follows"]) if i["follows"] else "none of them")] += 1
        if i["kind"] != "agreed, kept":
            rules[decisions[i["key"]]["rule"]] += 1
    summary = {
        "format": "pactnews-adjudication", "version": 1,
        "sources": report["sources"], "documents": docs,
        "layers": {layer: dict(sorted(c.items())) for layer, c in counts.items()},
        "decisions": sum(1 for i in items if i["kind"] != "agreed, kept"),
        "agreed_changed": sum(1 for i in items if i["kind"] == "agreed, changed by the sweep"),
        "rules": dict(sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))),
        "cluster_decisions": len(clusters),
    }
    return summary, _markdown(summary, items, decisions, clusters)


def _cluster_decisions(layout: Layout) -> list[dict]:
    path = layout.passes / "adjudicated" / "cluster_decisions.yaml"
    if not path.is_file():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    bad = [e for e in entries if not isinstance(e, dict) or not e.get("cluster") or not e.get("rule")
           or not str(e.get("reason") or "").strip()]
    if bad:
        raise AdjudicationError(f"{path}: entries need cluster, rule and reason, found {bad[:3]!r}")
    return entries


def _cell(v) -> str:
    return " ".join(str(v).split()).replace("|", "\\|")


def _markdown(summary: dict, items: list[dict], decisions: dict, clusters: list[dict]) -> str:
    kinds_seen = sorted({k for c in summary["layers"].values() for k in c if k.startswith("gold as ")})
    lines = [
        "# Adjudication log, release 0.2.0", "",
        "<!-- Generated by `pactnews adjudication-log` from annotations/reports/threeway.json, the gold and "
        "annotations/passes/adjudicated/; do not edit. -->", "",
        "Every span of pass A, pass B and the 0.1.0 gold (G) at its offsets, compared with the 0.2.0 gold. "
        "Entity and cluster ids are left out of the comparison (they are decided as clusterings, below); for "
        "G only the attributes it decided are compared. An item is **agreed** when A, B and G all have it with "
        "the same attributes; the consistency sweep re-read every agreed item against the guidelines and "
        "changed some. Every item that is not an agreed item kept as it was has a logged rule and reason.", "",
        f"{summary['decisions']} logged decisions; the sweep changed {summary['agreed_changed']} agreed items; "
        f"{summary['cluster_decisions']} cluster decisions.", "",
        "| layer | items | agreed, kept | agreed, changed by the sweep | decided | new in the gold | "
        + " | ".join(kinds_seen) + " |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(kinds_seen),
    ]
    for layer, c in summary["layers"].items():
        lines.append(f"| {layer} | {c.get('items', 0)} | " + " | ".join(str(c.get(k, 0)) for k in KINDS)
                     + " | " + " | ".join(str(c.get(k, 0)) for k in kinds_seen) + " |")
    lines += ["", "## Rules cited", "", "| rule | decisions |", "|---|---:|"]
    lines += [f"| {r} | {n} |" for r, n in summary["rules"].items()]
    lines += ["", "## Decisions", "", "| item | kind | gold as | differs | text | rule | reason |",
              "|---|---|---|---|---|---|---|"]
    for i in items:
        if i["kind"] == "agreed, kept":
            continue
        d = decisions[i["key"]]
        follows = "+".join(i["follows"]) or ("(dropped)" if not i["in_gold"] else "none")
        text = i["text"] if len(i["text"]) <= 80 else i["text"][:79] + "…"
        lines.append(f"| `{i['key']}` | {i['kind']} | {follows} | {', '.join(i['differs'])} | {_cell(text)} | "
                     f"{_cell(d['rule'])} | {_cell(d['reason'])} |")
    lines += ["", "## Cluster decisions", ""]
    if clusters:
        lines += ["| cluster | rule | reason |", "|---|---|---|"]
        lines += [f"| `{_cell(e['cluster'])}` | {_cell(e['rule'])} | {_cell(e['reason'])} |" for e in clusters]
    else:
        lines.append("None recorded.")
    return "\n".join(lines) + "\n"


def log_files(layout: Layout) -> tuple[dict, dict[Path, bytes]]:
    """(the summary, what `pactnews adjudication-log` writes as path -> bytes: annotations/ADJUDICATION.md and
    annotations/reports/adjudication.json); AdjudicationError when an item lacks its logged decision."""
    summary, text = log(layout)
    return summary, {layout.annotations / "ADJUDICATION.md": text.encode("utf-8"),
                     layout.annotations / "reports" / "adjudication.json": dump_json(summary).encode("utf-8")}
