"""The pages as built: safe article HTML, passages, asides, languages, landmarks, no outside resource."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.layout import ProjectLayout
from pipeline.models import Pairing, format_clock
from pipeline.publish.build import publish_site
from pipeline.publish.pages import PageAside, PageBlock, format_date, place_asides, sanitize_html
from tests.factories import RealAudio, add_english_episode, add_french_episode

SETTINGS = Settings(show={"base_url": "https://example.org/pod/", "title": "Show & <Tell>", "language": "en"})

EVIL_ARTICLE = """# Evil

<script>alert('x')</script>

Whereas recognition of the inherent dignity <img src="x.png" onerror="alert(1)"> is here.

[click me](javascript:alert(2)) and <a href="https://example.org/ok" onclick="steal()">a fine link</a>.

<iframe src="https://evil.example"></iframe><style>body{display:none}</style>
"""


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **want: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(want[k] in (a.get(k) or "").split() for k in want)
        ]


def parse(path: Path) -> Tags:
    tags = Tags()
    tags.feed(path.read_text(encoding="utf-8"))
    return tags


@pytest.fixture
def site(project: ProjectLayout, real_audio: dict[str, RealAudio]) -> ProjectLayout:
    add_english_episode(
        project,
        real_audio["en"],
        title="Rights & <Wrongs> \"said\" 'he'",
        published_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    add_french_episode(project, real_audio["fr"])
    publish_site(project, SETTINGS)
    return project


def test_article_html_cannot_run_script(project: ProjectLayout, real_audio: dict[str, RealAudio]) -> None:
    add_english_episode(project, real_audio["en"], article=EVIL_ARTICLE)
    publish_site(project, SETTINGS)
    page = (project.site_dir / "preamble" / "index.html").read_text()
    article = page.split('<article class="article"', 1)[1].split("</article>", 1)[0]
    assert "<script" not in article and "alert" not in article
    assert "onerror" not in article and "onclick" not in article and "javascript:" not in article
    assert "<iframe" not in article and "<style" not in article
    assert 'href="https://example.org/ok"' in article and "a fine link" in article
    feed = (project.site_dir / "feed.xml").read_text()
    assert "&lt;script" not in feed and "onerror" not in feed and "javascript:" not in feed
    # The only scripts on the page are the site's own, from relative files (and the page's JSON-LD data).
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="application/ld+json">', '<script src="../site.js">', '<script src="../follow.js">'
    ]


def test_sanitize_html_directly() -> None:
    dirty = '<p id="p-1" onmouseover="x()">a<script>b</script><a href="javascript:c()">d</a></p>'
    assert sanitize_html(dirty) == '<p id="p-1">a<a rel="noopener noreferrer">d</a></p>'


def test_titles_and_names_are_escaped(site: ProjectLayout) -> None:
    page = (site.site_dir / "preamble" / "index.html").read_text()
    assert "<h1>Rights &amp; &lt;Wrongs&gt; &#34;said&#34; &#39;he&#39;</h1>" in page
    assert (
        "<title>Rights &amp; &lt;Wrongs&gt; &#34;said&#34; &#39;he&#39; · Show &amp; &lt;Tell&gt;</title>"
        in page
    )
    home = parse(site.site_dir / "index.html")
    assert "Rights & <Wrongs> \"said\" 'he'" in home.text


def test_every_paired_block_has_its_play_link(site: ProjectLayout) -> None:
    pairing = Pairing.model_validate_json(site.episode("preamble").pairing_json.read_bytes())
    tags = parse(site.site_dir / "preamble" / "index.html")
    plays = tags.find("a", **{"class": "play"})
    paired = [b for b in pairing.blocks if b.status == "paired"]
    passage_links = [a for a in plays if a["href"] and not a.get("data-end") == "70.00"]
    assert [float(a["data-start"] or 0) for a in passage_links] == [round(b.start_s or 0, 2) for b in paired]
    assert all(a["href"] == f"preamble.mp3#t={a['data-start']}" for a in plays)
    html = (site.site_dir / "preamble" / "index.html").read_text()
    assert f"▶&#xFE0E;&nbsp;{format_clock(paired[1].start_s or 0)}" in html
    # The paragraph that is never said has no link.
    never = next(b for b in pairing.blocks if b.status == "text_only")
    block_html = html.split(f'id="{never.anchor}"', 1)[1].split("</div>", 1)[0]
    assert 'class="play"' not in block_html


def test_audio_only_passage_sits_after_the_block_before_it_in_time(site: ProjectLayout) -> None:
    pairing = Pairing.model_validate_json(site.episode("preamble").pairing_json.read_bytes())
    html = (site.site_dir / "preamble" / "index.html").read_text()
    aside_at = html.index('class="only-audio"')
    span = pairing.audio_only[0]
    before = max(
        (b for b in pairing.blocks if b.start_s is not None and b.start_s <= span.start_s),
        key=lambda b: b.start_s or 0,
    )
    after = min(
        (b for b in pairing.blocks if b.start_s is not None and b.start_s > span.start_s),
        key=lambda b: b.start_s or 0,
    )
    assert html.index(f'id="{before.anchor}"') < aside_at < html.index(f'id="{after.anchor}"')
    assert "Only in the episode" in html and "An aside heard only in the episode." in html


def test_place_asides_order() -> None:
    blocks = [
        PageBlock("<p>a</p>", "a", "paragraph", 0.0, 5.0),
        PageBlock("<p>b</p>", "b", "paragraph"),
        PageBlock("<p>c</p>", "c", "paragraph", 20.0, 30.0),
    ]
    early, middle, late = PageAside(-1.0, 0.0, "x"), PageAside(10.0, 15.0, "y"), PageAside(40.0, 50.0, "z")
    flow = place_asides(blocks, [late, middle, early])
    assert flow == [early, blocks[0], middle, blocks[1], blocks[2], late]


def test_interface_follows_the_episode_language(site: ProjectLayout) -> None:
    fr = (site.site_dir / "bonjour" / "index.html").read_text()
    en = (site.site_dir / "preamble" / "index.html").read_text()
    assert '<html lang="fr">' in fr and '<html lang="en">' in en
    for word in ("Chapitres", "Transcription complète", "Téléchargements", "Écouter ce passage"):
        assert word in fr
    for word in ("Chapters", "Full transcript", "Downloads", "Listen to this passage", "January 5, 2026"):
        assert word in en
    assert "Chapters" not in fr
    assert format_date(datetime(2026, 3, 1).date(), "fr") == "1er mars 2026"


def test_landmarks_labels_and_transcript(site: ProjectLayout) -> None:
    tags = parse(site.site_dir / "preamble" / "index.html")
    names = [t for t, _ in tags.tags]
    for landmark in ("header", "main", "nav", "footer", "article"):
        assert landmark in names, landmark
    audio = tags.find("audio")[0]
    assert audio["src"] == "preamble.mp3" and audio["aria-label"]
    assert tags.find("track")[0]["src"] == "transcript.vtt"
    assert "details" in names and "summary" in names
    seeks = tags.find("a", **{"class": "seek"})
    assert len(seeks) > 10 and all(a["href"].startswith("preamble.mp3#t=") for a in seeks)  # type: ignore[union-attr]
    downloads = {a["href"] for a in tags.find("a") if "download" in a}
    assert downloads == {
        "preamble.mp3",
        "transcript.vtt",
        "transcript.srt",
        "transcript.txt",
        "transcript.json",
    }
    assert not tags.find("div", onclick="")  # interactive things are links, not divs


def test_no_outside_resource_and_only_relative_links(site: ProjectLayout) -> None:
    pages = (site.site_dir / "index.html", site.site_dir / "preamble" / "index.html")
    for page in (*pages, site.site_dir / "preamble" / "embed.html"):
        tags = parse(page)
        for tag, attrs in tags.tags:
            for key in ("src", "href"):
                value = attrs.get(key) or ""
                if (tag == "a" and key == "href") or (tag == "link" and attrs.get("rel") == "canonical"):
                    continue  # links the reader may follow (e.g. in the article), the page's own address
                assert "//" not in value, f"{page.name}: {tag} {key}={value}"
    css = (site.site_dir / "site.css").read_text()
    assert "@import" not in css and "url(" not in css
    js = (site.site_dir / "site.js").read_text()
    assert "fetch(" not in js and "XMLHttpRequest" not in js


def test_home_page_lists_episodes_newest_first(site: ProjectLayout) -> None:
    tags = parse(site.site_dir / "index.html")
    links = [a["href"] for a in tags.find("a") if (a["href"] or "").endswith("/index.html")]
    assert links == ["bonjour/index.html", "preamble/index.html"]
    text = " ".join(tags.text)
    assert "Qui est Éric ?" in text  # the front matter's description
    assert "2 min" in text and "1 min" in text  # 2:29 and 0:34
    assert "https://example.org/pod/feed.xml" in text
    assert tags.find("link", rel="alternate")[0]["href"] == "feed.xml"


def test_page_works_without_an_article(project: ProjectLayout, real_audio: dict[str, RealAudio]) -> None:
    add_french_episode(project, real_audio["fr"], article=None)
    publish_site(project, SETTINGS)
    html = (project.site_dir / "bonjour" / "index.html").read_text()
    # The blocks come from pairing.json's text; the transcript is all there.
    assert 'class="play"' in html and 'id="p-1"' in html and "Bonjour." in html


def test_a_real_creator_article_publishes_in_french(
    project: ProjectLayout,
    real_audio: dict[str, RealAudio],
    examples: Path,
) -> None:
    article = (examples / "creator-article-fr.txt").read_text(encoding="utf-8")
    add_french_episode(project, real_audio["fr"], article=article, article_name="bilan.txt", pairing=None)
    publish_site(project, SETTINGS)
    html = (project.site_dir / "bonjour" / "index.html").read_text()
    tags = parse(project.site_dir / "bonjour" / "index.html")
    assert '<html lang="fr">' in html and "Transcription complète" in html
    text = " ".join(tags.text)
    assert "coworking" in text and "« Range-ci" in text
    assert "<script" not in html.split('<article class="article"', 1)[1].split("</article>", 1)[0]
    feed = (project.site_dir / "feed.xml").read_text()
    assert "coworking" in feed
