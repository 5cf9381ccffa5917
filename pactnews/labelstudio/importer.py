"""Label Studio export (file or live project) -> canonical annotations, checked before anything is written.

One annotation on a task becomes the gold of its document. Several
annotations on a task are kept as separate passes under
annotations/passes/labelstudio-<pseudonym>/, their agreement is computed and a
disagreement report is written for adjudication; the gold of that document
is left as it is. Annotators appear only as pseudonyms (a salted hash of the
Label Studio identity): no email, user id or timestamp is written.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .. import standoff
from ..inventory import Inventory
from ..repo import Layout, dump_json, sha256_text
from .convert import Issue, from_result

SALT_ENV = "PACTNEWS_ANNOTATOR_SALT"
PASS_PREFIX = "labelstudio-"
REPORT_NAME = "labelstudio-disagreements.json"


# ------------------------------------------------------------------ pseudonyms

def annotator_identity(annotation: dict) -> str:
    """The Label Studio identity of an annotation's author (used only as input to the pseudonym)."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    if who is None:
        return "unknown"
    return f"user:{who}"


def pseudonym(identity: str, salt: bytes) -> str:
    """A stable pseudonym: the same identity and salt always give the same name."""
    return PASS_PREFIX + hmac.new(salt, identity.encode("utf-8"), hashlib.sha256).hexdigest()[:10]


def salt_path(layout: Layout) -> Path:
    return layout.root / "labelstudio-data" / "annotator-salt"


def annotator_salt(layout: Layout) -> tuple[bytes, dict[Path, bytes]]:
    """The pseudonym salt and, when it has to be created, the file to store it in.

    From $PACTNEWS_ANNOTATOR_SALT, else from labelstudio-data/annotator-salt (git-ignored,
    next to the Label Studio database whose user ids it hides); created on first use.
    """
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode("utf-8"), {}
    path = salt_path(layout)
    if path.is_file():
        return path.read_bytes().strip(), {}
    salt = secrets.token_hex(32).encode("ascii")
    return salt, {path: salt + b"\n"}


# ------------------------------------------------------------------ reading an export

def read_export(path: Path) -> list[dict]:
    """A Label Studio JSON export: a list of tasks (a single task object is accepted too)."""
    raw = Path(path).read_bytes()
    try:
        data = orjson.loads(raw)  # an export of a large project is hundreds of MB: orjson reads it ~3x faster
    except orjson.JSONDecodeError:
        try:  # what orjson refuses gets json's reading (NaN, huge integers) and json's message
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a Label Studio JSON export: {exc}") from exc
    if isinstance(data, dict) and "data" in data:
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: a Label Studio JSON export is a list of tasks, found {type(data).__name__}")
    return data


# ------------------------------------------------------------------ the plan

@dataclass
class ImportPlan:
    files: dict[Path, bytes] = field(default_factory=dict)
    issues: list = field(default_factory=list)  # convert.Issue and validation incidents
    gold: dict[str, dict] = field(default_factory=dict)  # document id -> new gold document
    passes: dict[str, dict[str, dict]] = field(default_factory=dict)  # pseudonym -> docs
    agreement: dict[str, dict] = field(default_factory=dict)  # document id -> report entry
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list:
        return [i for i in self.issues if _severity(i) == "error"]

    @property
    def warnings(self) -> list:
        return [i for i in self.issues if _severity(i) != "error"]


def _severity(incident) -> str:
    sev = str(getattr(incident, "severity", "error")).lower()
    return "error" if sev in ("error", "fatal") else "warning"


def _first_difference(a: str, b: str) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"first difference at character {i}: expected {a[max(0, i - 20):i + 20]!r}, found {b[max(0, i - 20):i + 20]!r}"


