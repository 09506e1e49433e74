"""The article corrects the transcript where the episode reads it and the speech model agrees.

Where a sentence is read word for word (the pairing says which, and where), a stretch whose words
differ from the article's is a candidate: Whisper may have misheard ("rétexte secouplète" for "et le
texte se complètent"), or the creator may have said something else. The same Whisper model decides,
on that stretch of audio: it scores the window's text as transcribed and, for each candidate, the
same text with the article's words in its place (teacher-forced log-likelihood: the sum of the
log-probabilities of the text's tokens given the audio). The article's words are taken when they
score within `margin_per_word` nats per word of Whisper's own; a word the creator said differently
scores far lower and stays as heard. Each word taken is marked `from_article`, and the first of a
replacement keeps what Whisper heard (`heard`) so a reviewer can put it back.

Words heard but absent from the article are never removed, and only sentences the pairing found
read aloud are looked at: a passage told in other words is never rewritten.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import TranscribeSettings
from pipeline.errors import TranscriptionError
from pipeline.models import Pairing, Segment, Transcript, Word
from pipeline.pairing import Difference, ReadSentence, WordRef, read_sentences
from pipeline.transcribe.model_cache import OPENAI_ENGINE, model_path
from pipeline.transcribe.stage import load_speech

log = logging.getLogger(__name__)

RATE = 16_000
# Sentences scored together share one pass of the audio encoder (Whisper's window is 30 s).
WINDOW_S = 28.0
PAD_S = 0.25
# The article's words are taken when they score at most this many nats per word below Whisper's.
MARGIN_PER_WORD = 1.0


@dataclass(frozen=True)
class Correction:
    transcript: Transcript
    tried: int  # candidates scored
    replaced: int  # candidates where the article's words were taken
    seconds: float


@dataclass(frozen=True)
class _Scorer:
    model: Any
    tokenizers: dict[str, Any]


def correct_with_article(
    transcript: Transcript, pairing: Pairing, speech_wav: Path, *, settings: TranscribeSettings, models_dir: Path
) -> Correction:
    """The pair stage's step: the draft corrected where the pairing found the article read aloud."""
    if not any(b.delivery == "read" for b in pairing.blocks):
        return Correction(transcript, 0, 0, 0.0)
    return correct_from_article(
        transcript, pairing, load_speech(speech_wav), model_name=settings.model, models_dir=models_dir
    )


def correct_from_article(
    transcript: Transcript,
    pairing: Pairing,
    audio: np.ndarray,
    *,
    model_name: str,
    models_dir: Path,
    margin_per_word: float = MARGIN_PER_WORD,
) -> Correction:
    """The transcript with the article's words where read sentences were misheard (see the module)."""
    started = time.perf_counter()
    sentences = [s for s in read_sentences(pairing, transcript) if s.differences]
    if not sentences:
        return Correction(transcript, 0, 0, time.perf_counter() - started)
    scorer = load_scorer(str(model_path(model_name, models_dir, engine=OPENAI_ENGINE)))
    taken: list[Difference] = []
    tried = 0
    for window in _windows(sentences):
        tried += sum(len(s.differences) for s in window)
        taken.extend(_decide(scorer, transcript, window, audio, margin_per_word))
    corrected = apply_differences(transcript, taken)
    seconds = time.perf_counter() - started
    log.info("article corrections: %d of %d candidates taken (%.1f s)", len(taken), tried, seconds)
    return Correction(corrected, tried, len(taken), seconds)


@functools.lru_cache(maxsize=1)
def load_scorer(checkpoint: str) -> _Scorer:
    """The openai-whisper model of the checkpoint diptych installed (whisper.load_model reads it)."""
    import whisper

    try:
        model = whisper.load_model(checkpoint, device="cpu")
    except (RuntimeError, KeyError, OSError) as exc:
        raise TranscriptionError(f"speech model file {checkpoint} cannot be loaded ({exc}): reinstall it") from exc
    return _Scorer(model.eval(), {})


def _tokenizer(scorer: _Scorer, language: str) -> Any:
    from whisper.tokenizer import get_tokenizer

    if language not in scorer.tokenizers:
        model = scorer.model
        scorer.tokenizers[language] = get_tokenizer(
            model.is_multilingual, num_languages=model.num_languages, language=language, task="transcribe"
        )
    return scorer.tokenizers[language]


def _windows(sentences: Sequence[ReadSentence]) -> list[list[ReadSentence]]:
    out: list[list[ReadSentence]] = []
    for sentence in sentences:
        if out and sentence.end_s - out[-1][0].start_s <= WINDOW_S:
            out[-1].append(sentence)
        else:
            out.append([sentence])
    return [w for w in out if w[-1].end_s - w[0].start_s <= WINDOW_S]


