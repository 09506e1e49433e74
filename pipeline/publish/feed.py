"""The podcast feed: RSS 2.0 with the itunes:, podcast: and content: namespaces.

Built element by element with xml.etree, one small function per namespace, so that escaping is the
XML library's job. The values come in as plain frozen dataclasses (see pipeline.listing).
"""

from __future__ import annotations

import struct
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from pipeline import __version__
from pipeline.config import FeedExtras, Person, ShowSettings

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
ATOM = "http://www.w3.org/2005/Atom"
NAMESPACES = {"itunes": ITUNES, "podcast": PODCAST, "content": CONTENT, "atom": ATOM}
# The podcast namespace's UUIDv5 namespace for <podcast:guid>.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
# Apple Podcasts cuts descriptions longer than this many bytes.
MAX_DESCRIPTION_BYTES = 4000

for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


@dataclass(frozen=True)
class TranscriptLink:
    url: str
    mime_type: str
    language: str
    rel: str | None = None


@dataclass(frozen=True)
class FeedPerson:
    name: str
    role: str
    img: str | None = None
    href: str | None = None

    @classmethod
    def of(cls, person: Person) -> FeedPerson:
        return cls(person.name, person.role.lower(), person.picture, person.url)


@dataclass(frozen=True)
class FeedItem:
    guid: str
    title: str
    page_url: str
    published_at: datetime
    enclosure_url: str
    enclosure_bytes: int
    duration_s: float
    description: str  # plain text summary
    content_html: str  # the sanitized article
    explicit: bool
    episode: int | None = None
    season: int | None = None
    image_url: str | None = None
    chapters_url: str | None = None
    transcripts: tuple[TranscriptLink, ...] = field(default_factory=tuple)
    people: tuple[FeedPerson, ...] = field(default_factory=tuple)  # the episode's guests


@dataclass(frozen=True)
class FeedChannel:
    title: str
    link: str
    feed_url: str
    description: str
    language: str
    author: str
    owner_name: str
    owner_email: str
    category: str
    explicit: bool
    locked: bool
    podcast_guid: str | None
    image_url: str | None = None
    subcategory: str | None = None
    copyright: str | None = None
    people: tuple[FeedPerson, ...] = field(default_factory=tuple)  # the host
    extras: FeedExtras = field(default_factory=FeedExtras)


def default_copyright(author: str, years: list[int]) -> str:
    """"© 2026 Author", or "© 2024–2026 Author" over the years the episodes were published."""
    if not years:
        return f"© {author}"
    first, last = min(years), max(years)
    return f"© {first} {author}" if first == last else f"© {first}–{last} {author}"


def channel_for_show(
    show: ShowSettings, *, feed_url: str, link: str, image_url: str | None, years: list[int] | None = None
) -> FeedChannel:
    """The channel from the show's settings; <podcast:guid> only with an absolute feed URL or an
    override; the copyright by default over the years of the episodes (`years`)."""
    absolute = "://" in feed_url
    host = FeedPerson(show.host, "host", show.host_picture, show.host_url)
    return FeedChannel(
        title=show.title,
        link=link,
        feed_url=feed_url,
        description=show.description,
        language=show.language,
        author=show.author,
        owner_name=show.owner_name or show.author,
        owner_email=show.owner_email,
        category=show.category,
        subcategory=show.subcategory,
        explicit=show.explicit,
        locked=show.locked,
        podcast_guid=show.podcast_guid or (podcast_guid_for(feed_url) if absolute else None),
        image_url=image_url,
        copyright=show.copyright or default_copyright(show.author, years or []),
        people=(host,),
        extras=show.feed,
    )


def podcast_guid_for(feed_url: str) -> str:
    """UUIDv5 of the feed URL without its scheme and trailing slashes (podcast namespace rule)."""
    bare = feed_url.split("://", 1)[-1].rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


