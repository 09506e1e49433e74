"""Publishing: build output/site/ (pages, feed, audio, transcripts, chapters) from approved episodes.

Nothing half-written ever shows in output/site/: every input is read and checked before anything is
written; a full build is made in a folder beside the site and swapped in with renames; a build for
named episodes makes their folders beside the old ones, swaps each in, then replaces the home page
and the feed atomically. The same inputs give the same bytes (no clock in any file).

What the home page and the feed say about each episode on the site is kept beside its build
(output/.diptych/site/<slug>.json), so that rebuilding one episode reads no other workspace.

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
from datetime import UTC, datetime, time
from pathlib import Path

from mutagen import MutagenError
from mutagen.mp3 import MP3
from pydantic import BaseModel, ConfigDict

from pipeline import article_images, captions, chapters, site
from pipeline.article import Article, read_article
from pipeline.config import EpisodeMeta, Settings, parse_episode_meta
from pipeline.episodes import load_record, now, set_state, update_record
from pipeline.errors import ArticleError, DiptychError, PublishError
from pipeline.feed import (
    FeedItem,
    TranscriptLink,
    channel_for_show,
    cover_problem,
    render_feed,
    truncate_utf8,
)
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import EpisodeRecord, EpisodeState, Pairing, Transcript
from pipeline.site import SiteUrls
from pipeline.store import dumps_json, file_lock, read_model_or_none, sha256_json, write_bytes_atomic, write_text_atomic

log = logging.getLogger(__name__)

PUBLISHABLE = (EpisodeState.approved, EpisodeState.published)
UNPUBLISH_STAGE = "unpublish"
WARN_NO_BASE_URL = "podcast apps need show.base_url in diptych.toml: the feed's links are relative for now"
WARN_NO_COVER = "Apple Podcasts requires a 1400–3000 px square cover: set show.cover in diptych.toml"
# Transcript files: (name, MIME type in the feed, rel)
TRANSCRIPT_FILES = (
    ("transcript.vtt", "text/vtt", "captions"),
    ("transcript.srt", "application/x-subrip", "captions"),
    ("transcript.json", "application/json", None),
    ("transcript.html", "text/html", None),
)
PAGE_DESCRIPTION_CHARS = 300


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


@dataclass(frozen=True)
class EpisodeSource:
    """Everything publishing reads from one workspace, read and checked before anything is written."""

    layout: EpisodeLayout
    record: EpisodeRecord
    meta: EpisodeMeta
    article: Article | None
    pairing: Pairing | None
    transcript: Transcript
    audio: Path
    duration_s: float
    language: str
    published_at: datetime
    description: str
    speaker: str | None
    cover: Path | None
    images: article_images.ArticleImages = article_images.ArticleImages()

    @property
    def slug(self) -> str:
        return self.record.slug


class SiteEntry(BaseModel):
    """What the home page and the feed say about one episode on the site, as it was last built."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    show_key: str  # the show settings it was built with
    slug: str
    guid: str
    title: str
    language: str
    published_at: datetime
    created_at: datetime
    duration_s: float
    enclosure_bytes: int
    description: str
    content_html: str
    explicit: bool
    episode: int | None = None
    season: int | None = None
    cover_name: str | None = None
    has_chapters: bool = False
    # The published MP3 (master + chapters) can be linked into a rebuild while both keys still match.
    audio_key: str = ""
    mp3_stamp: tuple[int, int] = (0, 0)  # size and mtime_ns of <slug>/<slug>.mp3 as built


# --- reading ---------------------------------------------------------------------------------------


def _read_article(layout: EpisodeLayout, record: EpisodeRecord) -> Article | None:
    if not record.source_article:
        return None
    path = layout.source_file(record.source_article)
    if not path.exists():
        raise PublishError(f"cannot publish '{record.slug}': {path} is missing; put the article back")
    try:
        return read_article(path)
    except ArticleError as exc:
        raise PublishError(f"cannot publish '{record.slug}': {exc}") from exc


def _audio_duration(path: Path, slug: str) -> float:
    if not path.is_file():
        raise PublishError(f"cannot publish '{slug}': {path} is missing; re-run 'diptych run' to rebuild it")
    try:
        info = MP3(path).info
    except (MutagenError, OSError) as exc:
        raise PublishError(
            f"cannot publish '{slug}': {path} is not a readable MP3 ({exc}); re-run the audio stage"
        ) from exc
    if info is None or not info.length:
        raise PublishError(f"cannot publish '{slug}': {path} holds no audio; re-run the audio stage")
    return float(info.length)


