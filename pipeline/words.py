"""Words into text, the way the transcript writes them: one function for every format and page.

Whisper's words carry their own spacing: a word that starts a new word begins with a space
(" je"), a piece that belongs to the word before it does not ("'appelle" after " m", "-huit" after
" tante"). Joining stripped words with spaces therefore writes "m 'appelle" and "tante -huit"; joining
them as Whisper wrote them keeps French elision and hyphenation. Words typed in review are stored
with a leading space (pipeline.review.timing), so they join the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.models import Segment, Word


@dataclass(frozen=True)
class SpokenWord:
    """One word as a reader sees it: Whisper's pieces of it put back together, with their times."""

    start_s: float
    end_s: float
    text: str  # no surrounding spaces
    probability: float  # the least sure of its pieces
    from_article: bool = False  # one of its pieces was taken from the article (transcribe.correct)
    heard: str | None = None  # what Whisper first wrote there, when a piece says so


def _starts_word(piece: str) -> bool:
    return piece[:1].isspace()


def spoken_words(words: Sequence[Word]) -> list[SpokenWord]:
    """The segment's words, a piece without a leading space glued to the word before it."""
    out: list[SpokenWord] = []
    for word in words:
        text = word.text.strip()
        if not text:
            continue
        if out and not _starts_word(word.text):
            last = out[-1]
            out[-1] = SpokenWord(
                last.start_s,
                max(last.end_s, word.end_s),
                last.text + text,
                min(last.probability, word.probability),
                last.from_article or word.from_article,
                last.heard if last.heard is not None else word.heard,
            )
            continue
        out.append(
            SpokenWord(
                word.start_s, max(word.end_s, word.start_s), text, word.probability, word.from_article, word.heard
            )
        )
    return out


def join_words(words: Sequence[Word]) -> str:
    """The text the words make, spaces only where Whisper (or the reviewer) put them."""
    return " ".join(w.text for w in spoken_words(words))


def segment_text(segment: Segment) -> str:
    """A segment's text for every published format and for review: from its words when it has some."""
    if segment.words:
        joined = join_words(segment.words)
        if joined:
            return joined
    return " ".join(segment.text.split())
