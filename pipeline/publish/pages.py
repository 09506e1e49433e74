"""The web pages: one per episode (article, player, passages, transcript) and the home page.

Pure rendering: values in, HTML text out. Interface words follow the episode's language.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import jinja2
import nh3
from markupsafe import Markup

from pipeline.article import Article, keep_safe_image_src
from pipeline.models import ListPlace, PairedBlock, Pairing, Transcript, format_clock
from pipeline.publish.chapters import ChapterMark
from pipeline.publish.list_numbers import list_events
from pipeline.publish.meta import ShareMeta
from pipeline.words import segment_text

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
ASSETS = ("site.css", "site.js", "follow.js", "favicon.svg")

UI_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "home": "All episodes",
        "player": "Episode audio",
        "chapters": "Chapters",
        "listen": "Listen to this passage",
        "only_audio": "Only in the episode",
        "transcript": "Full transcript",
        "transcript_hint": "Select a time to play from there.",
        "downloads": "Downloads",
        "audio_mp3": "Audio (MP3)",
        "captions_vtt": "Captions (WebVTT)",
        "captions_srt": "Subtitles (SRT)",
        "transcript_txt": "Transcript (text)",
        "transcript_json": "Transcript (JSON)",
        "published": "Published",
        "duration": "Duration",
        "feed": "Podcast feed (RSS)",
        "feed_hint": "Paste this address into your podcast app:",
        "episodes": "Episodes",
        "no_episodes": "No episode published yet.",
        "skip": "Skip to content",
        "article": "Article",
        "no_audio_support": "Your browser cannot play this audio: download the MP3.",
        "episode_page": "Episode page (article, player, chapters)",
        "subscribe": "Subscribe",
        "copy_feed": "Copy the feed address",
        "copied": "Address copied",
        "share_moment": "Share this moment",
        "share_copied": "Link to this moment copied",
        "search": "Search the transcript",
        "search_count": "{n} of {total} passages",
        "embed_open": "Open the episode page",
        "listen_on": "Listen in",
        "artwork": "Artwork",
    },
    "fr": {
        "home": "Tous les épisodes",
        "player": "Audio de l’épisode",
        "chapters": "Chapitres",
        "listen": "Écouter ce passage",
        "only_audio": "Seulement dans l’épisode",
        "transcript": "Transcription complète",
        "transcript_hint": "Choisissez un moment pour l’écouter.",
        "downloads": "Téléchargements",
        "audio_mp3": "Audio (MP3)",
        "captions_vtt": "Sous-titres (WebVTT)",
        "captions_srt": "Sous-titres (SRT)",
        "transcript_txt": "Transcription (texte)",
        "transcript_json": "Transcription (JSON)",
        "published": "Publié le",
        "duration": "Durée",
        "feed": "Flux du podcast (RSS)",
        "feed_hint": "Collez cette adresse dans votre application de podcasts :",
        "episodes": "Épisodes",
        "no_episodes": "Aucun épisode publié pour l’instant.",
        "skip": "Aller au contenu",
        "article": "Article",
        "no_audio_support": "Votre navigateur ne peut pas lire cet audio : téléchargez le MP3.",
        "episode_page": "Page de l’épisode (article, lecteur, chapitres)",
        "subscribe": "S’abonner",
        "copy_feed": "Copier l’adresse du flux",
        "copied": "Adresse copiée",
        "share_moment": "Partager ce moment",
        "share_copied": "Lien vers ce moment copié",
        "search": "Chercher dans la transcription",
        "search_count": "{n} passages sur {total}",
        "embed_open": "Ouvrir la page de l’épisode",
        "listen_on": "Écouter dans",
        "artwork": "Illustration",
    },
}

MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
}

# Tags and attributes an article may keep on the page; everything else (scripts, event handlers,
# styles, forms, frames) goes. `id` stays so that chapters and passages can link to their section.
ARTICLE_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map", "center"}
ARTICLE_ATTRIBUTES = {
    **{k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"id", "lang", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "li": {"value"},  # an item numbered out of turn (<li value="7">) keeps its number
}
URL_SCHEMES = {"http", "https", "mailto"}


def ui_strings(language: str) -> dict[str, str]:
    return UI_STRINGS.get(language.split("-")[0].lower(), UI_STRINGS["en"])


def sanitize_html(html: str) -> str:
    """Article HTML that cannot run script, whatever produced it."""
    return nh3.clean(
        html,
        tags=ARTICLE_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ARTICLE_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        attribute_filter=keep_safe_image_src,
    )


def format_duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def format_date(day: date, language: str) -> str:
    lang = language.split("-")[0].lower()
    month = MONTHS.get(lang, MONTHS["en"])[day.month - 1]
    if lang == "fr":
        return f"{'1er' if day.day == 1 else day.day} {month} {day.year}"
    return f"{month} {day.day}, {day.year}"


@dataclass(frozen=True)
class SiteUrls:
    """Absolute addresses when show.base_url is set; otherwise paths relative to the site root."""

    base: str  # "" or "https://example.org/podcast/"

    @classmethod
    def from_base_url(cls, base_url: str | None) -> SiteUrls:
        base = (base_url or "").strip()
        return cls(base if not base or base.endswith("/") else base + "/")

    def at(self, path: str) -> str:
        return self.base + path

    def page(self, slug: str) -> str:
        return self.at(f"{slug}/") if self.base else f"{slug}/index.html"


# --- page values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageBlock:
    html: str  # sanitized
    anchor: str
    kind: str
    start_s: float | None = None
    end_s: float | None = None
    list_place: ListPlace | None = None  # list items: where they sit in their list
    # Read aloud: (start_s, end_s, text) of each sentence the episode says word for word (follow.js).
    sentences: tuple[tuple[float, float, str], ...] = ()
    # Starts where the block before it (a heading) starts: that block's ▶ plays it already.
    same_start: bool = False


@dataclass(frozen=True)
class PageAside:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class PageSegment:
    start_s: float
    end_s: float
    text: str
    speaker: str | None = None


@dataclass(frozen=True)
class EpisodePage:
    slug: str
    title: str
    language: str
    show_title: str
    published: date
    duration_s: float
    description: str
    flow: tuple[PageBlock | PageAside, ...]
    chapters: tuple[ChapterMark, ...]
    segments: tuple[PageSegment, ...]
    cover_name: str | None = None  # the episode's artwork, relative to its folder ("../cover.png")
    feed_url: str = "../feed.xml"
    share: ShareMeta = ShareMeta()
    subscribe: tuple[tuple[str, str], ...] = ()  # (app, address)


@dataclass(frozen=True)
class HomeEntry:
    slug: str
    title: str
    published: date
    duration_s: float
    description: str
    language: str


@dataclass(frozen=True)
class HomePage:
    title: str
    description: str
    language: str
    feed_url: str
    entries: tuple[HomeEntry, ...] = field(default_factory=tuple)
    cover_name: str | None = None
    subscribe: tuple[tuple[str, str], ...] = ()  # (app, address)
    canonical: str | None = None


def place_asides(blocks: Sequence[PageBlock], asides: Sequence[PageAside]) -> list[PageBlock | PageAside]:
    """Each audio-only passage goes after the paired block that comes before it in time."""
    after: dict[int, list[PageAside]] = {}
    for aside in sorted(asides, key=lambda a: a.start_s):
        before = [
            (b.start_s, i)
            for i, b in enumerate(blocks)
            if b.start_s is not None and b.start_s <= aside.start_s
        ]
        after.setdefault(max(before)[1] if before else -1, []).append(aside)
    flow: list[PageBlock | PageAside] = list(after.get(-1, []))
    for i, block in enumerate(blocks):
        flow.append(block)
        flow.extend(after.get(i, []))
    return flow


def _plain_block_html(block: PairedBlock) -> str:
    """A block rebuilt from its text when the article itself cannot be read."""
    text = html.escape(block.text, quote=False)
    anchor = html.escape(block.anchor)
    if block.kind == "heading":
        level = min(max(block.level or 2, 2), 6)
        return f'<h{level} id="{anchor}">{text}</h{level}>'
    tag = {"list_item": "li", "quote": "blockquote"}.get(block.kind, "p")
    return f'<{tag} id="{anchor}">{text}</{tag}>'


def _read_sentences(block: PairedBlock) -> tuple[tuple[float, float, str], ...]:
    return tuple(
        (s.start_s, s.end_s, s.text)
        for s in block.sentences
        if s.read and s.start_s is not None and s.end_s is not None
    )


def article_flow(article: Article | None, pairing: Pairing | None) -> tuple[PageBlock | PageAside, ...]:
    """The article's blocks in order, paired ones with their times, audio-only passages placed."""
    paired = {b.anchor: b for b in (pairing.blocks if pairing else []) if b.status == "paired"}

    def block(html_text: str, anchor: str, kind: str, place: ListPlace | None) -> PageBlock:
        match = paired.get(anchor)
        if match is None or match.start_s is None or match.end_s is None:
            return PageBlock(sanitize_html(html_text), anchor, kind, list_place=place)
        return PageBlock(
            sanitize_html(html_text), anchor, kind, match.start_s, match.end_s, place, _read_sentences(match)
        )

    if article is not None:
        shown = [b for b in article.blocks if not getattr(b, "is_title", False)]
        blocks = [block(b.html, b.anchor, b.kind, b.list_place) for b in shown]
    else:
        said = [b for b in (pairing.blocks if pairing else []) if b.text.strip()]
        blocks = [block(_plain_block_html(b), b.anchor, b.kind, b.list_place) for b in said]
    asides = [PageAside(a.start_s, a.end_s, a.text) for a in (pairing.audio_only if pairing else [])]
    return tuple(place_asides(mark_same_starts(blocks), asides))


