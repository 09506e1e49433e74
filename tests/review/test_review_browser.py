"""The review page in a real browser (Debian's Chromium, headless) on a real episode.

The episode is built by the real stages from ../shared/testdata/speech/udhr-preamble-en.mp3:
normalize_audio (master.mp3), transcribe_audio with Whisper base (draft.json), read_article and
pair_article (pairing.json). The article leaves out one paragraph of the recording (only in the
episode) and adds one the recording does not say (only in the article).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.episodes import create_record, load_record, set_state
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import EpisodeState, PairedBlock, Pairing, Segment, Transcript
from pipeline.store import read_model, sha256_file, write_model

SLUG = "udhr-preamble"
TOKEN = "browser-test-token-0123456789"

EXTRA_PARAGRAPH = (
    "The recording does not say this: the General Assembly adopted the Declaration in Paris "
    "on 10 December 1948, and this note exists only in the article."
)


def write_article(speech: Path, dest: Path) -> Path:
    """The creator's article: the preamble without its second paragraph, plus a note of its own."""
    paragraphs = [p for p in (speech / "udhr-preamble-en.txt").read_text(encoding="utf-8").split("\n\n") if p]
    kept = [p for k, p in enumerate(paragraphs[1:]) if k != 1]
    body = "\n\n".join([*kept[:4], EXTRA_PARAGRAPH, *kept[4:]])
    text = f"---\ntitle: The Preamble\nlanguage: en\n---\n\n# The Preamble\n\n{body}\n"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    return dest


def build_real_episode(project: ProjectLayout, speech: Path, slug: str = SLUG) -> EpisodeLayout:
    """Run the real stages on the real recording (about a minute on two cores)."""
    from pipeline.article.reader import read_article
    from pipeline.audio.normalize import Id3Tags, normalize_audio
    from pipeline.pairing.pair import pair_article
    from pipeline.transcribe.model_cache import default_models_dir, install_model
    from pipeline.transcribe.stage import transcribe_audio

    settings = Settings()
    layout = project.episode(slug)
    article_path = write_article(speech, layout.source_file("article.md"))
    create_record(
        layout, title="The Preamble", source_audio="udhr-preamble-en.mp3", source_article="article.md"
    )
    tags = Id3Tags(
        title="The Preamble",
        artist="diptych",
        album="test",
        date=None,
        track=None,
        comment=None,
        language="en",
        cover=None,
    )
    report = normalize_audio(speech / "udhr-preamble-en.mp3", layout, settings=settings.audio, tags=tags)
    models_dir = default_models_dir()
    install_model("base", models_dir)
    article = read_article(article_path)
    draft = transcribe_audio(
        layout.speech_wav,
        settings=settings.transcribe,
        models_dir=models_dir,
        audio_sha256=sha256_file(layout.master_mp3),
        language="en",
        article=article,
    )
    write_model(layout.draft_json, draft)
    pairing = pair_article(
        article,
        draft,
        settings=settings.pairing,
        transcript_source="draft",
        transcript_sha256=sha256_file(layout.draft_json),
        article_sha256=sha256_file(article_path),
    )
    write_model(layout.pairing_json, pairing)
    set_state(
        layout,
        EpisodeState.awaiting_review,
        stage="pair",
        duration_s=report.duration_s,
        language=draft.language,
    )
    return layout


@pytest.fixture(scope="session")
def real_episode(tmp_path_factory: pytest.TempPathFactory, speech: Path) -> EpisodeLayout:
    root = tmp_path_factory.mktemp("real-episode")
    (root / "inbox").mkdir()
    return build_real_episode(ProjectLayout(root=root), speech)


@dataclass
class Server:
    url: str
    project: ProjectLayout
    layout: EpisodeLayout
    approved: list[str]

    @property
    def draft(self) -> Transcript:
        return read_model(self.layout.draft_json, Transcript)

    def reviewed(self) -> Transcript:
        return read_model(self.layout.reviewed_json, Transcript)


def start_server(app: object) -> tuple[object, threading.Thread, int]:
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the review server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, port


