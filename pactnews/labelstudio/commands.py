"""The verbs `annotate`, `pull` and `import-ls`.

annotate   start a local Label Studio (127.0.0.1, data in labelstudio-data/), create or
           update the project from the generated config, load the tasks with
           pre-annotations, print the address and login, serve until Ctrl-C.
pull       export the project through the SDK and import it (checked, validated, atomic).
import-ls  the same from a Label Studio JSON export file.
"""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from pactnews.annotations import standoff
from ..inventory import default_inventory
from ..repo import Layout, atomic_write_bytes, write_files_atomically
from . import server as ls_server
from .config import labeling_config
from .importer import annotator_salt, describe_plan, parse_export, plan_import, read_export, validate_plan
from .merge import StateError, dump_state, new_entry, read_state, state_path
from .readers import read_corpus, read_gold, read_tables
from .tasks import build_tasks, tasks_json

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
        raise SystemExit(
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


def _tasks(todo: list[dict], inv, gold: dict | None, pre, all_gold: dict | None = None) -> tuple[list[dict], dict]:
    """(tasks, base record entries): the base of a document is exactly what its task carries as an annotation
    (its gold with --with-gold, else nothing), with the relations of its pre-annotation."""
    from .convert import PREDICTION_PREFIX

    predictions = {r["document_id"]: pre.annotate(r["document_id"], r["text"], r["text_sha256"], r["dct"])
                   for r in todo}
    tasks = build_tasks(todo, inv, predictions, pre.model_version, gold)
    entries = {}
    for r in todo:
        doc_id = r["document_id"]
        base = (gold or {}).get(doc_id) or standoff.empty(doc_id, r["text_sha256"])
        rels = [[PREDICTION_PREFIX + x["from_id"], x["label"], PREDICTION_PREFIX + x["to_id"]]
                for x in predictions[doc_id].get("relations", [])]
        entries[doc_id] = new_entry(base, r["text_sha256"], inv, (all_gold or {}).get(doc_id), rels)
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


def setup_project(ls, layout: Layout, with_gold: bool = False, spacy_model: str | None = None) -> tuple[int, int, str]:
    """Create or update the project and import the tasks not there yet; (project id, tasks added, model version).
    The base of every task imported is recorded (see merge.py)."""
    inv, corpus, gold, pre = _preannotator(layout, spacy_model)
    project_id, _ = ls_server.ensure_project(ls, labeling_config(inv), pre.model_version)
    present = ls_server.task_document_ids(ls, project_id)
    todo = [r for r in corpus if r["document_id"] not in present]
    tasks, entries = _tasks(todo, inv, gold if with_gold else None, pre, gold)
    ls_server.import_tasks(ls, project_id, tasks)
    _record_base(layout, entries)
    return project_id, len(tasks), pre.model_version


def run_annotate(args) -> int:
    layout = Layout(args.root)
    if args.tasks_file:
        tasks, version = corpus_tasks(layout, args.with_gold, args.spacy_model)
        atomic_write_bytes(args.tasks_file, tasks_json(tasks))
        print(f"Wrote {len(tasks)} task(s) with pre-annotations {version} to {args.tasks_file}; import them into a "
              "project whose labeling config is schemas/labelstudio.xml")
        return 0
    data_dir = layout.root / DATA_DIR
    creds, generated = _credentials(data_dir)
    server = ls_server.Server(data_dir, creds, port=args.port)
    print(f"Starting Label Studio on {server.url} (data in {DATA_DIR}/; the first start takes about a minute) …",
          flush=True)
    with ls_server.stop_on_termination():
        return _serve(server, layout, creds, generated, args)


def _serve(server, layout: Layout, creds, generated: bool, args) -> int:
    server.start()
    try:
        server.wait_ready()
        ls = ls_server.client(server.url, creds.token)
        project_id, added, version = setup_project(ls, layout, args.with_gold, args.spacy_model)
        print(f"\nLabel Studio is ready: {server.url}/projects/{project_id}/data")
        print(f"  login:    {creds.username}")
        if generated:
            print(f"  password: {creds.password}")
            print("  These credentials are shown only now and stored nowhere. To restart the server or pull later:")
            print(f"    export LABEL_STUDIO_USERNAME='{creds.username}' LABEL_STUDIO_PASSWORD='{creds.password}' "
                  f"LABEL_STUDIO_API_KEY='{creds.token}'")
        else:
            print("  password: (from LABEL_STUDIO_PASSWORD)")
        print(f"  tasks added: {added} (pre-annotations {version})")
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


def _server_failure(exc: BaseException, url: str) -> str:
    """One line for what went wrong talking to Label Studio."""
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return (f"Label Studio at {url} refused the token (HTTP {status}); set LABEL_STUDIO_API_KEY to the token "
                "printed by `pactnews annotate` (Account & Settings > Access Token)")
    if status == 404:
        return f"Label Studio at {url} has no such project or page (HTTP 404); check LABEL_STUDIO_URL and --project"
    if status is not None:
        return f"Label Studio at {url} answered HTTP {status}: {_one_line(getattr(exc, 'body', '') or exc)}"
    name = type(exc).__name__
    if "Connect" in name or isinstance(exc, ConnectionError):
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
