"""WordPress shortcodes in a pasted article: known ones become HTML, unknown ones leave their text.

`[box type="note"]…[/box]` becomes an `<aside>`, `[caption]<img …> text[/caption]` a `<figure>` with
its `<figcaption>`. Attribute values may be quoted with curly or French quotes (`type= »note »`),
as a copy out of a WordPress page gives them. Markdown links (`[text](url)`, `[text][ref]`) and
bracketed words with no attributes and no closing tag (`[sic]`) are text, not shortcodes; a tag with
a closing tag (`[vc_row][vc_column]…[/vc_column][/vc_row]`), with attributes, or with a page
builder's `_` in its name (`[vc_empty_space]`) is one, and an opening cut off before its `]`
(`[vc_column width="1/2"` at a line's end) is removed too. `[unclosed [double]` stays text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from pipeline.article.typography import NBSP_CHARS

# Shortcodes that frame a note beside the text: rendered as <aside class="note|…">.
ASIDE_CODES = frozenset({"box", "note", "info", "alert", "warning", "tip", "notice", "callout"})
CAPTION_CODES = frozenset({"caption", "wp_caption"})

_OPEN = re.compile(r"\[([a-z][a-z0-9_-]*)((?:[ \u00a0\u202f]+[^\]\n]*)?)\]")
# An opening tag with attributes whose `]` never comes before the end of its line.
_CUT_OFF = re.compile(
    r"\[([a-z][a-z0-9_-]*)(?:[ \u00a0\u202f]+[a-z_][\w-]*\s*=\s*[\"“”„«»″'’‘][^\]\[\n]*)+(?=\n|\Z)", re.IGNORECASE
)
_CLOSE = "[/{name}]"
_ESCAPED = re.compile(r"\[\[([a-z][^\]\n]*)\]\]")
_ATTR = re.compile(r"([a-z_][\w-]*)\s*=\s*\"([^\"]*)\"", re.IGNORECASE)
_QUOTES = str.maketrans({c: '"' for c in "“”„«»″‟'’‘"} | {c: " " for c in NBSP_CHARS})
_LEADING_TAGS = re.compile(r"^\s*((?:<(?:a|img)\b[^>]*>\s*|</a>\s*)+)", re.IGNORECASE)
_CLASS_OK = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_ESCAPE_MARK = "\u0000sc\u0000"


@dataclass(frozen=True)
class ShortcodeResult:
    text: str
    known: tuple[str, ...]  # names rendered as HTML
    dropped: tuple[str, ...]  # names removed, their inner text kept


def parse_attributes(raw: str) -> dict[str, str]:
    """`type= »note » id=3` -> {"type": "note"}; curly and French quotes count as quotes."""
    normalized = raw.translate(_QUOTES)
    return {k.lower(): v.strip() for k, v in _ATTR.findall(normalized)}


def expand_shortcodes(text: str) -> ShortcodeResult:
    """Replace every shortcode in a Markdown/plain article; return the new text and what was done."""
    text = _ESCAPED.sub(lambda m: f"{_ESCAPE_MARK}{m.group(1)}{_ESCAPE_MARK}", text)
    known: list[str] = []
    dropped: list[str] = []
    pos = 0
    out: list[str] = []
    text = _CUT_OFF.sub(lambda m: _drop_name(m, dropped), text)
    while match := _OPEN.search(text, pos):
        name, attrs = match.group(1), match.group(2)
        close_at = text.find(_CLOSE.format(name=name), match.end())
        if not _is_shortcode(text, match, closed=close_at >= 0):
            out.append(text[pos : match.end()])  # "[sic]", "[text](url)": not a shortcode
            pos = match.end()
            continue
        out.append(text[pos : match.start()])
        inner = text[match.end() : close_at] if close_at >= 0 else ""
        out.append(_render(name, parse_attributes(attrs), inner, known, dropped))
        pos = close_at + len(_CLOSE.format(name=name)) if close_at >= 0 else match.end()
    out.append(text[pos:])
    result = _unescape_marks(_strip_stray_closers("".join(out), dropped))
    return ShortcodeResult(result, tuple(known), tuple(dict.fromkeys(dropped)))


def _drop_name(match: re.Match[str], dropped: list[str]) -> str:
    dropped.append(match.group(1))
    return ""


def _is_shortcode(text: str, match: re.Match[str], *, closed: bool) -> bool:
    following = text[match.end() : match.end() + 1]
    if following == "(":
        return False  # a Markdown link
    if closed or "=" in match.group(2) or "_" in match.group(1):
        return True
    return False  # a bracketed word, or a Markdown reference `[text][ref]` / `[ref]: url`


def _unescape_marks(text: str) -> str:
    parts = text.split(_ESCAPE_MARK)
    # parts alternate: outside, escaped name, outside, ...
    return "".join(f"[{p}]" if i % 2 else p for i, p in enumerate(parts))


def _strip_stray_closers(text: str, dropped: list[str]) -> str:
    def drop(m: re.Match[str]) -> str:
        dropped.append(m.group(1))
        return ""

    return re.sub(r"\[/([a-z][a-z0-9_-]*)\]", drop, text)


def _render(name: str, attrs: dict[str, str], inner: str, known: list[str], dropped: list[str]) -> str:
    if name in ASIDE_CODES:
        known.append(name)
        kind = attrs.get("type", name).lower()
        css = kind if _CLASS_OK.match(kind) else "note"
        body = expand_shortcodes(inner.strip())
        return f'\n\n<aside class="{css}" markdown="1">\n\n{body.text}\n\n</aside>\n\n'
    if name in CAPTION_CODES:
        known.append(name)
        return _render_caption(inner, attrs)
    dropped.append(name)
    if not inner:
        return ""
    nested = expand_shortcodes(inner)
    known.extend(nested.known)
    dropped.extend(nested.dropped)
    return nested.text


def _render_caption(inner: str, attrs: dict[str, str]) -> str:
    media = ""
    match = _LEADING_TAGS.match(inner)
    if match:
        media = match.group(1).strip()
        inner = inner[match.end() :]
    caption = inner.strip() or attrs.get("caption", "")
    figcaption = f"<figcaption>{html.escape(caption, quote=False)}</figcaption>" if caption else ""
    return f"\n\n<figure>{media}{figcaption}</figure>\n\n"
