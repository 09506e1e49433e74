"""A folder drop with a numbered list, a nested list and two pictures (one not dropped), from the
inbox to the published page in a real browser, the feed read by feedparser, and `diptych status`.

The stages are the real ones (claim, audio, pairing, review gate, publish) on a real recording; only
the speech model is left out: the transcript is made from what the recording is made to say, with
word times spread over it, as the publishing tests do.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from pipeline import episodes, stages
from pipeline.article.reader import read_article
from pipeline.config import PairingSettings, Settings
from pipeline.inbox.claim import claim_drops
from pipeline.layout import ProjectLayout
from pipeline.models import Approver, AudioOnlySpan, EpisodeState, Pairing
from pipeline.publish.build import publish_site
from pipeline.review import approve_episode
from pipeline.store import read_model, sha256_file, write_model
from tests.factories import StaticServer, make_transcript

pytestmark = pytest.mark.integration

SLUG = "2026-03-recap-atelier"
BASE = "https://example.org/pod/"
SETTINGS = Settings(show={"base_url": BASE, "title": "Atelier"}, pairing=PairingSettings(method="lexical"))
STEPS = [
    "Bring the recorder you use every week to the workshop.",
    "Record ten minutes of talk about the month that just ended.",
    "Write the article that goes with the episode you recorded.",
    "Drop the recording and the article together in the inbox.",
    "Read the pairing in the review page before you approve it.",
]
ASIDE = "Here is a story that only the listeners of the episode will ever hear about."
ARTICLE = f"""---
title: Atelier de mars
language: en
---

# Atelier de mars

The March workshop taught five steps to publish an episode with its article.

1. {STEPS[0]}
2. {STEPS[1]}
    - a quiet room without echo
    - a glass of water close by
3. {STEPS[2]}
4. {STEPS[3]}
5. {STEPS[4]}

![The workshop room](img/atelier.png "The room in March")