def _read_transcript(layout: EpisodeLayout) -> Transcript:
    for path in (layout.reviewed_json, layout.draft_json):
        transcript = read_model_or_none(path, Transcript)
        if transcript is not None:
            return transcript
    raise PublishError(
        f"cannot publish '{layout.slug}': no transcript in {layout.transcript_dir}; transcribe it"
    )


def _first_publication(meta: EpisodeMeta) -> datetime:
    """An article dated in the past keeps its date (a back catalogue); otherwise now."""
    moment = now()
    if meta.date is not None and meta.date < moment.date():
        return datetime.combine(meta.date, time(0, 0), tzinfo=UTC)
    return moment


def _summary(meta: EpisodeMeta, article: Article | None, transcript: Transcript) -> str:
    if meta.description:
        return meta.description.strip()
    if article is not None:
        paragraphs = [b.text for b in article.blocks if b.kind == "paragraph" and b.text.strip()]
        if paragraphs:
            return truncate_utf8(" ".join(paragraphs[:3]), limit=1000)
    return truncate_utf8(transcript.text, limit=1000)


def _episode_cover(
    project: ProjectLayout, layout: EpisodeLayout, meta: EpisodeMeta, record: EpisodeRecord
) -> Path | None:
    """The drop's cover, or the front matter's `cover` (beside the article, else in the project)."""
    name = meta.cover or record.source_cover
    if not name:
        return None
    for path in (layout.source_file(name), project.root / name):
        if path.is_file():
            return path
    raise PublishError(
        f"cannot publish '{record.slug}': cover '{name}' is in neither {layout.source_dir} "
        f"nor {project.root}; fix the front matter's 'cover' or add the image"
    )


def load_source(project: ProjectLayout, slug: str, settings: Settings) -> EpisodeSource:
    """Read and check one episode's workspace; raise PublishError naming what is wrong."""
    layout = project.episode(slug)
    record = load_record(layout)
    article = _read_article(layout, record)
    try:
        meta = parse_episode_meta(article.front_matter if article else {}, source=record.source_article or "")
    except DiptychError as exc:
        raise PublishError(f"cannot publish '{record.slug}': {exc}") from exc
    transcript = _read_transcript(layout)
    language = meta.language or record.language or transcript.language or settings.show.language
    images = article_images.episode_images(layout, article, record.source_article)
    return EpisodeSource(
        layout=layout,
        record=record,
        meta=meta,
        article=article,
        pairing=read_model_or_none(layout.pairing_json, Pairing),
        transcript=transcript,
        audio=layout.master_mp3,
        duration_s=_audio_duration(layout.master_mp3, record.slug),
        language=language,
        published_at=record.published_at or _first_publication(meta),
        description=_summary(meta, article, transcript),
        speaker=meta.speaker or settings.show.speaker,
        cover=_episode_cover(project, layout, meta, record),
        images=images,
    )


def show_cover(project: ProjectLayout, settings: Settings) -> Path | None:
    if not settings.show.cover:
        return None
    path = project.root / settings.show.cover
    if not path.is_file():
        raise PublishError(
            f"show.cover = '{settings.show.cover}' not found in {project.root}: fix diptych.toml"
        )
    return path


# --- writing one episode ---------------------------------------------------------------------------


def _cover_name(path: Path | None) -> str | None:
    return f"cover{path.suffix.lower()}" if path is not None else None


def _page_url(urls: SiteUrls, slug: str) -> str:
    return urls.page(slug) if urls.base else "index.html"


def _marks(src: EpisodeSource) -> list[chapters.ChapterMark]:
    return chapters.chapter_marks(src.pairing.chapters if src.pairing else [], duration_s=src.duration_s)


def audio_key(src: EpisodeSource, urls: SiteUrls) -> str:
    """What the published MP3 is made of: the master file as it is now, and the chapters written in."""
    st = src.audio.stat()
    marks = [(m.title, m.start_s, m.end_s, m.anchor) for m in _marks(src)]
    return sha256_json([st.st_size, st.st_mtime_ns, src.record.title, _page_url(urls, src.slug), marks])


