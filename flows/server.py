"""A local Prefect server (API and UI) for `diptych up`: one subprocess, started once, stopped with it.

It is started as `python -m prefect server start` in a session of its own, so a Ctrl-C in the
terminal reaches `diptych up` only, which stops the server last (after the runs it served have
reported how they ended). Its output goes to server.log in the project's Prefect home.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.errors import ServiceError

HOST = "127.0.0.1"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn binds: a port left in TIME_WAIT by the last run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(port: int, *, flag: str) -> None:
    if not port_is_free(port):
        raise ServiceError(f"port {port} on {HOST} is in use: stop what uses it, or choose another port with {flag}")


def api_answers(api_url: str, *, timeout_s: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check at `api_url` (…/api)."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ui_url_of(api_url: str) -> str:
    return api_url.rstrip("/").removesuffix("/api")


def _last_line(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return "no output"
    lines = [ANSI.sub("", line).strip() for line in lines]
    lines = [line for line in lines if line]
    return lines[-1][:200] if lines else "no output"


def _is_prefect_server(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # alive, and no /proc to tell what it is: say so rather than guess
    return b"prefect" in cmdline and b"server" in cmdline


def _stop_with_parent() -> None:
    """Linux, in the child before exec: SIGTERM when `diptych up` dies without stopping it (kill -9).
    Called before diptych up starts any thread, so preexec_fn's caveat about threads does not apply."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class PrefectServer:
    """`prefect server start` on 127.0.0.1:`port`, its state (SQLite database) in `home`."""

    def __init__(self, home: Path, *, port: int, timeout_s: float) -> None:
        self.home = home
        self.port = port
        self.timeout_s = timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}/api"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    @property
    def pid_path(self) -> Path:
        return self.home / "server.pid"

    def start(self) -> None:
        """Start the server and wait until its API answers; a one-line ServiceError otherwise."""
        self._refuse_leftover()
        require_free_port(self.port, flag="--prefect-port")
        self.home.mkdir(parents=True, exist_ok=True)
        # The server logs to its own file; the console level diptych sets for flow runs is not for it.
        env = {k: v for k, v in os.environ.items()
               if k not in ("PREFECT_API_URL", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL")}
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(self.port),
                   "--analytics-off", "--log-level", "WARNING"]
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
            )
        self.pid_path.write_text(f"{self.process.pid}\n", encoding="utf-8")
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._forget()
                raise ServiceError(
                    f"the Prefect server stopped as it started ({_last_line(self.log_path)}): see {self.log_path}"
                )
            if api_answers(self.api_url):
                return
            time.sleep(0.5)
        self.stop()
        raise ServiceError(
            f"the Prefect server did not answer within {self.timeout_s:.0f} s (its log: {self.log_path}): "
            "on a slow or busy machine raise [up] prefect_timeout_s in diptych.toml"
        )

    def _refuse_leftover(self) -> None:
        """A server left running by a `diptych up` that was killed outright holds the port and the database."""
        try:
            pid = int(self.pid_path.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return
        if _is_prefect_server(pid):
            raise ServiceError(
                f"a Prefect server started by 'diptych up' for this project still runs (pid {pid}): "
                f"if no other 'diptych up' is running here, stop it with 'kill {pid}' and start again"
            )
        self.pid_path.unlink(missing_ok=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout_s: float = 20.0) -> None:
        """SIGTERM to the server's process group, SIGKILL if it has not stopped after `timeout_s`."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(process.pid, signal.SIGKILL)
                process.wait(5)
        self._forget()

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    def _forget(self) -> None:
        self.pid_path.unlink(missing_ok=True)
        self.process = None

    def last_line(self) -> str:
        return _last_line(self.log_path)
