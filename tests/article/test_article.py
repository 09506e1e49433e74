"""Reading articles as creators have them: the real pasted-blog example, Markdown, text, HTML, cp1252."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.article.reader import read_article
from pipeline.article.shortcodes import expand_shortcodes, parse_attributes
from pipeline.article.typography import fold, slugify, words
from pipeline.errors import ArticleError, DiptychError


@pytest.fixture(scope="module")
def creator(examples: Path):
    return read_article(examples / "creator-article-fr.txt")


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- the real creator article -------------------------------------------------------------------


def test_creator_article_one_paragraph_per_line(creator, examples: Path) -> None:
    lines = [ln for ln in (examples / "creator-article-fr.txt").read_text("utf-8").split("\n") if ln.strip()]
    paragraphs = [b for b in creator.blocks if b.kind == "paragraph"]
    assert paragraphs[0].text.startswith("Bienvenue sur le bilan")
    assert paragraphs[1].text.startswith("Chaque mois")
    # Every text line is its own block except the shortcode line, the lone "-" and the template junk.
    assert len(creator.blocks) == len(lines) - 2


def test_creator_article_box_shortcode_becomes_aside(creator) -> None:
    asides = [b for b in creator.blocks if b.kind == "aside"]
    assert len(asides) == 1
    assert asides[0].text.startswith("Détails sur mon mois de février")
    assert "<aside" in asides[0].html and 'class="note"' in asides[0].html
    assert "[box" not in creator.html and "[/box]" not in creator.html
    assert all("[box" not in b.text and "»note" not in b.text for b in creator.blocks)


def test_creator_article_list_items_found_with_broken_numbering(creator) -> None:
    items = [b for b in creator.blocks if b.kind == "list_item"]
    assert [b.text.split()[0] for b in items] == ["Si", "Les", "Trouver", "Et"]
    assert not items[2].text.startswith("3.")
    assert [b.anchor for b in items] == ["li-1", "li-2", "li-3", "li-4"]


def test_creator_article_typography_kept(creator) -> None:
    text = creator.text
    assert "« Range-ci, mange ça, fais pas ci, ne va pas là »" in text
    assert "« table haute »" in text
    assert "m’ont inspiré" in text  # the curly apostrophe is the creator's
    assert "duÊ" not in text and "du podcast" in text
    assert "😀" in text


def test_creator_article_template_junk_dropped(creator) -> None:
    assert not creator.blocks[-1].text.endswith("Laisser un commentaire")
    assert "Laisser un commentaire" not in creator.html
    assert any("Laisser un commentaire" in w for w in creator.warnings)
    # The affiliate disclaimer is the creator's own text: it stays.
    assert any(b.text == "Cet article contient des liens affiliés." for b in creator.blocks)


def test_creator_article_language_and_title(creator) -> None:
    assert creator.language == "fr"
    assert creator.title is None  # no front matter, no heading: the flow derives one


def test_creator_article_html_has_every_anchor(creator) -> None:
    for block in creator.blocks:
        assert f'id="{block.anchor}"' in creator.html
    assert len({b.anchor for b in creator.blocks}) == len(creator.blocks)


# --- Markdown with front matter ---------------------------------------------------------------


MARKDOWN = """---
title: "L’été en podcast"
language: fr
episode: 3
---

# L’été en podcast

