"""Claiming drops: shapes, slugs, duplicates, incomplete drops, files still being written."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from pipeline import episodes
from pipeline.inbox.claim import claim_drops, find_drops, pending_drops, slugify
from pipeline.status import status_rows
from pipeline.store import sha256_file

ARTICLE = "---\ntitle: \"Bilan d'avril\"\nlanguage: fr\n---\n\n# Bilan d'avril\n\nUn paragraphe.\n"


# A real 1×1 JPEG: a cover must be a picture.
TINY_JPEG = (
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d"
    "1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f000001050101"
    "0101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d010203000411051221314106"
    "13516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455"
    "565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9ba"
    "c2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def _old(*paths: Path) -> None:
    """Make files look settled (last changed a minute ago)."""
    past = time.time() - 60
    for p in paths:
        os.utime(p, (past, past))


def _drop(inbox: Path, name: str, audio: bytes = b"ID3fake-audio", article: str | None = ARTICLE,
          ext: str = ".mp3") -> list[Path]:
    files = [inbox / f"{name}{ext}"]
    files[0].write_bytes(audio)
    if article is not None:
        files.append(inbox / f"{name}.md")
        files[1].write_text(article, encoding="utf-8")
    _old(*files)
    return files


def test_pair_drop_is_moved_untouched_into_source(project):
    files = _drop(project.inbox, "2026-04-recap")
    sums = {f.name: sha256_file(f) for f in files}
    report = claim_drops(project, settle_s=0.5)
    assert report.claimed == ["2026-04-recap"] and not report.errors
    layout = project.episode("2026-04-recap")
    for name, digest in sums.items():
        assert sha256_file(layout.source_file(name)) == digest
        assert not (project.inbox / name).exists()
    record = episodes.load_record(layout)
    assert record.title == "Bilan d'avril"
    assert record.state == "received" and record.language == "fr"
    assert record.history[0].stage == "claim"


def test_folder_drop_with_cover(project):
    folder = project.inbox / "Mon épisode"
    folder.mkdir()
    (folder / "rec.wav").write_bytes(b"RIFFxxxx")
    (folder / "texte.md").write_text("# Titre\n\nTexte.\n", encoding="utf-8")
    (folder / "cover.jpg").write_bytes(bytes.fromhex(TINY_JPEG))
    _old(*folder.iterdir())
    report = claim_drops(project, settle_s=0.5)
    assert report.claimed == ["mon-episode"]
    record = episodes.load_record(project.episode("mon-episode"))
    assert (record.source_audio, record.source_article, record.source_cover) == ("rec.wav", "texte.md", "cover.jpg")
    assert record.title == "Titre"


def test_folder_with_two_recordings_is_refused_and_left_alone(project):
    folder = project.inbox / "double"
    folder.mkdir()
    for name in ("a.mp3", "b.wav"):
        (folder / name).write_bytes(b"x")
    _old(*folder.iterdir())
    report = claim_drops(project, settle_s=0.5)
    assert report.claimed == []
    assert "2 audio files" in report.errors[0] and "inbox/double/" in report.errors[0]
    assert (folder / "a.mp3").exists() and (folder / "b.wav").exists()


def test_slug_from_front_matter_and_names_with_accents_spaces_quotes(project):
    _drop(project.inbox, "L'épisode \"spécial\" n°4", article=None)
    _drop(project.inbox, "whatever", audio=b"other", article="---\nslug: Mon Slug Été\n---\nTexte\n")
    report = claim_drops(project, settle_s=0.5)
    assert sorted(report.claimed) == ["l-episode-special-n4", "mon-slug-ete"]
    record = episodes.load_record(project.episode("l-episode-special-n4"))
    assert record.source_audio == "L'épisode \"spécial\" n°4.mp3"
    assert slugify("Été à Paris — 2026") == "ete-a-paris-2026"


def test_slug_collision_gets_a_suffix(project):
    _drop(project.inbox, "recap", audio=b"first")
    claim_drops(project, settle_s=0.5)
    _drop(project.inbox, "recap", audio=b"second")
    report = claim_drops(project, settle_s=0.5)
    assert report.claimed == ["recap-2"]


def test_same_recording_twice_is_not_processed_again(project):
    _drop(project.inbox, "recap", audio=b"same bytes")
    claim_drops(project, settle_s=0.5)
    files = _drop(project.inbox, "recap-again", audio=b"same bytes")
    report = claim_drops(project, settle_s=0.5)
    assert report.claimed == [] and report.updated == []
    assert len(report.messages) == 1 and "same recording as episode 'recap'" in report.messages[0]
    assert all(f.exists() for f in files)  # left where the creator put them
    assert project.episode_slugs() == ["recap"]


def test_audio_without_article_is_an_audio_only_episode(project):
    _drop(project.inbox, "solo", article=None)
    claim_drops(project, settle_s=0.5)
    record = episodes.load_record(project.episode("solo"))
    assert record.source_article is None
    assert any("audio only" in w for w in record.warnings)


def test_article_without_audio_waits_and_shows_as_incomplete(project):
    (project.inbox / "later.md").write_text(ARTICLE, encoding="utf-8")
    _old(project.inbox / "later.md")
    report = claim_drops(project, settle_s=0.5)
    assert report.claimed == [] and "waiting for its recording" in report.messages[0]
    assert (project.inbox / "later.md").exists()
    rows = status_rows(project)
    assert [(r.slug, r.state) for r in rows] == [("later", "incomplete")]
    assert [d.name for d in pending_drops(project)] == ["later"]


def test_corrected_article_alone_updates_the_episode_and_keeps_the_old_one(project):
    _drop(project.inbox, "recap")
    claim_drops(project, settle_s=0.5)
    layout = project.episode("recap")
    old_sha = episodes.load_record(layout).article_sha256
    fixed = project.inbox / "recap.md"
    fixed.write_text(ARTICLE.replace("Un paragraphe.", "Un paragraphe corrigé."), encoding="utf-8")
    _old(fixed)
    report = claim_drops(project, settle_s=0.5)
    assert report.updated == ["recap"]
    record = episodes.load_record(layout)
    assert record.article_sha256 != old_sha
    assert "corrigé" in layout.source_file("recap.md").read_text(encoding="utf-8")
    kept = list(layout.history_dir.glob("*/source/recap.md"))
    assert len(kept) == 1 and sha256_file(kept[0]) == old_sha


def test_drop_still_being_written_is_left_alone(project):
    audio = project.inbox / "growing.wav"
    audio.write_bytes(b"\0" * 1000)
    (project.inbox / "growing.md").write_text(ARTICLE, encoding="utf-8")
    stop = threading.Event()

    def keep_writing() -> None:
        with audio.open("ab") as fh:
            while not stop.is_set():
                fh.write(b"\0" * 4096)
                fh.flush()
                time.sleep(0.05)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        report = claim_drops(project, settle_s=0.5)
    finally:
        stop.set()
        writer.join()
    assert report.claimed == []
    assert "still being written" in report.messages[0]
    assert audio.exists()
    _old(audio, project.inbox / "growing.md")
    assert claim_drops(project, settle_s=0.5).claimed == ["growing"]


def test_bad_front_matter_is_one_line_naming_the_file_and_loses_nothing(project):
    files = _drop(project.inbox, "broken", article="---\ntitle: [unclosed\n---\nText\n")
    _drop(project.inbox, "fine", audio=b"fine")
    report = claim_drops(project, settle_s=0.5)
    assert report.claimed == ["fine"]
    assert len(report.errors) == 1 and "broken.md" in report.errors[0] and "\n" not in report.errors[0]
    assert all(f.exists() for f in files)


def test_article_not_utf8_is_claimed(project):
    audio = project.inbox / "latin.mp3"
    audio.write_bytes(b"audio")
    article = project.inbox / "latin.md"
    article.write_bytes("# Été à la campagne\n\nCafé crème.\n".encode("cp1252"))
    _old(audio, article)
    report = claim_drops(project, settle_s=0.5)
    assert report.claimed == ["latin"]
    assert episodes.load_record(project.episode("latin")).title == "Été à la campagne"


def test_inbox_readme_and_hidden_files_are_ignored(project):
    (project.inbox / "README.md").write_text("how to drop", encoding="utf-8")
    (project.inbox / ".partial.m4a").write_bytes(b"x")
    (project.inbox / "notes.docx").write_bytes(b"x")
    drops, problems = find_drops(project.inbox)
    assert drops == []
    assert problems == ["inbox/notes.docx: not a recording, article or cover image: left alone"]


def test_status_json_lists_states(project, capsys):
    from flows.cli import main

    _drop(project.inbox, "recap")
    claim_drops(project, settle_s=0.5)
    with pytest.raises(SystemExit) as exit_info:
        main(["--root", str(project.root), "status", "--json"])
    assert exit_info.value.code == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["slug"] == "recap" and rows[0]["state"] == "received"


def test_new_recording_for_the_same_slug_starts_a_new_review_and_keeps_the_old(project):
    article = "---\nslug: recap\n---\n# Recap\n\nTexte.\n"
    _drop(project.inbox, "recap", audio=b"take one", article=article)
    claim_drops(project, settle_s=0.5)
    layout = project.episode("recap")
    layout.reviewed_json.parent.mkdir(parents=True)
    layout.reviewed_json.write_text('{"edited": true}\n', encoding="utf-8")
    episodes.set_state(layout, episodes.EpisodeState.published, stage="publish")
    # A published episode's recording is replaced only when the drop says so (issue 15).
    replacing = article.replace("---\n#", "replace: true\n---\n#")
    _drop(project.inbox, "recap-take-two", audio=b"take two", article=replacing)
    report = claim_drops(project, settle_s=0.5)
    assert report.updated == ["recap"] and report.claimed == []
    record = episodes.load_record(layout)
    assert record.state == "received" and record.source_audio == "recap-take-two.mp3"
    assert not layout.reviewed_json.exists()
    kept = list(layout.history_dir.glob("*/transcript/reviewed.json"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == '{"edited": true}\n'
    assert list(layout.history_dir.glob("*/source/recap.mp3"))
