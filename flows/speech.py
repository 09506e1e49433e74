"""Transcription on the speech pool: a flow run of its own, which the episode run starts and waits for.

A speech worker (a GPU machine, or a laptop) takes as many at once as its `--limit`; the pool's
limit caps them across machines. When the run crashes (its worker was killed: Prefect's heartbeat
automation marks it Crashed, see flows.pools), the waiting task fails and Prefect's task retry
starts a new run, which a live worker picks up.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from prefect import flow, get_run_logger, task
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from flows.process_episode import _retry_unless_user_error, transcribe_task
from flows.serving import deployment_name
from pipeline import stages
from pipeline.errors import TranscriptionError
from pipeline.layout import ProjectLayout

TRANSCRIBE_FLOW = "transcribe-episode"


@flow(name=TRANSCRIBE_FLOW)
def transcribe_episode(root: str, slug: str) -> str:
    """One episode's transcription, on whichever speech worker took the run."""
    # No machine-wide slot here: the worker's --limit is this machine's.
    outcome: stages.StageOutcome = transcribe_task(root, slug, False, limited=False)
    return str(outcome)


class TranscriptionRunCrashed(RuntimeError):
    """The run's worker stopped (killed, machine lost): worth another run elsewhere."""


@task(name="transcribe on the speech pool", retries=2, retry_delay_seconds=5,
      retry_condition_fn=_retry_unless_user_error)
def transcribe_on_speech_pool(root: str, slug: str) -> str:
    """Start the speech deployment's run for this episode and wait until it ends."""
    name = f"{TRANSCRIBE_FLOW}/{deployment_name(ProjectLayout(root=Path(root)))}"
    run = cast(FlowRun, run_deployment(name, parameters={"root": root, "slug": slug}, timeout=None,
                                       poll_interval=3, tags=[f"episode:{slug}"]))
    state = run.state
    if state is None or not state.is_completed():
        why = f"{state.name}: {state.message}" if state is not None else "no state"
        get_run_logger().warning("%s: transcription run '%s' ended %s", slug, run.name, why)
        if state is not None and state.is_crashed():
            raise TranscriptionRunCrashed(f"{slug}: the transcription run '{run.name}' crashed ({why})")
        raise TranscriptionError(f"{slug}: the transcription run '{run.name}' ended {why}")
    return run.name
