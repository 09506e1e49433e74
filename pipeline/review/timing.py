"""Word times through edits: align a segment's new words with its old ones.

The old and new words are compared as normalized tokens (no case, no punctuation). Unchanged
words keep their times exactly; typed words (replacing or inserted) get times inside the gap
their kept neighbours leave (a replaced run: the replaced words' own span), shared in proportion
to their length, so times stay monotonic. The alignment keeps as many words as possible: an
exact longest common subsequence on segment-sized texts (difflib's SequenceMatcher is greedy and
can drop a kept word for an equal one nearby), difflib's blocks on very long ones. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from pipeline.models import Word

# A person typed the word: it is certain.
TYPED_PROBABILITY = 1.0
_NON_WORD = re.compile(r"[^\w]+")
# Above this many cells an exact word alignment costs too much time: difflib's greedy one is used.
_MAX_EXACT_CELLS = 250_000


def _norm(token: str) -> str:
    """Compare words without case or punctuation: "Hello," and "hello" are the same word."""
    return _NON_WORD.sub("", token.casefold()) or token


def _spread(tokens: Sequence[str], lo: float, hi: float) -> list[Word]:
    """Times for typed words: [lo, hi] shared in proportion to their length, in order."""
    hi = max(hi, lo)
    weights = [len(t) + 1 for t in tokens]
    total = sum(weights)
    words, acc = [], 0
    for token, weight in zip(tokens, weights, strict=True):
        start = min(max(round(lo + (hi - lo) * acc / total, 3), lo), hi)
        acc += weight
        end = hi if acc == total else min(max(round(lo + (hi - lo) * acc / total, 3), start), hi)
        words.append(Word(start_s=start, end_s=end, text=f" {token}", probability=TYPED_PROBABILITY))
    return words


def _lcs_pairs(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs of a longest common subsequence (exact, unlike difflib's greedy blocks)."""
    n, m = len(a), len(b)
    lengths = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = lengths[i], lengths[i + 1]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if a[i] == b[j] else max(below[j], row[j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif lengths[i + 1][j] >= lengths[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _opcodes(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes keeping as many words as possible; difflib itself for very long blocks."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    if len(mid_a) * len(mid_b) > _MAX_EXACT_CELLS:
        blocks = SequenceMatcher(None, mid_a, mid_b, autojunk=False).get_matching_blocks()
        pairs = [(blk.a + k, blk.b + k) for blk in blocks for k in range(blk.size)]
    else:
        pairs = _lcs_pairs(mid_a, mid_b)
    pairs = [(k, k) for k in range(head)] + [(i + head, j + head) for i, j in pairs]
    pairs += [(len(a) - tail + k, len(b) - tail + k) for k in range(tail)]
    ops, i, j = [], 0, 0
    for pi, pj in [*pairs, (len(a), len(b))]:
        if pi > i or pj > j:
            ops.append(("replace" if pi > i and pj > j else "delete" if pi > i else "insert", i, pi, j, pj))
        if (pi, pj) != (len(a), len(b)):
            if ops and ops[-1][0] == "equal":
                ops[-1] = ("equal", ops[-1][1], pi + 1, ops[-1][3], pj + 1)
            else:
                ops.append(("equal", pi, pi + 1, pj, pj + 1))
        i, j = pi + 1, pj + 1
    return ops


def align(old: Sequence[Word], tokens: Sequence[str], lo: float, hi: float) -> list[tuple[Word, int | None]]:
    """Each token's word, with the index in `old` of the word it keeps (None: typed, newly timed)."""
    out: list[tuple[Word, int | None]] = []
    for tag, i1, i2, j1, j2 in _opcodes([_norm(w.text) for w in old], [_norm(t) for t in tokens]):
        if tag == "equal":
            for k in range(j2 - j1):
                word, text = old[i1 + k], f" {tokens[j1 + k]}"
                out.append((word if word.text == text else word.model_copy(update={"text": text}), i1 + k))
        elif tag in ("replace", "insert"):
            gap_hi = old[i2].start_s if i2 < len(old) else hi
            # Whisper may start a segment's first word before the segment itself: never after it.
            gap_lo = out[-1][0].end_s if out else min(lo, gap_hi)
            if tag == "replace":  # the replaced words' own span, when it lies inside the gap
                gap_lo, gap_hi = max(gap_lo, old[i1].start_s), min(gap_hi, max(old[i2 - 1].end_s, gap_lo))
            out.extend((w, None) for w in _spread(tokens[j1:j2], gap_lo, gap_hi))
    return out


def align_words(old: Sequence[Word], tokens: Sequence[str], lo: float, hi: float) -> list[Word]:
    """Words for `tokens`, timed from `old` (the words they replace, inside [lo, hi])."""
    return [w for w, _ in align(old, tokens, lo, hi)]
