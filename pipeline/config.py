"""One typed settings object: diptych.toml, overridden by DIPTYCH_* variables,
overridden per episode by the article's front matter.

Environment variables name nested keys with a double underscore:
DIPTYCH_AUDIO__TARGET_LUFS=-19 overrides [audio] target_lufs.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pipeline.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- what listeners and podcast apps receive: people, feed extras, subscribe links -------------------


class Person(Section):
    """Someone heard in the show (the feed's <podcast:person>, the transcripts' speaker names)."""

    name: str = Field(min_length=1, max_length=128)
    role: str = "guest"  # the podcast namespace's roles: host, guest, co-host, ...
    picture: str | None = None  # address of a picture of them (https://…)
    url: str | None = None  # their page


class RemoteFeed(Section):
    """A show recommended in the feed's <podcast:podroll>."""

    feed_guid: str
    feed_url: str | None = None
    title: str | None = None


class SubscribeLinks(Section):
    """The show's page in each podcast app; a button appears for each one given (copying the feed
    address is always offered)."""

    apple_podcasts: str | None = None
    spotify: str | None = None
    antennapod: str | None = None
    overcast: str | None = None
    pocket_casts: str | None = None
    podcast_addict: str | None = None


class FeedExtras(Section):
    """Podcasting 2.0 channel tags, each written only when given."""

    license: str | None = None  # an SPDX identifier (cc-by-4.0) or the licence's name
    license_url: str | None = None
    funding_url: str | None = None
    funding_text: str = "Support the show"
    medium: Literal["podcast", "music", "video", "film", "audiobook", "newsletter", "blog"] = "podcast"
    txt: dict[str, str] = Field(default_factory=dict)  # purpose -> text, e.g. {"verify": "…"}
    podroll: list[RemoteFeed] = Field(default_factory=list)
    update_frequency: str | None = None  # e.g. "Monthly"
    update_rrule: str | None = None  # e.g. "FREQ=MONTHLY"


# -----------------------------------------------------------------------------------------------------


class ShowSettings(Section):
    title: str = "diptych demo"
    author: str = "diptych"
    owner_name: str | None = None  # defaults to author
    owner_email: str = "owner@example.org"
    language: str = "fr"
    description: str = "A podcast published with diptych: each episode with its article."
    # Public address of output/site/ once uploaded, e.g. https://example.org/podcast/
    base_url: str | None = None
    cover: str | None = None  # image path relative to the project root
    category: str = "Society & Culture"
    subcategory: str | None = None
    explicit: bool = False
    copyright: str | None = None
    locked: bool = True
    speaker: str | None = None  # the host's name for transcripts and the feed (default: author)
    # The feed's <podcast:guid>; by default the UUIDv5 of the feed URL (podcast namespace rule).
    # Set it to keep the show's identity when the site moves to another address.
    podcast_guid: str | None = None
    # What listeners and podcast apps receive besides the episodes.
    host_picture: str | None = None  # address of the host's picture (<podcast:person img>)
    host_url: str | None = None
    feed: FeedExtras = FeedExtras()
    subscribe: SubscribeLinks = SubscribeLinks()

    @property
    def host(self) -> str:
        """The host's name: show.speaker, else the author."""
        return self.speaker or self.author


class AudioSettings(Section):
    target_lufs: float = Field(-16.0, ge=-31.0, le=-9.0)
    ceiling_dbtp: float = Field(-1.0, ge=-9.0, le=0.0)
    max_silence_s: float = Field(0.5, ge=0.0, le=10.0)
    highpass_hz: float = Field(80.0, ge=0.0, le=300.0)
    sample_rate_hz: Literal[44100, 48000] = 44100
    bitrate_stereo_kbps: int = Field(128, ge=32, le=320)
    bitrate_mono_kbps: int = Field(96, ge=32, le=320)


