"""From a path of unit labels to time spans: each told block's span, and the audio-only stretches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.pairing.alignment import Path, runs
from pipeline.pairing.units import Unit

# Seconds without a transcribed word, between two words, that count as untold audio.
HOLE_S = 3.0
# A block takes in the untold units just before it, one after the other, while each is this short
# and scores at least this share of the threshold for this block, more than for any other.
LEAD_IN_MAX_WORDS = 12
LEAD_IN_SCORE = 0.5


@dataclass(frozen=True)
class BlockSpan:
    start_s: float
    end_s: float
    score: float  # mean similarity of the block with the units that tell it, in [0, 1]


def block_spans(
    path: Path, matrix: np.ndarray, units: Sequence[Unit], *, min_score: float
) -> tuple[dict[int, BlockSpan], list[int]]:
    """Each block's span (its strongest stretch, joined with its own stretches around asides).

    A block whose units score below `min_score` on average is not told: its units become audio only.
    Returns the spans by matchable-block position and the final label of every unit.
    """
    labels = list(path.blocks)
    weights = np.array([len(u.words) for u in units], dtype=np.float64)
    by_block: dict[int, list[tuple[int, int]]] = {}
    for label, first, stop in runs(path):
        if label >= 0:
            by_block.setdefault(label, []).append((first, stop))
    spans: dict[int, BlockSpan] = {}
    for block, stretches in by_block.items():
        first, stop = _main_stretch(block, stretches, matrix, weights, labels, min_score)
        told = [i for i in range(first, stop) if labels[i] == block]
        score = float(np.average(matrix[block, told], weights=weights[told]))
        if score < min_score:
            for a, b in stretches:
                labels[a:b] = [-1] * (b - a)
            continue
        first = _lead_in(block, first, matrix, units, labels, min_score)
        spans[block] = BlockSpan(units[first].start_s, units[stop - 1].end_s, score)
    return spans, labels


def _lead_in(
    block: int, first: int, matrix: np.ndarray, units: Sequence[Unit], labels: list[int], min_score: float
) -> int:
    """Take in the short untold sentences that announce a block ("Okay, let's begin with the soil.
    What the plants like…") when each is closer to this block than to any other."""
    while first > 0 and labels[first - 1] == -1 and len(units[first - 1].words) <= LEAD_IN_MAX_WORDS:
        scores = matrix[:, first - 1]
        if scores[block] < LEAD_IN_SCORE * min_score or int(np.argmax(scores)) != block:
            break
        first -= 1
        labels[first] = block
    return first


def _main_stretch(
    block: int,
    stretches: list[tuple[int, int]],
    matrix: np.ndarray,
    weights: np.ndarray,
    labels: list[int],
    min_score: float,
) -> tuple[int, int]:
    def gain(stretch: tuple[int, int]) -> float:
        a, b = stretch
        return float(np.sum((matrix[block, a:b] - min_score) * weights[a:b]))

    best = max(stretches, key=gain)
    first, stop = best
    # Join the block's other stretches when only audio-only units lie between (an aside mid-block).
    for a, b in sorted(stretches):
        if b <= first and all(labels[i] == -1 for i in range(b, first)):
            first = a
    for a, b in sorted(stretches, reverse=True):
        if a >= stop and all(labels[i] == -1 for i in range(stop, a)):
            stop = b
    return first, stop
