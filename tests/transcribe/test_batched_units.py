"""Fast checks of batched decoding's pieces: speech windows, segment cutting, the fallback rule."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipeline.config import TranscribeSettings
from pipeline.transcribe.engines.base import DecodeOptions
from pipeline.transcribe.engines.batched import clip_long_words, cut_segments, needs_fallback, rest_of, window_segment
from pipeline.transcribe.engines.vad import SpeechWindow, group_windows
from pipeline.transcribe.stage import decode_options, resolve_device

SR = 16000


def test_speech_is_grouped_into_windows_of_at_most_30_s() -> None:
    speech = [(0, 10 * SR), (11 * SR, 25 * SR), (26 * SR, 40 * SR), (41 * SR, 45 * SR), (90 * SR, 95 * SR)]
    windows = group_windows(speech, 100 * SR)
    assert windows == [SpeechWindow(0, 2500), SpeechWindow(2600, 1900), SpeechWindow(9000, 500)]
    assert all(w.frames <= 3000 for w in windows)
    assert windows[1].start_s == 26.0 and windows[1].duration_s == 19.0


def test_a_long_episode_is_run_through_the_detector_in_pieces_cut_where_it_is_quiet(speech) -> None:
    """Real speech (the FLEURS clips and ej-fra twice, 3.3 minutes with short pauses, in pieces of at
    most a minute): every cut falls in a pause, and the speech found is the whole-audio pass's but
    for 2 % of it (the detector's memory starts afresh at each cut; measured: 1.0 %)."""
    import numpy as np

    from pipeline.transcribe.engines.vad import find_speech, pieces
    from pipeline.transcribe.stage import load_speech

    files = sorted(speech.glob("fleurs-fr-*.ogg")) + [speech / "ej-fra.m4a"]
    gap = np.zeros(SR // 2, np.float32)
    audio = np.concatenate([np.concatenate([load_speech(f), gap]) for f in files * 2])
    cuts = pieces(audio, chunk_s=60.0)
    assert len(cuts) >= 4 and all(end - start <= 60 * SR for start, end in cuts)
    assert [b for _, b in cuts[:-1]] == [a for a, _ in cuts[1:]] and cuts[-1][1] == len(audio)
    whole, piecewise = find_speech(audio, chunk_s=1e9), find_speech(audio, chunk_s=60.0)
    assert len(pieces(audio, chunk_s=1e9)) == 1

    def mask(ranges: list[tuple[int, int]]) -> np.ndarray:
        m = np.zeros(len(audio), bool)
        for a, b in ranges:
            m[a:b] = True
        return m

    w, p = mask(whole), mask(piecewise)
    level = np.sqrt(np.mean(np.square(audio)))
    for _, cut in cuts[:-1]:
        assert cut % 512 == 0  # on the detector's grid, as in the whole pass
        assert np.sqrt(np.mean(np.square(audio[cut - SR // 4 : cut + SR // 4]))) < 0.1 * level
    assert (w ^ p).sum() <= 0.02 * w.sum() and w.sum() > 0.7 * len(audio)
    assert all(b - a < 30 * SR for a, b in piecewise) and piecewise == sorted(piecewise)


def test_no_speech_gives_no_window_and_the_end_is_clipped() -> None:
    assert group_windows([], 10 * SR) == []
    assert group_windows([(SR, 10 * SR + 77)], 10 * SR) == [SpeechWindow(100, 900)]


@dataclass
class FakeTokenizer:
    """The two things window_segment asks of whisper's tokenizer."""

    eot: int = 50257

    def decode(self, tokens: list[int]) -> str:
        return " " + "-".join(str(t) for t in tokens)


@dataclass(frozen=True)
class FakeResult:
    tokens: list[int]
    temperature: float = 0.0
    avg_logprob: float = -0.3
    compression_ratio: float = 1.5
    no_speech_prob: float = 0.01


def test_a_window_is_one_segment_in_the_episode_time() -> None:
    window = SpeechWindow(start_frame=1000, frames=2000)  # 10 s to 30 s
    segment = window_segment(FakeResult([1, 2, 3, 50257]), window, FakeTokenizer())
    assert (segment["start"], segment["end"], segment["text"], segment["tokens"]) == (10.0, 30.0, " 1-2-3", [1, 2, 3])
    assert segment["seek"] == 1000 and segment["avg_logprob"] == -0.3


def words(*spec: tuple[float, float, str]) -> list[dict[str, object]]:
    return [{"start": a, "end": b, "word": w, "probability": 0.9} for a, b, w in spec]


def cut(spec: list[dict[str, object]]) -> list[tuple[float, float, str]]:
    window = {"seek": 0, "start": 0.0, "end": 30.0, "text": "", "tokens": [], "words": spec}
    return [(s["start"], s["end"], s["text"]) for s in cut_segments(window)]


def test_segments_are_cut_at_sentence_ends_and_pauses() -> None:
    spec = words((0.5, 0.9, " Bonjour."), (1.0, 1.4, " Je"), (1.5, 2.0, " suis"), (3.0, 3.5, " là"),
                 (3.6, 4.0, " aujourd'hui!"), (4.2, 4.6, " Merci"))
    assert cut(spec) == [(0.5, 0.9, " Bonjour."), (1.0, 2.0, " Je suis"), (3.0, 4.0, " là aujourd'hui!"),
                         (4.2, 4.6, " Merci")]


def test_a_long_sentence_is_cut_at_its_last_comma_before_12_s() -> None:
    spec = words(*[(float(i), i + 0.5, f" w{i}" + ("," if i in (3, 7) else "")) for i in range(20)])
    found = cut(spec)
    assert [s[0] for s in found] == [0.0, 8.0] and found[0][2].endswith("w7,")
    assert all(end - start <= 12.0 for start, end, _ in found)
    assert " ".join(s[2] for s in found).split() == [w["word"].strip() for w in spec]  # no word lost


def test_a_window_without_words_keeps_its_text_or_gives_nothing() -> None:
    window = {"seek": 0, "start": 2.0, "end": 9.0, "text": " euh", "tokens": [5], "words": []}
    assert cut_segments(window) == [window]
    assert cut_segments({**window, "text": " "}) == []


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
    assert options().batch_size == TranscribeSettings().decode_batch_size == 4  # openai-whisper's default
    assert TranscribeSettings(engine="faster-whisper").decode_batch_size == 1  # no fallback when batched
    assert TranscribeSettings(engine="faster-whisper", batch_size=8).decode_batch_size == 8
    assert options(batch_size=1).batch_size == 1
    assert options(batch_size=4).batch_size == 4
    assert resolve_device(TranscribeSettings(device="cpu")) == "cpu"
    import torch

    assert resolve_device(TranscribeSettings()) == ("cuda" if torch.cuda.is_available() else "cpu")


def test_a_window_whose_text_stops_early_leaves_a_rest() -> None:
    window = SpeechWindow(start_frame=1000, frames=2000)  # 10 s to 30 s
    found = [{"start": 10.5, "end": 18.0, "words": words((10.5, 11.0, " Nous"), (17.2, 18.04, " servi."))}]
    assert rest_of(window, found) == SpeechWindow(1804, 1196)  # from the last word's end to 30 s
    found[0]["words"] = words((10.5, 11.0, " Nous"), (28.5, 29.5, " fin."))
    assert rest_of(window, found) is None  # under a second left
    assert rest_of(window, []) is None


def test_a_word_stretched_over_the_pause_before_it_is_clipped() -> None:
    """The alignment gave the pause after "freedoms," to "whereas" (94.2-96.4 s, said from 96.1 s)."""
    def word(text: str, start: float, end: float) -> dict:  # type: ignore[type-arg]
        return {"word": text, "start": start, "end": end, "probability": 0.9}

    words = [word(" and", 92.44, 92.58), word(" fundamental", 92.58, 92.98), word(" freedoms,", 92.98, 93.74),
             word(" whereas", 94.22, 96.40), word(" a", 96.40, 96.86), word(" common", 96.86, 97.18),
             word(" understanding", 97.18, 97.86), word(" slowly", 97.86, 99.90)]
    clip_long_words(words)
    # Twice the median word (0.46 and 0.68 s in the middle: 0.57 s) at most, as whisper.timing does.
    assert words[3]["start"] == pytest.approx(96.40 - 2 * 0.57) and words[3]["end"] == 96.40
    assert words[7]["start"] == 97.86  # long too, but after no comma nor pause: as aligned
    assert [w["start"] for w in words[:3]] == [92.44, 92.58, 92.98]
