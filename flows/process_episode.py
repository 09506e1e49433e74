"""The episode flow: claim → normalize → transcribe → pair → review gate → publish.

Tasks wrap one pipeline function each. Their results are cached under keys made of content
hashes and options (pipeline.stages.cache_key), so a re-run with nothing new does no work.
Transcription starts as soon as the normalize stage has written the speech WAV, while the MP3 is
still encoded and measured (a _Handover between the two tasks, in this process).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import Task

from flows.batch import queue_episode_runs, report_batch_progress
from flows.limits import transcription_slot
from flows.logs import quiet_expected_failures
from flows.progress import TerminalProgress
from pipeline import episodes, stages
from pipeline.config import Settings, load_settings
from pipeline.errors import DiptychError
from pipeline.inbox import claim_drops
from pipeline.layout import ProjectLayout
from pipeline.models import EpisodeState
from pipeline.stages import Stage, StageOutcome
from pipeline.store import sha256_json

quiet_expected_failures()


def _project(root: str) -> tuple[ProjectLayout, Settings]:
    project = ProjectLayout(root=Path(root))
    return project, load_settings(project.config_file)


def _stage_cache_key(stage: Stage) -> Callable[[TaskRunContext, dict[str, Any]], str | None]:
    def key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
        project, settings = _project(parameters["root"])
        return stages.cache_key(project, settings, parameters["slug"], stage)

    return key


def _retry_unless_user_error(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry what a retry can fix (a busy disk, a killed encoder), not bad input."""
    try:
        state.result()
    except DiptychError:
        return False
    except Exception:
        return True
    return False


def _failing(stage: Stage, root: str, slug: str, **options: Any) -> StageOutcome:
    """Run a stage; on failure record it in the episode's state (stage and reason), then re-raise."""
    project, settings = _project(root)
    try:
        return stages.SPECS[stage].run(project, settings, slug, **options)
    except Exception as exc:
        message = str(exc) if isinstance(exc, DiptychError) else f"{type(exc).__name__}: {exc}"
        episodes.mark_failed(project.episode(slug), stage=stage, message=message)
        raise


@task(name="claim drops")
def claim_task(root: str) -> dict[str, list[str]]:
    project, settings = _project(root)
    report = claim_drops(project, settle_s=settings.run.settle_s)
    logger = get_run_logger()
    for line in report.messages:
        logger.info(line)
    for line in report.errors:
        logger.error(line)
    return {"claimed": report.claimed, "updated": report.updated, "messages": report.messages,
            "errors": report.errors}


@dataclass(frozen=True)
class _Handover:
    """Between one episode's normalize and transcribe tasks (threads of one flow run)."""

    speech: threading.Event = field(default_factory=threading.Event)  # the speech WAV is written
    normalized: threading.Event = field(default_factory=threading.Event)  # the normalize task is over


_HANDOVERS: dict[tuple[str, str], _Handover] = {}


@task(name=Stage.normalize, retries=1, retry_delay_seconds=2, retry_condition_fn=_retry_unless_user_error,
      cache_key_fn=_stage_cache_key(Stage.normalize))
def normalize_task(root: str, slug: str) -> StageOutcome:
    handover = _HANDOVERS.get((root, slug))
    return _failing(Stage.normalize, root, slug, speech_ready=handover.speech.set if handover else None)


@task(name=Stage.transcribe, retries=1, retry_delay_seconds=5, retry_condition_fn=_retry_unless_user_error,
      cache_key_fn=_stage_cache_key(Stage.transcribe))
def transcribe_task(root: str, slug: str, show_progress: bool = False, limited: bool = True) -> StageOutcome:
    """`limited`: take one of this machine's transcription slots (flows.limits); a speech worker's
    own --limit is the machine's limit on the work pools."""
    from pipeline.transcribe import default_models_dir

    project, settings = _project(root)
    logger = get_run_logger()
    artifact = cast(UUID, create_progress_artifact(0.0, key=f"transcribe-{slug}", description=f"Transcribing {slug}"))
    bar = TerminalProgress(f"{slug}: transcribing", stream=sys.stderr) if show_progress else None
    last_logged = [-1]

    def progress(done: float, eta_s: float | None) -> None:
        percent = int(done * 100)
        if percent // 10 > last_logged[0]:
            last_logged[0] = percent // 10
            eta = f", about {eta_s:.0f} s left" if eta_s is not None else ""
            logger.info("%s: transcribed %d %%%s", slug, percent, eta)
            update_progress_artifact(artifact, float(percent))
        if bar:
            bar.update(done, eta_s)

    models_dir = settings.transcribe.models_dir or default_models_dir()
    handover = _HANDOVERS.get((root, slug))
    normalized = handover.normalized.wait if handover else None
    with transcription_slot(settings, limited=limited):
        try:
            return _failing(
                Stage.transcribe, root, slug, models_dir=models_dir, progress=progress, normalized=normalized
            )
        finally:
            update_progress_artifact(artifact, 100.0)
            if bar:
                bar.close()