def truncate_utf8(text: str, *, limit: int = MAX_DESCRIPTION_BYTES) -> str:
    """`text` in at most `limit` UTF-8 bytes, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(" …".encode())
    head = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    cut = head.rfind(" ")
    return (head[:cut] if cut > 0 else head).rstrip(" ,;:") + " …"


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG file from its header, or None for other or broken files."""
    data = path.read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 < len(data) and data[at] == 0xFF:
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):  # start of frame: height then width
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


def cover_problem(path: Path) -> str | None:
    """Why Apple Podcasts would refuse this cover (1400–3000 px square, JPEG or PNG), or None."""
    size = image_size(path)
    if size is None:
        return f"{path.name} is not a JPEG or PNG image: Apple Podcasts needs one"
    width, height = size
    if width == height > 3000:
        return f"{path.name} is {width}×{height} px: published resized to 3000×3000 px, Apple Podcasts' maximum"
    if width != height or not 1400 <= width <= 3000:
        return f"{path.name} is {width}×{height} px: Apple Podcasts needs a square of 1400 to 3000 px"
    return None


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, /, **attrs: str) -> ET.Element:
    """A child element; keyword arguments are attributes (`text=` included, as itunes:category needs)."""
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _yes(flag: bool) -> str:
    return "true" if flag else "false"


# --- channel ---------------------------------------------------------------------------------------


def _channel_rss(channel: ET.Element, c: FeedChannel, last_build: datetime | None) -> None:
    _sub(channel, "title", c.title)
    _sub(channel, "link", c.link)
    _sub(channel, "description", c.description)
    _sub(channel, "language", c.language)
    if c.copyright:
        _sub(channel, "copyright", c.copyright)
    _sub(channel, "generator", f"diptych {__version__}")
    if last_build is not None:
        _sub(channel, "lastBuildDate", format_datetime(last_build))
    if c.image_url:
        image = _sub(channel, "image")
        _sub(image, "url", c.image_url)
        _sub(image, "title", c.title)
        _sub(image, "link", c.link)
    _sub(channel, _q(ATOM, "link"), href=c.feed_url, rel="self", type="application/rss+xml")


def _channel_itunes(channel: ET.Element, c: FeedChannel) -> None:
    _sub(channel, _q(ITUNES, "author"), c.author)
    owner = _sub(channel, _q(ITUNES, "owner"))
    _sub(owner, _q(ITUNES, "name"), c.owner_name)
    _sub(owner, _q(ITUNES, "email"), c.owner_email)
    if c.image_url:
        _sub(channel, _q(ITUNES, "image"), href=c.image_url)
    category = _sub(channel, _q(ITUNES, "category"), text=c.category)
    if c.subcategory:
        _sub(category, _q(ITUNES, "category"), text=c.subcategory)
    _sub(channel, _q(ITUNES, "explicit"), _yes(c.explicit))
    _sub(channel, _q(ITUNES, "type"), "episodic")


def _person(parent: ET.Element, p: FeedPerson) -> None:
    attrs = {"role": p.role}
    if p.img:
        attrs["img"] = p.img
    if p.href:
        attrs["href"] = p.href
    _sub(parent, _q(PODCAST, "person"), p.name, **attrs)


def _channel_extras(channel: ET.Element, x: FeedExtras) -> None:
    if x.license:
        _sub(channel, _q(PODCAST, "license"), x.license, **({"url": x.license_url} if x.license_url else {}))
    if x.funding_url:
        _sub(channel, _q(PODCAST, "funding"), x.funding_text, url=x.funding_url)
    _sub(channel, _q(PODCAST, "medium"), x.medium)
    for purpose, text in sorted(x.txt.items()):
        _sub(channel, _q(PODCAST, "txt"), text, purpose=purpose)
    if x.update_frequency:
        attrs = {"rrule": x.update_rrule} if x.update_rrule else {}
        _sub(channel, _q(PODCAST, "updateFrequency"), x.update_frequency, **attrs)
    if x.podroll:
        podroll = _sub(channel, _q(PODCAST, "podroll"))
        for feed in x.podroll:
            attrs = {"feedGuid": feed.feed_guid}
            attrs |= {"feedUrl": feed.feed_url} if feed.feed_url else {}
            attrs |= {"title": feed.title} if feed.title else {}
            _sub(podroll, _q(PODCAST, "remoteItem"), **attrs)


