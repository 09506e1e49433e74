"""One function per pipeline stage, each a no-op when its inputs and options are unchanged.

Each stage reads the episode's record, computes the key of its inputs (content hashes and
options), skips when the key matches what it last did and its outputs exist, otherwise does
the work and records the new key and state. Keys chain through content hashes, so a stage
whose inputs changed redoes itself and, through their keys, everything after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline import episodes
from pipeline.article import Article, read_article
from pipeline.config import EpisodeMeta, Settings, parse_episode_meta
from pipeline.errors import DiptychError
from pipeline.frontmatter import read_front_matter
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import EpisodeRecord, EpisodeState, Transcript
from pipeline.store import read_model, sha256_file, sha256_json, write_model

log = logging.getLogger(__name__)

Progress = Callable[[float, float | None], None]


@dataclass(frozen=True)
class StageOutcome:
    slug: str
    stage: str
    ran: bool
    message: str = ""


def episode_meta(layout: EpisodeLayout, record: EpisodeRecord) -> EpisodeMeta:
    if not record.source_article:
        return EpisodeMeta()
    path = layout.source_file(record.source_article)
    return parse_episode_meta(read_front_matter(path), source=path.name)


def load_article(layout: EpisodeLayout, record: EpisodeRecord) -> Article:
    if not record.source_article:
        return Article(title=None, front_matter={}, blocks=(), html="", language=None)
    return read_article(layout.source_file(record.source_article))


def _skip(record: EpisodeRecord, stage: str, key: str, *outputs: Path) -> bool:
    return record.stage_hashes.get(stage) == key and all(p.exists() for p in outputs)


def _hashes(record: EpisodeRecord, stage: str, key: str) -> dict[str, str]:
    return {**record.stage_hashes, stage: key}


def _advance_to(record: EpisodeRecord, state: EpisodeState) -> EpisodeState:
    """A redone stage sets its state, unless the episode is further on (approved, published)."""
    if record.state in (EpisodeState.approved, EpisodeState.published):
        return record.state
    return state


def id3_tags(project: ProjectLayout, settings: Settings, layout: EpisodeLayout, record: EpisodeRecord):  # noqa: ANN201
    from pipeline.audio import Id3Tags

    meta = episode_meta(layout, record)
    cover = layout.source_file(record.source_cover) if record.source_cover else None
    if cover is None and (meta.cover or settings.show.cover):
        candidate = project.root / (meta.cover or settings.show.cover or "")
        cover = candidate if candidate.is_file() else None
    return Id3Tags(
        title=meta.title or record.title,
        artist=meta.author or settings.show.author,
        album=settings.show.title,
        date=(meta.date or record.created_at.date()).isoformat(),
        track=meta.episode,
        comment=meta.description,
        language=meta.language or record.language or settings.show.language,
        cover=cover,
    )


def _tags_key(tags: object) -> str:
    cover = getattr(tags, "cover", None)
    return sha256_json({"tags": repr(tags), "cover": sha256_file(cover) if cover else None})


def normalize_key(settings: Settings, record: EpisodeRecord) -> str:
    return sha256_json({"audio": record.audio_sha256, "options": settings.audio.model_dump(mode="json")})


def run_normalize(project: ProjectLayout, settings: Settings, slug: str) -> StageOutcome:
    from pipeline.audio import normalize_audio, write_tags

    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    if not record.source_audio:
        raise DiptychError(f"{slug}: no recording in {layout.source_dir}: drop one in inbox/")
    tags = id3_tags(project, settings, layout, record)
    key = normalize_key(settings, record)
    tags_key = _tags_key(tags)
    if _skip(record, "normalize", key, layout.master_mp3, layout.speech_wav, layout.loudness_json):
        if record.stage_hashes.get("tags") != tags_key:
            write_tags(layout.master_mp3, tags)
            episodes.update_record(layout, stage_hashes=_hashes(record, "tags", tags_key))
            return StageOutcome(slug, "normalize", True, "tags rewritten")
        return StageOutcome(slug, "normalize", False, "up to date")
    report = normalize_audio(layout.source_file(record.source_audio), layout, settings=settings.audio, tags=tags)
    for warning in report.warnings:
        # A truncated recording, say: published as far as it goes, and the creator is told.
        episodes.add_warning(layout, warning)
    record = episodes.load_record(layout)
    message = (
        f"{report.input_lufs if report.input_lufs is not None else float('nan'):.1f} → "
        f"{report.output_lufs if report.output_lufs is not None else float('nan'):.1f} LUFS, "
        f"true peak {report.output_true_peak_dbtp if report.output_true_peak_dbtp is not None else float('nan'):.1f}"
        f" dBTP, {report.duration_s:.1f} s"
    )
    hashes = {**record.stage_hashes, "normalize": key, "tags": tags_key}
    episodes.set_state(
        layout, _advance_to(record, EpisodeState.normalized), stage="normalize", message=message,
        duration_s=round(report.duration_s, 3), stage_hashes=hashes,
    )
    return StageOutcome(slug, "normalize", True, message)


def _transcribe_options(settings: Settings) -> dict[str, object]:
    # Options that change the words; not where the model lives or how many threads run.
    opts = settings.transcribe.model_dump(mode="json")
    for key in ("max_concurrent", "threads", "models_dir"):
        opts.pop(key, None)
    return opts


def transcribe_key(settings: Settings, layout: EpisodeLayout, record: EpisodeRecord) -> str:
    language = episode_meta(layout, record).language or settings.transcribe.language
    return sha256_json({"audio": record.stage_hashes.get("normalize"), "language": language,
                        "options": _transcribe_options(settings)})


def run_transcribe(
    project: ProjectLayout, settings: Settings, slug: str, *, models_dir: Path, progress: Progress | None = None
) -> StageOutcome:
    from pipeline.transcribe import transcribe_audio

    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    key = transcribe_key(settings, layout, record)
    language = episode_meta(layout, record).language or settings.transcribe.language
    if _skip(record, "transcribe", key, layout.draft_json):
        return StageOutcome(slug, "transcribe", False, "up to date")
    article = None
    try:
        article = load_article(layout, record) if record.source_article else None
    except DiptychError as exc:
        log.warning("%s: transcribing without the article's vocabulary: %s", slug, exc)
    transcript = transcribe_audio(
        layout.speech_wav, settings=settings.transcribe, models_dir=models_dir,
        audio_sha256=sha256_file(layout.master_mp3), language=language, article=article, progress=progress,
    )
    write_model(layout.draft_json, transcript)
    _keep_review_in_sync(layout, sha256_file(layout.draft_json))
    flagged = sum(1 for s in transcript.segments if s.flags)
    message = f"{transcript.language}, {len(transcript.segments)} segments, {flagged} flagged"
    episodes.set_state(
        layout, _advance_to(record, EpisodeState.transcribed), stage="transcribe", message=message,
        language=transcript.language, stage_hashes=_hashes(record, "transcribe", key),
    )
    return StageOutcome(slug, "transcribe", True, message)


def _keep_review_in_sync(layout: EpisodeLayout, draft_sha: str) -> None:
    """A reviewer's edits are never overwritten: a review made on an earlier draft stays, with a warning."""
    if not layout.reviewed_json.exists():
        return
    reviewed = read_model(layout.reviewed_json, Transcript)
    if reviewed.based_on_sha256 != draft_sha:
        episodes.add_warning(
            layout, "the reviewed transcript was made on an earlier draft; it is kept and still used"
        )


