"""The stages as data: one `Stage` name and one `StageSpec` each (what its input key is made of,
which files it writes, the function that runs it), and the run functions themselves.

Each stage reads the episode's record, computes the key of its inputs (content hashes and
options), skips when the key matches what it last did and its outputs exist (`up_to_date`, the one
skip-if-unchanged check), otherwise does the work and records the new key and state. Keys chain
through content hashes, so a stage whose inputs changed redoes itself and, through their keys,
everything after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import episodes
from pipeline.article import Article, read_article, read_front_matter
from pipeline.config import EpisodeMeta, Settings, parse_episode_meta
from pipeline.errors import DiptychError
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import Approver, EpisodeRecord, EpisodeState, Pairing, Transcript
from pipeline.store import read_model, sha256_file, sha256_json, write_model

if TYPE_CHECKING:
    from pipeline.audio import Id3Tags

log = logging.getLogger(__name__)

Progress = Callable[[float, float | None], None]


class Stage(StrEnum):
    """The steps an episode's history records, in order; the name is also its key's name."""

    claim = "claim"
    normalize = "normalize"
    transcribe = "transcribe"
    pair = "pair"
    review = "review"
    publish = "publish"
    unpublish = "unpublish"


# The ID3 tags' key, kept beside the normalize key: new tags are written without re-encoding.
TAGS_KEY = "tags"
# The article's corrections, then pairing again, at most this many times (see _correct_draft).
CORRECTION_ROUNDS = 2


@dataclass(frozen=True)
class StageOutcome:
    slug: str
    stage: Stage
    ran: bool
    message: str = ""


@dataclass(frozen=True)
class Inputs:
    """What a stage's key and outputs are computed from."""

    project: ProjectLayout
    settings: Settings
    layout: EpisodeLayout
    record: EpisodeRecord


@dataclass(frozen=True)
class StageSpec:
    stage: Stage
    keys: Callable[[Inputs], dict[str, str]]  # the record's stage_hashes entries its inputs give
    outputs: Callable[[Inputs], tuple[Path, ...]]  # the files it writes
    run: Callable[..., StageOutcome]  # run(project, settings, slug, **options)


def inputs_of(project: ProjectLayout, settings: Settings, slug: str) -> Inputs:
    layout = project.existing_episode(slug)
    return Inputs(project, settings, layout, episodes.load_record(layout))


def up_to_date(stage: Stage, inputs: Inputs, keys: dict[str, str] | None = None) -> bool:
    """The one skip-if-unchanged check: every key as recorded, and every output present."""
    keys = SPECS[stage].keys(inputs) if keys is None else keys
    recorded = inputs.record.stage_hashes
    return all(recorded.get(name) == key for name, key in keys.items()) and all(
        p.exists() for p in SPECS[stage].outputs(inputs)
    )


def episode_meta(layout: EpisodeLayout, record: EpisodeRecord) -> EpisodeMeta:
    if not record.source_article:
        return EpisodeMeta()
    path = layout.source_file(record.source_article)
    return parse_episode_meta(read_front_matter(path), source=path.name)


def load_article(layout: EpisodeLayout, record: EpisodeRecord) -> Article:
    if not record.source_article:
        return Article(title=None, front_matter={}, blocks=(), html="", language=None)
    return read_article(layout.source_file(record.source_article))


def _hashes(record: EpisodeRecord, stage: str, key: str) -> dict[str, str]:
    return {**record.stage_hashes, stage: key}


def _advance_to(record: EpisodeRecord, state: EpisodeState) -> EpisodeState:
    """A redone stage sets its state, unless the episode is further on (approved, published)."""
    if record.state in (EpisodeState.approved, EpisodeState.published):
        return record.state
    return state


def id3_tags(project: ProjectLayout, settings: Settings, layout: EpisodeLayout, record: EpisodeRecord) -> Id3Tags:
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


