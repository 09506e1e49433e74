"""The validators the tests run on what diptych publishes (no tests here).

- podcast-partytime, the Podcast Index's own feed parser (npm), run with node;
- axe-core (npm), run inside the real browser on a loaded page;
- the Nu HTML Checker (npm `vnu-jar`), run with Java.

They are pinned in tests/validators/package.json and its lockfile; `make test` installs them (and
node, npm and Java with scripts/system-deps.sh --test). A test run without them installs them here
the same way, so that `pytest` alone works too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

VALIDATORS = Path(__file__).parent / "validators"
MODULES = VALIDATORS / "node_modules"
AXE = MODULES / "axe-core" / "axe.min.js"
VNU = MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"'{program}' is missing: run 'scripts/system-deps.sh --test' as root (make test does)")
    return path


@cache
def installed() -> Path:
    """tests/validators/node_modules as the lockfile says (npm ci, without install scripts: vnu-jar's
    would download a Java runtime; Debian's is used instead)."""
    lock = VALIDATORS / "package-lock.json"
    stamp = MODULES / ".diptych-lock"
    if not stamp.is_file() or stamp.read_bytes() != lock.read_bytes():
        npm = _need("npm")
        cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(VALIDATORS)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"npm ci in {VALIDATORS} failed: {done.stderr.strip()[-500:]}")
        stamp.write_bytes(lock.read_bytes())
    return MODULES


def partytime(feed: Path) -> dict[str, object]:
    """What podcast-partytime makes of a feed file: the Podcasting 2.0 tags it recognised
    (`pc20support`, by phase), every podcast: tag it knows (`known`), and some parsed values."""
    installed()
    done = subprocess.run(
        [_need("node"), str(VALIDATORS / "feed-tags.js"), str(feed)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PARTYTIME_LOG": "silent"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def vnu_messages(pages: list[Path]) -> list[dict[str, object]]:
    """The Nu HTML Checker's errors and warnings on each page (type 'error', or 'info' + 'warning')."""
    installed()
    done = subprocess.run(
        [_need("java"), "-jar", str(VNU), "--format", "json", "--exit-zero-always", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return list(json.loads(done.stderr or done.stdout)["messages"])


def vnu_errors(pages: list[Path]) -> dict[str, list[str]]:
    """The errors on each page ("line: message"), every page listed, by its path."""
    found: dict[str, list[str]] = {str(p.resolve()): [] for p in pages}
    for message in vnu_messages(pages):
        if message.get("type") in ("error", "non-document-error"):
            path = str(Path(unquote(urlsplit(str(message.get("url"))).path)).resolve())
            found.setdefault(path, []).append(f"{message.get('lastLine')}: {message['message']}")
    return found


def axe_violations(page: object, *, context: str = "document") -> list[dict[str, object]]:
    """axe-core's violations on the page as the browser shows it now (every rule axe runs by default)."""
    installed()
    page.add_script_tag(path=str(AXE))  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        f"async () => (await axe.run({context}, {{resultTypes: ['violations']}})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result
    ]
