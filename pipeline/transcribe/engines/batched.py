"""openai-whisper's own decoding, run on a batch of speech windows at once.

whisper.transcribe decodes one 30 s window after another, each waiting for the previous one's text
(its prompt). Here the voice-activity detector cuts the episode into windows of at most 30 s that
start and end in pauses (engines/vad.py), and `whisper.decode` runs on a batch of their mel
spectrograms, as faster-whisper's BatchedInferencePipeline does with CTranslate2: one decoder step
serves every window of the batch, which is what pays on a CPU, where a step for one window leaves
the cores mostly idle. Each window gets the article prompt (not the previous window's text, which
does not exist yet), whisper's per-window temperature fallback (only the windows that failed are
decoded again, together) and whisper's own word timings (whisper.timing.add_word_timestamps).

Each window is decoded without timestamp tokens, as faster-whisper's batched pipeline does. With
them, whisper often closes a window at a timestamp well before its end and stops there;
whisper.transcribe then seeks to that timestamp and decodes the rest in its next window, but a batch
of independent windows has no next window, and about 30 % of the words were lost that way
(measured on French speech). Without them the decoder writes the whole window's text; the word
timings then place each word, and segments are cut from those times (cut_segments): at sentence
ends, at pauses, and before a caption grows too long. The segments come out as
whisper.transcribe's dicts, in the episode's time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.transcribe.engines.base import DecodeOptions, ProgressClock, seeded_sampling
from pipeline.transcribe.engines.mel import log_mel_spectrogram_chunked
from pipeline.transcribe.engines.vad import HOP, SAMPLE_RATE, WINDOW_FRAMES, SpeechWindow, speech_windows

# Called with a window's padded mel and its encoder output, so that the word-timing pass that
# follows (it runs the whole model on the same mel) finds the output instead of encoding again.
RememberFn = Callable[[Any, Any], None]
# Called with a window's start, end (s) and encoder output, for the pair stage (engines/encoded.py).
KeepFn = Callable[[float, float, Any], None]
# Where segments are cut (whisper.transcribe's own segments run 2-10 s, a caption's length).
SENTENCE_ENDS = (".", "!", "?", "…", "。", "！", "？")
CLAUSE_ENDS = (",", ";", ":", "，", "、")
PAUSE_S = 0.8  # a silence this long between two words ends a segment
MAX_SEGMENT_S = 12.0  # a longer stretch without sentence end is cut at its last comma, or here
# A window's text ending this long before the window does leaves a rest to decode again.
MIN_REST_S = 1.0


@dataclass(frozen=True)
class _Decoding:
    """What one batch needs besides its windows: the model, the episode's mel, and how to decode."""

    model: Any
    mel: Any
    options: DecodeOptions
    prompt: list[int]
    tokenizer: Any
    remember: RememberFn
    keep: KeepFn | None


def decode_batched(
    model: Any,
    audio: np.ndarray,
    options: DecodeOptions,
    *,
    batch_size: int,
    clock: ProgressClock,
    remember: RememberFn,
    keep: KeepFn | None = None,
) -> list[dict[str, Any]]:
    """whisper.transcribe-style segment dicts (with "words") for the speech in `audio`.

    A window whose text stops before its speech does (whisper writes its end-of-text early now
    and then) leaves a rest, from its last word to its end, decoded again in the next batch, as
    whisper.transcribe seeks to where a window's text stopped.
    """
    import whisper
    from whisper.audio import N_SAMPLES

    queue = deque(speech_windows(audio))
    tokenizer = whisper.tokenizer.get_tokenizer(
        model.is_multilingual, num_languages=model.num_languages, language=options.language, task="transcribe"
    )
    prompt = tokenizer.encode(" " + options.initial_prompt.strip()) if options.initial_prompt else []
    mel = log_mel_spectrogram_chunked(audio, model.dims.n_mels, padding=N_SAMPLES)
    decoding = _Decoding(model, mel, options, prompt, tokenizer, remember, keep)
    total, done = max(sum(w.frames for w in queue), 1), 0
    segments: list[dict[str, Any]] = []
    while queue:
        batch = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
        rests: list[SpeechWindow] = []
        for window, found in zip(batch, _decode_batch(decoding, batch, segments), strict=True):
            segments.extend(found)
            rest = rest_of(window, found)
            done += window.frames - (rest.frames if rest else 0)
            rests += [rest] if rest else []
        queue.extendleft(reversed(rests))
        clock.report(done / total)
    return sorted(segments, key=lambda s: s["start"])


