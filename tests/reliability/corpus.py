"""Helpers of the standing corpus of bad input, faults and requests: what each case must leave behind.

Every case runs against a show folder holding one bystander episode and a secret file beside the
folder, and checks, besides its own line and exit code:
- the originals: every file that was in the show folder is where it was with the same sha256, or
  (a claimed drop) in an episode's source/ with the same sha256;
- the other episodes: the bystander's workspace is byte for byte what it was;
- containment: nothing new outside output/, nothing changed beside the show folder, and the
  secret's text published nowhere under output/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.layout import ProjectLayout
from pipeline.store import sha256_file

SECRET = "root:x:0:0:the secret beside the show folder:/root:/bin/bash\n"
BYSTANDER = "bystander"
SHOW_TOML = """[show]
title = "Reliability"
author = "Tester"
owner_email = "tester@example.org"
language = "en"
base_url = "https://example.org/podcast/"
"""


def settle(*paths: Path) -> None:
    """Make files look settled (last changed a minute ago), links included."""
    past = time.time() - 60
    for path in paths:
        os.utime(path, (past, past), follow_symlinks=False)


def _files(folder: Path, *, skip: Path | None = None) -> dict[str, str]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if skip is not None and path.is_relative_to(skip):
            continue
        if path.is_symlink():
            found[str(path.relative_to(folder))] = "link:" + os.readlink(path)
        elif path.is_file():
            found[str(path.relative_to(folder))] = sha256_file(path)
    return found


@dataclass
class Show:
    """A show folder for one case, and what it held before the case ran."""

    project: ProjectLayout
    secret: Path
    before: dict[str, str] = field(default_factory=dict)
    bystander_before: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def inbox(self) -> Path:
        return self.project.inbox

    def write(self, rel: str, data: bytes | str) -> Path:
        """A file in the inbox, settled."""
        path = self.inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        settle(path)
        return path

    def mark(self) -> None:
        """Remember everything, once the case's drops are in place."""
        self.before = _files(self.root, skip=self.project.output)
        self.bystander_before = _files(self.project.episode(BYSTANDER).root)
        self.outside_before = _files(self.secret.parent, skip=self.root)

    def check(self) -> None:
        """The originals, the other episodes and containment, as the module docstring says."""
        assert self.before, "mark() the show before the case runs"
        now = _files(self.root, skip=self.project.output)
        sources = {sha for rel, sha in _files(self.project.episodes_dir).items() if "/source/" in f"/{rel}"}
        for rel, sha in self.before.items():
            assert now.get(rel) == sha or (rel.startswith("inbox/") and rel not in now and sha in sources), rel
        assert set(now) <= set(self.before), f"written outside output/: {sorted(set(now) - set(self.before))}"
        assert _files(self.project.episode(BYSTANDER).root) == self.bystander_before, "the bystander changed"
        assert _files(self.secret.parent, skip=self.root) == self.outside_before, "written beside the show"
        for path in self.project.output.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert b"the secret beside" not in path.read_bytes(), f"the secret is in {path}"
            assert not path.is_symlink() or path.resolve().is_relative_to(self.project.output), path


def one_line(text: str) -> str:
    """The only line of `text` (an error or a message): a person reads one line, no traceback."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def diptych(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real command line, as a person types it."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("diptych")), "--root", str(root), *args],
        capture_output=True, text=True, timeout=timeout, env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)
