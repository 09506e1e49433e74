"""The episode's files in the blog's media library: each uploaded once, again only when its bytes
change. `wordpress.json` in the workspace maps each uploaded file's sha256 to its media id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from pipeline.models import Strict
from pipeline.publish.wordpress.client import MediaTypeRefused, WordPressClient
from pipeline.store import sha256_file

log = logging.getLogger(__name__)

# (file in the episode folder, role, MIME type, required): the blog must take the MP3; a stock
# WordPress refuses .json (and .html from users without unfiltered_html): those are left out.
EPISODE_FILES = (
    ("transcript.vtt", "vtt", "text/vtt", True),
    ("transcript.srt", "srt", "text/plain", True),
    ("transcript.txt", "txt", "text/plain", True),
    ("transcript.html", "html", "text/html", False),
    ("transcript.json", "json", "application/json", False),
    ("chapters.json", "chapters", "application/json", False),
)
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
               ".webp": "image/webp", ".avif": "image/avif"}


class UploadedMedia(Strict):
    media_id: int
    url: str
    role: str
    name: str
    bytes: int


class WordPressRecord(Strict):
    """wordpress.json: the episode on one blog: its post and the media diptych uploaded there."""

    schema_version: int = 1
    blog_url: str
    post_id: int | None = None
    post_url: str | None = None
    post_status: str | None = None
    media: dict[str, UploadedMedia] = Field(default_factory=dict)  # sha256 → the uploaded file


@dataclass(frozen=True)
class MediaFile:
    path: Path
    role: str  # "mp3", "cover", "vtt", …, or "image:<path as the article names it>"
    name: str  # the file name on the blog: <slug>-…, so that episodes do not collide
    mime_type: str
    required: bool = True


def episode_files(folder: Path, slug: str, *, cover: Path | None) -> list[MediaFile]:
    """What goes to the media library, from the episode's built folder: its role "image:<src>" says
    where the article's picture is on the site (images/…, the src the article's HTML holds)."""
    files = [MediaFile(folder / f"{slug}.mp3", "mp3", f"{slug}.mp3", "audio/mpeg")]
    if cover is not None:
        files.append(MediaFile(cover, "cover", f"{slug}-cover{cover.suffix.lower()}", _image_type(cover)))
    for name, role, mime, required in EPISODE_FILES:
        files.append(MediaFile(folder / name, role, f"{slug}-{name.replace('.', '-', name.count('.') - 1)}",
                               mime, required))
    for path in sorted(p for p in (folder / "images").rglob("*") if p.is_file()):
        src = path.relative_to(folder).as_posix()
        files.append(MediaFile(path, f"image:{src}", f"{slug}-{path.name}", _image_type(path)))
    return files


def _image_type(path: Path) -> str:
    return IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream")


@dataclass(frozen=True)
class SyncResult:
    by_role: dict[str, UploadedMedia]
    uploaded: tuple[str, ...]  # names uploaded by this run
    refused: tuple[str, ...]  # optional files the blog does not accept (left out)


def forget_missing(client: WordPressClient, record: WordPressRecord) -> WordPressRecord:
    """Drop the entries whose attachment was deleted on the blog: they are uploaded again."""
    ids = sorted({m.media_id for m in record.media.values()})
    if not ids:
        return record
    alive = client.media_items(ids)
    kept = {sha: m for sha, m in record.media.items() if m.media_id in alive}
    return record.model_copy(update={"media": kept})


def sync_media(
    client: WordPressClient,
    files: list[MediaFile],
    record: WordPressRecord,
    *,
    save: Callable[[WordPressRecord], WordPressRecord],
) -> tuple[WordPressRecord, SyncResult]:
    """Upload each file whose sha256 the blog does not have yet; `save` keeps each upload at once,
    so that a run cut short resumes without uploading again what went through."""
    by_role: dict[str, UploadedMedia] = {}
    uploaded: list[str] = []
    refused: list[str] = []
    for file in files:
        sha = sha256_file(file.path)
        known = record.media.get(sha)
        if known is not None and known.role == file.role:
            by_role[file.role] = known
            continue
        try:
            media = client.upload_media(file.path, name=file.name, mime_type=file.mime_type)
        except MediaTypeRefused as exc:
            if file.required:
                raise
            log.warning("%s: left out (%s)", file.name, exc)
            refused.append(file.name)
            continue
        entry = UploadedMedia(
            media_id=media.id, url=media.url, role=file.role, name=file.name, bytes=file.path.stat().st_size
        )
        record = save(record.model_copy(update={"media": {**record.media, sha: entry}}))
        by_role[file.role] = entry
        uploaded.append(file.name)
        log.info("%s: uploaded to %s (media %d)", file.name, client.blog, media.id)
    return record, SyncResult(by_role, tuple(uploaded), tuple(refused))


def remove_stale(
    client: WordPressClient,
    record: WordPressRecord,
    current: dict[str, UploadedMedia],
    *,
    save: Callable[[WordPressRecord], WordPressRecord],
) -> WordPressRecord:
    """Delete from the blog the files this episode no longer uses (replaced by a new version)."""
    used = {m.media_id for m in current.values()}
    for sha, media in list(record.media.items()):
        if media.media_id in used:
            continue
        client.delete_media(media.media_id)
        record = save(record.model_copy(update={"media": {k: v for k, v in record.media.items() if k != sha}}))
        log.info("%s: old version removed from %s (media %d)", media.name, client.blog, media.media_id)
    return record