def current_transcript(layout: EpisodeLayout) -> tuple[Path, str]:
    """The transcript later stages use: the reviewed one when there is one, else the draft."""
    if layout.reviewed_json.exists():
        return layout.reviewed_json, "reviewed"
    return layout.draft_json, "draft"


def pair_key(settings: Settings, layout: EpisodeLayout, record: EpisodeRecord) -> str:
    path, _ = current_transcript(layout)
    return sha256_json({"transcript": sha256_file(path) if path.exists() else None,
                        "article": record.article_sha256, "options": settings.pairing.model_dump(mode="json")})


def run_pair(project: ProjectLayout, settings: Settings, slug: str) -> StageOutcome:
    from pipeline.pairing import describe_coverage, pair_article

    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    path, source = current_transcript(layout)
    transcript_sha = sha256_file(path)
    key = pair_key(settings, layout, record)
    if _skip(record, "pair", key, layout.pairing_json):
        return StageOutcome(slug, "pair", False, "up to date")
    article = load_article(layout, record)
    pairing = pair_article(
        article, read_model(path, Transcript), settings=settings.pairing, transcript_source=source,
        transcript_sha256=transcript_sha, article_sha256=record.article_sha256 or "",
    )
    write_model(layout.pairing_json, pairing)
    for warning in pairing.warnings:
        episodes.add_warning(layout, warning)
    record = episodes.load_record(layout)
    message = describe_coverage(pairing)
    episodes.set_state(
        layout, _advance_to(record, EpisodeState.paired), stage="pair", message=message,
        stage_hashes=_hashes(record, "pair", key),
    )
    return StageOutcome(slug, "pair", True, message)


