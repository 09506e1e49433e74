"""Pairing benchmark: accuracy on real recordings (cases a-j) and speed on a one-hour episode.

    .venv/bin/python benchmarks/pairing.py [--engine faster-whisper|openai-whisper] [--runs 5]
                                           [--words-only]

Cases are built from ../shared/testdata/speech (see pairing_cases/cases.py) and transcribed by the
product's own Whisper stage (model base; faster-whisper by default: the same weights in a third of
the time); transcripts are cached under ~/.cache/diptych/bench-pairing.
For each method (lexical only, embeddings only, both) it prints: case, blocks, share of blocks
starting within ±2 s of the truth, IoU of the audio-only stretches, false text-only blocks, seconds.

The word-precision table (cases a-f and the word cases g-l of pairing_cases/word_cases.py, these
transcribed by openai-whisper, the model the article's corrections use) gives the share of blocks
starting within ±0.5 s and ±1.0 s, the spoken headings dated within ±0.5 s, the worst IoU of a true
audio-only stretch with the spans found, WER before/after the corrections on read and on retold
passages, and the correction's time (median of --runs, model loaded) against the transcription's,
both in one process, the correction after the transcription, as `diptych run` runs them (the
correction then scores on the audio encoder output the transcription kept). A last table pairs each
case again once per comma of its transcript, with that comma dropped (pairing_cases/punctuation.py):
the share of those variants with every block within ±1.0 s, the worst error, the worst aside IoU.
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
from punctuation import robustness  # noqa: E402
from scoring import (  # noqa: E402
    CaseResult,
    repeat_transcript,
    score_case,
    speed_article_text,
    transcribe_case,
)
from word_cases import WordCase, build_word_cases  # noqa: E402
from word_scoring import load_audio, passage_wer, score_words, timed_transcript  # noqa: E402

from pipeline.article.reader import read_article  # noqa: E402
from pipeline.config import PairingSettings  # noqa: E402
from pipeline.models import Pairing, Transcript  # noqa: E402
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


def correct(
    case: Case, transcript: Transcript, models: Path, runs: int
) -> tuple[Transcript, Pairing, float, str, int]:
    """Pair, correct from the article (median seconds of `runs`), pair again: as the pair stage does."""
    from pipeline.transcribe.correct import correct_from_article, load_scorer
    from pipeline.transcribe.model_cache import OPENAI_ENGINE, model_path

    load_scorer(str(model_path("base", models, engine=OPENAI_ENGINE)), "base")  # as a running worker has it
    article = read_article(case.article)
    first, _ = pair(case.article, transcript, "hybrid")
    audio = load_audio(case)
    seconds, result = [], None
    for _ in range(runs):
        result = correct_from_article(transcript, first, audio, model_name="base", models_dir=models)
        seconds.append(result.seconds)
    assert result is not None
    final = pair_article(
        article, result.transcript, settings=PairingSettings(), transcript_source="draft",
        transcript_sha256="bench", article_sha256="bench",
    )
    taken = f"{result.replaced}/{result.tried}" + (f" ({result.spelled} sp.)" if result.spelled else "")
    return result.transcript, final, statistics.median(seconds), taken, result.scored


def word_table(cases: list[Case], transcripts: dict[str, Transcript], args: argparse.Namespace) -> None:
    from scoring import transcribe_case

    models = args.work / "models"
    word_cases = build_word_cases(SPEECH, args.work / "cases")
    timed = {c.name: timed_transcript(c, models_dir=models, cache=args.work / "transcripts", transcribe=transcribe_case)
             for c in word_cases}
    print("\nword precision (hybrid pairing; g-l: openai-whisper base, corrected from the article)")
    columns = ("case", "blocks", "±0.5 s", "±1.0 s", "worst s", "headings", "IoU", "WER read", "WER retold",
               "taken", "corr. s", "transcr. s", "overhead")
    header = "{:<22} {:>6} {:>6} {:>6} {:>7} {:>8} {:>5} {:>15} {:>15} {:>13} {:>7} {:>10} {:>8}".format(*columns)
    print(header)
    print("-" * len(header))
    for case in cases:
        pairing, _ = pair(case.article, transcripts[case.name], "hybrid")
        print_word_row(score_words(case, pairing), "", "", "", None, None)
    corrected_of: dict[str, Transcript] = {}
    for case in word_cases:
        transcript, transcribe_s = timed[case.name]
        # Transcribed here first, under the same load as the correction, and in the same process:
        # as in `diptych run`, the correction scores on the encoder output this transcription kept.
        fresh_s = time_transcription(case, models)
        corrected, pairing, correct_s, taken, scored = correct(case, transcript, models, args.runs)
        if scored:  # the model ran
            transcribe_s = fresh_s
        corrected_of[case.name] = corrected
        print_word_row(
            score_words(case, pairing), _wer_pair(case, transcript, corrected, "read"),
            _wer_pair(case, transcript, corrected, "retold"), taken, correct_s, transcribe_s,
        )
    print(f"load average now {os.getloadavg()[0]:.1f}")
    punctuation_table([(c, transcripts[c.name]) for c in cases] + [(c, corrected_of[c.name]) for c in word_cases])


def punctuation_table(cases: list[tuple[Case, Transcript]]) -> None:
    """The word-precision measures over the transcripts that differ by one comma (pairing_cases/punctuation.py)."""
    print("\none comma dropped (hybrid pairing; each case's transcript above, once per comma)")
    columns = ("case", "variants", "all ±1.0 s", "worst s", "dropped after", "worst IoU", "IoU < 0.7")
    header = "{:<22} {:>8} {:>10} {:>7} {:>16} {:>9} {:>9}".format(*columns)
    print(header)
    print("-" * len(header))
    for case, transcript in cases:
        r = robustness(case, transcript, lambda t, case=case: pair(case.article, t, "hybrid")[0])
        print(
            f"{r.case:<22} {r.variants:>8} {100 * r.all_within_10:>9.0f}% {fmt(r.worst_s, '{:.2f}'):>7} "
            f"{r.worst_variant[:16]:>16} {fmt(r.worst_iou, '{:.2f}'):>9} {r.below_07:>9}"
        )


def time_transcription(case: WordCase, models: Path) -> float:
    """Seconds to transcribe the case (openai-whisper base, model loaded once before, no cache)."""
    from pipeline.config import TranscribeSettings
    from pipeline.transcribe.stage import transcribe_audio

    settings = TranscribeSettings(engine="openai-whisper")
    transcribe_audio(case.audio, settings=settings, models_dir=models, audio_sha256="warm", language=case.language)
    started = time.perf_counter()
    transcribe_audio(case.audio, settings=settings, models_dir=models, audio_sha256="bench", language=case.language)
    return time.perf_counter() - started


def _wer_pair(case: WordCase, before: Transcript, after: Transcript, kind: str) -> str:
    passages = getattr(case, kind)
    if not passages:
        return "—"
    a, b = passage_wer(before, passages, case.language), passage_wer(after, passages, case.language)
    return f"{100 * a:.1f} → {100 * b:.1f} %"  # type: ignore[operator]


def print_word_row(r, read: str, retold: str, taken: str, correct_s: float | None, transcribe_s: float | None) -> None:  # type: ignore[no-untyped-def]
    overhead = f"{100 * correct_s / transcribe_s:.1f} %" if correct_s is not None and transcribe_s else "—"
    print(
        f"{r.case:<22} {r.blocks:>6} {100 * r.within_05:>5.0f}% {100 * r.within_10:>5.0f}% "
        f"{fmt(r.worst_s, '{:.2f}'):>7} {r.headings:>8} {fmt(r.iou, '{:.2f}'):>5} {read or '—':>15} "
        f"{retold or '—':>15} {taken or '—':>13} {fmt(correct_s, '{:.2f}'):>7} {fmt(transcribe_s, '{:.1f}'):>10} "
        f"{overhead:>8}"
    )


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
    parser.add_argument("--words-only", action="store_true", help="only the word-precision table")
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
    if args.words_only:
        word_table(cases, transcripts, args)
        return
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
    word_table(cases, transcripts, args)


if __name__ == "__main__":
    main()
