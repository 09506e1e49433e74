"""`diptych init DIR`: a show folder of one's own, outside diptych's code, ready to be filled in.

It holds a commented `diptych.toml` whose empty values the creator fills in, `inbox/` with its
README, and `output/`. Nothing that exists is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipeline.errors import ConfigError

# What the template leaves for the creator to fill in, in the order diptych.toml asks for it.
TO_FILL = ("show.title", "show.author", "show.owner_email", "show.language", "show.base_url")


@dataclass(frozen=True)
class NewShow:
    root: Path
    config_file: Path
    cover: Path  # where the cover is expected
    to_fill: tuple[str, ...]


def code_checkout() -> Path:
    """The folder holding diptych's own code (the checkout, or site-packages when installed)."""
    return Path(__file__).resolve().parents[1]


def create_show(folder: Path) -> NewShow:
    root = folder.expanduser().resolve()
    code = code_checkout()
    if root == code or root.is_relative_to(code):
        raise ConfigError(
            f"{root} is inside diptych's code ({code}): make the show folder elsewhere, e.g. 'diptych init ~/my-show'"
        )
    config_file = root / "diptych.toml"
    if config_file.exists():
        raise ConfigError(f"{config_file} already exists: this is already a show folder (nothing was changed)")
    data = resources.files("pipeline") / "data"
    (root / "inbox").mkdir(parents=True, exist_ok=True)
    (root / "output").mkdir(exist_ok=True)
    readme = root / "inbox" / "README.md"
    if not readme.exists():
        readme.write_text((data / "inbox-README.md").read_text(encoding="utf-8"), encoding="utf-8")
    config_file.write_text((data / "show-diptych.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return NewShow(root=root, config_file=config_file, cover=root / "cover.jpg", to_fill=TO_FILL)
