"""What a shared page says about itself: canonical address, OpenGraph and Twitter card, JSON-LD
PodcastEpisode, and the show's subscribe links. Pure: values in, values out.

Link previews (OpenGraph, Twitter) need absolute addresses: without show.base_url the page keeps
only what works with relative ones (title, description, type).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from pipeline.config import SubscribeLinks

# (settings key, the button's label): in the order podcast apps are usually listed.
SUBSCRIBE_APPS = (
    ("apple_podcasts", "Apple Podcasts"),
    ("spotify", "Spotify"),
    ("antennapod", "AntennaPod"),
    ("overcast", "Overcast"),
    ("pocket_casts", "Pocket Casts"),
    ("podcast_addict", "Podcast Addict"),
)
EMBED_WIDTH, EMBED_HEIGHT = 640, 480


@dataclass(frozen=True)
class ShareMeta:
    """The <head> of an episode page for link previews and search engines."""

    canonical: str | None = None  # absolute address of the page
    image: str | None = None  # absolute address of the artwork
    audio: str | None = None  # absolute address of the MP3
    embed: str | None = None  # absolute address of the embeddable player
    locale: str = "en"
    json_ld: str = ""  # already escaped for a <script> element
    properties: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # OpenGraph (property, content)
    cards: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # Twitter (name, content)


@dataclass(frozen=True)
class EpisodeFacts:
    title: str
    description: str
    show_title: str
    language: str
    published: date
    duration_s: float
    episode: int | None = None
    season: int | None = None


def subscribe_links(links: SubscribeLinks) -> tuple[tuple[str, str], ...]:
    """(label, address) of each podcast app the show gave an address for."""
    values = links.model_dump()
    return tuple((label, values[key]) for key, label in SUBSCRIBE_APPS if values.get(key))


def script_json(value: object) -> str:
    """JSON that cannot end its <script> element early."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def iso_duration(seconds: float) -> str:
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{secs}S"


def episode_json_ld(facts: EpisodeFacts, *, page: str | None, audio: str | None, image: str | None,
                    home: str | None, feed: str | None) -> dict[str, object]:
    """schema.org PodcastEpisode, with its series and its audio."""
    series: dict[str, object] = {"@type": "PodcastSeries", "name": facts.show_title}
    if home:
        series["url"] = home
    if feed:
        series["webFeed"] = feed
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "PodcastEpisode",
        "name": facts.title,
        "description": facts.description,
        "datePublished": facts.published.isoformat(),
        "duration": iso_duration(facts.duration_s),
        "inLanguage": facts.language,
        "partOfSeries": series,
    }
    if page:
        data["url"] = page
    if image:
        data["image"] = image
    if audio:
        data["associatedMedia"] = {"@type": "AudioObject", "contentUrl": audio, "encodingFormat": "audio/mpeg"}
    if facts.episode is not None:
        data["episodeNumber"] = facts.episode
    if facts.season is not None:
        data["partOfSeason"] = {"@type": "PodcastSeason", "seasonNumber": facts.season}
    return data


def _absolute(base: str, path: str | None) -> str | None:
    return base + path if base and path else None


def share_meta(facts: EpisodeFacts, *, base: str, slug: str, image_path: str | None) -> ShareMeta:
    """The page's previews; `base` is show.base_url ("" when unknown), paths are from the site root."""
    page = _absolute(base, f"{slug}/")
    image = _absolute(base, image_path)
    audio = _absolute(base, f"{slug}/{slug}.mp3")
    embed = _absolute(base, f"{slug}/embed.html")
    og = [("og:type", "article"), ("og:title", facts.title)]
    og += [("og:description", facts.description), ("og:site_name", facts.show_title)]
    og += [("og:locale", facts.language.replace("-", "_"))]
    og += [(k, v) for k, v in (("og:url", page), ("og:image", image), ("og:audio", audio)) if v]
    if audio:
        og.append(("og:audio:type", "audio/mpeg"))
    cards = [("twitter:title", facts.title), ("twitter:description", facts.description)]
    if embed and page:
        cards = [("twitter:card", "player"), *cards, ("twitter:player", embed)]
        cards += [("twitter:player:width", str(EMBED_WIDTH)), ("twitter:player:height", str(EMBED_HEIGHT))]
    else:
        cards = [("twitter:card", "summary"), *cards]
    if image:
        cards.append(("twitter:image", image))
    ld = episode_json_ld(
        facts, page=page, audio=audio, image=image, home=base or None, feed=_absolute(base, "feed.xml")
    )
    return ShareMeta(page, image, audio, embed, facts.language, script_json(ld), tuple(og), tuple(cards))
