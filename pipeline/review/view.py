"""What the review pages show: episode rows, and the transcript beside the article, row by row.

Pure: takes loaded models, returns frozen dataclasses and JSON-able dicts for the templates and
the page's script. Each article block that is paired sits in the row of the transcript passage
it was paired with; text-only blocks follow the block before them in the article; transcript
passages that no block covers are rows of their own, marked "only in the episode" when the
pairing found them to be so.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from html import escape
from itertools import groupby

from pipeline.models import (
    AudioOnlySpan,
    EpisodeState,
    PairedBlock,
    Pairing,
    Segment,
    Transcript,
    format_clock,
)
from pipeline.review.state import needs_check
from pipeline.status import EpisodeRow
from pipeline.words import SpokenWord, segment_text, spoken_words

# Why a segment was flagged, in words a reviewer understands (the flags come from transcription).
FLAG_REASONS = {
    "no_speech": "maybe no speech here (noise or silence): listen and check",
    "low_logprob": "the speech model was unsure of this passage",
    "compression": "repeated text: the speech model may have looped",
    "repetition": "repeated text: the speech model may have looped",
    "too_fast": "more words than could be said in this time: some may be invented",
    "silent_audio": "the audio is nearly silent here: the words may be invented",
    "noise": "noise or music here: the words may be invented",
}
CHECK_TITLE = "mark as checked: it is right as it is"
ARTICLE_TITLE = "taken from the article"
# Order of the episodes list: what needs a person first.
STATE_RANK = {
    EpisodeState.awaiting_review: 0,
    EpisodeState.changes_requested: 1,
    EpisodeState.failed: 2,
    EpisodeState.approved: 3,
    EpisodeState.published: 4,
}


@dataclass(frozen=True)
class Row:
    segments: tuple[Segment, ...]
    blocks: tuple[PairedBlock, ...] = ()
    only_audio: bool = False


def flag_reason(flag: str) -> str:
    return FLAG_REASONS.get(flag, flag.replace("_", " "))


def clock(seconds: float | None) -> str:
    """0:42, 12:03, 1:02:03."""
    return "–" if seconds is None else format_clock(seconds)


def sort_episodes(rows: list[EpisodeRow]) -> list[EpisodeRow]:
    """Awaiting review first, then what else needs a person; newest first within a state."""
    by_day = sorted(rows, key=lambda r: (r.day, r.slug), reverse=True)
    return sorted(by_day, key=lambda r: STATE_RANK.get(EpisodeState(r.state), 5))


def _owner(blocks: list[PairedBlock], starts: list[float], seg: Segment) -> PairedBlock | None:
    """The paired block whose time span holds the segment's middle (the latest starting one)."""
    mid = (seg.start_s + seg.end_s) / 2
    k = bisect.bisect_right(starts, mid) - 1
    for candidate in range(k, max(k - 8, -1), -1):
        block = blocks[candidate]
        if block.end_s is not None and block.end_s >= mid:
            return block
    return None


def _overlaps(spans: list[AudioOnlySpan], segments: tuple[Segment, ...]) -> bool:
    lo, hi = segments[0].start_s, segments[-1].end_s
    return any(min(hi, s.end_s) - max(lo, s.start_s) > 0.5 * min(hi - lo, s.end_s - s.start_s) for s in spans)


def _owners(pairing: Pairing) -> list[PairedBlock]:
    """Blocks that own transcript passages: paired, timed, and not headings (a heading's span is its
    whole section; it is shown above the section's first block instead)."""
    return sorted(
        (
            b
            for b in pairing.blocks
            if b.status == "paired" and b.kind != "heading" and b.start_s is not None and b.end_s is not None
        ),
        key=lambda b: (b.start_s, b.index),
    )


def _place_rest(
    pairing: Pairing, row_of: dict[int, int], seg_starts: list[float], seg_rows: list[int]
) -> dict[int, int]:
    """The row of every block: an owner's own row; a timed block that owns no passage (a heading,
    a short paragraph inside a longer segment), the row of the segment where it starts; a
    text-only block, the row of the block before it in the article (-1: a row before the first)."""
    placed: dict[int, int] = {}
    previous = -1
    for block in sorted(pairing.blocks, key=lambda b: b.index):
        if block.index in row_of:
            row = row_of[block.index]
        elif block.status == "paired" and block.start_s is not None and seg_rows:
            row = seg_rows[max(bisect.bisect_right(seg_starts, block.start_s) - 1, 0)]
        else:
            row = previous
        placed[block.index] = previous = row
    return placed


def build_rows(t: Transcript, pairing: Pairing | None) -> list[Row]:
    """The transcript in time order, cut into rows that each hold the article blocks told there."""
    if pairing is None or not pairing.blocks:
        return [Row(segments=tuple(t.segments))] if t.segments else []
    owners = _owners(pairing)
    starts = [b.start_s or 0.0 for b in owners]
    groups: list[tuple[list[Segment], bool]] = []
    row_of: dict[int, int] = {}
    seg_rows: list[int] = []

    def owner_index(seg: Segment) -> int | None:
        owner = _owner(owners, starts, seg)
        return None if owner is None else owner.index

    for index, group in groupby(t.segments, key=owner_index):
        segments = list(group)
        if index is not None and index not in row_of:
            row_of[index] = len(groups)
        seg_rows += [len(groups)] * len(segments)
        groups.append((segments, index is None and _overlaps(pairing.audio_only, tuple(segments))))
    placed = _place_rest(pairing, row_of, [s.start_s for s in t.segments], seg_rows)
    blocks_in: dict[int, list[PairedBlock]] = {}
    for block in sorted(pairing.blocks, key=lambda b: b.index):
        blocks_in.setdefault(placed[block.index], []).append(block)
    rows = [Row((), tuple(blocks_in[-1]))] if -1 in blocks_in else []
    rows += [Row(tuple(segs), tuple(blocks_in.get(k, ())), only) for k, (segs, only) in enumerate(groups)]
    return rows


