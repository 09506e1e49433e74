"""Requests a careful tester sends to the review page and the preview, and what publishing makes of
hostile or pasted articles and oversized covers: paths that leave their folder, stale and concurrent
saves, `<script>` everywhere, WordPress shortcodes, a 10000 px cover."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pipeline.config import Settings
from pipeline.models import EpisodeState, Transcript
from pipeline.publish import publish_site
from pipeline.publish.preview import site_app
from pipeline.review import create_app
from pipeline.store import read_model
from tests.factories import encode_mp3, make_episode, make_transcript, pairing_for
from tests.reliability.corpus import Show, one_line

TOKEN = "t0ken-for-the-corpus-0123456789"
BASE = "http://127.0.0.1:8765"
EVIL = "<script>alert('owned')</script>"
CLIP = "fleurs-en-000.ogg"


@pytest.fixture(scope="module")
def mp3(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode_mp3(speech / CLIP, tmp_path_factory.mktemp("corpus-mp3") / "clip.mp3")


def _episode(show: Show, mp3: Path, slug: str, *, article: str, title: str = "An episode",
             state: EpisodeState = EpisodeState.approved, words: str = "some words spoken here",
             reviewed: bool = True) -> None:
    paragraphs = [p for p in article.split("\n\n") if p.strip() and not p.startswith("#")]
    transcript = make_transcript([words, "and a few more words"], duration_s=9.0)
    make_episode(show.project, slug, title=title, mp3=mp3, transcript=transcript,
                 pairing=pairing_for(paragraphs, transcript), article=article, state=state, reviewed=reviewed)


def _settings(show: Show, **show_values: str) -> Settings:
    return Settings(show={"title": "Reliability", "base_url": "https://example.org/podcast/", **show_values})


def _published_text(show: Show) -> dict[str, str]:
    site = show.project.site_dir
    return {str(p.relative_to(site)): p.read_text(encoding="utf-8") for p in site.rglob("*")
            if p.suffix in (".html", ".xml", ".json", ".vtt", ".srt", ".txt")}


def test_script_everywhere_is_published_as_text(show: Show, mp3: Path) -> None:
    article = (f"---\ndescription: \"{EVIL}\"\n---\n# {EVIL}\n\nA paragraph with {EVIL} inside.\n\n"
               "<script>x()</script>\n")
    _episode(show, mp3, "evil", article=article, title=f"Title {EVIL}", words=f"spoken {EVIL} words")
    show.mark()
    publish_site(show.project, _settings(show, description=EVIL, title=f"Show {EVIL}"))
    texts = _published_text(show)
    assert {"index.html", "feed.xml", "evil/index.html"} <= set(texts)
    for name, text in texts.items():
        if name.endswith((".html", ".xml")):  # markup; .txt, .vtt, .srt and .json carry it as plain text
            assert "<script>alert" not in text and "<script>x()" not in text, name
    assert "&lt;script&gt;alert" in texts["evil/index.html"]
    feed = feedparser.parse(texts["feed.xml"])
    assert not feed.bozo and feed.entries[0].title == f"Title {EVIL}"  # text in the feed, escaped as XML
    show.check()


def test_wordpress_shortcodes_leave_their_text_in_the_page_and_the_feed(show: Show, mp3: Path) -> None:
    article = ("# Pasted\n\n[vc_row][vc_column]The inner words stay.[/vc_column][/vc_row]\n\n"
               "[vc_row css=\".x\"][vc_column width=\"1/2\"][vc_column_text]Column text.[/vc_column_text]"
               "[/vc_column][/vc_row]\n\n[vc_empty_space height=\"32px\"]\n\nAn [unclosed [double] bracket.\n\n"
               "A cut-off [vc_column_text css=\".a\"\n\n[et_pb_section fb_built=\"1\"]Divi text.\n")
    _episode(show, mp3, "pasted", article=article)
    show.mark()
    publish_site(show.project, _settings(show))
    texts = _published_text(show)
    page, feed = texts["pasted/index.html"], texts["feed.xml"]
    for text in (page, feed):
        assert "[vc_" not in text and "[/vc_" not in text and "[et_pb" not in text and "css=" not in text
    for words in ("The inner words stay.", "Column text.", "Divi text.", "An [unclosed [double] bracket."):
        assert words in page
    show.check()


def _jpeg(size: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 120, 40)).save(out, format="JPEG", quality=80)
    return out.getvalue()


def test_a_10000_px_cover_is_published_at_3000_px_with_a_warning(show: Show, mp3: Path) -> None:
    _episode(show, mp3, "big-cover", article="# Big cover\n\nText.\n")
    layout = show.project.episode("big-cover")
    layout.source_file("cover.jpg").write_bytes(_jpeg(10000))
    from pipeline.episodes import update_record

    update_record(layout, source_cover="cover.jpg")
    show.mark()
    result = publish_site(show.project, _settings(show))
    published = show.project.site_dir / "big-cover" / "cover.jpg"
    with Image.open(published) as image:
        assert image.size == (3000, 3000) and image.format == "JPEG"
    assert any("cover.jpg is 10000×10000 px: published resized to 3000×3000 px" in w for w in result.warnings)
    show.check()


def _review_client(show: Show, mp3: Path) -> TestClient:
    _episode(show, mp3, "to-review", article="# To review\n\nText.\n", state=EpisodeState.awaiting_review,
             reviewed=False)
    app = create_app(show.project, Settings(), token=TOKEN)
    client = TestClient(app, base_url=BASE)
    assert client.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    return client


def _post(client: TestClient, path: str, body: object) -> object:
    return client.post(path, json=body, headers={"X-Diptych-Token": TOKEN, "Origin": BASE})


@pytest.mark.parametrize("path", [
    "/episodes/..%2f..%2f..%2fsecret.txt",
    "/episodes/to-review/..%2f..%2fstate.json",
    "/episodes/%2e%2e/audio.mp3",
    "/episodes/to-review%00/audio.mp3",
    "/static/..%2f..%2fconfig.py",
])
def test_review_paths_cannot_leave_the_workspace(show: Show, mp3: Path, path: str) -> None:
    with _review_client(show, mp3) as client:
        show.mark()
        response = client.get(path)
        assert response.status_code == 404 and "the secret beside" not in response.text
    show.check()


@pytest.mark.parametrize("path", ["/..%2fsecret.txt", "/%2e%2e/%2e%2e/secret.txt", "/..%2f..%2fdiptych.toml"])
def test_preview_paths_cannot_leave_the_site(show: Show, mp3: Path, path: str) -> None:
    _episode(show, mp3, "site", article="# Site\n\nText.\n")
    publish_site(show.project, _settings(show))
    show.mark()
    with TestClient(site_app(show.project.site_dir)) as client:
        response = client.get(path)
        assert response.status_code == 404 and "the secret beside" not in response.text
        assert client.get("/site/").status_code == 200
    show.check()


def test_a_stale_save_is_refused_and_concurrent_saves_keep_one(show: Show, mp3: Path) -> None:
    with _review_client(show, mp3) as client:
        show.mark()
        path = "/api/episodes/to-review/edit"
        first = _post(client, path, {"base_version": 0, "op": "edit", "segment_id": 0, "text": "first edit"})
        assert first.status_code == 200  # type: ignore[attr-defined]
        stale = _post(client, path, {"base_version": 0, "op": "edit", "segment_id": 0, "text": "stale edit"})
        assert stale.status_code == 409 and "another tab/window" in stale.json()["error"]  # type: ignore[attr-defined]
        codes: list[int] = []

        def save(text: str) -> None:
            codes.append(_post(client, path, {"base_version": 1, "op": "edit", "segment_id": 1,
                                              "text": text}).status_code)  # type: ignore[attr-defined]

        threads = [threading.Thread(target=save, args=(f"concurrent {i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(codes) == [200, 409, 409, 409]
        saved = read_model(show.project.episode("to-review").reviewed_json, Transcript)
        assert saved.segments[0].text.strip() == "first edit" and saved.segments[1].text.startswith("concurrent")
    show.check()


def test_script_everywhere_is_shown_as_text_on_the_review_page(show: Show, mp3: Path) -> None:
    _episode(show, mp3, "evil-review", article=f"# {EVIL}\n\nA paragraph with `{EVIL}` inside.\n",
             title=f"Title {EVIL}", words=f"spoken {EVIL} words", state=EpisodeState.awaiting_review,
             reviewed=False)
    show.mark()
    with TestClient(create_app(show.project, Settings(), token=TOKEN), base_url=BASE) as client:
        client.get(f"/?token={TOKEN}")
        for html in (client.get("/").text, client.get("/episodes/evil-review").text):
            assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    show.check()


def test_a_cover_named_by_the_front_matter_that_is_not_a_picture_is_refused(show: Show, mp3: Path) -> None:
    from pipeline.errors import PublishError

    _episode(show, mp3, "text-cover", article="---\ncover: notes.jpg\n---\n# Text cover\n\nText.\n")
    show.project.episode("text-cover").source_file("notes.jpg").write_text("not a picture", encoding="utf-8")
    show.mark()
    with pytest.raises(PublishError) as caught:
        publish_site(show.project, _settings(show))
    line = one_line(str(caught.value))
    assert line.startswith("cover notes.jpg is not an image that can be read (cannot identify image file")
    assert not (show.project.site_dir / "text-cover").exists()
    show.check()