@pytest.fixture
def server(real_episode: EpisodeLayout, project: ProjectLayout) -> Iterator[Server]:
    from pipeline.review.app import create_app

    shutil.copytree(real_episode.root, project.episodes_dir / SLUG)
    approved: list[str] = []
    app = create_app(project, Settings(), token=TOKEN, on_approve=approved.append)
    uv, thread, port = start_server(app)
    try:
        yield Server(f"http://127.0.0.1:{port}", project, project.episode(SLUG), approved)
    finally:
        uv.should_exit = True  # type: ignore[attr-defined]
        thread.join(10)


@pytest.fixture
def page(browser, server: Server) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    open_episode(pg, server)
    yield pg
    context.close()
    assert errors == [], f"script errors or blocked content on the page: {errors}"


def open_episode(pg, server: Server) -> None:
    pg.goto(f"{server.url}/episodes/{SLUG}?token={TOKEN}")
    pg.wait_for_function("() => document.getElementById('audio').readyState >= 1")


def current_time(pg) -> float:
    return float(pg.evaluate("document.getElementById('audio').currentTime"))


def wait_saved(pg, version: int) -> None:
    pg.wait_for_function(f"() => document.getElementById('status').textContent === 'saved' && {version} > 0")


def segment_ids(pg) -> list[int]:
    return [int(x) for x in pg.eval_on_selector_all(".seg", "els => els.map(e => e.dataset.id)")]


# ---------------------------------------------------------------- the tests


@pytest.mark.integration
def test_page_shows_transcript_beside_article_and_screenshot(page, server: Server, tmp_path: Path) -> None:
    draft = server.draft
    assert segment_ids(page) == [s.id for s in draft.segments]
    assert page.locator(".blk.paired").count() >= 5
    assert "only in the article" in page.locator(".blk.text_only").first.inner_text()
    assert page.locator(".blk.text_only").filter(has_text="10 December 1948").count() == 1
    low = [w for s in draft.segments for w in s.words if w.probability < 0.5]
    assert page.locator(".tx span.lc").count() == len(low) > 0
    assert "unsure word" in (page.locator(".tx span.lc").first.get_attribute("title") or "")
    todo = int(page.locator("#todo").inner_text())
    assert todo == page.locator(".seg.todo").count() > 0
    shot = tmp_path / "review-page.png"
    page.screenshot(path=str(shot))
    shutil.copyfile(shot, "/tmp/review-screenshot.png")
    assert shot.stat().st_size > 20_000


@pytest.mark.integration
def test_click_segment_and_word_seeks_the_audio(page, server: Server) -> None:
    seg = server.draft.segments[6]
    page.locator(f"#s{seg.id} .t").click()
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('audio').currentTime - {seg.start_s}) < 1.5"
    )
    assert seg.start_s - 0.05 <= current_time(page) < seg.start_s + 1.5
    assert "playing" in (page.locator(f"#s{seg.id}").get_attribute("class") or "")
    later = server.draft.segments[15]
    word = later.words[3]
    page.locator(f"#s{later.id} .tx span").nth(3).click()
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('audio').currentTime - {word.start_s}) < 1.5"
    )
    time.sleep(0.6)  # a server without byte ranges would fall back to 0:00 here
    assert word.start_s - 0.05 <= current_time(page) < word.start_s + 2.5
    page.locator(".speeds button[data-rate='1.5']").click()
    assert page.evaluate("document.getElementById('audio').playbackRate") == 1.5
    page.keyboard.press("Space")
    page.wait_for_function("() => document.getElementById('audio').paused")


@pytest.mark.integration
def test_edit_a_word_saves_it_and_keeps_the_other_times(page, server: Server) -> None:
    draft = server.draft
    seg = draft.segments[9]
    tokens = " ".join(seg.text.split()).split()
    tokens[4] = "Zanzibar"
    page.locator(f"#s{seg.id} .tx").dblclick()
    area = page.locator(f"#s{seg.id} textarea")
    area.fill(" ".join(tokens))
    area.press("Enter")
    page.wait_for_function("() => document.getElementById('status').textContent === 'saved'")
    assert "Zanzibar" in page.locator(f"#s{seg.id} .tx").inner_text()
    reviewed = server.reviewed()
    new = next(s for s in reviewed.segments if s.id == seg.id)
    assert new.text.split()[4] == "Zanzibar" and reviewed.version == 1
    old_times = [(w.start_s, w.end_s) for k, w in enumerate(seg.words) if k != 4]
    new_times = [(w.start_s, w.end_s) for k, w in enumerate(new.words) if k != 4]
    assert new_times == old_times
    assert seg.words[4].start_s <= new.words[4].start_s <= new.words[4].end_s <= seg.words[4].end_s
    for other_old, other_new in zip(draft.segments, reviewed.segments, strict=True):
        if other_old.id != seg.id:
            assert other_old.words == other_new.words
    assert read_model(server.layout.draft_json, Transcript) == draft


