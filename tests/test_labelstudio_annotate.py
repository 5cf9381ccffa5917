"""`pactnews annotate` on an existing project, and when Label Studio cannot start (offline).

Restart: refresh_task decides, per task already in the project, what is updated (data, prediction, the
loaded gold) and what is kept (annotations not yet pulled, with the base they started from); a pull after
a restart must neither lose the annotator's work nor undo the repository's edits.
Boot failures: one line naming the cause and the remedy, exit status 1, no traceback, no process left.
"""
import copy
import json
import os
import socket
import sys
import textwrap
import time

import pytest

from pactnews.annotations import standoff
from pactnews.cli import main
from pactnews.labelstudio import server as ls_server
from pactnews.labelstudio.project import refresh_task
from pactnews.labelstudio.convert import PREDICTION_PREFIX, from_result, to_result
from pactnews.labelstudio.merge import base_hash, dump_state, new_entry, read_state, state_path
from pactnews.labelstudio.readers import read_corpus
from pactnews.labelstudio.tasks import build_task
from pactnews.repo import Layout
from pactnews.files import sha256_text

from ls_server import INV, REPO, make_repo, markup_docs, write_gold

DOCS = markup_docs()
CORPUS = read_corpus(Layout(REPO))
RECORDS = {r["document_id"]: r for r in CORPUS}
FIRST, SECOND = sorted(DOCS)[:2]
OLD, NEW = "pactnews-lexicon-v1-old", "pactnews-lexicon-v1-new"


def other(field: str, value):
    return next(v for v in INV.values(field) if v != value)


def prediction_for(doc_id: str) -> dict:
    """A pre-annotation: the document's entities (what a lexicon pre-annotator would find)."""
    doc = standoff.empty(doc_id, RECORDS[doc_id]["text_sha256"])
    doc["entities"] = copy.deepcopy(DOCS[doc_id]["entities"])
    return doc


def project_task(doc_id: str, annotations: list[dict] | None = None, drafts: list | None = None,
                 text: str | None = None) -> dict:
    """A task as the project's JSON export gives it, with annotations holding these documents."""
    rec = dict(RECORDS[doc_id])
    if text is not None:
        rec.update(text=text, text_sha256=sha256_text(text))
    task = build_task(rec, INV)
    task.update(id=7, predictions=[3], drafts=drafts or [], annotations=[
        {"id": 40 + k, "completed_by": 1, "was_cancelled": False, "result": to_result(doc, rec["text"], INV)}
        for k, doc in enumerate(annotations or [])])
    return task


def entry_for(base: dict) -> dict:
    return new_entry(copy.deepcopy(base), base["text_sha256"], INV, base, [["pre-C1", "claim_cue", "pre-A1"]])


def refresh(task, entry, gold, with_gold=True, doc_id=FIRST):
    return refresh_task(task, RECORDS[doc_id], INV, prediction_for(doc_id), NEW, entry, gold, with_gold)


def read_back(result, doc_id=FIRST) -> dict:
    doc, issues = from_result(result, RECORDS[doc_id]["text"], doc_id, RECORDS[doc_id]["text_sha256"], INV)
    assert [i for i in issues if i.severity == "error"] == []
    return doc


# ------------------------------------------------------------------ restart: what is updated, what is kept

def test_a_task_nobody_annotated_gets_the_new_prediction_and_the_current_gold():
    gold = copy.deepcopy(DOCS[FIRST])
    step = refresh(project_task(FIRST), None, gold)
    assert step.prediction["model_version"] == NEW
    assert step.prediction["result"] == to_result(prediction_for(FIRST), RECORDS[FIRST]["text"], INV, PREDICTION_PREFIX)
    annotation_id, result = step.annotation
    assert annotation_id is None and standoff.dumps(read_back(result)) == standoff.dumps(gold)
    assert step.entry["base_sha256"] == base_hash(gold) and step.kept == 0 and step.data is None
    without = refresh(project_task(FIRST), entry_for(gold), gold, with_gold=False)
    assert without.annotation is None and without.entry["base"] == standoff.empty(FIRST, gold["text_sha256"])


