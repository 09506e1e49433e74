"""The review web app: FastAPI, server-side templates and one plain script; no network needed.

It serves on 127.0.0.1 and trusts nobody else: every request must name an allowed Host (no DNS
rebinding) and stay under 2 MB (pipeline.review_guard); pages need the server's token once (from
the logged address, then a cookie); state-changing requests need the token in the X-Diptych-Token
header and a same-origin Origin; every text is escaped by Jinja or set with textContent. The request
bodies, and how an edit maps onto pipeline.review, are pipeline.review_requests'.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import socket
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from markupsafe import Markup

from pipeline import review
from pipeline.article import Article, read_article
from pipeline.article_images import episode_images
from pipeline.config import Settings
from pipeline.episodes import load_record
from pipeline.errors import DiptychError, EpisodeNotFound, ReviewError
from pipeline.layout import EpisodeLayout, ProjectLayout, is_valid_slug
from pipeline.models import Pairing, Segment
from pipeline.review import ReviewStateError, StaleReviewError, UncheckedItemsError
from pipeline.review_article import block_looks
from pipeline.review_guard import MAX_BODY_BYTES, TOKEN_HEADER, Guard, loopback_hosts
from pipeline.review_requests import ApproveRequest, FindRequest, NoteRequest, OpRequest, apply_op
from pipeline.review_view import (
    build_rows,
    clock,
    episode_row,
    flag_reason,
    segment_html,
    segments_patch,
    sort_episodes,
)
from pipeline.store import read_model_or_none

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
OnApprove = Callable[[str], None]


def _read_article(layout: EpisodeLayout, source_article: str | None) -> Article | None:
    """The creator's article, or None when it cannot be read (pairing.json holds its blocks' text)."""
    if not source_article:
        return None
    try:
        return read_article(layout.source_dir / source_article)
    except (DiptychError, NotImplementedError, OSError) as exc:
        log.info("%s: article not read (%s); showing the paired blocks' text", layout.slug, exc)
        return None


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates" / "review"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(clock=clock, flag_reason=flag_reason, needs_check=review.needs_check)
    return env


def create_app(
    project: ProjectLayout,
    settings: Settings,
    *,
    token: str,
    on_approve: OnApprove | None = None,
    allowed_hosts: set[str] | None = None,
) -> FastAPI:
    """The review app for every episode of `project`; `token` guards it (see the module's doc)."""
    if len(token) < 16:
        raise ReviewError("the review token must be at least 16 characters")
    app = FastAPI(title="diptych review", docs_url=None, redoc_url=None, openapi_url=None)
    env = _templates()
    transcripts = review.TranscriptCache()
    low = settings.review.low_confidence
    cookie = "diptych_review_" + hashlib.sha256(token.encode()).hexdigest()[:10]

    def layout_of(slug: str) -> EpisodeLayout:
        if not is_valid_slug(slug):
            raise HTTPException(404, "no such episode")
        try:
            return project.existing_episode(slug)
        except EpisodeNotFound as exc:
            raise HTTPException(404, "no such episode") from exc

    def page_allowed(request: Request) -> bool:
        given = request.cookies.get(cookie, "")
        return hmac.compare_digest(given.encode(), token.encode())

    def check_write(request: Request) -> None:
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(403, "missing or wrong review token: reload the page")
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
            raise HTTPException(403, "cross-site request refused")
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise HTTPException(403, "cross-site request refused")

    fragments: dict[tuple[str, int], tuple[Segment, Markup]] = {}

    def seg_html(slug: str) -> Callable[[Segment], Markup]:
        def html_of(seg: Segment) -> Markup:
            cached = fragments.get((slug, seg.id))
            if cached is None or cached[0] is not seg:
                cached = (seg, Markup(segment_html(seg, low)))  # noqa: S704 - escaped by segment_html
                fragments[(slug, seg.id)] = cached
            return cached[1]

        return html_of

    def render(name: str, **context: object) -> HTMLResponse:
        html = env.get_template(name).render(token=token, low=low, **context)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.middleware("http")
    async def token_from_address(request: Request, call_next):  # type: ignore[no-untyped-def]
        """The logged address carries ?token=...: trade it for a cookie and a clean address."""
        given = request.query_params.get("token")
        if request.method == "GET" and given is not None:
            if not hmac.compare_digest(given.encode(), token.encode()):
                return PlainTextResponse("wrong token: use the address diptych review printed", 403)
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(cookie, token, httponly=True, samesite="strict", path="/")
            return response
        public = request.url.path.startswith(("/static/", "/favicon.ico"))
        if request.method in ("GET", "HEAD") and not public:
            if not page_allowed(request):
                return PlainTextResponse(
                    "open the address that diptych review printed (it holds a token)", 403
                )
        return await call_next(request)

    @app.exception_handler(ReviewError)
    async def review_error(_request: Request, exc: ReviewError) -> JSONResponse:
        status = 409 if isinstance(exc, StaleReviewError | ReviewStateError) else 400
        left = {"left": exc.left} if isinstance(exc, UncheckedItemsError) else {}
        return JSONResponse({"error": str(exc), **left}, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def episodes_page() -> HTMLResponse:
        rows = []
        for slug in project.episode_slugs():
            layout = project.episode(slug)
            record = load_record(layout)
            t = transcripts.get(layout) if layout.draft_json.exists() else None
            rows.append(episode_row(record, t, read_model_or_none(layout.pairing_json, Pairing), low))
        return render("list.html", episodes=sort_episodes(rows), show=settings.show)

    @app.get("/episodes/{slug}", response_class=HTMLResponse)
    def episode_page(slug: str) -> HTMLResponse:
        layout = layout_of(slug)
        record = load_record(layout)
        if not layout.draft_json.exists():
            message = f"No transcript to review yet: the episode is {record.state.replace('_', ' ')}."
            return render("message.html", heading=record.title, message=message)
        t = transcripts.get(layout)
        pairing = transcripts.pairing(layout)
        article = _read_article(layout, record.source_article)
        texts = {b.index: b.text for b in article.blocks} if article else {}
        meta_speaker = str(article.front_matter.get("speaker") or "") if article else ""
        return render(
            "episode.html",
            record=record,
            t=t,
            rows=build_rows(t, pairing),
            seg_html=seg_html(slug),
            pairing=pairing,
            article_text=lambda block: texts.get(block.index, block.text),
            looks=block_looks(slug, article, pairing, episode_images(layout, article, record.source_article)),
            todo=review.todo_count(t, low),
            can_undo=review.can_undo(t),
            stale=review.review_is_stale(layout, t),
            speaker=t.speaker or meta_speaker or settings.show.speaker or "",
            has_audio=layout.master_mp3.exists(),
        )

    @app.get("/episodes/{slug}/audio.mp3")
    def audio(slug: str) -> FileResponse:
        layout = layout_of(slug)
        if not layout.master_mp3.exists():
            raise HTTPException(404, "no audio yet")
        # FileResponse answers byte ranges (206): browsers need that to seek.
        return FileResponse(layout.master_mp3, media_type="audio/mpeg")

    @app.get("/episodes/{slug}/source/{ref:path}")
    def picture(slug: str, ref: str) -> FileResponse:
        """A picture the article shows, read-only from the workspace; nothing else of source/."""
        layout = layout_of(slug)
        record = load_record(layout)
        article = _read_article(layout, record.source_article)
        file = dict(episode_images(layout, article, record.source_article).found).get(ref)
        if file is None:
            raise HTTPException(404, "the article shows no such picture")
        return FileResponse(file, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    @app.get("/episodes/{slug}/transcript.txt")
    def export(slug: str) -> PlainTextResponse:
        layout = layout_of(slug)
        disposition = f'attachment; filename="{slug}-transcript.txt"'
        return PlainTextResponse(
            review.export_text(transcripts.get(layout)), headers={"Content-Disposition": disposition}
        )

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/{name}")
    def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, "not found")
        return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name])

    @app.post("/api/episodes/{slug}/edit")
    def edit(slug: str, body: OpRequest, request: Request) -> JSONResponse:
        check_write(request)
        layout = layout_of(slug)
        with transcripts.lock(slug):
            current = transcripts.get(layout)
            if current.version != body.base_version:
                raise StaleReviewError(
                    f"{slug}: the transcript changed in another tab/window: reload the page "
                    f"(version {current.version} is saved, this page has version {body.base_version})"
                )
            new = apply_op(body, current, lambda: transcripts.draft(layout))
            saved = (
                current if new is current else review.save_review(layout, new, base_version=body.base_version)
            )
            transcripts.put(layout, saved)
        return JSONResponse(
            {
                "version": saved.version,
                "patch": segments_patch(current, saved, low, transcripts.pairing(layout)),
                "todo": review.todo_count(saved, low),
                "can_undo": review.can_undo(saved),
                "speaker": saved.speaker or "",
            }
        )

    @app.post("/api/episodes/{slug}/find")
    def find(slug: str, body: FindRequest, request: Request) -> JSONResponse:
        check_write(request)
        matches = review.find_matches(transcripts.get(layout_of(slug)), body.find, whole_word=body.whole_word)
        shown = [
            {
                "segment_id": m.segment_id,
                "before": m.text[max(0, m.start - 40) : m.start],
                "match": m.text[m.start : m.end],
                "after": m.text[m.end : m.end + 40],
            }
            for m in matches[:200]
        ]
        return JSONResponse({"count": len(matches), "matches": shown})

    @app.post("/api/episodes/{slug}/approve")
    def approve(slug: str, request: Request, body: ApproveRequest | None = None) -> JSONResponse:
        check_write(request)
        layout = layout_of(slug)
        with transcripts.lock(slug):
            has_transcript = layout.reviewed_json.exists() or layout.draft_json.exists()
            left = review.todo_count(transcripts.get(layout), low) if has_transcript else 0
            record = review.approve_episode(layout, left_to_check=left, anyway=body is not None and body.anyway)
        if on_approve is not None:
            threading.Thread(target=_run_on_approve, args=(on_approve, slug), daemon=True).start()
        return JSONResponse({"state": str(record.state)})

    @app.post("/api/episodes/{slug}/request-changes")
    def reject(slug: str, body: NoteRequest, request: Request) -> JSONResponse:
        check_write(request)
        record = review.request_changes(layout_of(slug), body.note)
        return JSONResponse({"state": str(record.state), "note": record.review_note})

    # Added last, so it runs first: nothing is read before the Host and the body size are checked.
    app.add_middleware(Guard, allowed_hosts=allowed_hosts or loopback_hosts(), max_body=MAX_BODY_BYTES)
    return app


