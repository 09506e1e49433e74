"""The commands for more than one machine: `diptych worker` and `diptych import`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from flows.logs import out as _out
from pipeline.config import Settings
from pipeline.errors import DiptychError
from pipeline.layout import ProjectLayout

Add = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


def cmd_worker(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from flows.worker import start_worker

    start_worker(project, settings, pool=args.pool, limit=args.limit)
    return 0  # not reached: the process became Prefect's worker


def _duration_s(path: Path) -> float | None:
    from pipeline.audio import probe_audio

    try:
        return probe_audio(path).duration_s
    except DiptychError:
        return None  # the drop's claim or normalize says what is wrong with it


def cmd_import(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline.inbox import import_catalogue

    project.inbox.mkdir(parents=True, exist_ok=True)
    report = import_catalogue(project, Path(args.folder).resolve(), duration_of=_duration_s)
    for line in report.messages:
        _out(f"note: {line}")
    _out(f"{len(report.queued)} episodes queued in {project.inbox}, {len(report.known)} already imported")
    if report.batch is None:
        return 0
    hours = sum(e.audio_s or 0.0 for e in report.batch.episodes) / 3600
    _out(f"batch {report.batch.id}: {hours:.2f} h of audio; progress: 'diptych status' or the Prefect UI")
    _client_settings(project, settings)
    from flows.batch import start_processing_run

    _out(start_processing_run(project, settings))
    return 0


def _client_settings(project: ProjectLayout, settings: Settings) -> None:
    """Before Prefect is imported (it reads its settings then): the server to use and, for the one
    `diptych up` locked, the project's secret (flows.lockdown)."""
    import os

    from flows.lockdown import client_environment
    from flows.runtime import configure_prefect
    from flows.server import api_answers

    configure_prefect(project)
    api_url = os.environ.get("PREFECT_API_URL") or f"http://127.0.0.1:{settings.up.prefect_port}/api"
    if not os.environ.get("PREFECT_API_AUTH_STRING") and api_answers(api_url):
        os.environ.update(client_environment(project, api_url))


def add_pool_commands(add: Add) -> None:
    p = add("worker", cmd_worker, "run a Prefect worker for a work pool (any machine that sees the project folder)")
    p.add_argument("--pool", required=True, choices=["cpu", "speech"],
                   help="cpu: claim, audio, pairing, publishing; speech: transcription")
    p.add_argument("--limit", type=int, metavar="N",
                   help="runs at once on this machine (default: transcribe.max_concurrent for speech, "
                        "run.max_concurrent_episodes for cpu)")
    p = add("import", cmd_import, "queue a back catalogue: recordings with their articles, or a WordPress export")
    p.add_argument("folder", help="the folder holding the recordings (and *.xml WordPress exports)")
