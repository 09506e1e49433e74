"""Fixtures of the publishing tests: real recordings encoded once, and their real transcript."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import Transcript
from tests.factories import RealAudio, encode_mp3
from tests.publish.wordpress_blog import processed_episode, wordpress_blog  # noqa: F401  (one blog per test run)


@pytest.fixture(scope="session")
def real_audio(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RealAudio]:
    """Real recordings encoded once per session: 'en' (2:29, UDHR preamble), 'fr' (0:34)."""
    folder = tmp_path_factory.mktemp("mp3")
    return {
        "en": RealAudio(
            encode_mp3(speech / "udhr-preamble-en.mp3", folder / "en.mp3"),
            (speech / "udhr-preamble-en.txt").read_text(encoding="utf-8"),
        ),
        "fr": RealAudio(
            encode_mp3(speech / "ej-fra.m4a", folder / "fr.mp3"),
            (speech / "ej-fra.txt").read_text(encoding="utf-8"),
        ),
    }


def _faster_whisper_transcript(audio: Path, language: str) -> Transcript:
    """`audio` transcribed by the real Whisper base model (faster-whisper engine), model installed here."""
    from pipeline.config import TranscribeSettings
    from pipeline.store import sha256_file
    from pipeline.transcribe.model_cache import default_models_dir, install_model
    from pipeline.transcribe.stage import transcribe_audio

    models_dir = default_models_dir()
    install_model("base", models_dir)
    settings = TranscribeSettings(engine="faster-whisper", language=language)
    return transcribe_audio(audio, settings=settings, models_dir=models_dir, audio_sha256=sha256_file(audio))


@pytest.fixture(scope="session")
def whisper_en(real_audio: dict[str, RealAudio]) -> Transcript:
    """The English recording (UDHR preamble, 2:29) transcribed by the real Whisper base model."""
    return _faster_whisper_transcript(real_audio["en"].path, "en")


@pytest.fixture(scope="session")
def whisper_fr(real_audio: dict[str, RealAudio]) -> Transcript:
    """The French recording (ej-fra, 34 s) transcribed by the real Whisper base model."""
    return _faster_whisper_transcript(real_audio["fr"].path, "fr")
