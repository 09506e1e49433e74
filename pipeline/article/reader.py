"""Reading the creator's article: front matter, blocks with anchors, rendered HTML.

Articles arrive as creators have them: Markdown with YAML front matter, plain text pasted out of a
blog (one paragraph per line, WordPress shortcodes, broken list numbering, a trailing "Leave a
comment"), or a saved HTML page. Every form ends as the same `Article`: sanitized HTML whose blocks
carry stable ids, and the blocks' plain text for pairing with the recording.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markdown

from pipeline.article import text as article_text
from pipeline.article.frontmatter import decode_text, split_front_matter
from pipeline.article.html import extract_blocks, render, sanitize
from pipeline.article.images import image_refs
from pipeline.article.language import detect_language
from pipeline.article.shortcodes import expand_shortcodes
from pipeline.article.typography import fold
from pipeline.errors import ArticleError
from pipeline.models import ListPlace

log = logging.getLogger(__name__)

SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm"})
MARKDOWN_EXTENSIONS = ["extra", "sane_lists"]


@dataclass(frozen=True)
class ArticleBlock:
    index: int  # position in the article, from 0
    kind: str  # "heading", "paragraph", "list_item", "quote", "aside", "code", "image" (a picture alone)
    text: str  # plain text, typography kept (« », ’)
    html: str  # sanitized HTML of this block alone
    anchor: str  # id used on the published page, unique within the article
    level: int | None = None  # heading level 1-6
    # The heading that gave the article its title; Article.html leaves it out (the page shows the
    # title itself, with this block's anchor as its id).
    is_title: bool = False
    list_place: ListPlace | None = None  # list items: which list, bullets or numbers, number, depth


@dataclass(frozen=True)
class Article:
    title: str | None
    front_matter: dict[str, Any]
    blocks: tuple[ArticleBlock, ...]
    html: str  # the whole article, sanitized, with the blocks' anchors as ids
    language: str | None  # from front matter, else detected, else None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # The pictures it shows from files beside it ('photo.jpg', 'img/x.jpg'), in order, each once.
    images: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)

    @property
    def word_count(self) -> int:
        return sum(len(b.text.split()) for b in self.blocks)


def read_article(path: Path) -> Article:
    """Read a .md/.markdown/.txt/.html article; raise ArticleError with the file's name on failure."""
    warnings: list[str] = []
    front_matter, body_html = _read_body(path, warnings)
    return _build_article(body_html, front_matter, warnings)


def read_image_refs(path: Path) -> tuple[str, ...]:
    """The pictures an article shows from files beside it, as `Article.images`, read quietly (the
    inbox looks often); raise ArticleError as read_article does."""
    _, body_html = _read_body(path, [])
    return image_refs(sanitize(body_html))


def _read_body(path: Path, warnings: list[str]) -> tuple[dict[str, Any], str]:
    """(front matter, body HTML not yet sanitized), adding what was repaired to `warnings`."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ArticleError(
            f"{path.name}: articles must be .md, .markdown, .txt or .html; rename or convert the file"
        )
    text, decoding = decode_text(_read_bytes(path), name=path.name)
    warnings.extend(decoding)
    if suffix in (".html", ".htm"):
        page = article_text.read_html_page(text)
        return page.meta, page.body
    front_matter, body = split_front_matter(text, name=path.name)
    return front_matter, _markdown_to_html(body, name=path.name, warnings=warnings)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise ArticleError(f"{path.name}: is a folder, not an article file") from exc
    except OSError as exc:
        raise ArticleError(
            f"{path.name}: cannot be read ({exc.strerror}); check the file's permissions"
        ) from exc


def _markdown_to_html(body: str, *, name: str, warnings: list[str]) -> str:
    body, repairs = article_text.repair_typography(body)
    if repairs:
        warnings.append(f"{name}: repaired {repairs} mangled no-break space(s) (Mac Roman 'Ê')")
    body, junk = article_text.drop_page_junk(body)
    if junk:
        warnings.append(f"{name}: dropped the page-template line '{junk}' at the end")
    shortcodes = expand_shortcodes(body)
    if shortcodes.dropped:
        names = ", ".join(shortcodes.dropped)
        warnings.append(f"{name}: removed unknown shortcode(s) [{names}] and kept their text")
    prepared = article_text.prepare_markdown(shortcodes.text)
    # Markdown is untyped.
    value: str = markdown.markdown(prepared, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    return value


def _build_article(body_html: str, front_matter: dict[str, Any], warnings: list[str]) -> Article:
    raw_blocks, tree = extract_blocks(sanitize(body_html))
    title = _str_or_none(front_matter.get("title"))
    title_index = _title_block(raw_blocks, title)
    if title is None and title_index is not None:
        title = raw_blocks[title_index].text
    if title is None:
        title = next((b.text for b in raw_blocks if b.kind == "heading"), None)
    blocks = tuple(
        ArticleBlock(
            i, b.kind, b.text, b.html, b.anchor, b.level, is_title=(i == title_index), list_place=b.list_place
        )
        for i, b in enumerate(raw_blocks)
    )
    if title_index is not None:
        _remove_element_with_id(tree, blocks[title_index].anchor)
    if not blocks:
        warnings.append("the article has no text: the episode will be published as audio only")
    text = "\n".join(b.text for b in blocks)
    language = _str_or_none(front_matter.get("language")) or detect_language(text)
    for warning in warnings:
        log.warning(warning)
    html = sanitize("".join(render(c) for c in tree.children))
    return Article(title, front_matter, blocks, html, language, tuple(warnings), image_refs(html))


def _title_block(blocks: list[Any], title: str | None) -> int | None:
    """The first block is the title when it is a heading and no other title was given (or it repeats it)."""
    if not blocks or blocks[0].kind != "heading":
        return None
    if title is None or fold(title) == fold(blocks[0].text):
        return 0
    return None


def _remove_element_with_id(tree: Any, anchor: str) -> None:
    for i, child in enumerate(tree.children):
        if not isinstance(child, str) and child.attrs.get("id") == anchor:
            del tree.children[i]
            return
        if not isinstance(child, str):
            _remove_element_with_id(child, anchor)


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
