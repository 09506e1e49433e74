"""Transcription stage: speech.wav (+ the article) -> a typed Transcript, whatever the engine.

    transcribe_audio(layout.speech_wav, settings=settings.transcribe, models_dir=..., audio_sha256=...)

The audio is the 16 kHz mono rendering of the published MP3, so every time in the Transcript is a
time in the published episode.
"""

from __future__ import annotations

import logging
import os
import threading
import wave
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from pipeline.article import Article
from pipeline.config import TranscribeSettings
from pipeline.errors import AudioDecodeError, DiptychError, TranscriptionError
from pipeline.models import Segment, Transcript
from pipeline.transcribe.engines.base import SAMPLE_RATE, DecodeOptions, Engine, ProgressFn
from pipeline.transcribe.guards import apply_guards, is_silent, only_invented, speech_level_dbfs
from pipeline.transcribe.model_cache import FASTER_ENGINE, OPENAI_ENGINE, model_path
from pipeline.transcribe.vocabulary import build_prompt, extract_terms, restore_spelling

log = logging.getLogger(__name__)
WINDOW_S = 30.0
UNDETERMINED = "und"
_ENGINE_LOCK = threading.Lock()


def transcribe_audio(
    speech_wav: Path,
    *,
    settings: TranscribeSettings,
    models_dir: Path,
    audio_sha256: str,
    language: str | None = None,
    article: Article | None = None,
    progress: ProgressFn | None = None,
) -> Transcript:
    """Transcribe one episode; `language` (front matter) wins over settings, else it is detected."""
    wanted = language or settings.language
    code = normalize_language(wanted, source=speech_wav.name) if wanted else None
    audio = load_speech(speech_wav)
    engine = open_engine(settings, models_dir)
    empty = Transcript(
        language=code or UNDETERMINED,
        engine=engine.name,
        model=settings.model,
        audio_sha256=audio_sha256,
        duration_s=len(audio) / SAMPLE_RATE,
        flags=["no_speech_detected"],
    )
    if is_silent(audio):
        log.info("%s: no speech (level below the silence floor)", speech_wav.name)
        if progress is not None:
            progress(1.0, 0.0)
        return empty
    votes: Counter[str] = Counter()
    probability = None
    if code is None:
        code, probability, votes = detect_language(engine, audio, windows=settings.language_windows)
    options = decode_options(settings, code, _article_prompt(article, settings))
    segments = engine.decode(audio, options, progress)
    if article is not None and settings.restore_article_spelling:
        segments = restore_spelling(segments, extract_terms(article))
    segments = apply_guards(segments, audio)
    found = {
        "language": code,
        "language_probability": probability,
        "language_votes": dict(votes),
        "options": options_record(settings, options),
    }
    if not segments or only_invented(segments):
        return empty.model_copy(update=found)
    return empty.model_copy(update={**found, "segments": _renumber(segments), "flags": []})


# --- audio --------------------------------------------------------------------------------------


# Frames read at a time: 64 MB of 16-bit samples, a mapping of its own (as in audio.decode).
PCM_CHUNK = 32 << 20


def load_speech(path: Path) -> np.ndarray:
    """float32 samples at 16 kHz mono; a 16-bit mono 16 kHz WAV is read directly, others via ffmpeg."""
    if not path.is_file():
        raise AudioDecodeError(f"{path}: speech audio not found; run the normalize stage first")
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2):
                return _read_pcm16(wav)
    except (wave.Error, EOFError):
        pass  # not a plain PCM WAV: let ffmpeg decode it
    import whisper.audio

    try:
        value: np.ndarray = whisper.audio.load_audio(str(path), sr=SAMPLE_RATE)  # whisper is untyped
        return value
    except RuntimeError as exc:
        why = str(exc).strip().splitlines()[-1] if str(exc).strip() else "ffmpeg failed"
        raise AudioDecodeError(f"cannot decode {path.name}: {why}; check the file plays") from exc


def _read_pcm16(wav: wave.Wave_read) -> np.ndarray:
    """The WAV's 16-bit samples as float32 in [-1, 1), read 64 MB at a time into one array: an hour is
    230 MB of float32, and its 115 MB of bytes are never held whole beside it."""
    total = wav.getnframes()
    samples = np.empty(total, dtype=np.float32)
    at = 0
    while at < total:
        chunk = np.frombuffer(wav.readframes(min(PCM_CHUNK, total - at)), dtype="<i2")
        if not len(chunk):
            break  # the header promised more than the file holds
        np.multiply(chunk, 1 / 32768.0, out=samples[at : at + len(chunk)], casting="unsafe")
        at += len(chunk)
    return samples[:at]


# --- engine and options -------------------------------------------------------------------------


def preload_engine(settings: TranscribeSettings, models_dir: Path) -> None:
    """Load the speech model now (it stays loaded for the process), e.g. while the audio is normalized.

    A model that cannot be loaded is left for the transcribe stage to report, with the episode's name.
    """
    try:
        open_engine(settings, models_dir)
    except DiptychError as exc:
        log.debug("speech model not preloaded: %s", exc)


def open_engine(settings: TranscribeSettings, models_dir: Path) -> Engine:
    """The engine of `settings`; its model is loaded once per process (two threads asking wait for one)."""
    with _ENGINE_LOCK:
        return _open_engine(settings, models_dir)


