"""The review page's article column shows the article's pictures (read-only from the workspace)
and the numbers of its numbered lists."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pipeline.article.reader import read_article
from pipeline.config import Settings
from pipeline.episodes import create_record, set_state
from pipeline.models import EpisodeState, PairedBlock
from pipeline.review.app import create_app
from pipeline.store import sha256_file, write_model
from tests.factories import make_pairing, whisper_like_transcript

TOKEN = "t0ken-for-the-tests-0123456789"
BASE = "http://127.0.0.1:8765"
PNG = b"\x89PNG\r\n\x1a\n-the-workshop"
ARTICLE = """# Workshop

The workshop met in March.

![The workshop](img/atelier.png)

1. Bring a laptop
2. Bring a recording

![Not dropped](gone.jpg)
"""


def build(project) -> None:  # type: ignore[no-untyped-def]
    layout = project.episode("atelier")
    create_record(layout, title="Workshop", source_article="recap.md")
    (layout.source_dir / "img").mkdir(parents=True)
    (layout.source_dir / "img" / "atelier.png").write_bytes(PNG)
    (layout.source_dir / "secret.png").write_bytes(b"not shown by the article")
    layout.source_file("recap.md").write_text(ARTICLE, encoding="utf-8")
    t = whisper_like_transcript("The workshop met in March. Bring a laptop. Bring a recording.")
    write_model(layout.draft_json, t)
    article = read_article(layout.source_file("recap.md"))
    blocks = [
        PairedBlock(
            index=b.index, kind=b.kind, text=b.text, anchor=b.anchor, status="text_only", list_place=b.list_place
        )
        for b in article.blocks
    ]
    pairing = make_pairing(blocks, told=0.0, covered=0.0, transcript_sha256=sha256_file(layout.draft_json))
    write_model(layout.pairing_json, pairing)
    set_state(layout, EpisodeState.awaiting_review, stage="pair", duration_s=t.duration_s, language="en")


def test_review_shows_pictures_from_the_workspace_and_list_numbers(project) -> None:  # type: ignore[no-untyped-def]
    build(project)
    with TestClient(create_app(project, Settings(), token=TOKEN), base_url=BASE) as c:
        assert c.get("/episodes/atelier/source/img/atelier.png").status_code == 403  # the token first
        c.get(f"/?token={TOKEN}", follow_redirects=False)
        page = c.get("/episodes/atelier").text
        assert '<img class="pic" src="/episodes/atelier/source/img/atelier.png" alt="The workshop"' in page
        assert '<p class="warn">picture not in the drop: gone.jpg</p>' in page and 'src="gone.jpg"' not in page
        assert '<span class="marker">1.</span> Bring a laptop' in page
        assert '<span class="marker">2.</span> Bring a recording' in page
        picture = c.get("/episodes/atelier/source/img/atelier.png")
        assert picture.status_code == 200 and picture.content == PNG
        assert picture.headers["content-type"] == "image/png"
        # Only what the article shows: not another file of source/, not the article, nothing outside.
        for path in ("secret.png", "recap.md", "gone.jpg", "../state.json", "%2E%2E/state.json"):
            assert c.get(f"/episodes/atelier/source/{path}").status_code == 404, path
        assert (project.episode("atelier").source_dir / "img" / "atelier.png").read_bytes() == PNG

