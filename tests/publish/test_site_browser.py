"""The episode page in a real browser (headless Chromium), served with byte ranges and from file://.

The episode is real: its recording, the Whisper base model's transcript of it, and its article
paired with that transcript by the pairing stage.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pipeline.config import Settings
from pipeline.layout import ProjectLayout
from pipeline.models import Pairing, Transcript
from pipeline.publish.build import publish_site
from pipeline.publish.pages import SAME_START_S
from tests.factories import RealAudio, StaticServer, add_french_episode, add_whisper_episode

pytestmark = pytest.mark.integration


SCREENSHOT = Path("/tmp/site-screenshot.png")


@pytest.fixture
def site(project: ProjectLayout, real_audio: dict[str, RealAudio], whisper_en: Transcript) -> ProjectLayout:
    add_whisper_episode(
        project, real_audio["en"], whisper_en, published_at=datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    )
    add_french_episode(project, real_audio["fr"])
    publish_site(project, Settings(show={"base_url": "https://example.org/pod/", "title": "Diptych demo"}))
    return project


@pytest.fixture
def served(site: ProjectLayout) -> Iterator[str]:
    with StaticServer(site.site_dir) as server:
        yield server.url


@pytest.fixture
def page(browser, served: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.requests = requests
    yield tab
    context.close()


def paired_blocks(site: ProjectLayout) -> list:  # type: ignore[type-arg]
    """The paired paragraphs with a ▶ of their own (one that starts with its heading has none: the
    heading's plays it)."""
    pairing = Pairing.model_validate_json(site.episode("preamble").pairing_json.read_bytes())
    blocks = pairing.blocks
    own = []
    for i, b in enumerate(blocks):
        before = blocks[i - 1] if i else None
        together = (
            before is not None and before.kind == "heading" and before.start_s is not None
            and b.start_s is not None and abs(b.start_s - before.start_s) < SAME_START_S
        )
        if b.status == "paired" and b.kind == "paragraph" and not together:
            own.append(b)
    return own


def audio_time(tab) -> float:  # type: ignore[no-untyped-def]
    return float(tab.evaluate("document.querySelector('.player audio').currentTime"))


def wait_playing_from(tab, start: float) -> float:  # type: ignore[no-untyped-def]
    """Wait until the audio has played a little past `start`; return where it is."""
    tab.wait_for_function(
        "s => { const a = document.querySelector('.player audio');"
        " return !a.seeking && a.readyState >= 2 && a.currentTime > s + 0.3; }",
        arg=start,
        timeout=15000,
    )
    return audio_time(tab)


def test_server_answers_byte_ranges(served: str) -> None:
    response = httpx.get(served + "preamble/preamble.mp3", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206 and len(response.content) == 1000


def test_play_link_plays_its_passage(page, served: str, site: ProjectLayout) -> None:  # type: ignore[no-untyped-def]
    page.goto(served + "preamble/index.html")
    block = paired_blocks(site)[3]
    link = page.locator(f"#{block.anchor}").locator("xpath=..").locator("a.play")
    assert link.inner_text().startswith("▶")
    link.click()
    at = wait_playing_from(page, block.start_s)
    assert block.start_s <= at < block.start_s + 5, f"clicked {block.start_s}, audio at {at}"
    # The passage, its transcript line and its chapter are marked as current.
    page.wait_for_selector(".blk.current", timeout=5000)
    current = page.locator(".transcript li.current")
    assert current.count() == 1
    start, end = float(current.get_attribute("data-start")), float(current.get_attribute("data-end"))
    assert start <= audio_time(page) < end + 0.5
    assert all(u.startswith(served) for u in page.requests), "a request left the site"


def test_keyboard_can_play_a_passage(page, served: str, site: ProjectLayout) -> None:  # type: ignore[no-untyped-def]
    page.goto(served + "preamble/index.html")
    page.keyboard.press("Tab")
    skip = page.locator(".skip")
    assert skip.evaluate("e => e === document.activeElement")
    assert skip.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"  # visible focus
    block = paired_blocks(site)[-1]
    link = page.locator(f"#{block.anchor}").locator("xpath=..").locator("a.play")
    link.focus()
    page.keyboard.press("Enter")
    at = wait_playing_from(page, block.start_s)
    assert block.start_s <= at < block.start_s + 5


def test_passage_stops_at_its_end(page, served: str, site: ProjectLayout) -> None:  # type: ignore[no-untyped-def]
    page.goto(served + "preamble/index.html")
    block = min(paired_blocks(site), key=lambda b: b.end_s - b.start_s)
    assert block.end_s - block.start_s < 6
    page.locator(f"#{block.anchor}").locator("xpath=..").locator("a.play").click()
    page.wait_for_function("() => document.querySelector('.player audio').paused", timeout=15000)
    assert block.end_s - 0.1 <= audio_time(page) < block.end_s + 1.0


def test_chapters_and_transcript_times_seek(page, served: str, site: ProjectLayout) -> None:  # type: ignore[no-untyped-def]
    page.goto(served + "preamble/index.html")
    chapter = page.locator(".chapters a.seek").nth(2)
    start = float(chapter.get_attribute("data-start"))
    chapter.click()
    assert start <= wait_playing_from(page, start) < start + 5
    page.locator(".transcript summary").click()
    line = page.locator(".transcript a.seek").nth(10)
    start = float(line.get_attribute("data-start"))
    line.click()
    assert start <= wait_playing_from(page, start) < start + 5
    assert page.locator(".transcript li.current a.seek").get_attribute("data-start") == line.get_attribute(
        "data-start"
    )


def test_page_from_file_url_renders_and_plays(browser, site: ProjectLayout) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    url = (site.site_dir / "preamble" / "index.html").as_uri()
    tab.goto(url)
    assert tab.locator("h1").inner_text() == "The Preamble"
    assert (
        tab.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(251, 250, 247)"
    )  # CSS loaded
    src = tab.evaluate("document.querySelector('.player audio').currentSrc")
    assert src == (site.site_dir / "preamble" / "preamble.mp3").as_uri()
    tab.wait_for_function("() => document.querySelector('.player audio').duration > 0", timeout=10000)
    assert abs(tab.evaluate("document.querySelector('.player audio').duration") - 149) < 2
    block = paired_blocks(site)[2]
    tab.locator(f"#{block.anchor}").locator("xpath=..").locator("a.play").click()
    assert block.start_s <= wait_playing_from(tab, block.start_s) < block.start_s + 5
    context.close()


def test_phone_layout_stacks_without_sideways_scroll(browser, served: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tab = context.new_page()
    tab.goto(served + "preamble/index.html")
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    panel_box = tab.locator(".listen-panel").bounding_box()
    article_box = tab.locator("article.article").bounding_box()
    assert article_box["y"] + article_box["height"] <= panel_box["y"]  # stacked: article, then panel
    assert abs(panel_box["width"] - article_box["width"]) < 40
    # While the article is read, the player stays on screen, at the bottom.
    tab.locator("article.article p").last.scroll_into_view_if_needed()
    audio_box = tab.locator(".player audio").bounding_box()
    assert 844 - 100 < audio_box["y"] and audio_box["y"] + audio_box["height"] <= 844
    tab.screenshot(path=str(tmp_path / "phone.png"), full_page=False)
    shutil.copyfile(tmp_path / "phone.png", SCREENSHOT.with_name("site-screenshot-phone.png"))
    context.close()


def test_wide_layout_is_side_by_side_and_screenshot(page, served: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(served + "preamble/index.html")
    panel = page.locator(".listen-panel").bounding_box()
    article = page.locator("article.article").bounding_box()
    assert panel["x"] > article["x"] + article["width"] - 1
    page.locator(".transcript summary").click()
    page.locator(".blk.paired a.play").nth(1).click()
    wait_playing_from(page, 0.0)
    page.evaluate("document.querySelector('.player audio').pause()")
    page.screenshot(path=str(tmp_path / "episode.png"), full_page=True)
    shutil.copyfile(tmp_path / "episode.png", SCREENSHOT)


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


def test_text_contrast_is_at_least_4_5(page, served: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(served + "preamble/index.html")
    pairs = page.evaluate(
        """() => {
        const bg = el => { for (let e = el; e; e = e.parentElement) {
            const c = getComputedStyle(e).backgroundColor;
            if (c !== 'rgba(0, 0, 0, 0)') return c; } return 'rgb(255, 255, 255)'; };
        const sel = ['p', 'a.play', '.chapters .time', '.meta', '.only-audio-label', '.site-footer p',
                     '.downloads a', 'summary', 'h1', '.show-title'];
        return sel.flatMap(s => [...document.querySelectorAll(s)].slice(0, 3)
            .map(e => [s, getComputedStyle(e).color, bg(e)]));
    }"""
    )
    assert len(pairs) > 10
    for selector, fg, bg in pairs:
        lighter, darker = sorted((_luminance(_rgb(fg)), _luminance(_rgb(bg))), reverse=True)
        ratio = (lighter + 0.05) / (darker + 0.05)
        assert ratio >= 4.5, f"{selector}: {fg} on {bg} is {ratio:.2f}:1"


def test_home_page_links_to_episodes_and_feed(page, served: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(served)
    titles = page.locator(".episode-list h3 a").all_inner_texts()
    assert titles == ["Présentation d’Éric", "The Preamble"]
    page.locator(".episode-list h3 a", has_text="The Preamble").click()
    page.wait_for_url("**/preamble/index.html")
    assert page.locator("h1").inner_text() == "The Preamble"
    assert httpx.get(served + "feed.xml").headers["content-type"].startswith(("application/xml", "text/xml"))
