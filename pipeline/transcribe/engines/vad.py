"""Speech windows of at most 30 s, found by the voice-activity detector faster-whisper ships.

faster-whisper's package holds Silero VAD as an ONNX file, run by onnxruntime (installed with it),
so this works offline. The speech stretches it finds are grouped, in order, into windows whose span
(silences between stretches included) is at most 30 s, whisper's input length: each window can then
be decoded on its own, several at once, and its times are the episode's plus the window's start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
HOP = 160  # samples per mel frame: 10 ms
WINDOW_FRAMES = 3000  # whisper's 30 s input
# A pause this long ends a speech stretch (faster-whisper's batched pipeline uses the same).
MIN_SILENCE_MS = 160


@dataclass(frozen=True)
class SpeechWindow:
    start_frame: int  # first mel frame of the window, counted from the start of the episode
    frames: int  # length in mel frames, at most WINDOW_FRAMES

    @property
    def start_s(self) -> float:
        return self.start_frame * HOP / SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return self.frames * HOP / SAMPLE_RATE


def find_speech(audio: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) sample ranges holding speech, each shorter than 30 s, in order."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        max_speech_duration_s=WINDOW_FRAMES * HOP / SAMPLE_RATE, min_silence_duration_ms=MIN_SILENCE_MS
    )
    return [(int(s["start"]), int(s["end"])) for s in get_speech_timestamps(audio, options)]


def group_windows(speech: list[tuple[int, int]], total_samples: int) -> list[SpeechWindow]:
    """Consecutive speech ranges grouped into frame-aligned windows spanning at most 30 s each."""
    total_frames = -(-total_samples // HOP)
    windows: list[SpeechWindow] = []
    first = last = -1
    for start, end in speech:
        a, b = start // HOP, min(-(-end // HOP), total_frames)
        if first >= 0 and b - first <= WINDOW_FRAMES:
            last = b
            continue
        if first >= 0:
            windows.append(SpeechWindow(first, last - first))
        first, last = a, min(b, a + WINDOW_FRAMES)
    if first >= 0 and last > first:
        windows.append(SpeechWindow(first, last - first))
    return windows


def speech_windows(audio: np.ndarray) -> list[SpeechWindow]:
    """The windows to decode: where the detector heard speech, in order."""
    return group_windows(find_speech(audio), len(audio))