def _channel_podcast(channel: ET.Element, c: FeedChannel) -> None:
    if c.podcast_guid:
        _sub(channel, _q(PODCAST, "guid"), c.podcast_guid)
    _sub(channel, _q(PODCAST, "locked"), "yes" if c.locked else "no", owner=c.owner_email)
    for person in c.people:
        _person(channel, person)
    if c.image_url:
        _sub(channel, _q(PODCAST, "image"), href=c.image_url)
    _channel_extras(channel, c.extras)


# --- item ------------------------------------------------------------------------------------------


def _item_rss(item: ET.Element, i: FeedItem) -> None:
    _sub(item, "title", i.title)
    _sub(item, "link", i.page_url)
    _sub(item, "description", truncate_utf8(i.description))
    _sub(item, "guid", i.guid, isPermaLink="false")
    _sub(item, "pubDate", format_datetime(i.published_at))
    _sub(item, "enclosure", url=i.enclosure_url, length=str(i.enclosure_bytes), type="audio/mpeg")


def _item_itunes(item: ET.Element, i: FeedItem) -> None:
    _sub(item, _q(ITUNES, "title"), i.title)
    _sub(item, _q(ITUNES, "duration"), str(round(i.duration_s)))
    if i.image_url:
        _sub(item, _q(ITUNES, "image"), href=i.image_url)
    if i.episode is not None:
        _sub(item, _q(ITUNES, "episode"), str(i.episode))
    if i.season is not None:
        _sub(item, _q(ITUNES, "season"), str(i.season))
    _sub(item, _q(ITUNES, "episodeType"), "full")
    _sub(item, _q(ITUNES, "explicit"), _yes(i.explicit))


def _item_content(item: ET.Element, i: FeedItem) -> None:
    # Escaped rather than CDATA: ElementTree escapes every character that needs it, always correctly.
    _sub(item, _q(CONTENT, "encoded"), i.content_html)


def _item_podcast(item: ET.Element, i: FeedItem) -> None:
    for t in i.transcripts:
        attrs = {"url": t.url, "type": t.mime_type, "language": t.language}
        if t.rel:
            attrs["rel"] = t.rel
        _sub(item, _q(PODCAST, "transcript"), **attrs)
    if i.chapters_url:
        _sub(item, _q(PODCAST, "chapters"), url=i.chapters_url, type="application/json+chapters")
    if i.season is not None:
        _sub(item, _q(PODCAST, "season"), str(i.season))
    if i.episode is not None:
        _sub(item, _q(PODCAST, "episode"), str(i.episode))
    for person in i.people:
        _person(item, person)
    if i.image_url:
        _sub(item, _q(PODCAST, "image"), href=i.image_url)


def render_feed(channel: FeedChannel, items: list[FeedItem]) -> bytes:
    """feed.xml: the same channel and items always give the same bytes (no clock involved)."""
    # Newest first; items published at the same moment keep the order they were given in.
    items = sorted(items, key=lambda i: i.published_at, reverse=True)
    rss = ET.Element("rss", {"version": "2.0"})
    ch = _sub(rss, "channel")
    last_build = items[0].published_at if items else None
    _channel_rss(ch, channel, last_build)
    _channel_itunes(ch, channel)
    _channel_podcast(ch, channel)
    for i in items:
        element = _sub(ch, "item")
        _item_rss(element, i)
        _item_itunes(element, i)
        _item_content(element, i)
        _item_podcast(element, i)
    ET.indent(rss, space="  ")
    # ElementTree.tostring is typed loosely.
    value: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True) + b"\n"
    return value
