"""Publishing: build output/site/ (pages, feed, audio, transcripts, chapters) from approved episodes.

Nothing half-written ever shows in output/site/: every input is read and checked before anything is
written; a full build is made in a folder beside the site and swapped in with renames; a build for
named episodes makes their folders beside the old ones, swaps each, then replaces the home page and
the feed atomically. The same inputs give the same bytes (no clock in any file).

State: `publish_site` changes no state; it records `published_at` (the feed's pubDate) once and for
all when an episode first goes on the site, and returns the approved episodes it put there
(`newly_published`) for the caller to move to `published`. `unpublish_episode` takes an episode off
the site and back to `approved` with an "unpublish" transition (`is_unpublished`); full builds leave
such an episode out until it is approved again or named explicitly.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path

from mutagen import MutagenError
from mutagen.mp3 import MP3

from pipeline import captions, chapters, site
from pipeline.article import Article, read_article
from pipeline.config import EpisodeMeta, Settings, parse_episode_meta
from pipeline.episodes import load_record, now, set_state, update_record
from pipeline.errors import DiptychError, PublishError
from pipeline.feed import FeedChannel, FeedItem, TranscriptLink, podcast_guid_for, render_feed, truncate_utf8
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import EpisodeRecord, EpisodeState, Pairing, Transcript
from pipeline.store import read_model_or_none, write_bytes_atomic

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
class SiteUrls:
    """Absolute addresses when show.base_url is set; otherwise paths relative to the site root."""

    base: str  # "" or "https://example.org/podcast/"

    def at(self, path: str) -> str:
        return self.base + path

    def page(self, slug: str) -> str:
        return self.at(f"{slug}/") if self.base else f"{slug}/index.html"


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

    @property
    def slug(self) -> str:
        return self.record.slug


# --- reading ---------------------------------------------------------------------------------------


def _read_article(layout: EpisodeLayout, record: EpisodeRecord) -> Article | None:
    if not record.source_article:
        return None
    path = layout.source_file(record.source_article)
    if not path.exists():
        raise PublishError(f"cannot publish '{record.slug}': {path} is missing; put the article back")
    try:
        return read_article(path)
    except NotImplementedError:
        # The reader is not available in this build: the page is rebuilt from pairing.json's text.
        log.warning("%s: article reader unavailable, page built from pairing.json", record.slug)
        return None


def _audio_duration(path: Path, slug: str) -> float:
    if not path.is_file():
        raise PublishError(f"cannot publish '{slug}': {path} is missing; re-run 'diptych run' to rebuild it")
    try:
        return float(MP3(path).info.length)
    except (MutagenError, OSError) as exc:
        raise PublishError(
            f"cannot publish '{slug}': {path} is not a readable MP3 ({exc}); re-run the audio stage"
        ) from exc


def _read_transcript(layout: EpisodeLayout) -> Transcript:
    for path in (layout.reviewed_json, layout.draft_json):
        transcript = read_model_or_none(path, Transcript)
        if transcript is not None:
            return transcript
    raise PublishError(f"cannot publish '{layout.slug}': no transcript in {layout.transcript_dir}; transcribe it")


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


def _episode_cover(layout: EpisodeLayout, meta: EpisodeMeta, record: EpisodeRecord) -> Path | None:
    name = meta.cover or record.source_cover
    if not name:
        return None
    path = layout.source_file(name)
    if not path.is_file():
        raise PublishError(f"cannot publish '{record.slug}': cover {path} is missing; fix 'cover' or add it")
    return path


def load_source(layout: EpisodeLayout, settings: Settings) -> EpisodeSource:
    """Read and check one episode's workspace; raise PublishError naming what is wrong."""
    record = load_record(layout)
    article = _read_article(layout, record)
    try:
        meta = parse_episode_meta(article.front_matter if article else {}, source=record.source_article or "")
    except DiptychError as exc:
        raise PublishError(f"cannot publish '{record.slug}': {exc}") from exc
    transcript = _read_transcript(layout)
    language = meta.language or record.language or transcript.language or settings.show.language
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
        cover=_episode_cover(layout, meta, record),
    )


