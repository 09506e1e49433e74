"""How publishing behaves: which episodes, what is rewritten, identity, failures, chapters in the MP3."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from mutagen.mp3 import MP3

from pipeline.config import Settings
from pipeline.episodes import load_record, set_state, update_record
from pipeline.errors import PublishError
from pipeline.layout import ProjectLayout
from pipeline.models import EpisodeState, Pairing
from pipeline.publish.build import PublishResult, is_unpublished, publish_site, unpublish_episode
from pipeline.publish.chapters import read_id3_chapters
from tests.factories import RealAudio, add_english_episode, add_french_episode

BASE = "https://example.org/pod/"
SETTINGS = Settings(show={"base_url": BASE, "title": "Show"})


def publish_as_the_flow_does(project: ProjectLayout, slugs: list[str] | None = None) -> PublishResult:
    """publish_site, then the caller's part of the contract: newly published episodes change state."""
    result = publish_site(project, SETTINGS, slugs=slugs)
    for slug in result.newly_published:
        set_state(project.episode(slug), EpisodeState.published, stage="publish")
    return result


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under folder: (inode, mtime_ns, bytes)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(folder))] = (st.st_ino, st.st_mtime_ns, path.read_bytes())
    return out


@pytest.fixture
def two(project: ProjectLayout, real_audio: dict[str, RealAudio]) -> ProjectLayout:
    add_english_episode(project, real_audio["en"])
    add_french_episode(project, real_audio["fr"])
    return project


