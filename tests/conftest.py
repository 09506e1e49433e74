"""Shared fixtures. Tests write only under tmp_path: every diptych and Prefect folder points there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.factories import CHROMIUM, CHROMIUM_ARGS, EXAMPLES, SPEECH


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's real folders or settings."""
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith("DIPTYCH_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PREFECT_HOME", str(home / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


@pytest.fixture
def project(tmp_path: Path):
    """An empty project folder with inbox/ and output/."""
    from pipeline.layout import ProjectLayout

    root = tmp_path / "project"
    (root / "inbox").mkdir(parents=True)
    (root / "output").mkdir()
    return ProjectLayout(root=root)


@pytest.fixture(scope="session")
def speech() -> Path:
    if not SPEECH.is_dir():
        pytest.fail(f"test recordings not found at {SPEECH}: ../shared must sit beside the project")
    return SPEECH


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES




@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's) for every browser test: Playwright's sync API allows only
    one running instance per thread."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run 'apt-get install -y chromium' (make test does)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
