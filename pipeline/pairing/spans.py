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
# and scores at least this share of the threshold for this block, more than for any other; a longer
# unit next to audio only stands on its own meaning (_trimmed).
LEAD_IN_MAX_WORDS = 12
LEAD_IN_SCORE = 0.5


@dataclass(frozen=True)
class BlockSpan:
    start_s: float
    end_s: float
    score: float  # mean similarity of the block with the units that tell it, in [0, 1]


def block_spans(
    path: Path,
    matrix: np.ndarray,
    units: Sequence[Unit],
    *,
    min_score: float,
    alone: np.ndarray | None = None,
) -> tuple[dict[int, BlockSpan], list[int]]:
    """Each block's span (its strongest stretch, joined with its own stretches around asides).

    A block whose units score below `min_score` on average is not told: its units become audio only.
    `alone`, the scores of the units read without their neighbours (`matrix` reads them in context),
    trims a block's edges next to audio only (_trimmed). Returns the spans by matchable-block
    position and the final label of every unit.
    """
    labels = list(path.blocks)
    weights = np.array([len(u.words) for u in units], dtype=np.float64)
    by_block: dict[int, list[tuple[int, int]]] = {}
    for label, first, stop in runs(path):
        if label >= 0:
            by_block.setdefault(label, []).append((first, stop))
    kept = {
        block: _main_stretch(block, stretches, matrix, weights, labels, min_score)
        for block, stretches in by_block.items()
    }
    # A block's units outside its span tell nothing of it: a unit or two the path passed through
    # on its way to another block ("…where things will grow. | And, what to plant?" given to the
    # two paragraphs in between, told a minute later) are untold, left to the blocks around them.
    for i, label in enumerate(labels):
        if label >= 0 and not kept[label][0] <= i < kept[label][1]:
            labels[i] = -1
    scores: dict[int, float] = {}
    for block, (first, stop) in kept.items():
        if alone is not None:
            first, stop = _trimmed(block, first, stop, alone, units, labels, min_score)
        told = [i for i in range(first, stop) if labels[i] == block]
        score = float(np.average(matrix[block, told], weights=weights[told]))
        if score < min_score:
            labels[first:stop] = [-1 if label == block else label for label in labels[first:stop]]
            continue
        kept[block], scores[block] = (first, stop), score
    spans: dict[int, BlockSpan] = {}
    for block, score in scores.items():
        first, stop = kept[block]
        first = _lead_in(block, first, matrix, units, labels, min_score, _told_elsewhere(block, first, kept, scores))
        spans[block] = BlockSpan(units[first].start_s, units[stop - 1].end_s, score)
    return spans, labels


def _trimmed(
    block: int, first: int, stop: int, alone: np.ndarray, units: Sequence[Unit], labels: list[int], min_score: float
) -> tuple[int, int]:
    """The block's stretch without the whole sentences next to audio only that only their
    neighbours tie to it. A unit's meaning mixes in its neighbours' (similarity._in_context), which
    a short phrase needs; but where a block meets an aside, the block's sentence lends its meaning
    to the aside's ("By the way, my cat has decided that the new raised bed…" after "…not one next
    to the house or under the big oak."), and the aside's opening goes to the block. A unit longer
    than a lead-in says what it means alone: read so, if it scores below the threshold for the
    block, it is audio only. The recording's start and end count as audio only; the block keeps at
    least one unit."""

    def untold(i: int) -> bool:
        return i < 0 or i >= len(units) or labels[i] == -1

    def apart(i: int) -> bool:
        return (
            labels[i] == block
            and (untold(i - 1) or untold(i + 1))
            and len(units[i].words) > LEAD_IN_MAX_WORDS
            and float(alone[block, i]) < min_score
        )

    while True:  # one unit at a time: leaving the block puts its neighbour at the edge
        own = [i for i in range(first, stop) if labels[i] == block]
        drop = next((i for i in own if apart(i)), None) if len(own) > 1 else None
        if drop is None:
            return own[0], own[-1] + 1
        labels[drop] = -1


def _told_elsewhere(
    block: int, first: int, kept: dict[int, tuple[int, int]], told: dict[int, float]
) -> list[int]:
    """The blocks told away from where this one starts: all told blocks but this one and the one
    told last before it (whose end the sentence before this block may be)."""
    before = [b for b in told if b != block and kept[b][1] <= first]
    previous = max(before, key=lambda b: kept[b][1]) if before else None
    return [b for b in told if b not in (block, previous)]


def _lead_in(
    block: int,
    first: int,
    matrix: np.ndarray,
    units: Sequence[Unit],
    labels: list[int],
    min_score: float,
    elsewhere: Sequence[int] = (),
) -> int:
    """Take in the short untold sentences that announce a block ("Okay, let's begin with the soil.
    What the plants like…") when each is closer to this block than to any other, leaving out the
    blocks told elsewhere in the episode (`elsewhere`): one word of a later paragraph in a short
    phrase ("And, what to plant?" against "…the plants go on producing", told a minute later) does
    not make the phrase that paragraph's."""
    rivals = np.ones(matrix.shape[0], dtype=bool)
    rivals[list(elsewhere)] = False
    while first > 0 and labels[first - 1] == -1 and len(units[first - 1].words) <= LEAD_IN_MAX_WORDS:
        scores = np.where(rivals, matrix[:, first - 1], -np.inf)
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
