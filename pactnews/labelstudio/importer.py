"""Label Studio export (file or live project) -> canonical annotations, checked before anything is written.

One annotation on a task becomes the gold of its document. Several
annotations on a task are kept as separate passes under
annotations/passes/labelstudio-<pseudonym>/, their agreement per layer is
computed (pactnews.evaluation.agreement) and a disagreement report naming the
Label Studio annotation and region ids is written for adjudication
(annotations/reports/labelstudio-disagreements.json and .md); the gold of that
document is left as it is. An annotator with two annotations on one task is
told which annotation id to delete, and nothing is written until then. Annotators appear only as pseudonyms (a salted hash of the
Label Studio identity): no email, user id or timestamp is written.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from pactnews.annotations import standoff, tables
from pactnews.evaluation.agreement import AgreementError, compare, markdown_table, threeway
from pactnews.validate.documents import validate_annotations
from ..inventory import Inventory
from ..repo import Layout
from ..files import dump_json, sha256_text
from .config import PROPOSALS, REFERENCES
from .convert import Issue, add_proposals, describe_row, from_result, read_proposals
from .merge import count_spans, dump_state, highest_ids, state_path, three_way, too_many, two_way_deletions

SALT_ENV = "PACTNEWS_ANNOTATOR_SALT"
PASS_PREFIX = "labelstudio-"
REPORT_NAME = "labelstudio-disagreements.json"  # in annotations/reports/, with a .md beside it
REPORT_FORMAT = "pactnews-labelstudio-disagreements"
REPORT_VERSION = 1
SHARE_PCT = 20


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

MAX_DEPTH = 64  # a Label Studio export nests about 8 deep; anything far deeper is hostile or broken


def read_export(path: Path) -> list[dict]:
    """A Label Studio JSON export file: a list of tasks (a single task object is accepted too)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    return parse_export(raw, str(path))


def parse_export(raw: bytes, source: str) -> list[dict]:
    """Parse and shape-check the bytes of a JSON export; every problem is a ValueError of one line."""
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark (some editors write one): harmless
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not UTF-8 (byte {exc.start} is {raw[exc.start:exc.start + 1]!r}); "
                         "export again with Export > JSON") from exc
    try:
        data = orjson.loads(raw)  # an export of a large project is hundreds of MB: orjson reads it ~3x faster
    except orjson.JSONDecodeError as first:
        if "recursion" in str(first).lower():
            raise ValueError(f"{source}: not a Label Studio JSON export: nested too deeply") from None
        try:  # what orjson refuses gets json's reading (NaN, huge integers, lone surrogates) and json's message
            data = json.loads(text)
        except RecursionError:
            raise ValueError(f"{source}: not a Label Studio JSON export: nested too deeply") from None
        except ValueError as exc:
            raise ValueError(f"{source}: not a Label Studio JSON export: {exc}") from None
    _check_shape(data, source)
    if isinstance(data, dict) and "data" in data:
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{source}: a Label Studio JSON export is a list of tasks, found {type(data).__name__}")
    return data


def _check_shape(data, source: str) -> None:
    """No nesting deeper than MAX_DEPTH, no lone surrogate in any string (walked without recursion)."""
    stack = [(data, "$", 0)]
    while stack:
        obj, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"{source}: not a Label Studio JSON export: nested more than {MAX_DEPTH} deep at {where}")
        if isinstance(obj, str):
            _check_string(obj, source, where)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                _check_string(k, source, where)
                stack.append((v, f"{where}.{k}" if k.isidentifier() else f"{where}[{k!r}]", depth + 1))
        elif isinstance(obj, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj))


def _check_string(s: str, source: str, where: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{source}: a lone surrogate (\\u{ord(s[exc.start]):04x}) in the string at {where}; "
                         "not text Label Studio writes; export again") from None


# ------------------------------------------------------------------ the plan

