"""The review's editing core: a person's edits to a transcript, with word times kept. Pure.

Every edit is a pure function Transcript -> Transcript that also appends an `Edit` to the history.
Word times survive edits (pipeline.review_timing): a word that is unchanged keeps its times
exactly, words that were typed get times inside the gap their neighbours leave. Undo rebuilds
the transcript from the draft by replaying the history without the undone edit, so every edit
carries what replaying it needs. Only `load_for_review`, `save_review` and the decisions do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from pipeline.episodes import now
from pipeline.errors import ReviewError
from pipeline.models import Edit, Segment, Transcript
from pipeline.review.timing import align, align_words

_MARK = re.compile(r"^\s*\[(?:(\d+):)?(\d+):(\d{2})(?:\.\d+)?\]\s?(.*)$")


@dataclass(frozen=True)
class Match:
    """One occurrence of a find: character offsets in the segment's displayed text."""

    segment_id: int
    start: int
    end: int
    text: str  # the segment's whole displayed text, for a preview


def display_text(segment: Segment) -> str:
    return " ".join(segment.text.split())


def _edit_segment(segment: Segment, new_text: str) -> Segment | None:
    """The segment with `new_text` and re-aligned words; None when the text is now empty."""
    tokens = new_text.split()
    if not tokens:
        return None
    words = align_words(segment.words, tokens, segment.start_s, segment.end_s)
    return segment.model_copy(update={"text": " ".join(tokens), "words": words, "checked": True})


def _index(t: Transcript, segment_id: int) -> int:
    for i, segment in enumerate(t.segments):
        if segment.id == segment_id:
            return i
    raise ReviewError(f"no segment {segment_id} in this transcript: reload the page")


def _with(t: Transcript, segments: list[Segment], edit: Edit | None, **updates: object) -> Transcript:
    edits = t.edits if edit is None else [*t.edits, edit]
    return t.model_copy(update={"segments": segments, "edits": edits, **updates})


def _edit(
    kind: str, ids: list[int], before: str, after: str, **options: str | int | float | bool | None
) -> Edit:
    return Edit(kind=kind, segment_ids=ids, before=before, after=after, at=now(), options=options)


def _do_text(t: Transcript, e: Edit) -> Transcript:
    i = _index(t, e.segment_ids[0])
    new = _edit_segment(t.segments[i], e.after)
    segments = t.segments[:i] + ([new] if new else []) + t.segments[i + 1 :]
    return _with(t, segments, None)


def apply_text_edit(t: Transcript, segment_id: int, new_text: str) -> Transcript:
    """Set a segment's text (empty text removes the segment); unchanged words keep their times."""
    before = display_text(t.segments[_index(t, segment_id)])
    after = " ".join(new_text.split())
    if after == before:
        return t
    e = _edit("edit", [segment_id], before, after)
    return _do_text(t, e).model_copy(update={"edits": [*t.edits, e]})


def _merged(a: Segment, b: Segment) -> Segment:
    def pick(values: list[float | None], best: Callable[[list[float]], float]) -> float | None:
        present = [v for v in values if v is not None]
        return best(present) if present else None

    return a.model_copy(
        update={
            "end_s": max(a.end_s, b.end_s),
            "text": f"{display_text(a)} {display_text(b)}".strip(),
            "words": [*a.words, *b.words],
            "flags": list(dict.fromkeys([*a.flags, *b.flags])),
            "speaker": a.speaker or b.speaker,
            "checked": a.checked and b.checked,
            "avg_logprob": pick([a.avg_logprob, b.avg_logprob], min),
            "no_speech_prob": pick([a.no_speech_prob, b.no_speech_prob], max),
            "compression_ratio": pick([a.compression_ratio, b.compression_ratio], max),
        }
    )


def _do_merge(t: Transcript, e: Edit) -> Transcript:
    i = _index(t, e.segment_ids[0])
    a, b = t.segments[i], t.segments[i + 1]
    return _with(t, [*t.segments[:i], _merged(a, b), *t.segments[i + 2 :]], None)


def merge_segments(t: Transcript, first_id: int) -> Transcript:
    """Join a segment with the one after it."""
    i = _index(t, first_id)
    if i + 1 >= len(t.segments):
        raise ReviewError("the last segment has no next segment to merge with")
    a, b = t.segments[i], t.segments[i + 1]
    e = _edit("merge", [a.id, b.id], f"{display_text(a)}\n{display_text(b)}", "")
    return _do_merge(t, e).model_copy(update={"edits": [*t.edits, e]})


def _split_point(text: str, char_offset: int) -> int:
    """How many words go to the first part; an offset inside a word splits before that word."""
    offset = max(0, min(char_offset, len(text)))
    head = text[:offset]
    inside = 0 < offset < len(text) and not text[offset - 1].isspace() and not text[offset].isspace()
    return len(head.split()) - (1 if inside else 0)