def _open_engine(settings: TranscribeSettings, models_dir: Path) -> Engine:
    # 0 means every core: torch and CTranslate2 would otherwise pick their own (often 4) threads.
    threads = settings.threads or os.cpu_count() or 1
    device = resolve_device(settings)
    if settings.engine == OPENAI_ENGINE:
        from pipeline.transcribe.engines.openai_engine import OpenAIWhisperEngine

        checkpoint = model_path(settings.model, models_dir, engine=OPENAI_ENGINE)
        return OpenAIWhisperEngine(checkpoint, model_name=settings.model, threads=threads, device=device)
    from pipeline.transcribe.engines.faster_engine import FasterWhisperEngine

    model_dir = model_path(settings.model, models_dir, engine=FASTER_ENGINE)
    return FasterWhisperEngine(
        model_dir, model_name=settings.model, threads=threads, compute_type=settings.compute_type, device=device
    )


def resolve_device(settings: TranscribeSettings) -> str:
    """"cuda" or "cpu": "auto" takes the GPU when the engine's runtime sees one."""
    if settings.device != "auto":
        return settings.device
    if settings.engine == OPENAI_ENGINE:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def decode_options(settings: TranscribeSettings, language: str, prompt: str | None) -> DecodeOptions:
    temperatures = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if settings.temperature_fallback else (0.0,)
    return DecodeOptions(
        language=language,
        beam_size=settings.beam_size,
        initial_prompt=prompt,
        condition_on_previous_text=settings.condition_on_previous_text,
        temperatures=temperatures,
        compression_ratio_threshold=settings.compression_ratio_threshold,
        logprob_threshold=settings.logprob_threshold,
        no_speech_threshold=settings.no_speech_threshold,
        hallucination_silence_threshold_s=settings.hallucination_silence_threshold_s,
        batch_size=settings.decode_batch_size,
    )


def options_record(settings: TranscribeSettings, options: DecodeOptions) -> dict[str, object]:
    """What produced this transcript: enough to tell whether a re-run would give the same."""
    record: dict[str, object] = {
        "beam_size": options.beam_size,
        "condition_on_previous_text": options.condition_on_previous_text,
        "temperatures": list(options.temperatures),
        "compression_ratio_threshold": options.compression_ratio_threshold,
        "logprob_threshold": options.logprob_threshold,
        "no_speech_threshold": options.no_speech_threshold,
        "hallucination_silence_threshold_s": options.hallucination_silence_threshold_s,
        "initial_prompt": options.initial_prompt,
        "restore_article_spelling": settings.restore_article_spelling,
        "word_timestamps": True,
        "batch_size": options.batch_size,
    }
    if settings.engine == FASTER_ENGINE:
        record["compute_type"] = settings.compute_type
    return record


def _article_prompt(article: Article | None, settings: TranscribeSettings) -> str | None:
    if article is None or not settings.use_article_prompt:
        return None
    from whisper.tokenizer import get_tokenizer

    tokenizer = get_tokenizer(multilingual=True)
    return build_prompt(article, lambda text: len(tokenizer.encode(text)))


# --- language -----------------------------------------------------------------------------------


def normalize_language(value: str, *, source: str) -> str:
    """'fr', 'FR', 'fr-CA', 'french' -> 'fr'; anything Whisper does not know is an error."""
    from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

    raw = value.strip().lower().replace("_", "-")
    code = raw.split("-")[0]
    if code in LANGUAGES:
        return code
    if raw in TO_LANGUAGE_CODE:
        known: str = TO_LANGUAGE_CODE[raw]  # whisper's language table is untyped
        return known
    valid = ", ".join(sorted(LANGUAGES))
    raise TranscriptionError(
        f"{source}: unknown language '{value}'; set the front matter or settings language to one of: {valid}"
    )


def language_windows(audio: np.ndarray, count: int) -> list[np.ndarray]:
    """Up to `count` 30 s windows spread evenly over the audio, skipping near-silent ones."""
    size = int(WINDOW_S * SAMPLE_RATE)
    if len(audio) <= size:
        return [audio]
    # Windows that do not overlap: on a short file, more would vote on the same speech again.
    count = min(count, max(len(audio) // size, 1))
    last_start = len(audio) - size
    starts = [int(last_start * i / max(count - 1, 1)) for i in range(count)]
    windows = [audio[s : s + size] for s in starts]
    level = speech_level_dbfs(audio)
    voiced = [w for w in windows if speech_level_dbfs(w) > level - 20.0]
    return voiced or windows


def detect_language(engine: Engine, audio: np.ndarray, *, windows: int) -> tuple[str, float, Counter[str]]:
    """Majority vote of the windows' top languages; ties go to the higher summed probability."""
    votes: Counter[str] = Counter()
    summed: dict[str, float] = defaultdict(float)
    for window in language_windows(audio, windows):
        probs = engine.language_probs(window)
        best = max(probs, key=lambda k: probs[k])
        votes[best] += 1
        for code, p in probs.items():
            summed[code] += p
    winner = max(votes, key=lambda code: (votes[code], summed[code]))
    probability = summed[winner] / sum(votes.values())
    log.info("language votes %s -> %s (p=%.2f)", dict(votes), winner, probability)
    return winner, probability, votes


# --- results ------------------------------------------------------------------------------------


def _renumber(segments: list[Segment]) -> list[Segment]:
    return [seg.model_copy(update={"id": i}) for i, seg in enumerate(segments)]
