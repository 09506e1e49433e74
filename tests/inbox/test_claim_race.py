"""Several workers claiming the same inbox at once (on one machine or several sharing the folder):
each drop goes to exactly one of them, whole, and nothing is lost or claimed twice."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from pipeline import episodes
from pipeline.store import sha256_file

DROPS = 8
CLAIMERS = 6


def _claim(root: str, barrier: Any, results: Any) -> None:
    from pipeline.inbox import claim_drops
    from pipeline.layout import ProjectLayout

    barrier.wait()  # every process imported what it needs: they start claiming together
    report = claim_drops(ProjectLayout(root=Path(root)), settle_s=0.0)
    results.put((os.getpid(), report.claimed, report.errors))


def test_racing_claims_take_each_drop_exactly_once(project, speech):
    recording = (speech / "fleurs-en-003.ogg").read_bytes()
    expected = {}
    for n in range(DROPS):
        # Same recording bytes would be refused as a duplicate: a different tail keeps them apart.
        audio = project.inbox / f"show-{n}.ogg"
        audio.write_bytes(recording + bytes([n]) * 16)
        article = project.inbox / f"show-{n}.md"
        article.write_text(f"# Show {n}\n\nText {n}.\n", encoding="utf-8")
        expected[f"show-{n}"] = (sha256_file(audio), sha256_file(article))
    past = time.time() - 60
    for path in project.inbox.iterdir():
        os.utime(path, (past, past))

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(CLAIMERS), context.Queue()
    processes = [context.Process(target=_claim, args=(str(project.root), barrier, results))
                 for _ in range(CLAIMERS)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)

    claimed = [slug for _, slugs, _ in reports for slug in slugs]
    assert sorted(claimed) == sorted(expected), reports  # every drop once, no "-2" copy
    assert [errors for _, _, errors in reports if errors] == []
    assert len({pid for pid, slugs, _ in reports if slugs}) >= 1
    for slug, (audio_sha, article_sha) in expected.items():
        record = episodes.load_record(project.episode(slug))
        assert (record.audio_sha256, record.article_sha256) == (audio_sha, article_sha)
        source = project.episode(slug).source_dir
        assert sorted(p.name for p in source.iterdir()) == [f"{slug}.md", f"{slug}.ogg"]
    assert sorted(p.name for p in project.inbox.iterdir() if not p.name.startswith(".")) == []
    assert not any((project.inbox / ".claiming").iterdir())
