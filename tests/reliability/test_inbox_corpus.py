"""The inbox: what may be a drop, one bad drop never stopping the others, faults, nothing replaced silently."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipeline import episodes
from pipeline.inbox import claim_drops
from pipeline.models import EpisodeState
from pipeline.status import status_rows
from tests.reliability.corpus import BYSTANDER, Show, diptych, one_line, settle

ARTICLE = "# A good episode\n\nSome text.\n"


def test_a_link_to_a_file_outside_is_refused_and_never_read(show: Show) -> None:
    show.write("x.wav", b"RIFF a recording")
    os.symlink(show.secret, show.inbox / "x.md")
    show.mark()
    report = claim_drops(show.project, settle_s=0)
    assert report.claimed == [] and len(report.errors) == 1
    line = one_line(report.errors[0])
    assert line.startswith("inbox/x.*: x.md is a symbolic link") and "copy the file itself" in line
    assert (show.inbox / "x.wav").exists()  # the drop waits as a whole, not as audio only
    show.check()


def test_a_recording_that_is_a_link_is_refused(show: Show) -> None:
    outside = show.secret.parent / "elsewhere.mp3"
    outside.write_bytes(b"ID3 someone else's file")
    os.symlink(outside, show.inbox / "y.mp3")
    show.write("y.md", ARTICLE)
    show.mark()
    (line,) = claim_drops(show.project, settle_s=0).errors
    assert one_line(line).startswith("inbox/y.*: y.mp3 is a symbolic link")
    assert show.project.episode_slugs() == [BYSTANDER]
    show.check()


def test_a_folder_that_is_a_link_is_refused(show: Show) -> None:
    elsewhere = show.secret.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "rec.mp3").write_bytes(b"ID3 x")
    (elsewhere / "text.md").write_text(ARTICLE, encoding="utf-8")
    os.symlink(elsewhere, show.inbox / "linked")
    show.mark()
    (line,) = claim_drops(show.project, settle_s=0).errors
    assert one_line(line).startswith("inbox/linked/: linked is a symbolic link")
    assert (elsewhere / "rec.mp3").exists()
    show.check()


def test_a_picture_that_is_a_link_refuses_its_drop(show: Show) -> None:
    show.write("pics/rec.mp3", b"ID3 x")
    show.write("pics/text.md", "# Pics\n\n![A picture](photo.jpg)\n")
    os.symlink(show.secret, show.inbox / "pics" / "photo.jpg")
    show.mark()
    (line,) = claim_drops(show.project, settle_s=0).errors
    assert one_line(line).startswith("inbox/pics/: photo.jpg is a symbolic link")
    show.check()


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        ("date: 2026-13-45", "inbox/bad.md: front matter has a value that cannot be read (month must be in 1..12)"),
        ("date: 2026-02-30", "inbox/bad.md: front matter has a value that cannot be read (day is out of range"),
        ("title: [unclosed", "inbox/bad.md: front matter is not valid YAML at line 2"),
        ("episode: abc", "inbox/bad.md front matter: episode = 'abc' is not allowed"),
        ("date: yesterday", "inbox/bad.md front matter: date = 'yesterday' is not allowed"),
    ],
)
def test_a_bad_front_matter_stops_only_its_drop_and_status_says_why(show: Show, front_matter: str, reason: str) -> None:
    show.write("bad.mp3", b"ID3 bad")
    show.write("bad.md", f"---\n{front_matter}\n---\n# Bad\n\ntext\n")
    show.write("good.mp3", b"ID3 good")
    show.write("good.md", ARTICLE)
    show.mark()
    rows = {r.slug: r for r in status_rows(show.project)}  # no traceback: the drop's row says why
    assert rows["bad"].state == "cannot be claimed" and rows["bad"].error.startswith(reason)
    report = claim_drops(show.project, settle_s=0)
    assert report.claimed == ["good"]
    assert one_line(report.errors[0]).startswith(reason) and len(report.errors) == 1
    show.check()


def test_status_lists_every_drop_that_cannot_be_claimed_with_its_reason(show: Show) -> None:
    show.write("two/a.mp3", b"ID3 a")
    show.write("two/b.mp3", b"ID3 b")
    show.write("pics/rec.mp3", b"ID3 p")
    show.write("pics/text.md", "# Pics\n\nNo picture shown.\n")
    show.write("pics/a.jpg", b"a")
    show.write("pics/b.png", b"b")
    show.write("cal.mp3", b"ID3 c")
    show.write("cal.md", "---\ndate: 2026-13-45\n---\n# Cal\n")
    show.mark()
    result = diptych(show.root, "status")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    expected = {
        "two": "inbox/two/: 2 audio files (a.mp3, b.mp3): keep one per episode",
        "pics": "inbox/pics/: the article does not show a.jpg, b.png",
        "cal": "inbox/cal.md: front matter has a value that cannot be read",
    }
    for name, reason in expected.items():
        (row,) = [line for line in result.stdout.splitlines() if line.startswith(f"{name} ")]
        assert "cannot be claimed" in row
        assert any(line.strip().startswith(f"{name}: error: claim: {reason}") for line in result.stdout.splitlines())
    show.check()


def _tmpfs(folder: Path, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a 5 MB file system needs root (mount -t tmpfs)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")


def test_disk_full_during_a_claim_leaves_nothing_and_the_drop_keeps_its_name(show: Show) -> None:
    episodes_dir = show.project.episodes_dir
    kept = show.root.parent / "kept-episodes"
    os.rename(episodes_dir, kept)
    _tmpfs(episodes_dir, "5m")  # output/episodes becomes a real 5 MB file system
    try:
        shutil.copytree(kept / BYSTANDER, episodes_dir / BYSTANDER)
        show.write("big.mp3", os.urandom(10_000_000))
        show.write("big.md", "# Big\n\ntext\n")
        show.write("small.mp3", b"ID3 small")
        show.write("small.md", "# Small\n\ntext\n")
        show.mark()
        report = claim_drops(show.project, settle_s=0)
        assert report.claimed == ["small"]  # the next drop is not stopped by the full disk
        line = one_line(report.errors[0])
        assert line.startswith(f"inbox/big: disk full in {episodes_dir} (") and "free some space" in line
        assert (show.inbox / "big.mp3").stat().st_size == 10_000_000 and not (episodes_dir / "big").exists()
        show.check()
        subprocess.run(["mount", "-o", "remount,size=30m", str(episodes_dir)], check=True)  # space freed
        assert claim_drops(show.project, settle_s=0).claimed == ["big"]  # under its own name, not big-2
        show.check()
    finally:
        subprocess.run(["umount", str(episodes_dir)], capture_output=True)


def _target(show: Show, *, state: EpisodeState = EpisodeState.published) -> None:
    show.write("target.mp3", b"ID3 the target's recording")
    show.write("target.md", "# Target title\n\nThe first text.\n")
    assert claim_drops(show.project, settle_s=0).claimed == ["target"]
    episodes.set_state(show.project.episode("target"), state, stage="publish", message="for the test")


def test_the_same_recording_with_another_article_says_what_it_replaces(show: Show) -> None:
    _target(show)
    show.write("other.mp3", b"ID3 the target's recording")
    show.write("other.md", "# Another article\n\nOther text.\n")
    show.mark()
    report = claim_drops(show.project, settle_s=0)
    assert report.updated == ["target"]
    said = [m for m in report.messages if "replaces the article of 'target'" in m]
    assert len(said) == 1 and "the earlier one is in output/episodes/target/history/" in one_line(said[0])
    (row,) = [r for r in status_rows(show.project) if r.slug == "target"]
    assert any("replaces the article of 'target'" in w for w in row.warnings)
    kept = list(show.project.episode("target").history_dir.glob("*/source/target.md"))
    assert len(kept) == 1 and "The first text." in kept[0].read_text(encoding="utf-8")
    show.check()


def test_replacing_a_published_recording_waits_for_replace_true(show: Show) -> None:
    _target(show)
    show.write("new.mp3", b"ID3 a new recording")
    show.write("new.md", "---\nslug: target\n---\n# Hijack\n\ntext\n")
    show.mark()
    report = claim_drops(show.project, settle_s=0)
    assert report.updated == [] and report.claimed == []
    line = one_line(report.messages[0])
    assert line.startswith("inbox/new.mp3: would replace the recording of the published episode 'target'")
    assert "replace: true" in line
    (row,) = [r for r in status_rows(show.project) if r.slug == "new"]
    assert row.state == "waiting" and row.warnings == (line,)
    record = episodes.load_record(show.project.episode("target"))
    assert record.state == "published" and record.source_audio == "target.mp3"
    show.check()


def test_replace_true_replaces_and_says_where_the_old_one_went(show: Show) -> None:
    _target(show)
    show.write("new.mp3", b"ID3 a new recording")
    show.write("new.md", "---\nslug: target\nreplace: true\n---\n# New take\n\ntext\n")
    show.mark()
    report = claim_drops(show.project, settle_s=0)
    assert report.updated == ["target"]
    line = one_line(report.messages[0])
    assert "replaces the recording and article of 'target' (published)" in line and "history/" in line
    layout = show.project.episode("target")
    assert episodes.load_record(layout).state == "received"
    assert list(layout.history_dir.glob("*/source/target.mp3"))
    show.check()


def test_a_corrected_article_updates_the_title(show: Show) -> None:
    _target(show, state=EpisodeState.awaiting_review)
    show.write("target.md", "# Corrected title\n\nThe corrected text.\n")
    show.mark()
    assert claim_drops(show.project, settle_s=0).updated == ["target"]
    assert episodes.load_record(show.project.episode("target")).title == "Corrected title"
    show.check()


def test_a_title_changed_by_hand_stays(show: Show) -> None:
    _target(show, state=EpisodeState.awaiting_review)
    episodes.update_record(show.project.episode("target"), title="The reviewer's title")
    show.write("target.md", "# Corrected title\n\nThe corrected text.\n")
    show.mark()
    assert claim_drops(show.project, settle_s=0).updated == ["target"]
    assert episodes.load_record(show.project.episode("target")).title == "The reviewer's title"
    show.check()


def test_a_latin1_article_is_read_and_its_warning_reaches_status(show: Show) -> None:
    show.write("ete.mp3", b"ID3 ete")
    show.write("ete.md", "# Été\n\nUn café crème à Noël.\n".encode("latin-1"))
    show.mark()
    assert claim_drops(show.project, settle_s=0).claimed == ["ete"]
    (row,) = [r for r in status_rows(show.project) if r.slug == "ete"]
    assert row.title == "Été"
    assert row.warnings == ("ete.md: not UTF-8, read as cp1252; save it as UTF-8 to be sure",)
    show.check()


def test_a_cover_that_is_not_an_image_is_refused_with_its_reason(show: Show) -> None:
    show.write("ep/rec.mp3", b"ID3 x")
    show.write("ep/text.md", ARTICLE)
    show.write("ep/cover.jpg", "this is text, not a picture")
    show.mark()
    report = claim_drops(show.project, settle_s=0)
    assert report.claimed == []
    line = one_line(report.errors[0])
    assert line.startswith("inbox/ep/: the cover cover.jpg is not an image (cannot identify image file")
    show.check()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("L'épisode \"spécial\" n°4", "l-episode-special-n4"),
        ("-rf --help", "rf-help"),
        ("épisode  avec   espaces", "episode-avec-espaces"),
        ("日本語のエピソード", "episode"),
        ("x" * 200, "x" * 60),
        ("tab\there", "tab-here"),
        ("emoji 🎙️ show", "emoji-show"),
    ],
)
def test_odd_names_make_safe_slugs(show: Show, name: str, slug: str) -> None:
    show.write(f"{name}.mp3", f"ID3 {name}".encode())
    show.write(f"{name}.md", ARTICLE)
    show.mark()
    report = claim_drops(show.project, settle_s=0)
    assert report.claimed == [slug] and not report.errors
    assert (show.project.episodes_dir / slug).is_dir()
    show.check()


def test_a_growing_recording_is_left_until_it_settles(show: Show) -> None:
    show.write("growing.md", ARTICLE)
    audio = show.inbox / "growing.mp3"
    audio.write_bytes(b"ID3")
    stop = threading.Event()

    def grow() -> None:
        while not stop.is_set():
            with audio.open("ab") as fh:
                fh.write(b"x" * 1000)
            time.sleep(0.05)

    writer = threading.Thread(target=grow)
    writer.start()
    try:
        report = claim_drops(show.project, settle_s=0.3)
    finally:
        stop.set()
        writer.join()
    assert report.claimed == [] and one_line(report.messages[0]).startswith("inbox/growing: still being written")
    settle(audio)
    show.mark()
    assert claim_drops(show.project, settle_s=0.3).claimed == ["growing"]
    show.check()


def test_a_text_renamed_as_a_recording_is_claimed_then_fails_alone(show: Show) -> None:
    """Claiming does not decode; the audio stage refuses it (test_audio_corpus), the others go on."""
    show.write("renamed.mp3", "# this is Markdown, not audio\n")
    show.write("renamed.md", ARTICLE)
    show.mark()
    assert claim_drops(show.project, settle_s=0).claimed == ["renamed"]
    show.check()


@pytest.mark.integration
def test_one_run_over_every_kind_of_unclaimable_drop(show: Show) -> None:
    """The real `diptych run` (Prefect's embedded API): each bad drop is one line, none stops the
    others, nothing is claimed, the exit code says something failed."""
    show.write("cal.mp3", b"ID3 cal")
    show.write("cal.md", "---\ndate: 2026-13-45\n---\n# Cal\n")
    show.write("yaml.mp3", b"ID3 yaml")
    show.write("yaml.md", "---\ntitle: [unclosed\n---\n# Y\n")
    show.write("two/a.mp3", b"ID3 a")
    show.write("two/b.mp3", b"ID3 b")
    show.write("img/rec.mp3", b"ID3 img")
    show.write("img/text.md", ARTICLE)
    show.write("img/cover.png", "not a picture")
    show.write("link.wav", b"RIFF link")
    os.symlink(show.secret, show.inbox / "link.md")
    show.mark()
    result = diptych(show.root, "run")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    errors = sorted(line for line in result.stdout.splitlines() if line.startswith("error: "))
    starts = ["error: inbox/cal.md: front matter has a value that cannot be read",
              "error: inbox/img/: the cover cover.png is not an image",
              "error: inbox/link.*: link.md is a symbolic link",
              "error: inbox/two/: 2 audio files",
              "error: inbox/yaml.md: front matter is not valid YAML"]
    assert len(errors) == len(starts) and all(e.startswith(s) for e, s in zip(errors, starts, strict=True)), errors
    assert show.project.episode_slugs() == [BYSTANDER]
    show.check()


def test_a_drop_removed_while_the_inbox_is_read_stops_no_other(show: Show) -> None:
    from pipeline.inbox.drops import find_drops, settled_drops

    show.write("gone.mp3", b"ID3 gone")
    show.write("gone.md", ARTICLE)
    show.write("kept.mp3", b"ID3 kept")
    show.write("kept.md", ARTICLE)
    drops, _ = find_drops(show.inbox)
    (show.inbox / "gone.mp3").unlink()  # the creator takes it back between the look and the claim
    show.mark()
    settled, busy = settled_drops(drops, settle_s=0.2)
    assert [d.name for d in settled] == ["kept"] and [d.name for d in busy] == ["gone"]
    show.check()
