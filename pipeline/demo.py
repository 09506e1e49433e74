"""The bundled demo episode: a French monthly recap and its recording, made offline with espeak-ng.

`python -m pipeline.demo --root . --into-inbox` drops it into inbox/ when the inbox is empty;
`--summary` says where the results are.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.errors import DiptychError
from pipeline.inbox import find_drops
from pipeline.layout import ProjectLayout

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_NAME = "2026-03-recap"
VOICE = "fr"
WORDS_PER_MINUTE = 150


def synthesize(script: Path, dest: Path) -> None:
    """Speak the script with espeak-ng, pad it with a little room tone, encode it as AAC (.m4a)."""
    if shutil.which("espeak-ng") is None:
        raise DiptychError("espeak-ng is needed to record the demo: sudo apt-get install -y espeak-ng")
    if shutil.which("ffmpeg") is None:
        raise DiptychError("ffmpeg is needed: sudo apt-get install -y ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "voice.wav"
        subprocess.run(
            ["espeak-ng", "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(wav), "-f", str(script)],
            check=True, capture_output=True,
        )
        # 1.5 s of quiet noise before and 2 s after, as a real recording has; stereo at 44.1 kHz.
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav),
             "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.002:duration=200:seed=7",
             "-filter_complex",
             "[0:a]aresample=44100,adelay=1500|1500,apad=pad_dur=2[v];"
             "[1:a]aresample=44100[n];[v][n]amix=inputs=2:duration=first:normalize=0,"
             "volume=-6dB,pan=stereo|c0=c0|c1=c0",
             "-c:a", "aac", "-b:a", "128k", "-map_metadata", "-1", "-fflags", "+bitexact", str(dest)],
            check=True, capture_output=True,
        )


def drop_demo(project: ProjectLayout) -> bool:
    """Put the demo drop in the inbox when the inbox is empty and the demo is not processed yet."""
    drops, _ = find_drops(project.inbox)
    if drops or (project.episodes_dir / DEMO_NAME).exists():
        return False
    project.inbox.mkdir(parents=True, exist_ok=True)
    partial = project.inbox / f".{DEMO_NAME}.m4a"
    synthesize(DEMO_DIR / f"{DEMO_NAME}.script.txt", partial)
    shutil.copyfile(DEMO_DIR / f"{DEMO_NAME}.md", project.inbox / f"{DEMO_NAME}.md")
    partial.rename(project.inbox / f"{DEMO_NAME}.m4a")
    return True


def summary(project: ProjectLayout) -> str:
    episode = project.episodes_dir / DEMO_NAME
    page = project.site_dir / DEMO_NAME / "index.html"
    lines = [
        "",
        "The demo episode:",
        f"  workspace     {episode}/  (source, audio/master.mp3, transcript/, pairing.json, state.json)",
    ]
    if page.exists():
        lines += [
            f"  episode page  {page}",
            f"  feed          {project.site_dir / 'feed.xml'}",
            "  preview       .venv/bin/diptych preview   (then open http://127.0.0.1:8000/)",
        ]
    lines += [f"  review        .venv/bin/diptych review {DEMO_NAME}   (opens http://127.0.0.1:8765/)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.demo")
    parser.add_argument("--root", default=".")
    parser.add_argument("--into-inbox", action="store_true")
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args(argv)
    project = ProjectLayout(root=Path(args.root).resolve())
    try:
        if args.into_inbox:
            if drop_demo(project):
                sys.stdout.write(f"demo episode dropped in {project.inbox}/\n")
        if args.summary:
            sys.stdout.write(summary(project) + "\n")
    except DiptychError as exc:
        sys.stderr.write(f"diptych: error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
