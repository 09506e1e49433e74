"""The always-on watcher's decisions: when the inbox is worth a processing run, which episodes a
restart takes on, and the one line a person reads for each state change."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline import episodes
from pipeline.inbox.watcher import EpisodeWatch, InboxWatch, describe_event, inbox_fingerprint, unfinished
from pipeline.models import EpisodeState


def _write(path: Path, data: bytes, *, age_s: float = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age_s:
        past = time.time() - age_s
        os.utime(path, (past, past))
    return path


def test_a_new_drop_starts_one_run_once_it_stops_changing(project):
    watch = InboxWatch()
    watch, start = watch.look(inbox_fingerprint(project.inbox), busy=False)
    assert not start  # empty inbox

    audio = _write(project.inbox / "ep.mp3", b"ID3" + b"x" * 100)
    watch, start = watch.look(inbox_fingerprint(project.inbox), busy=False)
    assert not start  # just appeared: it may still be copying
    with audio.open("ab") as fh:  # still growing
        fh.write(b"y" * 100)
    watch, start = watch.look(inbox_fingerprint(project.inbox), busy=False)
    assert not start
    _write(project.inbox / "ep.md", b"# Ep\n\nText.\n")
    watch, start = watch.look(inbox_fingerprint(project.inbox), busy=False)
    assert not start
    current = inbox_fingerprint(project.inbox)
    watch, start = watch.look(current, busy=False)
    assert start  # unchanged since the previous look
    watch = watch.started(current)
    for _ in range(3):
        watch, start = watch.look(inbox_fingerprint(project.inbox), busy=False)
        assert not start  # nothing new since the run was started (an incomplete drop waits quietly)


def test_no_run_while_one_is_queued_or_running_then_one_for_what_came_meanwhile(project):
    _write(project.inbox / "a.mp3", b"ID3a")
    first = inbox_fingerprint(project.inbox)
    watch = InboxWatch().started(first)
    _write(project.inbox / "b.mp3", b"ID3b")
    _write(project.inbox / "b.md", b"# B\n")
    for _ in range(3):
        watch, start = watch.look(inbox_fingerprint(project.inbox), busy=True)
        assert not start
    watch, start = watch.look(inbox_fingerprint(project.inbox), busy=False)
    assert start


def test_an_emptied_inbox_starts_nothing(project):
    _write(project.inbox / "a.mp3", b"ID3a")
    watch = InboxWatch().started(inbox_fingerprint(project.inbox))
    (project.inbox / "a.mp3").unlink()  # claimed by the run
    for _ in range(2):
        watch, start = watch.look(inbox_fingerprint(project.inbox), busy=False)
        assert not start


def test_fingerprint_sees_drop_files_and_folders_not_readme_hidden_or_partial_downloads(project):
    _write(project.inbox / "README.md", b"how to drop\n")
    _write(project.inbox / ".DS_Store", b"\0")
    _write(project.inbox / "big.mp3.part", b"ID3...")
    assert inbox_fingerprint(project.inbox) == frozenset()
    _write(project.inbox / "talk" / "talk.m4a", b"....")
    _write(project.inbox / "notes.docx", b"PK")  # not a drop file: the run says it is left alone
    names = {name for name, _, _ in inbox_fingerprint(project.inbox)}
    assert names == {"talk/talk.m4a", "notes.docx"}
    assert inbox_fingerprint(project.root / "missing") == frozenset()


def _episode(project, slug: str, *states: EpisodeState) -> None:
    layout = project.episode(slug)
    episodes.create_record(layout, title=slug.title(), source_audio=f"{slug}.mp3")
    for state in states:
        if state is EpisodeState.failed:
            episodes.mark_failed(layout, stage="transcribe", message="model 'base' is not installed")
        else:
            episodes.set_state(layout, state, stage="test")


def test_a_restart_takes_on_interrupted_failed_and_approved_but_unpublished_episodes(project):
    _episode(project, "interrupted", EpisodeState.normalized)
    _episode(project, "broken", EpisodeState.failed)
    _episode(project, "waiting", EpisodeState.paired, EpisodeState.awaiting_review)
    _episode(project, "approved", EpisodeState.awaiting_review, EpisodeState.approved)
    _episode(project, "done", EpisodeState.approved, EpisodeState.published)
    _episode(project, "sent-back", EpisodeState.awaiting_review, EpisodeState.changes_requested)
    assert sorted(unfinished(episodes.all_records(project))) == ["approved", "broken", "interrupted"]


def test_episode_watch_reports_each_new_state_once_and_not_the_past(project):
    _episode(project, "old", EpisodeState.normalized, EpisodeState.transcribed)
    watch = EpisodeWatch(project)
    watch.prime()
    assert watch.poll() == []

    _episode(project, "new")  # a drop claimed since
    episodes.set_state(project.episode("old"), EpisodeState.paired, stage="pair", message="article 80% told")
    episodes.mark_failed(project.episode("new"), stage="normalize", message="new.mp3: not an audio file")
    lines = [describe_event(e) for e in watch.poll()]
    assert lines == [
        "new: drop claimed",
        "new: failed at normalize — new.mp3: not an audio file",
        "old: paired — article 80% told",
    ]
    assert watch.poll() == []

    # Retried by the next run and failing the same way: not news.
    episodes.mark_failed(project.episode("new"), stage="normalize", message="new.mp3: not an audio file")
    assert watch.poll() == []
    episodes.mark_failed(project.episode("new"), stage="normalize", message="new.mp3: truncated")
    assert [describe_event(e) for e in watch.poll()] == ["new: failed at normalize — new.mp3: truncated"]

    episodes.set_state(project.episode("old"), EpisodeState.awaiting_review, stage="review",
                       message="waiting for a reviewer")
    (event,) = watch.poll()
    line = describe_event(event, review_url="http://127.0.0.1:8765/episodes/old?token=t")
    assert line == ("old: awaiting review — waiting for a reviewer; "
                    "review it at http://127.0.0.1:8765/episodes/old?token=t")
