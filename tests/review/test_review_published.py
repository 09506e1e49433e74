"""Review of a published episode and what the review pages say about an episode: edits saved after
publishing are counted as "not live" (review page, `diptych status`) until it is published again
(the Republish button, or `diptych publish SLUG`); the pages carry the episode's language and date
and the speakers a reviewer can choose; axe-core finds no violation on them in the real browser."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.config import Settings
from pipeline.episodes import load_record, set_state
from pipeline.layout import ProjectLayout
from pipeline.models import Edit, EpisodeState, Transcript
from pipeline.publish import publish_site
from pipeline.review.app import create_app
from pipeline.status import episode_row
from pipeline.store import read_model, write_model
from tests.factories import RealAudio, add_french_episode, encode_mp3
from tests.review.test_review_browser import start_server
from tests.validation import axe_violations

TOKEN = "t0ken-for-the-tests-0123456789"
BASE = "http://127.0.0.1:8765"
SETTINGS = Settings(show={"author": "Zoë", "language": "en"})
FRONT = "language: fr\ndate: 2026-02-03\nspeakers:\n  - name: Ana Lima\n    role: guest"


def _publish(project: ProjectLayout, slug: str) -> None:
    """What approving does in diptych: build the site, then mark the episode published."""
    result = publish_site(project, SETTINGS, slugs=[slug])
    for name in result.newly_published:
        set_state(project.episode(name), EpisodeState.published, stage="publish")


@pytest.fixture(scope="module")
def french(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> RealAudio:
    """The French recording (ej-fra, 0:34) as MP3."""
    mp3 = encode_mp3(speech / "ej-fra.m4a", tmp_path_factory.mktemp("mp3") / "fr.mp3")
    return RealAudio(mp3, (speech / "ej-fra.txt").read_text(encoding="utf-8"))


@pytest.fixture
def published(project: ProjectLayout, french: RealAudio) -> ProjectLayout:
    article = "---\n" + FRONT + "\n---\n\n# Présentation\n\nBonjour. Je m'appelle Éric Joanis.\n"
    layout = add_french_episode(project, french, article=article, published_at=datetime(2026, 2, 3, tzinfo=UTC))
    shutil.copyfile(layout.reviewed_json, layout.draft_json)  # the machine's draft, then the review
    _publish(project, "bonjour")
    assert load_record(project.episode("bonjour")).state is EpisodeState.published
    return project


@pytest.fixture
def client(published: ProjectLayout) -> Iterator[TestClient]:
    done = threading.Event()

    def on_approve(slug: str) -> None:
        _publish(published, slug)
        done.set()

    app = create_app(published, SETTINGS, token=TOKEN, on_approve=on_approve)
    with TestClient(app, base_url=BASE) as c:
        c.published = done  # type: ignore[attr-defined]
        assert c.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
        yield c


def _edit(c: TestClient, project: ProjectLayout, text: str) -> dict[str, object]:
    t = read_model(project.episode("bonjour").reviewed_json, Transcript)
    body = {"op": "edit", "base_version": t.version, "segment_id": t.segments[0].id, "text": text}
    response = c.post("/api/episodes/bonjour/edit", json=body, headers={"X-Diptych-Token": TOKEN, "Origin": BASE})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_edits_after_publishing_are_not_live_until_republished(client: TestClient, published: ProjectLayout) -> None:
    page = client.get("/episodes/bonjour").text
    assert 'id="not-live" class="banner note" hidden' in page
    assert _edit(client, published, "Bonjour à toutes et à tous.")["not_live"] == 1
    assert _edit(client, published, "Bonjour à tous.")["not_live"] == 2
    page = client.get("/episodes/bonjour").text
    assert "published — <b id=\"not-live-count\">2</b>" in page and 'id="republish"' in page
    row = episode_row(published, "bonjour")
    assert row.changes_not_live == 2 and row.as_json()["changes_not_live"] == 2
    assert "Bonjour à tous." not in (published.site_dir / "bonjour" / "transcript.txt").read_text()

    response = client.post("/api/episodes/bonjour/republish", headers={"X-Diptych-Token": TOKEN, "Origin": BASE})
    assert response.status_code == 200 and response.json()["started"] is True
    assert client.published.wait(60)  # type: ignore[attr-defined]
    assert "Bonjour à tous." in (published.site_dir / "bonjour" / "transcript.txt").read_text()
    assert episode_row(published, "bonjour").changes_not_live == 0
    assert 'id="not-live" class="banner note" hidden' in client.get("/episodes/bonjour").text


def test_republish_needs_the_token_and_a_published_episode(client: TestClient, published: ProjectLayout) -> None:
    assert client.post("/api/episodes/bonjour/republish", headers={"Origin": BASE}).status_code in (401, 403)
    set_state(published.episode("bonjour"), EpisodeState.approved, stage="test")
    refused = client.post("/api/episodes/bonjour/republish", headers={"X-Diptych-Token": TOKEN, "Origin": BASE})
    assert refused.status_code >= 400 and "not published" in refused.text


def test_pages_carry_language_date_and_speakers(client: TestClient) -> None:
    page = client.get("/episodes/bonjour").text
    assert page.startswith('<!doctype html>\n<html lang="fr">')
    assert '<option value="Zoë"></option><option value="Ana Lima"></option>' in page
    listing = client.get("/").text
    assert "<td>2026-02-03</td>" in listing


@pytest.mark.integration
def test_axe_finds_no_violation_on_the_review_pages(browser, published: ProjectLayout) -> None:  # type: ignore[no-untyped-def]
    # An unsure word (a segment to check, drawn on pink), a flagged segment and an edit not yet live:
    # every kind of row and notice is on the page.
    layout = published.episode("bonjour")
    t = read_model(layout.reviewed_json, Transcript)
    first = t.segments[0]
    unsure = first.model_copy(update={"words": [first.words[0].model_copy(update={"probability": 0.2}),
                                                *first.words[1:]]})
    flagged = t.segments[1].model_copy(update={"flags": ["low_logprob"]})
    edited = [unsure, flagged, *t.segments[2:]]
    write_model(layout.draft_json, t.model_copy(update={"segments": edited}))
    write_model(layout.reviewed_json, t.model_copy(update={"segments": edited, "edits": [*t.edits, _an_edit()]}))
    server, thread, port = start_server(create_app(published, SETTINGS, token=TOKEN))
    try:
        # The review page allows only its own scripts (CSP): axe's is let in by the browser itself.
        context = browser.new_context(bypass_csp=True)
        tab = context.new_page()
        found = {}
        for path in ("/", "/episodes/bonjour"):
            tab.goto(f"http://127.0.0.1:{port}{path}?token={TOKEN}")
            found[path] = axe_violations(tab)
            if path != "/":
                assert tab.locator(".seg.todo").count() and tab.locator(".seg.flagged").count()
                assert tab.locator("#not-live").is_visible()
        context.close()
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(10)
    assert found == {"/": [], "/episodes/bonjour": []}


def _an_edit() -> Edit:
    return Edit(kind="check", segment_ids=[0], before="", after="", at=datetime(2026, 2, 4, tzinfo=UTC))


def test_diptych_publish_applies_the_changes(client: TestClient, published: ProjectLayout) -> None:
    """What `diptych publish SLUG` runs (the publish stage, named): the site gets the edit."""
    from pipeline.stages import run_publish

    _edit(client, published, "Bonsoir à tous.")
    assert episode_row(published, "bonjour").changes_not_live == 1
    outcome = run_publish(published, SETTINGS, "bonjour", named=True)
    assert outcome.ran, outcome
    assert "Bonsoir à tous." in (published.site_dir / "bonjour" / "transcript.vtt").read_text()
    assert episode_row(published, "bonjour").changes_not_live == 0
