"""How much a transcript unit is about an article block: lexical overlap and sentence-embedding cosine.

Both scores live in [0, 1] so that they mix by a weight:
- lexical: the share of the unit's information (IDF-weighted word stems) that the block contains; it
  catches a text read aloud and survives the small misspellings of speech recognition;
- semantic: the cosine of multilingual sentence embeddings, rescaled so that unrelated sentences
  score about 0 and paraphrases about 1; it catches an article retold in other words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from pipeline.article import fold
from pipeline.pairing.embeddings import embed_texts

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=[\"«“(]?[A-ZÀ-ÖØ-Þ0-9])")
STEM_CHARS = 5
# Cosines of this model: unrelated sentences score about 0.1-0.25, paraphrases 0.6 and more.
COSINE_FLOOR = 0.2
COSINE_CEILING = 0.7
# Sentences of a long block are embedded one by one (a paragraph averages its topics away),
# and a sentence longer than PIECE_MAX_WORDS is cut at commas into clauses of PIECE_MIN_WORDS or more.
SENTENCE_MIN_CHARS = 20
PIECE_MAX_WORDS = 30
PIECE_MIN_WORDS = 10
# How much a unit's neighbours count in its meaning (by their length, relative to its own).
CONTEXT_WEIGHT = 0.5


@dataclass(frozen=True)
class Scores:
    """Block x unit matrices in [0, 1]. `semantic` reads each unit in its context (its neighbours'
    meaning mixed in); `semantic_alone` reads it alone, for a unit at the edge of what a block tells,
    where the context is the block's own (pipeline.pairing.spans)."""

    lexical: np.ndarray
    semantic: np.ndarray | None
    semantic_alone: np.ndarray | None = None

    def mixed(self, semantic_weight: float) -> np.ndarray:
        """The hybrid score: the better of words and meaning, each weighted (0.5: the plain maximum)."""
        return _mixed(self.lexical, self.semantic, semantic_weight)

    def mixed_alone(self, semantic_weight: float) -> np.ndarray | None:
        """The hybrid score of each unit read without its neighbours (None: meaning was not scored)."""
        if self.semantic_alone is None:
            return None
        return _mixed(self.lexical, self.semantic_alone, semantic_weight)


def _mixed(lexical: np.ndarray, semantic: np.ndarray | None, semantic_weight: float) -> np.ndarray:
    if semantic is None or semantic_weight <= 0.0:
        return lexical
    if semantic_weight >= 1.0:
        return semantic
    lexical_weight = min(1.0, 2.0 * (1.0 - semantic_weight))
    meaning_weight = min(1.0, 2.0 * semantic_weight)
    return np.maximum(lexical_weight * lexical, meaning_weight * semantic)


def stems(text: str) -> list[str]:
    """Crude language-free stems: folded tokens cut to 5 characters ("declarations" -> "decla")."""
    return [t[:STEM_CHARS] for t in _TOKEN.findall(fold(text).replace("'", " "))]


def split_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE.split(text) if p.strip()]
    merged: list[str] = []
    for part in parts:
        if merged and len(part) < SENTENCE_MIN_CHARS:
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged or [text]


def lexical_scores(blocks: Sequence[str], units: Sequence[str]) -> np.ndarray:
    """Share of each unit's IDF-weighted stems found in each block: (len(blocks), len(units))."""
    block_sets = [set(stems(b)) for b in blocks]
    unit_sets = [set(stems(u)) for u in units]
    vocab: dict[str, int] = {}
    for group in (*block_sets, *unit_sets):
        for s in group:
            vocab.setdefault(s, len(vocab))
    if not vocab or not blocks or not units:
        return np.zeros((len(blocks), len(units)), dtype=np.float32)
    docs = len(block_sets) + len(unit_sets)
    df = np.zeros(len(vocab))
    for group in (*block_sets, *unit_sets):
        df[[vocab[s] for s in group]] += 1
    idf = np.log((1 + docs) / (1 + df)) + 1.0
    b_mat = _binary(block_sets, vocab)
    u_mat = _binary(unit_sets, vocab).multiply(idf[None, :]).tocsr()
    overlap = np.asarray((b_mat @ u_mat.T).todense(), dtype=np.float64)
    totals = np.asarray(u_mat.sum(axis=1)).ravel()
    # Numpy arithmetic returns Any to mypy.
    value: np.ndarray = (overlap / np.maximum(totals, 1e-9)[None, :]).astype(np.float32)
    return value


def _binary(groups: Sequence[set[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    rows = [i for i, g in enumerate(groups) for _ in g]
    cols = [vocab[s] for g in groups for s in g]
    data = np.ones(len(rows))
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(groups), len(vocab)))


def semantic_scores(
    blocks: Sequence[str], units: Sequence[str], *, threads: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Rescaled embedding cosine of each unit with the best-matching piece of each block, the unit
    read in its context and alone: two (len(blocks), len(units)) matrices, one embedding pass."""
    if not blocks or not units:
        empty = np.zeros((len(blocks), len(units)), dtype=np.float32)
        return empty, empty
    pieces: list[str] = []
    bounds: list[tuple[int, int]] = []
    for text in blocks:
        chunks = block_pieces(text)
        bounds.append((len(pieces), len(pieces) + len(chunks)))
        pieces.extend(chunks)
    vectors = embed_texts([*pieces, *units], threads=threads)
    alone = vectors[len(pieces) :]
    in_context = _in_context(alone, [len(u.split()) for u in units])
    return _rescaled(vectors[: len(pieces)], in_context, bounds), _rescaled(vectors[: len(pieces)], alone, bounds)


def _rescaled(pieces: np.ndarray, units: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    cos = pieces @ units.T
    best = np.stack([cos[a:b].max(axis=0) for a, b in bounds])
    return np.clip((best - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR), 0.0, 1.0)


def block_pieces(text: str) -> list[str]:
    """A block's sentences, long ones cut at commas into clauses of a unit's size."""
    out: list[str] = []
    for sentence in split_sentences(text):
        if len(sentence.split()) <= PIECE_MAX_WORDS:
            out.append(sentence)
            continue
        current: list[str] = []
        for clause in re.split(r"(?<=[,;:])\s+", sentence):
            current.append(clause)
            if sum(len(c.split()) for c in current) >= PIECE_MIN_WORDS:
                out.append(" ".join(current))
                current = []
        if current:
            out.append(" ".join(current))
    return out or [text]


def _in_context(vectors: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Each unit's vector mixed with its neighbours' (a short unit says little alone); a neighbour
    never weighs more than CONTEXT_WEIGHT times the unit itself, so boundaries stay sharp."""
    own = np.asarray(sizes, dtype=np.float32)
    mixed = vectors * own[:, None]
    before = CONTEXT_WEIGHT * np.minimum(own[:-1], own[1:])
    mixed[1:] += before[:, None] * vectors[:-1]
    mixed[:-1] += before[:, None] * vectors[1:]
    # Numpy arithmetic returns Any to mypy.
    value: np.ndarray = mixed / np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-9)
    return value


def score_blocks(blocks: Sequence[str], units: Sequence[str], *, semantic: bool, threads: int = 2) -> Scores:
    lexical = lexical_scores(blocks, units)
    if not semantic:
        return Scores(lexical, None)
    in_context, alone = semantic_scores(blocks, units, threads=threads)
    return Scores(lexical, in_context, alone)