@pytest.mark.integration
def test_find_and_replace_with_preview(page, server: Server) -> None:
    from pipeline.review.state import find_matches

    expected = len(find_matches(server.draft, "rights"))
    assert expected >= 3
    page.fill("#find", "RIGHTS")
    page.fill("#replace", "entitlements")
    page.click("#preview")
    page.wait_for_function("() => document.getElementById('match-count').textContent !== ''")
    assert page.locator("#match-count").inner_text() == f"{expected} matches"
    assert page.locator("#matches li").count() == expected
    assert page.locator("#matches mark").first.inner_text().lower() == "rights"
    page.click("#replace-all")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('replaced')")
    reviewed = server.reviewed()
    assert find_matches(reviewed, "rights") == []
    assert len(find_matches(reviewed, "entitlements")) == expected
    assert page.locator(".tx span", has_text="entitlements").count() == expected


@pytest.mark.integration
def test_a_stale_tab_is_refused_and_offered_a_reload(browser, page, server: Server) -> None:
    other = page.context.new_page()
    open_episode(other, server)
    first = server.draft.segments[2]
    page.locator(f"#s{first.id} .tx").dblclick()
    page.locator(f"#s{first.id} textarea").fill("Edited in the first tab.")
    page.locator(f"#s{first.id} textarea").press("Enter")
    page.wait_for_function("() => document.getElementById('status').textContent === 'saved'")
    second = server.draft.segments[5]
    other.locator(f"#s{second.id} .tx").dblclick()
    other.locator(f"#s{second.id} textarea").fill("Edited in the second tab.")
    other.locator(f"#s{second.id} textarea").press("Enter")
    other.wait_for_selector("#banner:not([hidden])")
    assert "another tab/window" in other.locator("#banner-text").inner_text()
    reviewed = server.reviewed()
    assert reviewed.version == 1
    assert [s.text for s in reviewed.segments if s.id == first.id] == ["Edited in the first tab."]
    assert "second tab" not in reviewed.text
    other.click("#reload")
    other.wait_for_function("() => document.getElementById('audio').readyState >= 1")
    assert other.locator(f"#s{first.id} .tx").inner_text().strip() == "Edited in the first tab."
    other.close()


@pytest.mark.integration
def test_approve_and_request_changes(page, server: Server) -> None:
    page.click("#changes summary")
    page.fill("#note", "Spell the Assembly's name in full.")
    page.click("#send-note")
    page.wait_for_function("() => document.getElementById('state').textContent === 'changes requested'")
    assert load_record(server.layout).review_note == "Spell the Assembly's name in full."
    page.click("#approve")
    page.click("#approve-anyway")
    page.wait_for_function("() => document.getElementById('state').textContent === 'approved'")
    assert load_record(server.layout).state == EpisodeState.approved
    deadline = time.monotonic() + 5
    while not server.approved and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.approved == [SLUG]


@pytest.mark.integration
def test_approving_with_items_left_asks_first(page, server: Server) -> None:
    left = int(page.locator("#todo").inner_text())
    assert left > 0
    page.click("#approve")
    page.wait_for_selector("#confirm:not([hidden])")
    assert page.locator("#confirm-left").inner_text() == str(left)
    assert "left to check" in page.locator("#confirm").inner_text()
    time.sleep(0.3)  # no request went out: nothing changes on the server
    assert load_record(server.layout).state == EpisodeState.awaiting_review and server.approved == []
    page.click("#confirm-next")
    assert page.locator("#confirm").is_hidden()
    assert "todo" in (page.locator(".seg.sel").get_attribute("class") or "")
    page.click("#approve")
    page.click("#approve-anyway")
    page.wait_for_function("() => document.getElementById('state').textContent === 'approved'")
    assert page.locator("#confirm").is_hidden()
    assert load_record(server.layout).state == EpisodeState.approved
    deadline = time.monotonic() + 5
    while not server.approved and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.approved == [SLUG]


