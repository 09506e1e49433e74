"""What `diptych up` says when it cannot start: one line naming the problem and the fix, and no
server left behind. Fast: each stops before Prefect is imported."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from flows.server import PrefectServer, api_answers, ui_url_of
from pipeline.errors import ServiceError


def _up(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows", "--root", str(root), "up", *args],
                          capture_output=True, text=True, timeout=60, env=env or dict(os.environ))


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("diptych: error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_taken_prefect_port_is_one_line_with_the_option_to_use(project):
    with _listening() as taken:
        port = taken.getsockname()[1]
        done = _up(project.root, "--prefect-port", str(port), "--review-port", "0")
    assert done.returncode == 1
    line = _error_line(done)
    assert f"port {port} on 127.0.0.1 is in use" in line and "--prefect-port" in line
    assert "Traceback" not in done.stderr


def test_a_taken_review_port_is_refused_before_anything_starts(project):
    with _listening() as taken:
        port = taken.getsockname()[1]
        done = _up(project.root, "--review-port", str(port))
    assert done.returncode == 1
    assert "--review-port" in _error_line(done)
    assert "starting the Prefect server" not in done.stdout


def test_a_users_prefect_api_url_that_does_not_answer_is_named(project):
    with _listening() as closed:
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    done = _up(project.root, env=dict(os.environ, PREFECT_API_URL=url))
    assert done.returncode == 1
    line = _error_line(done)
    assert f"PREFECT_API_URL={url} does not answer" in line and "unset PREFECT_API_URL" in line
    assert not api_answers(url)
    assert ui_url_of(url) == f"http://127.0.0.1:{port}"


def test_a_server_left_by_a_killed_session_is_stopped_by_the_next_start(tmp_path):
    # Stands in for a server that a killed `diptych up` left behind where the kernel did not stop it:
    # noted under servers/ as the child of a command that has died since.
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        (tmp_path / "servers").mkdir()
        (tmp_path / "servers" / f"{leftover.pid}.json").write_text(
            json.dumps({"pid": leftover.pid, "start_ticks": None, "owner": dead.pid, "owner_ticks": None}))
        # The taken port stops this start, after the leftover was stopped.
        with _listening() as taken, pytest.raises(ServiceError, match="is in use.*--prefect-port"):
            PrefectServer(tmp_path, port=taken.getsockname()[1], timeout_s=5).start()
        assert leftover.wait(10) == -15  # SIGTERM
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()
    assert not list((tmp_path / "servers").iterdir())


def test_a_server_of_a_command_still_running_is_left_alone(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        (tmp_path / "servers").mkdir()
        note = tmp_path / "servers" / f"{other.pid}.json"
        note.write_text(json.dumps({"pid": other.pid, "start_ticks": None, "owner": os.getppid(), "owner_ticks": None}))
        with _listening() as taken, pytest.raises(ServiceError, match="is in use"):
            PrefectServer(tmp_path, port=taken.getsockname()[1], timeout_s=5).start()
        assert other.poll() is None and note.exists()
    finally:
        other.kill()
        other.wait()
