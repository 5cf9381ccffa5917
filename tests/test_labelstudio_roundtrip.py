"""Issue 13: a Label Studio round trip that cannot lose work (offline).

Offsets exact or refused, mass deletion needs consent, the three-way pull against the recorded base,
stable ids, one-line errors on hostile exports and unreachable servers, the server's process group.
Every refusal asserts the exit status, a message naming what and where, and that no file changed.
"""
import copy
import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from pactnews.annotations import standoff
from pactnews.cli import main
from pactnews.labelstudio import server as ls_server
from pactnews.labelstudio.convert import PREDICTION_PREFIX, from_result, to_result
from pactnews.labelstudio.merge import dump_state, new_entry, read_state, state_path
from pactnews.labelstudio.readers import read_corpus
from pactnews.labelstudio.tasks import build_task, build_tasks
from pactnews.repo import Layout
from pactnews.files import sha256_text

from ls_server import INV, REPO, make_repo, markup_docs, write_gold

DOCS = markup_docs()
CORPUS = read_corpus(Layout(REPO))
RECORDS = {r["document_id"]: r for r in CORPUS}
FIRST = sorted(DOCS)[0]
STAMP = "2031-05-06T07:08:09Z"


# ------------------------------------------------------------------ helpers

@pytest.fixture()
def repo(tmp_path, monkeypatch):
    """A repository with the markup gold of every document and its tables."""
    root = make_repo(tmp_path)
    write_gold(root, DOCS)
    monkeypatch.setenv("PACTNEWS_ANNOTATOR_SALT", "test-salt")
    return root


def record_base(root, docs: dict[str, dict]) -> None:
    """What `annotate --with-gold` records: the gold pushed as each task's annotation."""
    entries = {d: new_entry(copy.deepcopy(doc), doc["text_sha256"], INV, doc) for d, doc in docs.items()}
    state_path(Layout(root)).parent.mkdir(parents=True, exist_ok=True)
    state_path(Layout(root)).write_bytes(dump_state(entries))


def tree_hash(root) -> str:
    """One hash over every file of annotations/ and labelstudio-data/ (paths and bytes)."""
    h = hashlib.sha256()
    for folder in ("annotations", "labelstudio-data"):
        for p in sorted((root / folder).rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def task_for(doc_id: str, doc: dict | None, k: int = 0, text: str | None = None) -> dict:
    rec = dict(RECORDS[doc_id])
    if text is not None:
        rec.update(text=text, text_sha256=sha256_text(text))
    (task,) = build_tasks([rec], INV)
    task["id"] = 100 + k
    if doc is not None:
        task["annotations"] = [{"id": 900 + k, "completed_by": {"id": 41, "email": "a@example.org"},
                                "result": to_result(doc, rec["text"], INV), "was_cancelled": False,
                                "created_at": STAMP}]
    return task


def run(root, tasks, capsys, tmp_path, *extra, raw: bytes | None = None) -> tuple[int, str]:
    path = tmp_path / "export.json"
    path.write_bytes(raw if raw is not None else json.dumps(tasks, ensure_ascii=False).encode("utf-8"))
    code = main(["--root", str(root), "import-ls", str(path), *extra])
    return code, capsys.readouterr().out


def error_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "[ERROR " in line or line.startswith("FAILED")]


def refused(root, before: str, code: int, out: str) -> None:
    assert code == 1, out
    assert "Traceback" not in out
    assert out.rstrip().splitlines()[-1].startswith("FAILED") and "nothing written" in out.rstrip().splitlines()[-1]
    assert tree_hash(root) == before


def labels_item(result: list, layer: str = "entities", n: int = 0) -> dict:
    return [i for i in result if i.get("from_name") == layer and i["type"] == "labels"][n]


# ------------------------------------------------------------------ 1. offsets exact or refused

