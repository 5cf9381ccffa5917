"""The verbs `annotate`, `pull` and `import-ls`.

annotate   start a local Label Studio (127.0.0.1, data in labelstudio-data/), create or
           update the project from the generated config, load the tasks with
           pre-annotations (on an existing project: bring every task in line with the
           current corpus, pre-annotator and gold, keeping work not yet pulled; see
           refresh_task), print the address and login, serve until Ctrl-C. A failure
           to start or set up is one line, exit status 1, and the server is stopped.
pull       export the project through the SDK and import it (checked, validated, atomic).
import-ls  the same from a Label Studio JSON export file.
"""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from pactnews.annotations import standoff
from ..inventory import default_inventory
from ..repo import Layout, atomic_write_bytes, write_files_atomically
from . import server as ls_server
from .config import labeling_config
from .importer import annotator_salt, describe_plan, parse_export, plan_import, read_export, validate_plan
from .merge import StateError, base_hash, dump_state, new_entry, read_state, state_path
from .readers import read_corpus, read_gold, read_tables
from .tasks import build_task, build_tasks, tasks_json

DATA_DIR = "labelstudio-data"
DEFAULT_USER = "annotator@pactnews.invalid"


# ------------------------------------------------------------------ annotate

def add_arguments_annotate(parser) -> None:
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--with-gold", action="store_true",
                        help="also load the existing gold of each document as a finished annotation")
    parser.add_argument("--spacy-model", help="an installed spaCy pipeline whose entities join the pre-annotations")
    parser.add_argument("--no-serve", action="store_true",
                        help="set the project up, then stop the server instead of serving until Ctrl-C")
    parser.add_argument("--tasks-file", type=Path, metavar="PATH",
                        help="write the tasks as a JSON file to import into a Label Studio you run yourself "
                             "(Import > Upload Files, with schemas/labelstudio.xml as the labeling config); "
                             "no server is started")


def _credentials(data_dir: Path) -> tuple[ls_server.Credentials, bool]:
    """From the environment, or generated (then printed once, never stored)."""
    user = os.environ.get("LABEL_STUDIO_USERNAME") or DEFAULT_USER
    password = os.environ.get("LABEL_STUDIO_PASSWORD")
    token = os.environ.get("LABEL_STUDIO_API_KEY") or os.environ.get("LABEL_STUDIO_USER_TOKEN")
    if password and token:
        return ls_server.Credentials(user, password, token), False
    if (data_dir / "label_studio.sqlite3").is_file():
        raise ls_server.ServerError(
            f"{data_dir}/ already holds a Label Studio user, whose password and token were printed when it was "
            "created and are stored nowhere. Export LABEL_STUDIO_PASSWORD and LABEL_STUDIO_API_KEY with them "
            f"and run again, or remove {data_dir}/ to start over (annotations not yet pulled are then lost).")
    return ls_server.Credentials(user, password or secrets.token_urlsafe(12), token or secrets.token_hex(20)), True


def _preannotator(layout: Layout, spacy_model: str | None):
    """(inventory, corpus records, gold, pre-annotator) of a repository."""
    from pactnews.annotations.preannotate import Preannotator, build_lexicon

    inv = default_inventory(layout.root)
    corpus = read_corpus(layout)
    gold = read_gold(layout, [r["document_id"] for r in corpus])
    entity_table, _ = read_tables(layout)
    return inv, corpus, gold, Preannotator(build_lexicon(entity_table, gold), inv, spacy_model)


def _prediction_relations(prediction: dict) -> list[list[str]]:
    """The relations of a pre-annotation, by the region ids its task carries (see merge.py)."""
    from .convert import PREDICTION_PREFIX

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
    inv, corpus, gold, pre = _preannotator(layout, spacy_model)
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
    from .convert import from_result

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
    from .convert import PREDICTION_PREFIX, to_result

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
    from .importer import parse_export

    inv, corpus, gold, pre = prepared or _preannotator(layout, spacy_model)
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


def run_annotate(args) -> int:
    layout = Layout(args.root)
    if args.tasks_file:
        tasks, version = corpus_tasks(layout, args.with_gold, args.spacy_model)
        atomic_write_bytes(args.tasks_file, tasks_json(tasks))
        print(f"Wrote {len(tasks)} task(s) with pre-annotations {version} to {args.tasks_file}; import them into a "
              "project whose labeling config is schemas/labelstudio.xml")
        return 0
    data_dir = layout.root / DATA_DIR
    try:
        creds, generated = _credentials(data_dir)
        prepared = _preannotator(layout, args.spacy_model)  # before the server: the corpus and tables are readable
    except ls_server.ServerError as exc:
        print(f"FAILED: {exc}")
        return 1
    except SystemExit as exc:  # e.g. a spaCy pipeline that is not installed
        print(f"FAILED: {exc}")
        return 1
    except (OSError, ValueError) as exc:
        print(f"FAILED: reading the repository stopped: {type(exc).__name__}: {_one_line(exc)}")
        return 1
    server = ls_server.Server(data_dir, creds, port=args.port)
    print(f"Starting Label Studio on {server.url} (data in {DATA_DIR}/; the first start takes about a minute) …",
          flush=True)
    with ls_server.stop_on_termination():
        return _serve(server, layout, creds, generated, args, prepared)


