"""Security and faults: review cannot be skipped through Prefect's API, the servers' Host checks
are strict, a read-only output folder is one line, nothing diptych starts outlives it, a killed
write leaves no temporary file for good, and an expected failure is one line (terminal and
Prefect's log).

Each case checks, besides its exit code and its line: the originals keep their sha256, the other
episode (a bystander) is untouched, and nothing is written outside output/.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from flows.api_server import host_allowed
from flows.children import is_alive, stop_leftovers
from flows.logs import ExpectedFailureFilter
from pipeline import episodes, stages
from pipeline.config import Settings
from pipeline.errors import AudioDecodeError
from pipeline.layout import ProjectLayout
from pipeline.models import Approver, EpisodeState
from pipeline.review import approve_episode, create_app, hostname_of
from pipeline.store import sha256_file
from tests.factories import article_markdown, encode_mp3, make_episode, make_transcript, pairing_for

SHOW = """[show]
title = "Security"
author = "Tester"
owner_email = "tester@example.org"
language = "en"
base_url = "https://example.org/podcast/"

[run]
settle_s = 0.5

[up]
watch_interval_s = 1.0
"""
BYSTANDER = "bystander"


# --- the show folder, and what every case checks ---------------------------------------------------


def _tree(folder: Path, *, skip: Path | None = None) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and not (skip and p.is_relative_to(skip))}


@dataclass
class Show:
    project: ProjectLayout
    outside: dict[str, str]  # everything outside output/ (inbox drops included), by sha256
    bystander: dict[str, str]

    @property
    def root(self) -> Path:
        return self.project.root

    def mark(self) -> None:
        """Remember the folder once the case's files are in place."""
        self.outside = _tree(self.root, skip=self.project.output)
        self.bystander = _tree(self.project.episode(BYSTANDER).root)

    def check(self) -> None:
        """Originals kept (in the inbox, or moved to an episode's source/ with the same sha256), the
        bystander untouched, nothing new outside output/."""
        now_outside = _tree(self.root, skip=self.project.output)
        sources = set(_tree(self.project.episodes_dir).values()) if self.project.episodes_dir.is_dir() else set()
        for rel, sha in self.outside.items():
            assert now_outside.get(rel) == sha or (rel.startswith("inbox/") and sha in sources), rel
        assert set(now_outside) <= set(self.outside), set(now_outside) - set(self.outside)
        assert _tree(self.project.episode(BYSTANDER).root) == self.bystander


@pytest.fixture
def case(tmp_path: Path) -> Show:
    root = tmp_path / "show"
    (root / "inbox").mkdir(parents=True)
    (root / "output").mkdir()
    (root / "diptych.toml").write_text(SHOW, encoding="utf-8")
    project = ProjectLayout(root=root)
    layout = project.episode(BYSTANDER)
    layout.source_dir.mkdir(parents=True)
    layout.source_file("bystander.md").write_text("# The bystander\n\nNo case may touch it.\n", encoding="utf-8")
    episodes.create_record(layout, title="The bystander", source_article="bystander.md")
    case = Show(project, {}, {})
    case.mark()
    return case


def _settled(*paths: Path) -> None:
    past = time.time() - 60
    for path in paths:
        os.utime(path, (past, past))


def _diptych(root: Path, *args: str, prefix: tuple[str, ...] = (), timeout: float = 600,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "flows", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=env or dict(os.environ, PYTHONUNBUFFERED="1"))


def _one_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("diptych: error: "), done.stderr
    return lines[0]


