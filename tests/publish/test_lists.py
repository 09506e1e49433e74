"""Lists keep their kind, numbers and nesting: in the article's blocks, on the page, in review."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path

from pipeline.article.images import ArticleImages
from pipeline.article.reader import read_article
from pipeline.models import Coverage, ListPlace, PairedBlock, Pairing
from pipeline.publish.list_numbers import list_events
from pipeline.publish.pages import EpisodePage, PageAside, article_flow, render_episode_page
from pipeline.review.article_view import block_looks

STEPS = """# Five steps

1. Record the episode
2. Write the article
    - a title
    - a summary
3. Drop both in the inbox
4. Review the pairing
5. Publish
"""


class ListReader(HTMLParser):
    """The numbers a browser shows beside each numbered item (its <ol start> plus its position, or
    its own value=), and how deep each item sits, read from the article part of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[list[int]] = []  # per open list: [is_ol, next number]
        self.items: list[tuple[str, int | None, int]] = []  # (id, number or None for a bullet, depth)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append((tag, values))
        if tag in ("ol", "ul"):
            self.stack.append([tag == "ol", int(values.get("start") or 1)])
        elif tag == "li" and self.stack and values.get("id"):
            if values.get("value"):
                self.stack[-1][1] = int(values["value"] or 0)
            is_ol, number = self.stack[-1]
            self.items.append((str(values["id"]), number if is_ol else None, len(self.stack) - 1))
            self.stack[-1][1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ol", "ul"):
            self.stack.pop()


def read_lists(html: str) -> ListReader:
    reader = ListReader()
    reader.feed(html.split('<article class="article"', 1)[1].split("</article>", 1)[0])
    return reader


def page_html(flow: tuple) -> str:  # type: ignore[type-arg]
    page = EpisodePage(
        slug="steps",
        title="Five steps",
        language="en",
        show_title="Show",
        published=date(2026, 3, 1),
        duration_s=60.0,
        description="",
        flow=flow,
        chapters=(),
        segments=(),
    )
    return render_episode_page(page)


def test_list_items_know_their_list_number_and_depth(tmp_path: Path) -> None:
    (tmp_path / "steps.md").write_text(STEPS, encoding="utf-8")
    items = [b for b in read_article(tmp_path / "steps.md").blocks if b.kind == "list_item"]
    assert [b.anchor for b in items] == [f"li-{n}" for n in range(1, 8)]  # the anchors as before
    places = [(b.text, b.list_place) for b in items]
    outer = [p for _, p in places if p and p.depth == 0]
    assert {p.list_id for p in outer} == {1} and {p.tag for p in outer} == {"ol"}
    assert [p.ordinal for p in outer] == [1, 2, 3, 4, 5]
    nested = [(t, p) for t, p in places if p and p.depth == 1]
    assert [t for t, _ in nested] == ["a title", "a summary"]
    assert all(p.tag == "ul" and p.list_id == 2 for _, p in nested)


def test_html_start_and_value_give_the_numbers(tmp_path: Path) -> None:
    page = '<ol start="3"><li>three</li><li value="7">seven</li><li>eight</li></ol><ul><li>dot</li></ul>'
    (tmp_path / "page.html").write_text(f"<html><body><article>{page}</article></body></html>", encoding="utf-8")
    items = [b for b in read_article(tmp_path / "page.html").blocks if b.kind == "list_item"]
    assert [(b.text, b.list_place.tag, b.list_place.ordinal) for b in items if b.list_place] == [
        ("three", "ol", 3),
        ("seven", "ol", 7),
        ("eight", "ol", 8),
        ("dot", "ul", 1),
    ]
    lists = read_lists(page_html(article_flow(read_article(tmp_path / "page.html"), None)))
    assert [(n, d) for _, n, d in lists.items] == [(3, 0), (7, 0), (8, 0), (None, 0)]


def test_page_numbers_run_on_across_an_only_in_the_episode_passage(tmp_path: Path) -> None:
    (tmp_path / "steps.md").write_text(STEPS, encoding="utf-8")
    article = read_article(tmp_path / "steps.md")
    flow = list(article_flow(article, None))
    # The passage heard only in the episode comes after "a title", inside the nested list.
    cut = next(i for i, b in enumerate(flow) if getattr(b, "anchor", "") == "li-3") + 1
    flow.insert(cut, PageAside(10.0, 20.0, "Heard only in the episode."))
    html = page_html(tuple(flow))
    lists = read_lists(html)
    numbered = [(anchor, n) for anchor, n, depth in lists.items if depth == 0]
    assert numbered == [("li-1", 1), ("li-2", 2), ("li-5", 3), ("li-6", 4), ("li-7", 5)]
    # Both halves of the nested list stay one level in; the second numbered half starts at 3.
    assert [(a, d) for a, n, d in lists.items if n is None] == [("li-3", 1), ("li-4", 1)]
    assert ("ol", {"class": "blocks", "start": "3"}) in lists.tags
    aside_at = html.index('class="only-audio"')
    assert html.index('id="li-3"') < aside_at < html.index('id="li-4"')


def test_list_events_nest_and_reopen() -> None:
    ol = [ListPlace(list_id=1, tag="ol", ordinal=n, depth=0) for n in (1, 2, 3)]
    ul = ListPlace(list_id=2, tag="ul", ordinal=1, depth=1)
    events = list_events([("a", ol[0]), ("b", ol[1]), ("x", ul), ("c", ol[2])])
    ops = [(e.op, e.tag, e.start, e.item) for e in events]
    assert ops == [
        ("open", "ol", None, None),
        ("item", "", None, "a"),
        ("end", "", None, None),
        ("item", "", None, "b"),
        ("open", "ul", None, None),
        ("item", "", None, "x"),
        ("end", "", None, None),
        ("close", "ul", None, None),
        ("end", "", None, None),
        ("item", "", None, "c"),
        ("end", "", None, None),
        ("close", "ol", None, None),
    ]
    # A run that starts inside the nested list (after a cut): an unmarked parent keeps the indent.
    resumed = [(e.op, e.tag, e.start, e.css) for e in list_events([("x", ul), ("c", ol[2])])]
    assert resumed[:3] == [("open", "ul", None, "blocks cont"), ("cont", "", None, ""), ("open", "ul", None, "")]
    assert ("open", "ol", 3, "blocks") in resumed


def test_plain_text_numbered_lines_become_a_numbered_list(examples: Path) -> None:
    article = read_article(examples / "creator-article-fr.txt")
    items = [b for b in article.blocks if b.kind == "list_item"]
    # "- …", "-\n…", "3. Trouver…", "- …": the "3." says the creator numbered the four points.
    assert [(b.list_place.tag, b.list_place.ordinal) for b in items if b.list_place] == [
        ("ol", 1),
        ("ol", 2),
        ("ol", 3),
        ("ol", 4),
    ]
    lists = read_lists(page_html(article_flow(article, None)))
    assert [n for _, n, _ in lists.items] == [1, 2, 3, 4]


def test_page_without_article_numbers_from_pairing_json() -> None:
    blocks = [
        PairedBlock(
            index=i,
            kind="list_item",
            text=f"step {i + 1}",
            anchor=f"li-{i + 1}",
            status="text_only",
            list_place=ListPlace(list_id=1, tag="ol", ordinal=i + 1),
        )
        for i in range(3)
    ]
    pairing = Pairing(
        blocks=blocks,
        coverage=Coverage(article_told=0.0, episode_covered=0.0),
        method="test",
        transcript_source="draft",
        transcript_sha256="0" * 64,
        article_sha256="0" * 64,
    )
    lists = read_lists(page_html(article_flow(None, pairing)))
    assert [n for _, n, _ in lists.items] == [1, 2, 3]
    looks = block_looks("steps", None, pairing, ArticleImages())
    assert [looks[i].marker for i in range(3)] == ["1.", "2.", "3."]


def test_review_column_numbers_and_indents(tmp_path: Path) -> None:
    (tmp_path / "steps.md").write_text(STEPS, encoding="utf-8")
    article = read_article(tmp_path / "steps.md")
    looks = block_looks("steps", article, None, ArticleImages())
    shown = [(b.text, looks[b.index].marker, looks[b.index].depth) for b in article.blocks if b.index in looks]
    assert shown[:4] == [("Record the episode", "1.", 0), ("Write the article", "2.", 0), ("a title", "•", 1),
                         ("a summary", "•", 1)]
    assert shown[4] == ("Drop both in the inbox", "3.", 0)


def test_plain_text_lines_numbered_with_a_parenthesis_are_a_numbered_list(tmp_path: Path) -> None:
    text = "Mes trois conseils :\n\n1) Enregistrer tôt le matin.\n2) Écrire l’article le soir.\n3) Publier.\n\nFin.\n"
    (tmp_path / "conseils.txt").write_text(text, encoding="utf-8")
    article = read_article(tmp_path / "conseils.txt")
    assert [(b.kind, b.text) for b in article.blocks][1:4] == [
        ("list_item", "Enregistrer tôt le matin."),
        ("list_item", "Écrire l’article le soir."),
        ("list_item", "Publier."),
    ]
    assert [b.list_place.ordinal for b in article.blocks if b.list_place and b.list_place.tag == "ol"] == [1, 2, 3]
