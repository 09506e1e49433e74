"""Claiming drops from inbox/: find them, wait until they stop growing, move them into a workspace.

What makes a drop (a recording, its article, a cover, the pictures the article shows) is `drops`'s.
Files are moved, never modified; nothing is ever deleted.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline import episodes
from pipeline.article import decode_text, find_images, read_front_matter, record_image_warnings
from pipeline.config import EpisodeMeta, parse_episode_meta
from pipeline.errors import DiptychError, DropError
from pipeline.inbox.drops import Drop, DropImage, find_drops, settled_drops
from pipeline.layout import EpisodeLayout, ProjectLayout, is_valid_slug
from pipeline.models import EpisodeRecord, EpisodeState
from pipeline.stages import Stage
from pipeline.store import sha256_file

log = logging.getLogger(__name__)


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
    from pipeline.article import read_image_refs

    record = episodes.load_record(layout)
    if not record.source_article:
        return
    try:
        refs = read_image_refs(layout.source_file(record.source_article))
    except DiptychError:
        return  # the later stages say what is wrong with the article
    images = find_images(refs, layout.source_dir, article_name=record.source_article)
    record_image_warnings(layout, images)


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
        episodes.set_state(layout, EpisodeState.received, stage=Stage.claim,
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
