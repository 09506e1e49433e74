"""Transcript files for players and podcast apps: WebVTT, SRT, Podcasting 2.0 JSON, HTML, text.

Cues are cut from the transcript's word times so that each one can be read while it plays: at most
two lines of about 42 characters and about 7 seconds, ending at a sentence or clause boundary when one
is near (the limits of the BBC and Netflix subtitle guidelines).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.models import Segment, Transcript
from pipeline.words import segment_text, spoken_words

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
# A cue that reaches this length ends at the next sentence end rather than running on.
MIN_SENTENCE_CUE_CHARS = 24
# A pause this long between two words always starts a new cue.
BREAK_GAP_S = 1.5
# A paragraph of the text transcript ends at a pause this long or at a sentence past this length.
PARAGRAPH_GAP_S = 2.0
PARAGRAPH_CHARS = 600

SENTENCE_ENDS = (".", "?", "!", "…", ".»", "?»", "!»", '."', '?"', '!"')
CLAUSE_ENDS = (",", ";", ":", "—", "–")


@dataclass(frozen=True)
class TimedWord:
    start_s: float
    end_s: float
    text: str
    speaker: str | None


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    lines: tuple[str, ...]
    speaker: str | None = None

    @property
    def text(self) -> str:
        return " ".join(self.lines)


# --- words -----------------------------------------------------------------------------------------


def _segment_words(segment: Segment, speaker: str | None) -> list[TimedWord]:
    words = spoken_words(segment.words)
    if words:
        return [TimedWord(w.start_s, w.end_s, w.text, speaker) for w in words]
    # No word times (an edited or imported segment): spread its words over the segment by length.
    tokens = segment_text(segment).split()
    total = sum(len(t) + 1 for t in tokens) or 1
    span = max(segment.end_s - segment.start_s, 0.0)
    out, at = [], segment.start_s
    for token in tokens:
        length = span * (len(token) + 1) / total
        out.append(TimedWord(at, at + length, token, speaker))
        at += length
    return out


def transcript_words(transcript: Transcript, *, default_speaker: str | None = None) -> list[TimedWord]:
    """Every word of the transcript in time order, with its speaker."""
    words: list[TimedWord] = []
    for segment in transcript.segments:
        speaker = segment.speaker or transcript.speaker or default_speaker
        words.extend(_segment_words(segment, speaker))
    return words


# --- cues ------------------------------------------------------------------------------------------


def wrap_lines(text: str, *, width: int = MAX_LINE_CHARS) -> tuple[str, ...]:
    """One line if it fits, else two balanced lines cut at the space nearest the middle that fits."""
    if len(text) <= width or " " not in text:
        return (text,)
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    fitting = [i for i in spaces if i <= width and len(text) - i - 1 <= width]
    if not fitting:
        # Too long for two lines: cut greedily (the caller keeps cues short enough to avoid this).
        head = max((i for i in spaces if i <= width), default=spaces[0])
        return (text[:head], *wrap_lines(text[head + 1 :], width=width))
    cut = min(fitting, key=lambda i: abs(len(text) / 2 - i))
    return (text[:cut], text[cut + 1 :])


def _fits(words: list[TimedWord], length: int) -> bool:
    """Can `words` (joined, `length` characters) be one cue? Cheap tests first: this runs per word."""
    if len(words) <= 1:
        return True
    if words[-1].end_s - words[0].start_s > MAX_CUE_S or length > MAX_LINES * MAX_LINE_CHARS + 1:
        return False
    if length <= MAX_LINE_CHARS:
        return True
    # Two lines fit when some space splits the text into two parts of at most a line each.
    first = -1
    for word in words[:-1]:
        first += len(word.text) + 1
        if first <= MAX_LINE_CHARS and length - first - 1 <= MAX_LINE_CHARS:
            return True
    return False


def _joined_length(words: list[TimedWord]) -> int:
    return sum(len(w.text) for w in words) + max(len(words) - 1, 0)


def _best_cut(words: list[TimedWord]) -> int:
    """Where to end a full cue: after its last sentence end, else clause end, in its second half."""
    chars = sum(len(w.text) + 1 for w in words)
    for ends in (SENTENCE_ENDS, CLAUSE_ENDS):
        at = 0
        best = 0
        for i, word in enumerate(words[:-1], start=1):
            at += len(word.text) + 1
            if word.text.endswith(ends) and at >= chars * 0.4:
                best = i
        if best:
            return best
    return len(words)


def _must_break(current: list[TimedWord], word: TimedWord) -> bool:
    last = current[-1]
    return word.speaker != last.speaker or word.start_s - last.end_s >= BREAK_GAP_S


def _make_cue(words: list[TimedWord]) -> Cue:
    start = words[0].start_s
    end = min(max(words[-1].end_s, start + 0.2), start + MAX_CUE_S)
    return Cue(start, end, wrap_lines(" ".join(w.text for w in words)), words[0].speaker)


def _group_words(words: list[TimedWord]) -> list[list[TimedWord]]:
    groups: list[list[TimedWord]] = []
    current: list[TimedWord] = []
    length = 0  # of the current cue's text
    for word in words:
        if current and _must_break(current, word):
            groups.append(current)
            current, length = [], 0
        while current and not _fits([*current, word], length + 1 + len(word.text)):
            cut = _best_cut(current)
            groups.append(current[:cut])
            current = current[cut:]
            length = _joined_length(current)
        length += len(word.text) + (1 if current else 0)
        current.append(word)
        if word.text.endswith(SENTENCE_ENDS) and length >= MIN_SENTENCE_CUE_CHARS:
            groups.append(current)
            current, length = [], 0
    if current:
        groups.append(current)
    return groups


def build_cues(transcript: Transcript, *, default_speaker: str | None = None) -> list[Cue]:
    """Readable caption cues from the transcript's word times; no word is dropped."""
    groups = _group_words(transcript_words(transcript, default_speaker=default_speaker))
    cues = [_make_cue(g) for g in groups if g]
    # Cues never overlap: a player shows one at a time.
    fixed = []
    for cue, nxt in zip(cues, [*cues[1:], None], strict=True):
        end = min(cue.end_s, nxt.start_s) if nxt is not None else cue.end_s
        fixed.append(Cue(cue.start_s, max(end, cue.start_s + 0.01), cue.lines, cue.speaker))
    return fixed


