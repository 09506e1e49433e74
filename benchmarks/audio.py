"""Speed and memory of the audio stage on long real speech.

Builds one hour (and three hours) of real speech by concatenating the recordings in
../shared/testdata/speech (44.1 kHz, 16-bit, stereo with the same voice on both sides, as most
recorders write it), in a temporary folder. Each normalization runs in a child process, so its
peak memory is the child's own (os.wait4's ru_maxrss) and its CPU time includes the ffmpeg
processes it starts. A plain ffmpeg transcode of the same file (decode, MP3 encode) is timed
beside it as a reference for what the machine does at the time.

    .venv/bin/python benchmarks/audio.py [--runs 3] [--hours 1 3] [--stereo]

--stereo adds a one-hour row whose two channels differ (kept as stereo, the heavier case).
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
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "testdata" / "speech"
RATE = 44100


def speech_pool() -> np.ndarray:
    """Every test recording, decoded to 44.1 kHz mono 16-bit and joined (about 5 minutes)."""
    files = sorted(p for p in SPEECH.rglob("*") if p.suffix in {".ogg", ".m4a", ".mp3", ".wav"})
    parts = []
    for path in files:
        cmd = ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"]
        parts.append(np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, np.int16))
    return np.concatenate(parts)


def build_wav(path: Path, pool: np.ndarray, hours: float, *, stereo: bool) -> None:
    """`hours` of the pool repeated, as a 2-channel WAV; right = left unless `stereo`."""
    total = int(hours * 3600 * RATE)
    shift = 7 * RATE  # the right channel runs 7 s ahead, so the two sides differ
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        done = 0
        while done < total:
            n = min(pool.size, total - done)
            left = pool[:n]
            right = np.roll(pool, -shift)[:n] if stereo else left
            out.writeframes(np.stack([left, right], axis=1).tobytes())
            done += n


def child(source: Path, workdir: Path) -> None:
    """Run in the child process: one normalization, its report as JSON on stdout."""
    from pipeline.audio.normalize import Id3Tags, normalize_audio
    from pipeline.config import AudioSettings
    from pipeline.layout import EpisodeLayout

    layout = EpisodeLayout(root=workdir, slug="bench")
    tags = Id3Tags("Benchmark", "diptych", "diptych", None, None, None, "fr", None)
    start = time.perf_counter()
    report = normalize_audio(source, layout, settings=AudioSettings(), tags=tags)
    print(json.dumps({"seconds": time.perf_counter() - start, "report": report.model_dump(mode="json")}))


def timed(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + sys, descendants included), peak RSS MB, stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with status {status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.decode()


def bench(source: Path, hours: float, runs: int, label: str) -> dict[str, Any]:
    walls, cpus, rss, loads = [], [], [], []
    report: dict[str, Any] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="diptych-bench-out-") as out:
            loads.append(os.getloadavg()[0])
            wall, cpu, peak, stdout = timed([sys.executable, __file__, "--child", str(source), out])
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
            report = json.loads(stdout.strip().splitlines()[-1])["report"]
    with tempfile.TemporaryDirectory(prefix="diptych-bench-ref-") as out:
        ref_cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-ac", "1", "-c:a", "libmp3lame"]
        ref_cmd += ["-b:a", "96k", "-compression_level", "7", str(Path(out) / "ref.mp3")]
        ref_wall, ref_cpu, _, _ = timed(ref_cmd)
    duration = hours * 3600
    wall = statistics.median(walls)
    return {
        "label": label,
        "duration_s": duration,
        "runs": runs,
        "walls": walls,
        "median_wall_s": wall,
        "x_realtime": duration / wall,
        "cpu_s": statistics.median(cpus),
        "peak_rss_mb": max(rss),
        "ffmpeg_wall_s": ref_wall,
        "ffmpeg_cpu_s": ref_cpu,
        "load": statistics.mean(loads),
        "output_lufs": report.get("output_lufs"),
        "output_true_peak_dbtp": report.get("output_true_peak_dbtp"),
        "encodes": report.get("encodes"),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'file':<18}{'audio':>8}{'runs':>6}{'median wall s':>15}{'x real time':>13}{'CPU s':>8}"
        f"{'peak RSS MB':>13}{'ffmpeg s':>10}{'wall / ffmpeg':>15}{'load':>6}{'LUFS':>8}{'dBTP':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['label']:<18}{_hms(float(r['duration_s'])):>8}{r['runs']:>6}{r['median_wall_s']:>15.1f}"
            f"{r['x_realtime']:>12.0f}x{r['cpu_s']:>8.1f}{r['peak_rss_mb']:>13.0f}{r['ffmpeg_wall_s']:>10.1f}"
            f"{r['median_wall_s'] / r['ffmpeg_wall_s']:>15.2f}{r['load']:>6.1f}{r['output_lufs']:>8.2f}"
            f"{r['output_true_peak_dbtp']:>7.2f}"
        )
    print(f"\nmachine: {os.cpu_count()} CPUs; load: 1-minute load average at each start (other work on the box)")


def _hms(seconds: float) -> str:
    return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "WORKDIR"), help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3, help="normalizations of the 1 h file (median reported)")
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--stereo", action="store_true", help="add a 1 h row with two different channels")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    pool = speech_pool()
    rows = []
    with tempfile.TemporaryDirectory(prefix="diptych-bench-") as tmp:
        cases = [(h, False, f"dual-mono {h:g} h") for h in args.hours]
        if args.stereo:
            cases.append((1.0, True, "stereo 1 h"))
        for hours, stereo, label in cases:
            source = Path(tmp) / f"{label.replace(' ', '-')}.wav"
            build_wav(source, pool, hours, stereo=stereo)
            runs = args.runs if hours <= 1.0 and not stereo else 1
            rows.append(bench(source, hours, runs, label))
            source.unlink()
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
