"""The review server over HTTP: pages, edits, conflicts, decisions, and each security guard."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.config import Settings
from pipeline.episodes import create_record, load_record, set_state
from pipeline.models import AudioOnlySpan, EpisodeState, PairedBlock, Pairing, Transcript
from pipeline.review.app import create_app
from pipeline.review.state import todo_count
from pipeline.store import read_model, sha256_file, write_model
from tests.factories import SPEECH, make_pairing, whisper_like_transcript

TOKEN = "t0ken-for-the-tests-0123456789"
BASE = "http://127.0.0.1:8765"
EVIL = "<script>alert('owned')</script>"


def paragraphs(speech: Path) -> list[str]:
    return [p for p in (speech / "udhr-preamble-en.txt").read_text(encoding="utf-8").split("\n\n") if p.strip()]


def build_episode(project, speech: Path, slug: str = "udhr-preamble", *, evil: bool = False) -> Transcript:
    """A workspace with the real recording and a transcript/pairing built from its real text."""
    layout = project.episode(slug)
    paras = paragraphs(speech)
    if evil:
        paras[1] = f"{EVIL} {paras[1]}"
    t = whisper_like_transcript("\n".join(paras))
    create_record(layout, title=f"Preamble {EVIL}" if evil else "Preamble", source_article="article.md")
    layout.source_dir.mkdir(parents=True, exist_ok=True)
    # In Markdown the tag is written as code, so the article's text holds it literally.
    article = "\n\n".join(paras).replace(EVIL, f"`{EVIL}`")
    layout.source_file("article.md").write_text(f"---\nspeaker: Ada\n---\n\n{article}\n", encoding="utf-8")
    write_model(layout.draft_json, t)
    layout.audio_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(speech / "udhr-preamble-en.mp3", layout.master_mp3)
    words = [w for s in t.segments for w in s.words]
    blocks, pos = [], 0
    for i, para in enumerate(paras):
        n = len(para.split())
        span = words[pos : pos + n]
        status = "text_only" if i == 2 else "paired"
        blocks.append(
            PairedBlock(
                index=i,
                kind="paragraph",
                text=para,
                anchor=f"p{i}",
                status=status,
                start_s=span[0].start_s if status == "paired" else None,
                end_s=span[-1].end_s if status == "paired" else None,
                score=0.9 if status == "paired" else None,
            )
        )
        pos += n
    pairing = make_pairing(blocks, told=0.9, covered=0.85, transcript_sha256=sha256_file(layout.draft_json))
    write_model(layout.pairing_json, pairing)
    set_state(layout, EpisodeState.awaiting_review, stage="pair", duration_s=t.duration_s, language="en")
    return t


@pytest.fixture
def approvals() -> list[str]:
    return []


@pytest.fixture
def client(project, speech: Path, approvals: list[str]):
    build_episode(project, speech)
    done = threading.Event()

    def on_approve(slug: str) -> None:
        approvals.append(slug)
        done.set()

    app = create_app(project, Settings(), token=TOKEN, on_approve=on_approve)
    with TestClient(app, base_url=BASE) as c:
        c.approved = done  # type: ignore[attr-defined]
        assert c.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
        yield c


def post(c: TestClient, path: str, json: object, **headers: str):
    return c.post(path, json=json, headers={"X-Diptych-Token": TOKEN, "Origin": BASE, **headers})


def test_pages_need_the_token_once(project, speech: Path) -> None:
    build_episode(project, speech)
    app = create_app(project, Settings(), token=TOKEN)
    with TestClient(app, base_url=BASE) as c:
        assert c.get("/").status_code == 403
        assert c.head("/episodes/udhr-preamble/audio.mp3").status_code == 403
        assert c.get("/?token=wrong").status_code == 403
        r = c.get(f"/episodes/udhr-preamble?token={TOKEN}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/episodes/udhr-preamble"
        assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
        page = c.get("/episodes/udhr-preamble")
        assert page.status_code == 200 and "Whereas recognition" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_episode_page_shows_transcript_article_and_flags(client: TestClient, project) -> None:
    from pipeline.episodes import add_warning

    add_warning(project.episode("udhr-preamble"), "the recording ends abruptly <at 2:27>")
    html = client.get("/episodes/udhr-preamble").text
    assert "the recording ends abruptly &lt;at 2:27&gt;" in html
    assert 'class="lc" title="unsure word (31 %)"' in html
    assert 'class="flag" title="the speech model was unsure of this passage"' in html
    assert "only in the article" in html  # block 2 is text_only
    assert html.count('class="play"') == len(paragraphs(SPEECH)) - 1
    assert 'data-token="' + TOKEN + '"' in html
    assert 'id="speaker" value="Ada"' in html  # the article's front matter names the speaker
    listing = client.get("/").text
    assert "udhr-preamble" in listing and "awaiting review" in listing and "article 90 %" in listing


def test_edit_saves_reviewed_json_and_keeps_times(client: TestClient, project) -> None:
    layout = project.episode("udhr-preamble")
    draft = read_model(layout.draft_json, Transcript)
    seg = draft.segments[1]
    tokens = seg.text.split()
    tokens[2] = "RECOGNITION!"
    tokens[5] = "innate"
    r = post(
        client,
        "/api/episodes/udhr-preamble/edit",
        {"base_version": 0, "op": "edit", "segment_id": 1, "text": " ".join(tokens)},
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["version"] == 1 and [s["id"] for s in data["patch"]["changed"]] == [1]
    reviewed = read_model(layout.reviewed_json, Transcript)
    words = reviewed.segments[1].words
    assert words[5].text == " innate"
    for k, (old, new) in enumerate(zip(seg.words, words, strict=True)):
        if k != 5:
            assert (old.start_s, old.end_s) == (new.start_s, new.end_s)
    assert read_model(layout.draft_json, Transcript) == draft
    stale = post(client, "/api/episodes/udhr-preamble/edit", {"base_version": 0, "op": "check", "segment_id": 3})
    assert stale.status_code == 409 and "another tab/window" in stale.json()["error"]
    undo = post(client, "/api/episodes/udhr-preamble/edit", {"base_version": 1, "op": "undo"})
    assert undo.status_code == 200 and undo.json()["version"] == 2
    assert read_model(layout.reviewed_json, Transcript).segments[1].words == seg.words


def test_find_replace_and_export(client: TestClient, project) -> None:
    found = post(client, "/api/episodes/udhr-preamble/find", {"find": "human RIGHTS", "whole_word": True}).json()
    assert found["count"] >= 3 and found["matches"][0]["match"].lower() == "human rights"
    r = post(
        client,
        "/api/episodes/udhr-preamble/edit",
        {"base_version": 0, "op": "replace", "find": "human rights", "text": "civil rights"},
    )
    assert r.status_code == 200
    text = client.get("/episodes/udhr-preamble/transcript.txt").text
    assert "civil rights" in text and "human rights" not in text.lower()
    assert text.startswith("[00:00] ")


def test_approve_and_request_changes(client: TestClient, project, approvals: list[str]) -> None:
    layout = project.episode("udhr-preamble")
    r = post(client, "/api/episodes/udhr-preamble/request-changes", {"note": "Fix the names <b>please</b>"})
    assert r.status_code == 200 and r.json()["state"] == "changes_requested"
    assert "Fix the names &lt;b&gt;please&lt;/b&gt;" in client.get("/episodes/udhr-preamble").text
    left = todo_count(read_model(layout.draft_json, Transcript), Settings().review.low_confidence)
    assert left > 1
    refused = post(client, "/api/episodes/udhr-preamble/approve", {})
    assert refused.status_code == 409 and refused.json()["left"] == left
    assert refused.json()["error"] == (
        f"udhr-preamble: {left} items left to check (flagged passages or unsure words): "
        "check them first, or approve anyway"
    )
    assert load_record(layout).state == EpisodeState.changes_requested and approvals == []
    r = post(client, "/api/episodes/udhr-preamble/approve", {"anyway": True})
    assert r.status_code == 200 and r.json()["state"] == "approved"
    assert client.approved.wait(5) and approvals == ["udhr-preamble"]  # type: ignore[attr-defined]
    assert load_record(layout).state == EpisodeState.approved
    again = post(client, "/api/episodes/udhr-preamble/approve", {})
    assert again.status_code == 409 and "approved" in again.json()["error"]


def test_approve_needs_no_confirmation_once_everything_is_checked(client: TestClient, project) -> None:
    layout = project.episode("udhr-preamble")
    low = Settings().review.low_confidence
    draft = read_model(layout.draft_json, Transcript)
    todo = [s.id for s in draft.segments if todo_count(draft.model_copy(update={"segments": [s]}), low)]
    for version, seg_id in enumerate(todo):
        body = {"base_version": version, "op": "check", "segment_id": seg_id}
        r = post(client, "/api/episodes/udhr-preamble/edit", body)
        assert r.status_code == 200 and r.json()["todo"] == len(todo) - version - 1
    r = post(client, "/api/episodes/udhr-preamble/approve", {})
    assert r.status_code == 200 and load_record(layout).state == EpisodeState.approved


def test_a_split_across_two_blocks_regroups_the_rows(client: TestClient, project) -> None:
    """The answer to a split says which row each half now sits in; a text edit moves no row."""
    layout = project.episode("udhr-preamble")
    draft = read_model(layout.draft_json, Transcript)
    blocks = read_model(layout.pairing_json, Pairing).blocks
    # A segment that runs from one paired block into the next: split where the next block starts.
    seg, k, before, block = next(
        (s, k, a, b)
        for a, b in zip(blocks, blocks[1:], strict=False)
        if a.status == b.status == "paired"
        for s in draft.segments
        for k, w in enumerate(s.words)
        if k > 0 and w.start_s == b.start_s and s.words[0].start_s >= (a.start_s or 0)
    )
    tokens = seg.text.split()
    offset = len(" ".join(tokens[:k])) + 1
    edit = "/api/episodes/udhr-preamble/edit"
    r = post(client, edit, {"base_version": 0, "op": "split", "segment_id": seg.id, "offset": offset})
    assert r.status_code == 200, r.text
    patch = r.json()["patch"]
    new_id = max(s.id for s in draft.segments) + 1
    assert [s["id"] for s in patch["added"]] == [new_id] and "reload" not in patch
    row_of = {i: row for row in patch["rows"] for i in row["segments"]}
    assert block.index in row_of[new_id]["blocks"] and before.index in row_of[seg.id]["blocks"]
    reviewed = read_model(layout.reviewed_json, Transcript)
    assert [i for row in patch["rows"] for i in row["segments"]] == [s.id for s in reviewed.segments]
    text = post(client, edit, {"base_version": 1, "op": "edit", "segment_id": new_id, "text": "Changed words."})
    assert "rows" not in text.json()["patch"]
    merged = post(client, edit, {"base_version": 2, "op": "merge", "segment_id": seg.id}).json()["patch"]
    assert merged["removed"] == [new_id] and [i for row in merged["rows"] for i in row["segments"]].count(seg.id) == 1


def test_audio_answers_byte_ranges(client: TestClient) -> None:
    r = client.get("/episodes/udhr-preamble/audio.mp3", headers={"Range": "bytes=1000-1999"})
    assert r.status_code == 206 and len(r.content) == 1000
    assert r.headers["content-range"].startswith("bytes 1000-1999/")


def test_state_changes_need_the_token_header(client: TestClient, project) -> None:
    body = {"base_version": 0, "op": "check", "segment_id": 3}
    assert client.post("/api/episodes/udhr-preamble/edit", json=body).status_code == 403
    wrong = client.post("/api/episodes/udhr-preamble/edit", json=body, headers={"X-Diptych-Token": "x" * 30})
    assert wrong.status_code == 403
    assert client.post("/api/episodes/udhr-preamble/approve").status_code == 403
    assert load_record(project.episode("udhr-preamble")).state == EpisodeState.awaiting_review
    assert not project.episode("udhr-preamble").reviewed_json.exists()


def test_cross_site_requests_are_refused(client: TestClient, project) -> None:
    body = {"base_version": 0, "op": "check", "segment_id": 3}
    r = post(client, "/api/episodes/udhr-preamble/edit", body, Origin="http://evil.example")
    assert r.status_code == 403
    r = post(client, "/api/episodes/udhr-preamble/approve", {}, **{"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    # DNS rebinding: a page at evil.example that resolves to 127.0.0.1 sends Host: evil.example
    r = client.get("/episodes/udhr-preamble", headers={"Host": "evil.example:8765"})
    assert r.status_code == 400
    r = client.post("/api/episodes/udhr-preamble/approve", headers={"Host": "evil.example", "X-Diptych-Token": TOKEN})
    assert r.status_code == 400
    assert load_record(project.episode("udhr-preamble")).state == EpisodeState.awaiting_review


def test_bodies_are_size_limited(client: TestClient) -> None:
    big = {"base_version": 0, "op": "import", "text": "[00:00] " + "x" * (2 * 1024 * 1024)}
    assert post(client, "/api/episodes/udhr-preamble/edit", big).status_code == 413

    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = client.post(
        "/api/episodes/udhr-preamble/edit",
        content=chunks(),
        headers={"X-Diptych-Token": TOKEN, "Content-Type": "application/json"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/episodes/..%2f..%2fstate",
        "/episodes/..%2F..%2F..%2Fetc%2Fpasswd",
        "/episodes/%2e%2e/audio.mp3",
        "/episodes/UDHR-PREAMBLE",
        "/episodes/udhr-preamble%00/audio.mp3",
        "/episodes/no-such-episode",
        "/static/..%2freview.py",
        "/static/site.css",
        "/episodes/udhr-preamble/..%2f..%2fstate.json",
    ],
)
def test_paths_cannot_leave_the_workspace(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])


def test_everything_shown_is_escaped(project, speech: Path) -> None:
    build_episode(project, speech, evil=True)
    app = create_app(project, Settings(), token=TOKEN)
    with TestClient(app, base_url=BASE) as c:
        c.get(f"/?token={TOKEN}")
        page, listing = c.get("/episodes/udhr-preamble").text, c.get("/").text
        for html in (page, listing):
            assert "<script>alert" not in html
            assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in html  # the title
        assert "&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;</span>" in page  # a transcript word
        assert "<p>&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; Whereas" in page  # the article block
        found = post(c, "/api/episodes/udhr-preamble/find", {"find": "script", "whole_word": False}).json()
        assert found["count"] >= 1  # data goes back as JSON, shown with textContent by the page


def test_episodes_list_puts_awaiting_review_first(project, speech: Path) -> None:
    build_episode(project, speech, "a-published-one")
    layout = project.episode("a-published-one")
    set_state(layout, EpisodeState.approved, stage="review")
    build_episode(project, speech, "z-waiting")
    app = create_app(project, Settings(), token=TOKEN)
    with TestClient(app, base_url=BASE) as c:
        c.get(f"/?token={TOKEN}")
        html = c.get("/").text
    assert html.index("z-waiting") < html.index("a-published-one")


def _block(index: int, kind: str, status: str, start: float | None = None, end: float | None = None):
    return PairedBlock(
        index=index,
        kind=kind,
        text=f"block {index}",
        anchor=f"b{index}",
        status=status,
        start_s=start,
        end_s=end,
        score=0.8 if status == "paired" else None,
    )


def test_rows_put_each_block_beside_its_passage() -> None:
    from pipeline.review.view import build_rows

    t = whisper_like_transcript(" ".join(f"w{k}" for k in range(120)), words_per_segment=10)
    seg = t.segments  # 12 segments
    pairing = make_pairing(
        [
            _block(0, "heading", "paired", seg[0].start_s, seg[-1].end_s),  # a heading spans its section
            _block(1, "paragraph", "paired", seg[0].start_s, seg[3].end_s),
            _block(2, "paragraph", "text_only"),
            _block(3, "heading", "paired", seg[7].start_s, seg[-1].end_s),
            _block(4, "paragraph", "paired", seg[7].start_s, seg[-1].end_s),
        ],
        audio_only=[AudioOnlySpan(start_s=seg[4].start_s, end_s=seg[6].end_s, text="...")],
    )
    rows = build_rows(t, pairing)
    assert [[s.id for s in r.segments] for r in rows] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10, 11]]
    assert [[b.index for b in r.blocks] for r in rows] == [[0, 1, 2], [], [3, 4]]
    assert [r.only_audio for r in rows] == [False, True, False]
    assert build_rows(t, None)[0].segments == tuple(t.segments)


def test_a_short_block_inside_a_long_segment_sits_beside_it() -> None:
    from pipeline.review.view import build_rows

    t = whisper_like_transcript(" ".join(f"w{k}" for k in range(60)), words_per_segment=10)
    seg = t.segments  # 6 segments
    inside = seg[3].words[1]
    pairing = make_pairing(
        [
            _block(0, "paragraph", "paired", seg[0].start_s, seg[1].end_s),
            _block(1, "paragraph", "paired", inside.start_s, inside.end_s),  # shorter than its segment
            _block(2, "paragraph", "text_only"),
            _block(3, "paragraph", "paired", seg[4].start_s, seg[5].end_s),
        ],
    )
    rows = build_rows(t, pairing)
    assert [[s.id for s in r.segments] for r in rows] == [[0, 1], [2, 3], [4, 5]]
    assert [[b.index for b in r.blocks] for r in rows] == [[0], [1, 2], [3]]


def test_only_in_the_episode_is_shown(project, speech: Path) -> None:

    t = build_episode(project, speech)
    layout = project.episode("udhr-preamble")
    pairing = read_model(layout.pairing_json, Pairing)
    blocks = [
        b.model_copy(update={"status": "text_only", "start_s": None, "end_s": None}) if b.index == 1 else b
        for b in pairing.blocks
    ]
    span = AudioOnlySpan(start_s=t.segments[1].start_s, end_s=t.segments[3].end_s, text="...")
    write_model(layout.pairing_json, pairing.model_copy(update={"blocks": blocks, "audio_only": [span]}))
    app = create_app(project, Settings(), token=TOKEN)
    with TestClient(app, base_url=BASE) as c:
        c.get(f"/?token={TOKEN}")
        html = c.get("/episodes/udhr-preamble").text
    assert html.count("only in the episode") == 1
    row = html[html.index('<div class="row only-audio">') :]
    row = row[: row.index('<div class="row', 10)]
    assert 'id="s2"' in row and "only in the episode" in row


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("host", [None, "0.0.0.0"])
def test_serve_binds_loopback_unless_told_and_logs_the_address(
    project, speech: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, host: str | None
) -> None:
    import logging

    import httpx
    import uvicorn

    from pipeline.review.app import serve

    build_episode(project, speech)
    servers: list[uvicorn.Server] = []
    real_run = uvicorn.Server.run

    def run_and_keep(self: uvicorn.Server, sockets: object = None) -> None:  # the real server, kept to stop it
        servers.append(self)
        real_run(self, sockets)  # type: ignore[arg-type]

    monkeypatch.setattr(uvicorn.Server, "run", run_and_keep)
    caplog.set_level(logging.INFO, logger="pipeline.review.app")
    port = _free_port()
    options = {"port": port, "slug": "udhr-preamble"} | ({"host": host} if host else {})
    thread = threading.Thread(target=serve, args=(project, Settings()), kwargs=options, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not (servers and servers[0].started) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert servers and servers[0].started
        assert servers[0].config.host == (host or "127.0.0.1")
        [url] = [r.getMessage().split("review page: ")[1] for r in caplog.records if "review page: " in r.getMessage()]
        assert url.startswith(f"http://127.0.0.1:{port}/episodes/udhr-preamble?token=")
        page = httpx.get(url, follow_redirects=True)
        assert page.status_code == 200 and "Whereas recognition" in page.text
        warned = [r for r in caplog.records if r.levelno == logging.WARNING and "served on" in r.getMessage()]
        assert bool(warned) == (host is not None)
    finally:
        if servers:
            servers[0].should_exit = True
        thread.join(10)


def test_import_of_an_edited_export(client: TestClient, project) -> None:
    layout = project.episode("udhr-preamble")
    text = client.get("/episodes/udhr-preamble/transcript.txt").text
    lines = text.splitlines()
    lines[0] = lines[0].replace("Whereas", "Considering", 1)
    lines[3] = lines[3] + " " + lines.pop(4).split("] ", 1)[1]
    r = post(
        client,
        "/api/episodes/udhr-preamble/edit",
        {"base_version": 0, "op": "import", "text": "\n".join(lines)},
    )
    assert r.status_code == 200, r.text
    reviewed = read_model(layout.reviewed_json, Transcript)
    draft = read_model(layout.draft_json, Transcript)
    assert len(reviewed.segments) == len(draft.segments) - 1 and "Considering" in reviewed.text
    assert reviewed.edits[-1].kind == "import"
    bad = post(client, "/api/episodes/udhr-preamble/edit", {"base_version": 1, "op": "import", "text": "no marks"})
    assert bad.status_code == 400 and "[mm:ss]" in bad.json()["error"]


def test_an_episode_without_transcript_gets_a_readable_page(client: TestClient, project) -> None:
    layout = project.episode("still-working")
    create_record(layout, title="Still <working>")
    html = client.get("/episodes/still-working")
    assert html.status_code == 200 and "No transcript to review yet: the episode is received." in html.text
    assert "Still &lt;working&gt;" in html.text
    assert "still-working" in client.get("/").text


def test_serve_refuses_an_unknown_episode_before_starting(project) -> None:
    from pipeline.errors import EpisodeNotFound
    from pipeline.review.app import serve

    with pytest.raises(EpisodeNotFound, match="diptych status"):
        serve(project, Settings(), port=_free_port(), slug="no-such-episode")
