"""`diptych up` end to end: a real Prefect server, served deployments, a real recording dropped in
the inbox, the review page, an approval that publishes, and a Ctrl-C that leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pipeline.transcribe.model_cache import default_models_dir, install_model

pytestmark = pytest.mark.integration

CONFIG = """
[show]
title = "Test show"
language = "en"
base_url = "https://example.org/podcast/"

[run]
settle_s = 0.5

[up]
watch_interval_s = 1.0
"""


@pytest.fixture(scope="module")
def models_dir() -> Path:
    """The folder `diptych models install base` fills; installed here when a test runs alone."""
    folder = default_models_dir()
    install_model("base", folder)
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Output:
    """The lines `diptych up` prints, read as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, prefix: str, *, timeout_s: float, proc: subprocess.Popen[str]) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
            if proc.poll() is not None:
                time.sleep(0.5)  # the last lines
                pytest.fail(f"diptych up exited ({proc.returncode}) before '{prefix}':\n{self.text}")
            time.sleep(0.2)
        pytest.fail(f"no '{prefix}' line within {timeout_s:.0f} s:\n{self.text}")


def _status(root: Path) -> dict[str, dict[str, object]]:
    done = subprocess.run([sys.executable, "-m", "flows", "--root", str(root), "status", "--json"],
                          capture_output=True, text=True, timeout=60, check=True)
    return {row["slug"]: row for row in json.loads(done.stdout)}


def _wait_for_state(root: Path, slug: str, state: str, *, timeout_s: float, output: Output) -> None:
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        row = _status(root).get(slug)
        seen = row["state"] if row else None
        if seen == state:
            return
        if seen == "failed":
            pytest.fail(f"{slug} failed: {row and row['error']}\n{output.text}")
        time.sleep(2)
    pytest.fail(f"{slug} still {seen} after {timeout_s:.0f} s, not {state}:\n{output.text}")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _eventually(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def _drop(inbox: Path, speech: Path) -> None:
    """A 9 s FLEURS recording with its text as the article."""
    text = (speech / "fleurs-en-001.txt").read_text(encoding="utf-8").strip()
    (inbox / "hello.md").write_text(f"---\ntitle: Hello there\nlanguage: en\n---\n\n# Hello there\n\n{text}\n",
                                    encoding="utf-8")
    shutil.copyfile(speech / "fleurs-en-001.ogg", inbox / "hello.ogg")


def _diptychs_client(root: Path, api: str) -> httpx.Client:
    """A client as diptych's own: the project's secret (output/.diptych/prefect-secret) and a CSRF token."""
    user, password = (root / "output" / ".diptych" / "prefect-secret").read_text(encoding="utf-8").strip().split(":", 1)
    client = httpx.Client(base_url=api, auth=(user, password), timeout=10)
    token = client.get("/csrf-token", params={"client": "test"}).json()["token"]
    client.headers.update({"Prefect-Csrf-Token": token, "Prefect-Csrf-Client": "test"})
    return client


def test_up_processes_a_drop_publishes_on_approval_and_stops_cleanly(project, speech, models_dir):
    root = project.root
    (root / "diptych.toml").write_text(CONFIG, encoding="utf-8")
    prefect_port, review_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows", "--root", str(root), "up", "--prefect-port", str(prefect_port),
         "--review-port", str(review_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    output = Output(proc)
    try:
        ui = output.wait_for("Prefect UI:", timeout_s=240, proc=proc)
        review_url = output.wait_for("review page:", timeout_s=30, proc=proc)
        assert output.wait_for("inbox:", timeout_s=5, proc=proc) == str(project.inbox)
        output.wait_for("watching the inbox", timeout_s=5, proc=proc)
        assert ui == f"http://127.0.0.1:{prefect_port}"
        assert httpx.get(f"{ui}/api/health", timeout=10).json() is True
        assert httpx.post(f"{ui}/api/deployments/filter", json={}, timeout=10).status_code == 403  # locked
        api = _diptychs_client(root, f"{ui}/api")
        listed = api.post("/deployments/filter", json={}).json()
        assert sorted(d["entrypoint"] for d in listed) == [
            "flows.process_episode.process_inbox", "flows.process_episode.publish_episode"]
        assert all(d["parameters"]["root"] == str(root) for d in listed)

        _drop(project.inbox, speech)
        _wait_for_state(root, "hello", "awaiting_review", timeout_s=300, output=output)
        assert not list(project.inbox.glob("hello.*"))  # moved into the workspace
        assert _eventually(lambda: any(
            line.endswith("hello: drop claimed") for line in output.lines), 10), output.text
        assert _eventually(lambda: any(
            "hello: awaiting review" in line for line in output.lines), 10), output.text

        token = review_url.split("token=", 1)[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{review_port}", follow_redirects=True, timeout=30) as page:
            answer = page.get(f"/episodes/hello?token={token}")
            assert answer.status_code == 200 and "Hello there" in answer.text
            approved = page.post("/api/episodes/hello/approve", json={"anyway": True},
                                 headers={"X-Diptych-Token": token})
            assert approved.status_code == 200, approved.text
        # Published by a run of the served publish deployment.
        _wait_for_state(root, "hello", "published", timeout_s=180, output=output)
        assert (root / "output" / "site" / "hello" / "index.html").is_file()
        runs = api.post("/flow_runs/filter", json={}).json()
        assert {r["state_type"] for r in runs if r["deployment_id"]} == {"COMPLETED"}
        assert len({r["deployment_id"] for r in runs if r["deployment_id"]}) == 2

        tree = _descendants(proc.pid)
        assert tree, "the Prefect server runs as a child of diptych up"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0, output.text
        assert _eventually(lambda: not any(_running(pid) for pid in tree), 15), [
            pid for pid in tree if _running(pid)]
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{ui}/api/health", timeout=5)
        assert _eventually(lambda: bool(output.lines) and output.lines[-1].endswith("stopped"), 5), output.text
        assert "Traceback" not in output.text, output.text
    finally:
        if proc.poll() is None:
            for pid in _descendants(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(10)


def test_up_uses_the_users_own_prefect_server_and_leaves_it_running(project, tmp_path):
    port, review_port = _free_port(), _free_port()
    theirs_home = tmp_path / "their-prefect"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    theirs = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(env, PREFECT_HOME=str(theirs_home)),
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        assert _eventually(lambda: _answers(api), 180), "the test's own Prefect server did not start"
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows", "--root", str(project.root), "up", "--review-port", str(review_port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(env, PYTHONUNBUFFERED="1", PREFECT_API_URL=api),
        )
        output = Output(proc)
        try:
            ui = output.wait_for("Prefect UI:", timeout_s=120, proc=proc)
            output.wait_for("watching the inbox", timeout_s=30, proc=proc)
            assert ui == f"http://127.0.0.1:{port} (your server, from PREFECT_API_URL)"
            assert "starting the Prefect server" not in output.text
            listed = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
            assert len(listed) == 2 and {d["parameters"]["root"] for d in listed} == {str(project.root)}
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0, output.text
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert _answers(api)  # theirs: still running
    finally:
        os.killpg(theirs.pid, signal.SIGTERM)
        theirs.wait(30)


def _answers(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=5).json() is True
    except httpx.HTTPError:
        return False