# Two blocks whose passages start less than this apart start "together": one ▶ plays both.
SAME_START_S = 1.0


def mark_same_starts(blocks: Sequence[PageBlock]) -> list[PageBlock]:
    """A block right after a heading that starts where the heading does loses its own ▶."""
    out: list[PageBlock] = []
    for block in blocks:
        before = out[-1] if out else None
        together = (
            before is not None
            and before.kind == "heading"
            and before.start_s is not None
            and block.start_s is not None
            and abs(block.start_s - before.start_s) < SAME_START_S
        )
        out.append(dataclasses.replace(block, same_start=True) if together else block)
    return out


def page_segments(transcript: Transcript, *, default_speaker: str | None) -> tuple[PageSegment, ...]:
    """The transcript's segments; a speaker's name shows where the speaker changes."""
    out, previous = [], None
    for seg in transcript.segments:
        text = segment_text(seg)
        if not text:
            continue
        speaker = seg.speaker or transcript.speaker or default_speaker
        shown = speaker if speaker != previous else None
        out.append(PageSegment(seg.start_s, seg.end_s, text, shown))
        previous = speaker
    return tuple(out)


def group_lists(flow: Sequence[PageBlock | PageAside]) -> list[tuple[str, object]]:
    """Consecutive list items make one run of lists (nested as written); everything else stands alone."""
    grouped: list[tuple[str, object]] = []
    run: list[tuple[PageBlock, ListPlace | None]] = []
    for part in flow:
        if isinstance(part, PageBlock) and part.html.lstrip().startswith("<li"):
            run.append((part, part.list_place))
            continue
        if run:
            grouped.append(("list", list_events(run)))
            run = []
        grouped.append(("aside", part) if isinstance(part, PageAside) else ("block", part))
    if run:
        grouped.append(("list", list_events(run)))
    return grouped


