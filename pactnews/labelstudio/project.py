"""The Label Studio project behind the verbs `annotate`, `pull` and `import-ls` (pactnews.commands.labelstudio).

annotate   create or update the project from the generated config and load the tasks with
           pre-annotations (setup_project; on an existing project every task is brought in
           line with the current corpus, pre-annotator and gold, keeping work not yet pulled:
           refresh_task), or make the tasks file (corpus_tasks).
pull, import-ls  check and plan the import of exported tasks, from the project or an export
           file (plan_tasks_import: checked and validated; the command writes the plan's files).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pactnews.annotations import standoff
from pactnews.annotations.preannotate import Preannotator, build_lexicon
from ..inventory import default_inventory
from ..corpus.readers import read_gold
from ..repo import Layout
from ..files import atomic_write_bytes
from . import server as ls_server
from .config import labeling_config
from .convert import PREDICTION_PREFIX, from_result, to_result
from .importer import ImportPlan, annotator_salt, parse_export, plan_import, validate_plan
from .merge import StateError, base_hash, dump_state, new_entry, read_state, state_path
from .readers import read_corpus, read_tables
from .tasks import build_task, build_tasks


# ------------------------------------------------------------------ annotate

def load_preannotator(layout: Layout, spacy_model: str | None):
    """(inventory, corpus records, gold, pre-annotator) of a repository."""
    inv = default_inventory(layout.root)
    corpus = read_corpus(layout)
    gold = read_gold(layout, [r["document_id"] for r in corpus])
    entity_table, _ = read_tables(layout)
    return inv, corpus, gold, Preannotator(build_lexicon(entity_table, gold), inv, spacy_model)


def _prediction_relations(prediction: dict) -> list[list[str]]:
    """The relations of a pre-annotation, by the region ids its task carries (see merge.py)."""
    return [[PREDICTION_PREFIX + x["from_id"], x["label"], PREDICTION_PREFIX + x["to_id"]]
            for x in prediction.get("relations", [])]


def _tasks(todo: list[dict], inv, gold: dict | None, pre, all_gold: dict | None = None) -> tuple[list[dict], dict]:
    """(tasks, base record entries): the base of a document is exactly what its task carries as an annotation
    (its gold with --with-gold, else nothing), with the relations of its pre-annotation."""
    predictions = {r["document_id"]: pre.annotate(r["document_id"], r["text"], r["text_sha256"], r["dct"])
                   for r in todo}
    tasks = build_tasks(todo, inv, predictions, pre.model_version, gold)
    entries = {}
    for r in todo:
        doc_id = r["document_id"]
        base = (gold or {}).get(doc_id) or standoff.empty(doc_id, r["text_sha256"])
        entries[doc_id] = new_entry(base, r["text_sha256"], inv, (all_gold or {}).get(doc_id),
                                    _prediction_relations(predictions[doc_id]))
    return tasks, entries


def _record_base(layout: Layout, entries: dict) -> None:
    """Add the bases of the documents just pushed to labelstudio-data/pactnews-base.json."""
    if not entries:
        return
    try:
        state = read_state(layout)
    except StateError:
        state = {}  # a damaged record is replaced for the documents pushed now; the others cannot be merged
    for doc_id, entry in entries.items():
        before = state.get(doc_id, {}).get("highest")
        if before:
            entry["highest"] = {k: max(v, before.get(k, 0)) for k, v in entry["highest"].items()}
        state[doc_id] = entry
    atomic_write_bytes(state_path(layout), dump_state(state))


def corpus_tasks(layout: Layout, with_gold: bool = False, spacy_model: str | None = None) -> tuple[list[dict], str]:
    """One task per document with the pre-annotations (and the gold); (tasks, model version).
    The base of every document is recorded (see merge.py)."""
    inv, corpus, gold, pre = load_preannotator(layout, spacy_model)
    tasks, entries = _tasks(corpus, inv, gold if with_gold else None, pre, gold)
    _record_base(layout, entries)
    return tasks, pre.model_version


# ------------------------------------------------------------------ restart: the tasks already in the project

@dataclass
class Refresh:
    """What `annotate` does to a task already in the project (see refresh_task)."""
    task_id: int
    document_id: str
    data: dict | None = None  # the task's new data, when it changed
    prediction: dict | None = None  # the one prediction the task is to carry
    annotation: tuple | None = None  # (annotation id, or None to create one; result) to write
    entry: dict | None = None  # the base to record once the task is updated
    kept: int = 0  # annotations (and drafts) left as they are: work not pulled yet
    note: str | None = None


def _read_back(annotation: dict, rec: dict, inv) -> dict | None:
    """An annotation as pull reads it (Label Studio's region ids), or None when pull would refuse it."""
    doc, issues = from_result(annotation.get("result"), rec["text"], rec["document_id"], rec["text_sha256"], inv,
                              keep_ids=True)
    return None if any(i.severity == "error" for i in issues) else doc


def refresh_task(task: dict, rec: dict, inv, prediction: dict, model_version: str, entry: dict | None,
                 gold_doc: dict | None, with_gold: bool) -> Refresh:
    """How to bring a task in line with the current corpus, pre-annotator and gold without losing work (pure).

    The prediction is always the current pre-annotator's, unless the task's text is outdated and it holds
    annotations (those cannot be pulled; nothing of it is touched). Annotations are kept, with the base
    they started from, unless they are provably not work: no annotation at all, or a single annotation
    equal to the recorded base (nothing to pull) or to the gold. Only then is the task's annotation set to
    the current gold (with --with-gold) and the base re-recorded as what the task now carries.
    """
    doc_id, text, sha = rec["document_id"], rec["text"], rec["text_sha256"]
    out = Refresh(int(task["id"]), doc_id)
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    drafts = [d for d in task.get("drafts") or [] if d]
    data = task.get("data") or {}
    fresh = build_task(rec, inv)["data"]
    rels = _prediction_relations(prediction)
    if data.get("text") != text:
        if annotations or drafts:
            out.kept = len(annotations) + len(drafts)
            out.note = (f"task {out.task_id} (document {doc_id}): its text (sha256 {data.get('text_sha256')}) is not "
                        f"the clean text (sha256 {sha}) and it holds {len(annotations)} annotation(s) and "
                        f"{len(drafts)} draft(s): left as it is; pull refuses them (text-drift): save them with "
                        "Export > JSON, delete the task and run `pactnews annotate` again")
            return out
        out.data = fresh
    elif data != fresh:
        out.data = fresh  # title, date or outlet changed; the text did not
    out.prediction = {"model_version": model_version, "result": to_result(prediction, text, inv, PREDICTION_PREFIX)}
    gold_base = gold_doc if with_gold and gold_doc is not None else None
    if not annotations and not drafts:
        if gold_base is not None:
            out.annotation = (None, to_result(gold_base, text, inv))
        out.entry = new_entry(gold_base or standoff.empty(doc_id, sha), sha, inv, gold_doc, rels, previous=entry)
        return out
    if len(annotations) == 1 and not drafts:
        got = _read_back(annotations[0], rec, inv)
        if got is not None:
            got_hash = base_hash(got)
            unchanged = entry is not None and entry.get("text_sha256") == sha and entry.get("base_sha256") == got_hash
            is_gold = gold_doc is not None and base_hash(gold_doc) == got_hash
            if gold_base is not None and (unchanged or is_gold):
                if not is_gold:
                    out.annotation = (annotations[0].get("id"), to_result(gold_base, text, inv))
                out.entry = new_entry(gold_base, sha, inv, gold_doc, rels, previous=entry)
                return out
            if is_gold:  # whatever was recorded, the annotation is the gold: nothing of it is unpulled
                out.entry = new_entry(gold_doc, sha, inv, gold_doc, rels, previous=entry)
                return out
            if unchanged:
                out.entry = {**entry, "prediction_relations": _union(entry.get("prediction_relations"), rels)}
                return out
    out.kept = len(annotations) + len(drafts)
    if entry is not None:
        # the annotation may come from the earlier pre-annotation: pull checks its relations against both
        out.entry = {**entry, "prediction_relations": _union(entry.get("prediction_relations"), rels)}
    return out


def _union(old: list | None, new: list) -> list:
    out = [list(x) for x in old or []]
    out += [list(x) for x in new if list(x) not in out]
    return out


@dataclass
class Setup:
    project_id: int
    added: int = 0
    updated: int = 0  # existing tasks whose data, prediction or annotation changed
    kept: int = 0  # tasks whose annotations are work not pulled yet, kept with their base
    model_version: str = ""
    notes: list[str] = field(default_factory=list)


def setup_project(ls, layout: Layout, with_gold: bool = False, spacy_model: str | None = None,
                  prepared: tuple | None = None) -> Setup:
    """Create or update the project: its labeling config, new tasks, and every task already there brought in
    line with the current corpus, pre-annotator and gold (refresh_task), then the project's model version.
    The base of every task is recorded as its update is done (see merge.py)."""
    inv, corpus, gold, pre = prepared or load_preannotator(layout, spacy_model)
    project_id, created = ls_server.ensure_project(ls, labeling_config(inv), pre.model_version)
    out = Setup(project_id, model_version=pre.model_version)
    existing: dict[str, dict] = {}
    current_predictions: dict[int, list] = {}
    if not created:
        source = f"project {project_id}"
        for task in parse_export(ls_server.export_bytes(ls, project_id), source):
            doc_id = (task.get("data") or {}).get("document_id") if isinstance(task, dict) else None
            if isinstance(doc_id, str) and doc_id not in existing:
                existing[doc_id] = task
        current_predictions = ls_server.predictions_by_task(ls, project_id)
    try:
        state = read_state(layout)
    except StateError as exc:
        state = {}
        out.notes.append(f"{exc}; the tasks' annotations are pulled without a base (two-way)")
    by_id = {r["document_id"]: r for r in corpus}
    for doc_id in sorted(set(existing) - set(by_id)):
        out.notes.append(f"task {existing[doc_id].get('id')}: document {doc_id!r} is not in the corpus; pull refuses "
                         "it (unknown-document): delete the task in Label Studio")
    todo = [r for r in corpus if r["document_id"] not in existing]
    tasks, entries = _tasks(todo, inv, gold if with_gold else None, pre, gold)
    ls_server.import_tasks(ls, project_id, tasks)
    _record_base(layout, entries)
    out.added = len(tasks)
    done: dict[str, dict] = {}
    versioned = bool(tasks)
    try:
        for rec in corpus:
            task = existing.get(rec["document_id"])
            if task is None:
                continue
            doc_id = rec["document_id"]
            prediction = pre.annotate(doc_id, rec["text"], rec["text_sha256"], rec["dct"])
            step = refresh_task(task, rec, inv, prediction, pre.model_version, state.get(doc_id), gold.get(doc_id),
                                with_gold)
            changed = False
            if step.data is not None:
                ls_server.update_task_data(ls, step.task_id, step.data)
                changed = True
            if step.prediction is not None:
                changed |= ls_server.replace_predictions(ls, project_id, step.task_id, step.prediction,
                                                         current_predictions.get(step.task_id, []))
                versioned = True
            if step.annotation is not None:
                ls_server.set_annotation(ls, step.task_id, *step.annotation)
                changed = True
            if step.entry is not None and step.entry != state.get(doc_id):
                done[doc_id] = step.entry
            out.updated += changed
            out.kept += bool(step.kept)
            if step.note:
                out.notes.append(step.note)
    finally:
        _record_base(layout, done)  # what was pushed is recorded even if a later task failed
    if versioned and not created:
        ls_server.set_model_version(ls, project_id, pre.model_version)
    return out


# ------------------------------------------------------------------ import (shared by pull and import-ls)


def plan_tasks_import(layout: Layout, tasks: list[dict], source: str,
                      allow_deletions: bool = False) -> tuple[ImportPlan, dict[str, dict], dict[Path, bytes]]:
    """What importing exported tasks would do: (the checked plan, with pactnews.validate's incidents over the gold
    as it would be among its issues; the current gold; the annotator salt file to create). StateError when the
    base record written by annotate cannot be read. Writes nothing."""
    inv = default_inventory(layout.root)
    corpus = read_corpus(layout)
    gold = read_gold(layout, [r["document_id"] for r in corpus])
    entities, clusters = read_tables(layout)
    state = read_state(layout)
    salt, salt_files = annotator_salt(layout)
    plan = plan_import(tasks, corpus, gold, inv, layout, salt, source, state, allow_deletions)
    if not plan.errors:
        validate_plan(plan, corpus, gold, entities, clusters, inv)
    return plan, gold, salt_files
