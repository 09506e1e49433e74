"""Review page speed on a two-hour episode: page load until interactive, save, split and merge round trips.

The episode is real material repeated: the real stages (normalize_audio, Whisper base,
read_article, pair_article) run on ../shared/testdata/speech/udhr-preamble-en.mp3, then its
transcript and pairing are repeated with shifted times until the episode holds about 20,000
words (about two hours); master.mp3 is the real MP3 repeated (ffmpeg stream copy).

    .venv/bin/python benchmarks/review.py [--runs 7] [--saves 25] [--reuse DIR]

--reuse DIR takes an episode folder already built by an earlier run (it prints its path).
Headless Debian Chromium (/usr/bin/chromium), server on 127.0.0.1 as `diptych review` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from pipeline.config import Settings  # noqa: E402
from pipeline.layout import ProjectLayout  # noqa: E402
from pipeline.models import Pairing, Transcript  # noqa: E402
from pipeline.store import read_model, write_model  # noqa: E402
from tests.factories import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.review.test_review_browser import (  # noqa: E402
    SLUG,
    TOKEN,
    build_real_episode,
    start_server,
)

SPEECH = ROOT.parent / "shared" / "testdata" / "speech"
TARGET_WORDS = 20_000


def repeat_episode(layout_root: Path, dest: Path) -> tuple[int, float]:
    """Copy the real episode to `dest`, its transcript and pairing repeated to ~20,000 words."""
    shutil.copytree(layout_root, dest)
    draft = read_model(dest / "transcript" / "draft.json", Transcript)
    pairing = read_model(dest / "pairing.json", Pairing)
    words_once = sum(len(s.words) for s in draft.segments)
    times = -(-TARGET_WORDS // words_once)
    period = draft.duration_s
    segments, blocks, next_id = [], [], 0
    for k in range(times):
        shift = k * period
        for seg in draft.segments:
            words = [
                w.model_copy(update={"start_s": w.start_s + shift, "end_s": w.end_s + shift})
                for w in seg.words
            ]
            segments.append(
                seg.model_copy(
                    update={
                        "id": next_id,
                        "start_s": seg.start_s + shift,
                        "end_s": seg.end_s + shift,
                        "words": words,
                    }
                )
            )
            next_id += 1
        for b in pairing.blocks:
            moved = {"index": len(blocks), "anchor": f"{b.anchor}-{k}"}
            if b.start_s is not None and b.end_s is not None:
                moved |= {"start_s": b.start_s + shift, "end_s": b.end_s + shift}
            blocks.append(b.model_copy(update=moved))
    duration = period * times
    write_model(
        dest / "transcript" / "draft.json",
        draft.model_copy(update={"segments": segments, "duration_s": duration}),
    )
    write_model(dest / "pairing.json", pairing.model_copy(update={"blocks": blocks, "audio_only": []}))
    master = dest / "audio" / "master.mp3"
    looped = dest / "audio" / "looped.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-stream_loop",
            str(times - 1),
            "-i",
            str(master),
            "-c",
            "copy",
            str(looped),
        ],
        check=True,
    )
    looped.replace(master)
    return sum(len(s.words) for s in segments), duration


def measure_page(browser, url: str, runs: int) -> dict[str, list[float]]:
    """Navigation timings, and the time until a click on a late segment has moved the audio there."""
    keys = ("html", "dom_interactive", "dcl", "load", "interactive", "bytes")
    out: dict[str, list[float]] = {k: [] for k in keys}
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/?token={TOKEN}")
    for _ in range(runs):
        t0 = time.perf_counter()
        page.goto(f"{url}/episodes/{SLUG}", wait_until="domcontentloaded")
        target = page.locator(".seg").nth(-40)
        target.locator(".t").click()
        start = float(target.get_attribute("data-s") or 0)
        page.wait_for_function(f"() => Math.abs(document.getElementById('audio').currentTime - {start}) < 2")
        out["interactive"].append(time.perf_counter() - t0)
        timing = json.loads(page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])"))
        out["bytes"].append(timing["decodedBodySize"])
        out["html"].append(timing["responseEnd"] / 1000)
        out["dom_interactive"].append(timing["domInteractive"] / 1000)
        out["dcl"].append(timing["domContentLoadedEventEnd"] / 1000)
        page.wait_for_load_state("load")
        timing = json.loads(page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])"))
        out["load"].append(timing["loadEventEnd"] / 1000)
    context.close()
    return out


SAVE_JS = """async ([slug, token, path, payload, versioned]) => {
  const version = Number(document.body.dataset.version);
  const t0 = performance.now();
  const r = await fetch(`/api/episodes/${slug}/${path}`, {method: "POST",
    headers: {"Content-Type": "application/json", "X-Diptych-Token": token},
    body: JSON.stringify(versioned ? Object.assign({base_version: version}, payload) : payload)});
  const data = await r.json();
  const ms = performance.now() - t0;
  if (data.version !== undefined) document.body.dataset.version = data.version;
  return [r.status, ms];
}"""


def timed_post(page, path: str, payload: dict[str, object]) -> float:
    """One request made by the page itself, timed there (edits carry the page's version)."""
    status, ms = page.evaluate(SAVE_JS, [SLUG, TOKEN, path, payload, path == "edit"])
    assert status == 200, (path, status)
    return ms / 1000


def measure_saves(browser, url: str, saves: int) -> dict[str, list[float]]:
    """Round trips measured in the page: fetch -> apply -> versioned atomic write -> patch back."""
    out: dict[str, list[float]] = {"save_fetch": [], "save_ui": [], "undo": [], "find": [], "split": [], "merge": []}
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/?token={TOKEN}")
    page.goto(f"{url}/episodes/{SLUG}")
    ids = [int(x) for x in page.eval_on_selector_all(".seg", "els => els.map(e => e.dataset.id)")]
    for k in range(saves):
        seg_id = ids[(k * 97) % len(ids)]
        payload = {"op": "edit", "segment_id": seg_id, "text": f"An edit number {k} of this segment."}
        out["save_fetch"].append(timed_post(page, "edit", payload))
    for _ in range(5):  # each undo replays the remaining history on the draft
        out["undo"].append(timed_post(page, "edit", {"op": "undo"}))
    for word in ("rights", "freedom", "the", "United Nations", "dignity"):
        out["find"].append(timed_post(page, "find", {"find": word, "whole_word": True}))
    page.reload()
    for k in range(saves):  # the same through the interface: Enter in the editor until "saved"
        node = page.locator(f"#s{ids[(k * 61 + 5) % len(ids)]}")
        node.locator(".tx").dblclick()
        node.locator("textarea").fill(f"Typed in the editor, edit {k}.")
        page.evaluate("document.getElementById('status').textContent = ''")
        t0 = time.perf_counter()
        node.locator("textarea").press("Enter")
        page.wait_for_function("() => document.getElementById('status').textContent === 'saved'", polling=5)
        out["save_ui"].append(time.perf_counter() - t0)
    long_ids = page.eval_on_selector_all(
        ".seg", "els => els.filter(e => e.querySelectorAll('.tx > span').length >= 4).map(e => e.dataset.id)"
    )
    for k in range(min(saves, 10)):  # a split and a merge regroup the rows in place
        node = page.locator(f"#s{long_ids[(k * 131 + 17) % len(long_ids)]}")
        out["split"].append(timed_in_editor(page, node, "split"))
        out["merge"].append(timed_in_editor(page, node, "merge"))
    context.close()
    return out


def timed_in_editor(page, node, button: str) -> float:
    """Open the segment's editor, put the cursor in the middle, click `button`, wait for 'saved'."""
    node.locator(".tx").dblclick()
    middle = "(a) => { const i = a.value.indexOf(' ', a.value.length >> 1) + 1; a.setSelectionRange(i, i); }"
    node.locator("textarea").evaluate(middle)
    page.evaluate("document.getElementById('status').textContent = ''")
    t0 = time.perf_counter()
    node.locator(f".editor .{button}").click()
    page.wait_for_function("() => document.getElementById('status').textContent === 'saved'", polling=5)
    return time.perf_counter() - t0


def row(name: str, values: list[float], target: str) -> str:
    ms = [v * 1000 for v in values]
    return f"| {name:<46} | {statistics.median(ms):>8.0f} | {min(ms):>6.0f} | {max(ms):>6.0f} | {target:<8} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--saves", type=int, default=25)
    parser.add_argument("--reuse", type=Path, help="a real episode folder built by an earlier run")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from pipeline.review.app import create_app

    work = Path(tempfile.mkdtemp(prefix="diptych-review-bench-"))
    if args.reuse is None:
        built = ProjectLayout(root=work / "built")
        (built.root / "inbox").mkdir(parents=True)
        t0 = time.perf_counter()
        real = build_real_episode(built, SPEECH).root
        print(f"real episode built in {time.perf_counter() - t0:.0f} s: {real}")
    else:
        real = args.reuse
    project = ProjectLayout(root=work / "project")
    words, duration = repeat_episode(real, project.episodes_dir / SLUG)
    app = create_app(project, Settings(), token=TOKEN)
    server, thread, port = start_server(app)
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page_times = measure_page(browser, url, args.runs)
            save_times = measure_saves(browser, url, args.saves)
            version = browser.version
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    segments = len(read_model(project.episodes_dir / SLUG / "transcript" / "draft.json", Transcript).segments)
    size_mb = page_times["bytes"][0] / 1e6
    hours = duration / 3600
    print(f"\nReview page, {words:,} words, {segments:,} segments, {hours:.2f} h, HTML {size_mb:.1f} MB")
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores; Chromium {version} headless")
    print("\n| measure (seconds -> shown in ms)                 |   median |    min |    max | target   |")
    print("|------------------------------------------------|---------:|-------:|-------:|----------|")
    print(row("HTML received (navigation responseEnd)", page_times["html"], ""))
    print(row("DOM interactive", page_times["dom_interactive"], ""))
    print(row("DOMContentLoaded handlers done (script ready)", page_times["dcl"], ""))
    print(row("first load after start -> click seeks audio", page_times["interactive"][:1], "< 1500"))
    print(row("reloads -> click on a segment seeks audio", page_times["interactive"][1:], "< 1500"))
    print(row("load event end", page_times["load"], ""))
    print(row("save round trip, fetch in page (edit op)", save_times["save_fetch"], "< 100"))
    print(row("save round trip, Enter in editor -> 'saved'", save_times["save_ui"], ""))
    print(row("split in editor -> rows regrouped, 'saved'", save_times["split"], ""))
    print(row("merge in editor -> rows regrouped, 'saved'", save_times["merge"], ""))
    print(row(f"undo round trip (history of {args.saves}+ edits)", save_times["undo"], ""))
    print(row("find preview round trip", save_times["find"], ""))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nruns: page {args.runs}, saves {args.saves} each; load average {load}; workspace {work}")


if __name__ == "__main__":
    main()
