"""What the review app's routes share: the project, the token, the transcript cache, the templates.

One `ReviewContext` per app; pipeline.review_app builds it and pipeline.review_routes reads it.
Its checks are the app's trust rules (see pipeline.review_app): a page needs the token's cookie, a
state-changing request needs the token header and a same-origin request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from pipeline.article import Article, read_article
from pipeline.config import Settings
from pipeline.errors import DiptychError, EpisodeNotFound
from pipeline.layout import EpisodeLayout, ProjectLayout, is_valid_slug
from pipeline.models import Segment
from pipeline.review import state as review
from pipeline.review.guard import TOKEN_HEADER
from pipeline.review.view import clock, flag_reason, segment_html

HERE = Path(__file__).resolve().parent
OnApprove = Callable[[str], None]


def load_templates() -> jinja2.Environment:
    """The review pages' Jinja templates, escaping every value."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(clock=clock, flag_reason=flag_reason, needs_check=review.needs_check)
    return env


@dataclass(frozen=True)
class ReviewContext:
    """One review app's shared state; the caches inside change, the fields do not."""

    project: ProjectLayout
    settings: Settings
    token: str  # the server's secret: in the logged address, then a cookie and a header
    log: logging.Logger  # the app's logger (pipeline.review_app), whose messages the CLI shows
    on_approve: OnApprove | None = None  # called in a thread after an approval (publishing)
    templates: jinja2.Environment = field(default_factory=load_templates)
    transcripts: review.TranscriptCache = field(default_factory=review.TranscriptCache)
    # A segment's HTML, kept while the segment object is the same: (slug, segment id) -> (segment, html).
    fragments: dict[tuple[str, int], tuple[Segment, Markup]] = field(default_factory=dict)
    # The creator's article, parsed once while its file is unchanged: path -> (file's identity, article).
    articles: dict[str, tuple[object, Article]] = field(default_factory=dict)

    @property
    def low(self) -> float:
        """The confidence under which a word is flagged for checking."""
        return self.settings.review.low_confidence

    @property
    def cookie(self) -> str:
        """The cookie's name: one per token, so two servers on one host do not mix."""
        return "diptych_review_" + hashlib.sha256(self.token.encode()).hexdigest()[:10]

    def layout_of(self, slug: str) -> EpisodeLayout:
        """The episode's workspace, or a 404."""
        if not is_valid_slug(slug):
            raise HTTPException(404, "no such episode")
        try:
            return self.project.existing_episode(slug)
        except EpisodeNotFound as exc:
            raise HTTPException(404, "no such episode") from exc

    def page_allowed(self, request: Request) -> bool:
        """Whether the request carries the token's cookie."""
        given = request.cookies.get(self.cookie, "")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def check_write(self, request: Request) -> None:
        """A 403 unless the request has the token header and comes from the review page itself."""
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise HTTPException(403, "missing or wrong review token: reload the page")
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
            raise HTTPException(403, "cross-site request refused")
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise HTTPException(403, "cross-site request refused")

    def seg_html(self, slug: str) -> Callable[[Segment], Markup]:
        """A segment's HTML for the episode `slug`, cached while the segment is unchanged."""

        def html_of(seg: Segment) -> Markup:
            cached = self.fragments.get((slug, seg.id))
            if cached is None or cached[0] is not seg:
                cached = (seg, Markup(segment_html(seg, self.low)))
                self.fragments[(slug, seg.id)] = cached
            return cached[1]

        return html_of

    def render(self, name: str, **context: object) -> HTMLResponse:
        """A review page from its template, never cached by the browser."""
        html = self.templates.get_template(name).render(token=self.token, low=self.low, **context)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def read_article(self, layout: EpisodeLayout, source_article: str | None) -> Article | None:
        """The creator's article, or None when it cannot be read (pairing.json holds its blocks' text).

        Parsed once while its file is unchanged: the page and each of its pictures need it."""
        if not source_article:
            return None
        path = layout.source_dir / source_article
        try:
            return review.parsed_once(self.articles, str(path), path, lambda: read_article(path))
        except (DiptychError, NotImplementedError, OSError) as exc:
            self.log.info("%s: article not read (%s); showing the paired blocks' text", layout.slug, exc)
            return None

    def start_on_approve(self, slug: str) -> None:
        """Run `on_approve` for `slug` in a thread, if there is one."""
        if self.on_approve is not None:
            threading.Thread(target=self._run_on_approve, args=(self.on_approve, slug), daemon=True).start()

    def _run_on_approve(self, on_approve: OnApprove, slug: str) -> None:
        try:
            on_approve(slug)
        except Exception:  # a failed publish is logged; the approval itself stands
            self.log.exception("%s: publishing after approval failed", slug)
