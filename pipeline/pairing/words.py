"""Word-level pairing: each told block from its first spoken word to its last, and the article's
sentences placed on the transcript's words where the episode reads the text.

The unit-level path (alignment, spans) says roughly where each block is told. Here each block's
words are aligned with the transcript's words around that place (difflib's matching blocks over
folded words); where enough of them match the block is read aloud: its span runs from the word
that says its first sentence to the word that ends its last one, its sentences get their own
times, and a stretch of extra talk inside it (an aside between two sentences) is left out of it.
A block told in other words keeps the span of the units that tell it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from pipeline.article import fold
from pipeline.pairing.similarity import split_sentences
from pipeline.pairing.spans import BlockSpan
from pipeline.pairing.units import SENTENCE_END, Unit

# Around a block's unit-level span, how far its words are looked for.
SEARCH_MARGIN_S = 4.0
# A sentence whose words are this share of the transcript's, in order, is read aloud.
READ_SHARE = 0.6
# Matching words shorter than this (in folded characters, over a run) are too common to trust alone.
MIN_RUN_CHARS = 6
# Extra transcript words inside a read block, at least this many, can be an aside.
MIN_ASIDE_TOKENS = 4
# A misheard first word: the block may start this many words before its first matched word.
MAX_LEAD_TOKENS = 6
LEAD_PAUSE_S = 0.8

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Token:
    """One transcript word (Whisper's pieces of a word joined), with its unit."""

    key: str  # folded letters and digits, what is compared
    text: str  # as Whisper wrote it, with its leading space
    start_s: float
    end_s: float
    unit: int


@dataclass(frozen=True)
class SentenceWords:
    text: str
    first: int | None  # transcript token range, None when no word of it could be placed
    stop: int | None
    share: float  # share of its words found in order in the transcript


@dataclass(frozen=True)
class BlockWords:
    """A told block at word level."""

    first: int  # its first transcript token
    stop: int  # one past its last
    read: bool  # read aloud (enough of its words in order), else told in other words
    sentences: tuple[SentenceWords, ...]
    asides: tuple[tuple[int, int], ...]  # token ranges inside it that tell something else
    pairs: tuple[tuple[int, int], ...]  # (block word, transcript token) matched


def word_key(text: str) -> str:
    return _NOT_WORD.sub("", fold(text))


def transcript_tokens(units: Sequence[Unit]) -> list[Token]:
    """The transcript's words for matching; a piece without a leading space joins the word before."""
    out: list[Token] = []
    for unit in units:
        for word in unit.words:
            joins = out and not word.text.startswith(" ") and out[-1].unit == unit.index
            if joins:
                last = out[-1]
                text = last.text + word.text
                out[-1] = Token(word_key(text), text, last.start_s, max(last.end_s, word.end_s), unit.index)
            else:
                out.append(Token(word_key(word.text), word.text, word.start_s, word.end_s, unit.index))
    return [piece for token in out for piece in _split(token) if piece.key]


def _split(token: Token) -> list[Token]:
    """A word holding spaces (a name restored to the article's spelling: "Dojo Créa Saint-Maur")
    is several words for matching, sharing its times."""
    parts = token.text.split()
    if len(parts) <= 1:
        return [token]
    return [Token(word_key(p), f" {p}", token.start_s, token.end_s, token.unit) for p in parts]


def article_words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """A block's folded words and, per sentence, its range of them."""
    keys: list[str] = []
    ranges: list[tuple[int, int]] = []
    for sentence in split_sentences(text):
        first = len(keys)
        keys.extend(k for k in (word_key(w) for w in sentence.split()) if k)
        ranges.append((first, len(keys)))
    return keys, ranges


def token_at(tokens: Sequence[Token], time_s: float) -> int:
    """The first token starting at or after time_s (len(tokens) when none)."""
    lo, hi = 0, len(tokens)
    while lo < hi:
        mid = (lo + hi) // 2
        if tokens[mid].start_s < time_s - 1e-6:
            lo = mid + 1
        else:
            hi = mid
    return lo


def match_pairs(keys: Sequence[str], tokens: Sequence[Token], lo: int, hi: int) -> list[tuple[int, int]]:
    """(block word, transcript token) pairs of the trustworthy matching runs inside tokens[lo:hi]."""
    window = [t.key for t in tokens[lo:hi]]
    matcher = SequenceMatcher(None, list(keys), window, autojunk=False)
    pairs: list[tuple[int, int]] = []
    for a, b, size in matcher.get_matching_blocks():
        chars = sum(len(k) for k in keys[a : a + size])
        if size and (size >= 3 or chars >= MIN_RUN_CHARS):
            pairs.extend((a + i, lo + b + i) for i in range(size))
    return pairs


def align_block(
    text: str, span: BlockSpan, tokens: Sequence[Token], *, floor: int, ceiling: int, min_aside_s: float
) -> BlockWords | None:
    """The block's words on the transcript near its span, between tokens[floor] and tokens[ceiling]."""
    keys, ranges = article_words(text)
    lo = max(floor, token_at(tokens, span.start_s - SEARCH_MARGIN_S))
    hi = min(ceiling, token_at(tokens, span.end_s + SEARCH_MARGIN_S))
    if not keys or lo >= hi:
        return None
    pairs = match_pairs(keys, tokens, lo, hi)
    sentences = _place_sentences(text, ranges, pairs, tokens, lo, hi)
    read = len(pairs) >= READ_SHARE * len(keys) or any(s.share >= READ_SHARE for s in sentences)
    if not read or not pairs:
        return None
    placed = [s for s in sentences if s.first is not None and s.stop is not None]
    first = min(s.first for s in placed if s.first is not None)
    stop = max(s.stop for s in placed if s.stop is not None)
    asides = tuple(_asides(keys, pairs, tokens, min_aside_s, ranges, sentences))
    return BlockWords(first, stop, True, tuple(sentences), asides, tuple(pairs))


def place_sentences(text: str, span: BlockSpan, tokens: Sequence[Token]) -> list[SentenceWords]:
    """The block's sentences placed on the transcript near its span, however few of their words match
    (a block retold, or read and garbled by Whisper): each with the share of its words found."""
    keys, ranges = article_words(text)
    lo = token_at(tokens, span.start_s - SEARCH_MARGIN_S)
    hi = token_at(tokens, span.end_s + SEARCH_MARGIN_S)
    if not keys or lo >= hi:
        return []
    return _place_sentences(text, ranges, match_pairs(keys, tokens, lo, hi), tokens, lo, hi)


def _place_sentences(
    text: str,
    ranges: Sequence[tuple[int, int]],
    pairs: Sequence[tuple[int, int]],
    tokens: Sequence[Token],
    lo: int,
    hi: int,
) -> list[SentenceWords]:
    """Each sentence from the first to the last transcript word of its matched words, widened over
    the unmatched words at its edges (a misheard first or last word) without crossing a neighbour
    or a pause."""
    texts = split_sentences(text)
    found: list[tuple[int, int, int, int] | None] = []
    for a, b in ranges:
        inside = [(i, j) for i, j in pairs if a <= i < b]
        if not inside:
            found.append(None)
            continue
        (i0, j0), (i1, j1) = inside[0], inside[-1]
        lead, trail = i0 - a, b - 1 - i1  # unmatched words at its edges: Whisper may split one in two
        found.append((j0 - _widen(lead), j0, j1, j1 + 1 + _widen(trail)))
    out: list[SentenceWords] = []
    previous_stop = lo
    for n, (place, (a, b)) in enumerate(zip(found, ranges, strict=True)):
        share = sum(1 for i, _ in pairs if a <= i < b) / max(b - a, 1)
        if place is None:
            out.append(SentenceWords(texts[n], None, None, share))
            continue
        widest_first, first, last, widest_stop = place
        following = next((f[1] for f in found[n + 1 :] if f is not None), hi)
        while first > max(widest_first, previous_stop) and _joined(tokens, first - 1) and not _ends(tokens[first - 1]):
            first -= 1
        while last + 1 < min(widest_stop, following) and _joined(tokens, last) and not _ends(tokens[last]):
            last += 1
        out.append(SentenceWords(texts[n], first, last + 1, share))
        previous_stop = last + 1
    return out


def _widen(unmatched: int) -> int:
    """How many transcript words `unmatched` article words may stand for (a word heard as two)."""
    return min(2 * unmatched + 1, MAX_LEAD_TOKENS) if unmatched else 0


def _ends(token: Token) -> bool:
    """Whether Whisper ended a sentence with this word."""
    return token.text.rstrip().endswith(SENTENCE_END)


def _joined(tokens: Sequence[Token], index: int) -> bool:
    """Whether tokens[index] runs into the next one without a pause."""
    return index + 1 < len(tokens) and tokens[index + 1].start_s - tokens[index].end_s < LEAD_PAUSE_S


def _asides(
    keys: Sequence[str],
    pairs: Sequence[tuple[int, int]],
    tokens: Sequence[Token],
    min_aside_s: float,
    ranges: Sequence[tuple[int, int]],
    sentences: Sequence[SentenceWords],
) -> list[tuple[int, int]]:
    """Stretches of transcript words inside a read block that the article does not account for.

    Between two matched words, the block's words left unmatched (misheard, perhaps) are said next
    to the sentence they belong to: between two sentences, the aside runs from the end of the one
    to the start of the other as their placement found them (a misheard first word of the second
    sentence is its own, not the aside's); inside one sentence, on the side whose words sound most
    like them (see `_said_first`)."""
    sentence_of = [n for n, (a, b) in enumerate(ranges) for _ in range(a, b)]
    out: list[tuple[int, int]] = []
    for (i0, j0), (i1, j1) in zip(pairs, pairs[1:], strict=False):
        missing = i1 - i0 - 1  # block words between the two matches (misheard, perhaps)
        extra = j1 - j0 - 1 - missing
        if extra < MIN_ASIDE_TOKENS:
            continue
        s0, s1 = sentence_of[i0], sentence_of[i1]
        before, after = sentences[s0], sentences[s1]
        if s0 != s1 and before.stop is not None and after.first is not None:
            between = ranges[s1][0] - ranges[s0][1]  # words of the sentences wholly unmatched there
            first, stop = max(j0 + 1, before.stop) + between, min(j1, after.first)
        else:
            after_first = _said_first(keys, i0, i1, tokens, j0, j1)
            first, stop = j0 + 1 + after_first, j1 - (missing - after_first)
        if stop > first and tokens[stop - 1].end_s - tokens[first].start_s >= min_aside_s:
            out.append((first, stop))
    return out


def _said_first(keys: Sequence[str], i0: int, i1: int, tokens: Sequence[Token], j0: int, j1: int) -> int:
    """Of the block words unmatched between two matches (keys[i0 + 1 : i1]) around an aside, how many
    were said before it (right after tokens[j0]); the others are said right before tokens[j1]. The
    split whose transcript words there share most letters with them, in order; of equals, all before."""
    missing = i1 - i0 - 1

    def score(before: int) -> int:
        after = missing - before
        return _shared_letters(keys[i0 + 1 : i0 + 1 + before], tokens[j0 + 1 : j0 + 1 + before]) + _shared_letters(
            keys[i1 - after : i1], tokens[j1 - after : j1]
        )

    return max(range(missing, -1, -1), key=score)  # max keeps the first of equals: all before


def _shared_letters(words: Sequence[str], heard: Sequence[Token]) -> int:
    a, b = "".join(words), "".join(t.key for t in heard)
    return sum(m.size for m in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
