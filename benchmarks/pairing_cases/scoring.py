"""Transcribing the cases with the product's own Whisper stage, and scoring a pairing against the truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cases import Case, audio_key

from pipeline.config import TranscribeSettings
from pipeline.models import Pairing, Transcript
from pipeline.store import read_model_or_none, sha256_json, write_model
from pipeline.transcribe.model_cache import install_model
from pipeline.transcribe.stage import transcribe_audio

TOLERANCE_S = 2.0


@dataclass(frozen=True)
class CaseResult:
    case: str
    blocks: int  # blocks with a truth time
    within: float  # share of them paired within ±2 s of the truth
    false_text_only: int  # blocks the recording tells that came out text only
    iou: float | None  # worst IoU of a spliced-in stretch with the best audio-only span found
    extra_flagged: bool | None  # the paragraph never said came out text only
    worst_error_s: float | None


def transcribe_case(case: Case, *, models_dir: Path, cache: Path, engine: str) -> Transcript:
    """The real Whisper base model through pipeline.transcribe; cached by audio hash and engine."""
    settings = TranscribeSettings(engine=engine)  # type: ignore[arg-type]
    # correct_from_article is the pair stage's: it changes no word of the transcription.
    options = sha256_json(settings.model_dump(mode="json", exclude={"correct_from_article"}))[:12]
    path = cache / f"{audio_key(case.audio, engine)}-{options}.json"
    cached = read_model_or_none(path, Transcript)
    if cached is not None:
        return cached
    install_model("base", models_dir)
    transcript = transcribe_audio(
        case.audio,
        settings=settings,
        models_dir=models_dir,
        audio_sha256=audio_key(case.audio, engine),
        language=case.language,
    )
    write_model(path, transcript)
    return transcript


def score_case(case: Case, pairing: Pairing) -> CaseResult:
    by_index = {b.index: b for b in pairing.blocks}
    errors: list[float] = []
    false_text_only = 0
    for idx, truth in case.truth_starts.items():
        block = by_index[idx]
        if block.status != "paired" or block.start_s is None:
            false_text_only += 1
            continue
        errors.append(abs(block.start_s - truth))
    within = sum(e <= TOLERANCE_S for e in errors) / len(case.truth_starts)
    return CaseResult(
        case=case.name,
        blocks=len(case.truth_starts),
        within=within,
        false_text_only=false_text_only,
        iou=_worst_iou(case, pairing),
        extra_flagged=(
            all(by_index[i].status == "text_only" for i in case.expect_text_only)
            if case.expect_text_only
            else None
        ),
        worst_error_s=max(errors) if errors else None,
    )


def _worst_iou(case: Case, pairing: Pairing) -> float | None:
    if not case.audio_only:
        return None
    found = [(s.start_s, s.end_s) for s in pairing.audio_only]
    return min(max((_iou(truth, f) for f in found), default=0.0) for truth in case.audio_only)


def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def speed_article_text(texts: list[str], words: int) -> str:
    """A Markdown article of about `words` words from the given paragraphs, repeated under headings."""
    out: list[str] = []
    count = part = 0
    while count < words:
        part += 1
        out.append(f"## Part {part}")
        for text in texts:
            out.append(text)
            count += len(text.split())
    return "\n\n".join(out) + "\n"


def repeat_transcript(parts: list[Transcript], duration_s: float) -> Transcript:
    """One long transcript: the parts one after another, shifted in time, until `duration_s`."""
    segments = []
    offset = 0.0
    while offset < duration_s:
        for part in parts:
            for seg in part.segments:
                words = [
                    w.model_copy(update={"start_s": w.start_s + offset, "end_s": w.end_s + offset})
                    for w in seg.words
                ]
                segments.append(
                    seg.model_copy(
                        update={
                            "id": len(segments),
                            "start_s": seg.start_s + offset,
                            "end_s": seg.end_s + offset,
                            "words": words,
                        }
                    )
                )
            offset += part.duration_s
    first = parts[0]
    return first.model_copy(update={"segments": segments, "duration_s": offset})
