"""Which article block each transcript unit tells, if any: a Viterbi path over blocks and gaps.

Every unit is either in a block (it tells that block) or in a gap (audio only). Following the
article costs nothing; skipping blocks, stepping aside into a gap, resuming a block after an aside
and going back in the article cost a little more each — order is a preference, not a constraint, so
enough evidence moves a section anywhere.

States: block k (0..n-1) at index k; "gap after block k" (k = -1..n-1) at index n + 1 + k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEG = -1e9


@dataclass(frozen=True)
class Costs:
    """Penalties, in units of "words of evidence" (a unit's weight times its score above threshold)."""

    skip: float = 1.0  # jump forward over blocks the episode does not tell
    gap: float = 2.0  # step into an audio-only stretch
    resume: float = 1.0  # come back to the same block after an aside
    back: float = 6.0  # go back (or far away) in the article
    rivalry: float = 1.0  # per point of score behind the unit's best block


@dataclass(frozen=True)
class Path:
    """For each unit, the block it tells (or -1 for audio only)."""

    blocks: tuple[int, ...]


def transition_matrix(n: int, costs: Costs) -> np.ndarray:
    """(from, to) additive scores over the 2n+1 states."""
    size = 2 * n + 1
    last = np.concatenate([np.arange(n), np.arange(-1, n)])  # the last block seen, per state
    is_gap = np.concatenate([np.zeros(n, bool), np.ones(n + 1, bool)])
    target = np.concatenate([np.arange(n), np.full(n + 1, -2)])
    t = np.full((size, size), NEG)
    frm_last = last[:, None]
    to_block = target[None, :]
    step = to_block - frm_last
    block_cols = ~is_gap[None, :]
    t = np.where(block_cols & (step == 1), 0.0, t)
    t = np.where(block_cols & (step > 1), -costs.skip, t)
    t = np.where(block_cols & (step <= 0), -costs.back, t)
    # Staying in a block is free; resuming it right after its own aside is cheap.
    idx = np.arange(n)
    t[idx, idx] = 0.0
    t[n + 1 + idx, idx] = -costs.resume
    # A block steps into its own gap; a gap stays a gap.
    t[idx, n + 1 + idx] = -costs.gap
    gaps = np.arange(n, size)
    t[gaps, gaps] = 0.0
    return t


def best_path(emission: np.ndarray, weights: np.ndarray, *, threshold: float, costs: Costs) -> Path:
    """Viterbi over units. emission: (n_blocks, n_units) scores in [0, 1]; weights: (n_units,)."""
    n, n_units = emission.shape
    if n_units == 0:
        return Path(())
    if n == 0:
        return Path(tuple([-1] * n_units))
    # A block scores what it matches above the threshold, less how far it falls behind the best block
    # for that unit: near-equal blocks (the same subject in two paragraphs) then leave it to order.
    behind = emission.max(axis=0, keepdims=True) - emission
    gains = (emission - threshold - costs.rivalry * behind) * weights[None, :]
    gains = np.vstack([gains, np.zeros((n + 1, n_units))])
    trans = transition_matrix(n, costs)
    score = np.full(2 * n + 1, NEG)
    score[n] = 0.0  # start in "gap before the first block"
    score = np.max(score[:, None] + trans, axis=0) + gains[:, 0]
    back = np.zeros((n_units, 2 * n + 1), dtype=np.int32)
    for u in range(1, n_units):
        total = score[:, None] + trans
        back[u] = np.argmax(total, axis=0)
        score = total[back[u], np.arange(2 * n + 1)] + gains[:, u]
    state = int(np.argmax(score))
    states = [state]
    for u in range(n_units - 1, 0, -1):
        state = int(back[u, state])
        states.append(state)
    states.reverse()
    return Path(tuple(s if s < n else -1 for s in states))


def runs(path: Path) -> list[tuple[int, int, int]]:
    """(block or -1, first unit, last unit + 1) for each stretch of equal labels."""
    out: list[tuple[int, int, int]] = []
    start = 0
    labels = path.blocks
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            out.append((labels[start], start, i))
            start = i
    return out
