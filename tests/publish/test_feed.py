"""feed.xml as podcast apps read it: feedparser and gPodder's podcastparser, on a real built site."""

from __future__ import annotations

import subprocess
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import podcastparser
import pytest

from pipeline.config import Settings
from pipeline.layout import ProjectLayout
from pipeline.publish.build import WARN_NO_BASE_URL, WARN_NO_COVER, PublishResult, publish_site
from pipeline.publish.feed import PODCAST, cover_problem, image_size, podcast_guid_for, truncate_utf8
from tests.factories import RealAudio, add_english_episode, add_french_episode

BASE = "https://podcast.example.org/show/"
NS = {"itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd", "podcast": PODCAST}


def make_cover(path: Path, size: int = 1400) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"color=c=0x336699:s={size}x{size}",
    ]
    subprocess.run([*cmd, "-frames:v", "1", str(path)], check=True)
    return path


def settings_for(project: ProjectLayout, **show: object) -> Settings:
    values: dict[str, object] = {
        "title": "Talk & <Code> \"quoted\" 'too'",
        "author": "Zoë & Ana",
        "owner_email": "owner@example.org",
        "base_url": BASE,
        "category": "Society & Culture",
        "subcategory": "Documentary",
        "language": "en",
    }
    values.update(show)
    return Settings(show=values)