@dataclass
class ImportPlan:
    files: dict[Path, bytes] = field(default_factory=dict)
    issues: list = field(default_factory=list)  # convert.Issue and validation incidents
    gold: dict[str, dict] = field(default_factory=dict)  # document id -> new gold document
    passes: dict[str, dict[str, dict]] = field(default_factory=dict)  # pseudonym -> docs
    agreement: dict[str, dict] = field(default_factory=dict)  # document id -> its disagreements (report entry)
    pairs: list[dict] = field(default_factory=list)  # agreement of each pair of annotators over their documents
    notes: list[str] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)  # what the import deletes (listed in the summary)
    untouched: list[str] = field(default_factory=list)  # documents Label Studio did not change: not rewritten
    merged: int = 0  # documents merged three-way against their recorded base
    converted: int = 0  # regions whose UTF-16 offsets were converted to code points
    proposals: list = field(default_factory=list)  # new table keys proposed in Label Studio (convert.Proposal)
    additions: list = field(default_factory=list)  # those that add a key to a table (see apply_proposals)
    table_files: dict = field(default_factory=dict)  # "entities"/"clusters" -> the table file

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
                salt: bytes, source: str, state: dict | None = None, allow_deletions: bool = False) -> ImportPlan:
    """Everything an import would write, and every problem found (pure: no disk access).

    A document with a recorded base (`state`, see merge.py) is merged three-way: only the annotator's
    changes are applied to its current file. A document without one is replaced by the annotation. Either
    way, an empty result, deleting more than a small share of the spans, or dropping relations whose ends
    remain is refused unless `allow_deletions`.
    """
    plan = ImportPlan()
    state = state or {}
    new_state = dict(state)
    by_id = {r["document_id"]: r for r in corpus}
    seen_docs: dict[str, object] = {}
    per_doc: dict[str, list[tuple[str, dict, dict]]] = {}
    if not isinstance(tasks, list):
        plan.issues.append(Issue("error", "malformed-export", f"a Label Studio JSON export is a list of tasks, "
                                 f"found {type(tasks).__name__}", None, None, {"file": source}))
        return plan
    for k, task in enumerate(tasks):
        task_ref = task.get("id", f"#{k}") if isinstance(task, dict) else f"#{k}"
        if not isinstance(task_ref, (str, int)) or isinstance(task_ref, bool):
            task_ref = f"#{k}"
        where = {"file": source, "task": task_ref}
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            plan.issues.append(Issue("error", "malformed-task", "a task must be an object with a 'data' object; "
                                     "export with Export > JSON (JSON-MIN drops region ids and relations)",
                                     None, None, where))
            continue
        data = task["data"]
        doc_id = data.get("document_id")
        if type(doc_id) is not str or doc_id not in by_id:
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
                                     f"{data.get('text_sha256')!r}", doc_id, None, where))
            continue
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            plan.issues.append(Issue("error", "malformed-annotation", f"annotations must be a list, found "
                                     f"{type(annotations).__name__}", doc_id, None, where))
            continue
        by_name: dict[str, list[tuple[int, dict]]] = {}
        for j, ann in enumerate(annotations):
            if not isinstance(ann, dict):
                plan.issues.append(Issue("error", "malformed-annotation", f"annotation {j} is not an object",
                                         doc_id, None, where))
                continue
            if ann.get("was_cancelled"):
                plan.notes.append(f"{doc_id}: a skipped (cancelled) annotation is ignored")
                continue
            by_name.setdefault(pseudonym(annotator_identity(ann), salt), []).append((j, ann))
        kept: list[tuple[str, dict, dict]] = []
        for name, submitted in by_name.items():
            keep, drop = _keep_latest(submitted)
            ann_where = {**where, "annotator": name, "annotation": _annotation_ref(keep, submitted)}
            if drop:
                plan.issues.append(_twice(name, keep, drop, submitted, doc_id, where))
            kept.append((name, keep, ann_where))
        if kept:
            per_doc[doc_id] = kept
            plan_predictions = [p for p in (task.get("predictions") or []) if isinstance(p, dict)] \
                if isinstance(task.get("predictions"), list) else []
            per_doc[doc_id] = [(n, a, {**w, "_predictions": plan_predictions}) for n, a, w in kept]
    for doc_id, kept in sorted(per_doc.items()):
        rec = by_id[doc_id]
        text, sha = rec["text"], rec["text_sha256"]
        if len(kept) > 1:
            converted, regions, annotation_ids = [], {}, {}
            for name, ann, ann_where in kept:
                ann_where = {k: v for k, v in ann_where.items() if k != "_predictions"}
                doc, found = from_result(ann.get("result"), text, doc_id, sha, inv, ann_where)
                plan.issues.extend(found)
                converted.append((name, doc))
                # the same result with Label Studio's region ids, for the disagreement report
                regions[name], _ = from_result(ann.get("result"), text, doc_id, sha, inv, ann_where, keep_ids=True)
                annotation_ids[name] = ann_where.get("annotation")
            for name, doc in converted:
                plan.passes.setdefault(name, {})[doc_id] = doc
            plan.agreement[doc_id] = _disagreements(doc_id, dict(converted), regions, annotation_ids,
                                                    seen_docs[doc_id], inv)
            continue
        ((name, ann, ann_where),) = kept
        predictions = ann_where.pop("_predictions")
        result = ann.get("result")
        entry = state.get(doc_id)
        if entry is not None and entry.get("text_sha256") != sha:
            plan.issues.append(Issue("error", "base-stale", f"the base recorded by `pactnews annotate` is over another "
                                     f"text (sha256 {entry.get('text_sha256')}, now {sha}); run `pactnews annotate` "
                                     "again after the text change", doc_id, None, ann_where))
            continue
        current = gold.get(doc_id)
        refusals: list[str] = []
        if entry is not None:
            theirs, found = from_result(result, text, doc_id, sha, inv, ann_where, keep_ids=True)
            plan.issues.extend(found)
            if any(i.severity == "error" for i in found):
                continue
            merge = three_way(entry["base"], theirs, current, entry, inv, sha)
            plan.merged += 1
            for conflict in merge.conflicts:
                plan.issues.append(Issue("error", "conflict", conflict + "; nothing written: resolve it in the "
                                         "repository file or in Label Studio, then pull again", doc_id, None, ann_where))
            deleted, base_spans = merge.deleted, merge.base_spans
            dropped, base_relations = merge.deleted_relations, merge.base_relations
            reference_relations = [tuple(r) for r in entry.get("prediction_relations") or []]
            theirs_relations = theirs["relations"]
            alive = {r["id"] for layer in standoff.SPAN_LAYERS for r in theirs[layer]}
            new_doc, touched = merge.doc, merge.touched
            new_state[doc_id] = merge.entry
        else:
            floor = _highest(current, inv)
            known = None if current is None else {layer: {r["id"] for r in current.get(layer, [])}
                                                  for layer in standoff.LAYERS}
            new_doc, found = from_result(result, text, doc_id, sha, inv, ann_where, floor=floor, known=known)
            plan.issues.extend(found)
            if any(i.severity == "error" for i in found):
                continue
            deleted, dropped = two_way_deletions(current, new_doc)
            base_spans, base_relations = count_spans(current), len((current or {}).get("relations", []))
            theirs_relations = new_doc["relations"]
            alive = {r["id"] for layer in standoff.SPAN_LAYERS for r in new_doc[layer]}
            reference_relations = []
            touched = current is None or standoff.dumps(new_doc) != standoff.dumps(current)
        plan.converted += sum(i.test_id == "offsets-utf16-converted" for i in found)
        # a pre-annotation submitted with its regions but without its relations (they are not carried over)
        for p in predictions:
            if isinstance(p.get("result"), list):
                for item in p["result"]:
                    if isinstance(item, dict) and item.get("type") == "relation" and isinstance(item.get("labels"), list) \
                            and item["labels"] and isinstance(item.get("from_id"), str) and isinstance(item.get("to_id"), str):
                        reference_relations.append((item["from_id"], str(item["labels"][0]), item["to_id"]))
        # in Label Studio's region ids: the pre-annotation names its regions by them
        raw_items = [i for i in result if isinstance(i, dict)] if isinstance(result, list) else []
        alive_ls = alive | {i.get("id") for i in raw_items if i.get("type") != "relation" and isinstance(i.get("id"), str)}
        theirs_relations = theirs_relations or [i for i in raw_items if i.get("type") == "relation"]
        kept_ends = [r for r in reference_relations if r[0] in alive_ls and r[2] in alive_ls]
        if kept_ends and not theirs_relations:
            refusals.append(f"the annotation keeps the regions of {len(kept_ends)} pre-annotated relation(s) but has "
                            "no relation at all (relations of a submitted prediction were dropped)")
        if isinstance(result, list) and not result and (base_spans or base_relations):
            refusals.append(f"the annotation is empty: it would delete all {base_spans} span(s) and {base_relations} "
                            "relation(s)")
        elif too_many(len(deleted), base_spans):
            refusals.append(f"it deletes {len(deleted)} of {base_spans} span(s) (more than {int(SHARE_PCT)}%)")
        if dropped and (too_many(len(dropped), base_relations) or not theirs_relations):
            refusals.append(f"it drops {len(dropped)} of {base_relations} relation(s) whose two ends remain")
        listing = [f"  would delete {d}" for d in deleted] + [f"  would drop relation {d}" for d in dropped]
        if refusals and not allow_deletions:
            plan.issues.append(Issue("error", "mass-deletion", "; ".join(refusals) + "; nothing written: pass "
                                     "--allow-deletions if this is meant", doc_id, None, ann_where))
            plan.deletions += [f"{doc_id}:"] + listing
            continue
        if deleted or dropped:
            plan.deletions += [f"{doc_id}:"] + [line.replace("would ", "") for line in listing]
        if new_doc is None or not touched or (current is not None and standoff.dumps(new_doc) == standoff.dumps(current)):
            plan.untouched.append(doc_id)
            continue
        plan.gold[doc_id] = new_doc
    collect_proposals(plan, per_doc, inv, layout)
    for doc_id, doc in plan.gold.items():
        plan.files[layout.annotation_file(doc_id)] = standoff.dumps(doc).encode("utf-8")
    for name, docs in plan.passes.items():
        for doc_id, doc in docs.items():
            plan.files[layout.passes / name / f"{doc_id}.json"] = standoff.dumps(doc).encode("utf-8")
    if plan.agreement:
        plan.pairs = _pair_agreement(plan.passes, plan.agreement, inv)
        report = {"format": REPORT_FORMAT, "version": REPORT_VERSION, "source": "labelstudio",
                  "pairs": plan.pairs, "documents": plan.agreement}
        plan.files[report_path(layout)] = dump_json(report).encode("utf-8")
        plan.files[report_path(layout).with_suffix(".md")] = report_markdown(plan.pairs, plan.agreement).encode("utf-8")
    if new_state != state:
        plan.files[state_path(layout)] = dump_state(new_state)
    return plan


