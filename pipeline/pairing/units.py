"""The transcript cut into short units (a sentence or a phrase) that pairing assigns to article blocks.

Whisper's segments run over sentence ends, so units are rebuilt from the words: a unit ends at a
sentence end, at a pause, at a comma once it is long enough, or at a hard length limit. A unit is the
finest time step of pairing; a block's start is the start of its first unit's first word.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.models import Segment, Transcript

SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")
# A pause this long between two words is a phrase boundary even without punctuation.
PAUSE_S = 0.45
# A comma ends a unit once the unit has this many words.
COMMA_MIN_WORDS = 8
MAX_WORDS = 30


@dataclass(frozen=True)
class TimedWord:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Unit:
    index: int
    start_s: float
    end_s: float
    words: tuple[TimedWord, ...]

    @property
    def text(self) -> str:
        return _join(w.text for w in self.words)

    @property
    def duration_s(self) -> float:
        return max(self.end_s - self.start_s, 0.0)


def _join(parts: Iterable[str]) -> str:
    text = "".join(parts)  # Whisper's words carry their own leading spaces
    return " ".join(text.split())


def transcript_words(transcript: Transcript) -> list[TimedWord]:
    """Every word with its time; a segment without word times counts as one long word."""
    out: list[TimedWord] = []
    for segment in transcript.segments:
        out.extend(_segment_words(segment))
    return [w for w in out if w.text.strip()]


def _segment_words(segment: Segment) -> list[TimedWord]:
    if not segment.words:
        return [TimedWord(segment.start_s, segment.end_s, " " + segment.text.strip())]
    words = [TimedWord(w.start_s, max(w.end_s, w.start_s), w.text) for w in segment.words]
    # Word times sometimes run backwards by a few ms at segment joins; keep them ordered.
    return sorted(words, key=lambda w: w.start_s)


def build_units(transcript: Transcript) -> list[Unit]:
    words = transcript_words(transcript)
    groups: list[list[TimedWord]] = []
    current: list[TimedWord] = []
    for i, word in enumerate(words):
        current.append(word)
        following = words[i + 1] if i + 1 < len(words) else None
        if following is None or _ends_unit(current, word, following):
            groups.append(current)
            current = []
    return [Unit(i, g[0].start_s, max(w.end_s for w in g), tuple(g)) for i, g in enumerate(groups) if g]


def _ends_unit(current: list[TimedWord], word: TimedWord, following: TimedWord) -> bool:
    text = word.text.strip()
    if text.endswith(SENTENCE_END) or following.start_s - word.end_s >= PAUSE_S:
        return True
    if text.endswith((",", ";", ":")) and len(current) >= COMMA_MIN_WORDS:
        return True
    return len(current) >= MAX_WORDS
