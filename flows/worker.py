"""`diptych worker --pool cpu|speech [--limit N]`: a Prefect process worker for one of the pools,
on any machine that sees the project folder at the same path (shared storage).

It checks what it needs before it starts (the project folder, a rename that works in it, the
server, the pool) and says in one line what is missing; then it becomes `prefect worker start`.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from pathlib import Path

from flows.lockdown import client_environment
from flows.server import api_answers
from pipeline.config import Settings
from pipeline.errors import ServiceError
from pipeline.layout import ProjectLayout

POOLS = {"cpu": "diptych-cpu", "speech": "diptych-speech"}


def check_project_folder(project: ProjectLayout) -> None:
    """The shared folder is mounted and writable here, and a rename in it is a rename (claims rely on it)."""
    for folder in (project.root, project.inbox, project.output):
        if not folder.is_dir():
            raise ServiceError(f"{folder} is missing on this machine: mount the shared project folder at the same "
                               "path as on the server (or run 'diptych worker' from the project folder)")
    probe_dir = project.data_dir
    probe_dir.mkdir(parents=True, exist_ok=True)
    probe = probe_dir / f".worker-probe-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"")
        os.rename(probe, probe.with_suffix(".renamed"))
        probe.with_suffix(".renamed").unlink()
    except OSError as exc:
        probe.unlink(missing_ok=True)
        raise ServiceError(f"{probe_dir} is not writable here ({exc.strerror}): the worker needs to write and "
                           "rename files in the shared project folder") from exc


def api_url_for(settings: Settings) -> str:
    """PREFECT_API_URL when set (another machine's server), else the one `diptych up` starts here."""
    return os.environ.get("PREFECT_API_URL") or f"http://127.0.0.1:{settings.up.prefect_port}/api"


def worker_environment(project: ProjectLayout, settings: Settings, *, pool: str, api_url: str) -> dict[str, str]:
    """The worker's environment, inherited by the flow runs it starts."""
    host = socket.gethostname()
    home = os.environ.get("PREFECT_HOME") or str(project.prefect_home / "workers" / f"{host}-{pool}")
    Path(home).mkdir(parents=True, exist_ok=True)
    # The project's secret for the server `diptych up` locked (flows.lockdown), read from the shared
    # folder, unless the user's own server's is already set.
    secret = {} if os.environ.get("PREFECT_API_AUTH_STRING") else client_environment(project, api_url)
    return {
        **os.environ,
        **secret,
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": home,
        # Results and the stages' cache records on the shared folder: every machine reads the same ones.
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(project.prefect_home / "storage"),
        # Heartbeats let Prefect's automation mark a run crashed when its machine stops (flows.pools).
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(settings.workers.heartbeat_s),
        "DIPTYCH_ROOT": str(project.root),
    }


def start_worker(project: ProjectLayout, settings: Settings, *, pool: str, limit: int | None) -> None:
    """Check, then replace this process with Prefect's worker (signals and kill -9 reach it directly)."""
    if pool not in POOLS:
        raise ServiceError(f"unknown pool '{pool}': use --pool cpu or --pool speech")
    check_project_folder(project)
    api_url = api_url_for(settings)
    if not api_answers(api_url):
        raise ServiceError(f"the Prefect server at {api_url} does not answer: start 'diptych up' there, or set "
                           "PREFECT_API_URL to the server's address")
    env = worker_environment(project, settings, pool=pool, api_url=api_url)
    default = settings.transcribe.max_concurrent if pool == "speech" else settings.run.max_concurrent_episodes
    name = f"{socket.gethostname()}-{pool}-{os.getpid()}"
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOLS[pool], "--type", "process",
               "--name", name, "--limit", str(limit or default)]
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