def _serve(server, layout: Layout, creds, generated: bool, args, prepared: tuple | None = None) -> int:
    """Start, set up, serve; any failure is one line (exit 1) and the server is stopped by its PID."""
    try:
        try:
            server.start()
            server.wait_ready()
            ls = ls_server.client(server.url, creds.token)
            setup = setup_project(ls, layout, args.with_gold, args.spacy_model, prepared)
        except KeyboardInterrupt:
            print(f"Label Studio stopped before it was set up; its data stays in {DATA_DIR}/.")
            return 130
        except (ls_server.ServerError, StateError) as exc:
            print(f"FAILED: {exc}")
            return 1
        except ValueError as exc:  # a malformed export of the project (parse_export), told in one line
            print(f"FAILED: setting up the project on {server.url} stopped: {_one_line(exc)}; run `pactnews "
                  "annotate` again (and `pactnews pull` first if annotations are not yet pulled)")
            return 1
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            print(f"FAILED: {where}{exc.strerror or _one_line(exc)}; the project may be set up only in part: run "
                  "`pactnews annotate` again")
            return 1
        except Exception as exc:  # noqa: BLE001 - the server or the network: one line, never a traceback
            print(f"FAILED: {_server_failure(exc, server.url, annotate=True)}")
            return 1
        print(f"\nLabel Studio is ready: {server.url}/projects/{setup.project_id}/data")
        print(f"  login:    {creds.username}")
        if generated:
            print(f"  password: {creds.password}")
            print("  These credentials are shown only now and stored nowhere. To restart the server or pull later:")
            print(f"    export LABEL_STUDIO_USERNAME='{creds.username}' LABEL_STUDIO_PASSWORD='{creds.password}' "
                  f"LABEL_STUDIO_API_KEY='{creds.token}'")
        else:
            print("  password: (from LABEL_STUDIO_PASSWORD)")
        for note in setup.notes:
            print(f"  note: {note}")
        print(f"  tasks added: {setup.added}; tasks updated: {setup.updated} (pre-annotations {setup.model_version})")
        if setup.kept:
            print(f"  {setup.kept} task(s) hold annotations not yet pulled: kept as they are, with the base they "
                  "started from")
        print(f"  pull the annotations with: LABEL_STUDIO_URL={server.url} pactnews pull", flush=True)
        if not args.no_serve:
            print("Serving; press Ctrl-C to stop.", flush=True)
            while server.process.poll() is None:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print(f"Label Studio stopped; its data stays in {DATA_DIR}/ (run `pactnews pull` while it runs to import).")
    return 0


# ------------------------------------------------------------------ import (shared by pull and import-ls)

def _add_import_arguments(parser) -> None:
    parser.add_argument("--check", action="store_true", help="check and show the changes; write nothing")
    parser.add_argument("--allow-deletions", action="store_true",
                        help="accept an empty annotation, one that deletes more than 20%% of a document's spans, "
                             "or one that drops relations (refused without this flag)")


def import_tasks(layout: Layout, tasks: list[dict], source: str, check: bool = False,
                 allow_deletions: bool = False) -> int:
    inv = default_inventory(layout.root)
    corpus = read_corpus(layout)
    gold = read_gold(layout, [r["document_id"] for r in corpus])
    entities, clusters = read_tables(layout)
    try:
        state = read_state(layout)
    except StateError as exc:
        print(f"FAILED: {exc}; nothing written")
        return 1
    salt, salt_files = annotator_salt(layout)
    plan = plan_import(tasks, corpus, gold, inv, layout, salt, source, state, allow_deletions)
    validated = False
    if not plan.errors:
        validated = validate_plan(plan, corpus, gold, entities, clusters, inv)
    for incident in plan.warnings:
        print(incident)
    for incident in plan.errors:
        print(incident)
    for note in plan.notes:
        print(note)
    if plan.deletions:
        print("Deletions:" if not plan.errors else "Deletions (refused, not written):")
        for line in plan.deletions:
            print(line)
    if plan.errors:
        print(f"FAILED: {len(plan.errors)} error(s) in {source}; nothing written")
        return 1
    if not validated:
        print("note: pactnews.validate.validator is not available; only the import checks ran")
    for line in describe_plan(plan, gold):
        print(line)
    where = layout.annotations.relative_to(layout.root)
    summary = (f"{len(plan.gold)} document(s) as gold, {sum(len(d) for d in plan.passes.values())} pass file(s) "
               f"from {len(plan.passes)} annotator(s) on {len(plan.agreement)} document(s)")
    extra = []
    if plan.merged:
        extra.append(f"{plan.merged} merged with the base recorded by annotate")
    if plan.untouched:
        extra.append(f"{len(plan.untouched)} unchanged in Label Studio, not rewritten")
    if plan.converted:
        extra.append(f"{plan.converted} region(s) with UTF-16 offsets converted to code points")
    if extra:
        summary += f" ({'; '.join(extra)})"
    if check:
        print(f"Checked {source}: would write {summary} to {where}/; nothing written")
        return 0
    annotation_files = {p for p in plan.files if p != state_path(layout)}
    if not annotation_files and not plan.files:
        print(f"Nothing to import from {source}: no finished annotations ({summary})")
        return 0
    write_files_atomically({**plan.files, **salt_files})
    print(f"Imported {summary} from {source}: {where}/")
    return 0


