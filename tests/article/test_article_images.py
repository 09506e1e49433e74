"""The article's pictures: which files it names, what the sanitizer lets through, how they are published."""

from __future__ import annotations

from pathlib import Path

from pipeline.article.images import (
    WARNING_END,
    ArticleImages,
    find_images,
    image_refs,
    local_image_ref,
    publish_article,
    rewrite_images,
)
from pipeline.article.reader import read_article
from pipeline.publish.pages import sanitize_html

ARTICLE = """# Pictures

Before the picture.

![The workshop](img/atelier.png "In March")

A paragraph with ![a small one](my%20photo.jpg) inside, and one from the web:
![remote](https://example.org/pic.png).

![gone](missing.jpg)

<img src="data:image/png;base64,AAAA" alt="inline data"> <img src="mailto:a@b.c" alt="mail">
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_local_refs_found_in_order_remote_and_other_schemes_left_out(tmp_path: Path) -> None:
    article = read_article(write(tmp_path, "a.md", ARTICLE))
    assert article.images == ("img/atelier.png", "my photo.jpg", "missing.jpg")
    assert local_image_ref("https://example.org/x.png") is None and local_image_ref("//cdn.example/x.png") is None
    assert local_image_ref("img/a%20b.png?v=2#top") == "img/a b.png"
    assert "data:" not in article.html and "mailto:" not in article.html
    # A paragraph that is only a picture is a block of its own; the anchors of the others are as before.
    assert [(b.kind, b.anchor) for b in article.blocks] == [
        ("heading", "pictures"),
        ("paragraph", "p-1"),
        ("image", "img-1"),
        ("paragraph", "p-2"),
        ("image", "img-2"),
    ]


def test_the_page_sanitizer_keeps_pictures_and_nothing_that_runs() -> None:
    dirty = (
        '<p><img src="img/a.png" alt="A" title="T" width="40" height="30" onerror="x()" style="a:b" '
        'srcset="evil.png 2x"><img src="javascript:alert(1)"><img src="data:image/png;base64,AA">'
        '<img src="https://example.org/b.png"></p>'
    )
    assert sanitize_html(dirty) == (
        '<p><img src="img/a.png" alt="A" title="T" width="40" height="30"><img><img>'
        '<img src="https://example.org/b.png"></p>'
    )


def test_find_images_names_the_article_and_each_missing_picture(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "atelier.png").write_bytes(b"png")
    (tmp_path / "notes.txt").write_text("not a picture")
    refs = ("img/atelier.png", "missing.jpg", "../secret.png", "notes.txt")
    images = find_images(refs, tmp_path, article_name="recap.md")
    assert images.found == (("img/atelier.png", tmp_path / "img" / "atelier.png"),)
    assert images.missing == ("missing.jpg", "../secret.png", "notes.txt")
    assert images.warnings[0] == f"recap.md: image 'missing.jpg' is missing: {WARNING_END}"
    assert "not a file beside the article" in images.warnings[1] and "not a picture file" in images.warnings[2]
    assert all("\n" not in w and w.startswith("recap.md: image '") for w in images.warnings)


def test_published_html_points_to_the_copies_and_drops_missing_pictures(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "atelier.png").write_bytes(b"png")
    (tmp_path / "my photo.jpg").write_bytes(b"jpg")
    article = read_article(write(tmp_path, "a.md", ARTICLE))
    images = find_images(article.images, tmp_path, article_name="a.md")
    page = publish_article(article, images, prefix="")
    assert '<img alt="The workshop" src="images/img/atelier.png" title="In March">' in page.html
    assert 'src="images/my%20photo.jpg"' in page.html and 'src="https://example.org/pic.png"' in page.html
    assert "missing.jpg" not in page.html and 'alt="gone"' not in page.html
    # The block that held only the missing picture is gone from the page; the others keep their anchors.
    assert [b.anchor for b in page.blocks] == [b.anchor for b in article.blocks if b.anchor != "img-2"]
    assert 'id="img-2"' not in page.html
    feed = publish_article(article, images, prefix="https://example.org/pod/ep/")
    assert 'src="https://example.org/pod/ep/images/img/atelier.png"' in feed.html
    # HTML without local pictures is returned as it was.
    assert rewrite_images('<p>a <img src="https://x.org/y.png"></p>', ArticleImages(), prefix="z/") == (
        '<p>a <img src="https://x.org/y.png"></p>'
    )
    assert image_refs("<p>no picture</p>") == ()


def test_a_picture_added_to_the_workspace_is_a_page_to_publish_again(tmp_path: Path) -> None:
    from pipeline.config import Settings
    from pipeline.episodes import create_record, load_record
    from pipeline.layout import ProjectLayout
    from pipeline.stages import publish_key

    project = ProjectLayout(tmp_path / "project")
    layout = project.episode("recap")
    layout.source_dir.mkdir(parents=True)
    write(layout.source_dir, "recap.md", ARTICLE)
    create_record(layout, title="Recap", source_article="recap.md")
    record = load_record(layout)
    settings = Settings()
    before = publish_key(project, settings, layout, record)
    (layout.source_dir / "missing.jpg").write_bytes(b"\xff\xd8late")
    added = publish_key(project, settings, layout, record)
    assert added != before
    (layout.source_dir / "missing.jpg").unlink()
    assert publish_key(project, settings, layout, record) == before
