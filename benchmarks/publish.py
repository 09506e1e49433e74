"""Publishing speed: a site of 100 episodes, and one episode, built from real workspaces.

Each synthetic episode has a real MP3 (the UDHR preamble recording, 2:29, re-encoded), a transcript
of about 2,000 words with word times, an article of about 1,500 words, a pairing with chapters and
an audio-only passage. Targets (2 cores): 100 episodes <= 10 s, one episode <= 1 s; median of 3.
With --pictures N, each article also shows N pictures of 400 kB from beside it (img/pic-K.jpg),
which publishing copies into the episode's folder (their bytes are copied, never decoded).

    .venv/bin/python benchmarks/publish.py [--episodes 100] [--repeat 3] [--pictures 0]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from pipeline.config import Settings  # noqa: E402
from pipeline.layout import ProjectLayout  # noqa: E402
from pipeline.models import AudioOnlySpan  # noqa: E402
from pipeline.publish.build import publish_site  # noqa: E402
from tests.factories import (  # noqa: E402
    article_markdown,
    encode_mp3,
    make_episode,
    make_transcript,
    mp3_duration,
    pairing_for,
    paragraphs_of,
)

SPEECH = ROOT.parent / "shared" / "testdata" / "speech"
TRANSCRIPT_WORDS = 2000
ARTICLE_WORDS = 1500
PICTURE_BYTES = 400_000


def _take_words(paragraphs: list[str], count: int, *, per_paragraph: int) -> list[str]:
    """`count` words of the reference text, cycled, cut into paragraphs of about `per_paragraph`."""
    words = " ".join(paragraphs).split()
    stream = [words[i % len(words)] for i in range(count)]
    return [" ".join(stream[i : i + per_paragraph]) for i in range(0, count, per_paragraph)]


def build_project(root: Path, episodes: int, pictures: int = 0) -> ProjectLayout:
    project = ProjectLayout(root)
    (root / "output").mkdir(parents=True)
    mp3 = encode_mp3(SPEECH / "udhr-preamble-en.mp3", root / "source.mp3")
    reference = paragraphs_of((SPEECH / "udhr-preamble-en.txt").read_text(encoding="utf-8"))
    spoken = _take_words(reference, TRANSCRIPT_WORDS, per_paragraph=60)
    written = _take_words(reference, ARTICLE_WORDS, per_paragraph=75)
    transcript = make_transcript(spoken, duration_s=mp3_duration(mp3), language="en")
    pairing = pairing_for(written, transcript)
    audio_only = [AudioOnlySpan(start_s=60.0, end_s=70.0, text="An aside heard only in the episode.")]
    shown = [f"![Picture {k}](img/pic-{k}.jpg)" for k in range(pictures)]
    picture = root / "picture.jpg"
    picture.write_bytes(os.urandom(PICTURE_BYTES))
    for n in range(episodes):
        layout = make_episode(
            project,
            f"episode-{n:03d}",
            title=f"Episode {n}: rights & duties",
            mp3=mp3,
            transcript=transcript,
            pairing=pairing,
            article=article_markdown(f"Episode {n}", written + shown),
            audio_only=audio_only,
            link_audio=True,
        )
        for k in range(pictures):
            (layout.source_dir / "img").mkdir(exist_ok=True)
            (layout.source_dir / "img" / f"pic-{k}.jpg").hardlink_to(picture)
    return project


def measure(run: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (this process) of each run."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pictures", type=int, default=0, help="pictures shown by each article")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    settings = Settings(show={"base_url": "https://example.org/podcast/", "title": "Benchmark show"})
    work = Path(tempfile.mkdtemp(prefix="diptych-bench-publish-"))
    try:
        t0 = time.perf_counter()
        big = build_project(work / "many", args.episodes, args.pictures)
        one = build_project(work / "one", 1, args.pictures)
        setup_s = time.perf_counter() - t0
        middle = f"episode-{args.episodes // 2:03d}"
        cases = [
            (f"full site, {args.episodes} episodes", lambda: publish_site(big, settings), 10.0),
            (
                f"one episode rebuilt in the {args.episodes}-episode site",
                lambda: publish_site(big, settings, slugs=[middle]),
                1.0,
            ),
            ("full site, 1 episode", lambda: publish_site(one, settings), 1.0),
        ]
        rows = [(name, measure(run, args.repeat), target) for name, run, target in cases]
        site_mb = sum(p.stat().st_size for p in big.site_dir.rglob("*") if p.is_file()) / 1e6
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load}; workspaces built in {setup_s:.1f} s; "
        f"{args.episodes}-episode site: {site_mb:.0f} MB; {args.pictures} pictures per article"
    )
    print(
        f"{'case':<48} {'wall median s':>13} {'min':>6} {'max':>6} {'CPU median s':>12} {'target s':>8}  ok"
    )
    for name, (wall, cpu), target in rows:
        med = statistics.median(wall)
        print(
            f"{name:<48} {med:>13.3f} {min(wall):>6.2f} {max(wall):>6.2f} {statistics.median(cpu):>12.3f} "
            f"{target:>8.1f}  {'yes' if med <= target else 'NO'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
