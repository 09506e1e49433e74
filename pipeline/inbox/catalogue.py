"""A back catalogue (`diptych import FOLDER`): past episodes put in the inbox as drops, once each.

The folder holds recordings with their articles beside them (`<name>.mp3` + `<name>.md`), and/or
WordPress export files (`*.xml`) whose posts link to recordings in the folder. Each episode becomes
a folder drop `inbox/<slug>/` (built under `inbox/.import/`, then renamed in one step, so a claim
never sees half of it) with its original date. The folder's files are copied, never moved or
changed. A ledger (output/.diptych/imports.json) remembers what was queued: importing the same
folder again queues nothing twice. The batch (output/.diptych/batches/) lists the slugs and the
recordings' durations, for progress and the time left.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.errors import DiptychError, DropError
from pipeline.inbox.drops import ARTICLE_EXTS, AUDIO_EXTS
from pipeline.inbox.plan import slugify
from pipeline.inbox.wxr import read_wxr
from pipeline.layout import ProjectLayout
from pipeline.models import Batch, BatchEpisode, ImportedFile, ImportLedger
from pipeline.store import read_model_or_none, write_model, write_text_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogueEntry:
    """One past episode: its recording and either an article file or a post's body."""

    slug: str
    recording: Path
    date: dt.date
    title: str | None = None
    article: Path | None = None  # a recording + article pair
    body_html: str | None = None  # a WordPress post


@dataclass
class ImportReport:
    queued: list[str] = field(default_factory=list)  # slugs put in the inbox now
    known: list[str] = field(default_factory=list)  # already imported: left alone
    messages: list[str] = field(default_factory=list)  # one line each: what was left out and why
    batch: Batch | None = None


def _regular_files(folder: Path) -> list[Path]:
    """Regular files under `folder`, no link followed (nothing outside the folder is read)."""
    found = []
    for base, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(base) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def _file_date(path: Path) -> dt.date:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC).date()


def find_catalogue(folder: Path) -> tuple[list[CatalogueEntry], list[str]]:
    """The episodes in `folder`: WordPress posts first, then recording + article pairs."""
    if not folder.is_dir():
        raise DropError(f"{folder}: no such folder: name the folder that holds the recordings")
    files = _regular_files(folder)
    recordings = {p.name.lower(): p for p in files if p.suffix.lower() in AUDIO_EXTS}
    entries: list[CatalogueEntry] = []
    messages: list[str] = []
    used: set[Path] = set()
    for export in (p for p in files if p.suffix.lower() == ".xml"):
        report = read_wxr(export, recordings)
        messages += report.skipped
        for post in report.posts:
            if post.recording in used:
                messages.append(f"{export.name}: '{post.title}' uses {post.recording.name} again: left out")
                continue
            used.add(post.recording)
            entries.append(CatalogueEntry(slug=slugify(post.slug), recording=post.recording, date=post.date,
                                          title=post.title, body_html=post.body_html))
    articles = {(p.parent, p.stem): p for p in files if p.suffix.lower() in ARTICLE_EXTS}
    for recording in (p for p in recordings.values() if p not in used):
        article = articles.get((recording.parent, recording.stem))
        if article is None:
            messages.append(f"{recording.name}: no article beside it ({recording.stem}.md) and no post links "
                            "to it: left out")
            continue
        entries.append(CatalogueEntry(slug=slugify(recording.stem), recording=recording,
                                      date=_file_date(article), article=article))
    return entries, messages


def _file_key(path: Path) -> str:
    info = path.stat()
    return f"{path.name}:{info.st_size}:{info.st_mtime_ns}"


def _post_article(entry: CatalogueEntry) -> str:
    meta = {"title": entry.title, "date": entry.date.isoformat(), "slug": entry.slug}
    front = yaml.safe_dump({k: v for k, v in meta.items() if v}, allow_unicode=True, sort_keys=True)
    return f"---\n{front}---\n\n{entry.body_html or ''}\n"


def _copy(src: Path, dest: Path) -> None:
    """A hard link where the folder shares the project's file system (no space, no time), else a copy."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _place_drop(project: ProjectLayout, entry: CatalogueEntry) -> None:
    staging = project.inbox / ".import" / uuid.uuid4().hex
    folder = staging / entry.slug
    folder.mkdir(parents=True)
    _copy(entry.recording, folder / entry.recording.name)
    if entry.article is not None:
        _copy(entry.article, folder / entry.article.name)
    else:
        write_text_atomic(folder / f"{entry.slug}.md", _post_article(entry))
    os.rename(folder, project.inbox / entry.slug)  # the drop appears whole
    staging.rmdir()


def import_catalogue(project: ProjectLayout, folder: Path, *,
                     duration_of: Callable[[Path], float | None]) -> ImportReport:
    """Put every episode of `folder` not imported before in the inbox; record the batch."""
    entries, messages = find_catalogue(folder)
    ledger = read_model_or_none(project.imports_json, ImportLedger) or ImportLedger()
    report = ImportReport(messages=messages)
    known_slugs = set(project.episode_slugs()) | {p.name for p in project.inbox.glob("*") if p.is_dir()}
    batch_episodes = []
    for entry in entries:
        key = _file_key(entry.recording)
        if key in ledger.files or entry.slug in known_slugs:
            report.known.append(ledger.files[key].slug if key in ledger.files else entry.slug)
            continue
        try:
            _place_drop(project, entry)
        except (OSError, DiptychError) as exc:
            report.messages.append(f"{entry.recording.name}: not imported ({exc}): nothing was queued for it")
            continue
        known_slugs.add(entry.slug)
        ledger.files[key] = ImportedFile(slug=entry.slug, recording=str(entry.recording), original_date=entry.date)
        write_model(project.imports_json, ledger)
        report.queued.append(entry.slug)
        batch_episodes.append(BatchEpisode(slug=entry.slug, original_date=entry.date,
                                            audio_s=duration_of(entry.recording)))
    if batch_episodes:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dt%H%M%S")
        report.batch = Batch(id=f"{stamp}-{uuid.uuid4().hex[:6]}", source=str(folder),
                             created_at=dt.datetime.now(dt.UTC), episodes=batch_episodes)
        write_model(project.batches_dir / f"{report.batch.id}.json", report.batch)
    return report
