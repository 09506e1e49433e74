"""ID3 chapters as players read them: stored in time order (ffprobe lists frames in file order),
each with its title, its section's address and, where the article shows a picture there, the
picture; the episode's cover as the front cover. Read back with ffprobe and with mutagen."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from mutagen.id3 import ID3, PictureType

from pipeline.article import read_article
from pipeline.config import Settings
from pipeline.episodes import update_record
from pipeline.layout import ProjectLayout
from pipeline.models import Chapter, Coverage, PairedBlock, Pairing
from pipeline.publish import publish_site
from tests.factories import RealAudio, make_episode, make_transcript, mp3_duration
from tests.publish.test_feed import make_cover

BASE = "https://podcast.example.org/show/"
# Titles of very different lengths: mutagen alone stores the shortest frames first.
SECTIONS = [
    ("A rather long first chapter title that goes on", 0.0),
    ("Two", 13.0),
    ("Stand", 26.0),
    ("Four, a middle-sized title", 74.0),
    ("Five", 78.0),
    ("The last chapter, again with a fairly long title", 92.0),
]


def _article() -> str:
    parts = ["# Chapters"]
    for k, (title, _) in enumerate(SECTIONS):
        parts += [f"## {title}", f"Paragraph {k} of the article."]
        if title == "Stand":
            parts.append("![Our stand](stand.png)")
    return "\n\n".join(parts) + "\n"


def _anchors(tmp: Path) -> list[str]:
    """The anchors the article reader gives the sections' headings."""
    path = tmp / "article.md"
    path.write_text(_article(), encoding="utf-8")
    return [b.anchor for b in read_article(path).blocks if b.kind == "heading" and not b.is_title]


def _pairing(anchors: list[str]) -> Pairing:
    blocks, chapters = [], []
    for k, ((title, start), anchor) in enumerate(zip(SECTIONS, anchors, strict=True)):
        blocks.append(PairedBlock(index=k, kind="heading", text=title, anchor=anchor, status="text_only"))
        chapters.append(Chapter(title=title, start_s=start, anchor=anchor))
    # Out of time order on purpose: the pairing lists chapters as it finds them.
    chapters = [chapters[i] for i in (0, 4, 2, 3, 1, 5)]
    return Pairing(
        blocks=blocks, chapters=chapters, coverage=Coverage(article_told=1.0, episode_covered=1.0),
        method="test", transcript_source="draft", transcript_sha256="0" * 64, article_sha256="0" * 64,
    )


def _publish(project: ProjectLayout, audio: RealAudio) -> Path:
    transcript = make_transcript(["Bonjour tout le monde."], duration_s=mp3_duration(audio.path))
    pairing = _pairing(_anchors(project.root))
    layout = make_episode(project, "chapitres", title="Chapters", mp3=audio.path, transcript=transcript,
                          pairing=pairing, article=_article())
    make_cover(layout.source_dir / "stand.png", size=64)
    make_cover(layout.source_dir / "cover.png", size=1400)
    update_record(layout, source_cover="cover.png")
    publish_site(project, Settings(show={"base_url": BASE}))
    return project.site_dir / "chapitres" / "chapitres.mp3"


def test_chapters_are_stored_in_time_order_with_title_url_and_picture(
    project: ProjectLayout, real_audio: dict[str, RealAudio]
) -> None:
    mp3 = _publish(project, real_audio["en"])
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_chapters", str(mp3)],
        capture_output=True, text=True, check=True,
    )
    listed = json.loads(probe.stdout)["chapters"]
    assert [round(float(c["start_time"]), 1) for c in listed] == [s for _, s in SECTIONS]
    assert [c["tags"]["title"] for c in listed] == [t for t, _ in SECTIONS]

    tags = ID3(mp3)
    frames = tags.getall("CHAP")
    stored = [f.start_time for f in frames]
    assert stored == sorted(stored) == [round(s * 1000) for _, s in SECTIONS]
    assert [str(f.sub_frames["TIT2"]) for f in frames] == [t for t, _ in SECTIONS]
    urls = [f.sub_frames.getall("WXXX")[0].url for f in frames]
    assert urls[0] == f"{BASE}chapitres/#a-rather-long-first-chapter-title-that-goes-on"
    assert urls[2] == f"{BASE}chapitres/#stand"
    pictures = [f.sub_frames.getall("APIC") for f in frames]
    assert [len(p) for p in pictures] == [0, 0, 1, 0, 0, 0]
    stand = (project.episode("chapitres").source_dir / "stand.png").read_bytes()
    assert pictures[2][0].data == stand and pictures[2][0].mime == "image/png"
    toc = tags.getall("CTOC")[0]
    assert toc.child_element_ids == [f.element_id for f in frames]
    covers = [p for p in tags.getall("APIC") if p.type == PictureType.COVER_FRONT]
    assert len(covers) == 1 and covers[0].data == (project.episode("chapitres").source_dir / "cover.png").read_bytes()

    data = json.loads((project.site_dir / "chapitres" / "chapters.json").read_text())
    assert [c["startTime"] for c in data["chapters"]] == [s for _, s in SECTIONS]
    assert data["chapters"][2]["img"] == f"{BASE}chapitres/images/stand.png"
    assert (project.site_dir / "chapitres" / "images" / "stand.png").read_bytes() == stand


def test_a_large_chapter_picture_is_scaled_down_in_the_mp3(tmp_path: Path) -> None:
    from PIL import Image

    from pipeline.publish.chapters import CHAPTER_PICTURE_PX, chapter_picture

    big = make_cover(tmp_path / "big.png", size=2000)
    small = make_cover(tmp_path / "small.png", size=64)
    with Image.open(io.BytesIO(chapter_picture(big))) as image:
        assert image.size == (CHAPTER_PICTURE_PX, CHAPTER_PICTURE_PX) and image.format == "PNG"
    assert chapter_picture(small) == small.read_bytes()
