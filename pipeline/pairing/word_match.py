"""Word-level touches after the unit-level path: exact block starts when the episode reads the text,
and short blocks ("The General Assembly,") found inside a unit that a neighbour took.

Only used where the words match well; a block retold in other words keeps its unit-level span.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from pipeline.pairing.similarity import stems
from pipeline.pairing.spans import BlockSpan
from pipeline.pairing.units import TimedWord, Unit

PREFIX_TOKENS = 8
SEARCH_TOKENS = 25
MIN_PREFIX_MATCH = 0.7
MIN_BLOCK_MATCH = 0.6
# A short block found away from its neighbours must match nearly word for word.
MIN_RESCUE_MATCH = 0.8
# A short block missing between two told neighbours is searched for only when it is this short.
MAX_INSERT_TOKENS = 40
# Before the first told block (or after the last), look this far for a missing one.
EDGE_SEARCH_S = 20.0


@dataclass(frozen=True)
class WordTimes:
    """The words sorted by start, to find those under a given time without a scan of all."""

    starts: tuple[float, ...]
    ends: tuple[float, ...]
    units: tuple[int, ...]
    longest_s: float


@dataclass(frozen=True)
class Tokens:
    stems: tuple[str, ...]
    words: tuple[TimedWord, ...]  # the word each stem came from
    times: tuple[float, ...]  # start of that word
    units: tuple[int, ...]  # the unit that word belongs to
    by_start: WordTimes


def tokenize_units(units: Sequence[Unit]) -> Tokens:
    out_stems: list[str] = []
    out_words: list[TimedWord] = []
    out_units: list[int] = []
    for unit in units:
        for word in unit.words:
            for stem in stems(word.text):
                out_stems.append(stem)
                out_words.append(word)
                out_units.append(unit.index)
    times = tuple(w.start_s for w in out_words)
    return Tokens(tuple(out_stems), tuple(out_words), times, tuple(out_units), _word_times(units))


def _word_times(units: Sequence[Unit]) -> WordTimes:
    words = sorted(((w.start_s, w.end_s, u.index) for u in units for w in u.words), key=lambda w: w[0])
    return WordTimes(
        starts=tuple(w[0] for w in words),
        ends=tuple(w[1] for w in words),
        units=tuple(w[2] for w in words),
        longest_s=max((end - start for start, end, _ in words), default=0.0),
    )


def refine(
    spans: dict[int, BlockSpan], texts: Sequence[str], units: Sequence[Unit], labels: list[int]
) -> dict[int, BlockSpan]:
    """Place short untold blocks whose words are plainly there, then sharpen every start.

    `texts`: the matchable blocks in article order; `labels` (per unit) is updated in place.
    """
    tokens = tokenize_units(units)
    spans = dict(spans)
    for k in range(len(texts)):
        if k not in spans:
            _insert_between(k, spans, texts, tokens)
    for k in range(len(texts)):
        if k not in spans:
            _rescue(k, spans, texts, tokens, labels)
    for k in sorted(spans, key=lambda b: spans[b].start_s):
        _sharpen_start(k, spans, texts, tokens)
    return spans


def _rescue(
    k: int, spans: dict[int, BlockSpan], texts: Sequence[str], tokens: Tokens, labels: list[int]
) -> None:
    """A short block said word for word anywhere the path left free (or at a told block's edge)."""
    block = stems(texts[k])
    if not 2 <= len(block) <= MAX_INSERT_TOKENS:
        return
    free = _free_units(block, tokens, labels, spans)
    best: tuple[float, int] | None = None
    for first in range(0, len(tokens.stems) - len(block) + 1):
        if tokens.stems[first] != block[0] or tokens.units[first] not in free:
            continue
        window = range(first, first + len(block))
        if any(tokens.units[i] not in free for i in window):
            continue
        share = _match_share(block, tokens.stems[first : first + len(block)])
        if share >= MIN_RESCUE_MATCH and (best is None or share > best[0]):
            best = (share, first)
    if best is None:
        return
    share, first = best
    stop = first + len(block)
    start_s, end_s = tokens.times[first], tokens.words[stop - 1].end_s
    for other, span in list(spans.items()):
        if span.start_s <= start_s < span.end_s or span.start_s < end_s <= span.end_s:
            spans[other] = _trim(span, start_s, end_s, tokens, first, stop)
    spans[k] = BlockSpan(start_s, end_s, share)
    for u in {tokens.units[i] for i in range(first, stop)}:
        labels[u] = k


def _free_units(block: list[str], tokens: Tokens, labels: list[int], spans: dict[int, BlockSpan]) -> set[int]:
    """Units that no block tells, and units at the edge of a told block made of this block's words."""
    free = {u for u, label in enumerate(labels) if label < 0}
    words = Counter(block)
    unit_stems: dict[int, list[str]] = {}
    for stem, unit in zip(tokens.stems, tokens.units, strict=True):
        unit_stems.setdefault(unit, []).append(stem)
    for span in spans.values():
        for time_s in (span.start_s, span.end_s):
            for u in _units_at(tokens, time_s):
                inside = unit_stems.get(u, [])
                if inside and sum((Counter(inside) & words).values()) >= MIN_RESCUE_MATCH * len(inside):
                    free.add(u)
    return free


def _units_at(tokens: Tokens, time_s: float) -> set[int]:
    """The units of the words said at time_s (start <= time_s <= end)."""
    index = tokens.by_start
    lo = bisect_left(index.starts, time_s - index.longest_s)
    hi = bisect_right(index.starts, time_s)
    return {index.units[i] for i in range(lo, hi) if index.ends[i] >= time_s}


def _trim(span: BlockSpan, start_s: float, end_s: float, tokens: Tokens, first: int, stop: int) -> BlockSpan:
    """Cut a told block's span so that it no longer covers [start_s, end_s]."""
    if span.start_s >= start_s:
        return replace(span, start_s=min(span.end_s, _start_after(tokens, stop)))
    return replace(span, end_s=max(span.start_s, _end_before(tokens, first)))


def _insert_between(k: int, spans: dict[int, BlockSpan], texts: Sequence[str], tokens: Tokens) -> None:
    """Find a short untold block between its told neighbours (or before/after the first/last one)."""
    block = stems(texts[k])
    before, after = spans.get(k - 1), spans.get(k + 1)
    if not block or len(block) > MAX_INSERT_TOKENS or (before is None and after is None):
        return
    if before is not None and after is not None and before.start_s > after.start_s:
        return  # the neighbours are told in another order: no place between them
    lo = _index_at(tokens, before.start_s if before else after.start_s - EDGE_SEARCH_S)  # type: ignore[union-attr]
    hi = _index_at(tokens, (after.end_s if after else before.end_s + EDGE_SEARCH_S) + 0.01)  # type: ignore[union-attr]
    found = _best_window(block, tokens.stems, lo, hi)
    if found is None:
        return
    first, stop = found
    start_s, end_s = tokens.times[first], tokens.words[stop - 1].end_s
    spans[k] = BlockSpan(start_s, end_s, _match_share(block, tokens.stems[first:stop]))
    if before is not None and before.end_s > start_s:
        spans[k - 1] = replace(before, end_s=max(before.start_s, _end_before(tokens, first)))
    if after is not None and after.start_s < end_s:
        spans[k + 1] = replace(after, start_s=min(after.end_s, _start_after(tokens, stop)))


def _best_window(block: list[str], seq: Sequence[str], lo: int, hi: int) -> tuple[int, int] | None:
    size = len(block)
    best: tuple[float, int] | None = None
    for first in range(lo, max(lo, hi - size) + 1):
        if seq[first] != block[0]:
            continue
        share = _match_share(block, seq[first : first + size])
        if share >= MIN_BLOCK_MATCH and (best is None or share > best[0]):
            best = (share, first)
    return None if best is None else (best[1], best[1] + size)


def _match_share(block: Sequence[str], window: Sequence[str]) -> float:
    common = Counter(block) & Counter(window)
    return sum(common.values()) / max(len(block), 1)


def _sharpen_start(k: int, spans: dict[int, BlockSpan], texts: Sequence[str], tokens: Tokens) -> None:
    prefix = stems(texts[k])[:PREFIX_TOKENS]
    if len(prefix) < 2:
        return
    span = spans[k]
    centre = _index_at(tokens, span.start_s)
    best: tuple[float, int, int] | None = None
    for first in range(max(0, centre - SEARCH_TOKENS), min(len(tokens.stems), centre + SEARCH_TOKENS)):
        if tokens.stems[first] != prefix[0]:
            continue
        window = tokens.stems[first : first + len(prefix) + 2]
        matcher = SequenceMatcher(None, prefix, window, autojunk=False)
        share = sum(m.size for m in matcher.get_matching_blocks()) / len(prefix)
        key = (share, -abs(first - centre), first)
        if share >= MIN_PREFIX_MATCH and (best is None or key > best):
            best = key
    if best is None:
        return
    start_s = tokens.times[best[2]]
    if start_s >= span.end_s:
        return
    spans[k] = replace(span, start_s=start_s)
    for other, o in list(spans.items()):  # the block told just before now ends where this one starts
        if other != k and o.start_s < start_s < o.end_s:
            spans[other] = replace(o, end_s=_end_before(tokens, best[2]))


def _index_at(tokens: Tokens, time_s: float) -> int:
    """The first token starting at or after time_s."""
    for i, t in enumerate(tokens.times):
        if t >= time_s - 1e-6:
            return i
    return len(tokens.times)


def _end_before(tokens: Tokens, index: int) -> float:
    return tokens.words[index - 1].end_s if index > 0 else tokens.times[0]


def _start_after(tokens: Tokens, index: int) -> float:
    return tokens.times[index] if index < len(tokens.times) else tokens.words[-1].end_s
