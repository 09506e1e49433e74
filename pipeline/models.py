"""Persisted data: strict pydantic models, each with a schema_version.

These are the contracts between stages (see DESIGN.md). Times are seconds of the
published MP3 unless a name says otherwise.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


def format_clock(seconds: float) -> str:
    """A time as people read it on a player: 0:42, 12:03, 1:02:03 (whole seconds, rounded down)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EpisodeState(StrEnum):
    received = "received"
    normalized = "normalized"
    transcribed = "transcribed"
    paired = "paired"
    awaiting_review = "awaiting_review"
    changes_requested = "changes_requested"
    approved = "approved"
    published = "published"
    failed = "failed"


class Approver(StrEnum):
    """Who approved an episode for publishing: a person, or the creator's settings."""

    review_page = "review_page"  # the reviewer, on the review page (with its token)
    terminal = "terminal"  # 'diptych approve SLUG' or 'diptych run --approve', typed in a terminal
    settings = "settings"  # [review] required = false in diptych.toml: the creator chose no review


class Approval(Strict):
    """The reviewer's act, recorded before anything is published; publishing checks it."""

    by: Approver
    at: datetime
    left_to_check: int = 0  # items the reviewer approved without checking them


class Transition(Strict):
    state: EpisodeState
    at: datetime
    stage: str
    message: str = ""


class StageError(Strict):
    stage: str
    message: str
    at: datetime


class EpisodeRecord(Strict):
    """state.json: who the episode is, where it stands, and how it got there."""

    schema_version: int = 1
    slug: str
    # Assigned once when the drop is claimed; the feed's <guid>. Never derived from editable data.
    guid: str
    title: str
    state: EpisodeState
    history: list[Transition] = Field(default_factory=list)
    error: StageError | None = None
    source_audio: str | None = None
    source_article: str | None = None
    source_cover: str | None = None
    audio_sha256: str | None = None
    article_sha256: str | None = None
    duration_s: float | None = None
    language: str | None = None
    warnings: list[str] = Field(default_factory=list)
    review_note: str | None = None
    # Set by an approval only (pipeline.review.approve_episode); cleared when the episode leaves
    # approved/published. An episode "approved" without it is never published.
    approval: Approval | None = None
    # Input hashes of each finished stage, so that a re-run with the same inputs is a no-op.
    stage_hashes: dict[str, str] = Field(default_factory=dict)
    published_at: datetime | None = None
    created_at: datetime
    # How many reviewer edits (reviewed.json's `edits`) the site carried when it was last built for
    # this episode: later edits are not live until it is published again.
    live_edits: int | None = None


class LoudnessReport(Strict):
    """audio/loudness.json: measured before and after normalization (ITU-R BS.1770-4)."""

    schema_version: int = 1
    target_lufs: float
    ceiling_dbtp: float
    input_lufs: float | None
    input_lra_lu: float | None
    input_true_peak_dbtp: float | None
    output_lufs: float | None
    output_lra_lu: float | None
    output_true_peak_dbtp: float | None
    input_duration_s: float
    duration_s: float
    trimmed_start_s: float
    trimmed_end_s: float
    # published time = original time - offset_s
    offset_s: float
    input_sample_rate_hz: int
    input_channels: int
    output_channels: int
    bitrate_kbps: int
    gain_db: float
    limited: bool
    # Added by the audio stage (optional, so older files still load):
    # "mono", "stereo", "dual-mono" (twin channels published as mono), "one-live-channel", "surround"...
    input_layout: str | None = None
    limiter_max_reduction_db: float | None = None
    # How many times the MP3 was encoded before it met the target (1: first time).
    encodes: int | None = None
    # Things the creator should know, e.g. a truncated recording that was published as far as it goes.
    warnings: list[str] = Field(default_factory=list)


class Word(Strict):
    start_s: float
    end_s: float
    text: str
    probability: float
    # Taken from the article where the episode reads it and the speech model hears it as well as
    # what it first wrote (transcribe.correct); `heard` keeps what it wrote, so a reviewer can revert.
    from_article: bool = False
    heard: str | None = None