![The whole group](groupe.jpg)
"""


def png(width: int, height: int) -> bytes:
    """A real PNG picture (a plain orange rectangle)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xe0\x80\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def diptych(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows", "--root", str(root), *args],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def drop_folder(project: ProjectLayout, speech: Path) -> Path:
    folder = project.inbox / SLUG
    (folder / "img").mkdir(parents=True)
    (folder / "recording.ogg").write_bytes((speech / "fleurs-en-001.ogg").read_bytes())
    (folder / "recap.md").write_text(ARTICLE, encoding="utf-8")
    (folder / "img" / "atelier.png").write_bytes(png(120, 80))
    past = time.time() - 60
    for path in [*folder.iterdir(), folder / "img" / "atelier.png"]:
        os.utime(path, (past, past))
    return folder


def spoken_transcript(duration_s: float):  # type: ignore[no-untyped-def]
    """What the recording is made to say: the intro, two steps, an aside, the other steps."""
    intro = "The March workshop taught five steps to publish an episode with its article."
    return make_transcript([intro, STEPS[0], STEPS[1], ASIDE, *STEPS[2:]], duration_s=duration_s)


@pytest.fixture
def published(project: ProjectLayout, speech: Path) -> ProjectLayout:
    (project.root / "diptych.toml").write_text(f'[show]\ntitle = "Atelier"\nbase_url = "{BASE}"\n', "utf-8")
    drop_folder(project, speech)
    report = claim_drops(project, settle_s=0.1)
    assert report.claimed == [SLUG] and not report.errors, report
    stages.run_normalize(project, SETTINGS, SLUG)
    layout = project.episode(SLUG)
    transcript = spoken_transcript(episodes.load_record(layout).duration_s or 0.0)
    write_model(layout.draft_json, transcript)
    episodes.set_state(layout, EpisodeState.transcribed, stage="transcribe")
    stages.run_pair(project, SETTINGS, SLUG)
    # The aside heard only in the episode, placed as the publishing tests place one: on a recording
    # this short, the lexical pairing folds it into the step said before it.
    pairing = read_model(layout.pairing_json, Pairing)
    aside = transcript.segments[3]
    span = AudioOnlySpan(start_s=aside.start_s, end_s=aside.end_s, text=aside.text)
    write_model(layout.pairing_json, pairing.model_copy(update={"audio_only": [span]}))
    stages.run_review_gate(project, SETTINGS, SLUG)
    approve_episode(layout, by=Approver.terminal)
    stages.run_publish(project, SETTINGS, SLUG)
    return project


@pytest.fixture
def served(published: ProjectLayout) -> Iterator[str]:
    with StaticServer(published.site_dir) as server:
        yield server.url


def test_pairing_json_knows_each_step_and_its_number(published: ProjectLayout) -> None:
    pairing = read_model(published.episode(SLUG).pairing_json, Pairing)
    steps = [b for b in pairing.blocks if b.list_place and b.list_place.tag == "ol"]
    assert [b.list_place.ordinal for b in steps if b.list_place] == [1, 2, 3, 4, 5]
    assert [b.status for b in steps[:3]] == ["paired"] * 3
    assert [b.list_place.depth for b in pairing.blocks if b.list_place and b.list_place.tag == "ul"] == [1, 1]


def test_browser_shows_numbers_across_the_split_the_picture_and_not_the_missing_one(
    browser, served: str, published: ProjectLayout  # type: ignore[no-untyped-def]
) -> None:
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.goto(f"{served}{SLUG}/")
    # The numbers Chromium draws beside each item, from its accessibility tree (the list markers).
    cdp = tab.context.new_cdp_session(tab)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    markers = [
        str(n.get("name", {}).get("value", "")).strip()
        for n in nodes
        if n.get("role", {}).get("value") == "ListMarker"
    ]
    article_items = tab.eval_on_selector_all(
        "article.article li[id]", "items => items.map(li => [li.id, li.closest('ol, ul').tagName])"
    )
    numbered = [m for m in markers if m[:-1].isdigit()]
    assert numbered[: len(STEPS)] == ["1.", "2.", "3.", "4.", "5."], markers
    assert len(tab.query_selector_all("article.article ol")) == 2  # the aside cut the list in two
    assert tab.eval_on_selector_all("article.article ol", "lists => lists.map(ol => ol.start)") == [1, 3]
    assert [tag for _, tag in article_items].count("UL") == 2  # the nested list, one level in
    aside_box = tab.query_selector("article.article aside.only-audio")
    assert aside_box is not None and "only the listeners" in aside_box.inner_text()
    picture = tab.wait_for_selector('img[alt="The workshop room"]')
    assert picture is not None
    tab.wait_for_function("document.querySelector('img[alt=\"The workshop room\"]').complete")
    assert picture.evaluate("img => img.naturalWidth") == 120
    assert picture.get_attribute("src") == "images/img/atelier.png"
    assert tab.query_selector('img[alt="The whole group"]') is None
    assert tab.query_selector("img[src*='groupe']") is None
    tab.close()


def test_status_names_the_article_and_the_missing_picture(published: ProjectLayout) -> None:
    shown = diptych(published.root, "status")
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if "groupe.jpg" in x)
    assert line.strip().startswith(f"{SLUG}: warning: recap.md: image 'groupe.jpg' is missing")
    rows = json.loads(diptych(published.root, "status", "--json").stdout)
    assert rows[0]["state"] == "published"


def test_feed_has_the_absolute_picture_address_and_the_files_are_the_originals(published: ProjectLayout) -> None:
    feed = feedparser.parse((published.site_dir / "feed.xml").read_bytes())
    (entry,) = feed.entries
    content = entry.content[0].value
    assert f'src="{BASE}{SLUG}/images/img/atelier.png"' in content
    assert "groupe.jpg" not in content
    source = published.episode(SLUG).source_file("img/atelier.png")
    copy = published.site_dir / SLUG / "images" / "img" / "atelier.png"
    assert copy.read_bytes() == source.read_bytes() == png(120, 80)
    # A rebuild gives the same bytes, the picture included.
    before = {p: p.read_bytes() for p in published.site_dir.rglob("*") if p.is_file()}
    article = read_article(published.episode(SLUG).source_file("recap.md"))
    assert article.images == ("img/atelier.png", "groupe.jpg")
    publish_site(published, SETTINGS)
    after = {p: p.read_bytes() for p in published.site_dir.rglob("*") if p.is_file()}
    assert after == before
    assert sha256_file(source) == sha256_file(copy)
