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

The scoring's cost is the audio encoder's pass over each stretch and the decoder's over its text.
Where the transcription ran in this process with batched decoding (`diptych run`), the encoder's
output of each of its windows was kept (transcribe.engines.encoded): a sentence inside one is
scored there, after every word heard since the window's start, and the encoder does not run again;
a sentence over two windows is scored on each, with the candidates whose words are there (only a
candidate over the edge, or a whole garbled sentence, needs its stretch encoded anew).
The decoder runs once over Whisper's text; each candidate only from the token where it differs
(the text before it is known by its self-attention keys and values).

Words heard but absent from the article are never removed, and only sentences the pairing found
read aloud are looked at: a passage told in other words is never rewritten.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import math
import re
import threading
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
from pipeline.transcribe.engines.encoded import EncodedWindow, encoded_windows
from pipeline.transcribe.model_cache import OPENAI_ENGINE, model_path
from pipeline.transcribe.stage import load_speech

log = logging.getLogger(__name__)

RATE = 16_000
# Sentences scored together share one pass of the audio encoder (Whisper's window is 30 s).
WINDOW_S = 28.0
PAD_S = 0.25
# A sentence this close to the edges of a window the transcription encoded is inside it.
EDGE_S = 0.05
# The article's words are taken when they score at most this many nats per word below Whisper's.
MARGIN_PER_WORD = 1.0
# A garbled sentence of a block read aloud takes the article's when its tokens score at most this
# much lower on average (pipeline.pairing.read_aloud's `whole`); in a block that looks retold, the
# article's sentence must score higher than the model's own transcription.
SENTENCE_MARGIN_PER_TOKEN = 1.0
_QUOTES = re.compile(r"«\s*|\s*»")


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


_SCORERS: dict[int, _Scorer] = {}  # by id of the model
_SCORERS_LOCK = threading.Lock()


class SpeechAudio:
    """The speech WAV's samples, read once, on first use (a pair stage's rounds share them)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._samples: np.ndarray | None = None

    def samples(self) -> np.ndarray:
        if self._samples is None:
            self._samples = load_speech(self.path)
        return self._samples


def correct_with_article(
    transcript: Transcript,
    pairing: Pairing,
    speech: SpeechAudio,
    *,
    settings: TranscribeSettings,
    models_dir: Path,
    decided: set[DifferenceKey] | None = None,
) -> Correction:
    """The pair stage's step: the draft corrected where the pairing found the article read aloud."""
    if not any(b.delivery == "read" for b in pairing.blocks):
        return Correction(transcript, 0, 0, 0.0)
    return correct_from_article(
        transcript, pairing, speech.samples(), model_name=settings.model, models_dir=models_dir,
        decided=decided,
    )


def correct_from_article(
    transcript: Transcript,
    pairing: Pairing,
    audio: np.ndarray,
    *,
    model_name: str,
    models_dir: Path,
    margin_per_word: float = MARGIN_PER_WORD,
    decided: set[DifferenceKey] | None = None,
) -> Correction:
    """The transcript with the article's words where read sentences were misheard (see the module).

    `decided` holds the candidates the model already refused in an earlier round on the same
    audio (each candidate scored here is added): they are not scored again.
    """
    started = time.perf_counter()
    decided = set() if decided is None else decided
    sentences = [s for s in _undecided(read_sentences(pairing, transcript), transcript, decided) if s.differences]
    if not sentences:
        return Correction(transcript, 0, 0, time.perf_counter() - started)
    taken = [d for s in sentences for d in s.differences if d.spelling]
    tried = len(taken)
    heard = [s for s in sentences if any(not d.spelling for d in s.differences)]
    if heard:
        scorer = load_scorer(str(model_path(model_name, models_dir, engine=OPENAI_ENGINE)), model_name)
        windows = plan_windows(heard, transcript, encoded_windows(scorer.model, audio))
        for window in windows:
            scored = [d for s in window.sentences for d in s.differences if not d.spelling]
            tried += len(scored)
            taken.extend(_decide(scorer, transcript, window, audio, margin_per_word))
            decided.update(difference_key(transcript, d) for d in scored)
        reused = sum(w.features is not None for w in windows)
        log.debug("article corrections: %d of %d windows on the transcription's encoder output", reused, len(windows))
    corrected = apply_differences(transcript, taken)
    seconds = time.perf_counter() - started
    spelled = sum(d.spelling for d in taken)
    log.info("article corrections: %d of %d taken, %d respelled (%.1f s)", len(taken), tried, spelled, seconds)
    return Correction(corrected, tried, len(taken), seconds, spelled=spelled, scored=tried - spelled)