@task(name=Stage.pair, retries=0, cache_key_fn=_stage_cache_key(Stage.pair))
def pair_task(root: str, slug: str) -> StageOutcome:
    return _failing(Stage.pair, root, slug)


@task(name="review gate")
def review_task(root: str, slug: str) -> StageOutcome:
    outcome = _failing(Stage.review, root, slug)
    project, settings = _project(root)
    record = episodes.load_record(project.episode(slug))
    if record.state is EpisodeState.awaiting_review:
        create_markdown_artifact(
            markdown=review_summary(project, settings, slug), key=f"review-{slug}",
            description=f"{slug} is waiting for review",
        )
    return outcome


@task(name=Stage.publish, retries=1, retry_delay_seconds=2, retry_condition_fn=_retry_unless_user_error,
      cache_key_fn=_stage_cache_key(Stage.publish))
def publish_task(root: str, slug: str, named: bool = False) -> StageOutcome:
    return _failing(Stage.publish, root, slug, named=named)


def _wordpress_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Post again only when what the post is made of changed (or the last try did not go through)."""
    project, settings = _project(parameters["root"])
    layout = project.existing_episode(parameters["slug"])
    record = episodes.load_record(layout)
    key = [stages.publish_key(project, settings, layout, record), str(record.state),
           settings.wordpress.model_dump(mode="json")]
    return f"wordpress-{parameters['slug']}-{sha256_json(key)[:32]}"


@task(name="post on WordPress", retries=1, retry_delay_seconds=10, retry_condition_fn=_retry_unless_user_error,
      cache_key_fn=_wordpress_cache_key)
def wordpress_task(root: str, slug: str) -> str:
    """The published episode as a post on the creator's blog ([wordpress] auto = true)."""
    from pipeline.publish import wordpress

    project, settings = _project(root)
    password = wordpress.read_password(settings, root=project.root, environ=os.environ)
    result = wordpress.publish_to_wordpress(project, settings, slug, password=password)
    get_run_logger().info("%s: post %d on %s (%s)", slug, result.post_id, settings.wordpress.url, result.status)
    return result.post_url


def post_if_auto(root: str, slug: str, *, refresh: bool = False) -> None:
    """After publishing: the blog's post too, when [wordpress] auto is on and the episode is published."""
    project, settings = _project(root)
    if settings.wordpress.auto and episodes.load_record(project.episode(slug)).state is EpisodeState.published:
        wordpress_task.with_options(refresh_cache=refresh)(root, slug)


def review_summary(project: ProjectLayout, settings: Settings, slug: str) -> str:
    from pipeline.status import episode_row

    row = episode_row(project, slug)
    url = f"http://127.0.0.1:{settings.review.port}/episodes/{slug}"
    return (
        f"# {row.title}\n\n| | |\n|---|---|\n| duration | {row.duration} |\n| language | {row.language or '—'} |\n"
        f"| flagged segments | {row.flagged} |\n| coverage | {row.coverage} |\n\n"
        f"Review it: run `diptych review {slug}` and open the address it prints ({url}…), or, under "
        f"`diptych up`, the review page whose address `up` printed.\n"
    )


@flow(name="process-episode", log_prints=False)
def process_episode(root: str, slug: str, show_progress: bool = False, on_pools: bool = False) -> str:
    """One episode as far as it can go: to awaiting_review, or (approved by a person) to published.
    No parameter approves: the review page, 'diptych approve' and 'run --approve' do.
    `on_pools`: transcription is a run of its own on the speech pool, and the batch's progress is
    reported at the end (the deployments of flows.pools set it); else it overlaps the MP3's encoding."""
    if on_pools:
        normalize_task(root, slug)
        _speech_pool().transcribe_on_speech_pool(root, slug)
    else:
        normalize_and_transcribe(root, slug, show_progress)
    pair_task(root, slug)
    review_task(root, slug)
    publish_task(root, slug)
    post_if_auto(root, slug)
    if on_pools:
        report_batch_progress(root)
    project, _ = _project(root)
    return str(episodes.load_record(project.episode(slug)).state)


