"""Article text on disk: decoding (UTF-8, else Windows-1252/Latin-1) and YAML front matter.

The one place that reads them, for the inbox (slug, title), the stages (episode settings) and
the article reader.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ArticleError

FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def decode_text(data: bytes, *, name: str) -> tuple[str, list[str]]:
    """(text with \\n line ends, warnings). UTF-8 with or without BOM; else Windows-1252 or
    Latin-1 with a warning; binary is refused."""
    if b"\x00" in data[:4096]:
        raise ArticleError(f"{name}: is not a text file; save the article as Markdown, text or HTML")
    warnings: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        for encoding in ("cp1252", "latin-1"):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            warnings.append(f"{name}: not UTF-8, read as {encoding}; save it as UTF-8 to be sure")
            break
    return text.replace("\r\n", "\n").replace("\r", "\n"), warnings


def split_front_matter(text: str, *, name: str) -> tuple[dict[str, Any], str]:
    """Return (front matter, body). No front matter: ({}, text)."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise ArticleError(f"{name}: front matter is not valid YAML{where}; fix it or remove it") from exc
    except (ValueError, TypeError, OverflowError) as exc:
        # YAML's own value constructors: `date: 2026-13-45` is a timestamp with no such day.
        raise ArticleError(f"{name}: front matter has a value that cannot be read ({exc}); fix it") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ArticleError(f"{name}: front matter must be 'key: value' lines between the --- lines")
    return {str(k): v for k, v in data.items()}, text[match.end():]


def read_front_matter(path: Path) -> dict[str, Any]:
    text, _ = decode_text(path.read_bytes(), name=path.name)
    return split_front_matter(text, name=path.name)[0]
