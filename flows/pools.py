"""Work pools: the deployments of a project on two process pools, run by `diptych worker`s.

`diptych-cpu` runs the processing run (claim), the episode runs (normalize, pair, review gate,
publish) and publishing; `diptych-speech` runs transcription, each as a flow run of its own that
the episode run starts and waits for. Everything here is idempotent: `diptych up` calls it at
every start, on a new server or on one that already has the pools, the limits and the deployments.

Import this module only once PREFECT_API_URL names the server to use.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.events.actions import ChangeFlowRunState, RunDeployment
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.workers.process import ProcessWorker

from flows.process_episode import process_episode, process_inbox, publish_episode
from flows.serving import Deployments, deployment_name
from flows.speech import transcribe_episode
from pipeline.config import Settings
from pipeline.errors import ServiceError
from pipeline.layout import ProjectLayout

log = logging.getLogger(__name__)

CPU_POOL = "diptych-cpu"
SPEECH_POOL = "diptych-speech"
POOLS = {"cpu": CPU_POOL, "speech": SPEECH_POOL}
CRASH_AUTOMATION = "diptych: mark runs without heartbeat crashed"
FINAL_EVENTS = {f"prefect.flow-run.{s}" for s in ("Completed", "Failed", "Cancelled", "Crashed")}


async def ensure_work_pools(client: PrefectClient, settings: Settings) -> None:
    """Both process pools, with the speech pool's limit across machines from [workers]."""
    limits = {CPU_POOL: settings.workers.cpu_pool_limit, SPEECH_POOL: settings.workers.speech_pool_limit}
    template = ProcessWorker.get_default_base_job_template()
    for name, limit in limits.items():
        try:
            await client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template,
                                                         concurrency_limit=limit))
        except ObjectAlreadyExists:
            pool = await client.read_work_pool(name)
            if pool.type != "process":
                raise ServiceError(f"work pool {name} exists with type '{pool.type}': delete it in the Prefect "
                                   "UI (Work Pools) and start again") from None
            if pool.concurrency_limit != limit:
                await client.update_work_pool(name, WorkPoolUpdate(concurrency_limit=limit))


async def ensure_crash_detection(client: PrefectClient, settings: Settings) -> None:
    """Prefect's zombie-run automation: a run whose heartbeats stop (its machine or worker was killed)
    is marked Crashed; the episode run waiting for it then retries it on a live worker."""
    trigger = EventTrigger(
        # From the start of a run, not only its first heartbeat (30 s in): a machine lost in the
        # first seconds of a run is noticed too.
        after={"prefect.flow-run.Running", "prefect.flow-run.heartbeat"},
        expect={"prefect.flow-run.heartbeat", *FINAL_EVENTS},
        match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
        for_each={"prefect.resource.id"},
        posture=Posture.Proactive,
        threshold=1,
        within=timedelta(seconds=settings.workers.crash_after_s),
    )
    automation = AutomationCore(
        name=CRASH_AUTOMATION,
        description="Flow runs of diptych's workers that stopped sending heartbeats are marked Crashed.",
        trigger=trigger,
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message="no heartbeat: its worker or machine stopped")],
    )
    await _put_automation(client, automation)


async def _put_automation(client: PrefectClient, automation: AutomationCore) -> None:
    """One automation of that name, made or brought up to date."""
    existing = await client.read_automations_by_name(automation.name)
    if existing:
        await client.update_automation(existing[0].id, automation)
        for extra in existing[1:]:
            await client.delete_automation(extra.id)
    else:
        await client.create_automation(automation)


