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

A sentence Whisper garbled past recognition is scored as a sentence: the mean log-probability per
token of the article's sentence against Whisper's words in the same place (a sum would favour the
shorter text).

A difference that only changes how the same sounds are written (pairing.read_aloud's `spelling`:
"Eric" / "Éric") is taken without asking the model, as the transcribe stage's spelling restore
does for the article's names: the audio cannot tell the two apart, the article is the writer's.

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
# A garbled sentence of a block read aloud takes the article's when its tokens score at most this
# much lower on average (pipeline.pairing.read_aloud's `whole`); in a block that looks retold, the
# article's sentence must score higher than the model's own transcription.
SENTENCE_MARGIN_PER_TOKEN = 1.0


@dataclass(frozen=True)
class Correction:
    transcript: Transcript
    tried: int  # candidates scored
    replaced: int  # candidates where the article's words were taken
    seconds: float
    spelled: int = 0  # of those, respellings (taken without the model)
    scored: int = 0  # candidates the model scored


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
    taken = [d for s in sentences for d in s.differences if d.spelling]
    tried = len(taken)
    heard = [s for s in sentences if any(not d.spelling for d in s.differences)]
    if heard:
        scorer = load_scorer(str(model_path(model_name, models_dir, engine=OPENAI_ENGINE)))
        for window in _windows(heard):
            tried += sum(1 for s in window for d in s.differences if not d.spelling)
            taken.extend(_decide(scorer, transcript, window, audio, margin_per_word))
    corrected = apply_differences(transcript, taken)
    seconds = time.perf_counter() - started
    spelled = sum(d.spelling for d in taken)
    log.info("article corrections: %d of %d taken, %d respelled (%.1f s)", len(taken), tried, spelled, seconds)
    return Correction(corrected, tried, len(taken), seconds, spelled=spelled, scored=tried - spelled)


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
    """Each candidate scored against Whisper's words up to the end of its sentence: the decoder is
    causal, so the text after it would only add the same tokens to both (at the cost of computing them)."""
    refs = [r for s in window for r in s.words]
    texts = {r: transcript.segments[r.segment].words[r.word].text for r in refs}
    base = "".join(texts[r] for r in refs)
    candidates = [(n, d) for n, s in enumerate(window) for d in s.differences if not d.spelling]
    upto = [refs[: sum(len(s.words) for s in window[: n + 1])] for n, _ in candidates]
    variants = [_variant(until, texts, d) for until, (_, d) in zip(upto, candidates, strict=True)]
    start_s, end_s = window[0].start_s - PAD_S, window[-1].end_s + PAD_S
    clip = audio[max(0, int(start_s * RATE)) : int(end_s * RATE)]
    scored = score_tokens(scorer, clip, [base, *variants], language=transcript.language, closed=False)
    taken = []
    for (_, difference), until, variant in zip(candidates, upto, scored[1:], strict=True):
        heard = _heard_prefix(scored[0], scorer, "".join(texts[r] for r in until), transcript.language)
        if difference.whole:
            gap = _region_gap(heard, variant)
            ok = gap >= (0.0 if difference.retold else -SENTENCE_MARGIN_PER_TOKEN)
            said = "".join(texts[r] for r in difference.heard)
            log.debug("sentence %r for %r: %+.2f nats per token", " ".join(difference.article)[:50], said, gap)
        else:
            words = max(len(difference.article), len(difference.heard), 1)
            gap = sum(variant[1]) - sum(heard[1])
            ok = gap >= -margin * words
            log.debug("%r: %+.2f nats over %d words", difference.article, gap, words)
        if ok:
            taken.append(difference)
    return taken


def _heard_prefix(
    base: tuple[list[int], list[float]], scorer: _Scorer, text: str, language: str
) -> tuple[list[int], list[float]]:
    """Whisper's words up to a sentence's end, as the first tokens of the window's text."""
    size = len(_tokenizer(scorer, language).encode(scoring_text(text)))
    return base[0][:size], base[1][:size]


def _region_gap(base: tuple[list[int], list[float]], variant: tuple[list[int], list[float]]) -> float:
    """Mean log-probability per token of the variant's own tokens less the base's over the same
    place (between their common beginning and common end): fair to texts of other lengths."""
    first = common_prefix(base[0], variant[0])
    last = min(common_prefix(base[0][::-1], variant[0][::-1]), len(base[0]) - first, len(variant[0]) - first)
    own = variant[1][first : len(variant[1]) - last]
    heard = base[1][first : len(base[1]) - last]
    if not own or not heard:
        return float("-inf")
    return sum(own) / len(own) - sum(heard) / len(heard)


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
    return [sum(logprobs) for _, logprobs in score_tokens(scorer, clip, texts, language=language)]


