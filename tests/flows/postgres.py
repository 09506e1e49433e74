"""A throwaway PostgreSQL cluster for the tests: Debian's binaries, a data folder under the test's
temporary folder, 127.0.0.1 on a free port, a password; no system service is started or changed.

PostgreSQL refuses to run as root (the tests run as root in CI): then initdb and the server run
as the `postgres` user that Debian's package creates, and the folders on the way to the data
folder are opened to it for traversal only (o+x).
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

DATABASE = "prefect"
USER = "diptych"


def postgres_bin(name: str) -> Path:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run 'apt-get install -y postgresql' (make test does)")
    return Path(found[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _open_path_to(folder: Path) -> None:
    """Let another user reach `folder` (traverse only) through the folders above it that we own."""
    for parent in (folder, *folder.parents):
        info = parent.stat()
        if info.st_uid == os.geteuid() and not info.st_mode & stat.S_IXOTH:
            parent.chmod(info.st_mode | stat.S_IXOTH)


@dataclass
class PostgresCluster:
    folder: Path
    port: int
    password: str

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        """The address diptych takes; the password travels in PGPASSWORD."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        pwd.getpwnam("postgres")  # KeyError: the package is not installed
        return ["runuser", "-u", "postgres", "--", *command]

    def _run(self, command: list[str]) -> None:
        subprocess.run(self._as_owner(command), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.folder.mkdir(parents=True)
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
        if os.geteuid() == 0:
            _open_path_to(self.folder)
            shutil.chown(self.folder, "postgres")
            shutil.chown(password_file, "postgres")
        self._run([str(postgres_bin("initdb")), "-D", str(self.data), "-U", USER, "--auth=scram-sha-256",
                   f"--pwfile={password_file}", "-E", "UTF8", "--locale=C.UTF-8"])
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run([str(postgres_bin("pg_ctl")), "-D", str(self.data), "-l", str(self.folder / "server.log"),
                   "-w", "-t", "60", "-o", options, "start"])
        self.create_database(DATABASE)

    def create_database(self, name: str) -> None:
        async def create() -> None:
            connection = await asyncpg.connect(host="127.0.0.1", port=self.port, user=USER, password=self.password,
                                               database="postgres")
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        asyncio.run(create())

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(self._as_owner([str(postgres_bin("pg_ctl")), "-D", str(self.data), "-m", "immediate",
                                           "-w", "stop"]), capture_output=True, timeout=60)


def start_cluster(folder: Path) -> PostgresCluster:
    cluster = PostgresCluster(folder=folder, port=free_port(), password=secrets.token_urlsafe(16))
    cluster.start()
    return cluster
