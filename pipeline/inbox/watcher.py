"""What an always-on diptych watches: the inbox (when it is worth a processing run) and the
episodes (what changed since the last look). Decisions only; starting runs is the caller's job."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from pipeline import episodes
from pipeline.inbox.drops import IGNORED_NAMES, PARTIAL_EXTS
from pipeline.layout import ProjectLayout
from pipeline.models import EpisodeRecord, EpisodeState

log = logging.getLogger(__name__)

# (path relative to the inbox, size in bytes, modification time in ns) of every file a drop may use.
Fingerprint = frozenset[tuple[str, int, int]]

# States an interrupted or failed episode can be left in: a restart takes them on.
UNFINISHED = frozenset({
    EpisodeState.received, EpisodeState.normalized, EpisodeState.transcribed, EpisodeState.paired,
    EpisodeState.approved, EpisodeState.failed,
})


def _counts(path: Path) -> bool:
    name = path.name
    return not name.startswith(".") and name.lower() not in IGNORED_NAMES and path.suffix.lower() not in PARTIAL_EXTS


def inbox_fingerprint(inbox: Path) -> Fingerprint:
    """What the inbox holds now: its files and those of its folders (one level, as drops are)."""
    if not inbox.is_dir():
        return frozenset()
    entries: set[tuple[str, int, int]] = set()
    for top in inbox.iterdir():
        if not _counts(top):
            continue
        files = [p for p in top.iterdir() if p.is_file() and _counts(p)] if top.is_dir() else [top]
        for path in files:
            try:
                st = path.stat()
            except FileNotFoundError:  # moved away meanwhile (claimed): not there any more
                continue
            entries.add((str(path.relative_to(inbox)), st.st_size, st.st_mtime_ns))
    return frozenset(entries)


@dataclass(frozen=True)
class InboxWatch:
    """When to start a processing run: the inbox holds something that no run has looked at yet,
    and it has not changed since the previous look (a copy in progress is left to finish)."""

    processed: Fingerprint | None = None  # what the inbox held when the last run was started
    previous: Fingerprint | None = None  # what the previous look saw

    def look(self, current: Fingerprint, *, busy: bool) -> tuple[InboxWatch, bool]:
        """The next state and whether to start a run now; `busy`: a run is queued or running."""
        stable = current == self.previous
        start = bool(current) and stable and not busy and current != self.processed
        return replace(self, previous=current), start

    def started(self, current: Fingerprint) -> InboxWatch:
        return replace(self, processed=current, previous=current)


def unfinished(records: Iterable[EpisodeRecord]) -> list[str]:
    """Episodes a stop or a failure left part-way: processing the inbox takes them on again."""
    return [r.slug for r in records if r.state in UNFINISHED]


@dataclass(frozen=True)
class EpisodeEvent:
    slug: str
    state: EpisodeState
    stage: str
    message: str
    at: datetime


def describe_event(event: EpisodeEvent, *, review_url: str | None = None) -> str:
    """One line for a person watching the terminal."""
    if event.state is EpisodeState.failed:
        return f"{event.slug}: failed at {event.stage} — {event.message}"
    if event.state is EpisodeState.received and event.message == "drop claimed":
        return f"{event.slug}: drop claimed"
    text = f"{event.slug}: {event.state.replace('_', ' ')}"
    if event.message and event.message.replace(" ", "_") != event.state:
        text += f" — {event.message}"
    if event.state is EpisodeState.awaiting_review and review_url:
        text += f"; review it at {review_url}"
    return text


@dataclass
class EpisodeWatch:
    """Reads every state.json whose file changed and returns the transitions not seen before."""

    project: ProjectLayout
    # slug → (state.json's identity, transitions seen); every write replaces the file (a new inode).
    seen: dict[str, tuple[tuple[int, int, int], int]] = field(default_factory=dict)

    def prime(self) -> None:
        """Take what is on disk now as already seen (a start does not replay old history)."""
        self.poll()

    def poll(self) -> list[EpisodeEvent]:
        events: list[EpisodeEvent] = []
        current: dict[str, tuple[tuple[int, int, int], int]] = {}
        for slug in self.project.episode_slugs():
            layout = self.project.episode(slug)
            try:
                st = layout.state_json.stat()
            except FileNotFoundError:
                continue
            identity = (st.st_ino, st.st_mtime_ns, st.st_size)
            identity_seen, count_seen = self.seen.get(slug, ((-1, -1, -1), 0))
            if identity == identity_seen:
                current[slug] = (identity, count_seen)
                continue
            try:
                record = episodes.load_record(layout)
            except (OSError, ValueError) as exc:  # edited by hand into something unreadable
                log.warning("%s: state.json not readable: %s", slug, exc)
                current[slug] = (identity, count_seen)
                continue
            current[slug] = (identity, len(record.history))
            events.extend(new_events(record, count_seen))
        self.seen = current
        return events


def new_events(record: EpisodeRecord, seen: int) -> list[EpisodeEvent]:
    """The transitions after the first `seen` ones (all of them when the history got shorter), less
    a repeat of the one before (a failed episode retried by each run, failing the same way)."""
    start = seen if seen <= len(record.history) else 0
    events = []
    for i in range(start, len(record.history)):
        t = record.history[i]
        before = record.history[i - 1] if i else None
        if before is not None and (before.state, before.stage, before.message) == (t.state, t.stage, t.message):
            continue
        events.append(EpisodeEvent(slug=record.slug, state=t.state, stage=t.stage, message=t.message, at=t.at))
    return events