def test_offsets_off_by_one_are_refused_naming_task_document_region_offsets_and_texts(repo, capsys, tmp_path):
    task = task_for(FIRST, DOCS[FIRST])
    item = labels_item(task["annotations"][0]["result"])
    item["value"]["start"] += 1
    item["value"]["end"] += 1
    start, end, expected = item["value"]["start"], item["value"]["end"], item["value"]["text"]
    found = RECORDS[FIRST]["text"][start:end]
    before = tree_hash(repo)
    code, out = run(repo, [task], capsys, tmp_path)
    refused(repo, before, code, out)
    (line,) = [line for line in error_lines(out) if "[ERROR" in line]
    assert "[ERROR region-text-mismatch]" in line and "Task 100" in line and f"Doc {FIRST}" in line
    assert f"Region {item['id']}" in line and f"[{start}:{end}]" in line
    assert repr(expected) in line and repr(found) in line
    assert "WARNING" not in out


def test_missing_value_text_and_white_space_only_differences_are_accepted():
    text = "Seoul  said\nMoscow."
    doc = standoff.empty("d", "h")
    doc["entities"] = [{"id": "E1", "start": 0, "end": 11, "text": text[:11], "label": "GPE", "entity_id": None},
                       {"id": "E2", "start": 12, "end": 18, "text": "Moscow", "label": "GPE", "entity_id": None}]
    result = to_result(doc, text, INV)
    result[0]["value"]["text"] = "Seoul said"  # white space collapsed
    del result[1]["value"]["text"]
    back, issues = from_result(result, text, "d", "h", INV)
    assert issues == [] and standoff.dumps(back) == standoff.dumps(doc)


def test_utf16_offsets_are_converted_only_when_they_give_value_text():
    text = "Hi 😀 there 𝔘 and Seoul said yes."
    at = text.index("Seoul")
    doc = standoff.empty("d", "h")
    doc["entities"] = [{"id": "E1", "start": at, "end": at + 5, "text": "Seoul", "label": "GPE", "entity_id": None}]
    result = to_result(doc, text, INV)
    result[0]["value"].update(start=at + 2, end=at + 7)  # UTF-16 code units: two astral characters before
    back, issues = from_result(result, text, "d", "h", INV)
    assert [(i.severity, i.test_id) for i in issues] == [("note", "offsets-utf16-converted")]
    assert f"[{at + 2}:{at + 7}]" in str(issues[0]) and f"[{at}:{at + 5}]" in str(issues[0])
    assert standoff.dumps(back) == standoff.dumps(doc)
    result[0]["value"]["text"] = "Tokyo"  # neither reading gives it
    _, issues = from_result(result, text, "d", "h", INV)
    assert [(i.severity, i.test_id) for i in issues] == [("error", "region-text-mismatch")]
    assert "'Tokyo'" in str(issues[0]) and repr(text[at + 2:at + 7]) in str(issues[0])


def with_raw_prefix(root, doc_id: str, prefix: str) -> str:
    """The raw file of a document with `prefix` put first, its hash recorded and the corpus cleaned again (a
    repository validate accepts); the new clean text."""
    layout = Layout(root)
    meta = layout.metadata.read_text(encoding="utf-8")
    raw = layout.raw / f"{doc_id}.txt"
    old = hashlib.sha256(raw.read_bytes()).hexdigest()
    raw.write_bytes(prefix.encode("utf-8") + raw.read_bytes())
    layout.metadata.write_text(meta.replace(old, hashlib.sha256(raw.read_bytes()).hexdigest()), encoding="utf-8")
    assert main(["--root", str(root), "clean"]) == 0
    return (layout.clean / f"{doc_id}.txt").read_text(encoding="utf-8")


