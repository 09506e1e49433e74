"""A local Prefect server (API, and the UI for `diptych up`): one subprocess per command, started
once, stopped with it, locked with the project's secret (flows.lockdown).

A new project's server does not build its SQLite database from nothing (Prefect's migrations and
block types: 9-11 s of a fresh project's 17-19 s start, benchmarks/prefect_start.py): it starts
from a copy of the empty database that the same Prefect version made on this machine before
(kept in diptych's cache, made from the first new project's database the moment its API answers,
before anything is stored in it). Prefect still checks it at start: it migrates what is missing.
The copy's first start skips registering Prefect's block types, which the copy holds already.

It runs in a session of its own, so a Ctrl-C in the terminal reaches diptych only, which stops
the server last (after the runs it served have reported how they ended); it dies with diptych
when diptych is killed outright (flows.children). Its output goes to server.log in the
project's Prefect home.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sqlite3
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from flows.children import OwnedProcess, stop_leftovers
from pipeline.errors import ServiceError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
DATABASE = "prefect.db"  # in PREFECT_HOME, where Prefect keeps its SQLite database by default
REGISTER_BLOCKS = "PREFECT_SERVER_REGISTER_BLOCKS_ON_START"
DATABASE_URLS = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")


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


def empty_database_dir() -> Path:
    """Where this Prefect version's empty database is kept: $XDG_CACHE_HOME/diptych/prefect/<version>."""
    from importlib.metadata import version

    from pipeline.layout import user_cache_dir

    return user_cache_dir() / "prefect" / version("prefect")


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its write-ahead log included), written atomically."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(name) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one file at rest; Prefect turns WAL on as it opens it
        src.close()
        dst.close()
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)


class PrefectServer:
    """Prefect's server (flows.api_server) on 127.0.0.1:`port`, its state in `home`, locked with
    `environment` (flows.lockdown.server_environment); a child that never outlives this command."""

    def __init__(self, home: Path, *, port: int, timeout_s: float, environment: Mapping[str, str] | None = None,
                 ui: bool = True, services: bool = True) -> None:
        self.home = home
        self.port = port
        self.timeout_s = timeout_s
        self.environment = dict(environment or {})
        self.ui = ui
        self.services = services
        self.process: OwnedProcess | None = None
        self.new_database = False  # launched without a database of its own: Prefect makes one

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}/api"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    @property
    def records(self) -> Path:
        """One note per server running for this project (flows.children)."""
        return self.home / "servers"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "flows.api_server", "--host", HOST, "--port", str(self.port),
                   "--log-level", "warning"]
        return command if self.services else [*command, "--no-services"]

    def server_env(self) -> dict[str, str]:
        # The server logs to its own file; the console level diptych sets for flow runs is not for it,
        # and a client's settings (PREFECT_API_URL: this server) are not the server's.
        env = {k: v for k, v in os.environ.items()
               if k not in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL")}
        env.update(PREFECT_HOME=str(self.home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_SERVER_UI_ENABLED=str(self.ui).lower(), PREFECT_SERVER_LOGGING_LEVEL="WARNING")
        env.update(self.environment)
        # Run from wherever diptych is installed, also when the command runs elsewhere.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                           env.get("PYTHONPATH")]))
        return env

    def start(self) -> None:
        """Start the server and wait until its API answers; a one-line ServiceError otherwise."""
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start the server's process, not waiting for it (its imports and database take seconds)."""
        self.home.mkdir(parents=True, exist_ok=True)
        for pid in stop_leftovers(self.records):
            log.warning("stopped a Prefect server (pid %d) that an earlier diptych command left running", pid)
        require_free_port(self.port, flag="--prefect-port")
        env = self.server_env()
        if self.seed_database():
            # The copy holds the block types this Prefect registers; Prefect's note that they are
            # registered names the database's path, so it would register them all again (2-4 s).
            # The home's next start registers them, and writes that note.
            env.setdefault(REGISTER_BLOCKS, "false")
        self.process = OwnedProcess(self.command(), env=env, log_path=self.log_path, records=self.records)

    def wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise ServiceError(
                    f"the Prefect server stopped as it started ({_last_line(self.log_path)}): see {self.log_path}"
                )
            if api_answers(self.api_url):
                self.keep_empty_database()
                return
            time.sleep(0.5)
        self.stop()
        raise ServiceError(
            f"the Prefect server did not answer within {self.timeout_s:.0f} s (its log: {self.log_path}): "
            "on a slow or busy machine raise [up] prefect_timeout_s in diptych.toml"
        )

    def uses_sqlite(self) -> bool:
        env = {**os.environ, **self.environment}
        return not any(env.get(name) for name in DATABASE_URLS)

    def seed_database(self) -> bool:
        """A new home's database: a copy of the empty one kept for this Prefect version, if any.
        Whether it was copied."""
        self.new_database = False
        if not self.uses_sqlite() or (self.home / DATABASE).exists():
            return False
        kept = empty_database_dir()
        if not (kept / DATABASE).is_file():
            self.new_database = True
            return False
        try:
            _copy_database(kept / DATABASE, self.home / DATABASE)
        except (OSError, sqlite3.Error) as exc:  # Prefect makes its database as it would have
            log.warning("could not copy Prefect's empty database from %s (%s): making a new one", kept, exc)
            (self.home / DATABASE).unlink(missing_ok=True)
            self.new_database = True
            return False
        return True

    def keep_empty_database(self) -> None:
        """Once a new database is made (migrated, block types registered), keep a copy of it."""
        if not self.new_database:
            return
        self.new_database = False
        kept = empty_database_dir()
        try:
            kept.mkdir(parents=True, exist_ok=True, mode=0o700)
            _copy_database(self.home / DATABASE, kept / DATABASE)
        except (OSError, sqlite3.Error) as exc:  # the next new project only pays the time again
            log.warning("could not keep Prefect's empty database in %s: %s", kept, exc)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout_s: float = 20.0) -> None:
        """SIGTERM to the server's process group, SIGKILL if it has not stopped after `timeout_s`."""
        if self.process is not None:
            self.process.stop(timeout_s=timeout_s)
        self.process = None

    def last_line(self) -> str:
        return _last_line(self.log_path)


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (for a server of one command)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
