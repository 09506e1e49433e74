"""Claiming drops from inbox/: find them, wait until they stop growing, move them into a workspace.

What makes a drop (a recording, its article, a cover, the pictures the article shows) is `drops`'s;
what claiming one will do is decided first by `plan`. Files are moved, never modified;
nothing is ever deleted; a claim that fails half-way puts back what it moved.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import episodes
from pipeline.article import decode_text, find_images, record_image_warnings
from pipeline.config import EpisodeMeta
from pipeline.errors import DiptychError
from pipeline.inbox.drops import Drop, DropImage, find_drops, settled_drops
from pipeline.inbox.moves import ClaimMoves, disk_full_line, is_disk_full
from pipeline.inbox.plan import (
    ClaimAction,
    ClaimPlan,
    describe_failure,
    inbox_notes,
    known_recordings,
    meta_for,
    plan_claim,
    slugify,
)
from pipeline.inbox.take import TakenDrop, give_back, recover_stale_claims, reserve_slug, take_drop
from pipeline.layout import EpisodeLayout, ProjectLayout, is_valid_slug
from pipeline.models import EpisodeRecord, EpisodeState
from pipeline.stages import Stage
from pipeline.store import sha256_file

log = logging.getLogger(__name__)


@dataclass
class ClaimReport:
    claimed: list[str] = field(default_factory=list)  # new episodes (slugs)
    updated: list[str] = field(default_factory=list)  # existing episodes given a new article or recording
    messages: list[str] = field(default_factory=list)  # one line each: duplicates, waits, replacements
    errors: list[str] = field(default_factory=list)  # one line each: drops that cannot be claimed


def _title_of_article(article: Path | None, meta: EpisodeMeta, fallback: str) -> str:
    if meta.title:
        return meta.title
    if article is not None:
        text, _ = decode_text(article.read_bytes(), name=article.name)
        for line in text.splitlines()[:80]:
            if match := re.match(r"^#{1,3}\s+(.+?)\s*#*\s*$", line):
                return match.group(1)
    return fallback.replace("_", " ").replace("-", " ").strip() or fallback


def _title_for(drop: Drop, meta: EpisodeMeta) -> str:
    return _title_of_article(drop.article, meta, drop.name)


def _decoding_warnings(article: Path | None) -> list[str]:
    """'not UTF-8, read as …': in the episode's warnings from the claim on, so `status` shows it."""
    if article is None:
        return []
    return decode_text(article.read_bytes(), name=article.name)[1]


def _history_folder(layout: EpisodeLayout) -> Path:
    stamp = episodes.now().strftime("%Y%m%dT%H%M%SZ")
    dest, n = layout.history_dir / stamp, 2
    while dest.exists():  # two replacements within one second each keep their own folder
        dest, n = layout.history_dir / f"{stamp}-{n}", n + 1
    return dest


def _archive(layout: EpisodeLayout, names: list[str], moves: ClaimMoves) -> Path:
    """Move earlier sources (and the review made on them) into history/<time>/."""
    dest = _history_folder(layout)
    moves.make_folder(dest)
    for name in names:
        src = layout.root / name
        if src.exists():
            moves.move(src, dest / name)
    log.info("%s: archived %s in %s (replaced by a new drop)", layout.slug, ", ".join(names), dest)
    return dest


def _claim_new(project: ProjectLayout, plan: ClaimPlan, moves: ClaimMoves) -> str:
    drop, meta = plan.drop, plan.meta
    # Reserved by creating its folder (atomic): two claims of same-named drops never share a slug.
    slug = reserve_slug(project, slugify(meta.slug) if meta.slug else slugify(drop.name))
    layout = project.episode(slug)
    moves.made.append(layout.root)  # a failed claim removes it with the rest
    title = _title_for(drop, meta)
    for path, name in drop.moves:
        moves.move(path, layout.source_file(name))
    warnings = [] if drop.article else ["audio only: no article was dropped with the recording"]
    warnings += _decoding_warnings(layout.source_file(drop.article.name) if drop.article else None)
    episodes.create_record(
        layout,
        title=title,
        source_audio=drop.audio.name if drop.audio else None,
        source_article=drop.article.name if drop.article else None,
        source_cover=drop.cover.name if drop.cover else None,
        audio_sha256=plan.audio_sha256,
        article_sha256=sha256_file(layout.source_file(drop.article.name)) if drop.article else None,
        language=meta.language,
        warnings=warnings,
    )
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