class Segment(Strict):
    id: int
    start_s: float
    end_s: float
    text: str
    words: list[Word] = Field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    # Why a reviewer should look here: "no_speech", "low_logprob", "repetition", ...
    flags: list[str] = Field(default_factory=list)
    speaker: str | None = None
    # Set by review: a person edited this segment or marked it as checked.
    checked: bool = False


class Edit(Strict):
    """One reviewer action, kept in reviewed.json's history."""

    kind: str  # "edit", "merge", "split", "replace", "speaker", "check", "undo", "import"
    segment_ids: list[int]
    before: str
    after: str
    at: datetime
    # What else replaying the edit needs (split offset, whole-word flag), so undo can rebuild from the draft.
    options: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class Transcript(Strict):
    """transcript/draft.json (machine) and transcript/reviewed.json (after review)."""

    schema_version: int = 1
    language: str
    language_probability: float | None = None
    language_votes: dict[str, int] = Field(default_factory=dict)
    engine: str
    model: str
    options: dict[str, object] = Field(default_factory=dict)
    audio_sha256: str
    duration_s: float
    segments: list[Segment] = Field(default_factory=list)
    # Episode-level flags, e.g. "no_speech_detected".
    flags: list[str] = Field(default_factory=list)
    speaker: str | None = None
    # Review bookkeeping (reviewed.json only).
    version: int = 0
    based_on_sha256: str | None = None
    edits: list[Edit] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


class ListPlace(BaseModel):
    """Where a list item sits: which list, its kind, its number, how deep that list is nested."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    list_id: int  # the list it belongs to, numbered from 1 in reading order (nested lists too)
    tag: str  # "ul" (bullets) or "ol" (numbered)
    ordinal: int  # its number: the list's start plus its position (an item's own value= resets it)
    depth: int = 0  # 0 for a top-level list, 1 for a list inside an item of another list, ...


class SentenceSpan(Strict):
    """One sentence of a block read aloud, and when the episode says it."""

    text: str
    start_s: float | None = None
    end_s: float | None = None
    read: bool = False  # said word for word (enough of its words, in order)


class PairedBlock(Strict):
    index: int
    kind: str  # "heading", "paragraph", "list_item", "quote", "aside", ...
    text: str
    anchor: str
    level: int | None = None
    status: str  # "paired" | "text_only"
    start_s: float | None = None
    end_s: float | None = None
    score: float | None = None
    list_place: ListPlace | None = None  # list items only
    # Headings only: whether the episode says it (then start_s is where); an unspoken heading is
    # placed at its section's start.
    spoken: bool | None = None
    # Told blocks: "read" (word for word: its sentences have their own times) or "retold".
    delivery: str | None = None
    sentences: list[SentenceSpan] = Field(default_factory=list)


class AudioOnlySpan(Strict):
    start_s: float
    end_s: float
    text: str


class Chapter(Strict):
    title: str
    start_s: float
    anchor: str | None = None


class Coverage(Strict):
    article_told: float  # share of article words in paired blocks
    episode_covered: float  # share of episode speech time matched to the article


class Pairing(Strict):
    """pairing.json: article blocks <-> transcript time spans."""

    schema_version: int = 1
    blocks: list[PairedBlock]
    audio_only: list[AudioOnlySpan] = Field(default_factory=list)
    chapters: list[Chapter] = Field(default_factory=list)
    coverage: Coverage
    low_confidence: bool = False
    method: str
    transcript_source: str  # "draft" | "reviewed"
    transcript_sha256: str
    article_sha256: str
    warnings: list[str] = Field(default_factory=list)


class ImportedFile(Strict):
    """A recording `diptych import` put in the inbox, and the episode it became."""

    slug: str
    recording: str  # its path in the imported folder
    original_date: date


class ImportLedger(Strict):
    """output/.diptych/imports.json: what was imported, by recording (name:size:mtime_ns)."""

    schema_version: int = 1
    files: dict[str, ImportedFile] = Field(default_factory=dict)


class BatchEpisode(Strict):
    slug: str
    original_date: date  # the episode's original date
    audio_s: float | None = None  # the recording's duration (None: unreadable; its drop says why)


class Batch(Strict):
    """output/.diptych/batches/<id>.json: one import, for its progress and the time left."""

    schema_version: int = 1
    id: str
    source: str  # the imported folder
    created_at: datetime
    episodes: list[BatchEpisode]