# --- formats ---------------------------------------------------------------------------------------


def format_timestamp(seconds: float, *, sep: str = ".") -> str:
    """00:01:02.345 (WebVTT) or 00:01:02,345 (SRT)."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(cues: list[Cue]) -> str:
    parts = ["WEBVTT", ""]
    for cue in cues:
        parts.append(f"{format_timestamp(cue.start_s)} --> {format_timestamp(cue.end_s)}")
        lines = [_vtt_escape(line) for line in cue.lines]
        if cue.speaker:
            lines[0] = f"<v {_vtt_escape(cue.speaker)}>{lines[0]}"
        parts.extend(lines)
        parts.append("")
    return "\n".join(parts)


def render_srt(cues: list[Cue]) -> str:
    """SubRip has no voice tag: the speaker's name starts a cue where the speaker changes."""
    parts, previous = [], None
    for number, cue in enumerate(cues, start=1):
        start, end = format_timestamp(cue.start_s, sep=","), format_timestamp(cue.end_s, sep=",")
        lines = list(cue.lines)
        if cue.speaker and cue.speaker != previous:
            lines[0] = f"{cue.speaker}: {lines[0]}"
        previous = cue.speaker
        parts.append(f"{number}\n{start} --> {end}\n" + "\n".join(lines) + "\n")
    return "\n".join(parts)