def test_only_approved_and_published_episodes_are_published(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    add_english_episode(project, real_audio["en"], state=EpisodeState.awaiting_review)
    add_french_episode(project, real_audio["fr"])
    result = publish_site(project, SETTINGS)
    assert result.published == ("bonjour",) and result.newly_published == ("bonjour",)
    assert not (project.site_dir / "preamble").exists()
    # publish_site changes no state (the flow does), but the first publication date is kept for good.
    bonjour = load_record(project.episode("bonjour"))
    assert bonjour.state is EpisodeState.approved and bonjour.published_at is not None
    assert load_record(project.episode("preamble")).state is EpisodeState.awaiting_review
    set_state(project.episode("bonjour"), EpisodeState.published, stage="publish")
    again = publish_site(project, SETTINGS)
    assert (
        again.newly_published == ()
        and load_record(project.episode("bonjour")).published_at == bonjour.published_at
    )
    with pytest.raises(PublishError, match="approve it first"):
        publish_site(project, SETTINGS, slugs=["preamble"])


def test_the_episode_folder_holds_every_file(two: ProjectLayout) -> None:
    publish_site(two, SETTINGS)
    names = sorted(p.name for p in (two.site_dir / "preamble").iterdir())
    assert names == [
        "chapters.json",
        "embed.html",
        "index.html",
        "preamble.mp3",
        "transcript.html",
        "transcript.json",
        "transcript.srt",
        "transcript.txt",
        "transcript.vtt",
    ]
    assert sorted(p.name for p in two.site_dir.iterdir()) == [
        "bonjour",
        "favicon.svg",
        "feed.xml",
        "follow.js",
        "index.html",
        "preamble",
        "site.css",
        "site.js",
    ]
    for path in two.site_dir.rglob("*"):
        assert path.stat().st_mode & 0o004, f"{path} is not readable by a web server"


def test_same_inputs_give_byte_identical_files(two: ProjectLayout) -> None:
    publish_site(two, SETTINGS)
    first = {k: v[2] for k, v in snapshot(two.site_dir).items()}
    publish_site(two, SETTINGS)
    second = {k: v[2] for k, v in snapshot(two.site_dir).items()}
    assert first == second


def test_republishing_one_episode_leaves_the_others_untouched(two: ProjectLayout) -> None:
    publish_site(two, SETTINGS)
    before = snapshot(two.site_dir)
    update_record(two.episode("bonjour"), title="Un nouveau titre")
    result = publish_site(two, SETTINGS, slugs=["bonjour"])
    after = snapshot(two.site_dir)
    assert result.rebuilt == ("bonjour",)
    for name, (ino, mtime, data) in before.items():
        if name.startswith("preamble/") or name in ("site.css", "site.js", "follow.js"):
            assert after[name] == (ino, mtime, data), f"{name} was rewritten"
    assert after["bonjour/index.html"][0] != before["bonjour/index.html"][0]
    assert "Un nouveau titre" in (two.site_dir / "bonjour" / "index.html").read_text()
    assert b"Un nouveau titre" in (two.site_dir / "feed.xml").read_bytes()
    assert b"Un nouveau titre" in (two.site_dir / "index.html").read_bytes()


def test_guid_and_url_survive_a_title_change(two: ProjectLayout) -> None:
    publish_site(two, SETTINGS)
    feed1 = feedparser.parse((two.site_dir / "feed.xml").read_bytes())
    published_at = load_record(two.episode("preamble")).published_at
    update_record(two.episode("preamble"), title="A Renamed Preamble")
    publish_site(two, SETTINGS)
    feed2 = feedparser.parse((two.site_dir / "feed.xml").read_bytes())
    old = {e.id: (e.link, e.published) for e in feed1.entries}
    new = {e.id: (e.link, e.published) for e in feed2.entries}
    assert old == new
    assert "A Renamed Preamble" in [e.title for e in feed2.entries]
    assert load_record(two.episode("preamble")).published_at == published_at


def test_unpublish_removes_from_site_and_feed_and_keeps_the_workspace(two: ProjectLayout) -> None:
    publish_as_the_flow_does(two)
    guid = load_record(two.episode("preamble")).guid
    unpublish_episode(two, SETTINGS, "preamble")
    assert not (two.site_dir / "preamble").exists()
    feed = feedparser.parse((two.site_dir / "feed.xml").read_bytes())
    assert [e.id for e in feed.entries] == [load_record(two.episode("bonjour")).guid]
    assert "preamble/" not in (two.site_dir / "index.html").read_text()
    record = load_record(two.episode("preamble"))
    assert record.state is EpisodeState.approved and record.guid == guid and is_unpublished(record)
    assert two.episode("preamble").master_mp3.is_file()
    # A full build leaves it out; naming it brings it back with the same guid.
    assert publish_as_the_flow_does(two).published == ("bonjour",)
    result = publish_as_the_flow_does(two, ["preamble"])
    assert set(result.published) == {"bonjour", "preamble"} and result.newly_published == ("preamble",)
    assert guid in (two.site_dir / "feed.xml").read_text()
    unpublish_episode(two, SETTINGS, "preamble")
    with pytest.raises(PublishError, match="not published"):
        unpublish_episode(two, SETTINGS, "preamble")


def test_missing_audio_fails_clearly_and_writes_nothing(two: ProjectLayout) -> None:
    publish_site(two, SETTINGS)
    before = snapshot(two.site_dir)
    two.episode("bonjour").master_mp3.unlink()
    with pytest.raises(PublishError, match=r"bonjour.*master\.mp3 is missing"):
        publish_site(two, SETTINGS)
    with pytest.raises(PublishError, match="master.mp3 is missing"):
        publish_site(two, SETTINGS, slugs=["bonjour"])
    assert snapshot(two.site_dir) == before
    assert [p.name for p in two.output.iterdir() if p.name.startswith(".site")] == []


def test_unreadable_audio_fails_clearly_on_a_first_build(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    layout = add_french_episode(project, real_audio["fr"])
    layout.master_mp3.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(PublishError, match=r"bonjour.*not a readable MP3"):
        publish_site(project, SETTINGS)
    assert not project.site_dir.exists()
    assert load_record(layout).state is EpisodeState.approved


def test_chapters_are_in_the_mp3_and_in_chapters_json(two: ProjectLayout) -> None:
    publish_site(two, SETTINGS)
    pairing = Pairing.model_validate_json(two.episode("preamble").pairing_json.read_bytes())
    mp3 = two.site_dir / "preamble" / "preamble.mp3"
    marks = read_id3_chapters(mp3)
    assert [m.title for m in marks] == [c.title for c in pairing.chapters]
    assert [round(m.start_s, 3) for m in marks] == [round(c.start_s, 3) for c in pairing.chapters]
    assert marks[-1].end_s == pytest.approx(MP3(mp3).info.length, abs=0.01)
    data = json.loads((two.site_dir / "preamble" / "chapters.json").read_text())
    assert data["version"] == "1.2.0"
    assert [c["title"] for c in data["chapters"]] == [c.title for c in pairing.chapters]
    assert data["chapters"][0]["url"] == f"{BASE}preamble/#{pairing.chapters[0].anchor}"
    # The workspace's master keeps no chapters: only the published copy is changed.
    assert read_id3_chapters(two.episode("preamble").master_mp3) == []
    assert MP3(mp3).info.length == pytest.approx(MP3(two.episode("preamble").master_mp3).info.length)


def test_back_catalogue_date_and_first_publication(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    article = "---\ndate: 2013-03-01\n---\n\n# Février\n\nUn bilan.\n"
    add_french_episode(project, real_audio["fr"], article=article)
    publish_site(project, SETTINGS)
    assert load_record(project.episode("bonjour")).published_at == datetime(2013, 3, 1, tzinfo=UTC)


def test_original_files_are_never_modified(two: ProjectLayout) -> None:
    layout = two.episode("preamble")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in layout.source_dir.iterdir()}
    master = (layout.master_mp3.stat().st_mtime_ns, layout.master_mp3.read_bytes())
    publish_site(two, SETTINGS)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in layout.source_dir.iterdir()} == before
    assert (layout.master_mp3.stat().st_mtime_ns, layout.master_mp3.read_bytes()) == master


def test_an_unknown_slug_is_a_clear_error(two: ProjectLayout) -> None:
    from pipeline.errors import EpisodeNotFound

    with pytest.raises(EpisodeNotFound):
        publish_site(two, SETTINGS, slugs=["no-such-episode"])
    assert os.path.exists(two.root)


def test_a_rebuild_links_the_unchanged_mp3_and_redoes_a_changed_one(two: ProjectLayout) -> None:
    publish_site(two, SETTINGS)
    mp3 = two.site_dir / "preamble" / "preamble.mp3"
    first = mp3.stat().st_ino
    publish_site(two, SETTINGS)
    assert mp3.stat().st_ino == first  # same bytes, not copied and re-tagged again
    layout = two.episode("preamble")
    pairing = Pairing.model_validate_json(layout.pairing_json.read_bytes())
    renamed = [c.model_copy(update={"title": f"Part {i}"}) for i, c in enumerate(pairing.chapters)]
    layout.pairing_json.write_text(pairing.model_copy(update={"chapters": renamed}).model_dump_json())
    publish_site(two, SETTINGS)
    assert mp3.stat().st_ino != first
    assert [m.title for m in read_id3_chapters(mp3)] == [f"Part {i}" for i in range(len(renamed))]


def test_a_missing_cover_named_in_front_matter_is_a_clear_error(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    article = "---\ncover: images/missing.png\n---\n\n# Titre\n\nUn paragraphe.\n"
    add_french_episode(project, real_audio["fr"], article=article)
    with pytest.raises(PublishError, match=r"bonjour.*cover 'images/missing.png'.*front matter"):
        publish_site(project, SETTINGS)
    assert not project.site_dir.exists()


def test_a_show_without_episodes_still_gets_a_home_page_and_a_valid_feed(project: ProjectLayout) -> None:
    result = publish_site(project, SETTINGS)
    assert result.published == () and result.newly_published == ()
    feed = feedparser.parse(result.feed.read_bytes())
    assert not feed.bozo and feed.feed.title == "Show" and feed.entries == []
    # The show's language (fr by default) gives the home page's words.
    assert "Aucun épisode publié pour l’instant." in (project.site_dir / "index.html").read_text()


def test_pages_built_by_another_diptych_are_built_anew(two: ProjectLayout, monkeypatch: pytest.MonkeyPatch) -> None:
    """The publish key holds what the site is made with: after an upgrade that changes a template, a
    stylesheet or the page code, the publish stage rebuilds the pages instead of calling them up to date."""
    from pipeline import publish, stages
    from pipeline.publish import pages

    assert stages.run_publish(two, SETTINGS, "preamble").ran
    assert not stages.run_publish(two, SETTINGS, "preamble").ran  # nothing changed: up to date
    stylesheet = two.site_dir / "site.css"
    stylesheet.write_text("/* an earlier diptych's stylesheet */\n", encoding="utf-8")
    monkeypatch.setattr(publish, "code_sha256", lambda: "0" * 64)  # as after an upgrade
    outcome = stages.run_publish(two, SETTINGS, "preamble")
    assert outcome.ran, outcome
    assert stylesheet.read_bytes() == pages.asset_bytes("site.css")

