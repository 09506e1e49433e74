"""Claims cut short (their process killed, their machine lost, in the seconds a claim takes): the
next claim puts the drop's files back in the inbox and claims them; a claim still going on another
machine is left alone; nothing is ever written over."""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline import episodes
from pipeline.inbox import claim_drops
from pipeline.inbox.take import LEASE, STALE_CLAIM_S, ClaimLease
from pipeline.store import read_model, sha256_file, write_model


def _drop(project, speech: Path, name: str) -> dict[str, str]:
    audio = project.inbox / f"{name}.ogg"
    audio.write_bytes((speech / "fleurs-en-003.ogg").read_bytes() + name.encode())
    article = project.inbox / f"{name}.md"
    article.write_text(f"# {name}\n\nWhat the episode says.\n", encoding="utf-8")
    past = time.time() - 60
    for path in (audio, article):
        os.utime(path, (past, past))
    return {p.name: sha256_file(p) for p in (audio, article)}


def _take_and_die(root: str) -> None:
    """A claimer killed right after it took the drop: the files are in its folder, nothing more."""
    from pipeline.inbox import find_drops
    from pipeline.inbox.take import take_drop
    from pipeline.layout import ProjectLayout

    project = ProjectLayout(root=Path(root))
    drops, _ = find_drops(project.inbox)
    assert take_drop(project, drops[0]) is not None
    os._exit(0)  # as kill -9 would: no give_back, no clean-up


def _claims(project) -> list[Path]:
    folder = project.inbox / ".claiming"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_claim_whose_process_died_is_given_back_and_claimed(project, speech):
    sources = _drop(project, speech, "lost")
    process = multiprocessing.get_context("spawn").Process(target=_take_and_die, args=(str(project.root),))
    process.start()
    process.join(60)
    [stale] = _claims(project)
    assert sorted(p.name for p in stale.iterdir()) == sorted([LEASE, *sources])
    assert not (project.inbox / "lost.ogg").exists()

    report = claim_drops(project, settle_s=0.0)
    assert report.claimed == ["lost"], report
    assert any("back in the inbox from a claim that was cut short" in m for m in report.messages)
    record = episodes.load_record(project.episode("lost"))
    assert (record.audio_sha256, record.article_sha256) == (sources["lost.ogg"], sources["lost.md"])
    assert _claims(project) == []


def _foreign_claim(project, speech: Path, name: str, *, age_s: float) -> Path:
    """A claim made on another machine `age_s` ago, its files moved as take_drop moves them."""
    sources = _drop(project, speech, name)
    folder = project.inbox / ".claiming" / f"claim-{name}"
    folder.mkdir(parents=True)
    write_model(folder / LEASE, ClaimLease(host="another-machine", pid=1, files={n: n for n in sources},
                                           started=datetime.now(UTC) - timedelta(seconds=age_s)))
    for file in sources:
        os.rename(project.inbox / file, folder / file)
    return folder


def test_a_claim_going_on_on_another_machine_is_left_alone(project, speech):
    folder = _foreign_claim(project, speech, "busy", age_s=5)
    report = claim_drops(project, settle_s=0.0)
    assert report.claimed == [] and report.errors == []
    assert sorted(p.name for p in folder.iterdir()) == sorted([LEASE, "busy.md", "busy.ogg"])
    assert read_model(folder / LEASE, ClaimLease).host == "another-machine"


def test_a_claim_older_than_any_claim_takes_is_given_back(project, speech):
    _foreign_claim(project, speech, "machine-lost", age_s=STALE_CLAIM_S + 60)
    report = claim_drops(project, settle_s=0.0)
    assert report.claimed == ["machine-lost"], report
    assert _claims(project) == []


def test_a_file_dropped_again_meanwhile_is_not_written_over(project, speech):
    folder = _foreign_claim(project, speech, "again", age_s=STALE_CLAIM_S + 60)
    newer = project.inbox / "again.md"
    newer.write_text("# again\n\nThe creator's newer article.\n", encoding="utf-8")
    report = claim_drops(project, settle_s=0.0)
    assert report.claimed == ["again"], report  # the recording given back, with the newer article
    assert "newer article" in (project.episode("again").source_dir / "again.md").read_text(encoding="utf-8")
    assert (folder / "again.md").read_text(encoding="utf-8").endswith("What the episode says.\n")  # kept
