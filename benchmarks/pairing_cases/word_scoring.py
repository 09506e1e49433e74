"""Scoring the word-precision cases: start shares at ±0.5 s and ±1.0 s, spoken headings, the
audio-only IoU, and WER before and after the article's corrections on read and retold passages."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cases import Case
from scoring import _iou
from word_cases import Passage, WordCase

from pipeline.models import Pairing, Transcript

HEADING_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class WordResult:
    case: str
    blocks: int
    within_05: float
    within_10: float
    worst_s: float | None
    headings: str  # "said ones dated within ±0.5 s / said ones", or "—"
    unspoken_marked: bool | None  # headings never said came out spoken: false
    iou: float | None


def score_words(case: Case, pairing: Pairing) -> WordResult:
    by_index = {b.index: b for b in pairing.blocks}
    errors = [
        abs(by_index[i].start_s - t) if by_index[i].start_s is not None and by_index[i].status == "paired" else 99.0
        for i, t in case.truth_starts.items()
    ]
    headings = getattr(case, "heading_starts", {})
    said = [
        by_index[i].spoken and by_index[i].start_s is not None and abs(by_index[i].start_s - t) <= HEADING_TOLERANCE_S
        for i, t in headings.items()
    ]
    unsaid = [b for b in pairing.blocks if b.kind == "heading" and b.index not in headings and b.status == "paired"]
    found = [(s.start_s, s.end_s) for s in pairing.audio_only]
    iou = (
        min(max((_iou(truth, f) for f in found), default=0.0) for truth in case.audio_only) if case.audio_only else None
    )
    return WordResult(
        case=case.name,
        blocks=len(errors),
        within_05=sum(e <= 0.5 for e in errors) / max(len(errors), 1),
        within_10=sum(e <= 1.0 for e in errors) / max(len(errors), 1),
        worst_s=max(errors) if errors else None,
        headings=f"{sum(said)}/{len(said)}" if said else "—",
        unspoken_marked=all(b.spoken is False for b in unsaid) if unsaid else None,
        iou=iou,
    )


def passage_wer(transcript: Transcript, passages: list[Passage], language: str) -> float | None:
    """Corpus WER over the passages: the transcript's words whose middle lies in each passage."""
    import jiwer
    from whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer

    if not passages:
        return None
    normalize = EnglishTextNormalizer() if language == "en" else BasicTextNormalizer()
    words = [w for s in transcript.segments for w in s.words]
    refs, hyps = [], []
    for p in passages:
        said = "".join(w.text for w in words if p.start_s <= (w.start_s + w.end_s) / 2 < p.end_s)
        refs.append(normalize(p.text))
        hyps.append(normalize(said))
    out = jiwer.process_words(refs, hyps)
    return float(out.wer)


def timed_transcript(case: WordCase, *, models_dir: Path, cache: Path, transcribe) -> tuple[Transcript, float | None]:  # type: ignore[no-untyped-def]
    """The case's transcript (cached) and the seconds its transcription took, when recorded."""
    sidecar = cache / f"{Path(case.audio).stem}-openai-seconds.json"
    started = time.perf_counter()
    transcript = transcribe(case, models_dir=models_dir, cache=cache, engine="openai-whisper")
    seconds = time.perf_counter() - started
    if seconds > 2.0:  # it was transcribed now, not read from the cache
        sidecar.write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    elif sidecar.exists():
        seconds = json.loads(sidecar.read_text(encoding="utf-8"))["seconds"]
    else:
        return transcript, None
    return transcript, seconds


def load_audio(case: Case) -> np.ndarray:
    from pipeline.transcribe.stage import load_speech

    return load_speech(Path(case.audio))
