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

from pipeline.embeddings import embed_texts
from pipeline.typography import fold

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=[\"«“(]?[A-ZÀ-ÖØ-Þ0-9])")
STEM_CHARS = 5
# Cosines of this model: unrelated sentences score about 0.1-0.25, paraphrases 0.6 and more.
COSINE_FLOOR = 0.2
COSINE_CEILING = 0.7
# Sentences of a long block are embedded one by one (a paragraph averages its topics away).
SENTENCE_MIN_CHARS = 20


@dataclass(frozen=True)
class Scores:
    """Block x unit matrices in [0, 1]."""

    lexical: np.ndarray
    semantic: np.ndarray | None

    def mixed(self, semantic_weight: float) -> np.ndarray:
        if self.semantic is None or semantic_weight <= 0.0:
            return self.lexical
        if semantic_weight >= 1.0:
            return self.semantic
        return (1.0 - semantic_weight) * self.lexical + semantic_weight * self.semantic


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
    return (overlap / np.maximum(totals, 1e-9)[None, :]).astype(np.float32)


def _binary(groups: Sequence[set[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    rows = [i for i, g in enumerate(groups) for _ in g]
    cols = [vocab[s] for g in groups for s in g]
    data = np.ones(len(rows))
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(groups), len(vocab)))


def semantic_scores(blocks: Sequence[str], units: Sequence[str], *, threads: int = 2) -> np.ndarray:
    """Rescaled embedding cosine, the best over each block's sentences: (len(blocks), len(units))."""
    if not blocks or not units:
        return np.zeros((len(blocks), len(units)), dtype=np.float32)
    pieces: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(blocks):
        sentences = split_sentences(text)
        extra = [text] if len(sentences) > 1 else []
        for piece in (*sentences, *extra):
            pieces.append(piece)
            owner.append(i)
    vectors = embed_texts([*pieces, *units], threads=threads)
    cos = vectors[: len(pieces)] @ vectors[len(pieces) :].T
    best = np.full((len(blocks), len(units)), -1.0, dtype=np.float32)
    np.maximum.at(best, np.asarray(owner), cos)
    return np.clip((best - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR), 0.0, 1.0)


def score_blocks(blocks: Sequence[str], units: Sequence[str], *, semantic: bool, threads: int = 2) -> Scores:
    lexical = lexical_scores(blocks, units)
    return Scores(lexical, semantic_scores(blocks, units, threads=threads) if semantic else None)
