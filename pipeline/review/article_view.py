"""The review page's article column beyond the text: list numbers and bullets, and the pictures.

Pure: takes the article (or, when it cannot be read, pairing.json's blocks) and says, per block
index, what to show beside its text. Local pictures are served read-only by the review app from
the workspace's source/ folder (`picture_url`); a missing one is named instead. One from the web is
not shown: the review page loads nothing from outside (its CSP says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from pipeline.article import Article, ArticleImages, Node, local_image_ref, parse_tree
from pipeline.models import ListPlace, Pairing

BULLET = "•"


@dataclass(frozen=True)
class BlockLook:
    """What an article block shows besides its text in the review page."""

    marker: str = ""  # "3." for a numbered item, "•" for a bullet, "" otherwise
    depth: int = 0  # how deep its list is nested (0: top level)
    pictures: tuple[tuple[str, str], ...] = ()  # (address, alt text) of each local picture, in order
    missing: tuple[str, ...] = ()  # pictures it names that are not in the workspace


def picture_url(slug: str, ref: str) -> str:
    return f"/episodes/{slug}/source/{quote(ref)}"


def list_marker(place: ListPlace | None) -> str:
    if place is None:
        return ""
    return f"{place.ordinal}." if place.tag == "ol" else BULLET


def _pictures(html: str, slug: str, images: ArticleImages) -> tuple[list[tuple[str, str]], list[str]]:
    shown: list[tuple[str, str]] = []
    missing: list[str] = []
    if "<img" not in html:
        return shown, missing

    def walk(node: Node) -> None:
        for child in node.children:
            if isinstance(child, Node) and child.tag == "img":
                ref = local_image_ref(child.attrs.get("src", ""))
                if ref is not None and ref in images.refs:
                    shown.append((picture_url(slug, ref), child.attrs.get("alt", "")))
                elif ref is not None:
                    missing.append(ref)
            elif isinstance(child, Node):
                walk(child)

    walk(parse_tree(html))
    return shown, missing


def block_looks(
    slug: str, article: Article | None, pairing: Pairing | None, images: ArticleImages
) -> dict[int, BlockLook]:
    """Per block index, its list marker, depth and pictures (blocks with none of them left out)."""
    looks: dict[int, BlockLook] = {}
    if article is not None:
        for block in article.blocks:
            place = block.list_place
            shown, missing = _pictures(block.html, slug, images)
            if place is not None or shown or missing:
                depth = place.depth if place else 0
                looks[block.index] = BlockLook(list_marker(place), depth, tuple(shown), tuple(missing))
    elif pairing is not None:
        for paired in pairing.blocks:
            if paired.list_place is not None:
                looks[paired.index] = BlockLook(list_marker(paired.list_place), paired.list_place.depth)
    return looks
