"""The deployments `diptych up` serves (processing the inbox, publishing one episode) and the few
calls it makes to Prefect's API: start a run, list this session's runs, read how a run ended.

Import this module only once PREFECT_API_URL names the server to use (flows.up does).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.deployments.runner import EntrypointType
from prefect.runner import Runner
from prefect.states import Crashed

from flows.process_episode import process_inbox, publish_episode
from pipeline.errors import ServiceError
from pipeline.inbox import slugify
from pipeline.layout import ProjectLayout

log = logging.getLogger(__name__)

# States of a run that has not ended (a run waiting for its turn is Scheduled).
ACTIVE = (StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING, StateType.PAUSED)
# States a run is left in when the process that ran it was killed outright.
LEFT_RUNNING = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]


def deployment_name(project: ProjectLayout) -> str:
    """The project folder's name: `process-inbox/<name>` and `publish-episode/<name>` in the UI."""
    return slugify(project.root.name)


@dataclass(frozen=True)
class Deployments:
    inbox_id: UUID
    publish_id: UUID
    inbox: str  # full names, as the UI and `prefect deployment run` know them
    publish: str
    crashed_leftovers: int  # runs an earlier, killed session left "running", now marked crashed


class ServedDeployments:
    """A Prefect runner serving both deployments, in a thread and event loop of its own. Each flow
    run is a subprocess; stopping the runner cancels the runs in progress (SIGTERM, then SIGKILL)."""

    def __init__(self, project: ProjectLayout, *, poll_s: float) -> None:
        self.project = project
        self.poll_s = poll_s
        self._runner: Runner | None = None
        self._ids: list[UUID] = []
        self._crashed = 0
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="diptych-runner", daemon=True)

    def start(self, *, timeout_s: float) -> Deployments:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise ServiceError(f"the deployments were not registered within {timeout_s:.0f} s: is the Prefect "
                               "server overloaded? Try again, or raise [up] prefect_timeout_s")
        if self._error is not None or len(self._ids) != 2:
            why = f"{type(self._error).__name__}: {self._error}" if self._error else "registration stopped"
            raise ServiceError(f"the deployments could not be served ({why})")
        name = deployment_name(self.project)
        return Deployments(
            inbox_id=self._ids[0], publish_id=self._ids[1], inbox=f"{process_inbox.name}/{name}",
            publish=f"{publish_episode.name}/{name}", crashed_leftovers=self._crashed,
        )

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        root = str(self.project.root)
        name = deployment_name(self.project)
        # Served by module path: a flow run imports flows.process_episode wherever it is installed.
        inbox = await process_inbox.ato_deployment(
            name, parameters={"root": root}, entrypoint_type=EntrypointType.MODULE_PATH,
            # One processing run at a time, also when one is started from the UI: two would claim
            # the same drops and work on the same episodes.
            concurrency_limit=1,
            description=f"Claim the drops in {root}/inbox and take every episode as far as it can go.",
        )
        publish = await publish_episode.ato_deployment(
            name, parameters={"root": root}, entrypoint_type=EntrypointType.MODULE_PATH,
            description=f"Publish one approved episode of {root} (parameter: slug).",
        )
        runner = Runner(name=f"diptych-{name}", query_seconds=self.poll_s, pause_on_shutdown=False)
        for deployment in (inbox, publish):
            self._ids.append(await runner.aadd_deployment(deployment))
        self._crashed = await _crash_leftovers(self._ids)
        self._runner = runner
        self._ready.set()
        await runner.start()

    def failure(self) -> str | None:
        """Why the runner stopped on its own, or None while it serves."""
        if self._thread.is_alive():
            return None
        return f"{type(self._error).__name__}: {self._error}" if self._error else "the runner stopped"

    def stop(self, *, timeout_s: float) -> bool:
        """Stop polling, cancel the runs in progress; True when the runner has finished."""
        runner = self._runner
        deadline = time.monotonic() + timeout_s
        if runner is not None:
            while not runner.started and self._thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.1)  # stopped just as it was starting
            if runner.started and self._thread.is_alive():
                runner.execute_in_background(runner.astop)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()


async def _crash_leftovers(deployment_ids: list[UUID]) -> int:
    """Runs of these deployments still "running" belong to a session that was killed (this runner has
    not started yet): mark them crashed, so the UI tells the truth and their concurrency slot is freed."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids)),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=LEFT_RUNNING))),
        )
        for run in runs:
            await client.set_flow_run_state(
                run.id, Crashed(message="diptych up stopped while this run was in progress"), force=True
            )
    return len(runs)


def start_inbox_run(client: SyncPrefectClient, deployments: Deployments, project: ProjectLayout) -> FlowRun:
    return client.create_flow_run_from_deployment(deployments.inbox_id, parameters={"root": str(project.root)})


def start_publish_run(deployments: Deployments, project: ProjectLayout, slug: str) -> FlowRun:
    """Called from the review page's thread after an approval: a client of its own."""
    with get_client(sync_client=True) as client:
        return client.create_flow_run_from_deployment(
            deployments.publish_id, parameters={"root": str(project.root), "slug": slug}
        )


def session_runs(client: SyncPrefectClient, deployments: Deployments, since: datetime) -> list[FlowRun]:
    """The latest runs of both deployments created since `since`, from the watcher or the UI."""
    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployments.inbox_id, deployments.publish_id])),
        flow_run_filter=FlowRunFilter(expected_start_time=FlowRunFilterExpectedStartTime(after_=since)),
        sort=FlowRunSort.EXPECTED_START_TIME_DESC,
        limit=50,
    )


def is_active(run: FlowRun) -> bool:
    return run.state_type in ACTIVE


@dataclass
class RunWatch:
    """The runs of this session, and which have ended since the last look."""

    deployments: Deployments
    ended: set[UUID] = field(default_factory=set)
    active: list[str] = field(default_factory=list)  # names of the runs queued or running at the last look

    def look(self, runs: list[FlowRun]) -> tuple[list[FlowRun], bool]:
        """(runs that ended since the last look, whether a processing run is queued or running)."""
        newly_ended = [r for r in runs if not is_active(r) and r.id not in self.ended]
        self.ended.update(r.id for r in newly_ended)
        self.active = [r.name for r in runs if is_active(r)]
        busy = any(is_active(r) and r.deployment_id == self.deployments.inbox_id for r in runs)
        return newly_ended, busy


def describe_ended(run: FlowRun, deployments: Deployments, ui_url: str) -> list[str]:
    """Lines for a run that ended: the claim's notes and errors, or why the run did not complete."""
    flow = deployments.inbox if run.deployment_id == deployments.inbox_id else deployments.publish
    state = run.state
    if state is None or not state.is_completed():
        name = (state.name or state.type.value) if state is not None else "ended"
        why = f": {state.message}" if state is not None and state.message else ""
        return [f"{flow} run '{run.name}' {name.lower()}{why} (see {ui_url}/runs/flow-run/{run.id})"]
    if run.deployment_id != deployments.inbox_id:
        return []
    claim = _claim_report(run)
    return [f"note: {line}" for line in claim.get("messages", [])] + [
        f"error: {line}" for line in claim.get("errors", [])
    ]


def _claim_report(run: FlowRun) -> dict[str, Any]:
    """The processing run's claim report, from its persisted result (PREFECT_RESULTS_PERSIST_BY_DEFAULT)."""
    if run.state is None:
        return {}
    try:
        result = run.state.result(raise_on_failure=False)
    except Exception as exc:
        log.debug("no result for run %s: %s", run.id, exc)
        return {}
    claim = result.get("claim") if isinstance(result, dict) else None
    return claim if isinstance(claim, dict) else {}