def _eventually(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def _descendants(pid: int) -> set[int]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _server_records() -> list[dict[str, object]]:
    """The servers diptych noted as running (PREFECT_HOME is the test's, see tests/conftest.py)."""
    folder = Path(os.environ["PREFECT_HOME"]) / "servers"
    return [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.is_dir() else []


# --- item 16 and the Prefect server's Host check: strict Host parsing ------------------------------


@pytest.mark.parametrize(("header", "name"), [
    ("localhost:8781", "localhost"), ("127.0.0.1", "127.0.0.1"), ("[::1]:8781", "::1"), ("LocalHost", "localhost"),
    ("localhost:8781@evil.com", None), ("evil.com#@localhost", None), ("localhost:abc", None),
    ("localhost:", None), ("localhost:99999", None), ("a b", None), ("", None), ("localhost:8781:1", None),
])
def test_a_host_header_is_a_host_and_a_port_or_nothing(header: str, name: str | None) -> None:
    assert hostname_of(header) == name


def test_the_review_server_refuses_a_host_with_userinfo(case: Show) -> None:
    token = "t" * 24
    app = create_app(case.project, Settings(), token=token)
    with TestClient(app, base_url="http://127.0.0.1:8781") as client:
        refused = client.get(f"/?token={token}", headers={"Host": "localhost:8781@evil.com"}, follow_redirects=False)
        served = client.get(f"/?token={token}", headers={"Host": "localhost:8781"}, follow_redirects=False)
    assert refused.status_code == 400 and refused.text.startswith("unknown Host")
    assert served.status_code == 303
    case.check()


def test_the_prefect_server_takes_only_its_own_loopback_host_and_port() -> None:
    assert host_allowed("127.0.0.1:4391", port=4391) and host_allowed("localhost:4391", port=4391)
    assert host_allowed("[::1]:4391", port=4391) and host_allowed("localhost", port=4391)
    for header in ("evil.example:4391", "localhost:4391@evil.com", "127.0.0.1:4392", "127.0.0.1.evil.com:4391"):
        assert not host_allowed(header, port=4391), header


# --- item 1: approval is only ever a person's act, recorded before publishing ----------------------


def _awaiting(case: Show, tmp_path: Path, speech: Path, slug: str = "hello") -> Path:
    """A 9 s real recording taken to awaiting_review, as the stages leave it."""
    mp3 = encode_mp3(speech / "fleurs-en-001.ogg", tmp_path / f"{slug}.mp3")
    text = (speech / "fleurs-en-001.txt").read_text(encoding="utf-8").strip()
    transcript = make_transcript([text], duration_s=8.8)
    make_episode(case.project, slug, title="Hello there", mp3=mp3, transcript=transcript,
                 pairing=pairing_for([text], transcript), article=article_markdown("Hello there", [text]),
                 state=EpisodeState.awaiting_review)
    return case.project.site_dir / slug / "index.html"


def test_publishing_needs_a_recorded_approval(case: Show, tmp_path: Path, speech: Path) -> None:
    page = _awaiting(case, tmp_path, speech)
    settings = Settings(show={"base_url": "https://example.org/podcast/", "title": "Security"})
    outcome = stages.run_publish(case.project, settings, "hello", named=True)
    assert not outcome.ran and outcome.message == (
        "hello not published: it is awaiting_review, not approved: approve it on the review page or with "
        "'diptych approve hello'")
    # "approved" written into state.json by anything but an approval: still not published.
    episodes.set_state(case.project.episode("hello"), EpisodeState.approved, stage="review")
    outcome = stages.run_publish(case.project, settings, "hello", named=True)
    assert not outcome.ran and "its approval is not recorded in hello/state.json" in outcome.message
    assert not page.exists()
    episodes.set_state(case.project.episode("hello"), EpisodeState.awaiting_review, stage="review")
    record = approve_episode(case.project.episode("hello"), by=Approver.review_page)
    assert record.approval is not None and record.approval.by is Approver.review_page
    assert stages.run_publish(case.project, settings, "hello", named=True).ran and page.is_file()
    case.check()


def test_no_flow_or_deployment_parameter_approves() -> None:
    from flows.process_episode import process_episode, process_inbox, publish_episode

    for flow in (process_inbox, process_episode, publish_episode):
        assert "approve" not in flow.parameters.properties, flow.name
    import inspect

    assert "approve" not in inspect.signature(stages.run_review_gate).parameters


# --- item 9: an expected failure is one line, without traceback ------------------------------------


def test_an_expected_failure_loses_its_traceback_and_a_bug_keeps_it() -> None:
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logger = logging.getLogger("diptych-test.flow_runs")
    logger.propagate = False
    logger.addFilter(ExpectedFailureFilter())
    logger.addHandler(handler)
    try:
        for exc in (AudioDecodeError("cannot read x.mp3: the file is empty"), ValueError("a bug")):
            try:
                raise exc
            except Exception:
                logger.exception("Encountered exception during execution: %r", exc)
                logger.error("Finished in state Failed(%r)", str(exc), exc_info=True)
    finally:
        logger.removeHandler(handler)
    # The expected one: the engine's repeat dropped, its state line kept without traceback.
    assert [(r.getMessage(), r.exc_info) for r in seen[:1]] == [
        ("Finished in state Failed('cannot read x.mp3: the file is empty')", None)]
    assert len(seen) == 3 and all(r.exc_info for r in seen[1:])  # the bug: both records, tracebacks kept


@pytest.mark.integration
def test_an_empty_mp3_is_one_line_and_a_stale_temp_file_goes(case: Show) -> None:
    inbox = case.project.inbox
    (inbox / "empty.mp3").write_bytes(b"")
    (inbox / "empty.md").write_text("# Empty\n\nSome text.\n", encoding="utf-8")
    _settled(*inbox.iterdir())
    case.mark()
    # Left by a kill during a write (item 8), and one of a write in progress (young: kept).
    bystander_state = case.project.episode(BYSTANDER).state_json
    stale = bystander_state.with_name(".state.json.x1y2z3.tmp")
    stale.write_text("{", encoding="utf-8")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))  # an hour old
    young = bystander_state.with_name(".state.json.a1b2c3.tmp")
    young.write_text("{", encoding="utf-8")
    done = _diptych(case.root, "-q", "run")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "empty: failed — normalize: cannot read empty.mp3: the file is empty (0 bytes); copy the recording again"]
    assert done.stderr == ""
    assert not stale.exists() and young.exists()
    young.unlink()
    case.check()
    # Prefect's log of those runs: the failure on one line per run, no traceback.
    with sqlite3.connect(Path(os.environ["PREFECT_HOME"]) / "prefect.db") as db:
        logged = [m for (m,) in db.execute("SELECT message FROM log")]
    about = [m for m in logged if "empty.mp3" in m]
    assert about and all("\n" not in m and "Traceback" not in m for m in logged), logged
    assert len(about) <= 3, about  # the stage's task, its episode's flow, the task that ran that flow
    assert _server_records() == []  # the command's server stopped with it


