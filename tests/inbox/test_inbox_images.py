"""Drops with pictures: the article's pictures travel with it, the cover is told apart, nothing is changed."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from PIL import Image

from pipeline import episodes
from pipeline.article.images import WARNING_END
from pipeline.inbox.claim import claim_drops, find_drops
from pipeline.layout import ProjectLayout
from pipeline.status import status_rows
from pipeline.store import sha256_file

ARTICLE = """# Atelier de mars

Le récapitulatif.

![L'atelier](img/atelier.png)

![Le groupe](groupe.jpg)
"""


def picture(kind: str) -> bytes:
    """A real 4×4 picture: a cover must be one (a picture only the article shows is not read)."""
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 120, 40)).save(out, format=kind)
    return out.getvalue()


def settle(*paths: Path) -> None:
    past = time.time() - 60
    for path in paths:
        os.utime(path, (past, past))


def folder_drop(project: ProjectLayout, name: str, files: dict[str, bytes | str]) -> Path:
    folder = project.inbox / name
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        settle(path)
    return folder


def test_folder_drop_pictures_go_to_source_with_their_subfolder_and_the_cover_is_cover(
    project: ProjectLayout,
) -> None:
    folder = folder_drop(
        project,
        "2026-03-recap-atelier",
        {
            "rec.mp3": b"ID3audio",
            "recap.md": ARTICLE,
            "img/atelier.png": b"\x89PNG-atelier",
            "groupe.jpg": b"\xff\xd8groupe",
            "cover.jpg": picture("JPEG"),
        },
    )
    sums = {rel: sha256_file(folder / rel) for rel in ("img/atelier.png", "groupe.jpg", "cover.jpg")}
    report = claim_drops(project, settle_s=0.1)
    assert report.claimed == ["2026-03-recap-atelier"] and not report.errors
    layout = project.episode("2026-03-recap-atelier")
    for rel, digest in sums.items():
        assert sha256_file(layout.source_file(rel)) == digest  # moved, bytes unchanged
        assert not (folder / rel).exists()
    record = episodes.load_record(layout)
    assert (record.source_article, record.source_cover) == ("recap.md", "cover.jpg")
    assert not record.warnings


def test_the_one_picture_the_article_does_not_show_is_the_cover(project: ProjectLayout) -> None:
    folder_drop(
        project,
        "recap",
        {"rec.mp3": b"ID3", "recap.md": ARTICLE, "img/atelier.png": b"png", "groupe.jpg": b"jpg",
         "une.png": picture("PNG")},
    )
    drops, problems = find_drops(project.inbox)
    assert not problems
    (drop,) = drops
    assert drop.cover is not None and drop.cover.name == "une.png"
    assert sorted(i.name for i in drop.images) == ["groupe.jpg", "img/atelier.png"]


def test_two_pictures_the_article_does_not_show_are_one_line_and_nothing_moves(project: ProjectLayout) -> None:
    folder = folder_drop(
        project,
        "recap",
        {"rec.mp3": b"ID3", "recap.md": "# Recap\n\nText.\n", "a.jpg": b"a", "b.png": b"b"},
    )
    report = claim_drops(project, settle_s=0.1)
    assert report.claimed == [] and len(report.errors) == 1
    error = report.errors[0]
    assert error.startswith("inbox/recap/: the article does not show a.jpg, b.png: keep one picture as the cover")
    assert "\n" not in error and "cover.jpg" in error
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.png", "rec.mp3", "recap.md"]


def test_flat_drop_takes_the_pictures_its_article_shows(project: ProjectLayout) -> None:
    inbox = project.inbox
    (inbox / "img").mkdir()
    files = {
        "2026-03-recap-atelier.mp3": b"ID3",
        "2026-03-recap-atelier.md": "# Recap\n\n![Une](2026-03-recap-atelier.jpg)\n\n![Deux](img/atelier.png)\n\n"
        "![Trois](anim.webp)\n",
        "2026-03-recap-atelier.jpg": picture("JPEG"),
        "img/atelier.png": b"png",
        "anim.webp": b"webp",
        "unrelated.png": b"left alone",
    }
    for rel, data in files.items():
        path = inbox / rel
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        settle(path)
    report = claim_drops(project, settle_s=0.1)
    assert report.claimed == ["2026-03-recap-atelier"] and not report.errors
    layout = project.episode("2026-03-recap-atelier")
    assert layout.source_file("2026-03-recap-atelier.jpg").read_bytes() == files["2026-03-recap-atelier.jpg"]
    assert layout.source_file("img/atelier.png").read_bytes() == b"png"
    assert layout.source_file("anim.webp").read_bytes() == b"webp"
    # A picture the article shows is the article's, not the cover, even with the drop's name.
    assert episodes.load_record(layout).source_cover is None
    assert (inbox / "unrelated.png").exists() and not (inbox / "img" / "atelier.png").exists()


def test_a_missing_picture_is_in_the_status_from_the_claim(project: ProjectLayout) -> None:
    folder_drop(project, "recap", {"rec.mp3": b"ID3", "recap.md": ARTICLE, "img/atelier.png": b"png"})
    report = claim_drops(project, settle_s=0.1)
    assert report.claimed == ["recap"]
    (row,) = status_rows(project)
    assert row.warnings == (f"recap.md: image 'groupe.jpg' is missing: {WARNING_END}",)


def test_a_new_drop_with_a_picture_of_the_same_name_keeps_the_old_one_in_history(project: ProjectLayout) -> None:
    folder_drop(project, "recap", {"rec.mp3": b"ID3", "recap.md": ARTICLE, "img/atelier.png": b"old"})
    claim_drops(project, settle_s=0.1)
    layout = project.episode("recap")
    fixed = ARTICLE + "\nUn ajout.\n"
    folder_drop(project, "recap", {"recap.md": fixed, "img/atelier.png": b"new", "groupe.jpg": b"jpg"})
    report = claim_drops(project, settle_s=0.1)
    assert report.updated == ["recap"] and not report.errors
    assert layout.source_file("img/atelier.png").read_bytes() == b"new"
    old = list(layout.history_dir.glob("*/source/img/atelier.png"))
    assert [p.read_bytes() for p in old] == [b"old"]
    warnings = episodes.load_record(layout).warnings
    assert not [w for w in warnings if "missing" in w]  # groupe.jpg came with the new drop
    assert [w for w in warnings if "replaces the article of 'recap'" in w]  # and the replacement is said


def test_a_cover_the_article_shows_is_the_cover_and_moved_once(project: ProjectLayout) -> None:
    article = "# Recap\n\n![La une](cover.jpg)\n\n![L'atelier](img/atelier.png)\n"
    folder_drop(project, "recap", {"rec.mp3": b"ID3", "recap.md": article, "cover.jpg": picture("JPEG"),
                                     "img/atelier.png": b"p"})
    report = claim_drops(project, settle_s=0.1)
    assert report.claimed == ["recap"] and not report.errors
    layout = project.episode("recap")
    assert episodes.load_record(layout).source_cover == "cover.jpg"
    assert layout.source_file("cover.jpg").read_bytes() == picture("JPEG")
    assert layout.source_file("img/atelier.png").exists()
    assert not episodes.load_record(layout).warnings
