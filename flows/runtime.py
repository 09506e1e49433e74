"""Prefect's environment for diptych: home inside the project, telemetry off, embedded API."""

from __future__ import annotations

import os

from pipeline.layout import ProjectLayout


def configure_prefect(project: ProjectLayout) -> None:
    """Call before importing prefect. A user's own PREFECT_API_URL (a running server) is respected."""
    project.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(project.prefect_home))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")
    # The embedded API starts once per command; give it time on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
