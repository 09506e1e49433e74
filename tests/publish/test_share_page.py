"""The episode page as links, search engines and other sites see it: canonical address, OpenGraph,
Twitter card, JSON-LD PodcastEpisode, favicon, subscribe buttons, one ▶ per start, the embed page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from pipeline.config import Settings
from pipeline.layout import ProjectLayout
from pipeline.publish import publish_site
from pipeline.publish.pages import PageBlock, mark_same_starts
from tests.factories import RealAudio, add_english_episode

BASE = "https://podcast.example.org/show/"
APPLE = "https://podcasts.apple.com/podcast/id123"


def _meta(html: str) -> dict[str, str]:
    found = re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', html)
    return dict(found)


@pytest.fixture
def shared(project: ProjectLayout, real_audio: dict[str, RealAudio]) -> ProjectLayout:
    add_english_episode(project, real_audio["en"], published_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    settings = Settings(show={"title": "Show", "base_url": BASE, "subscribe": {"apple_podcasts": APPLE}})
    publish_site(project, settings)
    return project


def test_link_previews_canonical_and_json_ld(shared: ProjectLayout) -> None:
    page = (shared.site_dir / "preamble" / "index.html").read_text()
    assert f'<link rel="canonical" href="{BASE}preamble/">' in page
    assert '<link rel="icon" href="../favicon.svg" type="image/svg+xml">' in page
    assert (shared.site_dir / "favicon.svg").read_text().startswith("<svg")
    meta = _meta(page)
    assert meta["og:title"] == "The Preamble" and meta["og:url"] == f"{BASE}preamble/"
    assert meta["og:audio"] == f"{BASE}preamble/preamble.mp3" and meta["og:site_name"] == "Show"
    assert meta["twitter:card"] == "player" and meta["twitter:player"] == f"{BASE}preamble/embed.html"
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert ld["@type"] == "PodcastEpisode" and ld["name"] == "The Preamble"
    assert ld["url"] == f"{BASE}preamble/" and ld["datePublished"] == "2026-03-01"
    assert ld["associatedMedia"]["contentUrl"] == f"{BASE}preamble/preamble.mp3"
    assert ld["partOfSeries"] == {"@type": "PodcastSeries", "name": "Show", "url": BASE, "webFeed": f"{BASE}feed.xml"}
    assert ld["duration"].startswith("PT2M")


def test_subscribe_buttons_only_where_configured(shared: ProjectLayout) -> None:
    for page in (shared.site_dir / "index.html", shared.site_dir / "preamble" / "index.html"):
        html = page.read_text()
        section = html.split('<section class="subscribe"', 1)[1].split("</section>", 1)[0]
        assert re.findall(r'<a class="button" href="([^"]+)"', section) == [APPLE]
        assert f'data-url="{BASE}feed.xml"' in section  # copying the feed address is always offered
        assert "Spotify" not in section and "Overcast" not in section


def test_embed_page_has_player_chapters_and_transcript(shared: ProjectLayout) -> None:
    embed = (shared.site_dir / "preamble" / "embed.html").read_text()
    assert '<audio controls preload="metadata" src="preamble.mp3"' in embed
    assert 'class="chapters"' in embed and 'class="transcript"' in embed
    assert '<base target="_blank">' in embed and f'<link rel="canonical" href="{BASE}preamble/">' in embed
    assert "site-header" not in embed


def test_without_base_url_no_absolute_preview_is_invented(
    project: ProjectLayout, real_audio: dict[str, RealAudio]
) -> None:
    add_english_episode(project, real_audio["en"])
    publish_site(project, Settings())
    page = (project.site_dir / "preamble" / "index.html").read_text()
    meta = _meta(page)
    assert "og:url" not in meta and "og:audio" not in meta and meta["twitter:card"] == "summary"
    assert 'rel="canonical"' not in page


def test_one_play_button_where_a_heading_and_its_paragraph_start_together() -> None:
    blocks = [
        PageBlock("<h2>A</h2>", "a", "heading", 10.0, 30.0),
        PageBlock("<p>a</p>", "p-1", "paragraph", 10.4, 20.0),
        PageBlock("<p>b</p>", "p-2", "paragraph", 20.0, 30.0),
        PageBlock("<h2>B</h2>", "b", "heading", 30.0, 40.0),
        PageBlock("<p>c</p>", "p-3", "paragraph", 33.0, 40.0),
    ]
    assert [b.same_start for b in mark_same_starts(blocks)] == [False, True, False, False, False]