def _replaced_names(layout: EpisodeLayout, record: EpisodeRecord, drop: Drop) -> list[str]:
    old = []
    if drop.audio is not None and record.source_audio:
        old.append(f"source/{record.source_audio}")
        if layout.reviewed_json.exists():
            old.append("transcript/reviewed.json")
    if drop.article is not None and record.source_article:
        old.append(f"source/{record.source_article}")
    if drop.cover is not None and record.source_cover:
        old.append(f"source/{record.source_cover}")
    return old + [f"source/{i.name}" for i in drop.images if layout.source_file(i.name).exists()]


def _article_updates(layout: EpisodeLayout, record: EpisodeRecord, plan: ClaimPlan) -> dict[str, object]:
    """The new article's hash and warnings; its title too, unless the title was changed by hand."""
    article = plan.drop.article
    assert article is not None
    old_article = layout.source_file(record.source_article) if record.source_article else None
    old_meta = meta_for(Drop(record.slug, None, old_article)) if old_article and old_article.exists() else EpisodeMeta()
    old_title = _title_of_article(old_article if old_article and old_article.exists() else None, old_meta, record.slug)
    kept = [w for w in record.warnings if not w.startswith("audio only")
            and not (record.source_article and w.startswith(f"{record.source_article}: not UTF-8"))]
    updates: dict[str, object] = {
        "source_article": article.name,
        "article_sha256": sha256_file(article),
        "warnings": kept + _decoding_warnings(article),
    }
    if record.title == old_title:
        updates["title"] = _title_for(plan.drop, plan.meta)
    return updates


def _replace_sources(project: ProjectLayout, plan: ClaimPlan, moves: ClaimMoves) -> str:
    """A new recording and/or article for an existing episode: the old ones go to history/.
    Returns the drop's line: what it replaced and where the old files went."""
    assert plan.target is not None
    layout, drop = project.episode(plan.target), plan.drop
    record = episodes.load_record(layout)
    updates = _article_updates(layout, record, plan) if drop.article is not None else {}
    kept = _archive(layout, _replaced_names(layout, record, drop), moves)
    for path, name in drop.moves:
        moves.move(path, layout.source_file(name))
    what = "recording and article" if drop.audio and drop.article else "recording" if drop.audio else "article"
    line = (f"inbox/{drop.label}: replaces the {what} of '{plan.target}' ({record.state}); the earlier one is in "
            f"{kept.relative_to(project.root).as_posix()}/")
    if drop.audio is not None:
        updates |= {"source_audio": drop.audio.name, "audio_sha256": plan.audio_sha256}
    if drop.cover is not None:
        updates["source_cover"] = drop.cover.name
    updates["warnings"] = [*updates.get("warnings", record.warnings), line]  # type: ignore[misc]
    if drop.audio is not None:
        # A new recording is a new episode to check: back to the start, review included.
        episodes.set_state(layout, EpisodeState.received, stage=Stage.claim,
                           message="new recording; the earlier one and its review are in history/", **updates)
    else:
        episodes.update_record(layout, **updates)
    return line


