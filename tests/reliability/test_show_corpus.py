"""A new show: settings and the files they name are checked when a command starts, in one line;
`diptych init` makes a show folder of one's own to fill in. The real command line, exit codes included."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.new_show import code_checkout
from tests.factories import PROJECT_ROOT
from tests.reliability.corpus import SHOW_TOML, Show, diptych, one_line


@pytest.mark.parametrize(
    ("command", "setting", "line"),
    [
        ("run", 'cover = "demo/cover.jpg"', "show.cover = 'demo/cover.jpg' not found in {root}: put the show's"),
        ("publish", 'cover = "demo/cover.jpg"', "show.cover = 'demo/cover.jpg' not found in {root}: put the show's"),
        ("run", 'cover = "diptych.toml"', "show.cover = 'diptych.toml' is not an image (cannot identify image file"),
        ("run", 'base_url = "example.org/podcast"', "show.base_url = 'example.org/podcast' is not a web address"),
        ("up", 'title = ""', "show.title is empty: fill it in {root}/diptych.toml"),
    ],
)
def test_settings_are_checked_before_any_work(show: Show, command: str, setting: str, line: str) -> None:
    key = setting.split(" = ")[0]
    kept = [row for row in SHOW_TOML.splitlines() if not row.startswith(f"{key} =")]
    (show.root / "diptych.toml").write_text("\n".join([*kept, setting]) + "\n", encoding="utf-8")
    show.write("waiting.mp3", b"ID3 a drop that must not be claimed")
    show.write("waiting.md", "# Waiting\n\ntext\n")
    show.mark()
    started = time.monotonic()
    result = diptych(show.root, command)
    assert result.returncode == 1 and result.stdout == ""
    assert one_line(result.stderr).startswith(f"diptych: error: {line.format(root=show.root)}")
    assert time.monotonic() - started < 30  # before Prefect starts or any drop is claimed
    assert (show.inbox / "waiting.mp3").exists()
    show.check()


def test_the_repository_settings_copied_elsewhere_fail_at_once(tmp_path: Path) -> None:
    """The README's `--root` with a copy of the checkout's diptych.toml: its demo cover is not there."""
    root = tmp_path / "my-show"
    (root / "inbox").mkdir(parents=True)
    (root / "diptych.toml").write_bytes((PROJECT_ROOT / "diptych.toml").read_bytes())
    result = diptych(root, "run")
    assert result.returncode == 1
    assert one_line(result.stderr).startswith(f"diptych: error: show.cover = 'demo/cover.jpg' not found in {root}")


def test_init_makes_a_show_folder_that_asks_to_be_filled_in(tmp_path: Path) -> None:
    root = tmp_path / "my-show"
    made = diptych(root, "init", str(root))
    assert made.returncode == 0 and made.stderr == ""
    assert "fill in" in made.stdout and "show.title, show.author, show.owner_email, show.language, show.base_url" \
        in made.stdout and str(root / "cover.jpg") in made.stdout
    config = (root / "diptych.toml").read_text(encoding="utf-8")
    for key in ("title", "author", "owner_email", "language", "cover", "base_url"):
        assert f"\n{key} = " in config
    assert config.count("\n#") >= 10  # commented
    assert (root / "inbox" / "README.md").read_bytes() == (PROJECT_ROOT / "inbox" / "README.md").read_bytes()
    assert (root / "output").is_dir()
    first_run = diptych(root, "run")
    assert first_run.returncode == 1
    assert one_line(first_run.stderr) == f"diptych: error: show.title is empty: fill it in {root}/diptych.toml " \
        "(see the comment above it)"
    again = diptych(root, "init", str(root))
    assert again.returncode == 1 and "already exists" in one_line(again.stderr)


def test_init_refuses_a_folder_inside_the_code(tmp_path: Path) -> None:
    inside = code_checkout() / "my-show"
    result = diptych(tmp_path, "init", str(inside))
    assert result.returncode == 1 and "is inside diptych's code" in one_line(result.stderr)
    assert not inside.exists()