def _owner(blocks: list[PairedBlock], start_s: float, end_s: float) -> int | None:
    """The article block a passage belongs to: the paired one (not a heading) whose span holds its
    middle, the latest starting if several do."""
    mid = (start_s + end_s) / 2
    holding = [
        b
        for b in blocks
        if b.status == "paired" and b.kind != "heading" and b.start_s is not None and b.end_s is not None
        if b.start_s <= mid <= b.end_s
    ]
    return max(holding, key=lambda b: (b.start_s or 0.0, b.index)).index if holding else None


def _split_across_blocks(t: Transcript, blocks: list[PairedBlock]) -> tuple[Segment, int, int, int]:
    """A segment whose halves, split before word k, belong to two different blocks."""
    for seg in t.segments:
        for k in range(1, len(seg.words)):
            first = _owner(blocks, seg.start_s, seg.words[k - 1].end_s)
            second = _owner(blocks, seg.words[k].start_s, seg.end_s)
            if first is not None and second is not None and first != second:
                return seg, k, first, second
    raise AssertionError("no segment of the real episode runs from one article block into the next")


def _row_holds(pg, seg_id: int, block_index: int) -> bool:
    row = f"document.getElementById('s{seg_id}').closest('.row')"
    return bool(pg.evaluate(f"{row}.querySelector('#b{block_index}') !== null"))


def _row_ids(pg, seg_id: int) -> list[str]:
    """The segments and article blocks in the row of a segment, by id."""
    row = f"document.getElementById('s{seg_id}').closest('.row')"
    return list(pg.evaluate(f"Array.from({row}.querySelectorAll('.seg, .blk'), (n) => n.id)"))


def _top(pg, seg_id: int) -> float:
    return float(pg.evaluate(f"document.getElementById('s{seg_id}').getBoundingClientRect().top"))


