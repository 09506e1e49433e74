"""Pairing an article with its episode: which blocks the episode tells, when, and what only the audio says.

    pairing = pair_article(article, transcript, settings=settings.pairing, transcript_source="draft",
                           transcript_sha256=..., article_sha256=...)

Pure: no file is read or written. The transcript is cut into short units (speech_units); each unit
is scored against each block by meaning and by words (similarity); a Viterbi path that prefers the
article's order but allows any (alignment) assigns units to blocks or to audio-only gaps; the
result is assembled here: paired and text-only blocks, headings placed at their sections, audio-only
spans, chapters and coverage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.article import Article, ArticleBlock
from pipeline.config import PairingSettings
from pipeline.models import Coverage, PairedBlock, Pairing, SentenceSpan, Transcript
from pipeline.pairing.alignment import Costs, best_path
from pipeline.pairing.embeddings import MODEL_NAME
from pipeline.pairing.passages import Passages, audio_only_words, place_passages, section_start
from pipeline.pairing.similarity import score_blocks
from pipeline.pairing.spans import BlockSpan, block_spans
from pipeline.pairing.topics import build_chapters
from pipeline.pairing.units import Unit, build_units
from pipeline.pairing.word_match import refine
from pipeline.pairing.words import READ_SHARE

log = logging.getLogger(__name__)

COSTS = Costs()
# Below this mean score of the paired blocks, a person should check the pairing.
LOW_CONFIDENCE_SCORE = 0.45
LOW_CONFIDENCE_TOLD = 0.15


@dataclass(frozen=True)
class Matched:
    """The outcome for the blocks that take part in matching (headings are placed afterwards)."""

    spans: dict[int, BlockSpan]  # article block index -> span
    labels: tuple[int, ...]  # per unit: article block index, or -1 for audio only


def pair_article(
    article: Article,
    transcript: Transcript,
    *,
    settings: PairingSettings,
    transcript_source: str,
    transcript_sha256: str,
    article_sha256: str,
) -> Pairing:
    """Pair the article's blocks with time spans of the transcript (see the module docstring)."""
    units = build_units(transcript)
    warnings = _input_warnings(article, transcript, units)
    matchable = _matchable_blocks(article)
    matched = _match(matchable, units, settings)
    passages = place_passages(
        article, matched.spans, units, matched.labels, min_audio_only_s=settings.min_audio_only_s
    )
    blocks = _paired_blocks(article, passages)
    audio_only = audio_only_words(passages.tokens, passages.covered, min_duration_s=settings.min_audio_only_s)
    coverage = _coverage(article, blocks, units, matched.labels)
    low_confidence = _low_confidence(article, transcript, blocks, coverage, warnings)
    return Pairing(
        blocks=blocks,
        audio_only=audio_only,
        chapters=build_chapters(article, blocks, units, matched.labels, settings=settings),
        coverage=coverage,
        low_confidence=low_confidence,
        method=describe_method(settings),
        transcript_source=transcript_source,
        transcript_sha256=transcript_sha256,
        article_sha256=article_sha256,
        warnings=warnings,
    )


def describe_coverage(pairing: Pairing) -> str:
    """One line for logs and the status table: "article told 82 % · episode covered 74 %"."""
    told = round(100 * pairing.coverage.article_told)
    covered = round(100 * pairing.coverage.episode_covered)
    line = f"article told {told} % · episode covered {covered} %"
    return f"{line} (low confidence)" if pairing.low_confidence else line


def describe_method(settings: PairingSettings) -> str:
    if settings.method == "lexical":
        model = "lexical"
    elif settings.method == "semantic":
        model = MODEL_NAME
    else:
        model = f"{MODEL_NAME}+lexical (semantic weight {settings.semantic_weight:g})"
    return f"{model}; min score {settings.min_score:g}; ordered Viterbi (back cost {COSTS.back:g})"


def _matchable_blocks(article: Article) -> list[ArticleBlock]:
    """Blocks that can be told: everything but headings (unless the article has nothing else)."""
    body = [b for b in article.blocks if b.kind != "heading" and b.text.strip()]
    return body or [b for b in article.blocks if b.text.strip()]


def _match(blocks: Sequence[ArticleBlock], units: Sequence[Unit], settings: PairingSettings) -> Matched:
    if not blocks or not units:
        return Matched({}, tuple([-1] * len(units)))
    scores = score_blocks(
        [b.text for b in blocks],
        [u.text for u in units],
        semantic=settings.method != "lexical",
        threads=settings.threads,
    )
    weight = {"lexical": 0.0, "semantic": 1.0}.get(settings.method, settings.semantic_weight)
    matrix = scores.mixed(weight)
    weights = np.array([len(u.words) for u in units], dtype=np.float64)
    path = best_path(matrix, weights, threshold=settings.min_score, costs=COSTS)
    spans, labels = block_spans(path, matrix, units, min_score=settings.min_score, alone=scores.mixed_alone(weight))
    spans = refine(spans, [b.text for b in blocks], units, labels)
    return Matched(
        spans={blocks[k].index: span for k, span in spans.items()},
        labels=tuple(blocks[k].index if k >= 0 else -1 for k in labels),
    )


