"""Claiming drops from inbox/: find them, wait until they stop growing, move them into a workspace.

A drop is `inbox/<name>.<audio>` + `inbox/<name>.md` (+ optional `<name>.jpg`), or a folder
`inbox/<name>/` with one recording, one article and optionally a cover. The pictures the article
shows (`![alt](photo.jpg)`, `<img src="img/x.jpg">`) travel with it from beside it, subfolders
kept: they are the article's, not the cover. In a folder the cover is `cover.*`, or the one picture
the article does not show. Files are moved, never modified; nothing is ever deleted.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline import episodes
from pipeline.article_images import episode_images, inside_folder, is_image_file, record_image_warnings
from pipeline.config import EpisodeMeta, parse_episode_meta
from pipeline.errors import DiptychError, DropError
from pipeline.frontmatter import decode_text, read_front_matter
from pipeline.layout import EpisodeLayout, ProjectLayout, is_valid_slug
from pipeline.models import EpisodeRecord, EpisodeState
from pipeline.store import sha256_file

log = logging.getLogger(__name__)

AUDIO_EXTS = {".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".oga", ".opus", ".webm", ".mp4", ".aif",
              ".aiff", ".wma", ".mka"}
ARTICLE_EXTS = {".md", ".markdown", ".txt", ".html", ".htm"}
COVER_EXTS = {".jpg", ".jpeg", ".png"}
# Left alone: the inbox's own README, hidden files, downloads in progress.
IGNORED_NAMES = {"readme.md", "readme.txt"}
PARTIAL_EXTS = {".part", ".crdownload", ".tmp", ".download", ".partial"}


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


@dataclass
class ClaimReport:
    claimed: list[str] = field(default_factory=list)  # new episodes (slugs)
    updated: list[str] = field(default_factory=list)  # existing episodes given a new article or recording
    messages: list[str] = field(default_factory=list)  # one line each: duplicates, waits, incomplete drops
    errors: list[str] = field(default_factory=list)  # one line each: drops that cannot be claimed


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60].strip("-") or "episode"


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
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.lower() not in IGNORED_NAMES
        and p.suffix.lower() not in PARTIAL_EXTS
    )


def article_images(article: Path, base: Path) -> tuple[DropImage, ...]:
    """The picture files in `base` (the article's folder) that the article shows; a picture it names
    that is not there is not the inbox's concern (publishing reports it)."""
    from pipeline.article import read_image_refs  # Markdown and the sanitizer: only when an article is there

    try:
        refs = read_image_refs(article)
    except DiptychError:
        return ()  # claiming it says what is wrong with the article
    found = []
    for ref in refs:
        inside = inside_folder(ref)
        if inside is not None and is_image_file(ref) and (base / inside).is_file():
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
        try:
            drops.append(_drop_from(stem, files, f"inbox/{stem}.*", base=inbox))
        except DropError as exc:
            problems.append(str(exc))
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [p for p in _visible_files(folder) if p not in shown]
        try:
            drop = _drop_from(folder.name, files, f"inbox/{folder.name}/", base=folder)
        except DropError as exc:
            problems.append(str(exc))
            continue
        if drop.files:
            drops.append(drop)
    return drops, problems


def _snapshot(drops: list[Drop]) -> dict[Path, tuple[int, int]]:
    snap = {}
    for drop in drops:
        for path in drop.files:
            st = path.stat()
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


def _move(src: Path, dest: Path) -> None:
    """Move without modifying. Across file systems: copy, verify the copy, then remove the original."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        raise DropError(f"{src.name}: {dest} already exists: nothing was moved")
    try:
        os.rename(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copy2(src, dest)
        if sha256_file(src) != sha256_file(dest):
            dest.unlink()
            raise DropError(f"{src.name}: copy to {dest} did not match the original: left in the inbox") from exc
        src.unlink()


def _meta_for(drop: Drop) -> EpisodeMeta:
    if drop.article is None:
        return EpisodeMeta()
    return parse_episode_meta(read_front_matter(drop.article), source=f"inbox/{drop.article.name}")


def _title_for(drop: Drop, meta: EpisodeMeta) -> str:
    if meta.title:
        return meta.title
    if drop.article is not None:
        text, _ = decode_text(drop.article.read_bytes(), name=drop.article.name)
        for line in text.splitlines()[:80]:
            if match := re.match(r"^#{1,3}\s+(.+?)\s*#*\s*$", line):
                return match.group(1)
    return drop.name.replace("_", " ").replace("-", " ").strip() or drop.name


def _unique_slug(project: ProjectLayout, base: str) -> str:
    slug, n = base, 2
    while project.episode(slug).root.exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


def _archive(layout: EpisodeLayout, names: list[str], *, reason: str) -> Path:
    """Move earlier sources (and the review made on them) into history/<time>/."""
    stamp = episodes.now().strftime("%Y%m%dT%H%M%SZ")
    dest = layout.history_dir / stamp
    for name in names:
        src = layout.root / name
        if src.exists():
            _move(src, dest / name)
    log.info("%s: archived %s in %s (%s)", layout.slug, ", ".join(names), dest, reason)
    return dest


def _claim_new(project: ProjectLayout, drop: Drop, meta: EpisodeMeta, audio_sha: str | None) -> str:
    base = slugify(meta.slug) if meta.slug else slugify(drop.name)
    slug = _unique_slug(project, base)
    layout = project.episode(slug)
    title = _title_for(drop, meta)
    for path, name in drop.moves:
        _move(path, layout.source_file(name))
    warnings = [] if drop.article else ["audio only: no article was dropped with the recording"]
    episodes.create_record(
        layout,
        title=title,
        source_audio=drop.audio.name if drop.audio else None,
        source_article=drop.article.name if drop.article else None,
        source_cover=drop.cover.name if drop.cover else None,
        audio_sha256=audio_sha,
        article_sha256=sha256_file(layout.source_file(drop.article.name)) if drop.article else None,
        language=meta.language,
        warnings=warnings,
    )
    _note_missing_images(layout)
    return slug


def _note_missing_images(layout: EpisodeLayout) -> None:
    """The pictures the article shows that did not come with it: in the status from the start."""
    from pipeline.article import read_article

    record = episodes.load_record(layout)
    if not record.source_article:
        return
    try:
        article = read_article(layout.source_file(record.source_article))
    except DiptychError:
        return  # the later stages say what is wrong with the article
    record_image_warnings(layout, episode_images(layout, article, record.source_article))


def _replace_sources(layout: EpisodeLayout, record: EpisodeRecord, drop: Drop, audio_sha: str | None) -> None:
    """A new recording and/or article for an existing episode: the old ones go to history/."""
    old = []
    if drop.audio is not None and record.source_audio:
        old.append(f"source/{record.source_audio}")
        if layout.reviewed_json.exists():
            old.append("transcript/reviewed.json")
    if drop.article is not None and record.source_article:
        old.append(f"source/{record.source_article}")
    if drop.cover is not None and record.source_cover:
        old.append(f"source/{record.source_cover}")
    old += [f"source/{i.name}" for i in drop.images if layout.source_file(i.name).exists()]
    _archive(layout, old, reason="replaced by a new drop")
    for path, name in drop.moves:
        _move(path, layout.source_file(name))
    updates: dict[str, object] = {}
    if drop.audio is not None:
        updates |= {"source_audio": drop.audio.name, "audio_sha256": audio_sha}
    if drop.article is not None:
        updates |= {
            "source_article": drop.article.name,
            "article_sha256": sha256_file(layout.source_file(drop.article.name)),
            "warnings": [w for w in record.warnings if not w.startswith("audio only")],
        }
    if drop.cover is not None:
        updates["source_cover"] = drop.cover.name
    if drop.audio is not None:
        # A new recording is a new episode to check: back to the start, review included.
        episodes.set_state(layout, EpisodeState.received, stage="claim",
                           message="new recording; the earlier one and its review are in history/", **updates)
    else:
        episodes.update_record(layout, **updates)
    _note_missing_images(layout)


def _existing_by_audio(project: ProjectLayout) -> dict[str, str]:
    return {r.audio_sha256: r.slug for r in episodes.all_records(project) if r.audio_sha256}


def claim_drop(project: ProjectLayout, drop: Drop, report: ClaimReport) -> None:
    meta = _meta_for(drop)
    audio_sha = sha256_file(drop.audio) if drop.audio else None
    same_audio = _existing_by_audio(project).get(audio_sha) if audio_sha else None
    explicit = slugify(meta.slug) if meta.slug else None
    target = same_audio or explicit
    if target is None and drop.audio is None:
        # An article alone updates the episode of the same name, or waits for its recording.
        candidate = slugify(drop.name)
        target = candidate if project.episode(candidate).state_json.exists() else None
        if target is None:
            report.messages.append(
                f"inbox/{drop.article.name if drop.article else drop.name}: incomplete: waiting for its recording"
            )
            return
    if target and project.episode(target).state_json.exists():
        layout = project.episode(target)
        record = episodes.load_record(layout)
        if same_audio and (drop.article is None or sha256_file(drop.article) == record.article_sha256):
            report.messages.append(
                f"inbox/{drop.audio.name if drop.audio else drop.name}: the same recording as episode "
                f"'{same_audio}' (sha256 {audio_sha[:12] if audio_sha else ''}…): not processed again; "
                "remove it from inbox/"
            )
            return
        _replace_sources(layout, record, replace(drop, audio=None) if same_audio else drop, audio_sha)
        if same_audio and drop.audio is not None:
            report.messages.append(f"inbox/{drop.audio.name}: same recording as '{target}': left in the inbox")
        report.updated.append(target)
        return
    report.claimed.append(_claim_new(project, drop, meta, audio_sha))


def claim_drops(project: ProjectLayout, *, settle_s: float) -> ClaimReport:
    """Claim every complete, settled drop; report the rest. One bad drop never stops the others."""
    report = ClaimReport()
    drops, problems = find_drops(project.inbox)
    report.errors.extend(problems)
    settled, busy = settled_drops(drops, settle_s=settle_s)
    for drop in busy:
        report.messages.append(f"inbox/{drop.name}: still being written: will be claimed on the next run")
    for drop in settled:
        if not drop.audio and not drop.article:
            continue
        try:
            claim_drop(project, drop, report)
        except DiptychError as exc:
            report.errors.append(str(exc))
        except OSError as exc:
            report.errors.append(f"inbox/{drop.name}: cannot be moved ({exc.strerror}): check permissions")
    return report


def pending_drops(project: ProjectLayout) -> list[Drop]:
    """Articles waiting in the inbox for their recording (shown by `diptych status`)."""
    drops, _ = find_drops(project.inbox)
    known = set(project.episode_slugs())
    return [d for d in drops if d.audio is None and d.article is not None and slugify(d.name) not in known]


__all__ = ["ClaimReport", "Drop", "DropImage", "claim_drops", "find_drops", "pending_drops", "slugify", "is_valid_slug"]
