"""Fast checks of batched decoding's pieces: speech windows, segment cutting, the fallback rule."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pipeline.config import TranscribeSettings
from pipeline.transcribe.engines.base import DecodeOptions
from pipeline.transcribe.engines.batched import needs_fallback, split_segments
from pipeline.transcribe.engines.vad import SpeechWindow, group_windows
from pipeline.transcribe.stage import decode_options, resolve_device

SR = 16000


def test_speech_is_grouped_into_windows_of_at_most_30_s() -> None:
    speech = [(0, 10 * SR), (11 * SR, 25 * SR), (26 * SR, 40 * SR), (41 * SR, 45 * SR), (90 * SR, 95 * SR)]
    windows = group_windows(speech, 100 * SR)
    assert windows == [SpeechWindow(0, 2500), SpeechWindow(2600, 1900), SpeechWindow(9000, 500)]
    assert all(w.frames <= 3000 for w in windows)
    assert windows[1].start_s == 26.0 and windows[1].duration_s == 19.0


def test_no_speech_gives_no_window_and_the_end_is_clipped() -> None:
    assert group_windows([], 10 * SR) == []
    assert group_windows([(SR, 10 * SR + 77)], 10 * SR) == [SpeechWindow(100, 900)]


@dataclass
class FakeTokenizer:
    """The three things split_segments asks of whisper's tokenizer."""

    eot: int = 50257
    timestamp_begin: int = 50364
    decoded: list[list[int]] = field(default_factory=list)

    def decode(self, tokens: list[int]) -> str:
        self.decoded.append(tokens)
        return " " + "-".join(str(t) for t in tokens)


@dataclass(frozen=True)
class FakeResult:
    tokens: list[int]
    temperature: float = 0.0
    avg_logprob: float = -0.3
    compression_ratio: float = 1.5
    no_speech_prob: float = 0.01


def test_tokens_are_cut_at_timestamp_pairs_in_the_episode_time() -> None:
    ts = FakeTokenizer().timestamp_begin
    window = SpeechWindow(start_frame=1000, frames=2000)  # 10 s to 30 s
    # <0.00> 1 2 <2.00><2.00> 3 <4.00><4.00> 4 5 (no closing timestamp: kept, up to the window's end)
    tokens = [ts, 1, 2, ts + 100, ts + 100, 3, ts + 200, ts + 200, 4, 5]
    segments = split_segments(FakeResult(tokens), window, FakeTokenizer())
    assert [(s["start"], s["end"], s["text"]) for s in segments] == [
        (10.0, 12.0, " 1-2"),
        (12.0, 14.0, " 3"),
        (14.0, 30.0, " 4-5"),
    ]
    assert all(s["seek"] == 1000 for s in segments)


def test_a_window_without_text_gives_no_segment() -> None:
    ts = FakeTokenizer().timestamp_begin
    assert split_segments(FakeResult([ts, ts + 50]), SpeechWindow(0, 3000), FakeTokenizer()) == []


def options(**kwargs: object) -> DecodeOptions:
    return decode_options(TranscribeSettings(**kwargs), "fr", None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("logprob", "ratio", "no_speech", "expected"),
    [
        (-0.3, 1.5, 0.01, False),  # fine
        (-1.5, 1.5, 0.01, True),  # unlikely
        (-0.3, 3.0, 0.01, True),  # repetitive
        (-1.5, 1.5, 0.9, False),  # silence: whisper does not retry it
    ],
)
def test_fallback_follows_whispers_rule(logprob: float, ratio: float, no_speech: float, expected: bool) -> None:
    result = FakeResult([], avg_logprob=logprob, compression_ratio=ratio, no_speech_prob=no_speech)
    assert needs_fallback(result, options()) is expected


def test_batch_size_and_device_reach_the_engine() -> None:
    assert options().batch_size == TranscribeSettings().batch_size == 1
    assert options(batch_size=4).batch_size == 4
    assert resolve_device(TranscribeSettings(device="cpu")) == "cpu"
    import torch

    assert resolve_device(TranscribeSettings()) == ("cuda" if torch.cuda.is_available() else "cpu")