def run_review_gate(project: ProjectLayout, settings: Settings, slug: str, *, approve: bool) -> StageOutcome:
    """After pairing: wait for a person (awaiting_review), or approve at once when review is off."""
    from pipeline.review import approve_episode

    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    if record.state in (EpisodeState.approved, EpisodeState.published):
        return StageOutcome(slug, "review", False, str(record.state))
    if approve or not settings.review.required:
        if record.state is not EpisodeState.awaiting_review:
            episodes.set_state(layout, EpisodeState.awaiting_review, stage="review", message="review skipped")
        approve_episode(layout)
        return StageOutcome(slug, "review", True, "approved without review")
    if record.state in (EpisodeState.awaiting_review, EpisodeState.changes_requested):
        return StageOutcome(slug, "review", False, str(record.state))
    episodes.set_state(layout, EpisodeState.awaiting_review, stage="review", message="waiting for a reviewer")
    return StageOutcome(slug, "review", True, "awaiting review")


def _other_sources(layout: EpisodeLayout, record: EpisodeRecord) -> list[tuple[str, int, int]]:
    """The article's pictures and anything else in source/ beside the recording, article and cover:
    a picture added, replaced or removed is a page to publish again."""
    if not layout.source_dir.is_dir():
        return []
    known = {record.source_audio, record.source_article, record.source_cover}
    files = (p for p in layout.source_dir.rglob("*") if p.is_file())
    stamps = [(p.relative_to(layout.source_dir).as_posix(), p.stat()) for p in files]
    return sorted((name, st.st_size, st.st_mtime_ns) for name, st in stamps if name not in known)


def publish_key(project: ProjectLayout, settings: Settings, layout: EpisodeLayout, record: EpisodeRecord) -> str:
    path, _ = current_transcript(layout)
    key: dict[str, object] = {
        "audio": record.stage_hashes.get("normalize"), "tags": record.stage_hashes.get("tags"),
        "pair": record.stage_hashes.get("pair"), "transcript": sha256_file(path) if path.exists() else None,
        "article": record.article_sha256, "title": record.title, "show": settings.show.model_dump(mode="json"),
    }
    if others := _other_sources(layout, record):  # absent when there are none: earlier keys still hold
        key["pictures"] = others
    return sha256_json(key)


def run_publish(project: ProjectLayout, settings: Settings, slug: str, *, named: bool = False) -> StageOutcome:
    """Publish an approved episode (or refresh a published one whose inputs changed).
    An episode unpublished on purpose stays off the site unless it is `named` explicitly."""
    from pipeline.publish import is_unpublished, publish_site

    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    if record.state not in (EpisodeState.approved, EpisodeState.published):
        return StageOutcome(slug, "publish", False, f"not approved ({record.state})")
    if is_unpublished(record) and not named:
        return StageOutcome(slug, "publish", False, "unpublished: 'diptych publish SLUG' puts it back")
    key = publish_key(project, settings, layout, record)
    page = project.site_dir / slug / "index.html"
    if record.state is EpisodeState.published and _skip(record, "publish", key, page):
        return StageOutcome(slug, "publish", False, "up to date")
    result = publish_site(project, settings, slugs=[slug])
    for warning in result.warnings:
        log.warning("%s", warning)
    record = episodes.load_record(layout)
    episodes.set_state(
        layout, EpisodeState.published, stage="publish", message=str(page.relative_to(project.root)),
        stage_hashes=_hashes(record, "publish", key),
    )
    return StageOutcome(slug, "publish", True, str(page))


def cache_key(project: ProjectLayout, settings: Settings, slug: str, stage: str) -> str | None:
    """The key under which a stage's finished work can be reused, or None when it must run:
    its recorded key differs from its inputs' key, or its outputs are missing."""
    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    keys: dict[str, Callable[[], str]] = {
        "normalize": lambda: normalize_key(settings, record)
        + _tags_key(id3_tags(project, settings, layout, record)),
        "transcribe": lambda: transcribe_key(settings, layout, record),
        "pair": lambda: pair_key(settings, layout, record),
        "publish": lambda: publish_key(project, settings, layout, record),
    }
    outputs = {
        "normalize": [layout.master_mp3, layout.speech_wav, layout.loudness_json],
        "transcribe": [layout.draft_json],
        "pair": [layout.pairing_json],
        "publish": [project.site_dir / slug / "index.html"],
    }
    key = keys[stage]()
    recorded = record.stage_hashes.get(stage, "")
    if stage == "normalize":
        recorded += record.stage_hashes.get("tags", "")
    if recorded != key or not all(p.exists() for p in outputs[stage]):
        return None
    return f"{stage}-{slug}-{sha256_json(key)[:32]}"
