"""WordPress export files (WXR, `*.xml`): the posts of a blog, each with the recording it links to.

A WXR file is RSS 2.0 with WordPress's own namespace. A post's recording is found, in this order,
in its `enclosure` custom field (what podcast plugins and diptych's WordPress target write), an
`[audio]` shortcode, an `<audio>`/`<source>` element, or a link: whichever names a file (by its
last path segment) that lies in the folder being imported. Nothing outside that folder is read.
Parsing uses defusedxml: an export file is input, and entity expansion is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse as parse_xml

from pipeline.errors import DropError

log = logging.getLogger(__name__)

NS = {
    "wp": "http://wordpress.org/export/1.2/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}
# Any address or path in a post's HTML or shortcodes; the recording is the one naming a file here.
_ADDRESS = re.compile(r"""(?:src|href|mp3|m4a|ogg|wav|url)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class WxrPost:
    """One published post of the export and the recording it links to."""

    slug: str  # wp:post_name, the post's address on the blog
    title: str
    date: dt.date
    body_html: str  # content:encoded, as the blog stored it
    recording: Path  # inside the imported folder


@dataclass(frozen=True)
class WxrReport:
    posts: list[WxrPost]
    skipped: list[str]  # one line each: a post without a recording in the folder, a draft…


def _text(item: Element, path: str) -> str:
    node = item.find(path, NS)
    return (node.text or "").strip() if node is not None else ""


def _post_date(item: Element) -> dt.date | None:
    value = _text(item, "wp:post_date")
    if value and not value.startswith("0000"):
        try:
            return dt.datetime.fromisoformat(value).date()
        except ValueError:
            pass
    try:
        return parsedate_to_datetime(_text(item, "pubDate")).date()
    except (TypeError, ValueError):
        return None


def _addresses(item: Element) -> list[str]:
    """Candidate addresses, the enclosure field first."""
    found = []
    for meta in item.findall("wp:postmeta", NS):
        if _text(meta, "wp:meta_key") == "enclosure":
            found.append(_text(meta, "wp:meta_value").splitlines()[0] if _text(meta, "wp:meta_value") else "")
    found += _ADDRESS.findall(_text(item, "content:encoded"))
    return [a for a in found if a]


def _file_named(address: str, files: dict[str, Path]) -> Path | None:
    name = unquote(urlsplit(address).path.rsplit("/", 1)[-1])
    return files.get(name.lower())


def read_wxr(export: Path, files: dict[str, Path]) -> WxrReport:
    """The published posts of `export` whose recording is among `files` (lower-cased name → path)."""
    try:
        tree = parse_xml(export)
    except (ParseError, DefusedXmlException) as exc:
        raise DropError(f"{export.name}: not a readable WordPress export ({exc}): export it again") from exc
    channel = tree.getroot().find("channel")
    if channel is None or not channel.findall("item"):
        raise DropError(f"{export.name}: no posts found: is it a WordPress export (Tools → Export)?")
    posts: list[WxrPost] = []
    skipped: list[str] = []
    for item in channel.findall("item"):
        if _text(item, "wp:post_type") not in ("post", ""):
            continue
        title = _text(item, "title") or _text(item, "wp:post_name")
        if _text(item, "wp:status") not in ("publish", ""):
            skipped.append(f"{export.name}: '{title}' is not published ({_text(item, 'wp:status')}): left out")
            continue
        recording = next((p for a in _addresses(item) if (p := _file_named(a, files))), None)
        date = _post_date(item)
        if recording is None or date is None:
            why = "links to no recording in the folder" if recording is None else "has no date"
            skipped.append(f"{export.name}: '{title}' {why}: left out")
            continue
        posts.append(WxrPost(slug=_text(item, "wp:post_name") or title, title=title, date=date,
                             body_html=_text(item, "content:encoded"), recording=recording))
    return WxrReport(posts=posts, skipped=skipped)