def run_normalize(
    project: ProjectLayout, settings: Settings, slug: str, *, speech_ready: Callable[[], None] | None = None
) -> StageOutcome:
    """Normalize the recording; `speech_ready()` is called once the speech WAV is written, while
    the MP3 is still encoded (transcription may start then: run_transcribe's `normalized`)."""
    from pipeline.audio import normalize_audio, write_tags

    inputs = inputs_of(project, settings, slug)
    layout, record = inputs.layout, inputs.record
    if not record.source_audio:
        raise DiptychError(f"{slug}: no recording in {layout.source_dir}: drop one in inbox/")
    tags = id3_tags(project, settings, layout, record)
    key = normalize_key(settings, record)
    tags_key = _tags_key(tags)
    if up_to_date(Stage.normalize, inputs, {Stage.normalize: key}):
        if record.stage_hashes.get(TAGS_KEY) != tags_key:
            write_tags(layout.master_mp3, tags)
            episodes.update_record(layout, stage_hashes=_hashes(record, TAGS_KEY, tags_key))
            return StageOutcome(slug, Stage.normalize, True, "tags rewritten")
        return StageOutcome(slug, Stage.normalize, False, "up to date")
    report = normalize_audio(
        layout.source_file(record.source_audio), layout, settings=settings.audio, tags=tags, speech_ready=speech_ready
    )
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
    hashes = {**record.stage_hashes, Stage.normalize: key, TAGS_KEY: tags_key}
    episodes.set_state(
        layout, _advance_to(record, EpisodeState.normalized), stage=Stage.normalize, message=message,
        duration_s=round(report.duration_s, 3), stage_hashes=hashes,
    )
    return StageOutcome(slug, Stage.normalize, True, message)


def _transcribe_options(settings: Settings) -> dict[str, object]:
    # Options that change the words; not where the model lives or how many threads run.
    opts = settings.transcribe.model_dump(mode="json")
    # (correct_from_article is the pair stage's: it changes no word Whisper writes.)
    for key in ("max_concurrent", "threads", "models_dir", "correct_from_article"):
        opts.pop(key, None)
    return opts


def transcribe_key(settings: Settings, layout: EpisodeLayout, record: EpisodeRecord) -> str:
    # The normalize key the audio is (or is being) normalized under, not the one recorded: the
    # transcription may start while the MP3 is still encoded. Both are equal once it is recorded.
    language = episode_meta(layout, record).language or settings.transcribe.language
    return sha256_json({"audio": normalize_key(settings, record), "language": language,
                        "options": _transcribe_options(settings)})


def run_transcribe(
    project: ProjectLayout,
    settings: Settings,
    slug: str,
    *,
    models_dir: Path,
    progress: Progress | None = None,
    normalized: Callable[[], None] | None = None,
) -> StageOutcome:
    """Transcribe the speech WAV. Started while the normalize stage still encodes the MP3, it is
    given `normalized()`, which returns once that stage has finished: nothing is recorded before."""
    from pipeline.transcribe import transcribe_audio

    inputs = inputs_of(project, settings, slug)
    layout, record = inputs.layout, inputs.record
    key = transcribe_key(settings, layout, record)
    language = episode_meta(layout, record).language or settings.transcribe.language
    if up_to_date(Stage.transcribe, inputs, {Stage.transcribe: key}):
        return StageOutcome(slug, Stage.transcribe, False, "up to date")
    article = None
    try:
        article = load_article(layout, record) if record.source_article else None
    except DiptychError as exc:
        log.warning("%s: transcribing without the article's vocabulary: %s", slug, exc)
    transcript = transcribe_audio(
        layout.speech_wav, settings=settings.transcribe, models_dir=models_dir,
        audio_sha256="", language=language, article=article, progress=progress,
    )
    if normalized is not None:
        normalized()
        record = episodes.load_record(layout)  # as the normalize stage left it
        if record.stage_hashes.get(Stage.normalize) != normalize_key(settings, record):
            # The normalize stage failed after the speech WAV was written: its error is the one to see.
            return StageOutcome(slug, Stage.transcribe, False, "not kept: the recording was not normalized")
    transcript = transcript.model_copy(update={"audio_sha256": sha256_file(layout.master_mp3)})
    write_model(layout.draft_json, transcript)
    _keep_review_in_sync(layout, sha256_file(layout.draft_json))
    flagged = sum(1 for s in transcript.segments if s.flags)
    message = f"{transcript.language}, {len(transcript.segments)} segments, {flagged} flagged"
    episodes.set_state(
        layout, _advance_to(record, EpisodeState.transcribed), stage=Stage.transcribe, message=message,
        language=transcript.language, stage_hashes=_hashes(record, Stage.transcribe, key),
    )
    return StageOutcome(slug, Stage.transcribe, True, message)


def _keep_review_in_sync(layout: EpisodeLayout, draft_sha: str) -> None:
    """A reviewer's edits are never overwritten: a review made on an earlier draft stays, with a warning."""
    if not layout.reviewed_json.exists():
        return
    reviewed = read_model(layout.reviewed_json, Transcript)
    if reviewed.based_on_sha256 != draft_sha:
        episodes.add_warning(
            layout, "the reviewed transcript was made on an earlier draft; it is kept and still used"
        )