class TranscribeSettings(Section):
    engine: Literal["openai-whisper", "faster-whisper"] = "openai-whisper"
    model: str = "base"
    language: str | None = None  # None: detect
    beam_size: int = Field(1, ge=1, le=10)
    use_article_prompt: bool = True
    restore_article_spelling: bool = True
    max_concurrent: int = Field(1, ge=1, le=16)
    threads: int = Field(0, ge=0, le=256)  # 0: all cores
    models_dir: Path | None = None  # None: the user's cache folder
    # faster-whisper only: CTranslate2 weight type (float16 / int8_float16 need a GPU).
    compute_type: Literal["int8", "int8_float32", "float32", "float16", "int8_float16"] = "int8"
    # "auto": the GPU (CUDA) when torch / CTranslate2 see one, else the CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # 1: one 30 s window after another, each conditioned on the previous text (whisper.transcribe);
    # more: that many speech windows, cut at pauses by the voice-activity detector, decoded at once
    # with the article prompt. None: the engine's own (decode_batch_size).
    batch_size: int | None = Field(None, ge=1, le=64)
    # Feed each window's text to the next one (consistency) or not (a loop cannot spread).
    condition_on_previous_text: bool = True
    # Re-decode at higher temperatures when a window's output fails the thresholds below.
    temperature_fallback: bool = True
    compression_ratio_threshold: float | None = Field(2.4, gt=0.0)
    logprob_threshold: float | None = Field(-1.0, le=0.0)
    no_speech_threshold: float | None = Field(0.6, ge=0.0, le=1.0)
    # Skip silences longer than this (s) around a likely invented segment (None: off; with
    # openai-whisper base, 2 s dropped 7 s of real speech after an inserted pause).
    hallucination_silence_threshold_s: float | None = Field(None, gt=0.0)
    # 30 s windows spread over the episode that vote on the language when none is given.
    language_windows: int = Field(5, ge=1, le=20)
    # Where the episode reads the article word for word, take the article's words for what Whisper
    # misheard when the same model scores them about as well on that audio (transcribe.correct; run
    # by the pair stage, on the draft only, never on a reviewed transcript).
    correct_from_article: bool = True

    @property
    def decode_batch_size(self) -> int:
        """`batch_size`, else the engine's default: 4 for openai-whisper (batched windows give the
        same words as sequential decoding, in less time: README, Figures), 1 for faster-whisper
        (its batched pipeline decodes at one temperature, without fallback: WER 31.0 % against
        17.7 % on the 10-minute benchmark episode)."""
        if self.batch_size is not None:
            return self.batch_size
        return 4 if self.engine == "openai-whisper" else 1

class PairingSettings(Section):
    # How a transcript stretch is matched to an article block: by meaning (multilingual sentence
    # embeddings), by shared words, or both mixed ("hybrid", measured best in benchmarks/pairing.py).
    method: Literal["hybrid", "semantic", "lexical"] = "hybrid"
    semantic_weight: float = Field(0.5, ge=0.0, le=1.0)  # share of meaning in the hybrid score
    min_score: float = Field(0.3, ge=0.0, le=1.0)  # below it, speech is not telling the block
    min_audio_only_s: float = Field(2.0, ge=0.0)  # shorter untold stretches are not listed
    threads: int = Field(2, ge=1, le=64)  # for the embedding model


class ReviewSettings(Section):
    required: bool = True
    low_confidence: float = Field(0.5, ge=0.0, le=1.0)
    port: int = Field(8765, ge=1, le=65535)


class RunSettings(Section):
    max_concurrent_episodes: int = Field(2, ge=1, le=32)
    # A drop is claimed once its files have not changed for this long.
    settle_s: float = Field(2.0, ge=0.0, le=3600.0)


class UpSettings(Section):
    """`diptych up`: the local Prefect server and the inbox watcher."""

    prefect_port: int = Field(4200, ge=1, le=65535)
    # How long the Prefect server may take to answer at start (the first start creates its database).
    prefect_timeout_s: float = Field(120.0, ge=5.0, le=3600.0)
    # How often the inbox and the episodes' states are looked at.
    watch_interval_s: float = Field(2.0, ge=0.5, le=300.0)
    # The Prefect server's database: postgresql+asyncpg://USER@HOST:PORT/DATABASE (the password in
    # PGPASSWORD or ~/.pgpass, never here). None: SQLite in the Prefect home, runs served by `up`
    # itself. Set: the deployments go to the work pools, run by `diptych worker`s (WorkersSettings).
    database: str | None = None


class WorkersSettings(Section):
    """Work pools (`diptych worker`): limits across machines and how a lost machine is noticed."""

    # Runs at once on each pool, all machines together (None: no cap beyond each worker's --limit).
    cpu_pool_limit: int | None = Field(None, ge=1, le=10000)
    speech_pool_limit: int | None = Field(None, ge=1, le=10000)
    # Seconds between a flow run's heartbeats (Prefect's minimum is 30) ...
    heartbeat_s: int = Field(30, ge=30, le=3600)
    # ... and without one for this long, the run is marked crashed and its episode retries it.
    crash_after_s: int = Field(90, ge=30, le=86400)


