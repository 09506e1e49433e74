"""The reliability corpus's fixture: a show folder with a bystander episode and a secret beside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import episodes
from pipeline.layout import ProjectLayout
from tests.reliability.corpus import BYSTANDER, SECRET, SHOW_TOML, Show


@pytest.fixture
def show(tmp_path: Path) -> Iterator[Show]:
    """A show folder with settings, an inbox, one bystander episode, and a secret beside it."""
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    root = tmp_path / "show"
    (root / "inbox").mkdir(parents=True)
    (root / "output").mkdir()
    (root / "diptych.toml").write_text(SHOW_TOML, encoding="utf-8")
    project = ProjectLayout(root=root)
    case = Show(project=project, secret=secret)
    # An episode already in the workspace with its article (no recording, so that `diptych run` has
    # no work on it): whatever a case does, its files stay byte for byte as they are.
    layout = project.episode(BYSTANDER)
    layout.source_dir.mkdir(parents=True)
    layout.source_file(f"{BYSTANDER}.md").write_text("# The bystander\n\nAn episode no case may touch.\n")
    episodes.create_record(layout, title="The bystander", source_article=f"{BYSTANDER}.md")
    yield case