def pair_key(settings: Settings, layout: EpisodeLayout, record: EpisodeRecord) -> str:
    path = layout.current_transcript()
    return sha256_json({"transcript": sha256_file(path) if path.exists() else None,
                        "article": record.article_sha256, "options": settings.pairing.model_dump(mode="json")})


def run_pair(project: ProjectLayout, settings: Settings, slug: str) -> StageOutcome:
    from pipeline.pairing import describe_coverage, pair_article

    inputs = inputs_of(project, settings, slug)
    layout, record = inputs.layout, inputs.record
    path = layout.current_transcript()
    source = path.stem  # "reviewed" or "draft"
    transcript_sha = sha256_file(path)
    key = pair_key(settings, layout, record)
    if up_to_date(Stage.pair, inputs, {Stage.pair: key}):
        return StageOutcome(slug, Stage.pair, False, "up to date")
    article = load_article(layout, record)
    transcript = read_model(path, Transcript)
    pairing = pair_article(
        article, transcript, settings=settings.pairing, transcript_source=source,
        transcript_sha256=transcript_sha, article_sha256=record.article_sha256 or "",
    )
    if source == "draft" and settings.transcribe.correct_from_article:
        pairing = _correct_draft(settings, layout, article, transcript, pairing)
        key = pair_key(settings, layout, record)  # the draft may have changed
    write_model(layout.pairing_json, pairing)
    for warning in pairing.warnings:
        episodes.add_warning(layout, warning)
    record = episodes.load_record(layout)
    message = describe_coverage(pairing)
    episodes.set_state(
        layout, _advance_to(record, EpisodeState.paired), stage=Stage.pair, message=message,
        stage_hashes=_hashes(record, Stage.pair, key),
    )
    return StageOutcome(slug, Stage.pair, True, message)


def _correct_draft(
    settings: Settings, layout: EpisodeLayout, article: Article, transcript: Transcript, pairing: Pairing
) -> Pairing:
    """Where the article is read aloud, the draft takes its words for what Whisper misheard (the
    speech model decides), and the episode is paired again on the corrected draft. Only the draft:
    a reviewed transcript is the reviewer's.

    A corrected draft can show more of the article read (a sentence Whisper garbled is found once
    its neighbours read as written): up to CORRECTION_ROUNDS rounds, each scoring only what the
    rounds before did not."""
    from pipeline.pairing import pair_article
    from pipeline.transcribe import DifferenceKey, SpeechAudio, correct_with_article, default_models_dir

    models_dir = settings.transcribe.models_dir or default_models_dir()
    decided: set[DifferenceKey] = set()
    speech = SpeechAudio(layout.speech_wav)
    replaced = 0
    for _ in range(CORRECTION_ROUNDS):
        try:
            correction = correct_with_article(
                transcript, pairing, speech, settings=settings.transcribe, models_dir=models_dir,
                decided=decided,
            )
        except DiptychError as exc:
            episodes.add_warning(layout, f"the transcript was not corrected from the article: {exc}")
            break
        if not correction.replaced:
            break
        replaced += correction.replaced
        transcript = correction.transcript
        write_model(layout.draft_json, transcript)
        pairing = pair_article(
            article, transcript, settings=settings.pairing, transcript_source="draft",
            transcript_sha256=sha256_file(layout.draft_json), article_sha256=pairing.article_sha256,
        )
    if replaced:
        log.info("%s: %d misheard passages taken from the article", layout.slug, replaced)
    return pairing


def run_review_gate(project: ProjectLayout, settings: Settings, slug: str) -> StageOutcome:
    """After pairing: wait for a person (awaiting_review), or approve at once when the creator's
    diptych.toml says no review is needed. No argument approves: a person does, elsewhere."""
    from pipeline.review import approve_episode

    layout = project.existing_episode(slug)
    record = episodes.load_record(layout)
    if record.state in (EpisodeState.approved, EpisodeState.published):
        return StageOutcome(slug, Stage.review, False, str(record.state))
    if not settings.review.required:
        if record.state is not EpisodeState.awaiting_review:
            episodes.set_state(layout, EpisodeState.awaiting_review, stage=Stage.review, message="review skipped")
        approve_episode(layout, by=Approver.settings)
        return StageOutcome(slug, Stage.review, True, "approved without review ([review] required = false)")
    if record.state in (EpisodeState.awaiting_review, EpisodeState.changes_requested):
        return StageOutcome(slug, Stage.review, False, str(record.state))
    episodes.set_state(layout, EpisodeState.awaiting_review, stage=Stage.review, message="waiting for a reviewer")
    return StageOutcome(slug, Stage.review, True, "awaiting review")


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
    from pipeline.publish import code_sha256

    path = layout.current_transcript()
    key: dict[str, object] = {
        "site": code_sha256(),
        "audio": record.stage_hashes.get(Stage.normalize), "tags": record.stage_hashes.get(TAGS_KEY),
        "pair": record.stage_hashes.get(Stage.pair), "transcript": sha256_file(path) if path.exists() else None,
        "article": record.article_sha256, "title": record.title, "show": settings.show.model_dump(mode="json"),
    }
    if others := _other_sources(layout, record):  # absent when there are none: earlier keys still hold
        key["pictures"] = others
    return sha256_json(key)