class WordPressSettings(Section):
    """[wordpress]: a post per episode on the creator's WordPress blog (README "Publish to WordPress").

    The application password is never a setting: it comes from DIPTYCH_WORDPRESS_PASSWORD or from
    the file that `password_file` names (readable by its owner only)."""

    url: str | None = None  # the blog's address, e.g. https://blog.example.org
    user: str | None = None  # the login name the application password belongs to
    password_file: Path | None = None  # relative to the project root; mode 0600
    status: Literal["draft", "publish"] = "draft"  # a new post's status
    category: str | None = None  # made on the blog if it has none of that name
    tags: list[str] = Field(default_factory=list)
    auto: bool = False  # post on approval, after the site is built
    timeout_s: float = Field(120.0, ge=5.0, le=3600.0)  # one request (the MP3's upload included)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIPTYCH_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    show: ShowSettings = ShowSettings()
    audio: AudioSettings = AudioSettings()
    transcribe: TranscribeSettings = TranscribeSettings()
    pairing: PairingSettings = PairingSettings()
    review: ReviewSettings = ReviewSettings()
    run: RunSettings = RunSettings()
    up: UpSettings = UpSettings()
    wordpress: WordPressSettings = WordPressSettings()
    workers: WorkersSettings = WorkersSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (passed in as init values).
        return (env_settings, init_settings)


def _format_error(source: str, exc: ValidationError, raw: dict[str, Any]) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    value: Any = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown setting '{key}' (check the spelling; see README 'Settings')"
    return f"{source}: {key} = {value!r} is not allowed: {err['msg']}"


def load_settings(config_file: Path | None) -> Settings:
    raw: dict[str, Any] = {}
    source = "settings"
    if config_file is not None and config_file.exists():
        source = str(config_file)
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file}: not valid TOML ({exc}); fix the file or delete it") from exc
    try:
        return Settings(**raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(f"{source} or DIPTYCH_* variables", exc, raw)) from exc


class EpisodeMeta(Section):
    """An article's front matter: per-episode values that override the show's settings."""

    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    date: dt.date | None = None
    description: str | None = None
    episode: int | None = Field(None, ge=0)
    season: int | None = Field(None, ge=0)
    language: str | None = None
    explicit: bool | None = None
    slug: str | None = None
    cover: str | None = None
    speaker: str | None = None
    author: str | None = None
    # A drop naming a published episode's slug replaces its recording only when this says so.
    replace: bool = False
    speakers: list[Person] = Field(default_factory=list)  # guests (and co-hosts) of this episode


def parse_episode_meta(front_matter: dict[str, Any], *, source: str) -> EpisodeMeta:
    try:
        return EpisodeMeta.model_validate(front_matter)
    except ValidationError as exc:
        raise ConfigError(_format_error(f"{source} front matter", exc, front_matter)) from exc


# Checked when a command starts, before any work: the files and addresses the settings name.
# A show folder copied without its cover fails here in one line, not after processing every episode.


def check_show_settings(settings: Settings, root: Path) -> None:
    """Raise ConfigError (one line: the key, the value, the fix) for what would fail later."""
    show = settings.show
    for key in ("title", "author", "owner_email", "language", "base_url"):
        if getattr(show, key) == "":
            raise ConfigError(f"show.{key} is empty: fill it in {root / 'diptych.toml'} (see the comment above it)")
    if show.cover:
        path = root / show.cover
        if not path.is_file():
            raise ConfigError(
                f"show.cover = '{show.cover}' not found in {root}: put the show's square cover (JPEG or PNG, "
                "1400–3000 px) there, or fix diptych.toml"
            )
        if (why := image_problem(path)) is not None:
            raise ConfigError(f"show.cover = '{show.cover}' is not an image ({why}): fix diptych.toml")
    if show.base_url is not None and not re.match(r"^https?://[^\s/]+", show.base_url):
        raise ConfigError(
            f"show.base_url = '{show.base_url}' is not a web address: give the public address of output/site/, "
            "e.g. 'https://example.org/podcast/', in diptych.toml"
        )
    models_dir = settings.transcribe.models_dir
    if models_dir is not None and models_dir.exists() and not models_dir.is_dir():
        raise ConfigError(f"transcribe.models_dir = '{models_dir}' is a file, not a folder: fix diptych.toml")


def image_problem(path: Path) -> str | None:
    """Why `path` is not a picture that can be read (Pillow's reason, naming the file), or None."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # a 10000 px cover is no bomb
            with Image.open(path) as image:
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return str(exc).replace(str(path), path.name) or type(exc).__name__
    return None