def show_cover(project: ProjectLayout, settings: Settings) -> Path | None:
    if not settings.show.cover:
        return None
    path = project.root / settings.show.cover
    if not path.is_file():
        raise PublishError(f"show.cover = '{settings.show.cover}' not found in {project.root}: fix diptych.toml")
    return path


# --- writing one episode ---------------------------------------------------------------------------


def _cover_name(path: Path | None) -> str | None:
    return f"cover{path.suffix.lower()}" if path is not None else None


def write_episode_folder(src: EpisodeSource, dest: Path, *, urls: SiteUrls, show_title: str) -> None:
    """dest/ ← index.html, <slug>.mp3 (with ID3 chapters), transcripts, chapters.json, cover."""
    dest.mkdir(parents=True)
    page_url = urls.page(src.slug) if urls.base else "index.html"
    marks = chapters.chapter_marks(src.pairing.chapters if src.pairing else [], duration_s=src.duration_s)
    mp3 = dest / f"{src.slug}.mp3"
    shutil.copyfile(src.audio, mp3)
    chapters.write_id3_chapters(mp3, marks, toc_title=src.record.title, page_url=page_url)
    (dest / "chapters.json").write_text(chapters.render_chapters_json(marks, page_url=page_url), "utf-8")
    captions.write_transcript_files(
        dest, src.transcript, default_speaker=src.speaker, language=src.language, title=src.record.title
    )
    if src.cover is not None:
        shutil.copyfile(src.cover, dest / str(_cover_name(src.cover)))
    page = site.EpisodePage(
        slug=src.slug,
        title=src.record.title,
        language=src.language,
        show_title=show_title,
        published=src.published_at.date(),
        duration_s=src.duration_s,
        description=truncate_utf8(src.description, limit=PAGE_DESCRIPTION_CHARS),
        flow=site.article_flow(src.article, src.pairing),
        chapters=tuple(marks),
        segments=site.page_segments(src.transcript, default_speaker=src.speaker),
        cover_name=_cover_name(src.cover),
    )
    (dest / "index.html").write_text(site.render_episode_page(page), "utf-8")


def _feed_item(src: EpisodeSource, mp3: Path, urls: SiteUrls, settings: Settings, show_image: str | None) -> FeedItem:
    folder = f"{src.slug}/"
    transcripts = tuple(
        TranscriptLink(urls.at(folder + name), mime, src.language, rel) for name, mime, rel in TRANSCRIPT_FILES
    )
    has_chapters = bool(src.pairing and src.pairing.chapters)
    cover = _cover_name(src.cover)
    return FeedItem(
        guid=src.record.guid,
        title=src.record.title,
        page_url=urls.page(src.slug),
        published_at=src.published_at,
        enclosure_url=urls.at(f"{folder}{src.slug}.mp3"),
        enclosure_bytes=mp3.stat().st_size,
        duration_s=src.duration_s,
        description=src.description,
        content_html=site.sanitize_html(src.article.html) if src.article else "",
        explicit=settings.show.explicit if src.meta.explicit is None else src.meta.explicit,
        episode=src.meta.episode,
        season=src.meta.season,
        image_url=urls.at(folder + cover) if cover else show_image,
        chapters_url=urls.at(folder + "chapters.json") if has_chapters else None,
        transcripts=transcripts,
    )


# --- the site --------------------------------------------------------------------------------------


def _channel(settings: Settings, urls: SiteUrls, image: str | None) -> FeedChannel:
    show = settings.show
    feed_url = urls.at("feed.xml")
    return FeedChannel(
        title=show.title,
        link=urls.at("") or "index.html",
        feed_url=feed_url,
        description=show.description,
        language=show.language,
        author=show.author,
        owner_name=show.owner_name or show.author,
        owner_email=show.owner_email,
        category=show.category,
        subcategory=show.subcategory,
        explicit=show.explicit,
        locked=show.locked,
        podcast_guid=show.podcast_guid or (podcast_guid_for(feed_url) if urls.base else None),
        image_url=image,
        copyright=show.copyright,
    )


