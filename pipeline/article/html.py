"""Sanitized article HTML -> blocks with anchors, and the whole article re-rendered with those ids.

The HTML (from Markdown or from an .html article) is sanitized with nh3 first, then parsed into a
small tree; every readable block (heading, paragraph, list item, quote, aside, code, and a picture
standing alone) gets an id so that the published page can link to it and put "▶ mm:ss" beside it.
A list item also records its place in its list (which list, bullets or numbers, its number, its
depth), so that the page can rebuild the lists as written even where a passage splits one.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

from pipeline.article.typography import collapse_spaces, slugify
from pipeline.models import ListPlace

VOID = frozenset({"img", "br", "hr", "wbr", "col", "area"})
HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements whose content is page chrome or code, never article text.
DROP_WITH_CONTENT = {"script", "style", "head", "nav", "footer", "form", "noscript", "template", "title"}
ALLOWED_TAGS = (set(nh3.ALLOWED_TAGS) - {"nav", "footer"}) | {"aside", "figure", "figcaption", "section"}
ALLOWED_ATTRIBUTES = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()} | {
    "*": {"id", "class", "lang", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "li": {"value"},
}
CONTAINERS = frozenset(
    {"div", "section", "article", "main", "header", "body", "html", "center", "hgroup", "details", "dl"}
)
BLOCK_KIND = {"p": "paragraph", "blockquote": "quote", "aside": "aside", "figure": "aside", "pre": "code"}
BLOCK_KIND |= {"table": "paragraph", "dd": "paragraph", "dt": "paragraph", "summary": "paragraph"}
ANCHOR_PREFIX = {"paragraph": "p", "list_item": "li", "quote": "q", "aside": "aside", "code": "code", "image": "img"}
LIST_TAGS = frozenset({"ul", "ol"})
_BREAKS = frozenset({"br", "p", "li", "tr", "td", "th", "figcaption", "div", "dd", "dt"})


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)


@dataclass(frozen=True)
class RawBlock:
    kind: str
    text: str
    html: str
    anchor: str
    level: int | None
    list_place: ListPlace | None = None


def sanitize(fragment: str) -> str:
    """nh3 with the article's allowance: no script, no on* attributes, no javascript: URLs."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        clean_content_tags=DROP_WITH_CONTENT,
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        attribute_filter=keep_safe_image_src,
    )


def keep_safe_image_src(tag: str, attribute: str, value: str) -> str | None:
    """An <img src> is a web address (http, https) or a path beside the article: no other scheme."""
    if tag == "img" and attribute == "src":
        scheme = urlsplit(value.strip()).scheme.lower()
        return value if scheme in ("", "http", "https") else None
    return value


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_tree(sanitized: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(sanitized)
    builder.close()
    return builder.root


def node_text(node: Node | str, *, skip_lists: bool = False) -> str:
    """Plain text with typography kept; block-level breaks become spaces."""
    parts: list[str] = []

    def walk(n: Node | str) -> None:
        if isinstance(n, str):
            parts.append(n)
            return
        if skip_lists and n.tag in LIST_TAGS:
            return
        if n.tag == "img":
            return
        for child in n.children:
            walk(child)
        if n.tag in _BREAKS:
            parts.append(" ")

    walk(node)
    return collapse_spaces("".join(parts))


def render(node: Node | str) -> str:
    if isinstance(node, str):
        return html.escape(node, quote=False)
    attrs = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in node.attrs.items())
    if node.tag in VOID:
        return f"<{node.tag}{attrs}>"
    inner = "".join(render(c) for c in node.children)
    return f"<{node.tag}{attrs}>{inner}</{node.tag}>"


def render_children(node: Node) -> str:
    return "".join(render(c) for c in node.children)


