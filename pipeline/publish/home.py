"""The site's listing of its episodes: the home page and the feed.

What they say about each episode on the site is a SiteEntry, kept beside its build
(output/.diptych/site/<slug>.json), so that rebuilding one episode reads no other workspace.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline.config import Person, Settings
from pipeline.layout import ProjectLayout
from pipeline.publish import meta
from pipeline.publish import pages as site
from pipeline.publish.cover import published_cover
from pipeline.publish.feed import FeedItem, FeedPerson, TranscriptLink, channel_for_show, render_feed, truncate_utf8
from pipeline.publish.pages import SiteUrls
from pipeline.store import dumps_json, sha256_json, write_bytes_atomic, write_text_atomic

# Transcript files: (name, MIME type in the feed, rel)
TRANSCRIPT_FILES = (
    ("transcript.vtt", "text/vtt", "captions"),
    ("transcript.srt", "application/x-subrip", "captions"),
    ("transcript.json", "application/json", None),
    ("transcript.html", "text/html", None),
    ("transcript.txt", "text/plain", None),
)
PAGE_DESCRIPTION_CHARS = 300


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
    guests: list[Person] = []  # the front matter's speakers (the feed's item-level podcast:person)


def cover_name(path: Path | None) -> str | None:
    return f"cover{path.suffix.lower()}" if path is not None else None


def show_key(settings: Settings) -> str:
    return sha256_json(settings.show.model_dump(mode="json"))


def entries_dir(project: ProjectLayout) -> Path:
    return project.data_dir / "site"


def save_entries(project: ProjectLayout, entries: list[SiteEntry], *, keep_only: bool) -> None:
    """Write the entries that changed; after a full build, drop those of episodes no longer listed."""
    folder = entries_dir(project)
    for entry in entries:
        path = folder / f"{entry.slug}.json"
        text = dumps_json(entry.model_dump(mode="json"))
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_text_atomic(path, text)
    if keep_only and folder.is_dir():
        wanted = {f"{e.slug}.json" for e in entries}
        for stale in (p for p in folder.glob("*.json") if p.name not in wanted):
            stale.unlink()


def _feed_content(e: SiteEntry, urls: SiteUrls) -> str:
    """The article, then where to read it with its player and where its transcript is."""
    t = site.ui_strings(e.language)
    page, transcript = html.escape(urls.page(e.slug)), html.escape(urls.at(f"{e.slug}/transcript.html"))
    links = f'<p><a href="{page}">{t["episode_page"]}</a> · <a href="{transcript}">{t["transcript"]}</a></p>'
    return f"{e.content_html}\n{links}" if e.content_html else links


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
        content_html=_feed_content(e, urls),
        explicit=e.explicit,
        episode=e.episode,
        season=e.season,
        image_url=urls.at(folder + e.cover_name) if e.cover_name else show_image,
        chapters_url=urls.at(folder + "chapters.json") if e.has_chapters else None,
        transcripts=tuple(
            TranscriptLink(urls.at(folder + name), mime, e.language, rel)
            for name, mime, rel in TRANSCRIPT_FILES
        ),
        people=tuple(FeedPerson.of(g) for g in e.guests),
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
        cover_name=cover_name(cover),
        subscribe=meta.subscribe_links(settings.show.subscribe),
        canonical=urls.base or None,
    )


def newest_first(entries: list[SiteEntry]) -> list[SiteEntry]:
    """By publication, then by claim: episodes published by one build keep the order they arrived in."""
    return sorted(entries, key=lambda e: (e.published_at, e.created_at, e.slug), reverse=True)


def _write_public(path: Path, data: bytes) -> None:
    """Atomic, and readable by the web server (temporary files are created private)."""
    write_bytes_atomic(path, data)
    path.chmod(0o644)


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.is_file() or path.read_bytes() != data:
        _write_public(path, data)


def write_root(root: Path, entries: list[SiteEntry], settings: Settings, cover: Path | None) -> None:
    """index.html, feed.xml, the stylesheet, the script and the show's cover, in root/."""
    urls = SiteUrls.from_base_url(settings.show.base_url)
    for name in site.ASSETS:
        _write_if_changed(root / name, site.asset_bytes(name))
    image = None
    if cover is not None:
        _write_if_changed(root / str(cover_name(cover)), published_cover(cover).data)
        image = urls.at(str(cover_name(cover)))
    entries = newest_first(entries)
    channel = channel_for_show(
        settings.show,
        feed_url=urls.at("feed.xml"),
        link=urls.at("") or "index.html",
        image_url=image,
        years=[e.published_at.year for e in entries],
    )
    _write_public(root / "feed.xml", render_feed(channel, [_feed_item(e, urls, image) for e in entries]))
    _write_public(root / "index.html", site.render_home_page(_home(entries, settings, urls, cover)).encode())
