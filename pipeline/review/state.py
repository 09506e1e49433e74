"""Review: load and save a person's review of the transcript, and record the decision.

The edits themselves are pure functions in pipeline.review_edits (re-exported here). This module
is the edge: reviewed.json is written only by `save_review`, which refuses a save based on an older
version than the one on disk (another tab, another window, the command line), so no work is lost
and nothing else's work is overwritten; draft.json is only ever read.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from pipeline.episodes import load_record, now, set_state
from pipeline.errors import ReviewError
from pipeline.layout import EpisodeLayout
from pipeline.models import Approval, Approver, EpisodeRecord, EpisodeState, Pairing, Segment, Transcript
from pipeline.review.edits import (
    Match,
    apply_text_edit,
    can_undo,
    display_text,
    export_text,
    find_matches,
    import_text,
    mark_checked,
    merge_segments,
    replace_all,
    set_speaker,
    split_segment,
    undo_last,
)
from pipeline.stages import Stage
from pipeline.store import file_lock, read_model, read_model_or_none, sha256_file, write_bytes_atomic, write_model

__all__ = [
    "Match",
    "ReviewStateError",
    "StaleReviewError",
    "TranscriptCache",
    "UncheckedItemsError",
    "apply_text_edit",
    "approve_episode",
    "can_undo",
    "describe_left",
    "display_text",
    "export_text",
    "find_matches",
    "import_text",
    "items_left",
    "load_draft",
    "load_for_review",
    "mark_checked",
    "merge_segments",
    "parsed_once",
    "needs_check",
    "replace_all",
    "request_changes",
    "review_is_stale",
    "save_review",
    "set_speaker",
    "split_segment",
    "todo_count",
    "undo_last",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class StaleReviewError(ReviewError):
    """The save was based on an older version than the one on disk."""


class ReviewStateError(ReviewError):
    """The episode's state does not allow this decision."""


def describe_left(left: int) -> str:
    """'3 items left to check (…)', as the refused approval and `diptych approve` say it."""
    items = "item" if left == 1 else "items"
    return f"{left} {items} left to check (flagged passages or unsure words)"


class UncheckedItemsError(ReviewStateError):
    """Approval asked for while flagged passages or unsure words are left to check."""

    def __init__(self, slug: str, left: int) -> None:
        self.left = left
        super().__init__(f"{slug}: {describe_left(left)}: check them first, or approve anyway")


APPROVABLE = (EpisodeState.awaiting_review, EpisodeState.changes_requested, EpisodeState.published)
REJECTABLE = (
    EpisodeState.awaiting_review,
    EpisodeState.changes_requested,
    EpisodeState.approved,
    EpisodeState.published,
)
MAX_NOTE_CHARS = 5000
# reviewed.json is written with sorted keys and indent=2: "version" is the last top-level key.
_TAIL_VERSION = re.compile(rb'\n  "version": (\d+)\n}\s*$')


def load_draft(layout: EpisodeLayout) -> Transcript:
    try:
        return read_model(layout.draft_json, Transcript)
    except FileNotFoundError as exc:
        raise ReviewError(
            f"{layout.slug}: no transcript to review yet ({layout.draft_json.name} is missing): "
            "run 'diptych run' first"
        ) from exc


def load_for_review(layout: EpisodeLayout) -> Transcript:
    """reviewed.json if a review has begun, else a new review (version 0) of draft.json."""
    if layout.reviewed_json.exists():
        return read_model(layout.reviewed_json, Transcript)
    draft = load_draft(layout)
    return draft.model_copy(
        update={"version": 0, "based_on_sha256": sha256_file(layout.draft_json), "edits": []}
    )


class TranscriptCache:
    """Transcripts under review (and their pairing) kept in memory while their files are unchanged
    on disk (a server's).

    A two-hour transcript takes 50-100 ms to parse; each edit would otherwise read it again.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[object, Transcript]] = {}
        self._drafts: dict[str, tuple[object, Transcript]] = {}
        self._pairings: dict[str, tuple[object, Pairing | None]] = {}
        self.locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, slug: str) -> threading.Lock:
        with self._guard:
            return self.locks.setdefault(slug, threading.Lock())

    @staticmethod
    def _signature(layout: EpisodeLayout) -> object:
        path = layout.current_transcript()
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return (path.name, st.st_mtime_ns, st.st_size, st.st_ino)

    def get(self, layout: EpisodeLayout) -> Transcript:
        signature = self._signature(layout)
        cached = self._cache.get(layout.slug)
        if cached is not None and cached[0] == signature:
            return cached[1]
        t = load_for_review(layout)
        self._cache[layout.slug] = (signature, t)
        return t

    def put(self, layout: EpisodeLayout, t: Transcript) -> None:
        self._cache[layout.slug] = (self._signature(layout), t)

    def draft(self, layout: EpisodeLayout) -> Transcript:
        """draft.json, parsed once while it is unchanged (undo replays the history on it)."""
        return parsed_once(self._drafts, layout.slug, layout.draft_json, lambda: load_draft(layout))

    def pairing(self, layout: EpisodeLayout) -> Pairing | None:
        """pairing.json, parsed once while it is unchanged; None before pairing."""
        return parsed_once(
            self._pairings, layout.slug, layout.pairing_json, lambda: read_model_or_none(layout.pairing_json, Pairing)
        )


def parsed_once(cache: dict[str, tuple[object, T]], key: str, path: Path, parse: Callable[[], T]) -> T:
    """`parse()`'s result for `key`, kept in `cache` while `path` is the same file (or still missing)."""
    try:
        st = path.stat()
        signature: object = (st.st_mtime_ns, st.st_size, st.st_ino)
    except FileNotFoundError:
        signature = None
    cached = cache.get(key)
    if cached is None or cached[0] != signature:
        cached = (signature, parse())
        cache[key] = cached
    return cached[1]


