"""Transcription benchmark: WER, name recall, real-time factor and peak memory per engine/setting.

    .venv/bin/python benchmarks/transcribe.py [--runs 3] [--configs ow-greedy,fw-beam5] [--long]

Every recording in ../shared/testdata/speech with its reference text beside it (ej-fra-parts left
out: it is ej-fra cut in pieces). The reference text also plays the article (prompt and spelling).
WER uses whisper's own normalizers (English for en, Basic for fr) and jiwer. Times are the median
of --runs runs after one warm-up file, model loading excluded; each setting runs in its own process
so that its peak resident memory (ru_maxrss) is its own. --long transcribes one hour of speech (the
recordings repeated) with the default settings to measure peak memory over a full episode
(`--long clip`: the same peak without decoding the whole hour; see long_run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPEECH = ROOT.parent / "shared" / "testdata" / "speech"
AUDIO_SUFFIXES = {".mp3", ".m4a", ".ogg", ".wav", ".flac"}

# name -> (settings overrides, give the article?). "-b1": one window after another, conditioned on
# the previous text (whisper.transcribe, faster-whisper's WhisperModel.transcribe); "-bN": N speech
# windows decoded at once; no suffix: the default batch size.
PLAIN = {"use_article_prompt": False, "restore_article_spelling": False}
FASTER = {"engine": "faster-whisper"}
CONFIGS: dict[str, tuple[dict[str, Any], bool]] = {
    "ow-greedy": (PLAIN, False),
    "ow-greedy+prompt": ({"use_article_prompt": True, "restore_article_spelling": False}, True),
    "ow-greedy+spelling": ({"use_article_prompt": False, "restore_article_spelling": True}, True),
    "ow-greedy+article": ({"use_article_prompt": True, "restore_article_spelling": True}, True),
    "ow-greedy+article-nocond": (
        {"use_article_prompt": True, "restore_article_spelling": True, "condition_on_previous_text": False},
        True,
    ),
    "ow-default": ({}, True),
    "ow-default-b1": ({"batch_size": 1}, True),
    "ow-default-b2": ({"batch_size": 2}, True),
    "ow-default-b4": ({"batch_size": 4}, True),
    "ow-default-b8": ({"batch_size": 8}, True),
    "ow-beam5": ({"beam_size": 5, **PLAIN}, False),
    "ow-beam5+article": ({"beam_size": 5}, True),
    "fw-greedy-b1": ({**FASTER, **PLAIN, "batch_size": 1}, False),
    "fw-greedy+article": (FASTER, True),
    "fw-greedy+article-b1": ({**FASTER, "batch_size": 1}, True),
    "fw-beam5-b1": ({**FASTER, "beam_size": 5, **PLAIN, "batch_size": 1}, False),
    "fw-beam5+article": ({**FASTER, "beam_size": 5}, True),
    "fw-beam5+article-b1": ({**FASTER, "beam_size": 5, "batch_size": 1}, True),
}
DEFAULT_RUN = [
    "ow-default",
    "ow-default-b1",
    "ow-default-b4",
    "ow-greedy",
    "ow-beam5+article",
    "fw-greedy+article",
    "fw-greedy+article-b1",
    "fw-beam5-b1",
    "fw-beam5+article",
]


@dataclass(frozen=True)
class Recording:
    name: str
    audio: Path
    reference: str
    language: str
    duration_s: float


def recordings(only: list[str] | None = None) -> list[Recording]:
    from pipeline.transcribe.stage import load_speech

    found = []
    for audio in sorted(p for p in SPEECH.iterdir() if p.suffix in AUDIO_SUFFIXES):
        ref = audio.with_suffix(".txt")
        if not ref.is_file() or (only and audio.stem not in only):
            continue
        language = "en" if "-en" in audio.stem else "fr"
        duration = len(load_speech(audio)) / 16000
        found.append(Recording(audio.stem, audio, ref.read_text(encoding="utf-8"), language, duration))
    return found


def article_from(text: str) -> Any:
    from pipeline.article.reader import Article, ArticleBlock

    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    blocks = tuple(
        ArticleBlock(index=i, kind="paragraph", text=p, html="", anchor=f"p{i}")
        for i, p in enumerate(paragraphs)
    )
    return Article(title=None, front_matter={}, blocks=blocks, html="", language=None)


def word_error_rate(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """(errors, reference words) so that totals weigh each file by its length."""
    import jiwer
    from whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer

    normalize = EnglishTextNormalizer() if language == "en" else BasicTextNormalizer()
    ref, hyp = normalize(reference), normalize(hypothesis)
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def name_hits(reference: str, hypothesis: str) -> tuple[int, int]:
    """Article names (as extract_terms finds them) spelled exactly so in the transcript."""
    from pipeline.transcribe.vocabulary import extract_terms

    terms = extract_terms(article_from(reference))
    return sum(t.text in hypothesis for t in terms), len(terms)


# --- one setting, in its own process --------------------------------------------------------------


def run_config(name: str, runs: int, only: list[str] | None) -> dict[str, Any]:
    from pipeline.config import TranscribeSettings
    from pipeline.transcribe.model_cache import default_models_dir, install_model
    from pipeline.transcribe.stage import transcribe_audio

    overrides, with_article = CONFIGS[name]
    settings = TranscribeSettings(**overrides)
    models = default_models_dir()
    install_model(settings.model, models)
    recs = recordings(only)
    warm = recs[0]
    transcribe_audio(
        warm.audio, settings=settings, models_dir=models, audio_sha256="-", language=warm.language
    )
    rows = []
    for rec in recs:
        article = article_from(rec.reference) if with_article else None
        times, cpu, text = [], [], ""
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            transcript = transcribe_audio(
                rec.audio,
                settings=settings,
                models_dir=models,
                audio_sha256="-",
                language=rec.language,
                article=article,
            )
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            text = transcript.text
        errors, words = word_error_rate(rec.reference, text, rec.language)
        hits, names = name_hits(rec.reference, text)
        rows.append(
            {
                "file": rec.name,
                "duration_s": rec.duration_s,
                "wall_s": statistics.median(times),
                "cpu_s": statistics.median(cpu),
                "errors": errors,
                "words": words,
                "names": names,
                "name_hits": hits,
                "text": text,
            }
        )
    return {"config": name, "runs": runs, "rows": rows}


def spawn(name: str, runs: int, only: list[str] | None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [sys.executable, __file__, "--child", name, "--runs", str(runs), "--json", str(out)]
    if only:
        cmd += ["--files", ",".join(only)]
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{name}: child failed with status {status}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


# --- one hour -------------------------------------------------------------------------------------


def long_run(mode: str) -> dict[str, Any]:
    """Default settings on one hour of speech (the French recordings repeated), in a child process.

    mode "full" transcribes the whole hour. mode "clip" runs every step whose memory grows with the
    episode's length on the whole hour (decoding the audio, whisper's log-mel of the whole episode,
    the guards' energy scan) but lets whisper decode only the first and last 60 s (clip_timestamps):
    the same peak of memory in a few minutes instead of the full decoding time.
    """
    import numpy as np

    from pipeline.transcribe.stage import load_speech

    pieces = [load_speech(r.audio) for r in recordings() if r.language == "fr"]
    one = np.concatenate(pieces)
    hour = np.tile(one, int(np.ceil(3600 * 16000 / len(one))))[: 3600 * 16000]
    path = Path(tempfile.mkdtemp()) / "hour.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(hour, -1, 1) * 32767).astype("<i2").tobytes())
    del pieces, one, hour
    cmd = [sys.executable, "-c", _LONG_CHILD, str(path), mode]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    path.unlink()
    return {"mode": mode, "status": status, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


_LONG_CHILD = """
import sys
from pathlib import Path
import whisper
from pipeline.config import TranscribeSettings
from pipeline.transcribe.engines.base import ProgressClock
from pipeline.transcribe.engines.openai_engine import _hook_whisper, _to_segments
from pipeline.transcribe.guards import apply_guards
from pipeline.transcribe.stage import load_speech, open_engine, transcribe_audio
from pipeline.transcribe.model_cache import default_models_dir
path, mode = Path(sys.argv[1]), sys.argv[2]
settings = TranscribeSettings()
if mode == "full":
    t = transcribe_audio(path, settings=settings, models_dir=default_models_dir(), audio_sha256="-", language="fr")
    print(len(t.segments), "segments", round(t.duration_s), "s")
