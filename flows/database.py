"""The Prefect server's database when it is PostgreSQL (`diptych up --database URL`).

The address is checked before the server starts, so that a typo or a database that is down is one
line, not a server that dies in its log. The password never goes in the address (nor in
diptych.toml): asyncpg reads it from PGPASSWORD or ~/.pgpass, as psql does.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from pipeline.errors import ServiceError

SCHEME = "postgresql+asyncpg"
CONNECT_TIMEOUT_S = 10.0


def check_database_url(url: str) -> str:
    """The address as Prefect wants it; a one-line ServiceError naming what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ServiceError(f"--database {_masked(url)}: not an address ({exc}); "
                           f"write {SCHEME}://USER@HOST:PORT/DATABASE") from exc
    if parts.scheme != SCHEME:
        raise ServiceError(f"--database {_masked(url)}: the address must start with {SCHEME}:// "
                           f"(e.g. {SCHEME}://diptych@db.example.org:5432/prefect)")
    if parts.password:
        raise ServiceError(f"--database {_masked(url)}: keep the password out of the address: put it in "
                           "PGPASSWORD or ~/.pgpass")
    if not parts.hostname or not parts.path.strip("/"):
        raise ServiceError(f"--database {_masked(url)}: name the host and the database "
                           f"({SCHEME}://USER@HOST:PORT/DATABASE)")
    del port  # parsed above only to refuse a port that is not a number
    return url


def _masked(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password:
            return url.replace(f":{parts.password}@", ":***@")
    except ValueError:
        pass
    return url


async def _connect(url: str) -> None:
    import asyncpg

    parts = urlsplit(url)
    connection = await asyncpg.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or None,
        database=parts.path.lstrip("/"), timeout=CONNECT_TIMEOUT_S,
    )
    await connection.close()


def require_database(url: str) -> None:
    """Connect once, as the server will; a one-line ServiceError when that fails."""
    try:
        asyncio.run(_connect(url))
    except Exception as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServiceError(f"the database at {_masked(url)} cannot be reached ({why}): start PostgreSQL, check "
                           "the address and the password in PGPASSWORD or ~/.pgpass") from exc


def database_environment(url: str | None) -> dict[str, str]:
    """The variables that put the server on that database (none: Prefect's SQLite in PREFECT_HOME)."""
    return {"PREFECT_SERVER_DATABASE_CONNECTION_URL": url} if url else {}


def prepare_database(url: str | None) -> str | None:
    """The address checked and the database reached, before the server is started on it."""
    if url is None:
        return None
    require_database(check_database_url(url))
    return url