def _highest(doc: dict | None, inv: Inventory) -> dict:
    return highest_ids(doc, inv)


# ------------------------------------------------------------------ several annotators

def _annotation_ref(ann: dict, submitted: list[tuple[int, dict]]):
    """An annotation's Label Studio id, or its position in the task when the export has no usable id."""
    ident = ann.get("id")
    if isinstance(ident, (int, str)) and not isinstance(ident, bool):
        return ident
    return f"#{next(j for j, a in submitted if a is ann)}"


def _keep_latest(submitted: list[tuple[int, dict]]) -> tuple[dict, list[dict]]:
    """(the annotation to keep, those to delete) of one annotator on one task: the latest is kept (the highest
    Label Studio id, which grows with every new annotation; the last in the export without ids)."""
    def order(item):
        j, ann = item
        ident = ann.get("id")
        return (1, ident, j) if isinstance(ident, int) and not isinstance(ident, bool) else (0, 0, j)

    ordered = sorted(submitted, key=order)
    return ordered[-1][1], [a for _, a in ordered[:-1]]


def _twice(name: str, keep: dict, drop: list[dict], submitted, doc_id: str, where: dict) -> Issue:
    refs = [_annotation_ref(a, submitted) for a in drop]
    kept_ref = _annotation_ref(keep, submitted)
    shown = ", ".join(map(str, sorted([kept_ref, *refs], key=str)))
    if kept_ref in refs:  # one id twice: a hand-edited export
        what = f"delete all but one of them (they share the id {kept_ref})"
    else:
        what = (f"delete annotation{'s' if len(refs) > 1 else ''} {', '.join(map(str, refs))} in Label Studio "
                f"(the older; {kept_ref} is kept), or delete {kept_ref} to keep "
                f"{'those' if len(refs) > 1 else refs[0]}")
    return Issue("error", "annotator-twice", f"annotator {name} submitted {len(submitted)} annotations ({shown}) on "
                 f"this task; one annotation per annotator and task: {what}, then pull again", doc_id, None,
                 {**where, "annotator": name, "annotation": refs[0]})