def _write_public(path: Path, data: bytes) -> None:
    """Atomic, and readable by the web server (temporary files are created private)."""
    write_bytes_atomic(path, data)
    path.chmod(0o644)


def _write_root(
    root: Path, sources: list[EpisodeSource], settings: Settings, urls: SiteUrls, cover: Path | None
) -> None:
    """index.html, feed.xml, the stylesheet, the script and the show's cover, in root/."""
    for name in site.ASSETS:
        data = site.asset_bytes(name)
        if not (root / name).is_file() or (root / name).read_bytes() != data:
            _write_public(root / name, data)
    image = None
    if cover is not None:
        cover_name = str(_cover_name(cover))
        if not (root / cover_name).is_file() or (root / cover_name).read_bytes() != cover.read_bytes():
            _write_public(root / cover_name, cover.read_bytes())
        image = urls.at(cover_name)
    items = [_feed_item(s, root / s.slug / f"{s.slug}.mp3", urls, settings, image) for s in _newest_first(sources)]
    _write_public(root / "feed.xml", render_feed(_channel(settings, urls, image), items))
    _write_public(root / "index.html", site.render_home_page(_home(sources, settings, urls, cover)).encode())


def _home(sources: list[EpisodeSource], settings: Settings, urls: SiteUrls, cover: Path | None) -> site.HomePage:
    entries = tuple(
        site.HomeEntry(
            s.slug,
            s.record.title,
            s.published_at.date(),
            s.duration_s,
            truncate_utf8(s.description, limit=PAGE_DESCRIPTION_CHARS),
            s.language,
        )
        for s in _newest_first(sources)
    )
    return site.HomePage(
        title=settings.show.title,
        description=settings.show.description,
        language=settings.show.language,
        feed_url=urls.at("feed.xml"),
        entries=entries,
        cover_name=_cover_name(cover),
    )


def _newest_first(sources: list[EpisodeSource]) -> list[EpisodeSource]:
    """By publication, then by claim: episodes published by one build keep the order they arrived in."""
    return sorted(sources, key=lambda s: (s.published_at, s.record.created_at, s.slug), reverse=True)


# --- building and swapping -------------------------------------------------------------------------


