"""Flag transcript segments that the model may have invented (over silence, noise or music).

Whisper fills non-speech with plausible text ("Thank you.", "Sous-titres réalisés par…") or loops
on one phrase. Each check below looks at one symptom; a segment keeps its text and gets a reason in
Segment.flags, so that a reviewer sees where to look. Thresholds are whisper's own where it has one.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

from pipeline.models import Segment

SAMPLE_RATE = 16000
_FRAME = 400  # 25 ms at 16 kHz
_WORD_RE = re.compile(r"\w+", re.UNICODE)
# Flags meaning "probably no speech here" (used to decide that an episode has no speech at all).
INVENTED_FLAGS = frozenset({"no_speech", "silent_audio", "noise"})


@dataclass(frozen=True)
class GuardThresholds:
    # whisper's rule for a silent window: no_speech_prob above this AND avg_logprob below logprob.
    no_speech_prob: float = 0.6
    low_logprob: float = -1.0
    # gzip compression ratio above which text is repetitive (whisper's fallback threshold).
    compression_ratio: float = 2.4
    # Same 1-4 word n-gram repeated back to back this many times is a decoding loop.
    loop_repeats: int = 4
    # Fast French speech reaches ~20 characters/s; 32 is beyond what a person says.
    max_chars_per_s: float = 32.0
    # Segment energy this far below the episode's speech level (dB), or under the floor, is silence.
    # The floor is low: quiet but real recordings have speech peaking near -60 dBFS.
    silence_below_speech_db: float = 35.0
    silence_floor_dbfs: float = -85.0
    # A whole recording is "room tone" when it stays under this level with a steady level
    # (loud frames within this many dB of quiet ones); speech varies by 20 dB and more.
    room_tone_dbfs: float = -55.0
    room_tone_range_db: float = 8.0
    # This many words (or half of them) placed over silence make a segment suspect.
    silent_words: int = 3
    # Spectral flatness near 1 is noise; voiced speech stays far below (median over frames).
    noise_flatness: float = 0.35


def _frame_rms_db(audio: np.ndarray) -> np.ndarray:
    usable = len(audio) // _FRAME * _FRAME
    if usable == 0:
        return np.array([-120.0])
    # A view and a dot product per frame: no copy of an hour of audio.
    frames = np.ascontiguousarray(audio[:usable], dtype=np.float32).reshape(-1, _FRAME)
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / _FRAME)
    value: np.ndarray = 20 * np.log10(np.maximum(rms, 1e-6))  # numpy ufuncs return Any to mypy
    return value


def speech_level_dbfs(audio: np.ndarray) -> float:
    """Loud-frame level of the episode: the 90th percentile of 25 ms frame levels."""
    return float(np.percentile(_frame_rms_db(audio), 90))


def is_silent(audio: np.ndarray, thresholds: GuardThresholds = GuardThresholds()) -> bool:
    """True when the whole recording is digital silence or steady, quiet room tone."""
    if len(audio) == 0:
        return True
    levels = _frame_rms_db(audio)
    loud, quiet = np.percentile(levels, 90), np.percentile(levels, 10)
    if loud < thresholds.silence_floor_dbfs:
        return True
    return bool(loud < thresholds.room_tone_dbfs and loud - quiet < thresholds.room_tone_range_db)


def _span(audio: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    return audio[int(start_s * SAMPLE_RATE) : max(int(end_s * SAMPLE_RATE), int(start_s * SAMPLE_RATE) + 1)]


def spectral_flatness(audio: np.ndarray) -> float:
    """Median over 25 ms frames of geometric / arithmetic mean of the power spectrum."""
    usable = len(audio) // _FRAME * _FRAME
    if usable == 0:
        return 0.0
    frames = audio[:usable].reshape(-1, _FRAME) * np.hanning(_FRAME)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    loud = _frame_rms_db(audio) > -60.0
    return float(np.median(flatness[loud])) if loud.any() else 0.0


def has_loop(text: str, repeats: int) -> bool:
    """The same 1-4 word n-gram back to back `repeats` times (single words: one more)."""
    words = [w.lower() for w in _WORD_RE.findall(text)]
    for n in range(1, 5):
        needed = repeats + 1 if n == 1 else repeats
        if any(_run_from(words[offset:], n) >= needed for offset in range(n)):
            return True
    return False


def _run_from(words: list[str], n: int) -> int:
    best = run = 1
    for i in range(n, len(words) - n + 1, n):
        run = run + 1 if words[i : i + n] == words[i - n : i] else 1
        best = max(best, run)
    return best


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / max(len(zlib.compress(raw)), 1)


def _is_quiet(span: np.ndarray, speech_db: float, t: GuardThresholds) -> bool:
    level = speech_level_dbfs(span)
    return level < t.silence_floor_dbfs or level < speech_db - t.silence_below_speech_db


def _words_over_silence(seg: Segment, audio: np.ndarray, speech_db: float, t: GuardThresholds) -> bool:
    """Words timed over silence: whisper put text where nobody spoke."""
    quiet = sum(_is_quiet(_span(audio, w.start_s, w.end_s), speech_db, t) for w in seg.words)
    return quiet >= t.silent_words or (len(seg.words) > 0 and quiet * 2 > len(seg.words))


def segment_flags(seg: Segment, audio: np.ndarray, speech_db: float, t: GuardThresholds) -> list[str]:
    flags: list[str] = []
    logprob = seg.avg_logprob if seg.avg_logprob is not None else 0.0
    if (seg.no_speech_prob or 0.0) > t.no_speech_prob and logprob < t.low_logprob:
        flags.append("no_speech")
    elif logprob < t.low_logprob:
        flags.append("low_logprob")
    ratio = seg.compression_ratio if seg.compression_ratio is not None else compression_ratio(seg.text)
    if ratio > t.compression_ratio:
        flags.append("compression")
    if has_loop(seg.text, t.loop_repeats):
        flags.append("repetition")
    duration = max(seg.end_s - seg.start_s, 1e-3)
    if len(seg.text) / duration > t.max_chars_per_s and len(seg.text) > 20:
        flags.append("too_fast")
    span = _span(audio, seg.start_s, seg.end_s)
    if _is_quiet(span, speech_db, t) or _words_over_silence(seg, audio, speech_db, t):
        flags.append("silent_audio")
    elif spectral_flatness(span) > t.noise_flatness:
        flags.append("noise")
    return flags


def apply_guards(
    segments: list[Segment], audio: np.ndarray, thresholds: GuardThresholds = GuardThresholds()
) -> list[Segment]:
    """The same segments, each with its flags (kept in order, merged with any existing ones)."""
    speech_db = speech_level_dbfs(audio)
    flagged = []
    for seg in segments:
        found = segment_flags(seg, audio, speech_db, thresholds)
        flags = list(dict.fromkeys([*seg.flags, *found]))
        flagged.append(seg.model_copy(update={"flags": flags}))
    return flagged


def only_invented(segments: list[Segment]) -> bool:
    """True when no segment looks like real speech (every one carries a 'no speech' flag)."""
    return all(INVENTED_FLAGS.intersection(seg.flags) for seg in segments)
