"""Chapters for podcast apps: Podcasting 2.0 JSON chapters and ID3 CHAP/CTOC frames in the MP3.

Each chapter carries its title, the address of its section of the episode page and, where that
section of the article shows a picture, the picture; the MP3 also carries the episode's cover.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from mutagen.id3 import APIC, CHAP, CTOC, ID3, TIT2, WXXX, CTOCFlags, Frame, ID3NoHeaderError, PictureType
from mutagen.id3._tags import save_frame
from mutagen.mp3 import HeaderNotFoundError
from PIL import Image, UnidentifiedImageError

from pipeline.errors import PublishError
from pipeline.models import Chapter
from pipeline.publish.cover import published_cover

log = logging.getLogger(__name__)

# ID3v2 CHAP frames give byte offsets too; this value says "not given, use the times".
NO_OFFSET = 0xFFFFFFFF
# Pictures ID3 players show (APIC): JPEG and PNG.
PICTURE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
# Chapter pictures larger than this are scaled down in the MP3 (players show them small).
CHAPTER_PICTURE_PX = 1400


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start_s: float
    end_s: float
    anchor: str | None = None
    image: Path | None = None  # the first picture of its section of the article
    image_url: str | None = None  # where that picture is published


def chapter_marks(chapters: list[Chapter], *, duration_s: float) -> list[ChapterMark]:
    """Chapters in time order, each ending where the next starts; none past the end of the audio."""
    kept = sorted(
        (c for c in chapters if c.title.strip() and 0 <= c.start_s < duration_s), key=lambda c: c.start_s
    )
    marks = []
    for i, chapter in enumerate(kept):
        end = kept[i + 1].start_s if i + 1 < len(kept) else duration_s
        if end > chapter.start_s:
            marks.append(ChapterMark(chapter.title.strip(), chapter.start_s, end, chapter.anchor))
    return marks


def with_pictures(
    marks: list[ChapterMark], blocks: list[tuple[str, tuple[str, ...]]], pictures: dict[str, tuple[Path, str]]
) -> list[ChapterMark]:
    """Each chapter with the first picture of its section: the article's blocks (anchor, pictures it
    shows) from the chapter's own anchor to the next chapter's. `pictures`: ref -> (file, address)."""
    starts = {m.anchor for m in marks if m.anchor}
    first: dict[str, tuple[Path, str]] = {}
    section: str | None = None
    for anchor, refs in blocks:
        section = anchor if anchor in starts else section
        found = [pictures[r] for r in refs if r in pictures and Path(r).suffix.lower() in PICTURE_TYPES]
        if section is not None and section not in first and found:
            first[section] = found[0]
    out = []
    for mark in marks:
        picture = first.get(mark.anchor or "")
        out.append(replace(mark, image=picture[0], image_url=picture[1]) if picture else mark)
    return out


def chapter_url(page_url: str, mark: ChapterMark) -> str:
    return f"{page_url}#{mark.anchor}" if mark.anchor else page_url


def render_chapters_json(marks: list[ChapterMark], *, page_url: str) -> str:
    """Podcasting 2.0 JSON chapters, version 1.2.0; each links to its section of the episode page."""
    chapters = []
    for m in marks:
        chapter: dict[str, object] = {"startTime": round(m.start_s, 3), "title": m.title}
        chapter["url"] = chapter_url(page_url, m)
        if m.image_url:
            chapter["img"] = m.image_url
        chapters.append(chapter)
    return json.dumps({"version": "1.2.0", "chapters": chapters}, ensure_ascii=False, indent=1) + "\n"


class _TimeOrderedID3(ID3):
    """ID3 tags whose CHAP frames are stored in time order.

    mutagen stores frames smallest first (quodlibet/mutagen#506), and ffprobe, ffmpeg and some
    players list chapters in the order their frames are stored, whatever the table of contents says.
    """

    def _write(self, config: object) -> bytearray:
        chaps = sorted(self.getall("CHAP"), key=lambda f: (f.start_time, f.element_id))
        self.delall("CHAP")
        try:
            data: bytearray = super()._write(config)
        finally:
            for frame in chaps:
                self.add(frame)
        return data + b"".join(save_frame(f, config=config) for f in chaps)


def picture_frame(path: Path, *, kind: int, desc: str, data: bytes | None = None) -> APIC | None:
    """An APIC frame holding a JPEG or PNG picture (its file's bytes, or `data`), or None for
    another kind of file."""
    mime = PICTURE_TYPES.get(path.suffix.lower())
    if mime is None or (data is None and not path.is_file()):
        return None
    return APIC(encoding=3, mime=mime, type=kind, desc=desc, data=path.read_bytes() if data is None else data)


def chapter_picture(path: Path) -> bytes:
    """A chapter's picture for the MP3: as it is, or scaled down to CHAPTER_PICTURE_PX (same format),
    so that a large photo does not weigh on every download."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) <= CHAPTER_PICTURE_PX:
                return data
            kind = image.format or "JPEG"
            image.thumbnail((CHAPTER_PICTURE_PX, CHAPTER_PICTURE_PX), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.convert("RGB" if kind == "JPEG" else image.mode).save(out, format=kind, quality=88)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PublishError(f"cannot read the picture {path.name} ({exc}): use a JPEG or PNG") from exc


def _chap(element_id: str, mark: ChapterMark, page_url: str) -> CHAP:
    sub_frames: list[Frame] = [TIT2(encoding=3, text=[mark.title])]
    sub_frames.append(WXXX(encoding=3, desc="", url=chapter_url(page_url, mark)))
    if mark.image is not None and (
        picture := picture_frame(mark.image, kind=PictureType.OTHER, desc="", data=chapter_picture(mark.image))
    ):
        sub_frames.append(picture)
    return CHAP(
        element_id=element_id,
        start_time=round(mark.start_s * 1000),
        end_time=round(mark.end_s * 1000),
        start_offset=NO_OFFSET,
        end_offset=NO_OFFSET,
        sub_frames=sub_frames,
    )


def _read_tags(mp3: Path) -> ID3:
    try:
        return _TimeOrderedID3(mp3)
    except ID3NoHeaderError:
        return _TimeOrderedID3()
    except (OSError, HeaderNotFoundError) as exc:
        raise PublishError(f"cannot read the tags of {mp3.name}: {exc}; re-run the audio stage") from exc


def write_id3_chapters(
    mp3: Path, marks: list[ChapterMark], *, toc_title: str, page_url: str, cover: Path | None = None
) -> None:
    """Replace the file's CHAP/CTOC frames with `marks` (ID3v2 Chapter Frame Addendum), in time
    order, and its front cover with `cover` (a JPEG or PNG)."""
    tags = _read_tags(mp3)
    tags.delall("CHAP")
    tags.delall("CTOC")
    marks = sorted(marks, key=lambda m: m.start_s)
    ids = [f"chp{i}" for i in range(len(marks))]
    for element_id, mark in zip(ids, marks, strict=True):
        tags.add(_chap(element_id, mark, page_url))
    if marks:
        tags.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text=[toc_title])],
            )
        )
    # The cover as the site publishes it (resized when over Apple's maximum).
    front = None
    if cover is not None:
        front = picture_frame(cover, kind=PictureType.COVER_FRONT, desc="cover", data=published_cover(cover).data)
    if front is not None:
        tags.delall("APIC")
        tags.add(front)
    try:
        # ID3v2.3: ffmpeg (ffprobe) skips a v2.4 chapter that holds a picture; v2.3 is read by all.
        tags.save(mp3, v2_version=3)
    except OSError as exc:
        raise PublishError(f"cannot write chapters into {mp3}: {exc}") from exc
    log.debug("%s: %d chapters written", mp3.name, len(marks))


def read_id3_chapters(mp3: Path) -> list[ChapterMark]:
    """The CHAP frames of an MP3, in the order of its table of contents."""
    tags = ID3(mp3)
    chaps = {f.element_id: f for f in tags.getall("CHAP")}
    order = [cid for toc in tags.getall("CTOC") for cid in toc.child_element_ids] or sorted(chaps)
    marks = []
    for cid in order:
        frame = chaps[cid]
        title = str(frame.sub_frames["TIT2"]) if "TIT2" in frame.sub_frames else ""
        marks.append(ChapterMark(title, frame.start_time / 1000, frame.end_time / 1000))
    return marks