Intro paragraph with *emphasis* and a [link](https://example.org).

## Première partie

- one
- two
    - nested

> A quote
> on two lines.

```
code = 1
```

## Première partie

<script>alert(1)</script>
<p onclick="steal()">Click <a href="javascript:alert(2)">me</a></p>
"""


def test_markdown_front_matter_blocks_and_anchors(tmp_path: Path) -> None:
    article = read_article(_write(tmp_path, "ep.md", MARKDOWN))
    assert article.title == "L’été en podcast"
    assert article.front_matter["episode"] == 3
    assert article.language == "fr"
    kinds = [b.kind for b in article.blocks]
    assert kinds == [
        "heading",
        "paragraph",
        "heading",
        "list_item",
        "list_item",
        "list_item",
        "quote",
        "code",
        "heading",
        "paragraph",
    ]
    title, heading, dup = article.blocks[0], article.blocks[2], article.blocks[8]
    assert title.is_title and title.level == 1 and f'id="{title.anchor}"' not in article.html
    assert heading.anchor == "premiere-partie" and dup.anchor == "premiere-partie-2"
    assert heading.level == 2
    assert article.blocks[5].text == "nested" and article.blocks[4].text == "two"
    assert article.blocks[6].text == "A quote on two lines."


def test_markdown_is_sanitized(tmp_path: Path) -> None:
    article = read_article(_write(tmp_path, "ep.md", MARKDOWN))
    for html in [article.html, *(b.html for b in article.blocks)]:
        assert "<script" not in html and "alert(1)" not in html
        assert "onclick" not in html and "javascript:" not in html
    assert article.blocks[-1].text == "Click me"
    assert '<a href="https://example.org"' in article.html


def test_hand_wrapped_markdown_stays_one_paragraph(tmp_path: Path) -> None:
    text = "A paragraph wrapped by hand\nat a short width, as Markdown\nwriters do.\n\nSecond one.\n"
    article = read_article(_write(tmp_path, "wrapped.md", text))
    assert [b.text for b in article.blocks] == [
        "A paragraph wrapped by hand at a short width, as Markdown writers do.",
        "Second one.",
    ]


def test_bad_front_matter_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="bad.md: front matter is not valid YAML"):
        read_article(_write(tmp_path, "bad.md", "---\ntitle: [unclosed\n---\nText\n"))
    with pytest.raises(ArticleError, match="list.md: front matter must be"):
        read_article(_write(tmp_path, "list.md", "---\n- a\n- b\n---\nText\n"))


# --- other formats and encodings --------------------------------------------------------------


def test_plain_text_article_paragraph_per_blank_line_block(tmp_path: Path) -> None:
    text = "First paragraph, written plainly.\n\nSecond paragraph * with a star and # hash.\n"
    article = read_article(_write(tmp_path, "plain.txt", text))
    assert [b.kind for b in article.blocks] == ["paragraph", "paragraph"]
    assert article.blocks[1].text == "Second paragraph * with a star and # hash."


def test_html_article_parsed_to_blocks_and_sanitized(tmp_path: Path) -> None:
    page = """<!doctype html><html lang="en-GB"><head><title>The Page Title</title>
    <style>p{color:red}</style><script>var x = 1;</script></head>
    <body><nav><a href="/">Home</a></nav>
    <article><h1>The Page Title</h1><p>First <b>bold</b> paragraph.</p>
    <div>Loose text in a div <em>with emphasis</em>.</div>
    <ul><li>item one</li><li>item two</li></ul>
    <img src="x.png" onerror="alert(1)"></article>
    <footer>Copyright and a comment form</footer></body></html>"""
    article = read_article(_write(tmp_path, "page.html", page))
    assert article.title == "The Page Title"
    assert article.language == "en"
    assert [(b.kind, b.text) for b in article.blocks] == [
        ("heading", "The Page Title"),
        ("paragraph", "First bold paragraph."),
        ("paragraph", "Loose text in a div with emphasis."),
        ("list_item", "item one"),
        ("list_item", "item two"),
        ("image", ""),  # the picture stays, a block of its own, without its handler
    ]
    picture = article.blocks[-1]
    assert picture.anchor == "img-1" and '<img src="x.png">' in picture.html and article.images == ("x.png",)
    for bad in ("<script", "var x", "color:red", "onerror", "Home", "Copyright"):
        assert bad not in article.html


def test_cp1252_article_decoded_with_warning(tmp_path: Path) -> None:
    text = "Un été à Noël : l’« idée » coûte 5 €.\n"
    article = read_article(_write(tmp_path, "old.md", text.encode("cp1252")))
    assert article.blocks[0].text == "Un été à Noël : l’« idée » coûte 5 €."
    assert any("not UTF-8" in w and "cp1252" in w for w in article.warnings)


def test_latin1_bytes_cp1252_cannot_read_still_decode(tmp_path: Path) -> None:
    data = "Déjà vu".encode("latin-1") + b"\x81\n"
    article = read_article(_write(tmp_path, "odd.txt", data))
    assert article.blocks[0].text.startswith("Déjà vu")
    assert any("latin-1" in w for w in article.warnings)


def test_no_break_spaces_kept_in_text_folded_for_matching(tmp_path: Path) -> None:
    article = read_article(_write(tmp_path, "nb.md", "Il a dit\u00a0: «\u202fbonjour\u202f»\u00a0!\n"))
    assert article.blocks[0].text == "Il a dit\u00a0: «\u202fbonjour\u202f»\u00a0!"
    assert fold(article.blocks[0].text) == 'il a dit : " bonjour " !'
    assert words("L’Équipe d’été") == ["l'equipe", "d'ete"]


def test_empty_article_reads_with_warning(tmp_path: Path) -> None:
    article = read_article(_write(tmp_path, "empty.md", "---\ntitle: Only a title\n---\n\n"))
    assert article.blocks == () and article.title == "Only a title"
    assert any("no text" in w for w in article.warnings)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("article.docx", "x", "must be .md"),
        ("binary.md", b"\x00\x01\x02PNG", "is not a text file"),
    ],
)
def test_unreadable_articles_raise_article_error(tmp_path: Path, name: str, content, message: str) -> None:
    with pytest.raises(ArticleError, match=message) as info:
        read_article(_write(tmp_path, name, content))
    assert name in str(info.value) and isinstance(info.value, DiptychError)


def test_missing_article_raises_article_error(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="gone.md"):
        read_article(tmp_path / "gone.md")


# --- pieces -------------------------------------------------------------------------------------


def test_shortcodes_known_unknown_and_lookalikes() -> None:
    result = expand_shortcodes(
        'A [sic] and [a link](https://x.org) [gallery ids="1,2"] [tweet]kept text[/tweet] '
        '[[box]] [caption id="c1" width="300"]<img src="a.jpg"> A caption[/caption]'
    )
    assert "[sic]" in result.text and "[a link](https://x.org)" in result.text
    assert "gallery" not in result.text and "kept text" in result.text and "[tweet" not in result.text
    assert "[box]" in result.text
    assert '<figure><img src="a.jpg"><figcaption>A caption</figcaption></figure>' in result.text
    assert result.known == ("caption",) and set(result.dropped) == {"gallery", "tweet"}


def test_shortcode_attributes_with_french_and_curly_quotes() -> None:
    assert parse_attributes(" type= »note » color=“red”") == {"type": "note", "color": "red"}


def test_caption_shortcode_in_article(tmp_path: Path) -> None:
    text = (
        'Before.\n\n[caption id="a1" align="center"]<img src="https://e.org/p.jpg" alt="p">'
        " Le port[/caption]\n"
    )
    article = read_article(_write(tmp_path, "cap.md", text))
    assert [(b.kind, b.text) for b in article.blocks] == [("paragraph", "Before."), ("aside", "Le port")]
    assert "<figcaption>Le port</figcaption>" in article.html


def test_slugify_folds_accents() -> None:
    assert slugify("L’été à Paris !") == "l-ete-a-paris"