def render_transcript_json(cues: list[Cue]) -> str:
    """Podcasting 2.0 JSON transcript (podcastindex.org transcripts spec, version 1.0.0)."""
    segments = []
    for cue in cues:
        segment: dict[str, object] = {
            "startTime": round(cue.start_s, 3),
            "endTime": round(cue.end_s, 3),
            "body": cue.text,
        }
        if cue.speaker:
            segment["speaker"] = cue.speaker
        segments.append(segment)
    return json.dumps({"version": "1.0.0", "segments": segments}, ensure_ascii=False, indent=1) + "\n"


@dataclass(frozen=True)
class Paragraph:
    start_s: float
    end_s: float
    text: str
    speaker: str | None


def build_paragraphs(transcript: Transcript, *, default_speaker: str | None = None) -> list[Paragraph]:
    """Segments joined into readable paragraphs: a new one at a pause, a new speaker or a long run."""
    paragraphs: list[Paragraph] = []
    current: list[Segment] = []
    for segment in (s for s in transcript.segments if segment_text(s)):
        if current and _paragraph_ends(current, segment):
            paragraphs.append(_paragraph(current, transcript, default_speaker))
            current = []
        current.append(segment)
    if current:
        paragraphs.append(_paragraph(current, transcript, default_speaker))
    return paragraphs


def _paragraph_ends(current: list[Segment], nxt: Segment) -> bool:
    last = current[-1]
    long_enough = sum(len(segment_text(s)) for s in current) >= PARAGRAPH_CHARS
    return (
        nxt.speaker != last.speaker
        or nxt.start_s - last.end_s >= PARAGRAPH_GAP_S
        or (long_enough and segment_text(last).endswith(SENTENCE_ENDS))
    )


def _paragraph(segments: list[Segment], transcript: Transcript, default: str | None) -> Paragraph:
    text = " ".join(segment_text(s) for s in segments)
    speaker = segments[0].speaker or transcript.speaker or default
    return Paragraph(segments[0].start_s, segments[-1].end_s, text, speaker)


def _hms(seconds: float) -> str:
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def render_transcript_html(paragraphs: list[Paragraph], *, language: str, title: str) -> str:
    """The podcast namespace's HTML transcript form: <cite>speaker:</cite> <time> <p>text</p>, in a
    page of its own (a main landmark and the episode's title as its heading)."""
    esc = html.escape
    body, previous = [], None
    for para in paragraphs:
        if para.speaker and para.speaker != previous:
            body.append(f"<cite>{esc(para.speaker)}:</cite>")
        previous = para.speaker
        body.append(f"<time>{_hms(para.start_s)}</time>")
        body.append(f"<p>{esc(para.text)}</p>")
    head = f'<!DOCTYPE html>\n<html lang="{esc(language)}">\n<head>\n<meta charset="utf-8">\n'
    head += '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    head += f"<title>{esc(title)}</title>\n</head>\n<body>\n<main>\n<h1>{esc(title)}</h1>\n"
    return head + "\n".join(body) + "\n</main>\n</body>\n</html>\n"


def render_transcript_text(paragraphs: list[Paragraph]) -> str:
    blocks = []
    for para in paragraphs:
        prefix = f"{para.speaker}: " if para.speaker else ""
        blocks.append(f"[{_hms(para.start_s)}] {prefix}{para.text}")
    return "\n\n".join(blocks) + "\n"


def write_transcript_files(
    folder: Path, transcript: Transcript, *, default_speaker: str | None, language: str, title: str
) -> None:
    """folder/transcript.{vtt,srt,json,html,txt} from one transcript."""
    cues = build_cues(transcript, default_speaker=default_speaker)
    paragraphs = build_paragraphs(transcript, default_speaker=default_speaker)
    files = {
        "transcript.vtt": render_vtt(cues),
        "transcript.srt": render_srt(cues),
        "transcript.json": render_transcript_json(cues),
        "transcript.html": render_transcript_html(paragraphs, language=language, title=title),
        "transcript.txt": render_transcript_text(paragraphs),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
