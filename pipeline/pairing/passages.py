"""From the unit-level spans to word-level passages: where each block starts and ends, which
headings are said aloud and where, and which of the episode's words tell no block (audio only).

A block read aloud runs from its first spoken word to its last (pairing.words); one told in other
words keeps the units that tell it, less any word a read neighbour claims, and then whole
sentences: the units are phrases scored by meaning one at a time, and a retold phrase often
scores closer to a neighbouring paragraph on the same subject (or to nothing) than the sentence it
belongs to, so a sentence Whisper wrote is not split between two retold blocks or between a block
and audio only (it goes to the block that tells most of it). A heading is spoken
when its words are said just before its section (after the block before it); its span is then
those words. Every transcript word left untold belongs to an audio-only stretch, kept when it
lasts at least `min_audio_only_s`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from pipeline.article import Article, ArticleBlock
from pipeline.models import AudioOnlySpan
from pipeline.pairing.spans import HOLE_S, BlockSpan
from pipeline.pairing.units import SENTENCE_END, Unit
from pipeline.pairing.words import BlockWords, Token, align_block, article_words, token_at, transcript_tokens

# How far before its section a spoken heading is looked for.
HEADING_SEARCH_S = 15.0
# Share of a heading's words that must be said, in order, for it to count as spoken.
HEADING_SHARE = 0.7
# A pause this long ends a sentence even without a full stop.
SENTENCE_PAUSE_S = 1.0
# A longer "sentence" is speech Whisper did not punctuate: its phrases keep their own labels.
MAX_SENTENCE_WORDS = 40
# A retold block takes its sentence's untold words when it tells at least this share of them.
SENTENCE_SHARE = 0.25


@dataclass(frozen=True)
class Passages:
    tokens: tuple[Token, ...]
    spans: dict[int, BlockSpan]  # article block index -> word-level span (told blocks)
    read: dict[int, BlockWords]  # blocks read aloud
    headings: dict[int, tuple[int, int]]  # spoken heading -> its token range
    covered: tuple[bool, ...]  # per token: some block or heading tells it


def place_passages(
    article: Article,
    spans: dict[int, BlockSpan],
    units: Sequence[Unit],
    labels: Sequence[int],
    *,
    min_audio_only_s: float,
) -> Passages:
    tokens = transcript_tokens(units)
    read = _read_blocks(article, spans, tokens, min_audio_only_s)
    covered = [False] * len(tokens)
    claimed: dict[int, int] = {}  # token -> the read block it belongs to
    for index, words in read.items():
        for j in range(words.first, words.stop):
            claimed[j] = index
        for j in _told(words):
            covered[j] = True
    out_spans = {i: _read_span(spans[i], words, tokens) for i, words in read.items()}
    retold = whole_sentences(tokens, _retold_owners(tokens, labels, set(spans) - set(read), claimed))
    for index, span in spans.items():
        if index not in read:
            told = [j for j, owner in enumerate(retold) if owner == index]
            for j in told:
                covered[j] = True
            out_spans[index] = _retold_span(span, told, tokens)
    headings = _spoken_headings(article, out_spans, tokens, covered)
    return Passages(tuple(tokens), out_spans, read, headings, tuple(covered))


def _read_blocks(
    article: Article, spans: dict[int, BlockSpan], tokens: Sequence[Token], min_aside_s: float
) -> dict[int, BlockWords]:
    """Blocks read aloud, cut where they would overlap (the earlier one ends where the next starts)."""
    by_block = {b.index: b for b in article.blocks}
    found: dict[int, BlockWords] = {}
    for index, span in spans.items():
        words = align_block(by_block[index].text, span, tokens, floor=0, ceiling=len(tokens), min_aside_s=min_aside_s)
        if words is not None:
            found[index] = words
    ordered = sorted(found, key=lambda i: found[i].first)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if found[before].stop > found[after].first:
            cut = max(found[before].first + 1, found[after].first)
            found[before] = replace(found[before], stop=cut)
            found[after] = replace(found[after], first=max(found[after].first, cut))
    return found


def _retold_owners(
    tokens: Sequence[Token], labels: Sequence[int], retold: set[int], claimed: dict[int, int]
) -> list[int | None]:
    """Per token: the retold block its unit tells (None: untold, or a read block's word)."""
    return [
        labels[t.unit] if labels[t.unit] in retold and j not in claimed else None for j, t in enumerate(tokens)
    ]


def whole_sentences(tokens: Sequence[Token], owners: list[int | None]) -> list[int | None]:
    """Each sentence's words given to the retold block that tells most of them (see the module)."""
    out = list(owners)
    for first, stop in sentence_ranges(tokens):
        owned = Counter(o for o in owners[first:stop] if o is not None)
        if not owned or stop - first > MAX_SENTENCE_WORDS:
            continue
        # The block telling most of the sentence; of equals, the one that starts it.
        block = max(owned, key=lambda b: (owned[b], -owners[first:stop].index(b)))
        free = [j for j in range(first, stop) if owners[j] is None or owners[j] in owned]
        if owned[block] >= SENTENCE_SHARE * len(free):
            for j in free:
                out[j] = block
    return out


def sentence_ranges(tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Token ranges of the sentences as Whisper wrote them (a long pause ends one too)."""
    out: list[tuple[int, int]] = []
    first = 0
    for j, token in enumerate(tokens):
        last = j + 1 == len(tokens)
        if last or _ends_sentence(token, tokens[j + 1]):
            out.append((first, j + 1))
            first = j + 1
    return out


def _ends_sentence(token: Token, following: Token) -> bool:
    return token.text.rstrip().endswith(SENTENCE_END) or following.start_s - token.end_s >= SENTENCE_PAUSE_S


def _told(words: BlockWords) -> list[int]:
    aside = {j for a, b in words.asides for j in range(a, b)}
    return [j for j in range(words.first, words.stop) if j not in aside]


def _read_span(span: BlockSpan, words: BlockWords, tokens: Sequence[Token]) -> BlockSpan:
    return BlockSpan(tokens[words.first].start_s, tokens[words.stop - 1].end_s, span.score)


def _retold_span(span: BlockSpan, told: list[int], tokens: Sequence[Token]) -> BlockSpan:
    if not told:
        return span
    return BlockSpan(tokens[told[0]].start_s, max(tokens[j].end_s for j in told), span.score)


def _spoken_headings(
    article: Article, spans: dict[int, BlockSpan], tokens: Sequence[Token], covered: list[bool]
) -> dict[int, tuple[int, int]]:
    """Headings said aloud just before their section; their words become told (in place)."""
    out: dict[int, tuple[int, int]] = {}
    for heading in reversed([b for b in article.blocks if b.kind == "heading" and b.text.strip()]):
        start_s = section_start(article, heading, spans)
        if start_s is None:
            continue
        stop = token_at(tokens, start_s)
        said = {j for first, stop_ in out.values() for j in range(first, stop_)}
        lo = stop
        while (
            lo > 0 and (not covered[lo - 1] or lo - 1 in said) and start_s - tokens[lo - 1].start_s <= HEADING_SEARCH_S
        ):
            lo -= 1
        spoken_before = [j for j in out.values() if lo <= j[0] < stop]
        if spoken_before:  # a sub-heading said after this one: search before it
            stop = min(j[0] for j in spoken_before)
        found = find_phrase(article_words(heading.text)[0], tokens, lo, stop)
        if found is not None:
            out[heading.index] = found
            for j in range(*found):
                covered[j] = True
    return out


def section_start(article: Article, heading: ArticleBlock, spans: dict[int, BlockSpan]) -> float | None:
    """Where the earliest told block of a heading's section starts."""
    level = heading.level or 1
    starts: list[float] = []
    for block in article.blocks[heading.index + 1 :]:
        if block.kind == "heading" and (block.level or 1) <= level:
            break
        if block.kind != "heading" and block.index in spans:
            starts.append(spans[block.index].start_s)
    return min(starts) if starts else None


def find_phrase(keys: Sequence[str], tokens: Sequence[Token], lo: int, hi: int) -> tuple[int, int] | None:
    """The stretch of tokens[lo:hi] that says `keys` best (the latest of equals), if said enough."""
    size = len(keys)
    best: tuple[float, int, int, int] | None = None
    if not size:
        return None
    for first in range(lo, hi):
        for length in (size - 1, size, size + 1):
            stop = first + length
            if length < 1 or stop > hi:
                continue
            window = [t.key for t in tokens[first:stop]]
            matcher = SequenceMatcher(None, list(keys), window, autojunk=False)
            common = sum(m.size for m in matcher.get_matching_blocks())
            share = min(common / size, common / length)
            if share < HEADING_SHARE or window[0] != _first_match(keys, window):
                continue
            key = (share, first, -length, stop)
            if best is None or key > best:
                best = key
    return None if best is None else (best[1], best[3])


def _first_match(keys: Sequence[str], window: Sequence[str]) -> str | None:
    """The window's first word when it is one of the phrase's (a stretch starts on a said word)."""
    return window[0] if window and window[0] in keys else None


@dataclass
class _Stretch:
    start_s: float
    end_s: float
    texts: list[str]


def audio_only_words(
    tokens: Sequence[Token], covered: Sequence[bool], *, min_duration_s: float
) -> list[AudioOnlySpan]:
    """Runs of untold words (and long holes without words), at least `min_duration_s` long.

    A long hole between two words counts too: the published audio has its silences shortened, so
    seconds without words there are sound the transcript skipped.
    """
    stretches: list[_Stretch] = []
    open_run = False
    previous: Token | None = None
    for token, told in zip(tokens, covered, strict=True):
        if previous is not None and token.start_s - previous.end_s >= HOLE_S:
            if not open_run:
                stretches.append(_Stretch(previous.end_s, token.start_s, []))
            stretches[-1].end_s = token.start_s
            open_run = True
        if not told:
            if not open_run:
                stretches.append(_Stretch(token.start_s, token.end_s, []))
            stretches[-1].end_s = token.end_s
            stretches[-1].texts.append(token.text)
        open_run = not told
        previous = token
    return [
        AudioOnlySpan(start_s=round(s.start_s, 3), end_s=round(s.end_s, 3), text=" ".join("".join(s.texts).split()))
        for s in stretches
        if s.end_s - s.start_s >= min_duration_s
    ]