def _do_split(t: Transcript, e: Edit) -> Transcript:
    i = _index(t, e.segment_ids[0])
    seg = t.segments[i]
    tokens = display_text(seg).split()
    k = _split_point(display_text(seg), int(e.options["offset"] or 0))
    if not 0 < k < len(tokens):
        raise ReviewError("put the cursor between two words of the segment to split it")
    words = align_words(seg.words, tokens, seg.start_s, seg.end_s)
    head, tail = " ".join(tokens[:k]), " ".join(tokens[k:])
    first = seg.model_copy(update={"text": head, "words": words[:k], "end_s": words[k - 1].end_s})
    second = seg.model_copy(
        update={"id": e.segment_ids[1], "text": tail, "words": words[k:], "start_s": words[k].start_s}
    )
    return _with(t, [*t.segments[:i], first, second, *t.segments[i + 1 :]], None)


def split_segment(t: Transcript, segment_id: int, char_offset: int) -> Transcript:
    """Cut a segment in two at a character offset of its displayed text (moved to a word start)."""
    seg = t.segments[_index(t, segment_id)]
    new_id = max(s.id for s in t.segments) + 1
    e = _edit("split", [seg.id, new_id], display_text(seg), "", offset=char_offset)
    return _do_split(t, e).model_copy(update={"edits": [*t.edits, e]})


def _pattern(find: str, whole_word: bool) -> re.Pattern[str]:
    find = " ".join(find.split())
    if not find:
        raise ReviewError("type the words to find")
    body = re.escape(find).replace(r"\ ", r"\s+")
    return re.compile(rf"(?<!\w){body}(?!\w)" if whole_word else body, re.IGNORECASE)


def find_matches(t: Transcript, find: str, *, whole_word: bool = True) -> list[Match]:
    """Every occurrence of `find` (case-insensitive), in transcript order."""
    pattern = _pattern(find, whole_word)
    out: list[Match] = []
    for seg in t.segments:
        text = display_text(seg)
        out.extend(Match(seg.id, m.start(), m.end(), text) for m in pattern.finditer(text))
    return out


def _do_replace(t: Transcript, e: Edit) -> Transcript:
    pattern = _pattern(e.before, bool(e.options.get("whole_word", True)))
    segments = []
    for seg in t.segments:
        text = display_text(seg)
        new_text = pattern.sub(lambda _m: e.after, text)
        new = seg if new_text == text else _edit_segment(seg, new_text)
        if new is not None:
            segments.append(new)
    return _with(t, segments, None)


def replace_all(t: Transcript, find: str, replace: str, *, whole_word: bool = True) -> Transcript:
    """Replace every occurrence (case-insensitive); the replaced words get new times, others keep theirs."""
    ids = list(dict.fromkeys(m.segment_id for m in find_matches(t, find, whole_word=whole_word)))
    if not ids:
        return t
    e = _edit("replace", ids, find, replace, whole_word=whole_word)
    return _do_replace(t, e).model_copy(update={"edits": [*t.edits, e]})


def _do_speaker(t: Transcript, e: Edit) -> Transcript:
    name = e.after or None
    if not e.segment_ids:
        return _with(t, list(t.segments), None, speaker=name)
    i = _index(t, e.segment_ids[0])
    seg = t.segments[i].model_copy(update={"speaker": name})
    return _with(t, [*t.segments[:i], seg, *t.segments[i + 1 :]], None)


def set_speaker(t: Transcript, name: str, segment_id: int | None = None) -> Transcript:
    """The episode's speaker (segment_id None) or one segment's; an empty name clears it."""
    name = " ".join(name.split())[:80]
    before = t.speaker if segment_id is None else t.segments[_index(t, segment_id)].speaker
    if (before or "") == name:
        return t
    e = _edit("speaker", [] if segment_id is None else [segment_id], before or "", name)
    return _do_speaker(t, e).model_copy(update={"edits": [*t.edits, e]})


def _do_check(t: Transcript, e: Edit) -> Transcript:
    i = _index(t, e.segment_ids[0])
    seg = t.segments[i].model_copy(update={"checked": True})
    return _with(t, [*t.segments[:i], seg, *t.segments[i + 1 :]], None)


def mark_checked(t: Transcript, segment_id: int) -> Transcript:
    """A person listened and found the segment right as it is."""
    seg = t.segments[_index(t, segment_id)]
    if seg.checked:
        return t
    e = _edit("check", [segment_id], display_text(seg), display_text(seg))
    return _do_check(t, e).model_copy(update={"edits": [*t.edits, e]})


def _effective_edits(edits: Sequence[Edit]) -> list[Edit]:
    """The history with every undone edit (and the undo itself) taken out."""
    stack: list[Edit] = []
    for e in edits:
        if e.kind == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(e)
    return stack


def can_undo(t: Transcript) -> bool:
    return bool(_effective_edits(t.edits))


