"""One row per episode, read from disk only: what `diptych status`, the review list and the
review summary in Prefect show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from pipeline import episodes
from pipeline.config import ReviewSettings
from pipeline.errors import DiptychError
from pipeline.inbox import inbox_notes
from pipeline.layout import ProjectLayout
from pipeline.models import Batch, EpisodeRecord, EpisodeState, Pairing, Transcript, format_clock
from pipeline.store import read_model_or_none

LOW_CONFIDENCE = ReviewSettings().low_confidence


@dataclass(frozen=True)
class EpisodeRow:
    slug: str
    title: str
    state: str
    day: date | None  # the episode's date, else the day it was claimed; None for a drop in the inbox
    duration_s: float | None
    language: str | None
    last_change: str
    error: str  # the failure's reason ("" when none)
    error_stage: str
    flagged: int  # segments the speech model flagged
    to_check: int | None  # what a reviewer has left to check; None: no transcript yet
    shares: tuple[float, float] | None  # (article told, episode covered), 0-1
    warnings: tuple[str, ...]
    note: str
    changes_not_live: int = 0  # published, then edited in review: 'diptych publish SLUG' applies them

    @property
    def duration(self) -> str:
        return "—" if self.duration_s is None else format_clock(round(self.duration_s))

    @property
    def coverage(self) -> str:
        if self.shares is None:
            return "—"
        return f"article {self.shares[0]:.0%} told · episode {self.shares[1]:.0%} covered"

    @property
    def failure(self) -> str:
        return f"{self.error_stage}: {self.error}" if self.error else ""

    def as_json(self) -> dict[str, object]:
        return {
            "slug": self.slug, "title": self.title, "state": self.state, "duration": self.duration,
            "duration_s": self.duration_s, "language": self.language or "—", "last_change": self.last_change,
            "error": self.failure, "flagged": self.flagged, "coverage": self.coverage,
            "warnings": list(self.warnings), "note": self.note, "changes_not_live": self.changes_not_live,
        }


def changes_not_live(record: EpisodeRecord, transcript: Transcript | None) -> int:
    """Reviewer edits saved since the episode was last published (0 when it is not published)."""
    if record.state is not EpisodeState.published or transcript is None:
        return 0
    return max(0, len(transcript.edits) - (record.live_edits or 0))


def not_live_text(count: int) -> str:
    return f"{count} change{'s' if count != 1 else ''} not live"


def episode_day(record: EpisodeRecord, front_matter: dict[str, object]) -> date:
    """The episode's date: the article's `date`, else its first publication, else its claim."""
    value = front_matter.get("date")
    if isinstance(value, date):
        return value
    fallback = (record.published_at or record.created_at).date()
    try:
        return date.fromisoformat(str(value)) if value else fallback
    except ValueError:
        return fallback


def build_row(
    record: EpisodeRecord,
    transcript: Transcript | None,
    pairing: Pairing | None,
    *,
    low_confidence: float,
    day: date | None = None,
) -> EpisodeRow:
    """An episode's row from its record and what has been read of its transcript and pairing;
    `day` the episode's own date when known (see `episode_day`)."""
    from pipeline.review import todo_count

    last = record.history[-1] if record.history else None
    return EpisodeRow(
        slug=record.slug,
        title=record.title,
        state=str(record.state),
        day=day or record.created_at.date(),
        duration_s=record.duration_s if record.duration_s is not None else (
            transcript.duration_s if transcript else None
        ),
        language=record.language or (transcript.language if transcript else None),
        last_change=f"{last.at:%Y-%m-%d %H:%M} {last.stage}" if last else "",
        error=record.error.message if record.error else "",
        error_stage=record.error.stage if record.error else "",
        flagged=sum(1 for s in transcript.segments if s.flags) if transcript else 0,
        to_check=todo_count(transcript, low_confidence) if transcript else None,
        shares=(pairing.coverage.article_told, pairing.coverage.episode_covered) if pairing else None,
        warnings=tuple(record.warnings),
        note=record.review_note or "",
        changes_not_live=changes_not_live(record, transcript),
    )


