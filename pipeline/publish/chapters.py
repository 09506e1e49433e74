"""Chapters for podcast apps: Podcasting 2.0 JSON chapters and ID3 CHAP/CTOC frames in the MP3."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from mutagen.id3 import CHAP, CTOC, ID3, TIT2, WXXX, CTOCFlags, Frame, ID3NoHeaderError
from mutagen.mp3 import HeaderNotFoundError

from pipeline.errors import PublishError
from pipeline.models import Chapter

log = logging.getLogger(__name__)

# ID3v2 CHAP frames give byte offsets too; this value says "not given, use the times".
NO_OFFSET = 0xFFFFFFFF


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start_s: float
    end_s: float
    anchor: str | None = None


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


def chapter_url(page_url: str, mark: ChapterMark) -> str:
    return f"{page_url}#{mark.anchor}" if mark.anchor else page_url


def render_chapters_json(marks: list[ChapterMark], *, page_url: str) -> str:
    """Podcasting 2.0 JSON chapters, version 1.2.0; each links to its section of the episode page."""
    chapters = [
        {"startTime": round(m.start_s, 3), "title": m.title, "url": chapter_url(page_url, m)} for m in marks
    ]
    return json.dumps({"version": "1.2.0", "chapters": chapters}, ensure_ascii=False, indent=1) + "\n"


def write_id3_chapters(mp3: Path, marks: list[ChapterMark], *, toc_title: str, page_url: str) -> None:
    """Replace the file's CHAP/CTOC frames with `marks` (ID3v2 Chapter Frame Addendum)."""
    try:
        tags = ID3(mp3)
    except ID3NoHeaderError:
        tags = ID3()
    except (OSError, HeaderNotFoundError) as exc:
        raise PublishError(f"cannot read the tags of {mp3.name}: {exc}; re-run the audio stage") from exc
    tags.delall("CHAP")
    tags.delall("CTOC")
    ids = [f"chp{i}" for i in range(len(marks))]
    for element_id, mark in zip(ids, marks, strict=True):
        sub_frames: list[Frame] = [TIT2(encoding=3, text=[mark.title])]
        if mark.anchor:
            sub_frames.append(WXXX(encoding=3, desc="", url=chapter_url(page_url, mark)))
        tags.add(
            CHAP(
                element_id=element_id,
                start_time=round(mark.start_s * 1000),
                end_time=round(mark.end_s * 1000),
                start_offset=NO_OFFSET,
                end_offset=NO_OFFSET,
                sub_frames=sub_frames,
            )
        )
    if marks:
        tags.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text=[toc_title])],
            )
        )
    try:
        tags.save(mp3, v2_version=4)
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
