"""The raw text of an article before Markdown sees it: decoding, front matter, pasted-blog repairs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from pipeline.article.typography import fix_mojibake, fold

_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^(\s*)([-*+]|\d{1,3}[.)])(\s+|$)")
_LONE_BULLET = re.compile(r"^\s*([-*+]|\d{1,3}[.)])\s*$")
# A page template's last line, copied with the article: dropped only when it is the whole last line.
PAGE_JUNK = frozenset(
    fold(s)
    for s in (
        "Laisser un commentaire",
        "Laissez un commentaire",
        "Leave a comment",
        "Leave a reply",
        "Leave a Reply Cancel reply",
        "Répondre",
        "Partager :",
        "Partager cet article",
        "Share this:",
        "Like this:",
        "J’aime ça :",
        "Articles similaires",
        "Related",
        "Kommentar hinterlassen",
        "Deja un comentario",
        "Lascia un commento",
    )
)
# Lines in one paragraph that a writer wrapped by hand are about this long.
_WRAP_MAX_CHARS = 100


def repair_typography(text: str) -> tuple[str, int]:
    return fix_mojibake(text)


def drop_page_junk(text: str) -> tuple[str, str | None]:
    """Remove a trailing "Laisser un commentaire"-style line; return (text, the line or None)."""
    lines = text.rstrip().split("\n")
    if len(lines) > 1 and fold(lines[-1]).strip(" :.") in {j.strip(" :.") for j in PAGE_JUNK}:
        return "\n".join(lines[:-1]) + "\n", lines[-1].strip()
    return text, None


def prepare_markdown(text: str) -> str:
    """Make pasted blog text read as its writer meant it, leaving real Markdown alone.

    - a chunk of long lines without blank lines between them is one paragraph per line;
    - a lone bullet ("-") followed by a line is one list item;
    - a list mixing "-" and "3." is one list (numbered if a number matches its position);
    - a list numbered "1)", "2)" is a numbered list (Markdown reads only "1.").
    """
    lines = _join_lone_bullets(text.split("\n"))
    lines = _unify_list_markers(lines)
    return "\n".join(_split_line_paragraphs(lines))


def _join_lone_bullets(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _LONE_BULLET.match(lines[i])
        if match and i + 1 < len(lines) and lines[i + 1].strip():
            out.append(f"{match.group(1)} {lines[i + 1].strip()}")
            i += 2
            continue
        out.append(lines[i])
        i += 1
    return out


def _unify_list_markers(lines: list[str]) -> list[str]:
    out = list(lines)
    for start, end in _list_runs(lines):
        markers = [_BULLET.match(lines[i]).group(2) for i in range(start, end)]  # type: ignore[union-attr]
        kinds = {m[-1] if m[0].isdigit() else "-" for m in markers}
        if kinds in ({"-"}, {"."}):
            continue  # one kind of list already: Markdown reads it as written
        if kinds == {")"}:
            new = [f"{m[:-1]}." for m in markers]  # "2)" -> "2.": the creator's numbers, as Markdown reads them
        else:
            numbered = any(m[0].isdigit() and int(m[:-1]) == pos + 1 for pos, m in enumerate(markers))
            new = [f"{pos + 1}." if numbered else "-" for pos in range(len(markers))]
        for marker, i in zip(new, range(start, end), strict=True):
            indent = _BULLET.match(lines[i]).group(1)  # type: ignore[union-attr]
            out[i] = f"{indent}{marker} " + _BULLET.sub("", lines[i], count=1)
    return out


def _list_runs(lines: list[str]) -> list[tuple[int, int]]:
    """Runs of consecutive top-level list-item lines (blank lines between items allowed)."""
    runs: list[tuple[int, int]] = []
    items = [i for i, line in enumerate(lines) if _BULLET.match(line) and not line[:1].isspace()]
    start = prev = None
    for i in items:
        if prev is not None and any(lines[j].strip() for j in range(prev + 1, i)):
            runs.append((start, prev + 1))  # type: ignore[arg-type]
            start = None
        start = i if start is None else start
        prev = i
    if start is not None and prev is not None:
        runs.append((start, prev + 1))
    return [r for r in runs if r[1] - r[0] > 1]


def _split_line_paragraphs(lines: list[str]) -> list[str]:
    out: list[str] = []
    chunk: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence or _FENCE.match(line):
            out.extend(_flush(chunk))
            out.append(line)
        elif line.strip():
            chunk.append(line)
        else:
            out.extend(_flush(chunk))
            out.append(line)
    out.extend(_flush(chunk))
    return out


def _flush(chunk: list[str]) -> list[str]:
    lines = list(chunk)
    chunk.clear()
    if len(lines) < 2 or _hand_wrapped(lines):
        return lines
    out: list[str] = []
    for line in lines:
        continuation = line[:1].isspace() or line.lstrip().startswith(("|", ">"))
        if out and not continuation:
            out.append("")
        out.append(line)
    return out


def _hand_wrapped(lines: list[str]) -> bool:
    """Short lines in one chunk are one paragraph wrapped by hand (Markdown's own rule)."""
    return all(len(line) <= _WRAP_MAX_CHARS for line in lines[:-1])


@dataclass(frozen=True)
class HtmlPage:
    body: str
    meta: dict[str, Any]


class _PageScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, Any] = {}
        self.main_at: tuple[int, int] | None = None
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "html" and values.get("lang"):
            self.meta["language"] = values["lang"].split("-")[0].lower()
        elif tag == "title":
            self._in_title = True
        elif tag == "meta" and values.get("name", "").lower() == "description":
            self.meta["description"] = values.get("content", "")
        elif tag in ("article", "main") and self.main_at is None:
            self.main_at = self.getpos()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            title = " ".join("".join(self._title).split())
            if title:
                self.meta["title"] = title

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)


def read_html_page(text: str) -> HtmlPage:
    """The article part of a saved page (its <article> or <main> if any) and its title/language."""
    scanner = _PageScanner()
    scanner.feed(text)
    scanner.close()
    body = text
    if scanner.main_at is not None:
        body = _from_position(text, scanner.main_at)
        ends = [body.lower().rfind(tag) for tag in ("</article>", "</main>")]
        if max(ends) > 0:
            body = body[: max(ends)]
    return HtmlPage(body=body, meta=scanner.meta)


def _from_position(text: str, pos: tuple[int, int]) -> str:
    line, col = pos
    lines = text.split("\n")
    return "\n".join(lines[line - 1 :])[col:]
