"""Drops in inbox/: which files make up each one, and whether they have stopped changing.

A drop is `inbox/<name>.<audio>` + `inbox/<name>.md` (+ optional `<name>.jpg`), or a folder
`inbox/<name>/` with one recording, one article and optionally a cover. The pictures the article
shows (`![alt](photo.jpg)`, `<img src="img/x.jpg">`) travel with it from beside it, subfolders
kept: they are the article's, not the cover. In a folder the cover is `cover.*`, or the one picture
the article does not show. Finding drops only reads; claiming them is `inbox`'s.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pipeline.article import inside_folder, is_image_file
from pipeline.config import image_problem
from pipeline.errors import DiptychError, DropError

AUDIO_EXTS = {".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".webm", ".mp4", ".aif",
              ".aiff", ".wma", ".mka"}
ARTICLE_EXTS = {".md", ".markdown", ".txt", ".html", ".htm"}
COVER_EXTS = {".jpg", ".jpeg", ".png"}
# Left alone: the inbox's own README, hidden files, downloads in progress.
IGNORED_NAMES = {"readme.md", "readme.txt"}
PARTIAL_EXTS = {".part", ".crdownload", ".tmp", ".download", ".partial"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DropImage:
    """A picture the article shows, from beside it."""

    name: str  # its path as the article names it ('photo.jpg', 'img/x.jpg'): its path in source/ too
    path: Path


@dataclass(frozen=True)
class Drop:
    name: str
    audio: Path | None
    article: Path | None
    cover: Path | None = None
    images: tuple[DropImage, ...] = ()

    @property
    def files(self) -> list[Path]:
        main = [p for p in (self.audio, self.article, self.cover) if p is not None]
        return main + [i.path for i in self.images]

    @property
    def moves(self) -> list[tuple[Path, str]]:
        """Each file and its name in the workspace's source/."""
        main = [(p, p.name) for p in (self.audio, self.article, self.cover) if p is not None]
        return main + [(i.path, i.name) for i in self.images]

    @property
    def label(self) -> str:
        return ", ".join(p.name for p in self.files)


def _kind(path: Path) -> str | None:
    ext = path.suffix.lower()
    if ext in AUDIO_EXTS:
        return "audio"
    if ext in ARTICLE_EXTS:
        return "article"
    if ext in COVER_EXTS:
        return "cover"
    return None


def _visible_files(folder: Path) -> list[Path]:
    """Regular files and symbolic links (refused later, with their reason) a person put there."""
    return sorted(
        p for p in folder.iterdir()
        if (p.is_file() or (p.is_symlink() and not p.is_dir()))
        and not p.name.startswith(".") and p.name.lower() not in IGNORED_NAMES
        and p.suffix.lower() not in PARTIAL_EXTS
    )


def is_regular_inside(path: Path, base: Path) -> bool:
    """A regular file under `base` reached without following any symbolic link."""
    if not path.is_file() or path.is_symlink():
        return False
    real, expected = os.path.realpath(path), os.path.realpath(base)
    return real == os.path.join(expected, os.path.relpath(path, base))


def refuse_link(path: Path, where: str) -> DropError:
    """A link in the inbox is never followed: what it points to may be any file on the machine."""
    return DropError(
        f"{where}: {path.name} is a symbolic link (to {os.readlink(path)}): a drop must be regular files "
        "inside inbox/; copy the file itself here"
    )


def article_images(article: Path, base: Path) -> tuple[DropImage, ...]:
    """The picture files in `base` (the article's folder) that the article shows; a picture it names
    that is not there is not the inbox's concern (publishing reports it)."""
    from pipeline.article import read_image_refs  # Markdown and the sanitizer: only when an article is there

    if article.is_symlink():
        return ()  # never read: the drop is refused
    try:
        refs = read_image_refs(article)
    except Exception as exc:  # any failure reading one article: claiming it reports it on its line
        log.debug("%s: pictures not looked for: %s", article.name, exc)
        return ()
    found = []
    for ref in refs:
        inside = inside_folder(ref)
        if inside is not None and is_image_file(ref) and is_regular_inside(base / inside, base):
            found.append(DropImage(inside.as_posix(), base / inside))
    return tuple(found)