@contextmanager
def _publish_lock(project: ProjectLayout) -> Iterator[None]:
    """One build at a time per project: two would race on the home page and the feed."""
    project.locks_dir.mkdir(parents=True, exist_ok=True)
    with (project.locks_dir / "publish.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _swap_in(new: Path, target: Path, *, trash: Path) -> None:
    """Replace `target` (a folder, maybe absent) by `new` with two renames; the old one goes to trash."""
    if target.exists():
        os.replace(target, trash / f"old-{target.name}")
    os.replace(new, target)


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


def is_unpublished(record: EpisodeRecord) -> bool:
    """Unpublished on purpose: only approving again (or naming it) brings it back."""
    return bool(record.history) and record.history[-1].stage == UNPUBLISH_STAGE


def _candidates(project: ProjectLayout, settings: Settings, named: set[str]) -> list[EpisodeSource]:
    sources = []
    for slug in project.episode_slugs():
        layout = project.episode(slug)
        record = load_record(layout)
        if record.state not in PUBLISHABLE:
            if slug in named:
                raise PublishError(f"cannot publish '{slug}': it is {record.state}; approve it first")
            continue
        if slug in named or not is_unpublished(record):
            sources.append(load_source(layout, settings))
    return sources


def _warnings(settings: Settings, cover: Path | None) -> list[str]:
    found = []
    if not settings.show.base_url:
        found.append(WARN_NO_BASE_URL)
    if cover is None:
        found.append(WARN_NO_COVER)
    for warning in found:
        log.warning(warning)
    return found


def _build_full(project: ProjectLayout, sources: list[EpisodeSource], settings: Settings, urls: SiteUrls) -> None:
    cover = show_cover(project, settings)
    with _staging(project) as staging:
        new_site = staging / "site"
        new_site.mkdir(mode=0o755)
        for src in sources:
            write_episode_folder(src, new_site / src.slug, urls=urls, show_title=settings.show.title)
        _write_root(new_site, sources, settings, urls, cover)
        _swap_in(new_site, project.site_dir, trash=staging / "trash")


def _build_some(
    project: ProjectLayout, sources: list[EpisodeSource], named: set[str], settings: Settings, urls: SiteUrls
) -> list[EpisodeSource]:
    """Rebuild the named episodes' folders; list the others only where their folder is already there."""
    cover = show_cover(project, settings)
    site_dir = project.site_dir
    rebuilt = [s for s in sources if s.slug in named]
    with _staging(project) as staging:
        for src in rebuilt:
            write_episode_folder(src, staging / src.slug, urls=urls, show_title=settings.show.title)
        site_dir.mkdir(parents=True, exist_ok=True)
        for src in rebuilt:
            _swap_in(staging / src.slug, site_dir / src.slug, trash=staging / "trash")
    listed = [s for s in sources if s.slug in named or (site_dir / s.slug / f"{s.slug}.mp3").is_file()]
    _write_root(site_dir, listed, settings, urls, cover)
    return listed


def _record_publication(sources: list[EpisodeSource]) -> list[str]:
    """Keep each episode's first publication date for good; list those still to move to published."""
    for src in sources:
        if src.record.published_at is None:
            update_record(src.layout, published_at=src.published_at)
    return [s.slug for s in sources if s.record.state is EpisodeState.approved]


def publish_site(project: ProjectLayout, settings: Settings, *, slugs: list[str] | None = None) -> PublishResult:
    """Build output/site/ for every approved or published episode (or rebuild only `slugs`'s folders,
    the home page and the feed). The caller moves `newly_published` to the published state."""
    urls = SiteUrls(base=_base_url(settings))
    named = set(slugs or [])
    for slug in named:
        project.existing_episode(slug)
    with _publish_lock(project):
        sources = _candidates(project, settings, named)
        warnings = _warnings(settings, show_cover(project, settings))
        if slugs is None:
            _build_full(project, sources, settings, urls)
            listed, rebuilt = sources, [s.slug for s in sources]
        else:
            listed, rebuilt = _build_some(project, sources, named, settings, urls), sorted(named)
        newly = _record_publication(listed)
    published = tuple(s.slug for s in _newest_first(listed))
    log.info("site built in %s: %d episodes (%d rebuilt)", project.site_dir, len(published), len(rebuilt))
    return PublishResult(project.site_dir, published, tuple(rebuilt), tuple(newly), tuple(warnings))


def unpublish_episode(project: ProjectLayout, settings: Settings, slug: str) -> None:
    """Take an episode off the site and out of the feed; its workspace stays, its state goes back to
    approved (its guid and published_at are kept for a later return)."""
    layout = project.existing_episode(slug)
    record = load_record(layout)
    if record.state is not EpisodeState.published:
        raise PublishError(f"'{slug}' is {record.state}, not published: nothing to unpublish")
    urls = SiteUrls(base=_base_url(settings))
    with _publish_lock(project):
        site_dir = project.site_dir
        others = [s for s in _candidates(project, settings, set()) if s.slug != slug]
        if (site_dir / slug).exists():
            with _staging(project) as staging:
                os.replace(site_dir / slug, staging / "trash" / slug)
        if site_dir.is_dir():
            listed = [s for s in others if (site_dir / s.slug / f"{s.slug}.mp3").is_file()]
            _write_root(site_dir, listed, settings, urls, show_cover(project, settings))
        set_state(layout, EpisodeState.approved, stage=UNPUBLISH_STAGE, message="taken off the site")
    log.info("%s: unpublished", slug)


def _base_url(settings: Settings) -> str:
    base = (settings.show.base_url or "").strip()
    return base if not base or base.endswith("/") else base + "/"