def _write_mp3(src: EpisodeSource, mp3: Path, *, urls: SiteUrls, reuse: Path | None) -> None:
    """The master with its chapters; linked from the current site when that copy is still right."""
    if reuse is not None:
        try:
            os.link(reuse, mp3)
            return
        except OSError:
            log.debug("%s: cannot link %s, copying", src.slug, reuse)
    shutil.copyfile(src.audio, mp3)
    chapters.write_id3_chapters(
        mp3, _marks(src), toc_title=src.record.title, page_url=_page_url(urls, src.slug)
    )


def write_episode_folder(
    src: EpisodeSource, dest: Path, *, urls: SiteUrls, show_title: str, reuse_mp3: Path | None = None
) -> None:
    """dest/ ← index.html, <slug>.mp3 (with ID3 chapters), transcripts, chapters.json, cover."""
    dest.mkdir(parents=True)
    page_url = _page_url(urls, src.slug)
    marks = _marks(src)
    _write_mp3(src, dest / f"{src.slug}.mp3", urls=urls, reuse=reuse_mp3)
    (dest / "chapters.json").write_text(chapters.render_chapters_json(marks, page_url=page_url), "utf-8")
    captions.write_transcript_files(
        dest, src.transcript, default_speaker=src.speaker, language=src.language, title=src.record.title
    )
    if src.cover is not None:
        shutil.copyfile(src.cover, dest / str(_cover_name(src.cover)))
    article_images.copy_images(src.images, dest)
    article = article_images.publish_article(src.article, src.images, prefix="") if src.article else None
    page = site.EpisodePage(
        slug=src.slug,
        title=src.record.title,
        language=src.language,
        show_title=show_title,
        published=src.published_at.date(),
        duration_s=src.duration_s,
        description=truncate_utf8(src.description, limit=PAGE_DESCRIPTION_CHARS),
        flow=site.article_flow(article, src.pairing),
        chapters=tuple(marks),
        segments=site.page_segments(src.transcript, default_speaker=src.speaker),
        cover_name=_cover_name(src.cover),
    )
    (dest / "index.html").write_text(site.render_episode_page(page), "utf-8")


def _entry(src: EpisodeSource, folder: Path, settings: Settings) -> SiteEntry:
    mp3 = (folder / f"{src.slug}.mp3").stat()
    urls = SiteUrls.from_base_url(settings.show.base_url)
    return SiteEntry(
        show_key=_show_key(settings),
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
        cover_name=_cover_name(src.cover),
        has_chapters=bool(_marks(src)),
        audio_key=audio_key(src, urls),
        mp3_stamp=(mp3.st_size, mp3.st_mtime_ns),
    )


def _feed_html(src: EpisodeSource, urls: SiteUrls) -> str:
    """The article for the feed's content:encoded: its pictures at their absolute published address."""
    if src.article is None:
        return ""
    article = article_images.publish_article(src.article, src.images, prefix=urls.at(f"{src.slug}/"))
    return site.sanitize_html(article.html)


def _reusable_mp3(project: ProjectLayout, src: EpisodeSource, urls: SiteUrls) -> Path | None:
    """The site's current MP3 of this episode if it was built from the same master and chapters."""
    mp3 = project.site_dir / src.slug / f"{src.slug}.mp3"
    entry = read_model_or_none(_entries_dir(project) / f"{src.slug}.json", SiteEntry)
    if entry is None or not mp3.is_file():
        return None
    st = mp3.stat()
    same = entry.audio_key == audio_key(src, urls) and entry.mp3_stamp == (st.st_size, st.st_mtime_ns)
    return mp3 if same else None


def _show_key(settings: Settings) -> str:
    return sha256_json(settings.show.model_dump(mode="json"))


# --- the home page and the feed --------------------------------------------------------------------


def _feed_item(e: SiteEntry, urls: SiteUrls, show_image: str | None) -> FeedItem:
    folder = f"{e.slug}/"
    return FeedItem(
        guid=e.guid,
        title=e.title,
        page_url=urls.page(e.slug),
        published_at=e.published_at,
        enclosure_url=urls.at(f"{folder}{e.slug}.mp3"),
        enclosure_bytes=e.enclosure_bytes,
        duration_s=e.duration_s,
        description=e.description,
        content_html=e.content_html,
        explicit=e.explicit,
        episode=e.episode,
        season=e.season,
        image_url=urls.at(folder + e.cover_name) if e.cover_name else show_image,
        chapters_url=urls.at(folder + "chapters.json") if e.has_chapters else None,
        transcripts=tuple(
            TranscriptLink(urls.at(folder + name), mime, e.language, rel)
            for name, mime, rel in TRANSCRIPT_FILES
        ),
    )


