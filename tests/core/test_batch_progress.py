"""A batch's progress from the episodes' states on disk, and the time left from the audio done."""

from __future__ import annotations

import datetime as dt

from pipeline import episodes
from pipeline.models import Batch, BatchEpisode, EpisodeState
from pipeline.status import batch_progress
from pipeline.store import write_model


def test_progress_counts_states_and_estimates_the_time_left(project):
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    batch = Batch(id="b1", source="/archive", created_at=start, episodes=[
        BatchEpisode(slug=s, original_date=dt.date(2020, 1, 1), audio_s=600.0) for s in "abcde"])
    write_model(project.batches_dir / "b1.json", batch)
    states = {"a": EpisodeState.published, "b": EpisodeState.awaiting_review, "c": EpisodeState.normalized,
              "d": EpisodeState.failed}  # "e": still in the inbox
    for slug, state in states.items():
        layout = project.episode(slug)
        episodes.create_record(layout, title=slug)
        episodes.set_state(layout, state, stage="test", message="")
    progress = batch_progress(project, now=start + dt.timedelta(minutes=10))
    assert progress is not None
    assert progress.counts == {"done": 2, "running": 1, "waiting": 1, "failed": 1}
    # 1200 s of audio done in 600 s: the 1200 s left take about 600 s more.
    assert progress.eta_s == 600.0
    assert "2 of 5 done" in progress.describe() and "about 10:00 left" in progress.describe()


def test_no_batch_no_progress(project):
    assert batch_progress(project) is None
