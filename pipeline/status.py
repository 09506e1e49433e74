"""What `diptych status` and the review list show: one row per episode, read from disk only."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pipeline import episodes
from pipeline.errors import DiptychError
from pipeline.inbox import pending_drops
from pipeline.layout import ProjectLayout
from pipeline.models import Pairing, Transcript
from pipeline.store import read_model_or_none


@dataclass(frozen=True)
class EpisodeRow:
    slug: str
    title: str
    state: str
    duration: str
    duration_s: float | None
    language: str
    last_change: str
    error: str
    flagged: int
    coverage: str
    warnings: tuple[str, ...]
    note: str

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def episode_row(project: ProjectLayout, slug: str) -> EpisodeRow:
    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    flagged = 0
    coverage = "—"
    try:
        transcript = read_model_or_none(layout.reviewed_json, Transcript) or read_model_or_none(
            layout.draft_json, Transcript
        )
        flagged = sum(1 for s in transcript.segments if s.flags) if transcript else 0
        pairing = read_model_or_none(layout.pairing_json, Pairing)
        if pairing:
            coverage = (
                f"article {pairing.coverage.article_told:.0%} told · "
                f"episode {pairing.coverage.episode_covered:.0%} covered"
            )
    except DiptychError:
        pass
    last = record.history[-1] if record.history else None
    return EpisodeRow(
        slug=slug,
        title=record.title,
        state=str(record.state),
        duration=format_duration(record.duration_s),
        duration_s=record.duration_s,
        language=record.language or "—",
        last_change=f"{last.at:%Y-%m-%d %H:%M} {last.stage}" if last else "",
        error=f"{record.error.stage}: {record.error.message}" if record.error else "",
        flagged=flagged,
        coverage=coverage,
        warnings=tuple(record.warnings),
        note=record.review_note or "",
    )


def status_rows(project: ProjectLayout) -> list[EpisodeRow]:
    rows = [episode_row(project, slug) for slug in project.episode_slugs()]
    for drop in pending_drops(project):
        name = drop.article.name if drop.article else drop.name
        rows.append(EpisodeRow(
            slug=drop.name, title=name, state="incomplete", duration="—", duration_s=None, language="—",
            last_change="", error="", flagged=0, coverage="—",
            warnings=(f"inbox/{name} is waiting for its recording",), note="",
        ))
    return rows