def _run_on_approve(on_approve: OnApprove, slug: str) -> None:
    try:
        on_approve(slug)
    except Exception:  # a failed publish is logged; the approval itself stands
        log.exception("%s: publishing after approval failed", slug)


def _hosts_for(host: str) -> set[str]:
    hosts = loopback_hosts() | {host.strip("[]")}
    if host in ("0.0.0.0", "::", ""):
        name = socket.gethostname()
        hosts |= {name, socket.getfqdn()}
        try:
            hosts |= set(socket.gethostbyname_ex(name)[2])
        except OSError:  # a host name that does not resolve: its addresses are simply not allowed
            log.warning("cannot resolve %s: open the review page by name or at 127.0.0.1", name)
    return {h.lower() for h in hosts}


def serve(
    project: ProjectLayout,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int,
    slug: str | None = None,
    on_approve: OnApprove | None = None,
    open_browser: bool = False,
) -> None:
    """Serve the review page until interrupted; logs the address to open (it holds the token)."""
    import uvicorn

    if host.strip("[]") not in loopback_hosts():
        log.warning(
            "review page served on %s: anyone who can reach this machine and has the token can edit", host
        )
    if slug is not None:
        project.existing_episode(slug)  # a clear error now rather than a 404 page later
    token = secrets.token_urlsafe(24)
    app = create_app(project, settings, token=token, on_approve=on_approve, allowed_hosts=_hosts_for(host))
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown_host and not shown_host.startswith("["):
        shown_host = f"[{shown_host}]"  # an IPv6 address in a URL
    path = f"episodes/{slug}" if slug else ""
    url = f"http://{shown_host}:{port}/{path}?token={token}"
    log.info("review page: %s", url)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