def _cover(pictures: list[Path], shown: set[Path], where: str) -> Path | None:
    """`cover.*` (shown in the article or not), else the one picture the article does not show;
    any other picture the article does not show is a mistake."""
    not_shown = [p for p in pictures if p not in shown]
    named = [p for p in pictures if p.stem.lower() == "cover"]
    cover = named[0] if len(named) == 1 else (not_shown[0] if len(not_shown) == 1 else None)
    if any(p != cover for p in not_shown):
        names = ", ".join(p.name for p in not_shown)
        raise DropError(
            f"{where}: the article does not show {names}: keep one picture as the cover "
            "(or name it cover.jpg) and remove the others, or show them in the article"
        )
    return cover


def _drop_from(name: str, files: list[Path], where: str, *, base: Path) -> Drop:
    for path in files:
        if path.is_symlink():
            raise refuse_link(path, where)
    by_kind: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        kind = _kind(path)
        if kind:
            by_kind[kind].append(path)
    for kind in ("audio", "article"):
        if len(by_kind[kind]) > 1:
            names = ", ".join(p.name for p in by_kind[kind])
            raise DropError(f"{where}: {len(by_kind[kind])} {kind} files ({names}): keep one per episode")
    audio = by_kind["audio"][0] if by_kind["audio"] else None
    article = by_kind["article"][0] if by_kind["article"] else None
    images = article_images(article, base) if article is not None else ()
    cover = _cover(by_kind["cover"], {i.path for i in images}, where)
    if cover is not None and (audio or article) and (why := image_problem(cover)) is not None:
        raise DropError(f"{where}: the cover {cover.name} is not an image ({why}): drop a JPEG or PNG, or remove it")
    images = tuple(i for i in images if i.path != cover)  # a cover the article shows is moved once
    return Drop(name=name, audio=audio, article=article, cover=cover, images=images)


def find_drops(inbox: Path) -> tuple[list[Drop], list[str]]:
    """Every drop in the inbox, and one line for each thing that is not a usable drop."""
    drops: list[Drop] = []
    problems: list[str] = []
    if not inbox.is_dir():
        return drops, problems
    flat = _visible_files(inbox)
    # Pictures shown by an article in inbox/ go with it, wherever they sit under inbox/.
    shown = {i.path for a in flat if _kind(a) == "article" for i in article_images(a, inbox)}
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in (p for p in flat if p not in shown):
        if _kind(path) is None:
            problems.append(f"inbox/{path.name}: not a recording, article or cover image: left alone")
        else:
            groups[path.stem].append(path)
    for stem, files in sorted(groups.items()):
        if (drop := _try_drop(stem, files, f"inbox/{stem}.*", inbox, problems)) is not None:
            drops.append(drop)
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        where = f"inbox/{folder.name}/"
        if folder.is_symlink():
            problems.append(str(refuse_link(folder, where)))
            continue
        files = [p for p in _visible_files(folder) if p not in shown]
        drop = _try_drop(folder.name, files, where, folder, problems)
        if drop is not None and drop.files:
            drops.append(drop)
    return drops, problems


def _try_drop(name: str, files: list[Path], where: str, base: Path, problems: list[str]) -> Drop | None:
    """One drop, or its one line in `problems`: whatever goes wrong reading it stops only it."""
    try:
        return _drop_from(name, files, where, base=base)
    except DiptychError as exc:
        problems.append(str(exc))
    except Exception as exc:
        log.debug("%s cannot be read", where, exc_info=True)
        problems.append(f"{where}: cannot be read ({type(exc).__name__}: {exc}): fix or remove it")
    return None


def _snapshot(drops: list[Drop]) -> dict[Path, tuple[int, int]]:
    snap = {}
    for drop in drops:
        for path in drop.files:
            try:
                st = path.stat()
            except OSError:  # removed or renamed meanwhile: that drop waits, the others go on
                snap[path] = (-1, time.time_ns())
                continue
            snap[path] = (st.st_size, st.st_mtime_ns)
    return snap


def settled_drops(drops: list[Drop], *, settle_s: float) -> tuple[list[Drop], list[Drop]]:
    """Split drops into (settled, still being written). Files changed in the last `settle_s`
    are looked at again after `settle_s`; a drop whose files changed meanwhile is left alone."""
    if not drops:
        return [], []
    before = _snapshot(drops)
    horizon = time.time_ns() - int(settle_s * 1e9)
    if all(mtime <= horizon for _, mtime in before.values()):
        return drops, []
    time.sleep(settle_s)
    after = _snapshot(drops)
    settled = [d for d in drops if all(before[p] == after[p] for p in d.files)]
    busy = [d for d in drops if d not in settled]
    return settled, busy