def rest_of(window: SpeechWindow, found: list[dict[str, Any]]) -> SpeechWindow | None:
    """The part of `window` after its last word, when that is long enough to hold more speech."""
    ends = [w["end"] for s in found for w in s.get("words") or []]
    if not ends:
        return None  # no word at all: silence, or nothing whisper could place
    first = max(window.start_frame, min(round(max(ends) * SAMPLE_RATE / HOP), window.start_frame + window.frames))
    rest = SpeechWindow(first, window.start_frame + window.frames - first)
    return rest if rest.duration_s >= MIN_REST_S else None


def _decode_batch(decoding: _Decoding, batch: list[SpeechWindow], before: list[dict[str, Any]]) -> list[list[Any]]:
    """Each window's segments, with word times, in the episode's time."""
    import torch
    import whisper

    model, mel = decoding.model, decoding.mel
    mels = torch.stack([whisper.pad_or_trim(mel[:, w.start_frame : w.start_frame + w.frames], WINDOW_FRAMES)
                        for w in batch]).to(model.device)
    with torch.no_grad():
        features = model.encoder(mels.half() if _fp16(model) else mels)
    results = _decode_with_fallback(model, features, decoding.options, decoding.prompt)
    out: list[list[Any]] = []
    for window, window_mel, feature, result in zip(batch, mels, features, results, strict=True):
        if _is_silence(result, decoding.options):
            out.append([])
            continue
        found = window_segment(result, window, decoding.tokenizer)
        decoding.remember(window_mel.unsqueeze(0), feature.unsqueeze(0))
        if decoding.keep is not None:
            decoding.keep(window.start_s, window.start_s + window.duration_s, feature)
        last_speech_s = max((s["end"] for s in before if s["end"] <= window.start_s + 0.01), default=0.0)
        whisper.timing.add_word_timestamps(
            segments=[found], model=model, tokenizer=decoding.tokenizer, mel=window_mel,
            num_frames=window.frames, last_speech_timestamp=last_speech_s,
        )
        clip_long_words(found.get("words") or [])
        out.append([s for s in cut_segments(found) if s["text"].strip() and s["start"] < s["end"]])
    return out


def _fp16(model: Any) -> bool:
    return bool(model.device.type == "cuda")


def _decode_with_fallback(model: Any, features: Any, options: DecodeOptions, prompt: list[int]) -> list[Any]:
    """whisper.transcribe's temperature fallback, per window: the failed ones are decoded again.

    A window that fails at every temperature keeps its most likely result that is not repetitive
    (faster-whisper's choice), not the last one, which at temperature 1 is often noise.
    """
    import whisper

    tried: list[list[Any]] = [[] for _ in range(len(features))]
    pending = list(range(len(features)))
    for temperature in options.temperatures:
        extra: dict[str, int] = {}
        if options.beam_size > 1:  # as whisper's CLI: beam search at 0, best-of-N sampling above
            extra = {"beam_size": options.beam_size} if temperature == 0 else {"best_of": options.beam_size}
        decoding = whisper.DecodingOptions(
            task="transcribe", language=options.language, temperature=temperature, prompt=prompt or None,
            without_timestamps=True, fp16=_fp16(model), **extra,
        )
        with seeded_sampling() if temperature > 0 else nullcontext():
            found = whisper.decode(model, features[pending], decoding)
        for index, result in zip(pending, found, strict=True):
            tried[index].append(result)
        pending = [i for i in pending if needs_fallback(tried[i][-1], options)]
        if not pending:
            break
    return [results[-1] if i not in pending else _best(results, options) for i, results in enumerate(tried)]


def _best(results: list[Any], options: DecodeOptions) -> Any:
    limit = options.compression_ratio_threshold
    plain = [r for r in results if limit is None or r.compression_ratio <= limit]
    return max(plain or results, key=lambda r: r.avg_logprob)