else:
    engine = open_engine(settings, default_models_dir())
    audio = load_speech(path)
    with _hook_whisper(ProgressClock(None)):  # as engine.decode does
        result = whisper.transcribe(engine.model, audio, language="fr", word_timestamps=True, fp16=False,
                                    verbose=None, clip_timestamps=[0, 60, len(audio) / 16000 - 60, len(audio) / 16000])
    segments = apply_guards(_to_segments(result), audio)
    print(len(segments), "segments decoded out of", round(len(audio) / 16000), "s")
"""


# --- report ---------------------------------------------------------------------------------------


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    rows = result["rows"]
    audio = sum(r["duration_s"] for r in rows)
    names = sum(r["names"] for r in rows)
    return {
        "config": result["config"],
        "wer": sum(r["errors"] for r in rows) / sum(r["words"] for r in rows),
        "rtf": sum(r["wall_s"] for r in rows) / audio,
        "cpu_rtf": sum(r["cpu_s"] for r in rows) / audio,
        "names": f"{sum(r['name_hits'] for r in rows)}/{names}",
        "peak_mb": result["peak_rss_mb"],
        "audio_s": audio,
        "runs": result["runs"],
        "wer_by_file": {r["file"]: round(r["errors"] / max(r["words"], 1), 3) for r in rows},
    }


def print_tables(results: list[dict[str, Any]]) -> None:
    print(f"\n{'setting':28} {'WER':>6} {'RTF':>6} {'cpuRTF':>7} {'names':>7} {'peak MB':>8} {'runs':>5}")
    for res in results:
        s = summarize(res)
        print(
            f"{s['config']:28} {s['wer']:6.1%} {s['rtf']:6.3f} {s['cpu_rtf']:7.3f} "
            f"{s['names']:>7} {s['peak_mb']:8.0f} {s['runs']:5d}"
        )
    print(f"total audio {summarize(results[0])['audio_s']:.1f} s")
    files = [r["file"] for r in results[0]["rows"]]
    print("\nWER per file (%)\n" + f"{'setting':28} " + " ".join(f"{f[-12:]:>12}" for f in files))
    for res in results:
        cells = " ".join(f"{100 * r['errors'] / max(r['words'], 1):12.1f}" for r in res["rows"])
        print(f"{res['config']:28} {cells}")
    print("\nRTF per file\n" + f"{'setting':28} " + " ".join(f"{f[-12:]:>12}" for f in files))
    for res in results:
        cells = " ".join(f"{r['wall_s'] / r['duration_s']:12.3f}" for r in res["rows"])
        print(f"{res['config']:28} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--configs", default=",".join(DEFAULT_RUN))
    parser.add_argument("--files", default="")
    parser.add_argument("--json", default="")
    parser.add_argument("--child", default="")
    parser.add_argument("--long", choices=["clip", "full"], help="peak memory on one hour of speech")
    args = parser.parse_args()
    only = [f for f in args.files.split(",") if f] or None
    if args.child:
        Path(args.json).write_text(json.dumps(run_config(args.child, args.runs, only)))
        return
    if args.long:
        print(json.dumps(long_run(args.long)))
        return
    results = []
    for name in args.configs.split(","):
        results.append(spawn(name, args.runs, only))
        print(json.dumps(summarize(results[-1])), flush=True)
    print_tables(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