def _home(entries: list[SiteEntry], settings: Settings, urls: SiteUrls, cover: Path | None) -> site.HomePage:
    shown = tuple(
        site.HomeEntry(
            e.slug,
            e.title,
            e.published_at.date(),
            e.duration_s,
            truncate_utf8(e.description, limit=PAGE_DESCRIPTION_CHARS),
            e.language,
        )
        for e in entries
    )
    return site.HomePage(
        title=settings.show.title,
        description=settings.show.description,
        language=settings.show.language,
        feed_url=urls.at("feed.xml"),
        entries=shown,
        cover_name=_cover_name(cover),
    )


def _newest_first(entries: list[SiteEntry]) -> list[SiteEntry]:
    """By publication, then by claim: episodes published by one build keep the order they arrived in."""
    return sorted(entries, key=lambda e: (e.published_at, e.created_at, e.slug), reverse=True)


def _write_public(path: Path, data: bytes) -> None:
    """Atomic, and readable by the web server (temporary files are created private)."""
    write_bytes_atomic(path, data)
    path.chmod(0o644)


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.is_file() or path.read_bytes() != data:
        _write_public(path, data)


def _write_root(root: Path, entries: list[SiteEntry], settings: Settings, cover: Path | None) -> None:
    """index.html, feed.xml, the stylesheet, the script and the show's cover, in root/."""
    urls = SiteUrls.from_base_url(settings.show.base_url)
    for name in site.ASSETS:
        _write_if_changed(root / name, site.asset_bytes(name))
    image = None
    if cover is not None:
        _write_if_changed(root / str(_cover_name(cover)), cover.read_bytes())
        image = urls.at(str(_cover_name(cover)))
    entries = _newest_first(entries)
    channel = channel_for_show(
        settings.show, feed_url=urls.at("feed.xml"), link=urls.at("") or "index.html", image_url=image
    )
    _write_public(root / "feed.xml", render_feed(channel, [_feed_item(e, urls, image) for e in entries]))
    _write_public(root / "index.html", site.render_home_page(_home(entries, settings, urls, cover)).encode())


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


def _entries_dir(project: ProjectLayout) -> Path:
    return project.data_dir / "site"


def _save_entries(project: ProjectLayout, entries: list[SiteEntry], *, keep_only: bool) -> None:
    """Write the entries that changed; after a full build, drop those of episodes no longer listed."""
    folder = _entries_dir(project)
    for entry in entries:
        path = folder / f"{entry.slug}.json"
        text = dumps_json(entry.model_dump(mode="json"))
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_text_atomic(path, text)
    if keep_only and folder.is_dir():
        wanted = {f"{e.slug}.json" for e in entries}
        for stale in (p for p in folder.glob("*.json") if p.name not in wanted):
            stale.unlink()


def is_unpublished(record: EpisodeRecord) -> bool:
    """Unpublished on purpose: only approving again (or naming it) brings it back."""
    return bool(record.history) and record.history[-1].stage == UNPUBLISH_STAGE


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
    entry = read_model_or_none(_entries_dir(project) / f"{record.slug}.json", SiteEntry)
    if entry is not None and entry.show_key == _show_key(settings) and entry.guid == record.guid:
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
    with _staging(project) as staging:
        built = staging / "site"
        built.mkdir(mode=0o755)
        for src in sources:
            reuse = _reusable_mp3(project, src, urls)
            write_episode_folder(
                src, built / src.slug, urls=urls, show_title=settings.show.title, reuse_mp3=reuse
            )
        entries = [_entry(src, built / src.slug, settings) for src in sources]
        if full:
            _write_root(built, entries, settings, show_cover(project, settings))
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
        article_images.record_image_warnings(src.layout, src.images)
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
            _write_root(project.site_dir, entries, settings, cover)
        _save_entries(project, entries, keep_only=slugs is None)
        newly = _record_publication(sources)
    published = tuple(e.slug for e in _newest_first(entries))
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
            _write_root(
                project.site_dir,
                [e for e in others if e is not None],
                settings,
                show_cover(project, settings),
            )
        (_entries_dir(project) / f"{slug}.json").unlink(missing_ok=True)
        set_state(layout, EpisodeState.approved, stage=UNPUBLISH_STAGE, message="taken off the site")
    log.info("%s: unpublished", slug)