def segment_html(seg: Segment, low: float) -> str:
    """One transcript segment as escaped HTML; review.js's renderSegment() draws the same markup.

    Built here rather than in a Jinja macro: a two-hour episode has 20,000 words, and this is
    ~10x faster; the app also caches it per unchanged segment.
    """
    todo = needs_check(seg, low)
    cls = "seg" + (" todo" if todo else "") + (" flagged" if seg.flags else "")
    at = clock(seg.start_s)
    parts = [
        f'<div class="{cls}" id="s{seg.id}" data-id="{seg.id}" '
        f'data-s="{seg.start_s:.2f}" data-e="{seg.end_s:.2f}">'
        f'<button type="button" class="t" tabindex="-1" title="play from {at}">{at}</button>'
    ]
    if seg.speaker:
        parts.append(f'<span class="spk">{escape(seg.speaker)}</span>')
    parts.append('<span class="tx">')
    for w in spoken_words(seg.words):
        text = escape(w.text)
        if w.from_article:
            parts.append(article_word_html(w))
        elif w.probability < low:
            title = f"unsure word ({round(w.probability * 100)} %)"
            parts.append(f'<span data-s="{w.start_s:.2f}" class="lc" title="{title}">{text}</span> ')
        else:
            parts.append(f'<span data-s="{w.start_s:.2f}">{text}</span> ')
    if not seg.words:
        parts.append(escape(segment_text(seg)))
    parts.append("</span>")
    if seg.flags:
        reasons = escape("; ".join(flag_reason(f) for f in seg.flags))
        parts.append(f'<span class="flag" title="{reasons}">⚑</span>')
    if todo:
        parts.append(f'<button type="button" class="chk" title="{CHECK_TITLE}">✓</button>')
    parts.append("</div>")
    return "".join(parts)


def article_word_html(w: SpokenWord) -> str:
    """A word the transcript took from the article (transcribe.correct); the first of a replacement
    carries what Whisper heard, and a button that puts it back (review.js sends it as an edit)."""
    text = escape(w.text.strip())
    if w.heard is None:
        return f'<span data-s="{w.start_s:.2f}" class="fa" title="{ARTICLE_TITLE}">{text}</span> '
    heard = escape(" ".join(w.heard.split()), quote=True)
    return (
        f'<span data-s="{w.start_s:.2f}" class="fa" data-heard="{heard}" title="{ARTICLE_TITLE}; heard: {heard}">'
        f'{text}</span> <button type="button" class="revert" tabindex="-1" title="put back what was heard: {heard}">'
        "↶</button> "
    )


def segment_json(seg: Segment, low: float) -> dict[str, object]:
    """What the page's script needs to draw one segment (the same markup as the template)."""
    return {
        "id": seg.id,
        "start_s": round(seg.start_s, 2),
        "end_s": round(seg.end_s, 2),
        "text": segment_text(seg),
        "speaker": seg.speaker,
        # A word from the article has a fourth item: what Whisper heard (first of a replacement), or "".
        "words": [
            [round(w.start_s, 2), w.text, round(w.probability, 2), *([w.heard or ""] if w.from_article else [])]
            for w in spoken_words(seg.words)
        ],
        "flags": [flag_reason(f) for f in seg.flags],
        "todo": needs_check(seg, low),
        "clock": clock(seg.start_s),
    }


def rows_json(rows: list[Row]) -> list[dict[str, object]]:
    """The grouping alone, as ids: the page moves the nodes it has into rows like these."""
    return [
        {"segments": [s.id for s in r.segments], "blocks": [b.index for b in r.blocks], "only_audio": r.only_audio}
        for r in rows
    ]


def segments_patch(before: Transcript, after: Transcript, low: float, pairing: Pairing | None) -> dict[str, object]:
    """What changed between two versions, for the page to redraw only that.

    When segments came, went, moved or changed their times, the rows are grouped again and sent
    whole ("rows"): the page regroups in place, without a reload.
    """
    old = {s.id: s for s in before.segments}
    new_set = {s.id for s in after.segments}
    changed, added = [], []
    regroup = False
    for seg in after.segments:
        was = old.get(seg.id)
        if was is None:
            added.append(segment_json(seg, low))
        elif was is not seg and was != seg:
            changed.append(segment_json(seg, low))
            regroup = regroup or (was.start_s, was.end_s) != (seg.start_s, seg.end_s)
    removed = [i for i in old if i not in new_set]
    kept_order = [s.id for s in after.segments if s.id in old]
    regroup = regroup or bool(added or removed) or kept_order != [s.id for s in before.segments if s.id in new_set]
    patch: dict[str, object] = {"changed": changed, "added": added, "removed": removed}
    if regroup:
        patch["rows"] = rows_json(build_rows(after, pairing))
    return patch