# A candidate by what it changes: the heard words (start, text), the word it follows, the article's.
DifferenceKey = tuple[tuple[tuple[float, str], ...], tuple[float, str] | None, tuple[str, ...], bool]


def difference_key(transcript: Transcript, difference: Difference) -> DifferenceKey:
    """Where and what a candidate changes, in terms that hold after other words of the transcript
    were replaced (its word indices do not)."""

    def at(ref: WordRef) -> tuple[float, str]:
        word = transcript.segments[ref.segment].words[ref.word]
        return round(word.start_s, 2), word.text

    after = at(difference.after) if difference.after is not None else None
    return tuple(at(r) for r in difference.heard), after, difference.article, difference.whole


def _undecided(
    sentences: Sequence[ReadSentence], transcript: Transcript, decided: set[DifferenceKey]
) -> list[ReadSentence]:
    if not decided:
        return list(sentences)
    return [
        dataclasses.replace(
            s, differences=tuple(d for d in s.differences if difference_key(transcript, d) not in decided)
        )
        for s in sentences
    ]


def load_scorer(checkpoint: str, name: str) -> _Scorer:
    """The openai-whisper model of the checkpoint diptych installed: the process's one copy of it,
    the one the transcription decoded with when it ran here (its encoder outputs are kept)."""
    from pipeline.transcribe.engines.openai_engine import shared_model

    path = Path(checkpoint)
    try:
        model = shared_model(path, name)
    except OSError as exc:
        raise TranscriptionError(
            f"speech model file {checkpoint} cannot be read ({exc}): run `diptych models install {name}`"
        ) from exc
    with _SCORERS_LOCK:
        if id(model) not in _SCORERS:
            _SCORERS[id(model)] = _Scorer(model, {})
        return _SCORERS[id(model)]


def _tokenizer(scorer: _Scorer, language: str) -> Any:
    from whisper.tokenizer import get_tokenizer

    if language not in scorer.tokenizers:
        model = scorer.model
        scorer.tokenizers[language] = get_tokenizer(
            model.is_multilingual, num_languages=model.num_languages, language=language, task="transcribe"
        )
    return scorer.tokenizers[language]


@dataclass(frozen=True)
class _Window:
    """Sentences scored together on one stretch of audio (one pass of the audio encoder)."""

    sentences: list[ReadSentence]
    refs: list[WordRef]  # every transcript word of the stretch, from its start to the last sentence's end
    start_s: float
    end_s: float
    features: Any = None  # the transcription's encoder output for the stretch; None: encode it


def plan_windows(
    sentences: Sequence[ReadSentence], transcript: Transcript, encoded: Sequence[EncodedWindow] = ()
) -> list[_Window]:
    """The sentences grouped into windows. A sentence inside a window the transcription encoded is
    scored on that window's output (the latest such window: its text before the sentence is the
    shortest), after every word heard since the window's start; the others are grouped into
    stretches of at most WINDOW_S, encoded anew."""
    order = [WordRef(s, w) for s, seg in enumerate(transcript.segments) for w in range(len(seg.words))]
    place = {ref: n for n, ref in enumerate(order)}
    starts = [transcript.segments[r.segment].words[r.word].start_s for r in order]
    out: list[_Window] = []
    for sentence in (piece for s in sentences for piece in split_on_windows(s, transcript, encoded)):
        inside = [w for w in encoded if _inside(w, sentence.start_s, sentence.end_s)]
        kept = inside[-1] if inside else None
        last = out[-1] if out else None
        if last is not None and kept is not None and last.features is kept.features:
            out[-1] = _grown(last, sentence, order, place)
        elif last is not None and kept is None and last.features is None and _fits(last, sentence):
            out[-1] = _grown(last, sentence, order, place)
        elif kept is not None:
            first = min(bisect.bisect_left(starts, kept.start_s - EDGE_S), place[sentence.words[0]])
            refs = order[first : place[sentence.words[-1]] + 1]
            out.append(_Window([sentence], refs, kept.start_s, kept.end_s, kept.features))
        else:
            refs = order[place[sentence.words[0]] : place[sentence.words[-1]] + 1]
            out.append(_Window([sentence], refs, sentence.start_s - PAD_S, sentence.end_s + PAD_S))
    return [w for w in out if w.features is not None or w.end_s - w.start_s <= WINDOW_S + 2 * PAD_S]


