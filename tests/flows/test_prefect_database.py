"""A new project's Prefect server starts from the empty database Prefect made for an earlier one:
real servers, real SQLite files, the API used through the project's secret."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from flows.lockdown import auth_string, server_environment
from flows.server import DATABASE, HOST, PrefectServer, empty_database_dir, free_port
from pipeline.layout import ProjectLayout


def _server(root: Path) -> tuple[PrefectServer, ProjectLayout]:
    project = ProjectLayout(root=root)
    project.root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = PrefectServer(project.prefect_home, port=port, timeout_s=300, ui=False, services=False,
                           environment=server_environment(project, host=HOST, port=port))
    return server, project


def _post(server: PrefectServer, project: ProjectLayout, path: str, body: dict) -> object:
    """A request as diptych's own client makes it: the project's secret and a CSRF token."""
    user, password = auth_string(project).split(":", 1)
    with httpx.Client(base_url=server.api_url, auth=(user, password), timeout=30) as client:
        token = client.get("/csrf-token", params={"client": "test"}).json()["token"]
        client.headers.update({"Prefect-Csrf-Token": token, "Prefect-Csrf-Client": "test"})
        response = client.post(path, json=body)
        response.raise_for_status()
        return response.json()


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.mark.integration
def test_a_new_project_starts_from_the_empty_database_an_earlier_one_made(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kept = empty_database_dir() / DATABASE
    first, first_project = _server(tmp_path / "first")
    first.start()
    try:
        # Kept the moment the API answered: migrated and with Prefect's block types, nothing else.
        assert kept.is_file() and {"alembic_version", "flow_run", "block_type"} <= _tables(kept)
        _post(first, first_project, "/flows/", {"name": "only-in-the-first-project"})
    finally:
        first.stop()

    second, second_project = _server(tmp_path / "second")
    second.launch()
    try:
        assert (second.home / DATABASE).is_file() and not second.new_database  # copied before Prefect started
        second.wait_until_ready()
        block_types = _post(second, second_project, "/block_types/filter", {})
        assert isinstance(block_types, list) and len(block_types) > 5
        flows = _post(second, second_project, "/flows/filter", {})
        assert flows == []  # the first project's runs and flows are its own
        created = _post(second, second_project, "/flows/", {"name": "episode"})
        assert isinstance(created, dict) and created["name"] == "episode"
    finally:
        second.stop()
    assert "only-in-the-first-project" not in kept.read_bytes().decode("latin-1")


def test_a_project_on_its_own_database_server_is_not_seeded(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kept = empty_database_dir()
    kept.mkdir(parents=True)
    sqlite3.connect(kept / DATABASE).close()
    server, _ = _server(tmp_path / "project")
    server.environment["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = "postgresql+asyncpg://u@127.0.0.1/prefect"
    server.home.mkdir(parents=True)
    server.seed_database()
    assert not (server.home / DATABASE).exists() and not server.new_database


def test_a_projects_own_database_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kept = empty_database_dir()
    kept.mkdir(parents=True)
    with sqlite3.connect(kept / DATABASE) as db:
        db.execute("CREATE TABLE kept (x)")
    server, _ = _server(tmp_path / "project")
    server.home.mkdir(parents=True)
    with sqlite3.connect(server.home / DATABASE) as db:
        db.execute("CREATE TABLE own (x)")
    server.seed_database()
    assert _tables(server.home / DATABASE) == {"own"}