def plan_import(tasks: list[dict], corpus: list[dict], gold: dict[str, dict], inv: Inventory, layout: Layout,
                salt: bytes, source: str) -> ImportPlan:
    """Everything an import would write, and every problem found (pure: no disk access)."""
    plan = ImportPlan()
    by_id = {r["document_id"]: r for r in corpus}
    seen_docs: dict[str, object] = {}
    per_doc: dict[str, list[tuple[str, dict]]] = {}
    for k, task in enumerate(tasks):
        task_ref = task.get("id", f"#{k}") if isinstance(task, dict) else f"#{k}"
        where = {"file": source, "task": task_ref}
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            plan.issues.append(Issue("error", "malformed-task", "a task must be an object with a 'data' object; "
                                     "export with Export > JSON (JSON-MIN drops region ids and relations)",
                                     None, None, where))
            continue
        data = task["data"]
        doc_id = data.get("document_id")
        if doc_id not in by_id:
            plan.issues.append(Issue("error", "unknown-document", f"data.document_id {doc_id!r} is not a corpus "
                                     f"document; expected one of {sorted(by_id)}", None, None, where))
            continue
        if doc_id in seen_docs:
            plan.issues.append(Issue("error", "duplicate-task", f"document {doc_id} is in tasks {seen_docs[doc_id]} "
                                     f"and {task_ref}; keep one task per document", doc_id, None, where))
            continue
        seen_docs[doc_id] = task_ref
        rec = by_id[doc_id]
        text = rec["text"]
        found_text = data.get("text")
        if found_text != text:
            detail = _first_difference(text, found_text) if isinstance(found_text, str) else f"found {found_text!r}"
            plan.issues.append(Issue("error", "text-drift", f"the task text (sha256 "
                                     f"{sha256_text(found_text) if isinstance(found_text, str) else None}) is not the "
                                     f"clean text corpus/clean/{doc_id}.txt (sha256 {rec['text_sha256']}); {detail}",
                                     doc_id, None, where))
            continue
        if data.get("text_sha256") not in (None, rec["text_sha256"]):
            plan.issues.append(Issue("error", "text-drift", f"data.text_sha256 expected {rec['text_sha256']}, found "
                                     f"{data.get('text_sha256')}", doc_id, None, where))
            continue
        kept: list[tuple[str, dict]] = []
        for j, ann in enumerate(task.get("annotations") or []):
            if not isinstance(ann, dict):
                plan.issues.append(Issue("error", "malformed-annotation", f"annotation {j} is not an object",
                                         doc_id, None, where))
                continue
            if ann.get("was_cancelled"):
                plan.notes.append(f"{doc_id}: a skipped (cancelled) annotation is ignored")
                continue
            name = pseudonym(annotator_identity(ann), salt)
            ann_where = {**where, "annotator": name}
            doc, found = from_result(ann.get("result"), text, doc_id, rec["text_sha256"], inv, ann_where)
            plan.issues.extend(found)
            if any(n == name for n, _ in kept):
                plan.issues.append(Issue("error", "annotator-twice", "one annotator submitted two annotations on this "
                                         "task; delete one in Label Studio", doc_id, None, ann_where))
                continue
            kept.append((name, doc))
        if kept:
            per_doc[doc_id] = kept
    for doc_id, kept in sorted(per_doc.items()):
        if len(kept) == 1:
            plan.gold[doc_id] = kept[0][1]
        else:
            for name, doc in kept:
                plan.passes.setdefault(name, {})[doc_id] = doc
            plan.agreement[doc_id] = _agreement(doc_id, kept, inv)
    for doc_id, doc in plan.gold.items():
        plan.files[layout.annotation_file(doc_id)] = standoff.dumps(doc).encode("utf-8")
    for name, docs in plan.passes.items():
        for doc_id, doc in docs.items():
            plan.files[layout.passes / name / f"{doc_id}.json"] = standoff.dumps(doc).encode("utf-8")
    if plan.agreement:
        report = {"source": "labelstudio", "documents": plan.agreement}
        plan.files[layout.passes / REPORT_NAME] = dump_json(report).encode("utf-8")
    return plan


def _agreement(doc_id: str, kept: list[tuple[str, dict]], inv: Inventory) -> dict:
    """Pairwise agreement and the disagreements of several annotations of one document."""
    try:
        from ..agreement import compare, disagreements
    except ImportError:  # the agreement module is optional for an import
        compare = disagreements = None
    pairs = []
    ordered = sorted(kept, key=lambda t: t[0])
    for i, (a, doc_a) in enumerate(ordered):
        for b, doc_b in ordered[i + 1:]:
            entry = {"a": a, "b": b}
            if compare is not None:
                entry["agreement"] = compare({doc_id: doc_a}, {doc_id: doc_b}, inv)
                entry["disagreements"] = disagreements({doc_id: doc_a}, {doc_id: doc_b}, inv)
            pairs.append(entry)
    return {"annotators": [n for n, _ in ordered], "pairs": pairs}


# ------------------------------------------------------------------ validation

