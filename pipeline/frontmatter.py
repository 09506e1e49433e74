"""YAML front matter at the top of an article, and decoding of not-UTF-8 text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ArticleError

FRONT_MATTER_RE = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


def decode_text(data: bytes, *, name: str) -> tuple[str, list[str]]:
    """UTF-8 when it is; otherwise Windows-1252 (a superset of Latin-1 in practice), with a warning."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text, [f"{name} is not UTF-8: read it as Windows-1252/Latin-1; save it as UTF-8 to be sure"]


def split_front_matter(text: str, *, name: str) -> tuple[dict[str, Any], str]:
    """Return (front matter, body). No front matter: ({}, text)."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 2})" if line is not None else ""
        raise ArticleError(f"{name}: the front matter is not valid YAML{where}: fix it or remove it") from exc
    if not isinstance(data, dict):
        raise ArticleError(f"{name}: the front matter must be 'key: value' lines between '---' lines")
    return data, text[match.end():]


def read_front_matter(path: Path) -> dict[str, Any]:
    text, _ = decode_text(path.read_bytes(), name=path.name)
    return split_front_matter(text, name=path.name)[0]
