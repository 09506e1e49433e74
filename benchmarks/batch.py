"""A batch on the work pools: one machine's workers (one CPU worker + one speech worker) against two
of each, on the same PostgreSQL-backed Prefect server, real episodes end to end (claim, normalize,
transcribe with Whisper base, pair, publish without review). Throughput is audio-hours per hour
of wall time, from `diptych import` to the last episode published; median of --repeat runs; the
one-worker run is the reference (ratio 1.00).

On a 2-core machine expect little gain from two workers: transcription already uses both cores
(torch's threads), so a second speech worker mostly shares the same cores; what two workers save
is the time each run spends starting (a new Python process, imports, the model loaded) while the
other one computes.

    .venv/bin/python benchmarks/batch.py [--episodes 5] [--repeat 1]
"""

from __future__ import annotations

import argparse
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

from pipeline import episodes  # noqa: E402
from pipeline.layout import ProjectLayout  # noqa: E402
from tests.factories import stop_process_groups  # noqa: E402
from tests.flows.postgres import PostgresCluster, free_port, start_cluster  # noqa: E402

SPEECH = ROOT.parent / "shared" / "testdata" / "speech"
CLIPS = [SPEECH / "ej-fra-parts" / f"ej-fra-{n}.wav" for n in (1, 2, 3, 4)] + [SPEECH / "ej-fra.m4a"]
CONFIG = """
[show]
title = "Batch"
language = "fr"
base_url = "https://example.org/podcast/"

[run]
settle_s = 0.5

[review]
required = false
"""


def _diptych(root: Path, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "flows", "--root", str(root), *args], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _catalogue(folder: Path, count: int) -> float:
    """`count` recording + article pairs; their total duration in seconds."""
    from pipeline.audio import probe_audio

    folder.mkdir(parents=True)
    total = 0.0
    for n in range(count):
        clip = CLIPS[n % len(CLIPS)]
        text_file = clip.with_suffix(".txt")
        (folder / f"episode-{n}{clip.suffix}").write_bytes(clip.read_bytes())
        (folder / f"episode-{n}.md").write_text(f"# Episode {n}\n\n{text_file.read_text(encoding='utf-8')}\n",
                                                encoding="utf-8")
        total += probe_audio(folder / f"episode-{n}{clip.suffix}").duration_s
    return total


def run_batch(postgres: PostgresCluster, workers: int, count: int, scratch: Path) -> tuple[float, float]:
    """(wall seconds from import to the last episode published, audio seconds)."""
    database = f"batch_{workers}_{int(time.time() * 1000)}"
    postgres.create_database(database)
    root = scratch / f"project-{database}"
    (root / "inbox").mkdir(parents=True)
    (root / "output").mkdir()
    (root / "diptych.toml").write_text(CONFIG, encoding="utf-8")
    port = free_port()
    env = {**os.environ, "PGPASSWORD": postgres.password, "PREFECT_HOME": str(scratch / database / "prefect")}
    env.pop("PREFECT_API_URL", None)
    url = postgres.url.rsplit("/", 1)[0] + f"/{database}"
    procs = [_diptych(root, "up", "--database", url, "--prefect-port", str(port), "--review-port",
                      str(free_port()), env=env, log=scratch / f"{database}-up.log")]
    try:
        while "watching the inbox" not in (scratch / f"{database}-up.log").read_text(errors="replace"):
            if procs[0].poll() is not None:
                raise SystemExit(f"diptych up stopped: {(scratch / f'{database}-up.log').read_text()[-2000:]}")
            time.sleep(1)
        api = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
        for n in range(workers):
            for pool in ("cpu", "speech"):
                home = {**api, "PREFECT_HOME": str(scratch / database / f"machine-{n}")}
                procs.append(_diptych(root, "worker", "--pool", pool, "--limit", "1", env=home,
                                      log=scratch / f"{database}-{n}-{pool}.log"))
        audio_s = _catalogue(scratch / f"{database}-catalogue", count)
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "flows", "--root", str(root), "import",
                        str(scratch / f"{database}-catalogue")], env=api, check=True, capture_output=True)
        project = ProjectLayout(root=root)
        while True:
            records = episodes.all_records(project)
            if any(str(r.state) == "failed" for r in records):
                raise SystemExit(f"an episode failed: {[(r.slug, r.error) for r in records if r.error]}")
            if len(records) == count and all(str(r.state) == "published" for r in records):
                return time.monotonic() - start, audio_s
            time.sleep(1)
    finally:
        stop_process_groups(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="diptych-batch-"))
    postgres = start_cluster(scratch / "postgres")
    try:
        results: dict[int, list[float]] = {1: [], 2: []}
        audio_s = 0.0
        for _ in range(args.repeat):
            for workers in (1, 2):
                wall_s, audio_s = run_batch(postgres, workers, args.episodes, scratch)
                results[workers].append(wall_s)
                print(f"  {workers} worker(s): {wall_s:.0f} s", file=sys.stderr)
    finally:
        postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    load = os.getloadavg()[0]
    cpu = platform.processor() or platform.machine()
    print(f"\nbatch of {args.episodes} episodes, {audio_s:.0f} s of audio; {cpu}, {os.cpu_count()} cores, "
          f"load {load:.1f}; median of {args.repeat}")
    print(f"{'workers (cpu+speech)':<22}{'wall s':>9}{'audio h/h':>11}{'ratio':>8}")
    reference = statistics.median(results[1])
    for workers, walls in results.items():
        wall = statistics.median(walls)
        print(f"{workers:<22}{wall:>9.0f}{audio_s / wall:>11.2f}{reference / wall:>8.2f}")


if __name__ == "__main__":
    main()