def test_an_untouched_loaded_gold_is_replaced_by_the_current_gold_and_becomes_the_base():
    old = copy.deepcopy(DOCS[FIRST])
    new = copy.deepcopy(old)
    new["claims"][0]["factuality"] = other("factuality", new["claims"][0]["factuality"])  # edited in the repository
    entry = entry_for(old)
    entry["highest"]["entities"] = 99  # an id used once and deleted: never reused after the restart
    step = refresh(project_task(FIRST, [old]), entry, new)
    annotation_id, result = step.annotation
    assert annotation_id == 40 and standoff.dumps(read_back(result)) == standoff.dumps(new)
    assert step.entry["base"] == new and step.entry["highest"]["entities"] == 99 and step.kept == 0


def test_an_annotation_with_work_not_pulled_is_kept_with_the_base_it_started_from():
    base = copy.deepcopy(DOCS[FIRST])
    work = copy.deepcopy(base)
    work["claims"][1]["modality"] = other("modality", work["claims"][1]["modality"])
    gold = copy.deepcopy(base)
    gold["claims"][0]["factuality"] = other("factuality", gold["claims"][0]["factuality"])
    entry = entry_for(base)
    step = refresh(project_task(FIRST, [work]), entry, gold)
    assert step.annotation is None and step.kept == 1
    assert step.entry["base"] == base and step.entry["base_sha256"] == entry["base_sha256"]
    assert step.prediction["model_version"] == NEW  # the prediction is replaced all the same
    # pull still checks the relations of the earlier pre-annotation, and those of the new one
    assert ["pre-C1", "claim_cue", "pre-A1"] in step.entry["prediction_relations"]


@pytest.mark.parametrize("case", ["draft", "two annotations", "no base recorded", "unreadable"])
def test_anything_that_may_be_work_is_kept(case):
    base = copy.deepcopy(DOCS[FIRST])
    work = copy.deepcopy(base)
    work["entities"].pop()
    gold = copy.deepcopy(base)
    gold["timexes"].pop()
    entry = entry_for(base)
    if case == "draft":
        task = project_task(FIRST, [base], drafts=[{"id": 5, "result": []}])
    elif case == "two annotations":
        task = project_task(FIRST, [base, work])
    elif case == "no base recorded":
        task, entry = project_task(FIRST, [work]), None
    else:
        task = project_task(FIRST, [base])
        task["annotations"][0]["result"][0]["value"]["start"] += 1  # pull would refuse it: it is not ours to judge
    step = refresh(task, entry, gold)
    assert step.annotation is None and step.kept >= 1
    assert step.entry == (None if entry is None else {**entry, "prediction_relations": step.entry["prediction_relations"]})


def test_a_task_over_an_older_text_with_annotations_is_left_alone_and_named():
    old_text = RECORDS[FIRST]["text"].replace("Korea", "Corea", 1)
    task = project_task(FIRST, text=old_text)
    task["annotations"] = [{"id": 41, "completed_by": 1, "result": []}]
    step = refresh(task, None, DOCS[FIRST])
    assert step.prediction is None and step.annotation is None and step.data is None and step.kept == 1
    assert "task 7" in step.note and FIRST in step.note and "text-drift" in step.note and "Export > JSON" in step.note
    fresh = refresh(project_task(FIRST, text=old_text), None, DOCS[FIRST])  # nobody annotated it: updated
    assert fresh.data["text"] == RECORDS[FIRST]["text"] and fresh.data["text_sha256"] == RECORDS[FIRST]["text_sha256"]


@pytest.fixture()
def repo(tmp_path, monkeypatch):
    root = make_repo(tmp_path)
    write_gold(root, DOCS)
    monkeypatch.setenv("PACTNEWS_ANNOTATOR_SALT", "test-salt")
    return root


def pull_export(root, tasks, capsys, tmp_path) -> tuple[int, str]:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    code = main(["--root", str(root), "import-ls", str(path)])
    return code, capsys.readouterr().out


