"""Reading the creator's article: front matter, blocks with anchors, rendered HTML.

(Contract only; the reader is being implemented.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ArticleBlock:
    index: int  # position in the article, from 0
    kind: str  # "heading", "paragraph", "list_item", "quote", "aside", "code"
    text: str  # plain text, typography kept (« », ’)
    html: str  # sanitized HTML of this block alone
    anchor: str  # id used on the published page, unique within the article
    level: int | None = None  # heading level 1-6


@dataclass(frozen=True)
class Article:
    title: str | None
    front_matter: dict[str, Any]
    blocks: tuple[ArticleBlock, ...]
    html: str  # the whole article, sanitized, with the blocks' anchors as ids
    language: str | None  # from front matter, else detected, else None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


def read_article(path: Path) -> Article:
    """Read a .md/.markdown/.txt/.html article; raise ArticleError with the file's name on failure."""
    raise NotImplementedError