def undo_last(t: Transcript, draft: Transcript) -> Transcript:
    """Take back the last edit not yet undone: replay the rest of the history on the draft."""
    remaining = _effective_edits(t.edits)
    if not remaining:
        raise ReviewError("nothing to undo")
    undone = remaining.pop()
    rebuilt = draft.model_copy(update={"edits": []})
    for e in remaining:
        rebuilt = _REPLAY[e.kind](rebuilt, e)
    # Segments the undo leaves as they are stay the very same objects (cheap to compare and save).
    current = {s.id: s for s in t.segments}
    segments = [_same_or(current.get(s.id), s) for s in rebuilt.segments]
    e = _edit("undo", undone.segment_ids, undone.kind, "")
    return rebuilt.model_copy(
        update={
            "segments": segments,
            "edits": [*t.edits, e],
            "version": t.version,
            "based_on_sha256": t.based_on_sha256,
        }
    )


def _same_or(old: Segment | None, new: Segment) -> Segment:
    if old is not None and old.text == new.text and old.end_s == new.end_s and old == new:
        return old
    return new


def format_mark(seconds: float) -> str:
    whole = int(max(seconds, 0.0))
    return f"[{whole // 60:02d}:{whole % 60:02d}]"


def export_text(t: Transcript) -> str:
    """One "[mm:ss] text" line per segment, for editing in a text editor."""
    return "".join(f"{format_mark(s.start_s)} {display_text(s)}\n" for s in t.segments)


def _parse_lines(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.splitlines():
        m = _MARK.match(raw)
        if m:
            lines.append(" ".join(m.group(4).split()))
        elif raw.strip() and lines:  # a wrapped line continues the one above
            lines[-1] = f"{lines[-1]} {' '.join(raw.split())}".strip()
        elif raw.strip():
            raise ReviewError("the text must start with a [mm:ss] mark: keep the marks as exported")
    if not lines:
        raise ReviewError("no [mm:ss] lines found: import a text exported from the review page")
    return [line for line in lines if line]


def _rebuild_block(old: list[Segment], lines: list[str], lo: float, hi: float, next_id: int) -> list[Segment]:
    """Segments for `lines` that replace `old`; words aligned across the whole block."""
    if len(old) == 1 and len(lines) == 1:
        new = _edit_segment(old[0], lines[0])
        return [new] if new else []
    words = [w for s in old for w in s.words]
    owner = [(s, k == 0, k == len(s.words) - 1) for s in old for k in range(len(s.words))]
    if old:
        lo, hi = old[0].start_s, old[-1].end_s
    tokens = [line.split() for line in lines]
    aligned = align(words, [tok for line in tokens for tok in line], lo, hi)
    out, used, pos = [], set(), 0
    for line_tokens in tokens:
        line, pos = aligned[pos : pos + len(line_tokens)], pos + len(line_tokens)
        kept = [owner[src] for _, src in line if src is not None]
        origin = kept[0][0] if kept and kept[0][0].id not in used else None
        if origin is None:
            origin, next_id = Segment(id=next_id, start_s=0, end_s=0, text=""), next_id + 1
        used.add(origin.id)
        first_src, last_src = line[0][1], line[-1][1]
        keeps_start = first_src is not None and owner[first_src][0] is origin and owner[first_src][1]
        keeps_end = last_src is not None and owner[last_src][0] is origin and owner[last_src][2]
        update = {
            "start_s": origin.start_s if keeps_start else line[0][0].start_s,
            "end_s": origin.end_s if keeps_end else line[-1][0].end_s,
            "text": " ".join(line_tokens),
            "words": [w for w, _ in line],
            "checked": True,
        }
        out.append(origin.model_copy(update=update))
    return out


def _do_import(t: Transcript, e: Edit) -> Transcript:
    lines = _parse_lines(e.after)
    current = [display_text(s) for s in t.segments]
    matcher = SequenceMatcher(None, current, lines, autojunk=False)
    segments: list[Segment] = []
    next_id = max((s.id for s in t.segments), default=-1) + 1
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.extend(t.segments[i1:i2])
        elif tag in ("replace", "insert"):
            lo = segments[-1].end_s if segments else 0.0
            hi = t.segments[i2].start_s if i2 < len(t.segments) else max(t.duration_s, lo)
            block = _rebuild_block(t.segments[i1:i2], lines[j1:j2], lo, hi, next_id)
            next_id = max([next_id - 1, *(s.id for s in block)]) + 1
            segments.extend(block)
    return _with(t, segments, None)


def import_text(text: str, t: Transcript) -> Transcript:
    """Apply a text edited outside (the export's "[mm:ss] text" lines), with the same timing rules."""
    e = _edit("import", [], f"{len(t.segments)} segments", text)
    new = _do_import(t, e)
    if [s.model_dump() for s in new.segments] == [s.model_dump() for s in t.segments]:
        return t
    return new.model_copy(update={"edits": [*t.edits, e]})


_REPLAY = {
    "edit": _do_text,
    "merge": _do_merge,
    "split": _do_split,
    "replace": _do_replace,
    "speaker": _do_speaker,
    "check": _do_check,
    "import": _do_import,
}