def _id_map(regions: dict, doc: dict) -> dict[tuple[str, str], str]:
    """(layer, Label Studio region id) -> the id of the same span in the pass file (both read from one result)."""
    out = {}
    for layer in standoff.SPAN_LAYERS:
        refs = {attribute for (lay, attribute) in REFERENCES if lay == layer}

        def key(rec):
            return json.dumps({k: v for k, v in rec.items() if k != "id" and k not in refs}, sort_keys=True,
                              ensure_ascii=False)

        pool: dict[str, list[str]] = {}
        for rec in doc.get(layer, []):
            pool.setdefault(key(rec), []).append(rec["id"])
        for rec in regions.get(layer, []):
            ids = pool.get(key(rec))
            if ids:
                out[(layer, rec["id"])] = ids.pop(0)
    return out


def _disagreements(doc_id: str, passes: dict[str, dict], regions: dict[str, dict], annotation_ids: dict,
                   task_ref, inv: Inventory) -> dict:
    """The spans of one document on which its annotators do not all agree (pactnews.evaluation.agreement's
    three-way items over the annotators), each naming the Label Studio annotation and region of every
    annotator and the span's id in that annotator's pass file."""
    names = sorted(passes)
    entry = {"task": task_ref, "annotators": names, "annotations": {n: annotation_ids.get(n) for n in names},
             "disagreements": []}
    ids = {n: _id_map(regions[n], passes[n]) for n in names}
    every = "=".join(names)
    for item in threeway({n: {doc_id: regions[n]} for n in names}, inv):
        if item["status"] == every:
            continue
        region = item.pop("ids")
        item["regions"] = {n: ({"annotation": annotation_ids.get(n), "region": region[n],
                                "pass_id": ids[n].get((item["layer"], region[n]))} if region[n] is not None else None)
                           for n in names}
        entry["disagreements"].append(item)
    return entry