class _Collector:
    """Walks the tree once: gives each block an anchor (set as its id) and records it."""

    def __init__(self) -> None:
        self.blocks: list[RawBlock] = []
        self._counts: Counter[str] = Counter()
        self._used: set[str] = set()
        self._lists = 0

    def anchor_for(self, kind: str, text: str) -> str:
        if kind == "heading":
            base = slugify(text) or "section"
        else:
            self._counts[kind] += 1
            base = f"{ANCHOR_PREFIX[kind]}-{self._counts[kind]}"
        anchor, n = base, 2
        while anchor in self._used:
            anchor, n = f"{base}-{n}", n + 1
        self._used.add(anchor)
        return anchor

    def add(
        self,
        node: Node,
        kind: str,
        *,
        level: int | None = None,
        skip_lists: bool = False,
        place: ListPlace | None = None,
    ) -> None:
        text = node_text(node, skip_lists=skip_lists)
        if not text:
            if not has_image(node, skip_lists=skip_lists):
                return
            kind = "image"  # a picture standing alone: a block of its own, with its own anchors
        anchor = self.anchor_for(kind, text)
        node.attrs = {"id": anchor} | {k: v for k, v in node.attrs.items() if k != "id"}
        alone = Node(node.tag, node.attrs, [c for c in node.children if not _is_list(c)])
        shown = alone if skip_lists else node
        self.blocks.append(RawBlock(kind, text, sanitize(render(shown)), anchor, level, place))

    def walk(self, parent: Node) -> None:
        parent.children = _wrap_loose_inline(parent)
        for child in parent.children:
            if isinstance(child, Node):
                self.visit(child)

    def visit(self, node: Node) -> None:
        if node.tag in HEADINGS:
            self.add(node, "heading", level=HEADINGS[node.tag])
        elif node.tag in LIST_TAGS:
            self.add_list(node, depth=0)
        elif node.tag in BLOCK_KIND:
            self.add(node, BLOCK_KIND[node.tag])
        elif node.tag in CONTAINERS:
            self.walk(node)

    def add_list(self, node: Node, *, depth: int) -> None:
        """Each item of the list, then the lists nested in it, one level deeper."""
        self._lists += 1
        list_id = self._lists
        ordinal = _number(node.attrs.get("start"), 1) if node.tag == "ol" else 1
        for item in node.children:
            if not (isinstance(item, Node) and item.tag == "li"):
                continue
            ordinal = _number(item.attrs.get("value"), ordinal) if node.tag == "ol" else ordinal
            place = ListPlace(list_id=list_id, tag=node.tag, ordinal=ordinal, depth=depth)
            self.add(item, "list_item", skip_lists=True, place=place)
            for sub in item.children:
                if isinstance(sub, Node) and _is_list(sub):
                    self.add_list(sub, depth=depth + 1)
            ordinal += 1


def _number(value: str | None, default: int) -> int:
    """An <ol start> or <li value>: a whole number, else the default (as browsers do)."""
    try:
        return int((value or "").strip())
    except ValueError:
        return default


def has_image(node: Node | str, *, skip_lists: bool = False) -> bool:
    """Whether the element shows a picture (an <img> with a src), nested lists left out if asked."""
    if isinstance(node, str) or (skip_lists and _is_list(node)):
        return False
    if node.tag == "img":
        return bool(node.attrs.get("src"))
    return any(has_image(c, skip_lists=skip_lists) for c in node.children)


def _is_list(node: Node | str) -> bool:
    return isinstance(node, Node) and node.tag in LIST_TAGS


def _is_inline(node: Node | str) -> bool:
    if isinstance(node, str):
        return True
    known_blocks = HEADINGS.keys() | LIST_TAGS | BLOCK_KIND.keys() | CONTAINERS | {"hr", "li"}
    return node.tag not in known_blocks


def _wrap_loose_inline(parent: Node) -> list[Node | str]:
    """Text and inline elements directly inside a container become <p> paragraphs."""
    out: list[Node | str] = []
    run: list[Node | str] = []

    def flush() -> None:
        paragraph = Node("p", {}, list(run))
        if run and (node_text(paragraph) or has_image(paragraph)):
            out.append(paragraph)
        run.clear()

    for child in parent.children:
        if _is_inline(child) and not (isinstance(child, Node) and child.tag == "br" and not run):
            run.append(child)
        else:
            flush()
            out.append(child)
    flush()
    return out


def extract_blocks(sanitized: str) -> tuple[list[RawBlock], Node]:
    """Blocks in reading order and the tree with the anchors set as ids."""
    root = parse_tree(sanitized)
    collector = _Collector()
    collector.walk(root)
    return collector.blocks, root
