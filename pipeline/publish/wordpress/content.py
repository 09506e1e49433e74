"""The post's content: the paired article as HTML that WordPress's filters keep as it is.

Only what WordPress's kses filter allows for an author (no script, no style element, no event
handler): an <audio> player, links, data-* attributes, <aside>, <details>. The whole is one
"Custom HTML" block, so that WordPress does not add paragraphs and line breaks of its own
(wpautop), and every "[" is written as a character reference so that no text becomes a shortcode.
Each "▶ m:ss" link is the MP3's address with a media fragment (#t=42.00): without JavaScript it
opens the audio at that time; with the optional plugin (README) it seeks the player in the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.publish import pages
from pipeline.publish.chapters import ChapterMark
from pipeline.publish.pages import PageAside, PageBlock, PageSegment

TEMPLATE = "wordpress-post.html"
# The theme knows nothing of diptych's classes: an aside is set apart by the one style kses allows.
ASIDE_STYLE = "border-left: 4px solid currentColor; padding-left: 1em"


@dataclass(frozen=True)
class PostContent:
    guid: str
    language: str
    mp3_url: str
    flow: tuple[PageBlock | PageAside, ...]
    chapters: tuple[ChapterMark, ...]
    segments: tuple[PageSegment, ...]
    captions_url: str | None = None
    downloads: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (label, url)
    images: dict[str, str] = field(default_factory=dict)  # src on the site → the picture's blog URL


_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]*)(")')


def _with_images(html: str, images: dict[str, str]) -> str:
    """Pictures at their address in the blog's media library."""
    return _SRC.sub(lambda m: m.group(1) + images.get(m.group(2), m.group(2)) + m.group(3), html)


def _placed(part: PageBlock | PageAside, images: dict[str, str]) -> PageBlock | PageAside:
    if isinstance(part, PageBlock) and "<img" in part.html:
        return PageBlock(
            _with_images(part.html, images), part.anchor, part.kind, part.start_s, part.end_s, part.list_place
        )
    return part


def render_post_content(post: PostContent) -> str:
    """The post's HTML, as stored in WordPress (one Custom HTML block)."""
    flow = [_placed(p, post.images) for p in post.flow]
    html = (
        pages.template_environment()
        .get_template(TEMPLATE)
        .render(
            post=post,
            t=pages.ui_strings(post.language),
            parts=pages.group_lists(flow),
            mp3=post.mp3_url,
            aside_style=ASIDE_STYLE,
        )
    )
    return html.removesuffix("\n").replace("[", "&#91;")


def downloads(language: str, urls: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The download links under the player, for the files the blog accepted."""
    t = pages.ui_strings(language)
    labels = [
        ("mp3", t["audio_mp3"]),
        ("vtt", t["captions_vtt"]),
        ("srt", t["captions_srt"]),
        ("txt", t["transcript_txt"]),
        ("html", t["transcript"]),
        ("json", t["transcript_json"]),
    ]
    return tuple((label, urls[role]) for role, label in labels if role in urls)