def _pair_agreement(passes: dict[str, dict[str, dict]], documents: dict[str, dict], inv: Inventory) -> list[dict]:
    """Agreement of every pair of annotators over the documents both annotated (several annotations on a task),
    by pactnews.evaluation.agreement.compare: span F1 per layer, Krippendorff's alpha and Cohen's kappa per
    attribute, clusterings."""
    names = sorted(passes)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            docs = sorted(d for d, e in documents.items() if a in e["annotators"] and b in e["annotators"])
            if not docs:
                continue
            try:
                figures = compare({d: passes[a][d] for d in docs}, {d: passes[b][d] for d in docs}, inv)
            except AgreementError as exc:
                figures = {"error": str(exc)}
            out.append({"a": a, "b": b, "documents": docs, "agreement": figures})
    return out


def report_path(layout: Layout) -> Path:
    return layout.annotations / "reports" / REPORT_NAME


def _cell(value) -> str:
    if value is None:
        return "—"
    text = " / ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 100 else text[:97] + "..."


def report_markdown(pairs: list[dict], documents: dict[str, dict]) -> str:
    """The report for the adjudicator: the figures of every pair of annotators, then every disagreement with
    the Label Studio annotation and region ids to open."""
    lines = ["# Label Studio: agreement and disagreements between annotators", "",
             "Written by `pactnews pull` / `pactnews import-ls` when a task holds annotations by several annotators "
             "(pseudonyms; their passes are in `annotations/passes/<pseudonym>/`). The gold of those documents is "
             "left as it is until adjudicated. In Label Studio, open the task, pick the annotation by its id, and "
             "select the region by its id in the region list.", ""]
    for pair in pairs:
        lines += [f"## {pair['a']} (A) vs {pair['b']} (B) on {len(pair['documents'])} document(s)", ""]
        figures = pair["agreement"]
        if "spans" in figures:
            lines += [markdown_table(figures).rstrip("\n"), ""]
        elif "error" in figures:
            lines += [figures["error"], ""]
    total = sum(len(e["disagreements"]) for e in documents.values())
    lines += [f"## Disagreements: {total} span(s) on which the annotators do not all agree"]
    for doc_id, entry in sorted(documents.items()):
        names = entry["annotators"]
        shown = ", ".join(f"{n}: annotation {entry['annotations'][n]}" for n in names)
        lines += ["", f"### {doc_id} (task {entry['task']}; {shown})", ""]
        if not entry["disagreements"]:
            lines.append("All annotators agree on every span.")
            continue
        lines += ["| layer | offsets | label | text | status | differs | " + " | ".join(names) + " |",
                  "|---|---|---|---|---|---|" + "---|" * len(names)]
        for item in entry["disagreements"]:
            cells = []
            for n in names:
                where, attrs = item["regions"][n], item["sources"][n]
                if where is None:
                    cells.append("—")
                    continue
                shown_attrs = "; ".join(f"{k}={_cell(attrs.get(k))}" for k in item["differs"])
                cells.append(_cell(f"annotation {where['annotation']} region {where['region']} "
                                   f"(pass {where['pass_id']})" + (f": {shown_attrs}" if shown_attrs else "")))
            lines.append(f"| {item['layer']} | {item['start']}:{item['end']} | {item['label']} | {_cell(item['text'])} "
                         f"| {_cell(item['status'])} | {_cell(item['differs'] or None)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ validation

def validate_plan(plan: ImportPlan, corpus: list[dict], gold: dict[str, dict], entities: dict, clusters: dict,
                  inv: Inventory) -> None:
    """pactnews.validate's incidents over the gold as it would be after the import, and over each pass, added to
    the plan's issues."""
    entities, clusters = apply_proposals(plan, entities, clusters)
    texts = {r["document_id"]: r["text"] for r in corpus}
    new_gold = {**gold, **plan.gold}
    if plan.gold:
        plan.issues.extend(validate_annotations(new_gold, texts, entities, clusters, inv,
                                                {d: f"annotations/{d}.json" for d in new_gold}))
    for name, docs in sorted(plan.passes.items()):
        plan.issues.extend(validate_annotations(docs, texts, entities, clusters, inv,
                                                {d: f"annotations/passes/{name}/{d}.json" for d in docs}))
    plan.issues[:] = [with_remedy(i) for i in plan.issues]


# ------------------------------------------------------------------ new entities and clusters proposed in Label Studio

def collect_proposals(plan: ImportPlan, per_doc: dict[str, list[tuple[str, dict, dict]]], inv: Inventory,
                      layout: Layout) -> None:
    """Read the new entities and clusters proposed in the annotations this import takes (see
    convert.read_proposals). A document Label Studio did not change is skipped: its proposals were pulled with
    the change that made them."""
    plan.table_files = {"entities": layout.entity_table, "clusters": layout.cluster_table}
    untouched = set(plan.untouched)
    for doc_id, kept in sorted(per_doc.items()):
        if doc_id in untouched:
            continue
        for _, ann, where in kept:
            found, issues = read_proposals(ann.get("result"), doc_id, inv,
                                           {k: v for k, v in where.items() if not k.startswith("_")})
            plan.proposals.extend(found)
            plan.issues.extend(issues)


def apply_proposals(plan: ImportPlan, entities: dict, clusters: dict) -> tuple[dict, dict]:
    """The entity and cluster tables with the proposals of the plan added; the changed tables join the files
    the import writes, and a proposal that contradicts a table or another proposal is an error."""
    if not plan.proposals:
        return entities, clusters
    current = {"entities": entities or {}, "clusters": clusters or {}}
    new, plan.additions, issues = add_proposals(plan.proposals, current)
    plan.issues.extend(issues)

    dumps = {"entities": tables.dumps_entities, "clusters": tables.dumps_clusters}
    for name in sorted({p.table for p in plan.additions}):
        plan.files[plan.table_files[name]] = dumps[name](new[name]).encode("utf-8")
    return new["entities"], new["clusters"]


def with_remedy(incident):
    """A validation incident about an entity or cluster id missing from its table, with what to do about it."""
    test_id = getattr(incident, "test_id", None)
    remedy = {
        "unknown-entity-id": "; to create it, select an entity region with this Entity ID in Label Studio and type "
                             "its canonical name into 'New entity: canonical name' (the table takes the region's "
                             "label), or add it to annotations/tables/entities.json",
        "unknown-cluster": "; to create it, select a claim with this Cluster ID in Label Studio and type its "
                           "proposition into 'New cluster: proposition', or add it to "
                           "annotations/tables/claim_clusters.json",
    }.get(test_id)
    if remedy is None or remedy in incident.message:
        return incident
    try:
        return dataclasses.replace(incident, message=incident.message + remedy)
    except TypeError:  # not a dataclass: left as it is
        return incident


def describe_additions(plan: ImportPlan) -> list[str]:
    """One line per key the import adds to a table."""
    files = {key.table: key.table_file for key in PROPOSALS}
    return [f"{files.get(p.table, p.table)}: + {p.key} {describe_row(p.table, p.row)} (proposed in Doc "
            f"{p.document_id} Region {p.region})" for p in plan.additions]


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
    lines = [f"{doc_id}: unchanged (+0 -0 ~0), not rewritten" for doc_id in sorted(plan.untouched)]
    for doc_id in sorted(plan.gold):
        changes = describe_changes(gold.get(doc_id), plan.gold[doc_id])
        plus = sum(line.startswith("  +") for line in changes)
        minus = sum(line.startswith("  -") for line in changes)
        tilde = sum(line.startswith("  ~") for line in changes)
        state = "new gold" if doc_id not in gold else ("unchanged" if not changes else "gold updated")
        lines.append(f"{doc_id}: {state} (+{plus} -{minus} ~{tilde})")
        lines += changes
    for doc_id, entry in sorted(plan.agreement.items()):
        shown = ", ".join(f"{n} (annotation {entry['annotations'][n]})" for n in entry["annotators"])
        lines.append(f"{doc_id}: {len(entry['annotators'])} annotations on task {entry['task']} ({shown}); "
                     f"{len(entry['disagreements'])} span(s) disagree; gold left as it is, passes written for "
                     "adjudication")
    return lines + describe_agreement(plan) + describe_additions(plan)


def _figure(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def describe_agreement(plan: ImportPlan) -> list[str]:
    """Agreement per layer of every pair of annotators: span F1 (strict and overlap) and Krippendorff's alpha of
    the label on the spans matched by offsets; the rest is in the report."""
    if not plan.agreement:
        return []
    where = f"annotations/reports/{REPORT_NAME}"
    lines = [f"Agreement between annotators (all figures and every disagreement: {where} and its .md):"]
    per_layer: dict[str, int] = {}
    for entry in plan.agreement.values():
        for item in entry["disagreements"]:
            per_layer[item["layer"]] = per_layer.get(item["layer"], 0) + 1
    for pair in plan.pairs:
        figures = pair["agreement"]
        lines.append(f"  {pair['a']} vs {pair['b']} on {len(pair['documents'])} document(s)"
                     + (f": {figures['error']}" if "error" in figures else ":"))
        for layer, body in _span_figures(figures).items():
            strict, overlap = body["ALL"]["strict"], body["ALL"]["overlap"]
            label = figures.get("attributes", {}).get(layer, {}).get("offsets", {}).get("attributes", {}).get("label", {})
            alpha = _figure(label.get("alpha"))
            if label.get("alpha") is None and label.get("items"):
                alpha += f" (undefined: {label.get('values', 0)} label value(s); observed agreement " \
                         f"{_figure(label.get('observed'))})"
            lines.append(f"    {layer}: span F1 strict {_figure(strict['f1'])}, overlap {_figure(overlap['f1'])} "
                         f"({strict['a']} vs {strict['b']} spans, {strict['matched']} identical); label alpha "
                         f"{alpha} over {label.get('items', 0)} span(s) with the same offsets")
    lines.append("  disagreements per layer: " + (", ".join(f"{layer} {per_layer.get(layer, 0)}"
                                                          for layer in standoff.SPAN_LAYERS)))
    return lines
