"""A local Label Studio server on the loopback interface, and the SDK calls the verbs need.

The server is started with its own process group and stopped by its PID.
Credentials come from the caller (the environment or freshly generated) and
are passed to the server through its environment only: never written to a
file, never logged.
"""
from __future__ import annotations

import json
import os
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


def free_port() -> int:
    """A port nobody listens on now (Label Studio itself would silently move to another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def label_studio_executable() -> str:
    beside = Path(sys.executable).parent / "label-studio"
    found = str(beside) if beside.is_file() else shutil.which("label-studio")
    if not found:
        raise FileNotFoundError("the label-studio command is not installed; install the 'annotate' extra "
                                "(pip install -e '.[annotate]')")
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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [label_studio_executable(), "start", "--no-browser", "--internal-host", HOST,
               "--port", str(self.port), "--data-dir", str(self.data_dir)]
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=server_env(self.data_dir, self.creds), start_new_session=True,
                                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        finally:
            log.close()
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                return json.loads(resp.read().decode("utf-8")).get("status") == "UP"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_ready(self, timeout: float = 240.0) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"label-studio exited with code {self.process.returncode} before it was ready; "
                                   f"see {self.log_path}")
            if self.healthy():
                return self
            time.sleep(1.0)
        self.stop()
        raise TimeoutError(f"label-studio did not answer {self.url}/health within {timeout:.0f} s; see {self.log_path}")

    def stop(self, grace: float = 15.0) -> None:
        """Stop the server by its PID (its own process group, which holds only its children)."""
        proc = self.process
        if proc is None or proc.poll() is not None:
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


# ------------------------------------------------------------------ SDK calls

def client(url: str, api_key: str):
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=url, api_key=api_key)


def find_project(ls, title: str = PROJECT_TITLE):
    """The project with this title (the lowest id if several), or None."""
    matches = [p for p in ls.projects.list() if p.title == title]
    return min(matches, key=lambda p: p.id) if matches else None


def ensure_project(ls, label_config: str, model_version: str, title: str = PROJECT_TITLE) -> tuple[int, bool]:
    """Create the project, or update its labeling config and model version; (id, created)."""
    project = find_project(ls, title)
    if project is None:
        project = ls.projects.create(title=title, label_config=label_config, model_version=model_version)
        return project.id, True
    ls.projects.update(project.id, label_config=label_config, model_version=model_version)
    return project.id, False


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