def needs_fallback(result: Any, options: DecodeOptions) -> bool:
    """whisper.transcribe's rule: too repetitive or too unlikely, unless it is silence."""
    too_repetitive = (
        options.compression_ratio_threshold is not None
        and result.compression_ratio > options.compression_ratio_threshold
    )
    unlikely = options.logprob_threshold is not None and result.avg_logprob < options.logprob_threshold
    silence = (
        options.no_speech_threshold is not None and result.no_speech_prob > options.no_speech_threshold and unlikely
    )
    return (too_repetitive or unlikely) and not silence


def _is_silence(result: Any, options: DecodeOptions) -> bool:
    """whisper.transcribe's skip: "no speech" likely, and the text not likely enough to keep."""
    if options.no_speech_threshold is None or result.no_speech_prob <= options.no_speech_threshold:
        return False
    return not (options.logprob_threshold is not None and result.avg_logprob > options.logprob_threshold)


def window_segment(result: Any, window: SpeechWindow, tokenizer: Any) -> dict[str, Any]:
    """A window's whole text as one whisper.transcribe-style segment, in the episode's time."""
    tokens = [t for t in result.tokens if t < tokenizer.eot]
    return {
        "seek": window.start_frame,
        "start": window.start_s,
        "end": window.start_s + window.duration_s,
        "text": tokenizer.decode(tokens),
        "tokens": tokens,
        "temperature": result.temperature,
        "avg_logprob": result.avg_logprob,
        "compression_ratio": result.compression_ratio,
        "no_speech_prob": result.no_speech_prob,
    }


def clip_long_words(words: list[dict[str, Any]]) -> None:
    """A word after a comma, a sentence's end or a pause ends at most twice the median word length
    after its start (in place): whisper.transcribe's rule for the first words of its segments.

    Without timestamp tokens, a window is one segment of up to 30 s, and the word alignment gives
    the pause before a word to that word ("whereas" from 94.2 to 96.4 s, said from 96.1 s): its
    start is where the passage starts for the pairing. whisper clips such words at the start of
    each of its own segments, which fall in pauses; here a window's pauses are inside it.
    """
    durations = [w["end"] - w["start"] for w in words if w["end"] > w["start"]]
    if not durations:
        return
    longest = 2 * min(0.7, float(np.median(durations)))  # whisper.timing's max_duration
    for previous, word in zip(words, words[1:], strict=False):
        after_break = previous["word"].strip().endswith(SENTENCE_ENDS + CLAUSE_ENDS) or (
            word["start"] - previous["end"] >= PAUSE_S / 2
        )
        if after_break and word["end"] - word["start"] > longest:
            word["start"] = max(previous["end"], word["end"] - longest)


def cut_segments(window: dict[str, Any]) -> list[dict[str, Any]]:
    """A window's segment (with "words") cut into caption-sized segments at its words' times."""
    words = window.get("words") or []
    if not words:  # no word placed (it happens on a few tokens of noise): keep the text, untimed
        return [window] if window["text"].strip() else []
    segments = []
    for first, last in _cut_points(words):
        piece = words[first:last]
        segments.append({
            **window,
            "start": piece[0]["start"],
            "end": piece[-1]["end"],
            "text": "".join(w["word"] for w in piece),
            "words": piece,
        })
    return segments


def _cut_points(words: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """[first, last) word ranges: a sentence end or a pause ends one; none spans over MAX_SEGMENT_S."""
    ranges: list[tuple[int, int]] = []
    first = 0
    for i, word in enumerate(words):
        if i > first and word["end"] - words[first]["start"] > MAX_SEGMENT_S:
            clause = [j for j in range(first + 1, i) if words[j - 1]["word"].strip().endswith(CLAUSE_ENDS)
                      and word["end"] - words[j]["start"] <= MAX_SEGMENT_S]
            cut = clause[-1] if clause else i
            ranges.append((first, cut))
            first = cut
        ends_sentence = word["word"].strip().endswith(SENTENCE_ENDS)
        pause_follows = i + 1 < len(words) and words[i + 1]["start"] - word["end"] >= PAUSE_S
        if ends_sentence or pause_follows:
            ranges.append((first, i + 1))
            first = i + 1
    if first < len(words):
        ranges.append((first, len(words)))
    return ranges
