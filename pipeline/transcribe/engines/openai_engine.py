"""openai-whisper behind the Engine interface; its result dict becomes typed Segments here."""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from pipeline.errors import TranscriptionError
from pipeline.models import Segment, Word
from pipeline.transcribe.engines import encoded
from pipeline.transcribe.engines.base import DecodeOptions, ProgressClock, ProgressFn, seeded_sampling
from pipeline.transcribe.engines.batched import decode_batched
from pipeline.transcribe.engines.mel import log_mel_spectrogram_chunked
from pipeline.transcribe.model_cache import whisper_alignment_heads

log = logging.getLogger(__name__)
# whisper reports progress through a module-level tqdm: one decode at a time may hook the module.
_HOOK_LOCK = threading.Lock()
# Each loaded model's encoder memory (see _EncoderMemory), by id of the model.
_MEMORIES: dict[int, _EncoderMemory] = {}


def shared_model(checkpoint: Path, name: str, device: str = "cpu") -> Any:
    """The process's one copy of the checkpoint's model (the transcription's, when it ran here)."""
    return _load_model(str(checkpoint), checkpoint.stat().st_mtime_ns, name, device)


@functools.lru_cache(maxsize=2)
def _load_model(path: str, mtime_ns: int, name: str, device: str) -> Any:
    import torch
    from whisper.model import ModelDimensions, Whisper

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = Whisper(ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    except (RuntimeError, KeyError, OSError) as exc:
        raise TranscriptionError(
            f"speech model file {path} cannot be loaded ({exc}): run `diptych models install {name}`"
        ) from exc
    if "alignment_heads" in checkpoint:
        # Word timings depend on these heads; whisper's defaults would be wrong for a converted model.
        mask = checkpoint["alignment_heads"].to(torch.bool)
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    elif (heads := whisper_alignment_heads(name)) is not None:
        model.set_alignment_heads(heads)
    model = model.to(device).eval()
    _MEMORIES[id(model)] = _EncoderMemory(model.encoder)
    return model


class _EncoderMemory:
    """Encode each 30 s window once, not twice.

    whisper.transcribe decodes a window, then finds its word timings by running the whole model on
    the same window again (whisper.timing.find_alignment calls model(mel, tokens)): the audio
    encoder, the costliest part, ran twice per window. The encoder's output depends on its input
    alone, so the last input and output are kept (per thread: several episodes may share the
    model) and an equal input gets the same output back. Measured on ../shared/testdata/speech with
    `base`: the same words at the same times, 40 % less decoding time. Batched decoding encodes a
    whole batch at once and hands each window's output over with `remember` before its timings.
    """

    def __init__(self, encoder: Any) -> None:
        self.compute = encoder.forward
        self.last = threading.local()

        def forward(mel: Any) -> Any:  # a plain function: copy.deepcopy(model) keeps it as it is
            return self.forward(mel)

        encoder.forward = forward

    def remember(self, mel: Any, out: Any) -> None:
        self.last.pair = (mel.detach().clone(), out)

    def forward(self, mel: Any) -> Any:
        import torch

        seen = getattr(self.last, "pair", None)
        if seen is not None and seen[0].shape == mel.shape and torch.equal(seen[0], mel):
            return seen[1]
        out = self.compute(mel)
        self.remember(mel, out)
        return out


class _ProgressBar:
    """Stands in for tqdm.tqdm inside whisper.transcribe: counts mel frames decoded."""

    def __init__(self, clock: ProgressClock, total: int) -> None:
        self.clock, self.total, self.done = clock, max(total, 1), 0

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        self.done += n
        self.clock.report(self.done / self.total)


@contextmanager
def _hook_whisper(clock: ProgressClock) -> Iterator[None]:
    """Inside whisper.transcribe: report progress, and compute the log-mel in bounded memory."""
    module = importlib.import_module("whisper.transcribe")
    hooks = {
        "tqdm": SimpleNamespace(tqdm=lambda total=0, **_: _ProgressBar(clock, int(total))),
        "log_mel_spectrogram": log_mel_spectrogram_chunked,
    }
    with _HOOK_LOCK:
        originals = {name: getattr(module, name) for name in hooks}
        for name, hook in hooks.items():
            setattr(module, name, hook)
        try:
            yield
        finally:
            for name, original in originals.items():
                setattr(module, name, original)


def _to_segments(result: dict[str, Any]) -> list[Segment]:
    segments = []
    for i, seg in enumerate(result["segments"]):
        words = [
            Word(
                start_s=float(w["start"]),
                end_s=float(w["end"]),
                text=w["word"],
                probability=float(w["probability"]),
            )
            for w in seg.get("words", [])
        ]
        segments.append(
            Segment(
                id=i,
                start_s=float(seg["start"]),
                end_s=float(seg["end"]),
                text=seg["text"].strip(),
                words=words,
                avg_logprob=float(seg["avg_logprob"]),
                no_speech_prob=float(seg["no_speech_prob"]),
                compression_ratio=float(seg["compression_ratio"]),
            )
        )
    return segments


class OpenAIWhisperEngine:
    name = "openai-whisper"

    def __init__(self, checkpoint: Path, *, model_name: str, threads: int, device: str = "cpu") -> None:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        self.model_name = model_name
        self.model = shared_model(checkpoint, model_name, device)
        self.fp16 = device == "cuda"

    def language_probs(self, window: np.ndarray) -> dict[str, float]:
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(window), self.model.dims.n_mels)
        _, probs = self.model.detect_language(mel.to(self.model.device))
        return {str(k): float(v) for k, v in probs.items()}

    def decode(self, audio: np.ndarray, options: DecodeOptions, progress: ProgressFn | None) -> list[Segment]:
        clock = ProgressClock(progress)
        if options.batch_size > 1 and options.hallucination_silence_threshold_s is None:
            memory = _MEMORIES[id(self.model)]
            kept = encoded.begin(self.model, audio)
            found = decode_batched(
                self.model, audio, options, batch_size=options.batch_size, clock=clock, remember=memory.remember,
                keep=kept.keep,
            )
            result: dict[str, Any] = {"segments": found}
        else:
            # One window after another, each conditioned on the previous text (and the only path
            # that can skip silences around a likely hallucination: it needs whisper's seeking).
            result = self._transcribe(audio, options, clock)
        clock.report(1.0)
        return _to_segments(result)

    def _transcribe(self, audio: np.ndarray, options: DecodeOptions, clock: ProgressClock) -> dict[str, Any]:
        import whisper

        kwargs: dict[str, Any] = {}
        if options.beam_size > 1:
            # As whisper's CLI: beam search at temperature 0, best-of-5 sampling on fallback.
            kwargs.update(beam_size=options.beam_size, best_of=options.beam_size)
        with _hook_whisper(clock), seeded_sampling():
            result: dict[str, Any] = whisper.transcribe(
                self.model,
                audio,
                language=options.language,
                task="transcribe",
                temperature=options.temperatures,
                compression_ratio_threshold=options.compression_ratio_threshold,
                logprob_threshold=options.logprob_threshold,
                no_speech_threshold=options.no_speech_threshold,
                condition_on_previous_text=options.condition_on_previous_text,
                initial_prompt=options.initial_prompt,
                word_timestamps=True,
                hallucination_silence_threshold=options.hallucination_silence_threshold_s,
                fp16=self.fp16,
                verbose=None,
                **kwargs,
            )
        return result