def _speech_pool() -> Any:
    """flows.speech, imported when first needed: it imports this module's transcription task."""
    from flows import speech

    return speech


def normalize_and_transcribe(root: str, slug: str, show_progress: bool) -> None:
    """The two stages, overlapping: transcription starts once the speech WAV is written and
    records nothing before the normalize task is over (the MP3 encoded, measured and recorded)."""
    handover = _HANDOVERS.setdefault((root, slug), _Handover())
    try:
        normalizing = normalize_task.submit(root, slug)
        if not _wait_for_speech(handover, normalizing):
            normalizing.result()  # over before the WAV was written: raises its error if it failed
        transcribing = transcribe_task.submit(root, slug, show_progress)
        normalizing.wait()
        handover.normalized.set()
        transcribing.wait()
        normalizing.result()
        transcribing.result()
    finally:
        handover.normalized.set()
        _HANDOVERS.pop((root, slug), None)


def _wait_for_speech(handover: _Handover, normalizing: PrefectFuture[StageOutcome]) -> bool:
    """True once the speech WAV is written; False if the normalize task is over first (skipped, failed)."""
    while not handover.speech.wait(0.1):
        # The thread pool's future says it without asking the API; other runners' states do.
        wrapped = getattr(normalizing, "wrapped_future", None)
        if wrapped.done() if wrapped is not None else normalizing.state.is_final():
            return handover.speech.is_set()
    return True


@flow(name="publish-episode")
def publish_episode(root: str, slug: str) -> str:
    """Publishing alone (after an approval from the review page or the terminal); an episode
    without a recorded approval is left as it is, and the run says why."""
    outcome = publish_task.with_options(refresh_cache=True)(root, slug, True)
    post_if_auto(root, slug, refresh=True)
    project, _ = _project(root)
    record = episodes.load_record(project.episode(slug))
    if not outcome.ran and stages.unapproved(record):
        get_run_logger().warning("%s", outcome.message)
    return str(record.state)


@task(name="episode")
def episode_task(root: str, slug: str, show_progress: bool) -> str:
    return process_episode(root, slug, show_progress)


def episodes_to_process(project: ProjectLayout) -> list[str]:
    """Every episode not yet published, plus published ones (a no-op unless an input changed)."""
    return [r.slug for r in episodes.all_records(project) if r.source_audio]


@flow(name="process-inbox")
def process_inbox(root: str, show_progress: bool = False, on_pools: bool = False) -> dict[str, Any]:
    """Claim the inbox, then take every episode as far as it can go, several at a time; or
    (`on_pools`) queue one episode run per episode for the CPU workers, and end."""
    claimed = claim_task(root)
    if on_pools:
        return {"claim": claimed, "queued": queue_episode_runs(root, claimed["claimed"] + claimed["updated"])}
    project, _ = _project(root)
    slugs = episodes_to_process(project)
    futures = {slug: episode_task.submit(root, slug, show_progress) for slug in slugs}
    results: dict[str, str] = {}
    for slug, future in futures.items():
        future.wait()
        results[slug] = str(episodes.load_record(project.episode(slug)).state)
    return {"claim": claimed, "episodes": results}


def run_inbox(
    project: ProjectLayout, settings: Settings, *, show_progress: bool, loading: threading.Thread | None = None
) -> dict[str, Any]:
    """The processing run of `diptych run`; `loading`, the models' preload (flows.runtime), if any."""
    runner: Any = ThreadPoolTaskRunner(max_workers=settings.run.max_concurrent_episodes)
    try:
        state = process_inbox.with_options(task_runner=runner)(str(project.root), show_progress, return_state=True)
    finally:
        if loading is not None:
            # A process that exits while torch or onnxruntime is loading aborts (SIGABRT, "terminate
            # called without an active exception"): a run that failed early waits for the load.
            loading.join()
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise DiptychError(f"the processing run failed: {type(result).__name__}: {result}")
    return cast(dict[str, Any], result)


def run_publish(project: ProjectLayout, slug: str) -> str:
    return publish_episode(str(project.root), slug)