def review_is_stale(layout: EpisodeLayout, t: Transcript) -> bool:
    """Was the machine transcript made again after this review began (a new recording)?"""
    return (
        t.based_on_sha256 is not None
        and layout.draft_json.exists()
        and sha256_file(layout.draft_json) != t.based_on_sha256
    )


def _disk_version(path: Path) -> int:
    """The version of reviewed.json on disk (0: none yet), read from its tail when possible."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 64))
            m = _TAIL_VERSION.search(fh.read())
    except FileNotFoundError:
        return 0
    return int(m.group(1)) if m else read_model(path, Transcript).version


def _locked(layout: EpisodeLayout) -> AbstractContextManager[None]:
    """One save at a time per episode, across threads and processes."""
    return file_lock(layout.transcript_dir / ".review.lock")


def save_review(layout: EpisodeLayout, transcript: Transcript, *, base_version: int) -> Transcript:
    """Write reviewed.json as version base_version + 1, unless it changed since base_version."""
    with _locked(layout):
        on_disk = _disk_version(layout.reviewed_json)
        if on_disk != base_version:
            raise StaleReviewError(
                f"{layout.slug}: the transcript changed in another tab/window: reload the page "
                f"(version {on_disk} is saved, this page has version {base_version})"
            )
        based_on = transcript.based_on_sha256 or sha256_file(layout.draft_json)
        saved = transcript.model_copy(update={"version": base_version + 1, "based_on_sha256": based_on})
        write_transcript(layout.reviewed_json, saved)
    log.info("%s: review saved (version %d)", layout.slug, saved.version)
    return saved


# Segments are immutable and shared between versions: each is turned into JSON data once.
_DUMPED: dict[Path, dict[int, tuple[Segment, dict[str, Any]]]] = {}


def _transcript_data(path: Path, t: Transcript) -> dict[str, Any]:
    """t.model_dump(mode="json"), reusing the data of segments unchanged since the last write."""
    before, now_dumped = _DUMPED.get(path, {}), {}
    segments = []
    for seg in t.segments:
        hit = before.get(id(seg))
        if hit is None or hit[0] is not seg:
            hit = (seg, seg.model_dump(mode="json"))
        now_dumped[id(seg)] = hit
        segments.append(hit[1])
    _DUMPED[path] = now_dumped
    data = t.model_dump(mode="json", exclude={"segments"})
    data["segments"] = segments
    return data


def write_transcript(path: Path, t: Transcript) -> None:
    """The bytes store.write_model writes (sorted keys, indent 2), atomically, ~20x faster.

    A two-hour transcript is rewritten on every edit; the standard library's indenting encoder
    takes 0.2-0.3 s for it here, orjson 0.01 s, and unchanged segments are not dumped again.
    """
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
        write_model(path, t)
        return
    data = orjson.dumps(_transcript_data(path, t), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    write_bytes_atomic(path, data + b"\n")


def needs_check(segment: Segment, low_confidence: float) -> bool:
    """Flagged, or holding a word the model was unsure of, and not yet edited or confirmed."""
    if segment.checked:
        return False
    return bool(segment.flags) or any(w.probability < low_confidence for w in segment.words)


def todo_count(t: Transcript, low_confidence: float) -> int:
    return sum(needs_check(s, low_confidence) for s in t.segments)


def items_left(
    layout: EpisodeLayout, low_confidence: float, *, load: Callable[[EpisodeLayout], Transcript] = load_for_review
) -> int:
    """What is left to check in the transcript under review (0 when there is none yet); `load`
    reads that transcript (a server passes its cache's)."""
    if not layout.current_transcript().exists():
        return 0
    return todo_count(load(layout), low_confidence)


def approve_episode(
    layout: EpisodeLayout, *, by: Approver, left_to_check: int = 0, anyway: bool = False
) -> EpisodeRecord:
    """The person (`by`) approves the episode for publishing; with items left to check only
    `anyway`. The approval is recorded in state.json, and publishing needs it."""
    record = load_record(layout)
    if record.state not in APPROVABLE:
        raise ReviewStateError(
            f"{layout.slug} is {record.state}: only an episode awaiting review can be approved"
        )
    if left_to_check and not anyway:
        raise UncheckedItemsError(layout.slug, left_to_check)
    approval = Approval(by=by, at=now(), left_to_check=left_to_check)
    return set_state(layout, EpisodeState.approved, stage=Stage.review, message=f"approved ({by})",
                     review_note=None, approval=approval)


def request_changes(layout: EpisodeLayout, note: str) -> EpisodeRecord:
    """The person sends the episode back, saying what must change."""
    note = note.strip()
    if not note:
        raise ReviewError(f"{layout.slug}: say what must change (the note is empty)")
    if len(note) > MAX_NOTE_CHARS:
        raise ReviewError(f"{layout.slug}: the note is too long (at most {MAX_NOTE_CHARS} characters)")
    record = load_record(layout)
    if record.state not in REJECTABLE:
        raise ReviewStateError(f"{layout.slug} is {record.state}: it cannot be sent back for changes now")
    return set_state(
        layout, EpisodeState.changes_requested, stage=Stage.review, message="changes requested", review_note=note
    )