def episode_row(project: ProjectLayout, slug: str, *, low_confidence: float = LOW_CONFIDENCE) -> EpisodeRow:
    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    transcript = pairing = None
    try:
        transcript = read_model_or_none(layout.current_transcript(), Transcript)
        pairing = read_model_or_none(layout.pairing_json, Pairing)
    except DiptychError:
        pass
    return build_row(record, transcript, pairing, low_confidence=low_confidence)


def status_rows(project: ProjectLayout, *, low_confidence: float = LOW_CONFIDENCE) -> list[EpisodeRow]:
    rows = [episode_row(project, slug, low_confidence=low_confidence) for slug in project.episode_slugs()]
    for note in inbox_notes(project):
        # Drops the next run leaves in the inbox: waiting for their recording or for `replace: true`,
        # or refused; the reason is the same line `diptych run` prints.
        waiting = note.state != "cannot be claimed"
        rows.append(EpisodeRow(
            slug=note.name, title=f"inbox/{note.name}", state=note.state, day=None, duration_s=None,
            language=None, last_change="", error="" if waiting else note.reason, error_stage="claim", flagged=0,
            to_check=None, shares=None, warnings=(note.reason,) if waiting else (), note="",
        ))
    return rows


class BatchState(StrEnum):
    done = "done"  # waiting for review, approved or published
    running = "running"  # claimed and part-way through the stages
    waiting = "waiting"  # in the inbox or just claimed
    failed = "failed"


DONE_STATES = {EpisodeState.awaiting_review, EpisodeState.changes_requested, EpisodeState.approved,
               EpisodeState.published}
WAITING_STATES = {EpisodeState.received}


@dataclass(frozen=True)
class BatchProgress:
    batch_id: str
    counts: dict[str, int]  # BatchState → episodes
    total: int
    eta_s: float | None  # None until one episode is done

    def describe(self) -> str:
        parts = ", ".join(f"{self.counts[s]} {s}" for s in BatchState)
        eta = f"; about {format_clock(self.eta_s)} left" if self.eta_s is not None else ""
        return f"batch {self.batch_id}: {self.counts[BatchState.done]} of {self.total} done ({parts}){eta}"


def _batch_state(project: ProjectLayout, slug: str) -> BatchState:
    layout = project.episode(slug)
    if not layout.state_json.exists():
        return BatchState.waiting
    state = episodes.load_record(layout).state
    if state in DONE_STATES:
        return BatchState.done
    if state is EpisodeState.failed:
        return BatchState.failed
    return BatchState.waiting if state in WAITING_STATES else BatchState.running


def batch_progress(project: ProjectLayout, *, now: datetime | None = None) -> BatchProgress | None:
    """The latest import's progress; the time left from the audio done so far since it began."""
    batches = sorted(project.batches_dir.glob("*.json")) if project.batches_dir.is_dir() else []
    batch = read_model_or_none(batches[-1], Batch) if batches else None
    if batch is None:
        return None
    states = {e.slug: _batch_state(project, e.slug) for e in batch.episodes}
    counts = {s: sum(1 for v in states.values() if v is s) for s in BatchState}
    done_s = sum(e.audio_s or 0.0 for e in batch.episodes if states[e.slug] is BatchState.done)
    left_s = sum(e.audio_s or 0.0 for e in batch.episodes if states[e.slug] in (BatchState.running,
                                                                                 BatchState.waiting))
    elapsed_s = ((now or datetime.now(UTC)) - batch.created_at).total_seconds()
    eta_s = left_s * elapsed_s / done_s if done_s > 0 and elapsed_s > 0 else None
    return BatchProgress(batch_id=batch.id, counts={str(k): v for k, v in counts.items()},
                         total=len(batch.episodes), eta_s=eta_s)
