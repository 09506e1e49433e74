"""Episodes as runs on the work pools: the processing run queues one episode run per episode, once;
each episode run reports the latest batch's progress to the Prefect UI when it ends.

A run is queued with an idempotency key made of the episode's slug and its sources' hashes:
Prefect returns the existing run for a key it knows, so claiming or importing again queues nothing
twice, while a new recording or article (new hashes) or a failure (a new attempt number) does.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from pipeline import episodes
from pipeline.config import Settings
from pipeline.layout import ProjectLayout
from pipeline.models import EpisodeRecord, EpisodeState
from pipeline.status import BatchState, batch_progress

EPISODE_FLOW = "process-episode"
MAX_REQUEUES = 3  # runs of one episode that ended without completing, queued again at most
FINISHED = {EpisodeState.awaiting_review, EpisodeState.changes_requested, EpisodeState.approved,
            EpisodeState.published}


def run_key(record: EpisodeRecord) -> str:
    attempt = sum(1 for t in record.history if t.state is EpisodeState.failed)
    return f"{record.slug}:{(record.audio_sha256 or '')[:16]}:{(record.article_sha256 or '')[:16]}:{attempt}"


def episodes_to_queue(project: ProjectLayout, changed: list[str]) -> list[EpisodeRecord]:
    """Episodes the claim just made or changed, and the others not yet through their stages."""
    records = [r for r in episodes.all_records(project) if r.source_audio]
    return [r for r in records if r.slug in changed or r.state not in FINISHED]


@task(name="queue episode runs")
def queue_episode_runs(root: str, changed: list[str]) -> list[str]:
    """One run of the episode deployment per episode to process; the names of the runs."""
    from flows.serving import deployment_name

    project = ProjectLayout(root=Path(root))
    name = f"{EPISODE_FLOW}/{deployment_name(project)}"
    progress = batch_progress(project)
    tags = [f"batch:{progress.batch_id.lower()}"] if progress is not None else []
    runs = []
    for record in episodes_to_queue(project, changed):
        key = run_key(record)
        run = _queue_run(name, root, record.slug, key, tags)
        # The run for this key ended without completing while the episode is not through (its
        # machine was lost, it was cancelled): queue it again, after that run.
        for _ in range(MAX_REQUEUES):
            if run.state is None or not run.state.is_final() or run.state.is_completed():
                break
            key = f"{key}:after-{run.id}"
            run = _queue_run(name, root, record.slug, key, tags)
        runs.append(run.name)
    return runs


def _queue_run(name: str, root: str, slug: str, key: str, tags: list[str]) -> FlowRun:
    return cast(FlowRun, run_deployment(
        name, parameters={"root": root, "slug": slug}, timeout=0, as_subflow=False,
        idempotency_key=key, tags=[*tags, f"episode:{slug}"], flow_run_name=slug,
    ))


@task(name="batch progress")
def report_batch_progress(root: str) -> str | None:
    """The latest import's counts and time left, as a progress bar and a table in the Prefect UI."""
    progress = batch_progress(ProjectLayout(root=Path(root)))
    if progress is None:
        return None
    key = f"batch-{progress.batch_id.lower()}"
    create_progress_artifact(100.0 * progress.counts[BatchState.done] / max(progress.total, 1), key=key,
                             description=progress.describe())
    rows = "\n".join(f"| {state} | {progress.counts[state]} |" for state in BatchState)
    create_markdown_artifact(markdown=f"# Batch {progress.batch_id}\n\n| | episodes |\n|---|---|\n{rows}\n\n"
                             f"{progress.describe()}\n", key=f"{key}-table", description=progress.describe())
    return progress.describe()


def start_processing_run(project: ProjectLayout, settings: Settings) -> str:
    """A processing run on the server, which claims the drops and queues their episode runs; or why
    none was started (no server: `diptych up` starts one when it sees the inbox)."""
    import os

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from flows.server import api_answers
    from flows.serving import deployment_name

    api_url = os.environ.get("PREFECT_API_URL") or f"http://127.0.0.1:{settings.up.prefect_port}/api"
    if not api_answers(api_url):
        return "no Prefect server answers: 'diptych up' processes them when it starts (or 'diptych run')"
    name = f"process-inbox/{deployment_name(project)}"
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            return f"no deployment {name} on {api_url}: 'diptych up' there processes them when it sees the inbox"
        run = client.create_flow_run_from_deployment(deployment.id, parameters={"root": str(project.root)})
    return f"processing run '{run.name}' started on {api_url.removesuffix('/api')}"
