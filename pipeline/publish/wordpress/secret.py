"""The blog's application password: from the environment or a file only its owner can read;
never from diptych.toml, never in a log line or a message."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from pipeline.config import Settings
from pipeline.errors import ConfigError

PASSWORD_ENV = "DIPTYCH_WORDPRESS_PASSWORD"


def read_password(settings: Settings, *, root: Path, environ: Mapping[str, str]) -> SecretStr:
    """DIPTYCH_WORDPRESS_PASSWORD, else the file wordpress.password_file names (mode 0600)."""
    if value := environ.get(PASSWORD_ENV, "").strip():
        return SecretStr(value)
    name = settings.wordpress.password_file
    if name is None:
        raise ConfigError(
            f"no application password for WordPress at {settings.wordpress.url}: set {PASSWORD_ENV}, or "
            "wordpress.password_file in diptych.toml to a file holding it (chmod 600)"
        )
    path = name if name.is_absolute() else root / name
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the WordPress password file ({exc.strerror}); fix "
                          "wordpress.password_file in diptych.toml") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: others can read this password file (mode {stat.S_IMODE(mode):o}); "
                          f"run 'chmod 600 {path}'")
    if not text:
        raise ConfigError(f"{path}: the WordPress password file is empty; put the application password in it")
    return SecretStr(text)
