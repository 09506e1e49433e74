"""Speech windows of at most 30 s, found by the voice-activity detector faster-whisper ships.

faster-whisper's package holds Silero VAD as an ONNX file, run by onnxruntime (installed with it),
so this works offline. The speech stretches it finds are grouped, in order, into windows whose span
(silences between stretches included) is at most 30 s, whisper's input length: each window can then
be decoded on its own, several at once, and its times are the episode's plus the window's start.

faster-whisper runs the detector over the whole audio at once, with two more copies of it (padded,
then with each 32 ms frame's context): on an hour that was 650 MB for the 20 s it takes, the
transcription's peak. A long episode is therefore cut into pieces of at most CHUNK_S, each in the
quietest half second of the CUT_SEARCH_S before its end, where nothing is said for the detector to
miss, and each piece is run on its own: an episode up to CHUNK_S is one piece, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
HOP = 160  # samples per mel frame: 10 ms
WINDOW_FRAMES = 3000  # whisper's 30 s input
# A pause this long ends a speech stretch (faster-whisper's batched pipeline uses the same).
MIN_SILENCE_MS = 160
CHUNK_S = 600.0  # the longest piece of audio the detector is run on at once
CUT_SEARCH_S = 30.0  # a piece ends in the quietest QUIET samples of its last CUT_SEARCH_S
DETECTOR_FRAME = 512  # samples the detector judges at a time; pieces start on its grid
QUIET = 16 * DETECTOR_FRAME  # 0.5 s


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


def find_speech(audio: np.ndarray, *, chunk_s: float = CHUNK_S) -> list[tuple[int, int]]:
    """(start, end) sample ranges holding speech, each shorter than 30 s, in order."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        max_speech_duration_s=WINDOW_FRAMES * HOP / SAMPLE_RATE, min_silence_duration_ms=MIN_SILENCE_MS
    )
    ranges: list[tuple[int, int]] = []
    for start, end in pieces(audio, chunk_s=chunk_s):
        found = get_speech_timestamps(audio[start:end], options)
        ranges.extend((start + int(s["start"]), start + int(s["end"])) for s in found)
    return ranges


def pieces(audio: np.ndarray, *, chunk_s: float = CHUNK_S) -> list[tuple[int, int]]:
    """(start, end) of the pieces the detector runs on: at most chunk_s each, cut where it is quietest."""
    chunk = int(chunk_s * SAMPLE_RATE) // QUIET * QUIET
    search = int(CUT_SEARCH_S * SAMPLE_RATE) // QUIET * QUIET
    out: list[tuple[int, int]] = []
    start = 0
    while len(audio) - start > chunk:
        low = start + chunk - search
        frames = audio[low : start + chunk].reshape(-1, QUIET)
        energy = np.einsum("ij,ij->i", frames, frames, dtype=np.float64)
        cut = low + int(np.argmin(energy)) * QUIET + QUIET // 2  # on the detector's grid, as the whole pass
        out.append((start, cut))
        start = cut
    out.append((start, len(audio)))
    return out


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
