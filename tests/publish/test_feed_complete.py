"""A complete feed, read by the Podcast Index's own parser (podcast-partytime, with node), by
feedparser and by gPodder's podcastparser, on a real built site with every feed setting given."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import podcastparser
import pytest

from pipeline.config import Settings
from pipeline.layout import ProjectLayout
from pipeline.publish import publish_site
from pipeline.publish.feed import PODCAST
from tests.factories import RealAudio, add_english_episode, add_french_episode
from tests.publish.test_feed import make_cover
from tests.validation import partytime

BASE = "https://podcast.example.org/show/"
PODROLL_GUID = "917393e3-1b1e-5cef-ace4-edaa54e1f810"
FEED_SETTINGS = {
    "license": "cc-by-4.0",
    "license_url": "https://creativecommons.org/licenses/by/4.0/",
    "funding_url": "https://example.org/support",
    "funding_text": "Soutenir l’émission",
    "txt": {"verify": "S6lpp-7ZCn8-dZfGc-OoyaG"},
    "update_frequency": "Monthly",
    "update_rrule": "FREQ=MONTHLY",
    "podroll": [{"feed_guid": PODROLL_GUID, "feed_url": "https://example.com/feed.xml", "title": "Friends"}],
}
GUESTS = "speakers:\n  - name: Ana Lima\n    role: guest\n    picture: https://example.org/ana.jpg\n    url: https://example.org/ana"
# podcast: tags that podcast-partytime 5.0.0 does not implement at all (its own tag table lacks them):
# <podcast:image> (which replaced its older <podcast:images>) and <podcast:updateFrequency>.
NOT_IN_PARTYTIME = {"image", "updateFrequency"}


@pytest.fixture
def feed(project: ProjectLayout, real_audio: dict[str, RealAudio]) -> Path:
    make_cover(project.root / "show.png")
    add_english_episode(project, real_audio["en"], published_at=datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    layout = add_french_episode(
        project,
        real_audio["fr"],
        published_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC),
        article="---\nlanguage: fr\n" + GUESTS + "\n---\n\n# Présentation\n\nBonjour. Je m'appelle Éric.\n",
    )
    cover = make_cover(layout.source_dir / "cover.png")
    from pipeline.episodes import update_record

    update_record(layout, source_cover=cover.name)
    settings = Settings(show={"title": "Show", "author": "Zoë", "base_url": BASE, "cover": "show.png",
                              "feed": FEED_SETTINGS})
    publish_site(project, settings)
    return project.site_dir / "feed.xml"


def _podcast_tags(path: Path) -> set[str]:
    root = ET.parse(path).getroot()
    return {el.tag.split("}", 1)[1] for el in root.iter() if el.tag.startswith(f"{{{PODCAST}}}")}


@pytest.mark.integration
def test_partytime_recognises_every_podcast_tag_diptych_writes(feed: Path) -> None:
    parsed = partytime(feed)
    recognised = {tag for tags in parsed["pc20support"].values() for tag in tags}  # type: ignore[union-attr]
    emitted = _podcast_tags(feed)
    # remoteItem is read as part of podroll; every other tag is reported under its own name.
    assert emitted - recognised - {"remoteItem"} == NOT_IN_PARTYTIME
    assert NOT_IN_PARTYTIME.isdisjoint(parsed["known"])  # type: ignore[arg-type]
    assert {"locked", "guid", "person", "funding", "license", "medium", "txt", "podroll", "transcript",
            "chapters"} <= recognised
    assert parsed["copyright"] == "© 2025–2026 Zoë"
    assert parsed["people"] == [{"name": "Zoë", "role": "Host", "group": "Cast"}]


@pytest.mark.integration
def test_items_carry_artwork_guests_transcripts_and_links(feed: Path) -> None:
    parsed = partytime(feed)
    items = {i["title"]: i for i in parsed["items"]}  # type: ignore[union-attr, index]
    fr, en = items["Présentation d’Éric"], items["The Preamble"]
    assert fr["itunesImage"] == f"{BASE}bonjour/cover.png"
    assert en["itunesImage"] == f"{BASE}cover.png"  # the show's cover
    assert fr["people"][0]["name"] == "Ana Lima" and fr["people"][0]["img"] == "https://example.org/ana.jpg"
    assert "people" not in en or not en["people"]
    types = {t["type"] for t in fr["transcripts"]}
    assert "text/plain" in types and "text/vtt" in types
    assert f'href="{BASE}bonjour/"' in fr["content"] and f'href="{BASE}bonjour/transcript.html"' in fr["content"]


def test_feedparser_and_podcastparser_read_the_complete_feed(feed: Path) -> None:
    parsed = feedparser.parse(feed.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.rights == "© 2025–2026 Zoë"
    entry = next(e for e in parsed.entries if e.title == "Présentation d’Éric")
    assert entry.image.href == f"{BASE}bonjour/cover.png"
    assert f"{BASE}bonjour/transcript.html" in entry.content[0].value
    with feed.open("rb") as fh:
        pod = podcastparser.parse(f"{BASE}feed.xml", fh)
    episode = next(e for e in pod["episodes"] if e["title"] == "Présentation d’Éric")
    # podcastparser 0.6.11 reads the podcast: namespace only under its old GitHub address, so it
    # sees the RSS and itunes: parts: the item's own artwork among them.
    assert episode["episode_art_url"] == f"{BASE}bonjour/cover.png"
    assert episode["enclosures"][0]["url"] == f"{BASE}bonjour/bonjour.mp3"
    tags = _podcast_tags(feed)
    assert {"image", "updateFrequency", "podroll", "remoteItem", "txt", "license", "funding", "medium"} <= tags


def test_copyright_setting_wins_and_tags_are_left_out_when_not_set(
    project: ProjectLayout, real_audio: dict[str, RealAudio]
) -> None:
    add_english_episode(project, real_audio["en"])
    publish_site(project, Settings(show={"base_url": BASE, "copyright": "CC BY 4.0 Zoë"}))
    feed = project.site_dir / "feed.xml"
    channel = ET.parse(feed).getroot().find("channel")
    assert channel is not None and channel.findtext("copyright") == "CC BY 4.0 Zoë"
    assert _podcast_tags(feed) & {"license", "funding", "txt", "podroll", "updateFrequency", "image"} == set()
    shutil.rmtree(project.site_dir)
