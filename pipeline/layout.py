"""Every path diptych reads or writes, in one place."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import EpisodeNotFound


def user_cache_dir() -> Path:
    """diptych's folder in the user's cache: $XDG_CACHE_HOME/diptych, else ~/.cache/diptych."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "diptych"

# Slugs become folder names and URL path segments: keep them boring.
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


def is_valid_slug(slug: str) -> bool:
    return bool(SLUG_RE.match(slug))


@dataclass(frozen=True)
class EpisodeLayout:
    """The workspace of one episode: output/episodes/<slug>/."""

    root: Path
    slug: str

    @property
    def source_dir(self) -> Path:
        return self.root / "source"

    @property
    def audio_dir(self) -> Path:
        return self.root / "audio"

    @property
    def master_mp3(self) -> Path:
        return self.audio_dir / "master.mp3"

    @property
    def loudness_json(self) -> Path:
        return self.audio_dir / "loudness.json"

    @property
    def speech_wav(self) -> Path:
        """16 kHz mono PCM of the published audio: the speech model's input."""
        return self.audio_dir / "speech-16k.wav"

    @property
    def transcript_dir(self) -> Path:
        return self.root / "transcript"

    @property
    def draft_json(self) -> Path:
        return self.transcript_dir / "draft.json"

    @property
    def reviewed_json(self) -> Path:
        return self.transcript_dir / "reviewed.json"

    def current_transcript(self) -> Path:
        """The transcript every reader uses: reviewed.json once a review has begun, else draft.json."""
        return self.reviewed_json if self.reviewed_json.exists() else self.draft_json

    @property
    def history_dir(self) -> Path:
        """Earlier reviews and sources kept when a new recording replaces the old one."""
        return self.root / "history"

    @property
    def pairing_json(self) -> Path:
        return self.root / "pairing.json"

    @property
    def state_json(self) -> Path:
        return self.root / "state.json"

    @property
    def wordpress_json(self) -> Path:
        """The episode on the creator's WordPress blog: its post and the media uploaded there."""
        return self.root / "wordpress.json"

    def source_file(self, name: str) -> Path:
        return self.source_dir / name


@dataclass(frozen=True)
class ProjectLayout:
    """A project folder: diptych.toml, inbox/, output/."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "diptych.toml"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def episodes_dir(self) -> Path:
        return self.output / "episodes"

    @property
    def site_dir(self) -> Path:
        return self.output / "site"

    @property
    def data_dir(self) -> Path:
        """Private working data: Prefect's home, locks, caches."""
        return self.output / ".diptych"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def locks_dir(self) -> Path:
        return self.data_dir / "locks"

    @property
    def imports_json(self) -> Path:
        """What `diptych import` queued, by recording: importing again queues nothing twice."""
        return self.data_dir / "imports.json"

    @property
    def batches_dir(self) -> Path:
        """One file per import: its episodes and their durations, for progress and the time left."""
        return self.data_dir / "batches"

    def episode(self, slug: str) -> EpisodeLayout:
        if not is_valid_slug(slug):
            raise EpisodeNotFound(f"'{slug}' is not a valid episode slug (lower-case letters, digits, hyphens)")
        return EpisodeLayout(root=self.episodes_dir / slug, slug=slug)

    def existing_episode(self, slug: str) -> EpisodeLayout:
        layout = self.episode(slug)
        if not layout.state_json.exists():
            raise EpisodeNotFound(f"no episode '{slug}' in {self.episodes_dir}: run 'diptych status' to list them")
        return layout

    def episode_slugs(self) -> list[str]:
        if not self.episodes_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.episodes_dir.iterdir() if p.is_dir() and (p / "state.json").exists()
        )
