"""A block's span from the unit path: the short untold sentences that open it are taken in, a whole
sentence at its edge that only its context ties to it is not, nor a unit the path passed through."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.pairing.alignment import Path
from pipeline.pairing.spans import LEAD_IN_MAX_WORDS, block_spans
from pipeline.pairing.units import TimedWord, Unit


def _unit(index: int, start_s: float, words: int) -> Unit:
    timed = tuple(TimedWord(start_s + 0.3 * n, start_s + 0.3 * n + 0.25, f" w{n}") for n in range(words))
    return Unit(index, start_s, timed[-1].end_s, timed)


def test_two_short_sentences_opening_a_retold_block_are_taken_in() -> None:
    # "Okay, let's begin at the bottom with the ground itself." / "What your plants like is rich
    # dirt," score too low for the path but closer to this block than to any other.
    units = [_unit(0, 0.0, 10), _unit(1, 3.9, 9), _unit(2, 7.1, 8), _unit(3, 9.2, 12)]
    matrix = np.array([[0.35, 0.23, 0.36, 0.44], [0.13, 0.0, 0.12, 0.10]])
    spans, labels = block_spans(Path((-1, -1, 0, 0)), matrix, units, min_score=0.3)
    assert labels == [0, 0, 0, 0]
    assert spans[0].start_s == 0.0


def test_the_lead_in_stops_at_a_sentence_closer_to_another_block() -> None:
    units = [_unit(n, 3.0 * n, 6) for n in range(5)]
    matrix = np.array([[0.3, 0.1, 0.25, 0.5, 0.5], [0.0, 0.2, 0.0, 0.0, 0.0]])
    spans, labels = block_spans(Path((-1, -1, -1, 0, 0)), matrix, units, min_score=0.3)
    assert labels == [-1, -1, 0, 0, 0]
    assert spans[0].start_s == units[2].start_s


def test_the_lead_in_stops_at_a_long_sentence() -> None:
    units = [_unit(0, 0.0, 6), _unit(1, 2.0, LEAD_IN_MAX_WORDS + 1), _unit(2, 7.0, 6), _unit(3, 9.0, 6)]
    matrix = np.array([[0.3, 0.3, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]])
    spans, labels = block_spans(Path((-1, -1, 0, 0)), matrix, units, min_score=0.3)
    assert labels == [-1, -1, 0, 0]
    assert spans[0].start_s == units[2].start_s


@pytest.mark.parametrize(
    ("sizes", "matrix", "alone", "expect", "last"),
    [
        # The block's last sentence lends its meaning to the aside's first (0.4 in context, 0.15 alone).
        ((14, 14, 20, 14), [0.7, 0.6, 0.4, 0.05], [0.6, 0.5, 0.15, 0.05], [0, 0, -1, -1], 1),
        # A short unit, or one inside the block, keeps its context.
        ((14, 20, 6, 14), [0.7, 0.4, 0.4, 0.05], [0.6, 0.1, 0.1, 0.05], [0, 0, 0, -1], 2),
    ],
    ids=["whole-sentence-next-to-audio-only-leaves", "short-or-inside-stays"],
)
def test_a_whole_sentence_next_to_audio_only_leaves_the_block_when_it_scores_low_alone(
    sizes: tuple[int, ...], matrix: list[float], alone: list[float], expect: list[int], last: int
) -> None:
    units = [_unit(n, 7.0 * n, size) for n, size in enumerate(sizes)]
    spans, labels = block_spans(
        Path((0, 0, 0, -1)), np.array([matrix]), units, min_score=0.3, alone=np.array([alone])
    )
    assert labels == expect
    assert spans[0].end_s == units[last].end_s


def test_a_unit_the_path_passed_through_on_its_way_to_another_block_is_untold() -> None:
    # Unit 1 went to block 1 on the way from block 0 to block 2; block 1 is told later (units 4-5).
    units = [_unit(n, 4.0 * n, 8) for n in range(6)]
    matrix = np.array([
        [0.6, 0.25, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.25, 0.0, 0.1, 0.7, 0.7],
        [0.0, 0.0, 0.7, 0.7, 0.0, 0.0],
    ])
    spans, labels = block_spans(Path((0, 1, 2, 2, 1, 1)), matrix, units, min_score=0.3)
    assert labels[1] == -1
    assert spans[1].start_s == units[4].start_s


def test_the_lead_in_leaves_out_blocks_told_elsewhere() -> None:
    # "And, what to plant?" opens block 1; it shares a word with block 2, told later (units 5-6).
    units = [_unit(0, 0.0, 10), _unit(1, 4.0, 10), _unit(2, 8.0, 4), _unit(3, 10.0, 10), _unit(4, 14.0, 10),
             _unit(5, 18.0, 10), _unit(6, 22.0, 10)]
    matrix = np.array([
        [0.6, 0.6, 0.15, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.25, 0.6, 0.6, 0.0, 0.0],
        [0.0, 0.0, 0.42, 0.0, 0.0, 0.6, 0.6],
    ])
    spans, labels = block_spans(Path((0, 0, -1, 1, 1, 2, 2)), matrix, units, min_score=0.3)
    assert labels[2] == 1
    assert spans[1].start_s == units[2].start_s


def test_the_lead_in_still_stops_at_a_sentence_closer_to_the_block_before() -> None:
    units = [_unit(0, 0.0, 10), _unit(1, 4.0, 10), _unit(2, 8.0, 4), _unit(3, 10.0, 10), _unit(4, 14.0, 10)]
    matrix = np.array([[0.6, 0.6, 0.28, 0.0, 0.0], [0.0, 0.0, 0.25, 0.6, 0.6]])
    spans, labels = block_spans(Path((0, 0, -1, 1, 1)), matrix, units, min_score=0.3)
    assert labels[2] == -1
    assert spans[1].start_s == units[3].start_s