@cache
def template_environment() -> jinja2.Environment:
    """The templates of publish/templates/ with their filters: the site's pages and the WordPress post."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["clock"] = format_clock
    env.filters["duration"] = format_duration
    env.filters["safe_html"] = lambda html: Markup(html)  # only ever given sanitize_html() output
    env.filters["strip_li_end"] = _strip_li_end
    env.filters["strip_p_end"] = _strip_p_end
    env.filters["secs"] = lambda s: f"{s:.2f}"
    return env


def _strip_p_end(html: str) -> Markup:
    """A sanitized paragraph without its closing tag, so that its "▶" link ends the paragraph."""
    return Markup(html.rstrip().removesuffix("</p>"))  # only ever given sanitize_html() output


def _strip_li_end(html: str) -> Markup:
    """A sanitized list item without its closing tag, so that its play link goes inside it."""
    body = html.rstrip()
    return Markup(body[: -len("</li>")] if body.endswith("</li>") else body)


def render_episode_page(page: EpisodePage, *, template: str = "episode.html") -> str:
    """The episode's page (`episode.html`) or its embeddable player (`embed.html`)."""
    return (
        template_environment()
        .get_template(template)
        .render(
            page=page,
            t=ui_strings(page.language),
            parts=group_lists(page.flow),
            date_text=format_date(page.published, page.language),
            mp3=f"{page.slug}.mp3",
        )
    )


def render_home_page(home: HomePage) -> str:
    entries = [(e, format_date(e.published, home.language)) for e in home.entries]
    return (
        template_environment()
        .get_template("home.html")
        .render(home=home, t=ui_strings(home.language), entries=entries)
    )


def asset_bytes(name: str) -> bytes:
    return (STATIC / name).read_bytes()


@cache
def code_sha256() -> str:
    """What the site is made with: this package's code, templates and assets. Part of an episode's
    publish key, so that pages built by an earlier diptych are built anew, not kept as they were."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
