"""`diptych up`: one machine, always on. A local Prefect server (API and UI), the two deployments
served, the inbox watched, the review page served, until Ctrl-C or SIGTERM stops them all.

Prefect is imported only once PREFECT_API_URL names the server (flows.serving), so this module
starts the server, or checks the user's own, first.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from flows.database import database_environment, prepare_database
from flows.lockdown import client_environment, secret_path, server_environment
from flows.runtime import configure_prefect
from flows.server import HOST, PrefectServer, api_answers, require_free_port, ui_url_of
from pipeline import episodes
from pipeline.config import Settings
from pipeline.errors import ServiceError
from pipeline.inbox import EpisodeWatch, InboxWatch, describe_event, inbox_fingerprint, unfinished
from pipeline.layout import ProjectLayout

Emit = Callable[[str], None]
# A run in progress is cancelled with SIGTERM, then SIGKILL 30 s later (Prefect's runner).
RUNNER_STOP_S = 45.0


@dataclass(frozen=True)
class UpOptions:
    prefect_port: int
    review_port: int
    database: str | None = None  # PostgreSQL for the server, and the deployments on work pools


class ReviewPage:
    """The review app (pipeline.review_app) served from a thread; publishing goes to `on_approve`."""

    def __init__(self, project: ProjectLayout, settings: Settings, *, port: int,
                 on_approve: Callable[[str], None]) -> None:
        import uvicorn

        from pipeline.review import create_app

        self.token = secrets.token_urlsafe(24)
        self.base = f"http://{HOST}:{port}"
        app = create_app(project, settings, token=self.token, on_approve=on_approve)
        self.server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning",
                                                    access_log=False))
        self.port = port
        # Off the main thread, uvicorn leaves the signals to `diptych up`.
        self.thread = threading.Thread(target=self.server.run, name="diptych-review", daemon=True)

    def url(self, slug: str | None = None) -> str:
        return f"{self.base}/{'episodes/' + slug if slug else ''}?token={self.token}"

    def start(self, *, timeout_s: float = 30.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ServiceError(f"the review page could not listen on {HOST}:{self.port}: "
                                   "choose another port with --review-port")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _prepare_environment(api_url: str, settings: Settings) -> None:
    """Before Prefect is imported: its server, results kept for reading, quiet flow-run consoles."""
    os.environ["PREFECT_API_URL"] = api_url
    # Episodes of one processing run several at a time, as `diptych run` takes them.
    os.environ.setdefault("PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS", str(settings.run.max_concurrent_episodes))
    # The processing run's result (the claim's notes) is read back by the watcher.
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "true")
    # Flow runs log to the Prefect UI; the terminal gets one line per event from the watcher.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


def _quiet_logging() -> None:
    """Once Prefect is imported (it sets its loggers' levels then): warnings only, unless --verbose;
    the events are the watcher's lines."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        for name in ("prefect", "pipeline", "uvicorn.error"):
            logging.getLogger(name).setLevel(logging.WARNING)


class _Stop:
    """Set by SIGINT or SIGTERM once everything runs; until then they interrupt the start."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.previous: dict[int, Any] = {}

    def _set(self, signum: int, _frame: FrameType | None) -> None:
        self.event.set()

    @staticmethod
    def _interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def during_start(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._interrupt)

    def once_running(self) -> None:
        """Also while stopping: a second Ctrl-C must not cut the stop short and leave the server running."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._set)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def run_up(project: ProjectLayout, settings: Settings, options: UpOptions, *, emit: Emit) -> int:
    """Start everything, watch until stopped; 0 after a clean stop, 1 when a part stopped on its own."""
    own_url = os.environ.get("PREFECT_API_URL")
    configure_prefect(project)
    stop = _Stop()
    stop.during_start()
    server: PrefectServer | None = None
    parts: dict[str, Any] = {}
    try:
        require_free_port(options.review_port, flag="--review-port")
        if own_url:
            if not api_answers(own_url):
                raise ServiceError(f"PREFECT_API_URL={own_url} does not answer: start that server, "
                                   "or unset PREFECT_API_URL to let diptych up start its own")
            api_url = own_url
        else:
            # PREFECT_HOME: the project's (flows.runtime), unless the user chose another.
            home = Path(os.environ.get("PREFECT_HOME") or project.prefect_home)
            server = PrefectServer(home, port=options.prefect_port, timeout_s=settings.up.prefect_timeout_s,
                                   environment={**server_environment(project, host=HOST, port=options.prefect_port),
                                                **database_environment(prepare_database(options.database))})
            on = f", on {options.database}" if options.database else ""
            emit(f"starting the Prefect server on {HOST}:{options.prefect_port}{on} (its log: {server.log_path})")
            server.start()
            api_url = server.api_url
            # This command, the runner's flow runs and the review page's publish runs: the secret.
            os.environ.update(client_environment(project, api_url))
        _prepare_environment(api_url, settings)
        serving = importlib.import_module("flows.serving")
        _quiet_logging()
        parts["served"] = served = _deployments_for(project, settings, options, serving)
        deployments = served.start(timeout_s=settings.up.prefect_timeout_s)

        def on_approve(slug: str) -> None:
            serving.start_publish_run(deployments, project, slug)

        parts["review"] = review = ReviewPage(project, settings, port=options.review_port, on_approve=on_approve)
        review.start()
        session = Session(project, settings, serving, deployments, served, review, server, api_url)
        if options.database:
            emit("work pools: diptych-cpu, diptych-speech: start 'diptych worker --pool cpu' and "
                 "'diptych worker --pool speech' on the machines that see this project folder")
        _announce(session, own=bool(own_url), emit=emit)
        stop.once_running()
        parts["watcher"] = watcher = Watcher(session, emit=emit)
        return watcher.run(stop.event)
    finally:
        stop.once_running()
        _shut_down(parts, server, emit=emit)
        stop.restore()


def _deployments_for(project: ProjectLayout, settings: Settings, options: UpOptions, serving: ModuleType) -> Any:
    """Served by this process (one machine), or, with a database, on the work pools (flows.pools)."""
    if options.database is None:
        return serving.ServedDeployments(project, poll_s=settings.up.watch_interval_s)
    return importlib.import_module("flows.pools").PooledDeployments(project, settings)


@dataclass(frozen=True)
class Session:
    """Everything that runs, once started."""

    project: ProjectLayout
    settings: Settings
    serving: ModuleType  # flows.serving, imported once Prefect's API is known
    deployments: Any  # flows.serving.Deployments
    served: Any  # flows.serving.ServedDeployments
    review: ReviewPage
    server: PrefectServer | None  # None: the user's own server
    api_url: str

    def broken_part(self) -> str | None:
        if self.server is not None and not self.server.alive():
            return f"the Prefect server stopped ({self.server.last_line()}; see {self.server.log_path})"
        if (why := self.served.failure()) is not None:
            return f"serving the deployments stopped ({why})"
        if not self.review.alive():
            return "the review page stopped"
        return None


def _announce(session: Session, *, own: bool, emit: Emit) -> None:
    ui = ui_url_of(session.api_url)
    emit(f"Prefect UI: {ui} (your server, from PREFECT_API_URL)" if own else f"Prefect UI: {ui}")
    if not own:
        emit(f"Prefect UI sign-in: paste the line in {secret_path(session.project)} (keep it private)")
    emit(f"review page: {session.review.url()}")
    emit(f"inbox: {session.project.inbox}")
    emit(f"deployments: {session.deployments.inbox}, {session.deployments.publish}")
    if session.deployments.crashed_leftovers:
        emit(f"note: {session.deployments.crashed_leftovers} run(s) left running by an earlier stop marked crashed")
    emit("watching the inbox; Ctrl-C stops everything")


def _stamp(line: str) -> str:
    return f"{datetime.now():%H:%M:%S} {line}"


class Watcher:
    """Every few seconds: the episodes' new states, the runs that ended, and whether the inbox
    needs a processing run (pipeline.watcher decides)."""

    def __init__(self, session: Session, *, emit: Emit) -> None:
        self.s = session
        self.emit = emit
        self.since = datetime.now(UTC)
        self.episodes = EpisodeWatch(session.project)
        self.runs = session.serving.RunWatch(session.deployments)
        self.inbox = InboxWatch()
        self.last_problem = ""

    def run(self, stop: threading.Event) -> int:
        from prefect.client.orchestration import get_client

        self.episodes.prime()
        resume = True
        with get_client(sync_client=True) as client:
            while True:
                if broken := self.s.broken_part():
                    self.emit(_stamp(f"error: {broken}; stopping"))
                    return 1
                for event in self.episodes.poll():
                    self.emit(_stamp(describe_event(event, review_url=self.s.review.url(event.slug))))
                try:
                    if resume:
                        self.resume(client)
                        resume = False
                    self.look(client)
                    self.last_problem = ""
                except Exception as exc:
                    problem = f"warning: Prefect's API did not answer ({type(exc).__name__}: {exc}); trying again"
                    if problem != self.last_problem:
                        self.emit(_stamp(problem))
                    self.last_problem = problem
                if stop.wait(self.s.settings.up.watch_interval_s):
                    return 0

    def resume(self, client: Any) -> None:
        """Episodes a stop or a failure left part-way, and drops waiting since before the start."""
        left = unfinished(episodes.all_records(self.s.project))
        current = inbox_fingerprint(self.s.project.inbox)
        if left or current:
            reason = f"resuming {', '.join(left)}" if left else "the inbox holds files"
            self.start_run(client, current, reason)

    def look(self, client: Any) -> None:
        serving = self.s.serving
        ended, busy = self.runs.look(serving.session_runs(client, self.s.deployments, self.since))
        for run in ended:
            for line in serving.describe_ended(run, self.s.deployments, ui_url_of(self.s.api_url)):
                self.emit(_stamp(line))
        current = inbox_fingerprint(self.s.project.inbox)
        self.inbox, start = self.inbox.look(current, busy=busy)
        if start:
            self.start_run(client, current, "inbox changed")

    def start_run(self, client: Any, current: frozenset[tuple[str, int, int]], reason: str) -> None:
        run = self.s.serving.start_inbox_run(client, self.s.deployments, self.s.project)
        self.inbox = self.inbox.started(current)
        self.emit(_stamp(f"{reason}: processing run '{run.name}' started"))


def _shut_down(parts: dict[str, Any], server: PrefectServer | None, *, emit: Emit) -> None:
    """Review page, then the runner (it cancels the runs in progress), then the server."""
    if not parts and server is None:
        return
    watcher: Watcher | None = parts.get("watcher")
    active = watcher.runs.active if watcher is not None else []
    emit(_stamp(f"stopping: cancelling run {', '.join(repr(n) for n in active)} (it gets up to 30 s to end)…"
                if active else "stopping…"))
    review: ReviewPage | None = parts.get("review")
    if review is not None:
        review.stop()
    served = parts.get("served")
    if served is not None and not served.stop(timeout_s=RUNNER_STOP_S):
        emit(_stamp("warning: the runner did not stop in time; its runs end with the server"))
    if server is not None:
        server.stop()
    if active:
        emit(_stamp("what those runs left unfinished resumes at the next 'diptych up' or 'diptych run'"))
    emit(_stamp("stopped"))
