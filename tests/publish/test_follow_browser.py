"""Follow-along mode of the episode page (follow.js) in headless Chromium: the real preamble recording,
Whisper base's transcript of it, and the article paired with it, whose sentences are read aloud."""

from __future__ import annotations

import pytest

from pipeline.layout import ProjectLayout
from pipeline.models import Pairing
from tests.publish.test_site_browser import page, served, site, wait_playing_from  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


def read_blocks(project_site: ProjectLayout) -> list:  # type: ignore[type-arg]
    """The paragraphs read aloud that have timed sentences (the preamble's are one sentence each)."""
    pairing = Pairing.model_validate_json(project_site.episode("preamble").pairing_json.read_bytes())
    return [b for b in pairing.blocks if b.delivery == "read" and any(s.read and s.start_s for s in b.sentences)]


def test_follow_along_highlights_the_sentence_read_and_a_click_plays_from_it(
    page, served: str, site: ProjectLayout  # noqa: F811 - the fixtures imported above
) -> None:  # type: ignore[no-untyped-def]
    page.goto(served + "preamble/index.html")
    blocks = read_blocks(site)
    assert len(blocks) >= 5
    # Every read sentence was found in its block's own text and marked with its times.
    for block in blocks:
        box = page.locator(f"#{block.anchor}").locator("xpath=..")
        starts = box.locator(".snt").evaluate_all("els => [...new Set(els.map(e => Number(e.dataset.start)))]")
        assert starts == [s.start_s for s in block.sentences if s.read and s.start_s is not None]
    block = blocks[3]
    box = page.locator(f"#{block.anchor}").locator("xpath=..")
    button = page.locator("button.follow")
    assert button.get_attribute("aria-pressed") == "false"
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    second = next(s for s in block.sentences if s.read and s.start_s is not None)
    box.locator(f".snt[data-start='{second.start_s:g}']").first.click()
    at = wait_playing_from(page, second.start_s)
    assert second.start_s <= at < second.start_s + 5, f"clicked {second.start_s}, audio at {at}"
    # While it plays, that sentence (and only it) is highlighted.
    page.wait_for_selector(".snt.reading", timeout=5000)
    reading = page.locator(".snt.reading").evaluate_all("els => [...new Set(els.map(e => Number(e.dataset.start)))]")
    assert reading == [second.start_s]
    assert page.locator(".reading").count() == page.locator(".snt.reading").count()
    # Off again: nothing is highlighted, and a click on a sentence is a plain click.
    button.click()
    assert page.locator(".reading").count() == 0
