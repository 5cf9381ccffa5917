"""`pactnews annotate`, `pull` and `import-ls`: serve a local Label Studio with the corpus loaded, and import
its annotations from the server or an export file; the project work is pactnews.labelstudio.project."""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from pactnews.labelstudio import server as ls_server
from pactnews.labelstudio.project import corpus_tasks, load_preannotator, plan_tasks_import, setup_project
from pactnews.labelstudio.importer import describe_plan, parse_export, read_export
from pactnews.labelstudio.merge import StateError, state_path
from pactnews.labelstudio.tasks import tasks_json
from pactnews.repo import Layout
from pactnews.files import atomic_write_bytes, write_files_atomically
from pactnews.validate.repository import refused

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


def run_annotate(args) -> int:
    layout = Layout(args.root)
    if refused(layout, "annotate"):  # one gate: tasks are made from a corpus and gold validate accepts
        return 1
    if args.tasks_file:
        tasks, version = corpus_tasks(layout, args.with_gold, args.spacy_model)
        atomic_write_bytes(args.tasks_file, tasks_json(tasks))
        print(f"Wrote {len(tasks)} task(s) with pre-annotations {version} to {args.tasks_file}; import them into a "
              "project whose labeling config is schemas/labelstudio.xml")
        return 0
    data_dir = layout.root / DATA_DIR
    try:
        creds, generated = _credentials(data_dir)
        prepared = load_preannotator(layout, args.spacy_model)  # before the server: the corpus and tables are readable
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
    """Check, show and (unless check) write the import of exported tasks; the exit status. The repository must
    pass validate first (the one gate), and the gold it would have after the import too."""
    if refused(layout, "import"):
        return 1
    try:
        plan, gold, salt_files = plan_tasks_import(layout, tasks, source, allow_deletions)
    except StateError as exc:
        print(f"FAILED: {exc}; nothing written")
        return 1
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