def score_tokens(
    scorer: _Scorer, clip: np.ndarray, texts: Sequence[str], *, language: str, closed: bool = True
) -> list[tuple[list[int], list[float]]]:
    """Each text's tokens (and end of text) with their log-probabilities given the clip. With
    `closed` false, only the first text ends with the end of text (the others are its beginnings).

    The texts are variants of the first: one encoder pass, the cross-attention keys and values
    computed once for all of them, and each variant's vocabulary projection only from the token
    where it leaves the first text (before it, its log-probabilities are the first text's: the
    decoder is causal).
    """
    import torch
    import whisper

    model = scorer.model
    tokenizer = _tokenizer(scorer, language)
    prefix = list(tokenizer.sot_sequence_including_notimestamps)
    sequences = [
        prefix + tokenizer.encode(scoring_text(t)) + ([tokenizer.eot] if closed or n == 0 else [])
        for n, t in enumerate(texts)
    ]
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(clip.astype(np.float32)), n_mels=model.dims.n_mels)
    with torch.no_grad():
        features = model.embed_audio(mel[None])
        width = max(len(s) for s in sequences)
        tokens = torch.tensor([s + [tokenizer.eot] * (width - len(s)) for s in sequences])
        rows = _decoder_states(model, tokens, features, _cross_keys(model, features, len(sequences)))
        base = _token_logprobs(model, rows[0], sequences[0], len(prefix))
        out = [(sequences[0][len(prefix) :], base)]
        for hidden, sequence in zip(rows[1:], sequences[1:], strict=True):
            same = max(common_prefix(sequence, sequences[0]), len(prefix))
            logprobs = base[: same - len(prefix)] + _token_logprobs(model, hidden, sequence, same)
            out.append((sequence[len(prefix) :], logprobs))
    return out


def _cross_keys(model: Any, features: Any, rows: int) -> dict[Any, Any]:
    """The cross-attention keys and values of every decoder block for one clip, computed once and
    shared by `rows` texts."""
    out: dict[Any, Any] = {}
    for block in model.decoder.blocks:
        out[block.cross_attn.key] = block.cross_attn.key(features).expand(rows, -1, -1)
        out[block.cross_attn.value] = block.cross_attn.value(features).expand(rows, -1, -1)
    return out


def _decoder_states(model: Any, tokens: Any, features: Any, cross: dict[Any, Any]) -> Any:
    """The decoder's last hidden states for a batch of token rows over one clip's audio features
    (whisper's TextDecoder.forward, reading the cross-attention keys and values from `cross`)."""
    decoder = model.decoder
    x = decoder.token_embedding(tokens) + decoder.positional_embedding[: tokens.shape[-1]]
    x = x.to(features.dtype)
    for block in decoder.blocks:
        x = block(x, features, mask=decoder.mask, kv_cache=cross)
    return decoder.ln(x)


def _token_logprobs(model: Any, hidden: Any, sequence: Sequence[int], first: int) -> list[float]:
    """Log-probabilities of sequence[first:] (each token given those before it)."""
    import torch

    if first >= len(sequence):
        return []
    states = hidden[first - 1 : len(sequence) - 1]
    logits = (states @ model.decoder.token_embedding.weight.to(states.dtype).T).float()
    picked = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(sequence[first:])[:, None])
    return [float(v) for v in picked[:, 0]]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def apply_differences(transcript: Transcript, taken: Sequence[Difference]) -> Transcript:
    """The transcript with each difference's article words in place of (or after) the heard ones.

    A replacement over two segments goes whole to the first (whose end moves to its last word);
    the heard words leave the later one, which then starts at its first word left.
    """
    if not taken:
        return transcript
    inserts: dict[WordRef, list[Word]] = {}  # new words, put before the word (or after, for insertions)
    after: dict[WordRef, list[Word]] = {}
    removed: set[WordRef] = set()
    for difference in taken:
        new = _new_words(transcript, difference)
        if difference.heard:
            inserts[difference.heard[0]] = new
            removed.update(difference.heard)
        else:
            assert difference.after is not None  # insertions at the very start are never candidates
            after[difference.after] = new
    changed = {r.segment for r in [*inserts, *after, *removed]}
    out: list[Segment] = []
    for s, seg in enumerate(transcript.segments):
        if s not in changed:
            out.append(seg)
            continue
        words: list[Word] = []
        for w, word in enumerate(seg.words):
            ref = WordRef(s, w)
            words.extend(inserts.get(ref, []))
            if ref not in removed:
                words.append(word)
            words.extend(after.get(ref, []))
        moved = WordRef(s, 0) in removed and WordRef(s, 0) not in inserts  # its first words went before
        update = {
            "words": words,
            "text": "".join(w.text for w in words),
            "start_s": words[0].start_s if moved else seg.start_s,
            "end_s": max(seg.end_s, words[-1].end_s),
        }
        out.append(seg.model_copy(update=update))
    return transcript.model_copy(update={"segments": out})


def _new_words(transcript: Transcript, difference: Difference) -> list[Word]:
    """The article's words, spread over the time of the words they replace by their length. They keep
    the lowest confidence of what was heard there, so the review page still asks to check them."""
    if difference.heard:
        heard_words = [transcript.segments[r.segment].words[r.word] for r in difference.heard]
        start_s, end_s = heard_words[0].start_s, heard_words[-1].end_s
        heard = "".join(w.text for w in heard_words)
        probability = min(w.probability for w in heard_words)
    else:
        assert difference.after is not None
        words = transcript.segments[difference.after.segment].words
        first = difference.after.word + 1
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