async def ensure_requeue_on_crash(client: PrefectClient, project: ProjectLayout, ids: dict[str, UUID]) -> None:
    """An episode run marked Crashed (its CPU machine was lost) starts a processing run, which
    queues that episode again on a live worker (flows.batch: at most MAX_REQUEUES times)."""
    episode_id, inbox_id = ids[process_episode.name], ids[process_inbox.name]
    trigger = EventTrigger(
        expect={"prefect.flow-run.Crashed"},
        match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
        match_related=ResourceSpecification({"prefect.resource.id": [f"prefect.deployment.{episode_id}"],
                                             "prefect.resource.role": "deployment"}),
        posture=Posture.Reactive,
        threshold=1,
        within=timedelta(0),
    )
    await _put_automation(client, AutomationCore(
        name=f"diptych: queue again the crashed episode runs of {deployment_name(project)}",
        description=f"A crashed episode run of {project.root} starts a processing run that queues it again.",
        trigger=trigger,
        actions=[RunDeployment(source="selected", deployment_id=inbox_id)],
    ))


async def _deployment(flow: Any, name: str, root: str, description: str, **options: Any) -> RunnerDeployment:
    deployment: RunnerDeployment = await flow.ato_deployment(
        name, parameters={"root": root, **options.pop("parameters", {})},
        entrypoint_type=EntrypointType.MODULE_PATH, description=description,
        # A flow run starts in the project folder, the same path on every machine.
        job_variables={"working_dir": root}, **options,
    )
    return deployment


async def apply_deployments(project: ProjectLayout) -> dict[str, UUID]:
    """The project's four deployments, each on its pool; their ids by flow name."""
    root, name = str(project.root), deployment_name(project)
    wanted: list[tuple[RunnerDeployment, str]] = [
        (await _deployment(process_inbox, name, root, f"Claim the drops in {root}/inbox and queue their episodes.",
                     parameters={"on_pools": True}, concurrency_limit=1), CPU_POOL),
        (await _deployment(process_episode, name, root, "One episode as far as it can go (parameter: slug).",
                     parameters={"on_pools": True}), CPU_POOL),
        (await _deployment(publish_episode, name, root, f"Publish one approved episode of {root} (parameter: slug)."),
         CPU_POOL),
        (await _deployment(transcribe_episode, name, root, "Transcribe one episode (parameter: slug)."), SPEECH_POOL),
    ]
    return {str(d.flow_name): await d.aapply(work_pool_name=pool) for d, pool in wanted}


async def prepare_pools(project: ProjectLayout, settings: Settings) -> dict[str, UUID]:
    async with get_client() as client:
        await ensure_work_pools(client, settings)
        await ensure_crash_detection(client, settings)
        ids = await apply_deployments(project)
        await ensure_requeue_on_crash(client, project, ids)
    return ids


class PooledDeployments:
    """`diptych up` with work pools: the deployments are registered, the workers run them. Same
    face as flows.serving.ServedDeployments, so the watcher does not tell them apart."""

    def __init__(self, project: ProjectLayout, settings: Settings) -> None:
        self.project = project
        self.settings = settings

    def start(self, *, timeout_s: float) -> Deployments:
        result: dict[str, Any] = {}

        def register() -> None:
            try:
                result["ids"] = asyncio.run(prepare_pools(self.project, self.settings))
            except Exception as exc:
                result["error"] = exc

        thread = threading.Thread(target=register, name="diptych-pools", daemon=True)
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive():
            raise ServiceError(f"the work pools and deployments were not registered within {timeout_s:.0f} s: "
                               "is the Prefect server overloaded? Try again, or raise [up] prefect_timeout_s")
        if "error" in result:
            error = result["error"]
            if isinstance(error, ServiceError):
                raise error
            raise ServiceError(f"the work pools could not be prepared ({type(error).__name__}: {error})")
        ids, name = result["ids"], deployment_name(self.project)
        return Deployments(inbox_id=ids[process_inbox.name], publish_id=ids[publish_episode.name],
                           inbox=f"{process_inbox.name}/{name}", publish=f"{publish_episode.name}/{name}",
                           crashed_leftovers=0)

    def failure(self) -> str | None:
        return None  # nothing runs here: the workers report their own failures

    def stop(self, *, timeout_s: float) -> bool:
        return True  # the runs belong to the workers, which go on


async def read_pool(name: str) -> Any:
    async with get_client() as client:
        try:
            return await client.read_work_pool(name)
        except ObjectNotFound:
            return None