def restart(root, tasks: dict[str, dict], with_gold=True) -> dict:
    """What annotate does on a restart to the base record (the server calls are not needed here)."""
    layout = Layout(root)
    state = read_state(layout)
    gold = {d: standoff.read(root / "annotations" / f"{d}.json") for d in DOCS}
    out = {}
    for doc_id, task in tasks.items():
        step = refresh(task, state.get(doc_id), gold[doc_id], with_gold, doc_id)
        if step.annotation is not None:  # as Label Studio would hold it after the update
            task["annotations"] = [{"id": step.annotation[0] or 99, "completed_by": 1, "result": step.annotation[1]}]
        if step.entry is not None:
            state[doc_id] = step.entry
        out[doc_id] = step
    state_path(layout).write_bytes(dump_state(state))
    return out


def test_a_pull_after_a_restart_keeps_the_annotators_work_and_the_repositorys_edits(repo, capsys, tmp_path):
    """The annotator changed FIRST in Label Studio (not pulled); the repository changed FIRST elsewhere and
    SECOND; annotate restarts with a new pre-annotator. The pull applies the annotator's change and keeps the
    repository's (a base re-recorded as the current gold would have undone them)."""
    entries = {d: entry_for(doc) for d, doc in DOCS.items()}
    state_path(Layout(repo)).parent.mkdir(parents=True)
    state_path(Layout(repo)).write_bytes(dump_state(entries))
    work = copy.deepcopy(DOCS[FIRST])
    work["claims"][1]["modality"] = other("modality", work["claims"][1]["modality"])
    tasks = {FIRST: project_task(FIRST, [work]), SECOND: project_task(SECOND, [DOCS[SECOND]])}
    ours_first = copy.deepcopy(DOCS[FIRST])
    ours_first["claims"][0]["factuality"] = other("factuality", ours_first["claims"][0]["factuality"])
    ours_second = copy.deepcopy(DOCS[SECOND])
    ours_second["claims"][0]["author_stance"] = other("author_stance", ours_second["claims"][0]["author_stance"])
    (repo / "annotations" / f"{FIRST}.json").write_text(standoff.dumps(ours_first), encoding="utf-8")
    (repo / "annotations" / f"{SECOND}.json").write_text(standoff.dumps(ours_second), encoding="utf-8")
    steps = restart(repo, tasks)
    assert steps[FIRST].kept == 1 and steps[SECOND].annotation[0] == 40  # the untouched gold was refreshed
    for k, (doc_id, task) in enumerate(sorted(tasks.items())):
        task["id"] = 100 + k
    code, out = pull_export(repo, list(tasks.values()), capsys, tmp_path)
    assert code == 0, out
    got = standoff.read(repo / "annotations" / f"{FIRST}.json")
    assert got["claims"][1]["modality"] == work["claims"][1]["modality"]  # the annotator's work
    assert got["claims"][0]["factuality"] == ours_first["claims"][0]["factuality"]  # the repository's edit
    assert (repo / "annotations" / f"{SECOND}.json").read_text(encoding="utf-8") == standoff.dumps(ours_second)
    assert f"{SECOND}: unchanged" in out


# ------------------------------------------------------------------ boot failures

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:  # a zombie has exited
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def _gone(pid: int, wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


@pytest.fixture()
def annotate(repo, monkeypatch, capsys):
    """Run `pactnews annotate --no-serve` with a given label-studio executable; (exit status, output lines)."""
    monkeypatch.setenv("LABEL_STUDIO_PASSWORD", "pw-" + "p" * 12)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "tok-" + "t" * 30)

    def run(exe=None, *extra):
        if exe is not None:
            monkeypatch.setattr(ls_server, "label_studio_executable", lambda: str(exe))
        code = main(["--root", str(repo), "annotate", "--no-serve", *extra])
        out = capsys.readouterr()
        return code, out.out.splitlines(), out.err
    return run


def fake(tmp_path, body: str):
    exe = tmp_path / "label-studio"
    exe.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    exe.chmod(0o755)
    return exe


