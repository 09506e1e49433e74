"""Is there speech in a very quiet recording? Silero's speech detector, as faster-whisper ships it.

Loudness alone cannot tell a quiet phone recording (−62 to −66 LUFS, a voice well above its own
noise) from an unplugged microphone's hiss. The detector can, once the signal is raised to a
speaking level: measured here on real speech (ej-fra) lowered to −62 … −85 LUFS over pink noise at
−86 dBFS, it found 33.6 s of the 34.1 s at every level, and 0.0 s in pink, white and brown noise,
mains hum, a steady tone and dither alone, raised the same way (tests/reliability/test_audio_corpus.py
keeps both sides).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from pipeline.audio.decode import resample

log = logging.getLogger(__name__)

VAD_RATE = 16000
# The detector listens at this level: the 99.5th percentile of |sample| is raised to it.
LISTEN_PEAK = 0.3
# This much detected speech makes a recording an episode (noise alone measured 0.0 s).
MIN_SPEECH_S = 1.0


@dataclass(frozen=True)
class SpeechFound:
    speech_s: float  # seconds the detector heard as speech
    duration_s: float


def detect_speech(x: np.ndarray, rate: int) -> SpeechFound:
    """Seconds of speech in (channels, n) float32 audio of any level (0.0 for digital silence)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    mono = resample(x.mean(axis=0, keepdims=True, dtype=np.float32), rate, VAD_RATE)[0]
    duration_s = mono.size / VAD_RATE
    level = float(np.percentile(np.abs(mono), 99.5)) if mono.size else 0.0
    if level <= 0.0:
        return SpeechFound(0.0, duration_s)
    raised = np.clip(mono * np.float32(LISTEN_PEAK / level), -1.0, 1.0).astype(np.float32)
    spans = get_speech_timestamps(raised, VadOptions(min_speech_duration_ms=250), sampling_rate=VAD_RATE)
    speech_s = sum(s["end"] - s["start"] for s in spans) / VAD_RATE
    log.info("speech detector: %.1f s of speech in %.1f s of quiet audio", speech_s, duration_s)
    return SpeechFound(speech_s, duration_s)


def has_speech(found: SpeechFound) -> bool:
    return found.speech_s >= min(MIN_SPEECH_S, 0.5 * found.duration_s)