def unapproved(record: EpisodeRecord) -> str | None:
    """Why the episode may not be published, or None: it needs a person's recorded approval
    (a published one had it; one published before approvals were recorded keeps its place)."""
    slug = record.slug
    how = f"approve it on the review page or with 'diptych approve {slug}'"
    if record.state is EpisodeState.published:
        return None
    if record.state is not EpisodeState.approved:
        return f"{slug} not published: it is {record.state}, not approved: {how}"
    if record.approval is None:
        return f"{slug} not published: its approval is not recorded in {slug}/state.json: {how}"
    return None


def run_publish(project: ProjectLayout, settings: Settings, slug: str, *, named: bool = False) -> StageOutcome:
    """Publish an approved episode (or refresh a published one whose inputs changed).
    An episode unpublished on purpose stays off the site unless it is `named` explicitly."""
    from pipeline.publish import is_unpublished, publish_site

    inputs = inputs_of(project, settings, slug)
    layout, record = inputs.layout, inputs.record
    if why := unapproved(record):
        return StageOutcome(slug, Stage.publish, False, why)
    if is_unpublished(record) and not named:
        return StageOutcome(slug, Stage.publish, False, "unpublished: 'diptych publish SLUG' puts it back")
    key = publish_key(project, settings, layout, record)
    page = project.site_dir / slug / "index.html"
    if record.state is EpisodeState.published and up_to_date(Stage.publish, inputs, {Stage.publish: key}):
        return StageOutcome(slug, Stage.publish, False, "up to date")
    result = publish_site(project, settings, slugs=[slug])
    for warning in result.warnings:
        log.warning("%s", warning)
    record = episodes.load_record(layout)
    episodes.set_state(
        layout, EpisodeState.published, stage=Stage.publish, message=str(page.relative_to(project.root)),
        stage_hashes=_hashes(record, Stage.publish, key),
    )
    return StageOutcome(slug, Stage.publish, True, str(page))


def _normalize_keys(i: Inputs) -> dict[str, str]:
    tags = id3_tags(i.project, i.settings, i.layout, i.record)
    return {Stage.normalize: normalize_key(i.settings, i.record), TAGS_KEY: _tags_key(tags)}


SPECS: dict[Stage, StageSpec] = {
    spec.stage: spec
    for spec in (
        StageSpec(
            Stage.normalize, keys=_normalize_keys, run=run_normalize,
            outputs=lambda i: (i.layout.master_mp3, i.layout.speech_wav, i.layout.loudness_json),
        ),
        StageSpec(
            Stage.transcribe, keys=lambda i: {Stage.transcribe: transcribe_key(i.settings, i.layout, i.record)},
            outputs=lambda i: (i.layout.draft_json,), run=run_transcribe,
        ),
        StageSpec(
            Stage.pair, keys=lambda i: {Stage.pair: pair_key(i.settings, i.layout, i.record)},
            outputs=lambda i: (i.layout.pairing_json,), run=run_pair,
        ),
        StageSpec(Stage.review, keys=lambda i: {}, outputs=lambda i: (), run=run_review_gate),
        StageSpec(
            Stage.publish, keys=lambda i: {Stage.publish: publish_key(i.project, i.settings, i.layout, i.record)},
            outputs=lambda i: (i.project.site_dir / i.layout.slug / "index.html",), run=run_publish,
        ),
    )
}


def cache_key(project: ProjectLayout, settings: Settings, slug: str, stage: Stage) -> str | None:
    """The key under which a stage's finished work can be reused, or None when it must run:
    its recorded keys differ from its inputs' keys, or its outputs are missing."""
    inputs = inputs_of(project, settings, slug)
    keys = SPECS[stage].keys(inputs)
    if not keys or not up_to_date(stage, inputs, keys):
        return None
    return f"{stage}-{slug}-{sha256_json(keys)[:32]}"
