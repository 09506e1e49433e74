"""openai-whisper's own decoding, run on a batch of speech windows at once.

whisper.transcribe decodes one 30 s window after another, each waiting for the previous one's text
(its prompt). Here the voice-activity detector cuts the episode into windows of at most 30 s that
start and end in pauses (engines/vad.py), and `whisper.decode` runs on a batch of their mel
spectrograms, as faster-whisper's BatchedInferencePipeline does with CTranslate2: one decoder step
serves every window of the batch, which is what pays on a CPU, where a step for one window leaves
the cores mostly idle. Each window gets the article prompt (not the previous window's text, which
does not exist yet), whisper's per-window temperature fallback (only the windows that failed are
decoded again, together) and whisper's own word timings (whisper.timing.add_word_timestamps).
The segments come out as whisper.transcribe's dicts, in the episode's time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.transcribe.engines.base import DecodeOptions, ProgressClock
from pipeline.transcribe.engines.mel import log_mel_spectrogram_chunked
from pipeline.transcribe.engines.vad import WINDOW_FRAMES, SpeechWindow, speech_windows

# Called with a window's padded mel and its encoder output, so that the word-timing pass that
# follows (it runs the whole model on the same mel) finds the output instead of encoding again.
RememberFn = Callable[[Any, Any], None]
TIME_PER_TOKEN_S = 0.02  # whisper's timestamp tokens step by 20 ms


def decode_batched(
    model: Any,
    audio: np.ndarray,
    options: DecodeOptions,
    *,
    batch_size: int,
    clock: ProgressClock,
    remember: RememberFn,
) -> list[dict[str, Any]]:
    """whisper.transcribe-style segment dicts (with "words") for the speech in `audio`."""
    import torch
    import whisper
    from whisper.audio import N_SAMPLES

    windows = speech_windows(audio)
    mel = log_mel_spectrogram_chunked(audio, model.dims.n_mels, padding=N_SAMPLES)
    tokenizer = whisper.tokenizer.get_tokenizer(
        model.is_multilingual, num_languages=model.num_languages, language=options.language, task="transcribe"
    )
    prompt = tokenizer.encode(" " + options.initial_prompt.strip()) if options.initial_prompt else []
    total = max(sum(w.frames for w in windows), 1)
    done, last_speech_s = 0, 0.0
    segments: list[dict[str, Any]] = []
    for first in range(0, len(windows), batch_size):
        batch = windows[first : first + batch_size]
        mels = torch.stack([whisper.pad_or_trim(mel[:, w.start_frame : w.start_frame + w.frames], WINDOW_FRAMES)
                            for w in batch]).to(model.device)
        with torch.no_grad():
            features = model.encoder(mels.half() if _fp16(model) else mels)
        results = _decode_with_fallback(model, features, options, prompt)
        for window, window_mel, feature, result in zip(batch, mels, features, results, strict=True):
            if _is_silence(result, options):
                continue
            found = split_segments(result, window, tokenizer)
            remember(window_mel.unsqueeze(0), feature.unsqueeze(0))
            whisper.timing.add_word_timestamps(
                segments=found, model=model, tokenizer=tokenizer, mel=window_mel, num_frames=window.frames,
                last_speech_timestamp=last_speech_s,
            )
            kept = [s for s in found if s["text"].strip() and s["start"] < s["end"]]
            if kept and kept[-1].get("words"):
                last_speech_s = kept[-1]["words"][-1]["end"]
            segments.extend(kept)
        done += sum(w.frames for w in batch)
        clock.report(done / total)
    return segments


def _fp16(model: Any) -> bool:
    return bool(model.device.type == "cuda")


def _decode_with_fallback(model: Any, features: Any, options: DecodeOptions, prompt: list[int]) -> list[Any]:
    """whisper.transcribe's temperature fallback, per window: the failed ones are decoded again."""
    import whisper

    results: list[Any] = [None] * len(features)
    pending = list(range(len(features)))
    for temperature in options.temperatures:
        extra: dict[str, int] = {}
        if options.beam_size > 1:  # as whisper's CLI: beam search at 0, best-of-N sampling above
            extra = {"beam_size": options.beam_size} if temperature == 0 else {"best_of": options.beam_size}
        decoding = whisper.DecodingOptions(
            task="transcribe", language=options.language, temperature=temperature, prompt=prompt or None,
            fp16=_fp16(model), **extra,
        )
        for index, result in zip(pending, whisper.decode(model, features[pending], decoding), strict=True):
            results[index] = result
        pending = [i for i in pending if needs_fallback(results[i], options)]
        if not pending:
            break
    return results


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


def split_segments(result: Any, window: SpeechWindow, tokenizer: Any) -> list[dict[str, Any]]:
    """Cut a window's tokens at whisper's timestamp pairs into segments, in the episode's time.

    Unlike whisper.transcribe, the text after the last timestamp pair is kept (up to the window's
    end): the window ends in a pause, so nothing follows in another window to decode it again.
    """
    tokens = list(result.tokens)
    begin = tokenizer.timestamp_begin
    stamp = [t >= begin for t in tokens]
    cuts = [i + 1 for i in range(len(tokens) - 1) if stamp[i] and stamp[i + 1]]
    pieces, last = [], 0
    for cut in [*cuts, len(tokens)]:
        if tokens[last:cut]:
            pieces.append(tokens[last:cut])
        last = cut
    segments: list[dict[str, Any]] = []
    end_s = 0.0
    for piece in pieces:
        start_s = (piece[0] - begin) * TIME_PER_TOKEN_S if piece[0] >= begin else end_s
        end_s = (piece[-1] - begin) * TIME_PER_TOKEN_S if piece[-1] >= begin else window.duration_s
        text_tokens = [t for t in piece if t < tokenizer.eot]
        if not text_tokens:
            continue
        segments.append({
            "seek": window.start_frame,
            "start": window.start_s + start_s,
            "end": window.start_s + min(max(end_s, start_s), window.duration_s),
            "text": tokenizer.decode(text_tokens),
            "tokens": piece,
            "temperature": result.temperature,
            "avg_logprob": result.avg_logprob,
            "compression_ratio": result.compression_ratio,
            "no_speech_prob": result.no_speech_prob,
        })
    return segments