def validate_plan(plan: ImportPlan, corpus: list[dict], gold: dict[str, dict], entities: dict, clusters: dict,
                  inv: Inventory) -> bool:
    """Run pactnews.validate over the gold as it would be after the import, and over each pass.

    Returns False when the validator is not available (the import then relies
    on the checks of this module alone).
    """
    try:
        from ..validate import validate_annotations
    except ImportError:
        return False
    texts = {r["document_id"]: r["text"] for r in corpus}
    new_gold = {**gold, **plan.gold}
    if plan.gold:
        plan.issues.extend(validate_annotations(new_gold, texts, entities, clusters, inv,
                                                {d: f"annotations/{d}.json" for d in new_gold}))
    for name, docs in sorted(plan.passes.items()):
        plan.issues.extend(validate_annotations(docs, texts, entities, clusters, inv,
                                                {d: f"annotations/passes/{name}/{d}.json" for d in docs}))
    return True


# ------------------------------------------------------------------ readable diff

def _describe(layer: str, rec: dict) -> str:
    if layer == "relations":
        return f"{rec['id']} {rec['from_id']} -{rec['label']}-> {rec['to_id']}"
    attrs = " ".join(f"{k}={rec[k]}" for k in standoff.FIELDS[layer][5:] if rec.get(k) is not None)
    return f"{rec['id']} [{rec['start']}:{rec['end']}] {rec['label']} {rec['text']!r}" + (f" {attrs}" if attrs else "")


def describe_changes(old: dict | None, new: dict) -> list[str]:
    """Added (+), removed (-) and changed (~) records of one document, spans matched by id,
    relations by (from, type, to)."""
    old = old or standoff.empty(new["document_id"], new["text_sha256"])
    lines = []
    if old.get("text_sha256") != new.get("text_sha256"):
        lines.append(f"  ~ text_sha256 {old.get('text_sha256')} -> {new.get('text_sha256')}")
    for layer in standoff.LAYERS:
        key = (lambda r: (r["from_id"], r["label"], r["to_id"])) if layer == "relations" else (lambda r: r["id"])
        a = {key(r): r for r in old.get(layer, [])}
        b = {key(r): r for r in new.get(layer, [])}
        def position(k, a=a, b=b, layer=layer):
            r = b.get(k) or a.get(k)
            return (r["from_id"], r["label"], r["to_id"]) if layer == "relations" else (r["start"], -r["end"], r["id"])

        for k in sorted(set(a) | set(b), key=position):
            x, y = a.get(k), b.get(k)
            if x is None:
                lines.append(f"  + {layer} {_describe(layer, y)}")
            elif y is None:
                lines.append(f"  - {layer} {_describe(layer, x)}")
            else:
                fields = [f for f in standoff.FIELDS[layer] if x.get(f) != y.get(f)]
                if fields:
                    what = ", ".join(f"{f}: {x.get(f)!r} -> {y.get(f)!r}" for f in fields)
                    lines.append(f"  ~ {layer} {_describe(layer, y)}: {what}")
    return lines


def _span_figures(report: dict) -> dict:
    """layer -> span F1 figures of an agreement report (report format 2: "spans"; format 1: "layers")."""
    if isinstance(report.get("spans"), dict):
        return report["spans"]
    return {layer: body.get("spans", {}) for layer, body in (report.get("layers") or {}).items()}


def describe_plan(plan: ImportPlan, gold: dict[str, dict]) -> list[str]:
    lines = []
    for doc_id in sorted(plan.gold):
        changes = describe_changes(gold.get(doc_id), plan.gold[doc_id])
        plus = sum(line.startswith("  +") for line in changes)
        minus = sum(line.startswith("  -") for line in changes)
        tilde = sum(line.startswith("  ~") for line in changes)
        state = "new gold" if doc_id not in gold else ("unchanged" if not changes else "gold updated")
        lines.append(f"{doc_id}: {state} (+{plus} -{minus} ~{tilde})")
        lines += changes
    for doc_id, entry in sorted(plan.agreement.items()):
        lines.append(f"{doc_id}: {len(entry['annotators'])} annotations ({', '.join(entry['annotators'])}); "
                     "gold left as it is, passes and disagreement report written for adjudication")
        for pair in entry["pairs"]:
            if "disagreements" in pair:
                f1 = {layer: body.get("ALL", {}).get("strict", {}).get("f1")
                      for layer, body in _span_figures(pair["agreement"]).items()}
                lines.append(f"  {pair['a']} vs {pair['b']}: {len(pair['disagreements'])} disagreements; strict F1 {f1}")
    return lines