def claim_drop(project: ProjectLayout, drop: Drop, report: ClaimReport, known: dict[str, str]) -> None:
    """Claim one drop as planned; on any failure every file it moved goes back to the inbox."""
    plan = plan_claim(project, drop, known)
    if plan.action in (ClaimAction.duplicate, ClaimAction.incomplete, ClaimAction.waiting):
        report.messages.append(plan.reason)
        return
    moves = ClaimMoves()
    try:
        if plan.action is ClaimAction.new:
            slug = _claim_new(project, plan, moves)
        else:
            report.messages.append(_replace_sources(project, plan, moves))
            slug = plan.target or ""
    except BaseException:
        if not moves.undo():
            log.error("inbox/%s: some files could not be put back: see the lines above", drop.name)
        raise
    (report.claimed if plan.action is ClaimAction.new else report.updated).append(slug)
    _note_missing_images(project.episode(slug))
    if plan.action is ClaimAction.update and drop.audio is not None and plan.drop.audio is None:
        report.messages.append(f"inbox/{drop.audio.name}: same recording as '{plan.target}': left in the inbox")
    if plan.audio_sha256 and plan.drop.audio is not None:
        known[plan.audio_sha256] = slug


def _failure_line(project: ProjectLayout, drop: Drop, exc: Exception) -> str:
    if is_disk_full(exc):
        size = sum(p.stat().st_size for p in drop.files if p.exists())
        return disk_full_line(f"inbox/{drop.name}", project.episodes_dir, size)
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
        return f"inbox/{drop.name}: cannot be moved ({exc.strerror}): check the permissions of {project.output}"
    return describe_failure(drop, exc, project.inbox)


def claim_drops(project: ProjectLayout, *, settle_s: float) -> ClaimReport:
    """Claim every complete, settled drop; report the rest. One bad drop never stops the others:
    whatever goes wrong with one (any exception) is that drop's line in `errors`."""
    report = ClaimReport()
    for path in recover_stale_claims(project):
        report.messages.append(f"inbox/{path}: back in the inbox from a claim that was cut short")
    drops, problems = find_drops(project.inbox)
    report.errors.extend(problems)
    settled, busy = settled_drops(drops, settle_s=settle_s)
    for drop in busy:
        report.messages.append(f"inbox/{drop.name}: still being written: will be claimed on the next run")
    known = known_recordings(episodes.all_records(project))
    for drop in settled:
        if drop.audio or drop.article:
            _claim_taken(project, drop, report, known)
    return report


def _claim_taken(project: ProjectLayout, drop: Drop, report: ClaimReport, known: dict[str, str]) -> None:
    """Take the drop (pipeline.inbox.take: safe when other claims race for it, on this machine or on
    others sharing the folder), claim it, and put back whatever the claim did not keep."""
    try:
        taken = take_drop(project, drop)
    except Exception as exc:
        report.errors.append(_failure_line(project, drop, exc))
        return
    if taken is None:
        log.info("inbox/%s: claimed by another worker", drop.name)
        return
    said = (len(report.messages), len(report.errors))
    try:
        claim_drop(project, taken.drop, report, known)
    except Exception as exc:
        report.errors.append(_failure_line(project, drop, exc))
    finally:
        give_back(taken)
    # The lines name the files where the creator put them, not in the claim's folder.
    report.messages[said[0]:] = [_as_dropped(line, taken) for line in report.messages[said[0]:]]
    report.errors[said[1]:] = [_as_dropped(line, taken) for line in report.errors[said[1]:]]


def _as_dropped(line: str, taken: TakenDrop) -> str:
    inbox = taken.folder.parent.parent
    for original, current in taken.moved.items():
        line = line.replace(str(current), str(original))
        line = line.replace(current.relative_to(inbox).as_posix(), original.relative_to(inbox).as_posix())
    return line


def pending_drops(project: ProjectLayout) -> list[Drop]:
    """Articles waiting in the inbox for their recording."""
    drops, _ = find_drops(project.inbox)
    known = set(project.episode_slugs())
    return [d for d in drops if d.audio is None and d.article is not None and slugify(d.name) not in known]


__all__ = ["ClaimReport", "Drop", "DropImage", "claim_drops", "find_drops", "inbox_notes", "pending_drops",
           "slugify", "is_valid_slug"]