def _paired_blocks(article: Article, passages: Passages) -> list[PairedBlock]:
    out: list[PairedBlock] = []
    for block in article.blocks:
        span = passages.spans.get(block.index)
        block_out = _paired_block(block, span)
        if block.kind == "heading":
            block_out = _heading(article, block, block_out, passages)
        elif span is not None:
            block_out = block_out.model_copy(update=_delivery(block.index, passages))
        out.append(block_out)
    return out


def _paired_block(block: ArticleBlock, span: BlockSpan | None) -> PairedBlock:
    told = span is not None
    return PairedBlock(
        index=block.index,
        kind=block.kind,
        text=block.text,
        anchor=block.anchor,
        level=block.level,
        status="paired" if told else "text_only",
        start_s=round(span.start_s, 3) if span else None,
        end_s=round(span.end_s, 3) if span else None,
        score=round(span.score, 3) if span else None,
        list_place=block.list_place,
    )


def _heading(article: Article, block: ArticleBlock, out: PairedBlock, passages: Passages) -> PairedBlock:
    """A heading said aloud is dated where it is said; one that is not, at its section's start."""
    spoken = passages.headings.get(block.index)
    if out.status == "paired" and block.index in passages.spans:  # matched as a block of its own
        return out.model_copy(update={"spoken": True})
    if spoken is not None:
        first, stop = spoken
        start_s, end_s = passages.tokens[first].start_s, passages.tokens[stop - 1].end_s
        update = {"status": "paired", "start_s": round(start_s, 3), "end_s": round(end_s, 3), "score": 1.0}
        return out.model_copy(update={**update, "spoken": True})
    section_s = section_start(article, block, passages.spans)
    if section_s is None:
        return out.model_copy(update={"spoken": False})
    ends = [passages.spans[b.index].end_s for b in _section(article, block) if b.index in passages.spans]
    scores = [passages.spans[b.index].score for b in _section(article, block) if b.index in passages.spans]
    update = {
        "status": "paired", "start_s": round(section_s, 3), "end_s": round(max(ends), 3),
        "score": round(sum(scores) / len(scores), 3), "spoken": False,
    }
    return out.model_copy(update=update)


def _section(article: Article, heading: ArticleBlock) -> list[ArticleBlock]:
    level = heading.level or 1
    out: list[ArticleBlock] = []
    for block in article.blocks[heading.index + 1 :]:
        if block.kind == "heading" and (block.level or 1) <= level:
            break
        if block.kind != "heading":
            out.append(block)
    return out


def _delivery(index: int, passages: Passages) -> dict[str, object]:
    """Read aloud (with each sentence's times) or retold."""
    words = passages.read.get(index)
    if words is None:
        return {"delivery": "retold"}
    tokens = passages.tokens
    sentences = [
        SentenceSpan(
            text=s.text,
            start_s=round(tokens[s.first].start_s, 3) if s.first is not None else None,
            end_s=round(tokens[s.stop - 1].end_s, 3) if s.stop is not None else None,
            read=s.share >= READ_SHARE,
        )
        for s in words.sentences
    ]
    return {"delivery": "read", "sentences": sentences}


def _coverage(
    article: Article, blocks: Sequence[PairedBlock], units: Sequence[Unit], labels: Sequence[int]
) -> Coverage:
    words = {b.index: len(b.text.split()) for b in article.blocks}
    total_words = sum(words.values())
    told = sum(words[b.index] for b in blocks if b.status == "paired")
    speech_s = sum(u.duration_s for u in units)
    matched_s = sum(u.duration_s for u, label in zip(units, labels, strict=True) if label >= 0)
    return Coverage(
        article_told=round(told / total_words, 4) if total_words else 0.0,
        episode_covered=round(matched_s / speech_s, 4) if speech_s else 0.0,
    )


def _input_warnings(article: Article, transcript: Transcript, units: Sequence[Unit]) -> list[str]:
    warnings: list[str] = []
    if not article.blocks:
        warnings.append("the article has no text: the whole episode is audio only")
    if not units:
        warnings.append("the transcript has no words: every block of the article is text only")
    if article.language and transcript.language and article.language != transcript.language:
        warnings.append(
            f"the article is in '{article.language}' and the episode in '{transcript.language}':"
            " pairing by meaning only, check it"
        )
    return warnings


def _low_confidence(
    article: Article,
    transcript: Transcript,
    blocks: Sequence[PairedBlock],
    coverage: Coverage,
    warnings: list[str],
) -> bool:
    scores = [b.score for b in blocks if b.status == "paired" and b.kind != "heading" and b.score is not None]
    if not article.blocks or not scores:
        return bool(article.blocks)
    mean = sum(scores) / len(scores)
    languages_differ = bool(
        article.language and transcript.language and article.language != transcript.language
    )
    weak = mean < LOW_CONFIDENCE_SCORE or coverage.article_told < LOW_CONFIDENCE_TOLD
    if weak:
        warnings.append(f"weak pairing (mean score {mean:.2f}, {describe_told(coverage)}): check it")
    return weak or languages_differ


def describe_told(coverage: Coverage) -> str:
    return f"article told {round(100 * coverage.article_told)} %"
