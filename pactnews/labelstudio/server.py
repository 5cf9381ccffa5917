"""A local Label Studio server on the loopback interface, and the SDK calls the verbs need.

The server is started with its own process group and stopped by its PID.
Credentials come from the caller (the environment or freshly generated) and
are passed to the server through its environment only: never written to a
file, never logged.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
PROJECT_TITLE = "PactNews"


class ServerError(RuntimeError):
    """Label Studio could not be started or set up; the message is one line naming the cause and the remedy."""


def free_port() -> int:
    """A port nobody listens on now (Label Studio itself would silently move to another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Something listens on 127.0.0.1:port, or the port cannot be bound (Label Studio would move to another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        if s.connect_ex((HOST, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def label_studio_executable() -> str:
    beside = Path(sys.executable).parent / "label-studio"
    found = str(beside) if beside.is_file() else shutil.which("label-studio")
    if not found:
        raise ServerError("the label-studio command is not installed; install the 'annotate' extra "
                          "(pip install -e '.[annotate]') or use `pactnews annotate --tasks-file PATH`")
    return found


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the process that started it dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; annotate also stops the server itself
        pass


@contextmanager
def stop_on_termination():
    """SIGTERM and SIGHUP end `annotate` like Ctrl-C does, so that its server is stopped with it."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    saved = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            saved[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


@dataclass
class Credentials:
    username: str
    password: str
    token: str


def server_env(data_dir: Path, creds: Credentials, base: dict | None = None) -> dict:
    """The environment of a headless, offline Label Studio with a known first user."""
    env = dict(os.environ if base is None else base)
    env.update({
        "LABEL_STUDIO_USERNAME": creds.username,
        "LABEL_STUDIO_PASSWORD": creds.password,
        "LABEL_STUDIO_USER_TOKEN": creds.token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    })
    return env


class Server:
    """One label-studio process: start(), wait_ready(), stop()."""

    def __init__(self, data_dir: Path, creds: Credentials, port: int | None = None, log_path: Path | None = None):
        self.data_dir = Path(data_dir)
        self.creds = creds
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else self.data_dir / "server.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> "Server":
        """Start label-studio; a port in use, a missing or unrunnable executable is a ServerError."""
        if not 0 < self.port < 65536:
            raise ServerError(f"port {self.port} is not a TCP port; pass --port between 1024 and 65535, or leave "
                              "--port out to use a free one")
        if port_in_use(self.port):
            raise ServerError(f"port {self.port} on {HOST} is in use (another Label Studio or another program); "
                              "stop it, pass another --port, or leave --port out to use a free one")
        exe = label_studio_executable()
        cmd = [exe, "start", "--no-browser", "--internal-host", HOST,
               "--port", str(self.port), "--data-dir", str(self.data_dir)]
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_path, "ab")
        except OSError as exc:
            raise ServerError(f"cannot write Label Studio's data folder {self.data_dir}: {exc.strerror or exc}; "
                              "check its permissions and free space") from None
        try:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=server_env(self.data_dir, self.creds), start_new_session=True,
                                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        except OSError as exc:
            raise ServerError(f"cannot run {exe}: {exc.strerror or exc}; reinstall the 'annotate' extra "
                              "(pip install -e '.[annotate]')") from None
        finally:
            log.close()
        return self

    def log_lines(self) -> list[str]:
        """What the server wrote since start(), without colour codes and without the credentials."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(getattr(self, "_log_offset", 0))
                raw = fh.read()[-65536:].decode("utf-8", "replace")
        except OSError:
            return []
        raw = _ANSI.sub("", raw)
        for secret in (self.creds.password, self.creds.token):
            if secret:
                raw = raw.replace(secret, "***")
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def _cause(self) -> str:
        """The last telling line of the log (an exception or error line if there is one)."""
        lines = [line for line in self.log_lines() if not set(line) <= set("*=-_ ")]
        telling = [line for line in lines if re.search(r"(Error|Exception|error:|Errno|refused|denied|locked)", line)]
        line = (telling or lines or ["(nothing in the log)"])[-1]
        return line if len(line) <= 200 else line[:200] + "…"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                return json.loads(resp.read().decode("utf-8")).get("status") == "UP"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_ready(self, timeout: float = 240.0) -> "Server":
        """Wait until /health answers; an early exit, a move to another port or a timeout stops the server and
        is a ServerError naming the cause."""
        deadline = time.monotonic() + timeout
        moved = re.compile(rf"Port {self.port} is in use")
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                code = self.process.returncode
                self.stop()  # what it started in its process group goes too
                raise ServerError(f"label-studio exited with code {code} before it was ready: {self._cause()}; "
                                  f"see {self.log_path}, fix what it names and run `pactnews annotate` again")
            if any(moved.search(line) for line in self.log_lines()):
                self.stop()
                raise ServerError(f"port {self.port} on {HOST} was taken by another program while Label Studio "
                                  "started; run `pactnews annotate` again (without --port it picks a free one)")
            if self.healthy():
                if self.process is not None and self.process.poll() is not None:
                    continue  # something else answered; the exit is reported above
                return self
            time.sleep(1.0)
        self.stop()
        raise ServerError(f"label-studio did not answer {self.url}/health within {timeout:.0f} s (last log line: "
                          f"{self._cause()}); see {self.log_path}; on a slow machine the first start takes minutes: "
                          "run `pactnews annotate` again")

    def stop(self, grace: float = 15.0) -> None:
        """Stop the server by its PID: its own process group (which holds only its children), also when the
        label-studio process itself has exited and left children behind."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # children left in its group; the group dies with the last one
            except (ProcessLookupError, PermissionError):
                pass
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(grace)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # a child that ignored SIGTERM after its parent went
        except (ProcessLookupError, PermissionError):
            pass


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ------------------------------------------------------------------ SDK calls

def client(url: str, api_key: str):
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=url, api_key=api_key)


def find_project(ls, title: str = PROJECT_TITLE):
    """The project with this title (the lowest id if several), or None."""
    matches = [p for p in ls.projects.list() if p.title == title]
    return min(matches, key=lambda p: p.id) if matches else None


def ensure_project(ls, label_config: str, model_version: str, title: str = PROJECT_TITLE) -> tuple[int, bool]:
    """Create the project, or update its labeling config; (id, created).

    The model version of an existing project is set by set_model_version once predictions of that version
    exist: Label Studio refuses a version that neither a prediction nor an ML backend has."""
    project = find_project(ls, title)
    if project is None:
        project = ls.projects.create(title=title, label_config=label_config, model_version=model_version)
        return project.id, True
    if (project.label_config or "").strip() != label_config.strip():
        try:
            ls.projects.update(project.id, label_config=label_config)
        except Exception as exc:  # noqa: BLE001 - a refused config is one line; anything else goes up
            if getattr(exc, "status_code", None) != 400:
                raise
            raise ServerError(f"Label Studio refused the labeling config generated from schemas/labels.yaml for "
                              f"project {project.id}: {_body_line(exc)}; its annotations use labels or controls the "
                              "config no longer has: pull them first (`pactnews pull`), then relabel or delete those "
                              "regions in Label Studio, and run `pactnews annotate` again") from None
    return project.id, False


def set_model_version(ls, project_id: int, model_version: str) -> None:
    ls.projects.update(project_id, model_version=model_version)


def _body_line(exc) -> str:
    body = getattr(exc, "body", None)
    text = json.dumps(body, ensure_ascii=False) if isinstance(body, (dict, list)) else str(body or exc)
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:300] + "…"


def task_document_ids(ls, project_id: int) -> set[str]:
    return {t.data.get("document_id") for t in ls.tasks.list(project=project_id) if isinstance(t.data, dict)}


def import_tasks(ls, project_id: int, tasks: list[dict]) -> list[int]:
    """Import plain task dicts (the typed request models reject nested predictions)."""
    if not tasks:
        return []
    resp = ls.projects.import_tasks(project_id, request=tasks, return_task_ids=True)
    return list(getattr(resp, "task_ids", None) or [])


def export_json(ls, project_id: int) -> list[dict]:
    return ls.projects.exports.as_json(project_id)


def export_bytes(ls, project_id: int) -> bytes:
    """The raw JSON export of a project (community edition: synchronous), parsed by the importer's own
    checks rather than the SDK's."""
    return b"".join(ls.projects.exports.download_sync(project_id, export_type="JSON", download_all_tasks=True))


def export_predictions(ls, project_id: int) -> dict[str, list[dict]]:
    """Predictions per document id (the synchronous JSON export gives prediction ids only)."""
    out: dict[str, list[dict]] = {}
    for task in ls.tasks.list(project=project_id):
        doc_id = (task.data or {}).get("document_id")
        out[doc_id] = [{"model_version": p.model_version, "result": p.result}
                       for p in ls.predictions.list(task=task.id)]
    return out


def predictions_by_task(ls, project_id: int) -> dict[int, list]:
    """task id -> its predictions (objects with id, model_version, result)."""
    out: dict[int, list] = {}
    for p in ls.predictions.list(project=project_id):
        out.setdefault(p.task, []).append(p)
    return out


def _same_result(a, b) -> bool:
    return json.dumps(a, sort_keys=True, ensure_ascii=False) == json.dumps(b, sort_keys=True, ensure_ascii=False)


def replace_predictions(ls, project_id: int, task_id: int, prediction: dict, current: list) -> bool:
    """Make `prediction` the task's only prediction (created before the old ones are deleted); False when it
    already is."""
    if len(current) == 1 and current[0].model_version == prediction["model_version"] \
            and _same_result(current[0].result, prediction["result"]):
        return False
    ls.predictions.create(task=task_id, project=project_id, result=prediction["result"],
                          model_version=prediction["model_version"])
    for old in current:
        ls.predictions.delete(id=old.id)
    return True


def update_task_data(ls, task_id: int, data: dict) -> None:
    ls.tasks.update(id=str(task_id), data=data)


def set_annotation(ls, task_id: int, annotation_id: int | None, result: list[dict]) -> None:
    """Replace the result of an annotation, or create one on the task."""
    if annotation_id is None:
        ls.annotations.create(id=task_id, result=result)
    else:
        ls.annotations.update(id=annotation_id, result=result)
