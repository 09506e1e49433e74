"""The whole pipeline through real Prefect runs of `diptych run`, on a real recording."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import episodes
from pipeline.store import sha256_file

pytestmark = pytest.mark.integration

CONFIG = """
[show]
title = "Test show & co"
author = "Eric"
owner_email = "eric@example.org"
language = "fr"
base_url = "https://example.org/podcast/"

[run]
settle_s = 0.5
"""


def diptych(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "flows", "--root", str(root), *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def _settled(*paths: Path) -> None:
    past = time.time() - 60
    for p in paths:
        os.utime(p, (past, past))


def _article(speech: Path, extra: str = "") -> str:
    text = (speech / "ej-fra.txt").read_text(encoding="utf-8").strip()
    return f"---\ntitle: Présentation d'Éric\nlanguage: fr\n---\n\n# Présentation\n\n{text}\n{extra}"


def test_run_review_publish_rerun_and_article_fix(project, speech):
    root = project.root
    (root / "diptych.toml").write_text(CONFIG, encoding="utf-8")
    audio = project.inbox / "ej-fra.m4a"
    audio.write_bytes((speech / "ej-fra.m4a").read_bytes())
    (project.inbox / "ej-fra.md").write_text(_article(speech), encoding="utf-8")
    bad = project.inbox / "broken.mp3"
    bad.write_text("this is a text file, not a recording\n", encoding="utf-8")
    _settled(*project.inbox.iterdir())
    original_sha = sha256_file(audio)

    first = diptych(root, "run")
    assert first.returncode == 1, first.stdout + first.stderr  # one episode failed
    good = episodes.load_record(project.episode("ej-fra"))
    assert good.state == "awaiting_review", first.stdout + first.stderr
    assert good.language == "fr" and 25 < (good.duration_s or 0) < 40
    broken = episodes.load_record(project.episode("broken"))
    assert broken.state == "failed" and broken.error and broken.error.stage == "normalize"
    assert "broken.mp3" in broken.error.message and "\n" not in broken.error.message
    assert "broken: failed" in first.stdout
    # The originals are kept, unchanged.
    layout = project.episode("ej-fra")
    assert sha256_file(layout.source_file("ej-fra.m4a")) == original_sha
    assert project.episode("broken").source_file("broken.mp3").read_text(encoding="utf-8").startswith("this is")

    status = diptych(root, "status", "--json")
    rows = {r["slug"]: r for r in json.loads(status.stdout)}
    assert rows["ej-fra"]["state"] == "awaiting_review" and rows["broken"]["state"] == "failed"
    assert rows["ej-fra"]["language"] == "fr"

    approve = diptych(root, "approve", "ej-fra")
    assert approve.returncode == 0, approve.stderr
    assert episodes.load_record(layout).state == "published"
    page = root / "output" / "site" / "ej-fra" / "index.html"
    assert page.exists() and (root / "output" / "site" / "feed.xml").exists()

    # A re-run with nothing new does no work for the published episode.
    history = len(episodes.load_record(layout).history)
    draft_mtime = layout.draft_json.stat().st_mtime_ns
    bad_file = project.episode("broken").source_file("broken.mp3")
    bad_file.rename(project.root / "broken.mp3")  # out of the way: the next run should succeed
    second = diptych(root, "run")
    record = episodes.load_record(layout)
    assert len(record.history) == history, second.stdout + second.stderr
    assert layout.draft_json.stat().st_mtime_ns == draft_mtime

    # The creator fixes the article: paired and published again, not transcribed again.
    fixed = project.inbox / "ej-fra.md"
    fixed.write_text(_article(speech, "\nUn paragraphe ajouté après coup, jamais dit dans l'épisode.\n"),
                     encoding="utf-8")
    _settled(fixed)
    pairing_before = layout.pairing_json.read_bytes()
    third = diptych(root, "run")
    assert layout.draft_json.stat().st_mtime_ns == draft_mtime, third.stdout + third.stderr
    assert layout.pairing_json.read_bytes() != pairing_before
    pairing = json.loads(layout.pairing_json.read_text(encoding="utf-8"))
    assert pairing["blocks"][-1]["status"] == "text_only"
    assert "ajouté après coup" in page.read_text(encoding="utf-8")
    assert episodes.load_record(layout).state == "published"