def split_on_windows(
    sentence: ReadSentence, transcript: Transcript, encoded: Sequence[EncodedWindow]
) -> list[ReadSentence]:
    """A sentence that runs over the edge of the transcription's windows, as pieces each inside one
    of them: its words there with the candidates whose audio is there (scored on that window, up to
    its last word of the sentence), and what is left (a whole-sentence candidate, one over the edge)
    with the whole sentence, encoded anew. A sentence inside a window, or with no window, stays whole."""

    if not encoded or any(_inside(w, sentence.start_s, sentence.end_s) for w in encoded):
        return [sentence]
    word = {r: transcript.segments[r.segment].words[r.word] for r in sentence.words}
    place = {r: n for n, r in enumerate(sentence.words)}
    pieces: list[ReadSentence] = []
    left = list(sentence.differences)
    for window in encoded:
        words = tuple(r for r in sentence.words if _inside(window, word[r].start_s, word[r].end_s))
        if not words:
            continue
        own = [d for d in left if not d.whole and _within(d, words, place)]
        if own:
            pieces.append(dataclasses.replace(
                sentence, start_s=word[words[0]].start_s, end_s=word[words[-1]].end_s, words=words,
                differences=tuple(own),
            ))
            left = [d for d in left if d not in own]
    if left:
        pieces.append(dataclasses.replace(sentence, differences=tuple(left)))
    return sorted(pieces, key=lambda p: p.start_s)


def _inside(window: EncodedWindow, start_s: float, end_s: float) -> bool:
    return window.start_s - EDGE_S <= start_s and end_s <= window.end_s + EDGE_S


def _within(difference: Difference, words: tuple[WordRef, ...], place: dict[WordRef, int]) -> bool:
    """The candidate's heard words are among `words` (a stretch of the sentence's), or, for an
    insertion, the words on both sides of it: its audio is there."""
    if difference.heard:
        return all(r in words for r in difference.heard)
    after = difference.after
    if after is None or after not in place:
        return False
    following = place[after] + 1
    return after in words and any(place[r] == following for r in words)


def _fits(window: _Window, sentence: ReadSentence) -> bool:
    return sentence.end_s - (window.start_s + PAD_S) <= WINDOW_S


def _grown(window: _Window, sentence: ReadSentence, order: list[WordRef], place: dict[WordRef, int]) -> _Window:
    refs = window.refs + order[place[window.refs[-1]] + 1 : place[sentence.words[-1]] + 1]
    end_s = window.end_s if window.features is not None else sentence.end_s + PAD_S
    return _Window([*window.sentences, sentence], refs, window.start_s, end_s, window.features)


def _decide(
    scorer: _Scorer, transcript: Transcript, window: _Window, audio: np.ndarray, margin: float
) -> list[Difference]:
    """Each candidate scored against Whisper's words up to the end of its sentence: the decoder is
    causal, so the text after it would only add the same tokens to both (at the cost of computing them)."""
    refs = window.refs
    texts = {r: transcript.segments[r.segment].words[r.word].text for r in refs}
    base = "".join(texts[r] for r in refs)
    ends = [refs.index(s.words[-1]) + 1 for s in window.sentences]
    candidates = [(n, d) for n, s in enumerate(window.sentences) for d in s.differences if not d.spelling]
    upto = [refs[: ends[n]] for n, _ in candidates]
    variants = [_variant(until, texts, d) for until, (_, d) in zip(upto, candidates, strict=True)]
    clip = audio[max(0, int(window.start_s * RATE)) : int(window.end_s * RATE)]
    scored = score_tokens(
        scorer, clip, [base, *variants], language=transcript.language, closed=False, features=window.features
    )
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
            same = common_prefix(heard[0], variant[0])  # before it, both are the same tokens
            gap = sum(variant[1][same:]) - sum(heard[1][same:])
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
    """The text as Whisper writes it: plain apostrophes, no French quotation marks (nor the spaces
    inside them: "qu’« on" is "qu'on", "capacités »." is "capacités.")."""
    text = _QUOTES.sub("", text)
    for mark, plain in (("’", "'"), ("“", '"'), ("”", '"'), ("\u00a0", " ")):
        text = text.replace(mark, plain)
    return " " + " ".join(text.split())


def score_texts(scorer: _Scorer, clip: np.ndarray, texts: Sequence[str], *, language: str) -> list[float]:
    """Teacher-forced log-likelihood of each text (its tokens and the end of text) given the clip."""
    return [sum(logprobs) for _, logprobs in score_tokens(scorer, clip, texts, language=language)]