def test_utf16_conversion_is_said_in_the_summary(repo, capsys, tmp_path):
    (repo / "annotations" / f"{FIRST}.json").unlink()
    text = with_raw_prefix(repo, FIRST, "😀🇰🇷 ")
    capsys.readouterr()
    assert text == "😀🇰🇷 " + RECORDS[FIRST]["text"]
    shift = len("😀🇰🇷 ")
    doc = standoff.empty(FIRST, sha256_text(text))
    e = DOCS[FIRST]["entities"][0]
    doc["entities"] = [{**e, "id": "E1", "start": e["start"] + shift, "end": e["end"] + shift}]
    task = task_for(FIRST, None, text=text)
    result = to_result(doc, text, INV)
    result[0]["value"].update(start=result[0]["value"]["start"] + 3, end=result[0]["value"]["end"] + 3)  # UTF-16
    task["annotations"] = [{"id": 1, "completed_by": 1, "result": result}]
    code, out = run(repo, [task], capsys, tmp_path)
    assert code == 0, out
    assert "[NOTE offsets-utf16-converted]" in out and "1 region(s) with UTF-16 offsets converted" in out
    assert standoff.read(repo / "annotations" / f"{FIRST}.json")["entities"] == doc["entities"]


# ------------------------------------------------------------------ 2. mass deletion needs consent

def test_an_empty_result_is_refused_and_what_it_would_delete_is_listed(repo, capsys, tmp_path):
    task = task_for(FIRST, DOCS[FIRST])
    task["annotations"][0]["result"] = []
    before = tree_hash(repo)
    code, out = run(repo, [task], capsys, tmp_path)
    refused(repo, before, code, out)
    assert "[ERROR mass-deletion]" in out and "the annotation is empty" in out and f"Doc {FIRST}" in out
    assert "--allow-deletions" in out
    first = sorted(DOCS[FIRST]["entities"], key=standoff.sort_key("entities"))[0]
    assert f"  would delete entities {first['id']} [{first['start']}:{first['end']}]" in out
    code, out = run(repo, [task], capsys, tmp_path, "--allow-deletions")
    assert code == 0, out
    assert standoff.read(repo / "annotations" / f"{FIRST}.json")["entities"] == []


