"""An episode's workspace as publishing reads it: the record, the article and its front matter,
the transcript, the master MP3 and the cover, all read and checked before anything is written.

Every problem is a PublishError naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path

from mutagen import MutagenError
from mutagen.mp3 import MP3

from pipeline.article import Article, ArticleImages, episode_images, read_article
from pipeline.config import EpisodeMeta, Person, Settings, parse_episode_meta
from pipeline.episodes import load_record, now
from pipeline.errors import ArticleError, DiptychError, PublishError
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import EpisodeRecord, Pairing, Transcript
from pipeline.publish.feed import truncate_utf8
from pipeline.store import read_model_or_none


@dataclass(frozen=True)
class EpisodeSource:
    """Everything publishing reads from one workspace, read and checked before anything is written."""

    layout: EpisodeLayout
    record: EpisodeRecord
    meta: EpisodeMeta
    article: Article | None
    pairing: Pairing | None
    transcript: Transcript
    audio: Path
    duration_s: float
    language: str
    published_at: datetime
    description: str
    speaker: str | None
    cover: Path | None
    guests: tuple[Person, ...] = ()
    images: ArticleImages = ArticleImages()

    @property
    def slug(self) -> str:
        return self.record.slug


def _read_article(layout: EpisodeLayout, record: EpisodeRecord) -> Article | None:
    if not record.source_article:
        return None
    path = layout.source_file(record.source_article)
    if not path.exists():
        raise PublishError(f"cannot publish '{record.slug}': {path} is missing; put the article back")
    try:
        return read_article(path)
    except ArticleError as exc:
        raise PublishError(f"cannot publish '{record.slug}': {exc}") from exc


def _audio_duration(path: Path, slug: str) -> float:
    if not path.is_file():
        raise PublishError(f"cannot publish '{slug}': {path} is missing; re-run 'diptych run' to rebuild it")
    try:
        info = MP3(path).info
    except (MutagenError, OSError) as exc:
        raise PublishError(
            f"cannot publish '{slug}': {path} is not a readable MP3 ({exc}); re-run the audio stage"
        ) from exc
    if info is None or not info.length:
        raise PublishError(f"cannot publish '{slug}': {path} holds no audio; re-run the audio stage")
    return float(info.length)


def _read_transcript(layout: EpisodeLayout) -> Transcript:
    transcript = read_model_or_none(layout.current_transcript(), Transcript)
    if transcript is not None:
        return transcript
    raise PublishError(
        f"cannot publish '{layout.slug}': no transcript in {layout.transcript_dir}; transcribe it"
    )


def _first_publication(meta: EpisodeMeta) -> datetime:
    """An article dated in the past keeps its date (a back catalogue); otherwise now."""
    moment = now()
    if meta.date is not None and meta.date < moment.date():
        return datetime.combine(meta.date, time(0, 0), tzinfo=UTC)
    return moment


def _summary(meta: EpisodeMeta, article: Article | None, transcript: Transcript) -> str:
    if meta.description:
        return meta.description.strip()
    if article is not None:
        paragraphs = [b.text for b in article.blocks if b.kind == "paragraph" and b.text.strip()]
        if paragraphs:
            return truncate_utf8(" ".join(paragraphs[:3]), limit=1000)
    return truncate_utf8(transcript.text, limit=1000)


def _episode_cover(
    project: ProjectLayout, layout: EpisodeLayout, meta: EpisodeMeta, record: EpisodeRecord
) -> Path | None:
    """The drop's cover, or the front matter's `cover` (beside the article, else in the project)."""
    name = meta.cover or record.source_cover
    if not name:
        return None
    for path in (layout.source_file(name), project.root / name):
        if path.is_file():
            return path
    raise PublishError(
        f"cannot publish '{record.slug}': cover '{name}' is in neither {layout.source_dir} "
        f"nor {project.root}; fix the front matter's 'cover' or add the image"
    )


def load_source(project: ProjectLayout, slug: str, settings: Settings) -> EpisodeSource:
    """Read and check one episode's workspace; raise PublishError naming what is wrong."""
    layout = project.episode(slug)
    record = load_record(layout)
    article = _read_article(layout, record)
    try:
        meta = parse_episode_meta(article.front_matter if article else {}, source=record.source_article or "")
    except DiptychError as exc:
        raise PublishError(f"cannot publish '{record.slug}': {exc}") from exc
    transcript = _read_transcript(layout)
    language = meta.language or record.language or transcript.language or settings.show.language
    images = episode_images(layout, article, record.source_article)
    return EpisodeSource(
        layout=layout,
        record=record,
        meta=meta,
        article=article,
        pairing=read_model_or_none(layout.pairing_json, Pairing),
        transcript=transcript,
        audio=layout.master_mp3,
        duration_s=_audio_duration(layout.master_mp3, record.slug),
        language=language,
        published_at=record.published_at or _first_publication(meta),
        description=_summary(meta, article, transcript),
        speaker=meta.speaker or settings.show.speaker or meta.author or settings.show.author,
        guests=tuple(meta.speakers),
        cover=_episode_cover(project, layout, meta, record),
        images=images,
    )


def show_cover(project: ProjectLayout, settings: Settings) -> Path | None:
    if not settings.show.cover:
        return None
    path = project.root / settings.show.cover
    if not path.is_file():
        raise PublishError(
            f"show.cover = '{settings.show.cover}' not found in {project.root}: fix diptych.toml"
        )
    return path