def score_tokens(
    scorer: _Scorer,
    clip: np.ndarray,
    texts: Sequence[str],
    *,
    language: str,
    closed: bool = True,
    features: Any = None,
) -> list[tuple[list[int], list[float]]]:
    """Each text's tokens (and end of text) with their log-probabilities given the clip. With
    `closed` false, only the first text ends with the end of text (the others are its beginnings).

    The texts are variants of the first: one encoder pass, the cross-attention keys and values
    computed once for all of them, and each variant decoded only from the token where it leaves
    the first text, after the first text's self-attention keys and values (before that token its
    log-probabilities are the first text's: the decoder is causal). `features`, the encoder's
    output for the clip when it is known, spares the encoder pass.
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
    with torch.no_grad():
        if features is None:
            mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(clip.astype(np.float32)), n_mels=model.dims.n_mels)
            features = model.embed_audio(mel[None])
        else:
            features = features.to(model.device, torch.float32)[None]
        cross = [(b.cross_attn.key(features), b.cross_attn.value(features)) for b in model.decoder.blocks]
        hidden, keys = _decoder_states(model, sequences[0], 0, cross, None)
        sames = [max(common_prefix(s, sequences[0]), len(prefix)) for s in sequences[1:]]
        # Before the first token where a variant leaves it, the first text's log-probabilities
        # cancel out of every comparison: they are not projected (NaN).
        known = min([*sames, len(sequences[0])]) if len(sequences) > 1 and not closed else len(prefix)
        base = [math.nan] * (known - len(prefix)) + _token_logprobs(model, hidden, sequences[0], known)
        out = [(sequences[0][len(prefix) :], base)]
        for sequence, same in zip(sequences[1:], sames, strict=True):
            states = hidden[same - 1 : same]
            if same + 1 < len(sequence):
                tail, _ = _decoder_states(model, sequence[same:-1], same, cross, keys)
                states = torch.cat([states, tail])
            logprobs = base[: same - len(prefix)] + _projected(model, states, sequence[same:])
            out.append((sequence[len(prefix) :], logprobs))
    return out


def _decoder_states(
    model: Any, tokens: Sequence[int], offset: int, cross: list[tuple[Any, Any]], before: list[tuple[Any, Any]] | None
) -> tuple[Any, list[tuple[Any, Any]]]:
    """The decoder's last hidden states for `tokens` at positions offset, offset + 1, ... (whisper's
    TextDecoder.forward), the text before them known by its self-attention keys and values
    (`before`, per block: those of a text at least `offset` tokens long); and each block's keys and
    values for the whole text so far."""
    import torch

    decoder = model.decoder
    positions = decoder.positional_embedding[offset : offset + len(tokens)]
    x = decoder.token_embedding(torch.tensor([list(tokens)])) + positions
    keys: list[tuple[Any, Any]] = []
    for n, (block, (cross_k, cross_v)) in enumerate(zip(decoder.blocks, cross, strict=True)):
        attn, h = block.attn, block.attn_ln(x)
        k, v = attn.key(h), attn.value(h)
        if before is not None:
            k, v = torch.cat([before[n][0][:, :offset], k], dim=1), torch.cat([before[n][1][:, :offset], v], dim=1)
        keys.append((k, v))
        x = x + attn.out(_attention(attn.query(h), k, v, attn.n_head, causal_from=offset))
        other = block.cross_attn
        x = x + other.out(_attention(other.query(block.cross_attn_ln(x)), cross_k, cross_v, other.n_head))
        x = x + block.mlp(block.mlp_ln(x))
    return decoder.ln(x)[0], keys


def _attention(q: Any, k: Any, v: Any, heads: int, *, causal_from: int | None = None) -> Any:
    """Multi-head attention (whisper's qkv_attention); `causal_from`: the queries are the tokens at
    that position on, and see the keys up to their own."""
    import torch

    batch, length, width = q.shape
    q, k, v = (t.view(batch, t.shape[1], heads, -1).transpose(1, 2) for t in (q, k, v))
    mask = None
    if causal_from is not None:
        mask = torch.ones(length, k.shape[2], dtype=torch.bool).tril(diagonal=causal_from)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out.transpose(1, 2).reshape(batch, length, width)


def _token_logprobs(model: Any, hidden: Any, sequence: Sequence[int], first: int) -> list[float]:
    """Log-probabilities of sequence[first:] (each token given those before it)."""
    if first >= len(sequence):
        return []
    return _projected(model, hidden[first - 1 : len(sequence) - 1], sequence[first:])


def _projected(model: Any, states: Any, tokens: Sequence[int]) -> list[float]:
    """Log-probabilities of `tokens`, each from the hidden state of the position before it."""
    import torch

    if not tokens:
        return []
    logits = (states @ model.decoder.token_embedding.weight.to(states.dtype).T).float()
    picked = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(list(tokens))[:, None])
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
