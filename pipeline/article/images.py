"""The article's pictures: which files it shows, and where they go on the published site.

An <img src> that names a path (`photo.jpg`, `img/x.jpg`, `my%20photo.jpg`) is a local picture: it
travels with the drop into the workspace's source/ (see `inbox`), is copied into the episode's
folder on the site under images/, and its src is rewritten to that copy (relative on the page,
absolute in the feed). A web address (https://…) stays as it is. A local picture that is not in
source/ is left out of the page, and the episode's status says so in one line.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from pipeline import episodes
from pipeline.article.html import Node, has_image, node_text, parse_tree, render_children
from pipeline.layout import EpisodeLayout

if TYPE_CHECKING:
    from pipeline.article.reader import Article

# Pictures a browser shows in <img>; SVG is left out: opened on its own it can run script.
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"})
SITE_FOLDER = "images"  # <slug>/images/<path as the article names it>
# Every warning about a picture ends so; a new check replaces the earlier ones.
WARNING_END = "the page is published without it; drop the article again with the picture to add it"


@dataclass(frozen=True)
class ArticleImages:
    """The article's local pictures as found beside it (in the workspace's source/)."""

    found: tuple[tuple[str, Path], ...] = ()  # (path as the article names it, the file)
    missing: tuple[str, ...] = ()  # named by the article, not there (or not a picture file)
    warnings: tuple[str, ...] = ()  # one line per missing picture, naming the article file

    @property
    def refs(self) -> frozenset[str]:
        return frozenset(ref for ref, _ in self.found)


def local_image_ref(src: str) -> str | None:
    """The path beside the article that an <img src> names ('img/x.jpg', decoded), or None for a
    web address."""
    parts = urlsplit(src.strip())
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return unquote(parts.path)


def image_refs(html: str) -> tuple[str, ...]:
    """The local pictures of (sanitized) article HTML, in order, each once."""
    if "<img" not in html:
        return ()
    return _refs_in(parse_tree(html))


def _refs_in(root: Node) -> tuple[str, ...]:
    found: list[str] = []

    def walk(node: Node) -> None:
        for child in node.children:
            if not isinstance(child, Node):
                continue
            ref = local_image_ref(child.attrs.get("src", "")) if child.tag == "img" else None
            if ref is not None and ref not in found:
                found.append(ref)
            walk(child)

    walk(root)
    return tuple(found)


def inside_folder(ref: str) -> PurePosixPath | None:
    """The picture's path inside the article's folder, or None when it points outside it."""
    path = PurePosixPath(ref)
    if path.is_absolute() or not path.parts or ".." in path.parts:
        return None
    return path


def is_image_file(ref: str) -> bool:
    return PurePosixPath(ref).suffix.lower() in IMAGE_EXTS


def _problem(ref: str, folder: Path) -> str | None:
    path = inside_folder(ref)
    if path is None:
        return "is not a file beside the article"
    if not is_image_file(ref):
        return "is not a picture file (.jpg, .png, .gif, .webp, .avif)"
    file = folder / path
    if not file.is_file() or not file.resolve().is_relative_to(folder.resolve()):
        return "is missing"
    return None


def find_images(refs: tuple[str, ...], folder: Path, *, article_name: str) -> ArticleImages:
    """Look for each picture the article names in `folder` (where the article is)."""
    found: list[tuple[str, Path]] = []
    missing: list[str] = []
    warnings: list[str] = []
    for ref in refs:
        problem = _problem(ref, folder)
        if problem is None:
            found.append((ref, folder / ref))
        else:
            missing.append(ref)
            warnings.append(f"{article_name}: image '{ref}' {problem}: {WARNING_END}")
    return ArticleImages(tuple(found), tuple(missing), tuple(warnings))


def episode_images(layout: EpisodeLayout, article: Article | None, article_name: str | None) -> ArticleImages:
    if article is None or not article_name:
        return ArticleImages()
    return find_images(article.images, layout.source_dir, article_name=article_name)


def record_image_warnings(layout: EpisodeLayout, images: ArticleImages) -> None:
    """The episode's status lists the pictures missing now (and no longer those found since)."""
    record = episodes.load_record(layout)
    kept = [w for w in record.warnings if not w.endswith(WARNING_END)]
    wanted = kept + [w for w in images.warnings if w not in kept]
    if wanted != record.warnings:
        episodes.update_record(layout, warnings=wanted)


# --- on the published site -------------------------------------------------------------------------


def site_path(ref: str) -> str:
    """Where a picture is published, inside the episode's folder ('images/img/x.jpg')."""
    return f"{SITE_FOLDER}/{PurePosixPath(ref).as_posix()}"


def copy_images(images: ArticleImages, dest: Path) -> None:
    """Copy each found picture into the episode's folder `dest`, bytes unchanged."""
    for ref, file in images.found:
        target = dest / site_path(ref)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)


def _new_src(src: str, images: ArticleImages, prefix: str) -> str | None:
    ref = local_image_ref(src)
    if ref is None:
        return src
    if ref in images.refs:
        return prefix + quote(site_path(ref))
    return None


def _rewrite(node: Node, images: ArticleImages, prefix: str) -> None:
    """Pictures point to their published copy; a missing one goes, with an element it leaves empty."""
    kept: list[Node | str] = []
    for child in node.children:
        if isinstance(child, Node) and child.tag == "img":
            src = _new_src(child.attrs.get("src", ""), images, prefix)
            if src is None:
                continue
            child.attrs["src"] = src
        elif isinstance(child, Node) and has_image(child):
            _rewrite(child, images, prefix)
            if not has_image(child) and not node_text(child):
                continue
        kept.append(child)
    node.children = kept


def rewrite_images(html: str, images: ArticleImages, *, prefix: str) -> str:
    """`html` with its local pictures at `prefix` + their published path; web addresses kept."""
    if "<img" not in html:
        return html
    root = parse_tree(html)  # parsed once: to see whether it shows a local picture, then to rewrite it
    if not _refs_in(root):
        return html
    _rewrite(root, images, prefix)
    return render_children(root)


def publish_article(article: Article, images: ArticleImages, *, prefix: str) -> Article:
    """The article as published: pictures rewritten, a block left empty by a missing one gone."""
    if not article.images:
        return article
    blocks = []
    for block in article.blocks:
        html = rewrite_images(block.html, images, prefix=prefix)
        if block.text or "<img" in html:
            blocks.append(dataclasses.replace(block, html=html))
    html = rewrite_images(article.html, images, prefix=prefix)
    return dataclasses.replace(article, blocks=tuple(blocks), html=html)
