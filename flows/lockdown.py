"""The lock on a Prefect server diptych starts: a secret per project, and the settings that make
Prefect's server ask for it, refuse cross-site requests and answer CORS only to its own UI.

The secret lives in output/.diptych/prefect-secret (mode 0600), never in diptych.toml or a log.
The server gets `server_environment`; every client diptych runs against it (the command itself,
the runner's flow-run processes, workers) gets `client_environment`. Prefect's own settings
(3.9): PREFECT_SERVER_API_AUTH_STRING / PREFECT_API_AUTH_STRING (HTTP basic authentication),
PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED / PREFECT_CLIENT_CSRF_SUPPORT_ENABLED, and
PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS. Prefect has no Host check: flows.api_server adds one.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from pipeline.errors import ServiceError
from pipeline.layout import ProjectLayout

USER = "diptych"
SECRET_BYTES = 32


def secret_path(project: ProjectLayout) -> Path:
    return project.data_dir / "prefect-secret"


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another command of this project made it first: use theirs
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{USER}:{secrets.token_urlsafe(SECRET_BYTES)}\n")


def auth_string(project: ProjectLayout) -> str:
    """The project's 'user:password' for its Prefect server, as Prefect's basic authentication and
    its UI's sign-in take it: made once, then read (only its owner may)."""
    path = secret_path(project)
    if not path.exists():
        _create_secret(path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)  # copied with a looser mode: tighten it before anything reads it
    secret = path.read_text(encoding="utf-8").strip()
    user, _, password = secret.partition(":")
    if not user or len(password) < 32:
        raise ServiceError(f"{path} does not hold a usable secret: delete it, and diptych makes a new one")
    return secret


def allowed_origins(host: str, port: int) -> list[str]:
    """The UI's own origin, by address and by name: the only ones CORS answers."""
    return [f"http://{host}:{port}", f"http://localhost:{port}"]


def server_environment(project: ProjectLayout, *, host: str, port: int) -> dict[str, str]:
    """Settings for the server process (added to its environment)."""
    return {
        "PREFECT_SERVER_API_AUTH_STRING": auth_string(project),
        "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": ",".join(allowed_origins(host, port)),
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": f"http://{host}:{port}/api",
    }


def client_environment(project: ProjectLayout, api_url: str) -> dict[str, str]:
    """Settings for a process that talks to that server: where it is, and its secret."""
    return {
        "PREFECT_API_URL": api_url,
        "PREFECT_API_AUTH_STRING": auth_string(project),
        "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED": "true",
    }