def failed(code, lines, err) -> str:
    """The one line of a failure, after the line that announced the start."""
    assert code == 1 and "Traceback" not in "\n".join(lines) + err, (lines, err)
    assert len(lines) <= 2 and lines[-1].startswith("FAILED: "), lines
    assert "t" * 30 not in lines[-1] and "p" * 12 not in lines[-1]  # no secret in the message
    return lines[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups as on Linux")
def test_a_server_that_exits_at_once_is_one_line_and_leaves_no_process(annotate, tmp_path):
    marker = tmp_path / "child.pid"
    exe = fake(tmp_path, f"""
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(marker)!r}, "w").write(str(child.pid))
        print("Starting the server", flush=True)
        print("django.db.utils.OperationalError: unable to open database file", flush=True)
        sys.exit(3)
    """)
    code, lines, err = annotate(exe)
    line = failed(code, lines, err)
    assert "label-studio exited with code 3 before it was ready" in line
    assert "OperationalError: unable to open database file" in line and "server.log" in line
    child = int(marker.read_text())
    try:
        assert _gone(child), "a process the server started was left behind"
    finally:
        if _alive(child):
            os.kill(child, 9)


def test_a_port_in_use_is_one_line_and_nothing_is_started(annotate, tmp_path):
    marker = tmp_path / "started"
    exe = fake(tmp_path, f"open({str(marker)!r}, 'w').write('yes')\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, lines, err = annotate(exe, "--port", str(port))
    line = failed(code, lines, err)
    assert f"port {port} on 127.0.0.1 is in use" in line and "--port" in line
    assert not marker.exists()


def test_a_missing_executable_is_one_line(annotate, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    code, lines, err = annotate()
    line = failed(code, lines, err)
    assert "label-studio command is not installed" in line and "pip install" in line


def test_an_existing_user_without_credentials_is_one_line(annotate, repo, monkeypatch):
    (repo / "labelstudio-data").mkdir()
    (repo / "labelstudio-data" / "label_studio.sqlite3").write_bytes(b"")
    monkeypatch.delenv("LABEL_STUDIO_PASSWORD")
    code, lines, err = annotate(None)
    line = failed(code, lines, err)
    assert "already holds a Label Studio user" in line and "LABEL_STUDIO_API_KEY" in line


FAKE_SERVER = """
    import http.server, json, os, sys
    port = int(sys.argv[sys.argv.index("--port") + 1])
    open({pidfile!r}, "w").write(str(os.getpid()))
    ROUTES = {routes!r}

    class H(http.server.BaseHTTPRequestHandler):
        def answer(self):
            path, _, query = self.path.partition("?")
            if path == "/health":
                status, body = 200, '{{"status": "UP"}}'
            elif "page=" in query and "page=1" not in query.split("&"):  # the SDK pages until a page is empty
                status, body = 200, '{{"count": 1, "next": null, "previous": null, "results": []}}'
            else:
                status, body = next(((s, b) for prefix, s, b in ROUTES if path.startswith(prefix)),
                                    (401, '{{"detail": "Invalid token."}}'))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = answer

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


@pytest.mark.parametrize("routes, why", [
    ([], "refused the token (HTTP 401)"),
    ([("/api/projects/1/export", 200, '[{"data": '),
      ("/api/projects/1/", 200, '{"id": 1, "title": "PactNews"}'),
      ("/api/projects", 200, '{"count": 1, "next": null, "previous": null, "results": '
                             '[{"id": 1, "title": "PactNews", "label_config": "<View/>"}]}')],
     "not a Label Studio JSON export"),
])
def test_a_bad_token_or_a_malformed_export_at_setup_is_one_line_and_the_server_is_stopped(annotate, tmp_path,
                                                                                          routes, why):
    pidfile = tmp_path / "server.pid"
    exe = fake(tmp_path, FAKE_SERVER.format(pidfile=str(pidfile), routes=routes))
    code, lines, err = annotate(exe)
    line = failed(code, lines, err)
    assert why in line and "127.0.0.1" in line, line
    assert _gone(int(pidfile.read_text()))
