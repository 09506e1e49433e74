"""An episode's record (state.json): creation, state transitions, failures."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from pipeline.errors import EpisodeNotFound
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import EpisodeRecord, EpisodeState, StageError, Transition
from pipeline.store import read_model, write_model

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def create_record(layout: EpisodeLayout, *, title: str, **fields: object) -> EpisodeRecord:
    from pipeline.stages import Stage  # stages reads and writes records through this module

    at = now()
    record = EpisodeRecord(
        slug=layout.slug,
        guid=str(uuid.uuid4()),
        title=title,
        state=EpisodeState.received,
        history=[Transition(state=EpisodeState.received, at=at, stage=Stage.claim, message="drop claimed")],
        created_at=at,
        **fields,  # type: ignore[arg-type]
    )
    write_model(layout.state_json, record)
    return record


def load_record(layout: EpisodeLayout) -> EpisodeRecord:
    try:
        return read_model(layout.state_json, EpisodeRecord)
    except FileNotFoundError as exc:
        raise EpisodeNotFound(f"no episode '{layout.slug}' ({layout.state_json} is missing)") from exc


def save_record(layout: EpisodeLayout, record: EpisodeRecord) -> None:
    write_model(layout.state_json, record)


def set_state(
    layout: EpisodeLayout, state: EpisodeState, *, stage: str, message: str = "", **updates: object
) -> EpisodeRecord:
    """Move the episode to `state`, appending to its history; `updates` set other record fields."""
    record = load_record(layout)
    data = record.model_dump()
    data.update(updates)
    data["state"] = state
    if state is not EpisodeState.failed:
        data["error"] = None
    if state not in (EpisodeState.approved, EpisodeState.published):
        data["approval"] = None  # sent back, failed, waiting again: a new approval is needed
    data["history"] = [
        *data["history"],
        Transition(state=state, at=now(), stage=stage, message=message).model_dump(),
    ]
    new = EpisodeRecord.model_validate(data)
    save_record(layout, new)
    log.info("%s: %s (%s) %s", layout.slug, state, stage, message)
    return new


def update_record(layout: EpisodeLayout, **updates: object) -> EpisodeRecord:
    """Change record fields without a state transition."""
    record = load_record(layout)
    new = record.model_copy(update=updates)
    new = EpisodeRecord.model_validate(new.model_dump())
    save_record(layout, new)
    return new


def add_warning(layout: EpisodeLayout, warning: str) -> EpisodeRecord:
    record = load_record(layout)
    if warning in record.warnings:
        return record
    return update_record(layout, warnings=[*record.warnings, warning])


def mark_failed(layout: EpisodeLayout, *, stage: str, message: str) -> EpisodeRecord:
    error = StageError(stage=stage, message=message, at=now())
    return set_state(layout, EpisodeState.failed, stage=stage, message=message, error=error)


def all_records(project: ProjectLayout) -> list[EpisodeRecord]:
    return [load_record(project.episode(slug)) for slug in project.episode_slugs()]
