"""The audio encoder's output of each window batched decoding encoded, kept for the pair stage.

The article's corrections (transcribe.correct) score text on stretches of the episode's audio with
the same model; the audio encoder is the costliest part of that, and batched decoding has just run
it on every speech window. Each window's output is kept here (float16 on the CPU, up to
MAX_KEPT_BYTES an episode), under a fingerprint of the audio, so that the correction of the same
recording in the same process scores on it instead of encoding again. Another process, a
transcript decoded one window after another, or an audio that differs finds nothing and encodes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# base keeps 1.5 MB a window (1,500 x 512 float16): about 3 hours of speech at this size.
MAX_KEPT_BYTES = 320 * 1024 * 1024
KEPT_AUDIOS = 2  # several episodes may share a model in one worker


@dataclass(frozen=True)
class EncodedWindow:
    start_s: float  # where the window's audio starts, in the episode
    end_s: float  # where its speech ends
    features: Any  # the encoder's output for the window's padded mel, float16, (frames, width)


@dataclass
class EncodedAudio:
    fingerprint: str
    windows: list[EncodedWindow] = field(default_factory=list)
    size: int = 0

    def keep(self, start_s: float, end_s: float, features: Any) -> None:
        """Keep one window's output (a copy: the batch's tensor is freed), within the budget."""
        kept = features.detach().to("cpu").half().clone()
        size = kept.numel() * kept.element_size()
        if self.size + size > MAX_KEPT_BYTES:
            return
        self.size += size
        self.windows.append(EncodedWindow(start_s, end_s, kept))


_LOCK = threading.Lock()
_KEPT: dict[int, OrderedDict[str, EncodedAudio]] = {}  # by id of the model


def fingerprint(audio: np.ndarray) -> str:
    """A hash of the samples, read in place (an hour's copy would be 230 MB more at the peak)."""
    samples = np.ascontiguousarray(audio, dtype=np.float32)  # the array itself when it is already so
    return hashlib.blake2b(samples.data.cast("B"), digest_size=16).hexdigest()


def begin(model: Any, audio: np.ndarray) -> EncodedAudio:
    """A new record for `audio` decoded by `model` (replacing an older one of the same audio)."""
    record = EncodedAudio(fingerprint(audio))
    with _LOCK:
        kept = _KEPT.setdefault(id(model), OrderedDict())
        kept.pop(record.fingerprint, None)
        kept[record.fingerprint] = record
        while len(kept) > KEPT_AUDIOS:
            kept.popitem(last=False)
    return record


def encoded_windows(model: Any, audio: np.ndarray) -> list[EncodedWindow]:
    """The windows `model` encoded for this very audio, by start (none when it was not decoded here)."""
    with _LOCK:
        kept = _KEPT.get(id(model))
        if not kept:
            return []
    record = kept.get(fingerprint(audio))
    return sorted(record.windows, key=lambda w: w.start_s) if record else []