@pytest.fixture
def built(project: ProjectLayout, real_audio: dict[str, RealAudio]) -> tuple[ProjectLayout, PublishResult]:
    make_cover(project.root / "cover.png")
    add_english_episode(project, real_audio["en"], published_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    add_french_episode(project, real_audio["fr"], title="Éric & « les <langues> »")
    result = publish_site(project, settings_for(project, cover="cover.png"))
    return project, result


def test_feedparser_reads_channel_and_items(built: tuple[ProjectLayout, PublishResult]) -> None:
    project, result = built
    feed = feedparser.parse(result.feed.read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Talk & <Code> \"quoted\" 'too'"
    assert feed.feed.author_detail.name == "Zoë & Ana"
    assert feed.feed.publisher_detail.email == "owner@example.org"
    assert feed.feed.image.href == BASE + "cover.png"
    assert feed.feed.podcast_guid == podcast_guid_for(BASE + "feed.xml")
    assert feed.feed.language == "en"
    # Newest first: the French episode was published now, the English one in March.
    assert [e.title for e in feed.entries] == ["Éric & « les <langues> »", "The Preamble"]
    for entry in feed.entries:
        slug = entry.link.rstrip("/").rsplit("/", 1)[-1]
        mp3 = project.site_dir / slug / f"{slug}.mp3"
        enclosure = next(link for link in entry.links if link.rel == "enclosure")
        assert enclosure.href == f"{BASE}{slug}/{slug}.mp3"
        assert int(enclosure.length) == mp3.stat().st_size
        assert enclosure.type == "audio/mpeg"
        assert entry.link == f"{BASE}{slug}/"
        assert entry.podcast_chapters["url"] == f"{BASE}{slug}/chapters.json"
    english = feed.entries[1]
    assert english.published == "Sun, 01 Mar 2026 09:00:00 +0000"
    assert int(english.itunes_duration) == 149


def test_podcastparser_reads_what_gpodder_shows(built: tuple[ProjectLayout, PublishResult]) -> None:
    project, result = built
    with result.feed.open("rb") as fh:
        parsed = podcastparser.parse(BASE + "feed.xml", fh)
    assert parsed["title"] == "Talk & <Code> \"quoted\" 'too'"
    assert parsed["cover_url"] == BASE + "cover.png"
    assert parsed["itunes_owner"] == {"name": "Zoë & Ana", "email": "owner@example.org"}
    assert parsed["itunes_categories"] == [["Society & Culture", "Documentary"]]
    by_title = {e["title"]: e for e in parsed["episodes"]}
    english = by_title["The Preamble"]
    record_guid = _record_guid(project, "preamble")
    assert english["guid"] == record_guid
    assert english["total_time"] == 149
    assert english["published"] == int(datetime(2026, 3, 1, 9, 0, tzinfo=UTC).timestamp())
    [enclosure] = english["enclosures"]
    mp3 = project.site_dir / "preamble" / "preamble.mp3"
    assert enclosure == {
        "url": BASE + "preamble/preamble.mp3",
        "file_size": mp3.stat().st_size,
        "mime_type": "audio/mpeg",
    }
    assert "Whereas recognition of the inherent dignity" in english["description_html"]
    # No cover of its own: the episode shows the show's.
    assert english["episode_art_url"] == BASE + "cover.png"
    # podcastparser 0.6.11 knows the podcast namespace only under its former GitHub address; under
    # the address the namespace specifies (and that feeds use) it reads no transcript or chapters.
    assert "transcript_url" not in english and "chapters_json_url" not in english


def test_items_carry_every_transcript_and_the_chapters(built: tuple[ProjectLayout, PublishResult]) -> None:
    project, result = built
    root = ET.parse(result.feed).getroot()
    item = root.find("channel/item[title='The Preamble']")
    assert item is not None
    transcripts = {t.get("type"): t.attrib for t in item.findall("podcast:transcript", NS)}
    assert set(transcripts) == {"text/vtt", "application/x-subrip", "application/json", "text/html", "text/plain"}
    assert transcripts["text/vtt"] == {
        "url": BASE + "preamble/transcript.vtt",
        "type": "text/vtt",
        "language": "en",
        "rel": "captions",
    }
    for attrs in transcripts.values():
        name = attrs["url"].removeprefix(BASE)
        assert (project.site_dir / name).is_file(), name
    chapters = item.find("podcast:chapters", NS)
    assert chapters is not None and chapters.get("type") == "application/json+chapters"
    assert item.find("guid").get("isPermaLink") == "false"  # type: ignore[union-attr]
    assert item.findtext("itunes:explicit", namespaces=NS) == "false"
    french = root.find("channel/item[title='Éric & « les <langues> »']")
    assert french is not None
    assert {t.get("language") for t in french.findall("podcast:transcript", NS)} == {"fr"}


def test_channel_elements(built: tuple[ProjectLayout, PublishResult]) -> None:
    _, result = built
    channel = ET.parse(result.feed).getroot().find("channel")
    assert channel is not None
    assert channel.findtext("itunes:explicit", namespaces=NS) == "false"
    locked = channel.find("podcast:locked", NS)
    assert locked is not None and locked.text == "yes" and locked.get("owner") == "owner@example.org"
    category = channel.find("itunes:category", NS)
    assert category is not None and category.get("text") == "Society & Culture"
    assert category.find("itunes:category", NS).get("text") == "Documentary"  # type: ignore[union-attr]
    # lastBuildDate is the latest pubDate, not the time of the build.
    dates = [i.findtext("pubDate") for i in channel.findall("item")]
    assert channel.findtext("lastBuildDate") == dates[0]
    assert result.warnings == ()


def test_podcast_guid_follows_the_namespace_example() -> None:
    # The podcast namespace's own example: this feed URL gives this guid.
    assert (
        podcast_guid_for("https://mp3s.nashownotes.com/pc20rss.xml") == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    )
    assert (
        podcast_guid_for("http://mp3s.nashownotes.com/pc20rss.xml/") == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    )
    assert uuid.UUID(podcast_guid_for("https://x.org/feed.xml")).version == 5


def test_podcast_guid_override(project: ProjectLayout, real_audio: dict[str, RealAudio]) -> None:
    add_french_episode(project, real_audio["fr"])
    fixed = "2d8a9c1e-0000-5000-8000-000000000001"
    result = publish_site(project, settings_for(project, podcast_guid=fixed))
    assert feedparser.parse(result.feed.read_bytes()).feed.podcast_guid == fixed


def test_no_cover_anywhere_gives_a_valid_feed_and_a_warning(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    add_french_episode(project, real_audio["fr"])
    result = publish_site(project, settings_for(project))
    assert WARN_NO_COVER in result.warnings
    assert b"itunes:image" not in result.feed.read_bytes()
    feed = feedparser.parse(result.feed.read_bytes())
    assert not feed.bozo and len(feed.entries) == 1


def test_episode_cover_wins_over_the_show_cover(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    make_cover(project.root / "show.png")
    layout = add_french_episode(project, real_audio["fr"])
    make_cover(layout.source_dir / "cover.png")
    from pipeline.episodes import update_record

    update_record(layout, source_cover="cover.png")
    result = publish_site(project, settings_for(project, cover="show.png"))
    with result.feed.open("rb") as fh:
        parsed = podcastparser.parse(BASE + "feed.xml", fh)
    assert parsed["cover_url"] == BASE + "cover.png"
    assert parsed["episodes"][0]["episode_art_url"] == BASE + "bonjour/cover.png"
    assert (project.site_dir / "bonjour" / "cover.png").is_file()
    assert '<img class="cover" src="cover.png"' in (project.site_dir / "bonjour" / "index.html").read_text()


def test_without_base_url_the_site_is_built_and_a_warning_returned(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    add_french_episode(project, real_audio["fr"])
    result = publish_site(project, settings_for(project, base_url=None))
    assert WARN_NO_BASE_URL in result.warnings
    assert "show.base_url" in WARN_NO_BASE_URL
    assert (project.site_dir / "bonjour" / "index.html").is_file()
    root = ET.parse(result.feed).getroot()
    assert root.find("channel/item/enclosure").get("url") == "bonjour/bonjour.mp3"  # type: ignore[union-attr]
    assert root.find("channel/podcast:guid", NS) is None


def test_long_description_is_cut_at_a_word_under_4000_bytes(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    long = "Très " + "élégant " * 1200
    add_french_episode(
        project, real_audio["fr"], article="---\ndescription: " + long + "\n---\n\n# T\n\nCorps.\n"
    )
    result = publish_site(project, settings_for(project))
    description = ET.parse(result.feed).getroot().findtext("channel/item/description")
    assert description is not None
    assert len(description.encode("utf-8")) <= 4000
    assert description.endswith("élégant …")


def test_truncate_keeps_short_text_and_never_splits_a_character() -> None:
    assert truncate_utf8("short  text") == "short text"
    cut = truncate_utf8("é" * 5000, limit=100)
    assert len(cut.encode()) <= 100 and set(cut.rstrip(" …")) == {"é"}


def test_explicit_season_and_episode_from_front_matter(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    article = "---\nexplicit: true\nseason: 2\nepisode: 7\n---\n\n# Titre\n\nUn paragraphe.\n"
    add_french_episode(project, real_audio["fr"], article=article)
    result = publish_site(project, settings_for(project))
    item = ET.parse(result.feed).getroot().find("channel/item")
    assert item is not None
    assert item.findtext("itunes:explicit", namespaces=NS) == "true"
    assert item.findtext("itunes:season", namespaces=NS) == "2"
    assert item.findtext("itunes:episode", namespaces=NS) == "7"
    with result.feed.open("rb") as fh:
        episode = podcastparser.parse(BASE + "feed.xml", fh)["episodes"][0]
    assert episode["explicit"] is True and episode["number"] == 7


def _record_guid(project: ProjectLayout, slug: str) -> str:
    from pipeline.episodes import load_record

    return load_record(project.episode(slug)).guid


def test_a_cover_apple_would_refuse_gives_a_warning(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
) -> None:
    add_french_episode(project, real_audio["fr"])
    make_cover(project.root / "small.jpg", size=600)
    result = publish_site(project, settings_for(project, cover="small.jpg"))
    expected = "show.cover: small.jpg is 600×600 px: Apple Podcasts needs a square of 1400 to 3000 px"
    assert expected in result.warnings
    assert image_size(project.root / "small.jpg") == (600, 600)
    assert image_size(make_cover(project.root / "big.png", size=1500)) == (1500, 1500)
    assert cover_problem(project.root / "big.png") is None