@pytest.mark.integration
def test_split_and_merge_regroup_the_rows_without_a_reload(page, server: Server, tmp_path: Path) -> None:
    from pipeline.review.state import export_text

    draft = server.draft
    blocks = read_model(server.layout.pairing_json, Pairing).blocks
    seg, k, first_block, second_block = _split_across_blocks(draft, blocks)
    count = len(draft.segments)
    page.set_viewport_size({"width": 1400, "height": 700})  # room to scroll both ways around the segment
    page.evaluate(f"document.getElementById('s{seg.id}').scrollIntoView({{block: 'center'}})")
    page.evaluate("window.notReloaded = true")
    page.fill("#find", "tyranny")
    page.click("#preview")
    page.wait_for_function("() => document.getElementById('match-count').textContent !== ''")
    matches = page.locator("#match-count").inner_text()
    start = draft.segments[max(0, draft.segments.index(seg) - 1)].start_s
    page.evaluate(f"() => {{ const a = document.getElementById('audio'); a.currentTime = {start}; a.play(); }}")
    page.wait_for_function(f"() => document.getElementById('audio').currentTime > {start + 0.2}")

    page.locator(f"#s{seg.id} .tx").dblclick()
    cut = len(" ".join(seg.text.split()[:k])) + 1
    page.locator(f"#s{seg.id} textarea").evaluate(f"(a) => a.setSelectionRange({cut}, {cut})")
    page.locator(f"#s{seg.id} .editor .split").scroll_into_view_if_needed()
    top, heard = _top(page, seg.id), current_time(page)
    page.locator(f"#s{seg.id} .editor .split").click()
    page.wait_for_function(f"() => document.querySelectorAll('.seg').length === {count + 1}")
    new_id = max(s.id for s in draft.segments) + 1
    assert page.evaluate("window.notReloaded") is True
    assert _row_holds(page, seg.id, first_block) and _row_holds(page, new_id, second_block)
    assert not _row_holds(page, new_id, first_block)
    assert abs(_top(page, seg.id) - top) < 2  # the segment stays where the reviewer saw it
    assert page.locator(".seg.sel").get_attribute("data-id") == str(seg.id)
    assert page.evaluate("document.getElementById('audio').paused") is False
    assert current_time(page) >= heard and page.locator(".seg.playing").count() == 1
    assert page.input_value("#find") == "tyranny" and page.locator("#match-count").inner_text() == matches

    page.locator(f"#s{seg.id} .tx").dblclick()
    page.locator(f"#s{seg.id} .editor .merge").click()
    page.wait_for_function(f"() => document.querySelectorAll('.seg').length === {count}")
    assert page.evaluate("window.notReloaded") is True and page.locator(f"#s{new_id}").count() == 0
    assert _row_holds(page, seg.id, first_block) or _row_holds(page, seg.id, second_block)
    merged_row = _row_ids(page, seg.id)
    assert f"s{new_id}" not in merged_row
    assert page.evaluate("document.getElementById('audio').paused") is False

    page.click("#undo")  # takes back the merge: the halves go back to their rows
    page.wait_for_function(f"() => document.querySelectorAll('.seg').length === {count + 1}")
    assert _row_holds(page, seg.id, first_block) and _row_holds(page, new_id, second_block)
    assert page.evaluate("window.notReloaded") is True

    # An import that joins the halves again, while another segment's editor holds unsaved text.
    other = draft.segments[1]
    page.locator(f"#s{other.id} .tx").dblclick()
    page.locator(f"#s{other.id} textarea").fill("words not saved yet")
    lines = export_text(server.reviewed()).splitlines()
    i = [s.id for s in server.reviewed().segments].index(new_id)
    lines[i - 1] += " " + lines.pop(i).split("] ", 1)[1]
    edited = tmp_path / "joined.txt"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.set_input_files("#import", str(edited))
    page.wait_for_function("() => document.getElementById('status').textContent === 'imported'")
    assert page.locator(".seg").count() == count and page.evaluate("window.notReloaded") is True
    assert page.input_value(f"#s{other.id} textarea") == "words not saved yet"
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    assert "words not saved yet" not in server.reviewed().text
    assert _row_ids(page, seg.id) == merged_row


@pytest.mark.integration
def test_terminal_approve_says_what_is_left_and_approves(real_episode: EpisodeLayout, project: ProjectLayout) -> None:
    import subprocess
    import sys

    from pipeline.review.state import todo_count

    shutil.copytree(real_episode.root, project.episodes_dir / SLUG)
    left = todo_count(read_model(real_episode.draft_json, Transcript), Settings().review.low_confidence)
    assert left > 1
    run = subprocess.run(
        [sys.executable, "-m", "flows", "--root", str(project.root), "approve", SLUG],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    said = run.stdout.splitlines()
    assert said[0] == f"{SLUG}: approved with {left} items left to check (flagged passages or unsure words)"
    assert said[1].startswith(f"{SLUG}: published")
    assert load_record(project.episode(SLUG)).state == EpisodeState.published


@pytest.mark.integration
def test_keyboard_listening_and_editing(page, server: Server) -> None:
    segs = server.draft.segments
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.locator(".seg.sel").get_attribute("data-id") == str(segs[1].id)
    assert abs(current_time(page) - segs[1].start_s) < 0.3
    page.keyboard.press("k")
    assert page.locator(".seg.sel").get_attribute("data-id") == str(segs[0].id)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert abs(current_time(page) - (segs[0].start_s + 10)) < 0.5
    page.keyboard.press("ArrowLeft")
    assert abs(current_time(page) - (segs[0].start_s + 5)) < 0.5
    page.keyboard.press("n")
    selected = page.locator(".seg.sel")
    assert "todo" in (selected.get_attribute("class") or "")
    todo_before = int(page.locator("#todo").inner_text())
    page.keyboard.press("c")  # mark as checked
    page.wait_for_function(f"() => document.getElementById('todo').textContent === '{todo_before - 1}'")
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.getElementById('audio').paused")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.getElementById('audio').paused")
    # Enter edits, Esc cancels without saving
    page.keyboard.press("Enter")
    area = page.locator(".seg.sel textarea")
    area.fill("this will be cancelled")
    area.press("Escape")
    assert page.locator(".editor textarea").count() == 0
    assert "cancelled" not in server.reviewed().text


