"""Publishing: build output/site/ (pages, feed, audio, transcripts, chapters) from approved episodes.

Nothing half-written ever shows in output/site/: every input is read and checked before anything is
written; a full build is made in a folder beside the site and swapped in with renames; a build for
named episodes makes their folders beside the old ones, swaps each in, then replaces the home page
and the feed atomically. The same inputs give the same bytes (no clock in any file).

Reading a workspace is `episode_source`'s; the home page and the feed, and what they say about each
episode (kept beside its build), are `listing`'s.

State: `publish_site` changes no state; it records `published_at` (the feed's pubDate) once and for
all when an episode first goes on the site, and returns the approved episodes it put there
(`newly_published`) for the caller to move to `published`. `unpublish_episode` takes an episode off
the site and back to `approved` with an "unpublish" transition (`is_unpublished`); full builds leave
such an episode out until it is approved again or named explicitly.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.article import copy_images, image_refs, publish_article, record_image_warnings, site_path
from pipeline.config import Settings, ShowSettings
from pipeline.episodes import load_record, set_state, update_record
from pipeline.errors import PublishError
from pipeline.layout import ProjectLayout
from pipeline.models import EpisodeRecord, EpisodeState
from pipeline.publish import captions, chapters, meta
from pipeline.publish import pages as site
from pipeline.publish.cover import published_cover
from pipeline.publish.feed import cover_problem, truncate_utf8
from pipeline.publish.home import (
    PAGE_DESCRIPTION_CHARS,
    SiteEntry,
    cover_name,
    entries_dir,
    newest_first,
    save_entries,
    show_key,
    write_root,
)
from pipeline.publish.pages import SiteUrls
from pipeline.publish.source import EpisodeSource, load_source, show_cover
from pipeline.stages import Stage
from pipeline.store import file_lock, read_model_or_none, sha256_json

log = logging.getLogger(__name__)

PUBLISHABLE = (EpisodeState.approved, EpisodeState.published)
WARN_NO_BASE_URL = "podcast apps need show.base_url in diptych.toml: the feed's links are relative for now"
WARN_NO_COVER = "Apple Podcasts requires a 1400–3000 px square cover: set show.cover in diptych.toml"


@dataclass(frozen=True)
class PublishResult:
    site_dir: Path
    published: tuple[str, ...]  # every episode on the site after this build, newest first
    rebuilt: tuple[str, ...]  # the episodes whose folders this build wrote
    newly_published: tuple[str, ...]  # approved episodes now on the site: the caller marks them published
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def feed(self) -> Path:
        return self.site_dir / "feed.xml"


# --- writing one episode ---------------------------------------------------------------------------


def _page_url(urls: SiteUrls, slug: str) -> str:
    return urls.page(slug) if urls.base else "index.html"


def _marks(src: EpisodeSource, urls: SiteUrls | None = None) -> list[chapters.ChapterMark]:
    """The chapters in time order, each with the first picture of its section of the article."""
    marks = chapters.chapter_marks(src.pairing.chapters if src.pairing else [], duration_s=src.duration_s)
    if src.article is None or not src.images.found:
        return marks
    prefix = urls.at(f"{src.slug}/") if urls is not None and urls.base else ""
    pictures = {ref: (file, prefix + site_path(ref)) for ref, file in src.images.found}
    blocks = [(b.anchor, image_refs(b.html)) for b in src.article.blocks]
    return chapters.with_pictures(marks, blocks, pictures)


def _stamp(path: Path | None) -> list[object]:
    if path is None:
        return []
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def audio_key(src: EpisodeSource, urls: SiteUrls) -> str:
    """What the published MP3 is made of: the master file as it is now, and the chapters and
    pictures written in."""
    st = src.audio.stat()
    marks = [(m.title, m.start_s, m.end_s, m.anchor, _stamp(m.image)) for m in _marks(src, urls)]
    key = [st.st_size, st.st_mtime_ns, src.record.title, _page_url(urls, src.slug), marks, _stamp(src.cover)]
    return sha256_json(key)


def _write_mp3(src: EpisodeSource, mp3: Path, *, urls: SiteUrls, reuse: Path | None) -> None:
    """The master with its chapters and cover; linked from the current site when that copy is
    still right."""
    if reuse is not None:
        try:
            os.link(reuse, mp3)
            return
        except OSError:
            log.debug("%s: cannot link %s, copying", src.slug, reuse)
    shutil.copyfile(src.audio, mp3)
    chapters.write_id3_chapters(
        mp3, _marks(src, urls), toc_title=src.record.title, page_url=_page_url(urls, src.slug), cover=src.cover
    )


def _share(src: EpisodeSource, urls: SiteUrls, show: ShowSettings, cover: str | None) -> meta.ShareMeta:
    facts = meta.EpisodeFacts(
        title=src.record.title,
        description=truncate_utf8(src.description, limit=PAGE_DESCRIPTION_CHARS),
        show_title=show.title,
        language=src.language,
        published=src.published_at.date(),
        duration_s=src.duration_s,
        episode=src.meta.episode,
        season=src.meta.season,
    )
    return meta.share_meta(facts, base=urls.base, slug=src.slug, image_path=cover)


def write_episode_folder(
    src: EpisodeSource,
    dest: Path,
    *,
    urls: SiteUrls,
    show: ShowSettings,
    show_cover: Path | None = None,
    reuse_mp3: Path | None = None,
) -> None:
    """dest/ ← index.html, embed.html, <slug>.mp3 (with ID3 chapters), transcripts, chapters.json, cover."""
    dest.mkdir(parents=True)
    page_url = _page_url(urls, src.slug)
    marks = _marks(src, urls)
    _write_mp3(src, dest / f"{src.slug}.mp3", urls=urls, reuse=reuse_mp3)
    (dest / "chapters.json").write_text(chapters.render_chapters_json(marks, page_url=page_url), "utf-8")
    captions.write_transcript_files(
        dest, src.transcript, default_speaker=src.speaker, language=src.language, title=src.record.title
    )
    if src.cover is not None:
        (dest / str(cover_name(src.cover))).write_bytes(published_cover(src.cover).data)
    copy_images(src.images, dest)
    article = publish_article(src.article, src.images, prefix="") if src.article else None
    # The episode's own artwork, else the show's (one folder up).
    artwork = f"{src.slug}/{cover_name(src.cover)}" if src.cover else cover_name(show_cover)
    page = site.EpisodePage(
        slug=src.slug,
        title=src.record.title,
        language=src.language,
        show_title=show.title,
        published=src.published_at.date(),
        duration_s=src.duration_s,
        description=truncate_utf8(src.description, limit=PAGE_DESCRIPTION_CHARS),
        flow=site.article_flow(article, src.pairing),
        chapters=tuple(marks),
        segments=site.page_segments(src.transcript, default_speaker=src.speaker),
        cover_name=cover_name(src.cover) if src.cover else (f"../{artwork}" if artwork else None),
        feed_url=urls.at("feed.xml") if urls.base else "../feed.xml",
        share=_share(src, urls, show, artwork),
        subscribe=meta.subscribe_links(show.subscribe),
    )
    (dest / "index.html").write_text(site.render_episode_page(page), "utf-8")
    (dest / "embed.html").write_text(site.render_episode_page(page, template="embed.html"), "utf-8")


def _entry(src: EpisodeSource, folder: Path, settings: Settings) -> SiteEntry:
    mp3 = (folder / f"{src.slug}.mp3").stat()
    urls = SiteUrls.from_base_url(settings.show.base_url)
    return SiteEntry(
        show_key=show_key(settings),
        slug=src.slug,
        guid=src.record.guid,
        title=src.record.title,
        language=src.language,
        published_at=src.published_at,
        created_at=src.record.created_at,
        duration_s=src.duration_s,
        enclosure_bytes=mp3.st_size,
        description=src.description,
        content_html=_feed_html(src, urls),
        explicit=settings.show.explicit if src.meta.explicit is None else src.meta.explicit,
        episode=src.meta.episode,
        season=src.meta.season,
        cover_name=cover_name(src.cover),
        has_chapters=bool(_marks(src)),
        audio_key=audio_key(src, urls),
        mp3_stamp=(mp3.st_size, mp3.st_mtime_ns),
        guests=list(src.guests),
    )


def _feed_html(src: EpisodeSource, urls: SiteUrls) -> str:
    """The article for the feed's content:encoded: its pictures at their absolute published address."""
    if src.article is None:
        return ""
    article = publish_article(src.article, src.images, prefix=urls.at(f"{src.slug}/"))
    return site.sanitize_html(article.html)


