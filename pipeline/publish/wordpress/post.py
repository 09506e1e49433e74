"""An approved episode as a post on the creator's WordPress blog.

The media go to the library through the REST API (each once; again only when its bytes change);
the post (title, date, excerpt, featured image, the paired article with its player, "▶" links,
asides, chapters and transcript) through the REST API; the custom fields that WordPress's feed
and podcast plugins read (`enclosure` as "URL\\nlength\\ntype\\n", `duration`, `transcript_url`,
`chapters_url`, `diptych_guid`) through XML-RPC's wp.editPost, which a stock WordPress takes as
they are (its REST API drops meta that no plugin registered).

The post is found again by the episode's guid, written in the post (a data attribute of its
content, and the `diptych_guid` field): a second run, or one after an edit in review, updates the
same post. Nothing in the workspace but `wordpress.json` is written, and output/site/ is not
touched; a failed run leaves what went through recorded there, so that the next one goes on.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from pipeline.article import publish_article
from pipeline.config import Settings
from pipeline.episodes import load_record
from pipeline.errors import PublishError
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import EpisodeRecord
from pipeline.publish.build import PUBLISHABLE, is_unpublished, write_episode_folder
from pipeline.publish.chapters import chapter_marks
from pipeline.publish.home import cover_name
from pipeline.publish.pages import SiteUrls, article_flow, page_segments
from pipeline.publish.source import EpisodeSource, load_source, show_cover
from pipeline.publish.wordpress import content
from pipeline.publish.wordpress.client import Credentials, Post, WordPressClient
from pipeline.publish.wordpress.media import (
    MediaFile,
    SyncResult,
    UploadedMedia,
    WordPressRecord,
    episode_files,
    forget_missing,
    remove_stale,
    sync_media,
)
from pipeline.stages import unapproved
from pipeline.store import read_model_or_none, write_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WordPressResult:
    slug: str
    post_id: int
    post_url: str
    status: str  # the post's status on the blog: "draft", "publish", …
    created: bool  # a new post (else the episode's post was updated)
    uploaded: tuple[str, ...] = ()  # media uploaded by this run
    refused: tuple[str, ...] = ()  # optional files the blog does not accept


def _load(layout: EpisodeLayout, blog: str) -> WordPressRecord:
    """The episode's record for this blog (another blog's record is not this blog's post)."""
    record = read_model_or_none(layout.wordpress_json, WordPressRecord)
    return record if record is not None and record.blog_url == blog else WordPressRecord(blog_url=blog)


def _saver(layout: EpisodeLayout) -> Callable[[WordPressRecord], WordPressRecord]:
    def save(record: WordPressRecord) -> WordPressRecord:
        write_model(layout.wordpress_json, record)
        return record

    return save


def marker(guid: str) -> str:
    return f'data-diptych-guid="{guid}"'


def find_post(client: WordPressClient, record: WordPressRecord, guid: str) -> Post | None:
    """The episode's post: the one recorded if it still holds the guid, else a search for it."""
    if record.post_id is not None:
        post = client.get_post(record.post_id)
        if post is not None and marker(guid) in post.content:
            return post
    return next((p for p in client.find_posts(guid) if marker(guid) in p.content), None)