@pytest.mark.integration
def test_split_merge_speaker_and_undo(page, server: Server) -> None:
    seg = server.draft.segments[7]
    count = len(server.draft.segments)
    page.locator(f"#s{seg.id} .tx").dblclick()
    area = page.locator(f"#s{seg.id} textarea")
    text = area.input_value()
    cut = text.index(" ", len(text) // 2) + 1
    area.evaluate(f"(a) => a.setSelectionRange({cut}, {cut})")
    page.locator(f"#s{seg.id} .editor .split").click()
    page.wait_for_function(f"() => document.querySelectorAll('.seg').length === {count + 1}")
    reviewed = server.reviewed()
    i = [s.id for s in reviewed.segments].index(seg.id)
    first, second = reviewed.segments[i], reviewed.segments[i + 1]
    assert first.words + second.words == seg.words
    assert first.end_s <= second.start_s
    page.locator(f"#s{seg.id} .tx").dblclick()
    page.locator(f"#s{seg.id} .editor .merge").click()
    page.wait_for_function(f"() => document.querySelectorAll('.seg').length === {count}")
    assert [s.words for s in server.reviewed().segments] == [s.words for s in server.draft.segments]
    page.fill("#speaker", "Eleanor Roosevelt")
    page.press("#speaker", "Tab")
    page.wait_for_function("() => document.getElementById('status').textContent === 'saved'")
    assert server.reviewed().speaker == "Eleanor Roosevelt"
    page.click("#undo")  # takes back the speaker
    page.wait_for_function("() => document.getElementById('speaker').value === ''")
    page.click("#undo")  # takes back the merge: split again
    page.wait_for_function(f"() => document.querySelectorAll('.seg').length === {count + 1}")
    assert len(server.reviewed().segments) == count + 1


@pytest.mark.integration
def test_import_an_edited_text_file(page, server: Server, tmp_path: Path) -> None:
    from pipeline.review.state import export_text

    lines = export_text(server.draft).splitlines()
    lines[3] = f"{lines[3]} as corrected by hand"
    edited = tmp_path / "edited.txt"
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.set_input_files("#import", str(edited))
    page.wait_for_function("() => document.getElementById('status').textContent === 'imported'")
    seg = server.draft.segments[3]
    assert page.locator(f"#s{seg.id} .tx").inner_text().endswith("as corrected by hand")
    reviewed = server.reviewed()
    assert reviewed.edits[-1].kind == "import" and "as corrected by hand" in reviewed.text
    new = next(s for s in reviewed.segments if s.id == seg.id)
    assert new.words[: len(seg.words)] == seg.words


@pytest.mark.integration
def test_the_playing_segment_is_highlighted_and_scrolled_into_view(page, server: Server) -> None:
    late = server.draft.segments[-3]
    page.evaluate("window.scrollTo(0, 0)")
    time.sleep(2.6)  # no click or key for a while: the page follows the audio
    page.evaluate(
        f"() => {{ const a = document.getElementById('audio'); a.currentTime = {late.start_s}; a.play(); }}"
    )
    page.wait_for_function(f"() => document.getElementById('s{late.id}').classList.contains('playing')")
    page.wait_for_function(
        f"() => {{ const r = document.getElementById('s{late.id}').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }"
    )
    assert page.evaluate("window.scrollY") > 200
    assert page.locator(".seg.playing").count() == 1


@pytest.mark.integration
@pytest.mark.parametrize("seed", range(4))
def test_random_edits_on_the_real_transcript_keep_draft_times(real_episode: EpisodeLayout, seed: int) -> None:
    """The property test of test_review.py, on Whisper's own word times (no browser needed)."""
    import random

    from tests.factories import assert_monotonic, assert_survivors_keep_draft_times, random_edit

    draft = read_model(real_episode.draft_json, Transcript)
    assert_monotonic(draft, words_inside_segments=False)
    rng, counter, t = random.Random(seed), [0], draft
    for _ in range(60):
        t = random_edit(rng, t, draft, counter)
        assert_monotonic(t, words_inside_segments=False)
        assert_survivors_keep_draft_times(t, draft)
    assert len(t.edits) > 20