# --- item 6: a read-only output folder --------------------------------------------------------------


@pytest.mark.parametrize("command", [("run",), ("publish",), ("unpublish", BYSTANDER), ("approve", BYSTANDER)])
def test_a_read_only_output_folder_is_one_line(case: Show, command: tuple[str, ...]) -> None:
    (case.project.inbox / "drop.md").write_text("# A drop\n\nText.\n", encoding="utf-8")
    case.mark()
    output = case.project.output
    # A private mount namespace: output/ read-only for this command only (root or not).
    mount = ("unshare", "--map-root-user", "--mount", "sh", "-c",
             f"mount --bind -o ro '{output}' '{output}' && exec \"$0\" \"$@\"")
    done = _diptych(case.root, *command, prefix=mount, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert _one_error(done) == (
        f"diptych: error: cannot write in {output} (Read-only file system): make it writable (or give the "
        "project a writable output/ folder), then run the command again")
    case.check()


# --- item 7: nothing diptych starts outlives it -----------------------------------------------------


@pytest.mark.integration
def test_kill_9_of_run_takes_its_server_along_and_a_leftover_is_stopped_next_time(case: Show) -> None:
    (case.project.inbox / "empty.mp3").write_bytes(b"")
    _settled(case.project.inbox / "empty.mp3")
    case.mark()
    # A leftover as a system without the parent-death signal would leave it: a process in a session
    # of its own, noted as a server of a command that has since died.
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    records = Path(os.environ["PREFECT_HOME"]) / "servers"
    records.mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    ticks = int(Path(f"/proc/{leftover.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    (records / f"{leftover.pid}.json").write_text(json.dumps(
        {"pid": leftover.pid, "start_ticks": ticks, "owner": dead.pid, "owner_ticks": None}))
    run = subprocess.Popen([sys.executable, "-m", "flows", "--root", str(case.root), "run"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _eventually(lambda: leftover.poll() is not None, 120), "the leftover was not stopped"
        assert _eventually(lambda: any(r["owner"] == run.pid for r in _server_records()), 120)
        server = next(int(str(r["pid"])) for r in _server_records() if r["owner"] == run.pid)
        assert _eventually(lambda: _api_up(server), 120), "the run's server never answered"
        run.kill()  # kill -9: no handler, no atexit
        run.wait(10)
        assert _eventually(lambda: not is_alive(server), 15), f"server {server} outlived kill -9 of its run"
    finally:
        for proc in (leftover, run):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert stop_leftovers(records) == [] and _server_records() == []  # the dead one's note: gone too
    case.check()


def _api_up(server_pid: int) -> bool:
    """The run's server answers on the port its record names."""
    for r in _server_records():
        command = [str(c) for c in r["command"]]  # type: ignore[attr-defined]
        if int(str(r["pid"])) == server_pid:
            port = command[command.index("--port") + 1]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False
    return False


@pytest.mark.integration
def test_review_stopped_after_an_approval_leaves_no_server(case: Show, tmp_path: Path, speech: Path) -> None:
    page = _awaiting(case, tmp_path, speech)
    case.mark()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows", "--root", str(case.root), "review", "--port", str(port), "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines = _Lines(proc)
    try:
        url = lines.wait_for("review page: ", timeout_s=120)
        token = url.split("token=", 1)[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            client.get(f"/?token={token}")
            approved = client.post("/api/episodes/hello/approve", json={"anyway": True},
                                   headers={"X-Diptych-Token": token, "Origin": f"http://127.0.0.1:{port}"})
        assert approved.status_code == 200, approved.text
        # The publish run needs the command's own server, started from the approval's short thread.
        assert _eventually(lambda: episodes.load_record(case.project.episode("hello")).state
                           is EpisodeState.published, 240), lines.text
        assert page.is_file()
        record = episodes.load_record(case.project.episode("hello"))
        assert record.approval is not None and record.approval.by is Approver.review_page
        children = _descendants(proc.pid)
        assert children and _server_records(), "the publish run's server is a child of the review command"
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert _eventually(lambda: not any(is_alive(pid) for pid in children), 20), [
            pid for pid in children if is_alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert _server_records() == []
    assert "Traceback" not in lines.text, lines.text
    case.check()


class _Lines:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.lines = proc, []  # type: list[str]
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, marker: str, *, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if marker in line:
                    return line.split(marker, 1)[1].strip()
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"no '{marker}' within {timeout_s:.0f} s:\n{self.text}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- item 1, end to end: the attack on a real `diptych up` -----------------------------------------


@pytest.fixture(scope="module")
def models_dir() -> Path:
    from pipeline.transcribe import default_models_dir, install_model

    folder = default_models_dir()
    install_model("base", folder)
    return folder


@pytest.fixture
def up(case: Show, speech: Path, models_dir: Path) -> Iterator[tuple[Show, str, _Lines]]:
    """`diptych up` on the show, with a 9 s real drop taken to awaiting_review by Whisper."""
    prefect_port, review_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows", "--root", str(case.root), "up", "--prefect-port", str(prefect_port),
         "--review-port", str(review_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict({k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}, PYTHONUNBUFFERED="1"))
    lines = _Lines(proc)
    try:
        lines.wait_for("watching the inbox", timeout_s=240)
        text = (speech / "fleurs-en-001.txt").read_text(encoding="utf-8").strip()
        (case.project.inbox / "hello.md").write_text(f"# Hello there\n\n{text}\n", encoding="utf-8")
        shutil.copyfile(speech / "fleurs-en-001.ogg", case.project.inbox / "hello.ogg")
        case.mark()
        lines.wait_for("hello: awaiting review", timeout_s=900)  # a busy machine shares its transcription slot
        yield case, f"http://127.0.0.1:{prefect_port}/api", lines
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0, lines.text
    finally:
        if proc.poll() is None:
            for pid in _descendants(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(10)


@pytest.mark.integration
def test_review_cannot_be_skipped_through_prefects_api(up: tuple[Show, str, _Lines]) -> None:
    case, api, lines = up
    secret_file = case.project.data_dir / "prefect-secret"
    auth = tuple(secret_file.read_text(encoding="utf-8").strip().split(":", 1))
    assert secret_file.stat().st_mode & 0o777 == 0o600
    port = api.rsplit(":", 1)[1].split("/")[0]
    evil = {"Origin": "http://evil.example"}
    with httpx.Client(base_url=api, timeout=30) as own:  # diptych's own client: the secret, and CSRF's token
        own.auth = auth
        csrf = own.get("/csrf-token", params={"client": "test"}).json()["token"]
        own.headers.update({"Prefect-Csrf-Token": csrf, "Prefect-Csrf-Client": "test"})
        listed = own.post("/deployments/filter", json={}).json()
        inbox_id = next(d["id"] for d in listed if d["entrypoint"].endswith("process_inbox"))
        publish_id = next(d["id"] for d in listed if d["entrypoint"].endswith("publish_episode"))
        approve = {"parameters": {"root": str(case.root), "approve": True}}
        results = {
            # The attack: any local process or web page, no secret.
            "list": httpx.post(f"{api}/deployments/filter", json={}, headers=evil, timeout=30).status_code,
            "run": httpx.post(f"{api}/deployments/{inbox_id}/create_flow_run", json=approve, headers=evil,
                              timeout=30).status_code,
            "read": httpx.get(f"{api}/deployments/{inbox_id}", timeout=30).status_code,
            "wrong secret": httpx.get(f"{api}/deployments/{inbox_id}", auth=("diptych", "guess"),
                                      timeout=30).status_code,
            # DNS rebinding: a foreign Host, even with the secret.
            "foreign host": own.get("/deployments/" + inbox_id, headers={"Host": f"evil.example:{port}"}).status_code,
            "userinfo host": own.get("/deployments/" + inbox_id,
                                     headers={"Host": f"localhost:{port}@evil.com"}).status_code,
        }
        preflight = httpx.options(f"{api}/deployments/filter", timeout=30, headers={
            **evil, "Access-Control-Request-Method": "POST"})
        # Even with the secret, no parameter approves: refused, or a run that approves nothing.
        with_secret = _retried(lambda: own.post(f"/deployments/{inbox_id}/create_flow_run", json=approve))
        ended = _ended(own, with_secret.json()["id"]) if with_secret.status_code == 201 else "not created"
        publish = _retried(lambda: own.post(f"/deployments/{publish_id}/create_flow_run",
                                            json={"parameters": {"root": str(case.root), "slug": "hello"}}))
        assert publish.status_code == 201, publish.text
        assert _ended(own, publish.json()["id"]) == "COMPLETED"
        why = "hello not published: it is awaiting_review, not approved"
        logs: list[dict[str, str]] = []

        def said_why() -> bool:  # the run's logs reach the API as its process ends
            logs[:] = own.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": [publish.json()["id"]]}}}).json()
            return any(why in log["message"] for log in logs)

        said = _eventually(said_why, 30)
    print("attack results:", results, "preflight:", preflight.status_code,
          preflight.headers.get("access-control-allow-origin"), "with the secret:", with_secret.status_code, ended)
    assert results == {"list": 403, "run": 403, "read": 401, "wrong secret": 401, "foreign host": 403,
                       "userinfo host": 403}
    assert "access-control-allow-origin" not in preflight.headers
    assert with_secret.status_code in (201, 409, 422), with_secret.text
    assert said, logs
    record = episodes.load_record(case.project.episode("hello"))
    assert record.state is EpisodeState.awaiting_review and record.approval is None, lines.text
    assert not (case.project.site_dir / "hello").exists()
    secret = ":".join(auth)
    assert secret not in lines.text
    assert all(secret not in p.read_text(errors="replace") for p in Path(os.environ["PREFECT_HOME"]).glob("*.log"))
    case.check()


def _retried(request: Callable[[], httpx.Response]) -> httpx.Response:
    """As Prefect's own client does: a 503 (a busy SQLite database) is tried again."""
    for _ in range(10):
        answer = request()
        if answer.status_code != 503:
            return answer
        time.sleep(2)
    return answer


def _ended(client: httpx.Client, run_id: str, timeout_s: float = 240) -> str:
    final = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
    state: list[str] = [""]

    def done() -> bool:
        answer = client.get(f"/flow_runs/{run_id}")
        state[0] = answer.json().get("state_type", "") if answer.status_code == 200 else ""
        return state[0] in final

    assert _eventually(done, timeout_s), f"run {run_id} still {state[0]}"
    return state[0]