def _reusable_mp3(project: ProjectLayout, src: EpisodeSource, urls: SiteUrls) -> Path | None:
    """The site's current MP3 of this episode if it was built from the same master and chapters."""
    mp3 = project.site_dir / src.slug / f"{src.slug}.mp3"
    entry = read_model_or_none(entries_dir(project) / f"{src.slug}.json", SiteEntry)
    if entry is None or not mp3.is_file():
        return None
    st = mp3.stat()
    same = entry.audio_key == audio_key(src, urls) and entry.mp3_stamp == (st.st_size, st.st_mtime_ns)
    return mp3 if same else None


# --- building and swapping -------------------------------------------------------------------------


def _publish_lock(project: ProjectLayout) -> AbstractContextManager[None]:
    """One build at a time per project: two would race on the home page and the feed."""
    return file_lock(project.locks_dir / "publish.lock")


@contextmanager
def _staging(project: ProjectLayout) -> Iterator[Path]:
    """A private folder beside output/site/ (same file system, so renames are atomic), always removed."""
    project.output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".site-build-", dir=project.output))
    try:
        (staging / "trash").mkdir()
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(new: Path, target: Path, *, trash: Path) -> None:
    """Replace `target` (a folder, maybe absent) by `new` with two renames; the old one goes to trash."""
    if target.exists():
        os.replace(target, trash / f"old-{target.name}")
    os.replace(new, target)