def _clock(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def custom_fields(src: EpisodeSource, media: dict[str, UploadedMedia]) -> dict[str, str]:
    mp3 = media["mp3"]
    fields = {
        "enclosure": f"{mp3.url}\n{mp3.bytes}\naudio/mpeg\n",  # as WordPress writes it itself
        "duration": _clock(src.duration_s),
        "diptych_guid": src.record.guid,
    }
    if "vtt" in media:
        fields["transcript_url"] = media["vtt"].url
    if "chapters" in media and src.pairing and src.pairing.chapters:
        fields["chapters_url"] = media["chapters"].url
    return fields


def post_content(src: EpisodeSource, media: dict[str, UploadedMedia]) -> str:
    article = publish_article(src.article, src.images, prefix="") if src.article else None
    images = {quote(role.removeprefix("image:")): m.url for role, m in media.items() if role.startswith("image:")}
    marks = chapter_marks(src.pairing.chapters if src.pairing else [], duration_s=src.duration_s)
    return content.render_post_content(
        content.PostContent(
            guid=src.record.guid,
            language=src.language,
            mp3_url=media["mp3"].url,
            flow=article_flow(article, src.pairing),
            chapters=tuple(marks),
            segments=page_segments(src.transcript, default_speaker=src.speaker),
            captions_url=media["vtt"].url if "vtt" in media else None,
            downloads=content.downloads(src.language, {r: m.url for r, m in media.items()}),
            images=images,
        )
    )


def _post_fields(client: WordPressClient, settings: Settings, src: EpisodeSource,
                 media: dict[str, UploadedMedia]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": src.record.title,
        "content": post_content(src, media),
        "excerpt": src.description,
        "date_gmt": src.published_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "featured_media": media["cover"].media_id if "cover" in media else 0,
    }
    if settings.wordpress.category:
        fields["categories"] = [client.term_id("categories", settings.wordpress.category)]
    if settings.wordpress.tags:
        fields["tags"] = [client.term_id("tags", tag) for tag in settings.wordpress.tags]
    return fields


def _files(project: ProjectLayout, settings: Settings, src: EpisodeSource, folder: Path) -> list[MediaFile]:
    """The episode's folder as the site has it (same MP3 bytes, same transcripts), built aside."""
    urls = SiteUrls.from_base_url(settings.show.base_url)
    write_episode_folder(src, folder, urls=urls, show=settings.show, show_cover=show_cover(project, settings))
    # The episode's cover as the site publishes it (resized when too large), else the show's.
    cover = folder / str(cover_name(src.cover)) if src.cover else show_cover(project, settings)
    return episode_files(folder, src.slug, cover=cover)


def _credentials(settings: Settings, password: SecretStr) -> Credentials:
    wp = settings.wordpress
    if not wp.url or not wp.user:
        raise PublishError("publishing to WordPress needs wordpress.url and wordpress.user in diptych.toml")
    return Credentials(url=wp.url.rstrip("/"), user=wp.user, password=password)


def publish_to_wordpress(
    project: ProjectLayout, settings: Settings, slug: str, *, password: SecretStr
) -> WordPressResult:
    """Create or update the episode's post (an episode taken off the site: its post back to draft)."""
    layout = project.existing_episode(slug)
    record = load_record(layout)
    if record.state not in PUBLISHABLE or is_unpublished(record):
        if has_post(layout):
            return draft_on_wordpress(project, settings, slug, password=password)
        raise PublishError(f"cannot publish '{slug}' to WordPress: it is {record.state}; approve it first")
    if (why := unapproved(record)) is not None:  # a person's recorded approval, as for the site
        raise PublishError(why)
    creds = _credentials(settings, password)
    src = load_source(project, slug, settings)
    save = _saver(layout)
    with tempfile.TemporaryDirectory(prefix="diptych-wordpress-") as tmp, WordPressClient(
        creds, timeout_s=settings.wordpress.timeout_s
    ) as client:
        client.check()
        files = _files(project, settings, src, Path(tmp) / slug)
        wp = forget_missing(client, _load(layout, creds.url))
        wp, synced = sync_media(client, files, wp, save=save)
        post, created = _save_post(client, settings, src, wp, synced)
        wp = save(wp.model_copy(update={"post_id": post.id, "post_url": post.link, "post_status": post.status}))
        remove_stale(client, wp, synced.by_role, save=save)
    log.info("%s: %s post %d on %s (%s)", slug, "new" if created else "updated", post.id, creds.url, post.status)
    return WordPressResult(slug, post.id, post.link, post.status, created, synced.uploaded, synced.refused)


def _save_post(client: WordPressClient, settings: Settings, src: EpisodeSource, wp: WordPressRecord,
               synced: SyncResult) -> tuple[Post, bool]:
    """Write the post as a draft first when it is new, then its custom fields, then its status: the
    blog's feed never lists it without its enclosure."""
    fields = _post_fields(client, settings, src, synced.by_role)
    existing = find_post(client, wp, src.record.guid)
    target: str = settings.wordpress.status  # an existing post keeps its status unless "publish"
    if existing is None:
        post = client.save_post(None, {**fields, "status": "draft"})
    else:
        post = client.save_post(existing.id, fields)
        target = "publish" if target == "publish" else existing.status
    client.set_custom_fields(post.id, custom_fields(src, synced.by_role))
    if post.status != target:
        post = client.save_post(post.id, {"status": target})
    return post, existing is None


def draft_on_wordpress(
    project: ProjectLayout, settings: Settings, slug: str, *, password: SecretStr
) -> WordPressResult:
    """The episode's post goes back to draft (the episode was taken off the site, or not approved)."""
    layout = project.existing_episode(slug)
    creds = _credentials(settings, password)
    wp = _load(layout, creds.url)
    guid = load_record(layout).guid
    with WordPressClient(creds, timeout_s=settings.wordpress.timeout_s) as client:
        client.check()
        post = find_post(client, wp, guid)
        if post is None:
            raise PublishError(f"'{slug}' has no post on {creds.url}: nothing to take back to draft")
        if post.status != "draft":
            post = client.save_post(post.id, {"status": "draft"})
    _saver(layout)(wp.model_copy(update={"post_id": post.id, "post_url": post.link, "post_status": post.status}))
    log.info("%s: post %d on %s back to draft", slug, post.id, creds.url)
    return WordPressResult(slug, post.id, post.link, post.status, created=False)


def wants_post(layout: EpisodeLayout, record: EpisodeRecord) -> bool:
    """Publishing to the blog concerns this episode: approved (a post), or unpublished with a post
    (back to draft)."""
    if record.state in PUBLISHABLE and not is_unpublished(record):
        return True
    return has_post(layout) and _load_any(layout).post_status != "draft"


def _load_any(layout: EpisodeLayout) -> WordPressRecord:
    return read_model_or_none(layout.wordpress_json, WordPressRecord) or WordPressRecord(blog_url="")


def has_post(layout: EpisodeLayout) -> bool:
    record = read_model_or_none(layout.wordpress_json, WordPressRecord)
    return record is not None and record.post_id is not None


