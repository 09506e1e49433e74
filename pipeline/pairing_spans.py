"""From a path of unit labels to time spans: each told block's span, and the audio-only stretches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.alignment import Path, runs
from pipeline.models import AudioOnlySpan
from pipeline.speech_units import Unit


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
        score = float(np.average(matrix[block, first:stop], weights=weights[first:stop]))
        told = [i for i in range(first, stop) if labels[i] == block]
        if score < min_score:
            for i in told:
                labels[i] = -1
            continue
        spans[block] = BlockSpan(units[first].start_s, units[stop - 1].end_s, score)
    return spans, labels


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


def audio_only_spans(
    units: Sequence[Unit], labels: Sequence[int], *, min_duration_s: float
) -> list[AudioOnlySpan]:
    """Stretches of speech that no block tells, at least `min_duration_s` long."""
    spans: list[AudioOnlySpan] = []
    for label, first, stop in runs(Path(tuple(labels))):
        if label >= 0:
            continue
        start_s, end_s = units[first].start_s, units[stop - 1].end_s
        if end_s - start_s >= min_duration_s:
            text = " ".join(u.text for u in units[first:stop])
            spans.append(AudioOnlySpan(start_s=round(start_s, 3), end_s=round(end_s, 3), text=text))
    return spans