def is_unpublished(record: EpisodeRecord) -> bool:
    """Unpublished on purpose: only approving again (or naming it) brings it back."""
    return bool(record.history) and record.history[-1].stage == Stage.unpublish


def _publishable(project: ProjectLayout, named: set[str]) -> list[EpisodeRecord]:
    records = []
    for slug in project.episode_slugs():
        record = load_record(project.episode(slug))
        if record.state not in PUBLISHABLE:
            if slug in named:
                raise PublishError(f"cannot publish '{slug}': it is {record.state}; approve it first")
            continue
        if slug in named or not is_unpublished(record):
            records.append(record)
    return records


def _listed_entry(project: ProjectLayout, record: EpisodeRecord, settings: Settings) -> SiteEntry | None:
    """The entry of an episode already on the site (not rebuilt now), or None if it is not there."""
    folder = project.site_dir / record.slug
    if not (folder / f"{record.slug}.mp3").is_file():
        return None
    entry = read_model_or_none(entries_dir(project) / f"{record.slug}.json", SiteEntry)
    if entry is not None and entry.show_key == show_key(settings) and entry.guid == record.guid:
        return entry
    return _entry(load_source(project, record.slug, settings), folder, settings)


def _warnings(settings: Settings, cover: Path | None) -> list[str]:
    found = []
    if not settings.show.base_url:
        found.append(WARN_NO_BASE_URL)
    if cover is None:
        found.append(WARN_NO_COVER)
    elif (problem := cover_problem(cover)) is not None:
        found.append(f"show.cover: {problem}")
    for warning in found:
        log.warning(warning)
    return found


def _cover_warnings(sources: list[EpisodeSource]) -> list[str]:
    found = [f"{s.slug}: {problem}" for s in sources if s.cover and (problem := cover_problem(s.cover))]
    for warning in found:
        log.warning(warning)
    return found


