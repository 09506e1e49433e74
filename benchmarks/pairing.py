"""Pairing benchmark: accuracy on real recordings (cases a-e) and speed on a one-hour episode.

    .venv/bin/python benchmarks/pairing.py [--engine faster-whisper|openai-whisper] [--runs 5]

Cases are built from ../shared/testdata/speech (see pairing_cases/cases.py) and transcribed by the
product's own Whisper stage (model base; faster-whisper by default: the same weights in a third of
the time); transcripts are cached under ~/.cache/diptych/bench-pairing.
For each method (lexical only, embeddings only, both) it prints: case, blocks, share of blocks
starting within ±2 s of the truth, IoU of the audio-only stretches, false text-only blocks, seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "pairing_cases"))

from cases import Case, build_cases  # noqa: E402
from scoring import (  # noqa: E402
    CaseResult,
    repeat_transcript,
    score_case,
    speed_article_text,
    transcribe_case,
)

from pipeline.article.reader import read_article  # noqa: E402
from pipeline.config import PairingSettings  # noqa: E402
from pipeline.models import Transcript  # noqa: E402
from pipeline.pairing.pair import describe_coverage, pair_article  # noqa: E402

SPEECH = HERE.parent.parent / "shared" / "testdata" / "speech"
METHODS = ("lexical", "semantic", "hybrid")
SPEED_DURATION_S = 3600.0
SPEED_WORDS = 3000


def pair(case_article: Path, transcript: Transcript, method: str):
    article = read_article(case_article)
    started = time.perf_counter()
    pairing = pair_article(
        article,
        transcript,
        settings=PairingSettings(method=method),
        transcript_source="draft",
        transcript_sha256="bench",
        article_sha256="bench",
    )
    return pairing, time.perf_counter() - started


def accuracy(
    cases: list[Case], transcripts: dict[str, Transcript], method: str
) -> list[tuple[CaseResult, float, str]]:
    rows = []
    for case in cases:
        pairing, seconds = pair(case.article, transcripts[case.name], method)
        rows.append((score_case(case, pairing), seconds, describe_coverage(pairing)))
    return rows


def speed(
    cases: list[Case], transcripts: dict[str, Transcript], method: str, runs: int, work: Path
) -> tuple[float, float, int, float]:
    """Median wall and CPU seconds to pair a one-hour transcript with a 3,000-word article."""
    parts = [transcripts[c.name] for c in cases if c.name[0] in "ace"]
    long = repeat_transcript(parts, SPEED_DURATION_S)
    texts = [b.text for c in cases if c.name[0] in "de" for b in read_article(c.article).blocks]
    path = work / "speed-article.md"
    path.write_text(speed_article_text(texts, SPEED_WORDS), encoding="utf-8")
    article = read_article(path)
    settings = PairingSettings(method=method)  # type: ignore[arg-type]
    pair(path, long, method)  # loads the embedding model once, as a running worker would have
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        pair_article(
            article,
            long,
            settings=settings,
            transcript_source="draft",
            transcript_sha256="bench",
            article_sha256="bench",
        )
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), article.word_count, long.duration_s


def fmt(value: float | None, pattern: str) -> str:
    return "—" if value is None else pattern.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="faster-whisper", choices=["openai-whisper", "faster-whisper"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS)
    )
    parser.add_argument("--no-speed", action="store_true", help="skip the one-hour speed case")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "diptych" / "bench-pairing")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cases = build_cases(SPEECH, args.work / "cases")
    models = args.work / "models"
    transcripts = {
        c.name: transcribe_case(c, models_dir=models, cache=args.work / "transcripts", engine=args.engine)
        for c in cases
    }
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"transcripts: Whisper base via {args.engine}"
    )
    columns = ("method", "case", "blocks", "±2 s", "IoU", "false t-o", "extra", "worst s", "seconds")
    header = "{:<9} {:<24} {:>6} {:>6} {:>5} {:>9} {:>5} {:>7} {:>7}  coverage".format(*columns)
    print(header)
    print("-" * len(header))
    for method in args.methods.split(","):
        for result, seconds, coverage in accuracy(cases, transcripts, method):
            extra = {None: "—", True: "yes", False: "NO"}[result.extra_flagged]
            print(
                f"{method:<9} {result.case:<24} {result.blocks:>6} {100 * result.within:>5.0f}% "
                f"{fmt(result.iou, '{:.2f}'):>5} {result.false_text_only:>9} {extra:>5} "
                f"{fmt(result.worst_error_s, '{:.2f}'):>7} {seconds:>7.2f}  {coverage}"
            )
        if not args.no_speed:
            load = os.getloadavg()[0]
            wall, cpu, words, duration_s = speed(cases, transcripts, method, args.runs, args.work)
            label = f"speed {duration_s / 60:.0f} min, {words} w"
            print(
                f"{method:<9} {label:<24} {'':>6} {'':>6} {'':>5} {'':>9} {'':>5} {'':>7} {wall:>7.2f}  "
                f"median of {args.runs}: wall {wall:.2f} s, CPU {cpu:.2f} s (load average {load:.1f})"
            )
        print()


if __name__ == "__main__":
    main()
