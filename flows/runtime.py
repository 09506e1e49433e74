"""Prefect's environment for diptych: home inside the project, telemetry off, and a locked-down
Prefect server of the command's own (flows.lockdown), which never outlives it (flows.children)."""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.errors import ServiceError
from pipeline.layout import ProjectLayout

if TYPE_CHECKING:
    from flows.server import PrefectServer

_own: list[PrefectServer] = []  # the command's server, once started
_starting = threading.Lock()
_ready = threading.Event()  # the command's server has answered


def configure_prefect(project: ProjectLayout) -> None:
    """Call before importing prefect. A user's own PREFECT_API_URL (a running server) is respected."""
    project.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(project.prefect_home))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")
    # Prefect's own embedded server is never used: it would listen unlocked and outlive a kill -9.
    os.environ["PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"] = "false"


def start_command_server(project: ProjectLayout, *, timeout_s: float) -> None:
    """For a command that runs flows itself (`run`, `publish`, an approval on the review page):
    its own locked-down API server on a free port, no UI, no services, stopped at exit. Call
    before importing prefect; a user's own PREFECT_API_URL is used instead."""
    launch_command_server(project, timeout_s=timeout_s)
    wait_for_command_server()


def launch_command_server(project: ProjectLayout, *, timeout_s: float) -> None:
    """start_command_server's first half: the server's process is started and the client's
    environment set, but its API may not answer yet (wait_for_command_server): the command can
    import prefect and its flows meanwhile (seconds each, on two cores side by side)."""
    from flows.lockdown import client_environment, server_environment
    from flows.server import HOST, PrefectServer, free_port

    with _starting:
        if _own:
            if not _own[0].alive():
                raise ServiceError(f"the Prefect server of this command stopped ({_own[0].last_line()}): "
                                   f"see {_own[0].log_path}, then run the command again")
            return
        if os.environ.get("PREFECT_API_URL"):
            return
        port = free_port()
        home = Path(os.environ.get("PREFECT_HOME") or project.prefect_home)
        # (Not registering Prefect's block types was measured, benchmarks/prefect_start.py: no gain.)
        server = PrefectServer(home, port=port, timeout_s=timeout_s, ui=False, services=False,
                               environment=server_environment(project, host=HOST, port=port))
        server.launch()
        _own.append(server)
        atexit.register(server.stop)
        os.environ.update(client_environment(project, server.api_url))
        _ready.clear()


def wait_for_command_server() -> None:
    """Until the command's server answers (at once when it already did, or when there is none)."""
    with _starting:
        if _own and not _ready.is_set():
            _own[0].wait_until_ready()
            _ready.set()


def preload_models(project: ProjectLayout, settings: Settings) -> threading.Thread | None:
    """With drops waiting, load the speech model and the pairing's sentence embeddings in the
    background while Prefect's API starts (seconds in which the command only waits), instead of
    when transcription and pairing begin. Call before wait_for_command_server."""
    from pipeline.transcribe import default_models_dir, preload_engine

    if not project.inbox.is_dir() or not any(p.name != "README.md" for p in project.inbox.iterdir()):
        return None
    models_dir = settings.transcribe.models_dir or default_models_dir()

    def load() -> None:
        from pipeline.pairing.embeddings import preload_embeddings

        preload_engine(settings.transcribe, models_dir)
        preload_embeddings(threads=settings.pairing.threads)

    thread = threading.Thread(target=load, name="diptych-preload", daemon=True)
    thread.start()
    return thread