def test_deleting_more_than_a_fifth_of_the_spans_is_refused_one_deletion_is_not(repo, capsys, tmp_path):
    doc = copy.deepcopy(DOCS[FIRST])
    names = [e["id"] for e in doc["entities"]]
    assert len(names) >= 3
    cut = copy.deepcopy(doc)
    drop = set(names[: len(names) // 2 + 1])
    cut["entities"] = [e for e in cut["entities"] if e["id"] not in drop]
    cut["relations"] = [r for r in cut["relations"] if r["to_id"] not in drop]
    cut["claims"] = [c for c in cut["claims"]]
    before = tree_hash(repo)
    total = sum(len(doc[layer]) for layer in standoff.SPAN_LAYERS)
    code, out = run(repo, [task_for(FIRST, cut)], capsys, tmp_path)
    if len(drop) > 0.2 * total:
        refused(repo, before, code, out)
        assert f"it deletes {len(drop)} of {total} span(s)" in out
    one = copy.deepcopy(doc)
    gone = next(e["id"] for e in one["entities"] if not any(r["to_id"] == e["id"] for r in one["relations"]))
    one["entities"] = [e for e in one["entities"] if e["id"] != gone]
    code, out = run(repo, [task_for(FIRST, one)], capsys, tmp_path)
    assert code == 0, out
    assert "Deletions:" in out and f"  delete entities {gone} " in out


def test_a_submitted_prediction_that_drops_its_relations_is_refused(repo, capsys, tmp_path):
    (repo / "annotations" / f"{FIRST}.json").unlink()
    task = task_for(FIRST, None)
    prediction = to_result(DOCS[FIRST], RECORDS[FIRST]["text"], INV, PREDICTION_PREFIX)
    task["predictions"] = [{"model_version": "m", "result": prediction}]
    task["annotations"] = [{"id": 1, "completed_by": 1, "result": [i for i in prediction if i["type"] != "relation"]}]
    before = tree_hash(repo)
    code, out = run(repo, [task], capsys, tmp_path)
    refused(repo, before, code, out)
    assert "[ERROR mass-deletion]" in out and "pre-annotated relation" in out and f"Doc {FIRST}" in out
    task["annotations"][0]["result"] = prediction  # with its relations: accepted, no gold id reused
    code, out = run(repo, [task], capsys, tmp_path)
    assert code == 0, out
    got = standoff.read(repo / "annotations" / f"{FIRST}.json")
    assert len(got["relations"]) == len(DOCS[FIRST]["relations"])
    assert all(not r["id"].startswith(PREDICTION_PREFIX) for layer in standoff.LAYERS for r in got[layer])


# ------------------------------------------------------------------ 3. three-way pull against the base

def edit_claim(doc: dict, k: int, field: str) -> str:
    claim = doc["claims"][k]
    claim[field] = next(v for v in INV.values(field) if v != claim[field])
    return claim["id"]


def test_repository_and_label_studio_edits_on_different_spans_are_both_kept(repo, capsys, tmp_path):
    record_base(repo, DOCS)
    ours = copy.deepcopy(DOCS[FIRST])
    ours_id = edit_claim(ours, 0, "factuality")  # edited in the repository since the push
    (repo / "annotations" / f"{FIRST}.json").write_text(standoff.dumps(ours), encoding="utf-8")
    theirs = copy.deepcopy(DOCS[FIRST])
    theirs_id = edit_claim(theirs, 1, "modality")  # edited in Label Studio
    others = {d: (repo / "annotations" / f"{d}.json").stat().st_mtime_ns for d in DOCS if d != FIRST}
    tasks = [task_for(d, DOCS[d] if d != FIRST else theirs, k) for k, d in enumerate(sorted(DOCS))]
    code, out = run(repo, tasks, capsys, tmp_path)
    assert code == 0, out
    got = standoff.read(repo / "annotations" / f"{FIRST}.json")
    by_id = {c["id"]: c for c in got["claims"]}
    assert by_id[ours_id]["factuality"] == ours["claims"][0]["factuality"]
    assert by_id[theirs_id]["modality"] == theirs["claims"][1]["modality"]
    assert {d: (repo / "annotations" / f"{d}.json").stat().st_mtime_ns for d in others} == others  # untouched
    assert f"{len(others)} unchanged in Label Studio, not rewritten" in out


def test_the_same_span_changed_on_both_sides_is_a_conflict_naming_both_versions(repo, capsys, tmp_path):
    record_base(repo, DOCS)
    ours = copy.deepcopy(DOCS[FIRST])
    span = edit_claim(ours, 0, "factuality")
    (repo / "annotations" / f"{FIRST}.json").write_text(standoff.dumps(ours), encoding="utf-8")
    theirs = copy.deepcopy(DOCS[FIRST])
    theirs["claims"][0]["factuality"] = [v for v in INV.values("factuality")
                                         if v not in (ours["claims"][0]["factuality"],
                                                      DOCS[FIRST]["claims"][0]["factuality"])][0]
    before = tree_hash(repo)
    code, out = run(repo, [task_for(FIRST, theirs)], capsys, tmp_path)
    refused(repo, before, code, out)
    (line,) = [line for line in out.splitlines() if "[ERROR conflict]" in line]
    assert f"claims {span}" in line and f"Doc {FIRST}" in line
    assert repr(theirs["claims"][0]["factuality"]) in line and repr(ours["claims"][0]["factuality"]) in line


def test_a_second_pull_of_the_same_result_changes_nothing(repo, capsys, tmp_path):
    record_base(repo, DOCS)
    theirs = copy.deepcopy(DOCS[FIRST])
    edit_claim(theirs, 0, "factuality")
    assert run(repo, [task_for(FIRST, theirs)], capsys, tmp_path)[0] == 0
    first = tree_hash(repo)
    code, out = run(repo, [task_for(FIRST, theirs)], capsys, tmp_path)
    assert code == 0 and tree_hash(repo) == first


def test_a_damaged_base_record_is_refused(repo, capsys, tmp_path):
    record_base(repo, DOCS)
    path = state_path(Layout(repo))
    data = json.loads(path.read_text())
    data["documents"][FIRST]["base"]["entities"] = []
    path.write_text(json.dumps(data))
    before = tree_hash(repo)
    code, out = run(repo, [task_for(FIRST, DOCS[FIRST])], capsys, tmp_path)
    refused(repo, before, code, out)
    assert "does not match its hash" in out and FIRST in out


# ------------------------------------------------------------------ 4. stable ids

def test_new_spans_get_ids_above_any_ever_used_and_deleted_ids_are_not_reused(repo, capsys, tmp_path):
    record_base(repo, DOCS)
    state = read_state(Layout(repo))
    state[FIRST]["highest"]["entities"] = 90  # E90 was used once and deleted before the push
    state_path(Layout(repo)).write_bytes(dump_state(state))
    theirs = copy.deepcopy(DOCS[FIRST])
    gone = next(e for e in theirs["entities"] if not any(r["to_id"] == e["id"] for r in theirs["relations"]))
    theirs["entities"].remove(gone)
    task = task_for(FIRST, theirs)
    result = task["annotations"][0]["result"]
    result.append({"id": "xYz12", "from_name": "entities", "to_name": "text", "type": "labels",
                   "value": {"start": gone["start"], "end": gone["end"], "text": gone["text"], "labels": [gone["label"]]}})
    result.append({"id": "xYz12", "from_name": "entities_entity_id", "to_name": "text", "type": "textarea",
                   "value": {"start": gone["start"], "end": gone["end"], "text": [gone["entity_id"]]}})
    code, out = run(repo, [task], capsys, tmp_path)
    assert code == 0, out
    got = standoff.read(repo / "annotations" / f"{FIRST}.json")
    new = [e for e in got["entities"] if (e["start"], e["end"], e["label"]) == (gone["start"], gone["end"], gone["label"])]
    assert [e["id"] for e in new] == ["E91"] and gone["id"] not in {e["id"] for e in got["entities"]}
    assert got["relations"] == sorted(DOCS[FIRST]["relations"], key=standoff.sort_key("relations"))  # ids kept
    assert read_state(Layout(repo))[FIRST]["highest"]["entities"] == 91


def test_pre_annotation_regions_never_carry_gold_ids():
    doc = DOCS[FIRST]
    task = build_task(RECORDS[FIRST], INV, doc, "m", [doc])
    pre = task["predictions"][0]["result"]
    gold_ids = {r["id"] for layer in standoff.LAYERS for r in doc[layer]}
    assert all(i["id"].startswith(PREDICTION_PREFIX) for i in pre)
    assert not {i["id"] for i in pre} & gold_ids
    assert all(i["from_id"].startswith(PREDICTION_PREFIX) for i in pre if i["type"] == "relation")
    assert all(i["value"]["text"][0].startswith(PREDICTION_PREFIX) for i in pre if i.get("from_name") == "claims_time_id")
    back, issues = from_result(pre, RECORDS[FIRST]["text"], FIRST, RECORDS[FIRST]["text_sha256"], INV)
    assert issues == [] and [c["time_id"] is None for c in back["claims"]] == [c["time_id"] is None for c in
                                                                              sorted(doc["claims"], key=standoff.sort_key("claims"))]


def test_a_deleted_id_in_a_two_way_import_is_renumbered(repo, capsys, tmp_path):
    theirs = copy.deepcopy(DOCS[FIRST])
    gone = next(e for e in theirs["entities"] if not any(r["to_id"] == e["id"] for r in theirs["relations"]))
    gold = copy.deepcopy(DOCS[FIRST])
    gold["entities"].remove(gone)  # deleted in the repository; the export still has a region with its id
    (repo / "annotations" / f"{FIRST}.json").write_text(standoff.dumps(gold), encoding="utf-8")
    code, out = run(repo, [task_for(FIRST, theirs)], capsys, tmp_path)
    assert code == 0, out
    got = standoff.read(repo / "annotations" / f"{FIRST}.json")
    (back,) = [e for e in got["entities"] if (e["start"], e["end"]) == (gone["start"], gone["end"])]
    top = max(int(e["id"][1:]) for e in DOCS[FIRST]["entities"])
    assert back["id"] != gone["id"] and int(back["id"][1:]) > max(int(e["id"][1:]) for e in gold["entities"])
    assert top >= 1


# ------------------------------------------------------------------ 5. one-line errors

def _deep(n):
    return b"[" * n + b"]" * n


HOSTILE = {
    "invalid JSON": (b'[{"data": ', "not a Label Studio JSON export"),
    "non-UTF-8": ('[{"data": {"text": "caf\xe9"}}]'.encode("latin-1"), "not UTF-8"),
    "lone surrogate": (b'[{"id": 1, "data": {"document_id": "\\ud800"}}]', "lone surrogate"),
    "deep nesting (orjson limit)": (_deep(5000), "nested"),
    "deep nesting (under the parser limits)": (_deep(200), "nested more than"),
    "not a list": (b'"hello"', "a list of tasks, found str"),
    "tasks of the wrong type": (b"[1, 2]", "malformed-task"),
    "document id of the wrong type": (b'[{"id": 7, "data": {"document_id": ["x"]}}]', "unknown-document"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_export_files_fail_in_one_line_and_change_nothing(repo, capsys, tmp_path, case):
    raw, why = HOSTILE[case]
    before = tree_hash(repo)
    code, out = run(repo, None, capsys, tmp_path, raw=raw)
    refused(repo, before, code, out)
    assert why in out
    assert "export.json" in out
    if why.startswith(("not", "lone", "nested", "a list")):
        assert len(out.strip().splitlines()) == 1


def _wrong_types(t):
    t["annotations"][0]["result"] = {"not": "a list"}


def _start_string(t):
    labels_item(t["annotations"][0]["result"])["value"]["start"] = "12"


def _annotations_dict(t):
    t["annotations"] = {"oops": 1}


def _duplicate_ids(t):
    result = t["annotations"][0]["result"]
    a, b = labels_item(result, n=0), labels_item(result, n=1)
    result[:] = [i for i in result if not (i.get("id") == b["id"] and i["type"] != "labels")
                 and not (i["type"] == "relation" and b["id"] in (i["from_id"], i["to_id"]))]
    b["id"] = a["id"]


def _dangling(t):
    next(i for i in t["annotations"][0]["result"] if i["type"] == "relation")["to_id"] = "E9999"


def _unknown_label(t):
    labels_item(t["annotations"][0]["result"])["value"]["labels"] = ["PERSONA"]


def _value_text_type(t):
    labels_item(t["annotations"][0]["result"])["value"]["text"] = ["a", "list"]


HOSTILE_TASKS = {
    "result-not-a-list": _wrong_types,
    "offset-out-of-range": _start_string,
    "malformed-annotation": _annotations_dict,
    "duplicate-region": _duplicate_ids,
    "dangling-relation": _dangling,
    "unknown-label": _unknown_label,
    "malformed-item": _value_text_type,
}


@pytest.mark.parametrize("test_id", sorted(HOSTILE_TASKS))
def test_hostile_tasks_are_refused_naming_what_and_where(repo, capsys, tmp_path, test_id):
    record_base(repo, DOCS)  # and through the three-way path
    task = task_for(FIRST, DOCS[FIRST])
    HOSTILE_TASKS[test_id](task)
    before = tree_hash(repo)
    code, out = run(repo, [task], capsys, tmp_path)
    refused(repo, before, code, out)
    (line,) = [line for line in out.splitlines() if "[ERROR " in line]
    assert f"[ERROR {test_id}]" in line and "Task 100" in line and f"Doc {FIRST}" in line


def test_a_byte_order_mark_is_harmless(repo, capsys, tmp_path):
    theirs = copy.deepcopy(DOCS[FIRST])
    claim_id = edit_claim(theirs, 0, "factuality")
    raw = b"\xef\xbb\xbf" + json.dumps([task_for(FIRST, theirs)], ensure_ascii=False).encode("utf-8")
    code, out = run(repo, None, capsys, tmp_path, raw=raw)
    assert code == 0, out
    written = {c["id"]: c for c in standoff.read(repo / "annotations" / f"{FIRST}.json")["claims"]}
    edited = next(c for c in theirs["claims"] if c["id"] == claim_id)
    assert written[claim_id]["factuality"] == edited["factuality"] != DOCS[FIRST]["claims"][0]["factuality"]
    assert "gold updated" in out


def pull(root, url, key, capsys, *extra) -> tuple[int, str]:
    os.environ["LABEL_STUDIO_URL"], os.environ["LABEL_STUDIO_API_KEY"] = url, key
    try:
        code = main(["--root", str(root), "pull", *extra])
    finally:
        del os.environ["LABEL_STUDIO_URL"], os.environ["LABEL_STUDIO_API_KEY"]
    return code, capsys.readouterr().out


def test_pull_from_a_stopped_server_is_one_line(repo, capsys):
    port = ls_server.free_port()  # nobody listens there
    before = tree_hash(repo)
    code, out = pull(repo, f"http://127.0.0.1:{port}", "abcdef123456", capsys)
    assert code == 1 and len(out.strip().splitlines()) == 1, out
    assert out.startswith("FAILED: cannot reach Label Studio at") and str(port) in out
    assert tree_hash(repo) == before


class _Fake(http.server.BaseHTTPRequestHandler):
    status, body = 200, b"[]"

    def do_GET(self):  # noqa: N802
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def fake_server():
    servers = []

    def start(status: int, body: bytes) -> str:
        handler = type("H", (_Fake,), {"status": status, "body": body})
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("status, body, why", [
    (401, b'{"detail": "Invalid token."}', "refused the token (HTTP 401)"),
    (200, b'[{"data": ', "not a Label Studio JSON export"),
    (200, b'[{"id": 1, "data": {"text": "\\udfff"}}]', "lone surrogate"),
    (200, _deep(3000), "nested"),
    (200, b"\xff\xfe[]", "not UTF-8"),
])
def test_pull_with_a_bad_token_or_a_malformed_export_is_one_line(repo, capsys, fake_server, status, body, why):
    url = fake_server(status, body)
    before = tree_hash(repo)
    code, out = pull(repo, url, "abcdef123456", capsys, "--project", "1")
    assert code == 1 and len(out.strip().splitlines()) == 1, out
    assert out.startswith("FAILED") and why in out and "Traceback" not in out
    assert tree_hash(repo) == before


FAKE_LABEL_STUDIO = textwrap.dedent("""\
    #!{python}
    import time
    while True:
        time.sleep(1)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie has exited
        return fh.read().split(") ")[1][0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and PDEATHSIG as on Linux")
def test_the_server_has_its_own_process_group_and_dies_with_its_parent(tmp_path):
    exe = tmp_path / "label-studio"
    exe.write_text(FAKE_LABEL_STUDIO.format(python=sys.executable))
    exe.chmod(0o755)
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from pactnews.labelstudio import server as s
        s.label_studio_executable = lambda: {str(exe)!r}
        srv = s.Server(Path({str(tmp_path / 'data')!r}), s.Credentials('u', 'p', 'tokentoken')).start()
        print(srv.process.pid, flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True, cwd=str(REPO))
    try:
        pid = int(parent.stdout.readline())
        assert os.getpgid(pid) == pid != os.getpgid(0)  # its own process group
        assert _alive(pid)
        parent.kill()  # SIGKILL: no finally runs in the parent
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid)
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals as on Linux")
def test_sigterm_ends_annotate_like_ctrl_c():
    with ls_server.stop_on_termination():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
