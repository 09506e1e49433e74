"""faster-whisper (CTranslate2) behind the Engine interface; its Segment objects become ours here."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import TranscriptionError
from pipeline.models import Segment, Word
from pipeline.transcribe.engines.base import SAMPLE_RATE, SAMPLING_SEED, DecodeOptions, ProgressClock, ProgressFn


@functools.lru_cache(maxsize=2)
def _load_model(path: str, compute_type: str, threads: int, device: str) -> Any:
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=threads)
    except (RuntimeError, ValueError, OSError) as exc:
        raise TranscriptionError(f"speech model in {path} cannot be loaded ({exc})") from exc


def _to_segment(i: int, seg: Any) -> Segment:
    words = [
        Word(start_s=float(w.start), end_s=float(w.end), text=w.word, probability=float(w.probability))
        for w in (seg.words or [])
    ]
    return Segment(
        id=i,
        start_s=float(seg.start),
        end_s=float(seg.end),
        text=seg.text.strip(),
        words=words,
        avg_logprob=float(seg.avg_logprob),
        no_speech_prob=float(seg.no_speech_prob),
        compression_ratio=float(seg.compression_ratio),
    )


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(
        self, model_dir: Path, *, model_name: str, threads: int, compute_type: str, device: str = "cpu"
    ) -> None:
        self.model_name = model_name
        self.model = _load_model(str(model_dir), compute_type, threads, device)

    def language_probs(self, window: np.ndarray) -> dict[str, float]:
        _, _, all_probs = self.model.detect_language(audio=window, language_detection_segments=1)
        return {str(code): float(p) for code, p in all_probs}

    def decode(self, audio: np.ndarray, options: DecodeOptions, progress: ProgressFn | None) -> list[Segment]:
        duration_s = max(len(audio) / SAMPLE_RATE, 1e-6)
        clock = ProgressClock(progress)
        common: dict[str, Any] = dict(
            language=options.language,
            task="transcribe",
            beam_size=options.beam_size,
            best_of=max(options.beam_size, 1),
            temperature=list(options.temperatures),
            compression_ratio_threshold=options.compression_ratio_threshold,
            log_prob_threshold=options.logprob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            initial_prompt=options.initial_prompt,
            word_timestamps=True,
        )
        if options.batch_size > 1 and options.hallucination_silence_threshold_s is None:
            # faster-whisper's own batched pipeline: speech windows cut by its voice-activity
            # detector, decoded `batch_size` at a time, with segment timestamps (its default is one
            # segment per window). It decodes at the first temperature only: no fallback.
            from faster_whisper import BatchedInferencePipeline

            pieces, _info = BatchedInferencePipeline(self.model).transcribe(
                audio, batch_size=options.batch_size, without_timestamps=False, vad_filter=True, **common
            )
        else:
            import ctranslate2

            # The fallback's sampling from one seed: one recording, one transcript (base.seeded_sampling).
            ctranslate2.set_random_seed(SAMPLING_SEED)
            pieces, _info = self.model.transcribe(
                audio,
                condition_on_previous_text=options.condition_on_previous_text,
                hallucination_silence_threshold=options.hallucination_silence_threshold_s,
                vad_filter=False,
                **common,
            )
        segments = []
        for i, seg in enumerate(pieces):  # a generator: decoding happens while we iterate
            segments.append(_to_segment(i, seg))
            clock.report(seg.end / duration_s)
        clock.report(1.0)
        return segments
