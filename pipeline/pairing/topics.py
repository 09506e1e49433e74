"""Chapters of an episode: from the article's headings, or from where the talk changes subject.

With headings, a chapter starts where its heading is said, or where the first told block of its
section starts; the article's title is the episode's, never a chapter. Without them, the transcript
is cut into windows, and chapters begin at the deepest dips of similarity between what comes before
and after (TextTiling). A chapter without a heading is titled by the first sentence of the block
told there, never by the transcript's words (an "Okay" to start with); no two start within 10 s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from pipeline.article import Article
from pipeline.config import PairingSettings
from pipeline.models import Chapter, PairedBlock
from pipeline.pairing.embeddings import embed_texts
from pipeline.pairing.similarity import split_sentences, stems
from pipeline.pairing.units import Unit

WINDOW_S = 30.0
# One chapter per this much audio at most, and never shorter than MIN_CHAPTER_S.
CHAPTER_EVERY_S = 180.0
MIN_CHAPTER_S = 60.0
MAX_CHAPTERS = 12
TITLE_CHARS = 60
# A first chapter starting later than this gets an opening chapter before it.
INTRO_GAP_S = 5.0
# Two chapters never start closer than this (a heading read just after the title, say).
MIN_GAP_S = 10.0


def build_chapters(
    article: Article,
    blocks: Sequence[PairedBlock],
    units: Sequence[Unit],
    labels: Sequence[int],
    *,
    settings: PairingSettings,
) -> list[Chapter]:
    """Chapters titled by the article's headings (its title excepted), else by the first sentence
    of the block that opens each topic; never by transcript words, none within MIN_GAP_S of another."""
    if not units:
        return []
    heading_chapters = [
        Chapter(title=b.text, start_s=b.start_s, anchor=b.anchor)
        for b, source in zip(blocks, article.blocks, strict=True)
        if b.kind == "heading" and b.status == "paired" and b.start_s is not None and not source.is_title
    ]
    if heading_chapters:
        chapters = sorted(heading_chapters, key=lambda c: c.start_s)
        if chapters[0].start_s >= max(units[0].start_s + INTRO_GAP_S, MIN_GAP_S):
            opening = _opening_block(blocks, before_s=chapters[0].start_s)
            if opening is not None:  # what is told before the first heading, titled by its own words
                chapters.insert(0, _block_chapter(opening, 0.0))
        return _spaced(_from_zero(chapters))
    starts = topic_starts(units, semantic=settings.method != "lexical", threads=settings.threads)
    starts = sorted({_snap(u, units, labels) for u in starts})
    chapters = [c for c in (_titled(units, blocks, u) for u in starts) if c is not None]
    return _spaced(_from_zero(chapters))


def _told_body(blocks: Sequence[PairedBlock]) -> list[PairedBlock]:
    told = [b for b in blocks if b.kind != "heading" and b.status == "paired" and b.start_s is not None]
    return sorted(told, key=lambda b: b.start_s or 0.0)


def _opening_block(blocks: Sequence[PairedBlock], *, before_s: float) -> PairedBlock | None:
    told = [b for b in _told_body(blocks) if (b.start_s or 0.0) < before_s]
    return told[0] if told else None


def _block_chapter(block: PairedBlock, start_s: float) -> Chapter:
    return Chapter(title=short_title(block.text), start_s=start_s, anchor=block.anchor)


def _titled(units: Sequence[Unit], blocks: Sequence[PairedBlock], u: int) -> Chapter | None:
    """A topic's chapter, titled by the first block told from its start on (within its first
    WINDOW_S); a topic no block tells gets no chapter of its own."""
    start_s = units[u].start_s
    told = [b for b in _told_body(blocks) if (b.end_s or 0.0) > start_s and (b.start_s or 0.0) < start_s + WINDOW_S]
    return _block_chapter(told[0], start_s) if told else None


def _from_zero(chapters: list[Chapter]) -> list[Chapter]:
    """Podcast apps expect the first chapter at 0:00."""
    if chapters and chapters[0].start_s > 0.0:
        chapters[0] = chapters[0].model_copy(update={"start_s": 0.0})
    return chapters


def _snap(start: int, units: Sequence[Unit], labels: Sequence[int]) -> int:
    """Move a topic boundary to the nearest unit where a told block begins, if one is near."""
    if start == 0:
        return 0
    begins = [i for i in range(1, len(labels)) if labels[i] >= 0 and labels[i] != labels[i - 1]]
    near = [i for i in begins if abs(units[i].start_s - units[start].start_s) <= WINDOW_S]
    return min(near, key=lambda i: abs(units[i].start_s - units[start].start_s)) if near else start


def _spaced(chapters: list[Chapter]) -> list[Chapter]:
    """No chapter within MIN_GAP_S of the one before it (the earlier one stays)."""
    out: list[Chapter] = []
    for chapter in chapters:
        if out and chapter.start_s - out[-1].start_s < MIN_GAP_S:
            continue
        out.append(chapter)
    return out


def short_title(text: str) -> str:
    """The first sentence, cut at a word boundary: "Whereas recognition of the inherent dignity…"."""
    first = split_sentences(text.strip())[0] if text.strip() else ""
    first = re.sub(r"[\s,;:]+$", "", first)
    if len(first) <= TITLE_CHARS:
        return first
    cut = first[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;: ")
    return f"{cut}…"


def topic_starts(units: Sequence[Unit], *, semantic: bool, threads: int = 2) -> list[int]:
    """Indexes of the units where chapters begin (always 0 first)."""
    duration_s = units[-1].end_s - units[0].start_s
    wanted = min(MAX_CHAPTERS, int(duration_s // CHAPTER_EVERY_S) + 1)
    windows = _windows(units)
    if wanted <= 1 or len(windows) < 4:
        return [0]
    vectors = _vectors([" ".join(units[i].text for i in w) for w in windows], semantic, threads)
    depth = _depth_scores(vectors)
    chosen: list[int] = []
    for gap in np.argsort(-depth):
        start_unit = windows[int(gap) + 1][0]
        if depth[gap] <= 0 or len(chosen) >= wanted - 1:
            break
        if all(abs(units[start_unit].start_s - units[c].start_s) >= MIN_CHAPTER_S for c in [0, *chosen]):
            chosen.append(start_unit)
    return [0, *sorted(chosen)]


def _windows(units: Sequence[Unit]) -> list[list[int]]:
    windows: list[list[int]] = [[]]
    window_start = units[0].start_s
    for i, unit in enumerate(units):
        if windows[-1] and unit.start_s - window_start >= WINDOW_S:
            windows.append([])
            window_start = unit.start_s
        windows[-1].append(i)
    return windows


def _vectors(texts: list[str], semantic: bool, threads: int) -> np.ndarray:
    if semantic:
        return embed_texts(texts, threads=threads)
    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(s, len(vocab)) for s in stems(t)] for t in texts]
    matrix = np.zeros((len(texts), max(len(vocab), 1)), dtype=np.float32)
    for i, row in enumerate(rows):
        np.add.at(matrix[i], row, 1.0)
    matrix = np.sqrt(matrix)
    # Numpy arithmetic returns Any to mypy.
    value: np.ndarray = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
    return value


def _depth_scores(vectors: np.ndarray, *, context: int = 2) -> np.ndarray:
    """For each boundary between windows i and i+1: how much less alike the two sides are than nearby."""
    n = len(vectors)
    sims = np.zeros(n - 1)
    for i in range(n - 1):
        left = vectors[max(0, i - context + 1) : i + 1].mean(axis=0)
        right = vectors[i + 1 : i + 1 + context].mean(axis=0)
        sims[i] = float(left @ right / max(np.linalg.norm(left) * np.linalg.norm(right), 1e-9))
    depth = np.zeros(n - 1)
    for i in range(n - 1):
        depth[i] = (sims[: i + 1].max() - sims[i]) + (sims[i:].max() - sims[i])
    return depth