def _build(
    project: ProjectLayout, sources: list[EpisodeSource], settings: Settings, *, full: bool
) -> list[SiteEntry]:
    """Write the sources' folders in a staging folder, then swap them (or the whole site) in."""
    urls = SiteUrls.from_base_url(settings.show.base_url)
    cover = show_cover(project, settings)
    with _staging(project) as staging:
        built = staging / "site"
        built.mkdir(mode=0o755)
        for src in sources:
            reuse = _reusable_mp3(project, src, urls)
            write_episode_folder(
                src, built / src.slug, urls=urls, show=settings.show, show_cover=cover, reuse_mp3=reuse
            )
        entries = [_entry(src, built / src.slug, settings) for src in sources]
        if full:
            write_root(built, entries, settings, cover)
            _swap_in(built, project.site_dir, trash=staging / "trash")
        else:
            project.site_dir.mkdir(parents=True, exist_ok=True)
            for src in sources:
                _swap_in(built / src.slug, project.site_dir / src.slug, trash=staging / "trash")
    return entries


def _record_publication(sources: list[EpisodeSource]) -> list[str]:
    """Keep each episode's first publication date for good, and what it lacks in its status; list
    those still to move to published."""
    for src in sources:
        if src.record.published_at is None:
            update_record(src.layout, published_at=src.published_at)
        if src.record.live_edits != len(src.transcript.edits):
            update_record(src.layout, live_edits=len(src.transcript.edits))
        record_image_warnings(src.layout, src.images)
    return [s.slug for s in sources if s.record.state is EpisodeState.approved]


def publish_site(
    project: ProjectLayout, settings: Settings, *, slugs: list[str] | None = None
) -> PublishResult:
    """Build output/site/ for every approved or published episode (or rebuild only `slugs`'s folders,
    the home page and the feed). The caller moves `newly_published` to the published state."""
    named = set(slugs or [])
    for slug in named:
        project.existing_episode(slug)
    with _publish_lock(project):
        records = _publishable(project, named)
        rebuild = [r for r in records if slugs is None or r.slug in named]
        sources = [load_source(project, r.slug, settings) for r in rebuild]
        cover = show_cover(project, settings)
        warnings = _warnings(settings, cover) + _cover_warnings(sources)
        warnings += [f"{s.slug}: {w}" for s in sources for w in s.images.warnings]
        entries = _build(project, sources, settings, full=slugs is None)
        if slugs is not None:
            others = [_listed_entry(project, r, settings) for r in records if r.slug not in named]
            entries += [e for e in others if e is not None]
            write_root(project.site_dir, entries, settings, cover)
        save_entries(project, entries, keep_only=slugs is None)
        newly = _record_publication(sources)
    published = tuple(e.slug for e in newest_first(entries))
    log.info("site built in %s: %d episodes (%d rebuilt)", project.site_dir, len(published), len(sources))
    return PublishResult(
        project.site_dir, published, tuple(s.slug for s in sources), tuple(newly), tuple(warnings)
    )


def unpublish_episode(project: ProjectLayout, settings: Settings, slug: str) -> None:
    """Take an episode off the site and out of the feed; its workspace stays, its state goes back to
    approved (its guid and published_at are kept for a later return)."""
    layout = project.existing_episode(slug)
    record = load_record(layout)
    if record.state is not EpisodeState.published:
        raise PublishError(f"'{slug}' is {record.state}, not published: nothing to unpublish")
    with _publish_lock(project):
        others = [_listed_entry(project, r, settings) for r in _publishable(project, set()) if r.slug != slug]
        if (project.site_dir / slug).exists():
            with _staging(project) as staging:
                os.replace(project.site_dir / slug, staging / "trash" / slug)
        if project.site_dir.is_dir():
            write_root(
                project.site_dir,
                [e for e in others if e is not None],
                settings,
                show_cover(project, settings),
            )
        (entries_dir(project) / f"{slug}.json").unlink(missing_ok=True)
        set_state(layout, EpisodeState.approved, stage=Stage.unpublish, message="taken off the site")
    log.info("%s: unpublished", slug)