def add_arguments_import_ls(parser) -> None:
    parser.add_argument("export_file", type=Path, help="a Label Studio JSON export (Export > JSON)")
    _add_import_arguments(parser)


def run_import_ls(args) -> int:
    layout = Layout(args.root)
    try:
        tasks = read_export(args.export_file)
    except ValueError as exc:
        print(f"FAILED: {exc}; nothing written")
        return 1
    return _guarded(lambda: import_tasks(layout, tasks, str(args.export_file), args.check, args.allow_deletions),
                    str(args.export_file))


def add_arguments_pull(parser) -> None:
    parser.add_argument("--project", type=int, help=f"project id (default: the project titled {ls_server.PROJECT_TITLE!r})")
    _add_import_arguments(parser)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:300] + "…"


def _server_failure(exc: BaseException, url: str, annotate: bool = False) -> str:
    """One line for what went wrong talking to Label Studio."""
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        if annotate:
            return (f"Label Studio at {url} refused the token (HTTP {status}); LABEL_STUDIO_API_KEY must be the token "
                    f"of the user {DATA_DIR}/ was created with (printed by the first `pactnews annotate`; also under "
                    "Account & Settings > Access Token)")
        return (f"Label Studio at {url} refused the token (HTTP {status}); set LABEL_STUDIO_API_KEY to the token "
                "printed by `pactnews annotate` (Account & Settings > Access Token)")
    if status == 404:
        return f"Label Studio at {url} has no such project or page (HTTP 404); check LABEL_STUDIO_URL and --project"
    if status is not None:
        return f"Label Studio at {url} answered HTTP {status}: {_one_line(getattr(exc, 'body', '') or exc)}"
    name = type(exc).__name__
    if "Connect" in name or isinstance(exc, ConnectionError):
        if annotate:
            return f"cannot reach Label Studio at {url} ({_one_line(exc) or name}); it stopped answering: run again"
        return (f"cannot reach Label Studio at {url} ({_one_line(exc) or name}); is `pactnews annotate` running, "
                "and is LABEL_STUDIO_URL its address?")
    if "Timeout" in name:
        return f"Label Studio at {url} did not answer in time ({name})"
    return f"talking to Label Studio at {url} failed: {name}: {_one_line(exc)}"


def run_pull(args) -> int:
    url = (os.environ.get("LABEL_STUDIO_URL") or "").rstrip("/")
    key = os.environ.get("LABEL_STUDIO_API_KEY")
    if not url or not key:
        print("FAILED: set LABEL_STUDIO_URL (e.g. http://127.0.0.1:8080) and LABEL_STUDIO_API_KEY (the token "
              "printed by `pactnews annotate`) in the environment")
        return 1
    if not url.startswith(("http://", "https://")):
        print(f"FAILED: LABEL_STUDIO_URL {url!r} is not an http(s) address; expected e.g. http://127.0.0.1:8080")
        return 1
    try:
        ls = ls_server.client(url, key)
        project_id = args.project
        if project_id is None:
            project = ls_server.find_project(ls)
            if project is None:
                print(f"FAILED: {url} has no project titled {ls_server.PROJECT_TITLE!r}; pass --project ID")
                return 1
            project_id = project.id
        raw = ls_server.export_bytes(ls, project_id)
    except Exception as exc:  # noqa: BLE001 - any failure of the server or the network is one line
        print(f"FAILED: {_server_failure(exc, url)}; nothing written")
        return 1
    source = f"{url} project {project_id}"
    try:
        tasks = parse_export(raw, source)
    except ValueError as exc:
        print(f"FAILED: {exc}; nothing written")
        return 1
    return _guarded(lambda: import_tasks(Layout(args.root), tasks, source, args.check, args.allow_deletions), source)


def _guarded(run, source: str) -> int:
    """Run an import; an unforeseen failure is one line, never a traceback (and nothing is written)."""
    try:
        return run()
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError, UnicodeError) as exc:
        print(f"FAILED: importing {source} stopped: {type(exc).__name__}: {_one_line(exc)}; nothing written")
        return 1