def _decide(
    scorer: _Scorer, transcript: Transcript, window: list[ReadSentence], audio: np.ndarray, margin: float
) -> list[Difference]:
    refs = [r for s in window for r in s.words]
    texts = {r: transcript.segments[r.segment].words[r.word].text for r in refs}
    base = "".join(texts[r] for r in refs)
    candidates = [d for s in window for d in s.differences]
    variants = [_variant(refs, texts, d) for d in candidates]
    start_s, end_s = window[0].start_s - PAD_S, window[-1].end_s + PAD_S
    clip = audio[max(0, int(start_s * RATE)) : int(end_s * RATE)]
    scores = score_texts(scorer, clip, [base, *variants], language=transcript.language)
    taken = []
    for difference, score in zip(candidates, scores[1:], strict=True):
        words = max(len(difference.article), len(difference.heard), 1)
        if score - scores[0] >= -margin * words:
            taken.append(difference)
    return taken


def _variant(refs: Sequence[WordRef], texts: dict[WordRef, str], difference: Difference) -> str:
    replaced = set(difference.heard)
    article = " " + " ".join(difference.article)
    out: list[str] = []
    if difference.after is None and not difference.heard:
        out.append(article)
    for ref in refs:
        if ref in replaced:
            if ref == difference.heard[0]:
                out.append(article)
            continue
        out.append(texts[ref])
        if ref == difference.after:
            out.append(article)
    return "".join(out)


def scoring_text(text: str) -> str:
    """The text as Whisper writes it: plain apostrophes, no French quotation marks."""
    for mark, plain in (("’", "'"), ("«", ""), ("»", ""), ("“", '"'), ("”", '"'), ("\u00a0", " ")):
        text = text.replace(mark, plain)
    return " " + " ".join(text.split())


def score_texts(scorer: _Scorer, clip: np.ndarray, texts: Sequence[str], *, language: str) -> list[float]:
    """Teacher-forced log-likelihood of each text (its tokens and the end of text) given the clip."""
    import torch
    import whisper

    model = scorer.model
    tokenizer = _tokenizer(scorer, language)
    prefix = list(tokenizer.sot_sequence_including_notimestamps)
    sequences = [prefix + tokenizer.encode(scoring_text(t)) + [tokenizer.eot] for t in texts]
    width = max(len(s) for s in sequences)
    tokens = torch.tensor([s + [tokenizer.eot] * (width - len(s)) for s in sequences])
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(clip.astype(np.float32)), n_mels=model.dims.n_mels)
    with torch.no_grad():
        features = model.embed_audio(mel[None])
        logits = model.logits(tokens, features.expand(len(sequences), -1, -1))
        logprobs = torch.log_softmax(logits.float(), dim=-1)
    out = []
    for row, sequence in enumerate(sequences):
        targets = torch.tensor(sequence[len(prefix) :])
        picked = logprobs[row, len(prefix) - 1 : len(sequence) - 1].gather(1, targets[:, None])
        out.append(float(picked.sum()))
    return out


def apply_differences(transcript: Transcript, taken: Sequence[Difference]) -> Transcript:
    """The transcript with each difference's article words in place of (or after) the heard ones."""
    if not taken:
        return transcript
    segments = [list(s.words) for s in transcript.segments]
    edits: dict[int, list[tuple[int, int, list[Word]]]] = {}
    for difference in taken:
        segment, first, stop = _place(difference)
        edits.setdefault(segment, []).append((first, stop, _new_words(transcript, difference, first, stop)))
    out: list[Segment] = []
    for s, seg in enumerate(transcript.segments):
        words = segments[s]
        for first, stop, new in sorted(edits.get(s, []), key=lambda e: -e[0]):
            words[first:stop] = new
        update: dict[str, object] = {"words": words}
        if s in edits:
            update["text"] = "".join(w.text for w in words)
        out.append(seg.model_copy(update=update))
    return transcript.model_copy(update={"segments": out})


def _place(difference: Difference) -> tuple[int, int, int]:
    if difference.heard:
        first = difference.heard[0]
        return first.segment, first.word, difference.heard[-1].word + 1
    after = difference.after
    assert after is not None  # insertions at the very start are never candidates
    return after.segment, after.word + 1, after.word + 1


def _new_words(transcript: Transcript, difference: Difference, first: int, stop: int) -> list[Word]:
    """The article's words, spread over the time of the words they replace by their length. They keep
    the lowest confidence of what was heard there, so the review page still asks to check them."""
    words = transcript.segments[_place(difference)[0]].words
    if difference.heard:
        start_s, end_s = words[first].start_s, words[stop - 1].end_s
        heard = "".join(w.text for w in words[first:stop])
        probability = min(w.probability for w in words[first:stop])
    else:
        start_s = words[first - 1].end_s
        end_s = words[first].start_s if first < len(words) else start_s
        heard = ""
        probability = words[first - 1].probability
    sizes = [len(w) + 1 for w in difference.article]
    step = (end_s - start_s) / sum(sizes)
    out: list[Word] = []
    at = start_s
    for n, (text, size) in enumerate(zip(difference.article, sizes, strict=True)):
        out.append(
            Word(
                start_s=round(at, 3),
                end_s=round(at + size * step, 3),
                text=f" {text}",
                probability=probability,
                from_article=True,
                heard=heard if n == 0 else None,
            )
        )
        at += size * step
    return out
