"""The bundled demo through `diptych run --approve`, as `make run` does: published, with its
spoken aside (not in the article) found as an audio-only passage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from pipeline import demo, episodes

pytestmark = pytest.mark.integration


def _spoken_seconds(text: str, tmp: Path) -> float:
    wav = tmp / "part.wav"
    subprocess.run(["espeak-ng", "-v", demo.VOICE, "-s", str(demo.WORDS_PER_MINUTE), "-w", str(wav), text],
                   check=True, capture_output=True)
    with wave.open(str(wav)) as fh:
        return fh.getnframes() / fh.getframerate()


def test_demo_is_published_and_its_aside_is_audio_only(project, tmp_path):
    shutil.copy(demo.DEMO_DIR.parent / "diptych.toml", project.root / "diptych.toml")
    (project.root / "demo").mkdir()
    shutil.copy(demo.DEMO_DIR / "cover.jpg", project.root / "demo" / "cover.jpg")
    assert demo.drop_demo(project)
    assert not demo.drop_demo(project)  # only into an empty inbox

    run = subprocess.run([sys.executable, "-m", "flows", "--root", str(project.root), "run", "--approve"],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    layout = project.episode(demo.DEMO_NAME)
    record = episodes.load_record(layout)
    assert record.state == "published" and record.language == "fr"
    assert (project.site_dir / demo.DEMO_NAME / "index.html").exists()
    assert "diptych review 2026-03-recap" in demo.summary(project)

    # Where the aside is, from the script's own paragraphs spoken alone.
    paragraphs = (demo.DEMO_DIR / f"{demo.DEMO_NAME}.script.txt").read_text(encoding="utf-8").split("\n\n")
    aside_index = next(i for i, p in enumerate(paragraphs) if "Petite parenthèse" in p)
    before = _spoken_seconds(" ".join(paragraphs[:aside_index]), tmp_path)
    aside = _spoken_seconds(paragraphs[aside_index], tmp_path)
    offset = json.loads(layout.loudness_json.read_text(encoding="utf-8"))["offset_s"]
    start = 1.5 + before - offset
    end = start + aside - 0.5
    pairing = json.loads(layout.pairing_json.read_text(encoding="utf-8"))
    covered = sum(
        max(0.0, min(end, span["end_s"]) - max(start, span["start_s"])) for span in pairing["audio_only"]
    )
    assert covered / (end - start) >= 0.8, (start, end, pairing["audio_only"])
