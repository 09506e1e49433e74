"""The published pages in the real browser (Debian's Chromium) and through the real validators:
sharing a moment, searching the transcript, dark mode, tap targets, axe-core (no violation) on the
home, episode, transcript and embed pages, and the Nu HTML Checker (no error) on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pipeline.config import Settings
from pipeline.layout import ProjectLayout
from pipeline.publish import publish_site
from tests.factories import RealAudio, StaticServer, add_english_episode, add_french_episode
from tests.validation import axe_violations, vnu_errors

pytestmark = pytest.mark.integration

BASE = "https://podcast.example.org/show/"
SUBSCRIBE = {"apple_podcasts": "https://podcasts.apple.com/podcast/id123", "overcast": "https://overcast.fm/itunes123"}
PAGES = ("index.html", "preamble/index.html", "preamble/transcript.html", "preamble/embed.html",
         "bonjour/index.html", "bonjour/transcript.html", "bonjour/embed.html")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, real_audio: dict[str, RealAudio]) -> ProjectLayout:
    root = tmp_path_factory.mktemp("shared-site") / "project"
    (root / "inbox").mkdir(parents=True)
    project = ProjectLayout(root=root)
    add_english_episode(project, real_audio["en"], published_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    add_french_episode(project, real_audio["fr"])
    publish_site(project, Settings(show={"title": "Show", "base_url": BASE, "subscribe": SUBSCRIBE}))
    return project


@pytest.fixture(scope="module")
def served(site: ProjectLayout) -> Iterator[str]:
    with StaticServer(site.site_dir) as server:
        yield server.url


def _audio_time(tab) -> float:  # type: ignore[no-untyped-def]
    return float(tab.evaluate("document.querySelector('.player audio').currentTime"))


def test_a_moment_in_the_address_starts_there_and_the_button_copies_it(browser, served: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    tab.goto(served + "preamble/index.html#t=1:23")
    tab.wait_for_function("() => document.querySelector('.player audio').readyState >= 1")
    tab.wait_for_function("() => Math.abs(document.querySelector('.player audio').currentTime - 83) < 0.5")
    tab.evaluate("document.querySelector('.player audio').currentTime = 42.4")
    tab.locator(".player button.share-moment").click()
    tab.wait_for_function("() => document.querySelector('.player .status').textContent !== ''")
    assert tab.evaluate("navigator.clipboard.readText()") == f"{BASE}preamble/#t=0:42"
    # Another moment typed into the address of the open page: the player goes there.
    tab.evaluate("location.hash = 't=2:01'")
    tab.wait_for_function("() => Math.abs(document.querySelector('.player audio').currentTime - 121) < 0.5")
    tab.locator(".subscribe button.copy-feed").click()
    tab.wait_for_function("() => document.querySelector('.subscribe .status').textContent !== ''")
    assert tab.evaluate("navigator.clipboard.readText()") == f"{BASE}feed.xml"
    context.close()


def test_the_transcript_can_be_searched(browser, served: str) -> None:  # type: ignore[no-untyped-def]
    tab = browser.new_page()
    tab.goto(served + "bonjour/index.html")
    tab.locator(".transcript summary").click()
    total = tab.locator(".transcript li").count()
    tab.locator("#transcript-search").fill("equipe")  # accents are ignored: "l'équipe"
    shown = tab.locator(".transcript li:visible")
    assert 1 <= shown.count() < total
    assert all("équipe" in text for text in shown.all_inner_texts())
    assert re.match(r"\d+ passages sur \d+", tab.locator("#search-count").inner_text())
    tab.locator("#transcript-search").fill("")
    assert tab.locator(".transcript li:visible").count() == total
    tab.close()


def test_dark_mode_follows_the_system_setting(browser, served: str) -> None:  # type: ignore[no-untyped-def]
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        tab = context.new_page()
        tab.goto(served + "preamble/index.html")
        colours[scheme] = tab.evaluate("getComputedStyle(document.body).backgroundColor")
        context.close()
    assert colours == {"light": "rgb(251, 250, 247)", "dark": "rgb(22, 21, 20)"}


def test_on_a_phone_the_article_comes_first_with_the_player_docked(browser, served: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tab = context.new_page()
    tab.goto(served + "preamble/index.html")
    first_paragraph = tab.locator("article.article p").first.bounding_box()
    assert first_paragraph["y"] < 844 / 2  # the article is on the first screen
    audio = tab.locator(".player audio").bounding_box()
    assert 844 - 140 < audio["y"] and audio["y"] + audio["height"] <= 844  # docked at the bottom
    panel = tab.locator(".listen-panel").bounding_box()
    article = tab.locator("article.article").bounding_box()
    assert article["y"] + article["height"] <= panel["y"]  # chapters and downloads come after
    # Every link and button is a tap target of at least 24 × 24 px (WCAG 2.2, 2.5.8).
    small = tab.evaluate(
        """() => [...document.querySelectorAll('main a, main button, main summary, main input')]
            .filter(e => e.offsetParent !== null && !e.closest('.article p, .article li'))
            .map(e => [e.className || e.tagName, e.getBoundingClientRect()])
            .filter(([, r]) => r.width < 24 || r.height < 24).map(([n, r]) => `${n} ${r.width}x${r.height}`)"""
    )
    assert small == []
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_the_published_pages(browser, served: str, scheme: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(color_scheme=scheme)
    tab = context.new_page()
    found = {}
    for name in PAGES:
        tab.goto(served + name)
        if tab.locator(".transcript summary").count():
            tab.locator(".transcript summary").click()  # the transcript's rows are checked too
        found[name] = axe_violations(tab)
    context.close()
    assert found == {name: [] for name in PAGES}


def test_the_nu_html_checker_finds_no_error_on_any_page(site: ProjectLayout) -> None:
    pages = sorted(site.site_dir.rglob("*.html"))
    assert len(pages) == len(PAGES)
    errors = vnu_errors(pages)
    assert errors == {str(p.resolve()): [] for p in pages}
