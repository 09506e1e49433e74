"""What every engine takes and gives: decoding options in, typed segments out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pipeline.models import Segment

SAMPLE_RATE = 16000
ProgressFn = Callable[[float, float | None], None]
# Whisper's temperature fallback samples its words; they are drawn from this seed.
SAMPLING_SEED = 0
_SAMPLING_LOCK = threading.Lock()


@contextmanager
def seeded_sampling() -> Iterator[None]:
    """Decoding whose sampling (the fallback at temperature > 0) starts from SAMPLING_SEED: one
    recording, one transcript. torch's random numbers start anew in each process, so without it
    the same recording came out in other words on every run (the demo: 26 or 28 segments). The
    process's random state is put back afterwards; one such decoding at a time, so that two
    episodes' fallbacks do not draw from each other's numbers."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with _SAMPLING_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(SAMPLING_SEED)
        yield


@dataclass(frozen=True)
class DecodeOptions:
    language: str
    # 1: greedy decoding; >1: beam search with that many beams.
    beam_size: int
    # Article vocabulary shown to the decoder as previous text (None: no prompt).
    initial_prompt: str | None
    # Feeding the previous window's text helps consistency but can propagate a loop.
    condition_on_previous_text: bool
    # Retried in order when a window's output looks wrong (compression / logprob thresholds).
    temperatures: tuple[float, ...]
    compression_ratio_threshold: float | None
    logprob_threshold: float | None
    no_speech_threshold: float | None
    # Skip silences longer than this (s) around a likely hallucination; needs word timestamps.
    hallucination_silence_threshold_s: float | None
    # 1: one 30 s window after another, each prompted with the previous text; more: that many
    # speech windows (cut at pauses by the voice-activity detector) decoded at once.
    batch_size: int = 1


class Engine(Protocol):
    name: str
    model_name: str

    def language_probs(self, window: np.ndarray) -> dict[str, float]:
        """Language code -> probability for one window of at most 30 s."""
        ...

    def decode(self, audio: np.ndarray, options: DecodeOptions, progress: ProgressFn | None) -> list[Segment]:
        """Segments with word timings, in seconds from the start of `audio`."""
        ...


class ProgressClock:
    """Turns "fraction done" into (fraction, ETA in seconds) for a progress callback."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.started = time.monotonic()
        self.last = -1.0

    def report(self, fraction: float) -> None:
        if self.progress is None:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction - self.last < 0.005 and fraction < 1.0:
            return
        self.last = fraction
        elapsed = time.monotonic() - self.started
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0 else None
        self.progress(fraction, eta)
