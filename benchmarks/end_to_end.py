"""End to end: `diptych run --approve` on a French episode, against faster-whisper alone on the file.

    .venv/bin/python benchmarks/end_to_end.py [--minutes 10,60] [--runs 3] [--configs default,faster]

The episode is built from ../shared/testdata/speech: the French recordings (FLEURS clips and
ej-fra), each brought to the same level (-23 dBFS RMS: the clips range from -24 to -62, and one
speaker's episode does not jump by 40 dB), one after another with half a second between them,
repeated to the length asked, as a 44.1 kHz stereo AAC file (what a creator exports); the
article is their texts, one paragraph each, under a title. Each run is a whole process in a
fresh project folder, as a user runs it: `diptych run --approve` (claim, normalize, transcribe,
pair, approve, publish). The anchor is what
a user would run instead: faster-whisper int8 beam 5 transcribing the same file alone (its own
process: imports, model loading, decoding the file). Runs alternate anchor / configs, so a busy
machine weighs on all of them alike; the table gives medians, the ratio to the anchor, the time
of each stage (from state.json), the peak resident memory of the largest process, and the WER of
the published transcript (whisper's BasicTextNormalizer, jiwer) against the texts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPEECH = ROOT.parent / "shared" / "testdata" / "speech"
BIN = Path(sys.executable).parent
GAP_S = 0.5
LEVEL_DBFS = -23.0

# name -> DIPTYCH_* environment overrides
CONFIGS: dict[str, dict[str, str]] = {
    "default": {},
    "sequential": {"DIPTYCH_TRANSCRIBE__BATCH_SIZE": "1"},
    "batched4": {"DIPTYCH_TRANSCRIBE__BATCH_SIZE": "4"},
    "batched": {"DIPTYCH_TRANSCRIBE__BATCH_SIZE": "8"},
    "faster": {"DIPTYCH_TRANSCRIBE__ENGINE": "faster-whisper"},
    "faster-batched": {"DIPTYCH_TRANSCRIBE__ENGINE": "faster-whisper", "DIPTYCH_TRANSCRIBE__BATCH_SIZE": "8"},
}
STAGES = ["normalized", "transcribed", "paired", "awaiting_review", "approved", "published"]
SETTINGS = """[show]
title = "Bancs d'essai"
author = "Camille Martin"
owner_email = "camille@example.org"
language = "fr"
base_url = "https://example.org/podcast/"
"""
ANCHOR = """
import sys
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=int(sys.argv[3]))
segments, info = model.transcribe(sys.argv[2], beam_size=5)
print(" ".join(s.text.strip() for s in segments))
"""


@dataclass(frozen=True)
class Episode:
    audio: Path
    article: Path
    reference: str
    duration_s: float


def build_episode(minutes: float, folder: Path) -> Episode:
    """The French recordings repeated to `minutes`, as m4a (44.1 kHz stereo), and their texts."""
    import numpy as np

    from pipeline.transcribe.stage import load_speech

    files = sorted(SPEECH.glob("fleurs-fr-*.ogg")) + [SPEECH / "ej-fra.m4a"]
    gap = np.zeros(int(GAP_S * 16000), np.float32)
    one = np.concatenate([np.concatenate([leveled(load_speech(f)), gap]) for f in files])
    texts = [f.with_suffix(".txt").read_text(encoding="utf-8").strip() for f in files]
    repeats = int(np.ceil(minutes * 60 * 16000 / len(one)))
    raw = folder / "speech.f32"
    np.tile(one, repeats).astype("<f4").tofile(raw)
    audio = folder / f"episode-{minutes:g}min.m4a"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "f32le", "-ar", "16000", "-ac", "1", "-i", str(raw),
         "-ar", "44100", "-ac", "2", "-c:a", "aac", "-b:a", "128k", str(audio)],
        check=True,
    )
    raw.unlink()
    paragraphs = texts * repeats
    article = audio.with_suffix(".md")
    article.write_text("# Bancs d'essai\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return Episode(audio, article, " ".join(paragraphs), repeats * len(one) / 16000)


def leveled(samples: Any) -> Any:
    """`samples` scaled to LEVEL_DBFS RMS (clipped at full scale)."""
    import numpy as np

    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return np.clip(samples * np.float32(10 ** (LEVEL_DBFS / 20) / max(rms, 1e-9)), -1.0, 1.0)


def wer(reference: str, hypothesis: str) -> float:
    import jiwer
    from whisper.normalizers import BasicTextNormalizer

    normalize = BasicTextNormalizer()
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, peak RSS MB of the largest process, stdout) of a whole process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        text, errors = (f.read().decode("utf-8", "replace") for f in (out, err))
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed with status {status}: {(text + errors)[-800:]}")
    return wall, usage.ru_maxrss / 1024, text


def run_anchor(episode: Episode, threads: int) -> dict[str, Any]:
    from pipeline.transcribe.model_cache import FASTER_ENGINE, default_models_dir, model_path

    ct2 = model_path("base", default_models_dir(), engine=FASTER_ENGINE)
    cmd = [sys.executable, "-c", ANCHOR, str(ct2), str(episode.audio), str(threads)]
    wall, peak, text = timed(cmd, dict(os.environ))
    return {"wall_s": wall, "peak_mb": peak, "wer": wer(episode.reference, text), "stages": {}}


def run_diptych(episode: Episode, config: str, work: Path) -> dict[str, Any]:
    project = work / f"project-{config}"
    shutil.rmtree(project, ignore_errors=True)
    (project / "inbox").mkdir(parents=True)
    (project / "diptych.toml").write_text(SETTINGS, encoding="utf-8")
    for source in (episode.audio, episode.article):
        shutil.copy(source, project / "inbox" / source.name)
    # A busy machine can take minutes to start Prefect's embedded API (90 s is diptych's default).
    env = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600", **os.environ, **CONFIGS[config]}
    started = datetime.now().astimezone()
    wall, peak, _ = timed([str(BIN / "diptych"), "--root", str(project), "--quiet", "run", "--approve"], env)
    slug = next((project / "output" / "episodes").iterdir()).name
    state = json.loads((project / "output" / "episodes" / slug / "state.json").read_text(encoding="utf-8"))
    transcript = (project / "output" / "site" / slug / "transcript.txt").read_text(encoding="utf-8")
    return {"wall_s": wall, "peak_mb": peak, "wer": wer(episode.reference, transcript),
            "stages": stage_times(state, started, wall)}


def stage_times(state: dict[str, Any], started: datetime, wall_s: float) -> dict[str, float]:
    """Seconds per stage from state.json's history; "start" is the command's start to the claim."""
    history = state["history"]
    at = [datetime.fromisoformat(h["at"]) for h in history]
    times = {"start": (at[0] - started).total_seconds()}
    for previous, entry, when in zip(at, history[1:], at[1:], strict=False):
        if entry["state"] in STAGES:
            times[entry["state"]] = (when - previous).total_seconds()
    times["exit"] = wall_s - (at[-1] - started).total_seconds()
    return times


def median_row(name: str, runs: list[dict[str, Any]], anchor_s: float, duration_s: float) -> str:
    wall = statistics.median(r["wall_s"] for r in runs)
    stages = {k: statistics.median(r["stages"].get(k, 0.0) for r in runs) for k in runs[0]["stages"]}
    profile = " ".join(f"{k}={v:.1f}" for k, v in stages.items())
    return (f"{name:18} {len(runs):4d} {wall:8.1f} {wall / duration_s:6.3f} {wall / anchor_s:6.2f} "
            f"{max(r['peak_mb'] for r in runs):8.0f} {statistics.median(r['wer'] for r in runs):6.1%}  {profile}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="10,60")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--configs", default="default,faster")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="diptych-e2e-"))
    results: dict[str, Any] = {}
    for minutes in (float(m) for m in args.minutes.split(",")):
        episode = build_episode(minutes, work)
        rows: dict[str, list[dict[str, Any]]] = {"faster-whisper beam 5 alone": []}
        for _ in range(args.runs):
            rows["faster-whisper beam 5 alone"].append(run_anchor(episode, threads))
            for config in args.configs.split(","):
                rows.setdefault(f"diptych {config}", []).append(run_diptych(episode, config, work))
            print(json.dumps({k: v[-1] for k, v in rows.items()}), flush=True)
        anchor_s = statistics.median(r["wall_s"] for r in rows["faster-whisper beam 5 alone"])
        print(f"\n{episode.duration_s:.0f} s episode ({minutes:g} min), load average {os.getloadavg()}")
        print(f"{'run':18} {'runs':>4} {'wall s':>8} {'RTF':>6} {'ratio':>6} {'peak MB':>8} {'WER':>6}  stages (s)")
        for name, runs in rows.items():
            print(median_row(name, runs, anchor_s, episode.duration_s))
        results[f"{minutes:g}"] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
