"""The review app's routes, by area: pages and their files, the audio, the editing API.

Each function returns an APIRouter over one `ReviewContext`; pipeline.review_app assembles them.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response

from pipeline.article import episode_images
from pipeline.episodes import load_record
from pipeline.errors import ReviewError
from pipeline.models import Approver, EpisodeState
from pipeline.review import state as review
from pipeline.review.article_view import block_looks
from pipeline.review.context import HERE, ReviewContext
from pipeline.review.requests import ApproveRequest, FindRequest, NoteRequest, OpRequest, apply_op
from pipeline.review.state import StaleReviewError
from pipeline.review.view import build_rows, segments_patch, sort_episodes
from pipeline.status import build_row, changes_not_live, episode_day

STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}


def render_episodes(ctx: ReviewContext) -> HTMLResponse:
    """The list of every episode, with its state and what is left to check."""
    rows = []
    for slug in ctx.project.episode_slugs():
        layout = ctx.project.episode(slug)
        record = load_record(layout)
        t = ctx.transcripts.get(layout) if layout.draft_json.exists() else None
        article = ctx.read_article(layout, record.source_article)
        day = episode_day(record, article.front_matter if article else {})
        rows.append(build_row(record, t, ctx.transcripts.pairing(layout), low_confidence=ctx.low, day=day))
    return ctx.render("list.html", episodes=sort_episodes(rows), show=ctx.settings.show)


def render_episode(ctx: ReviewContext, slug: str) -> HTMLResponse:
    """One episode's review page: its transcript beside its article, or why there is none yet."""
    layout = ctx.layout_of(slug)
    record = load_record(layout)
    if not layout.draft_json.exists():
        message = f"No transcript to review yet: the episode is {record.state.replace('_', ' ')}."
        return ctx.render("message.html", heading=record.title, message=message)
    t = ctx.transcripts.get(layout)
    pairing = ctx.transcripts.pairing(layout)
    article = ctx.read_article(layout, record.source_article)
    texts = {b.index: b.text for b in article.blocks} if article else {}
    meta_speaker = str(article.front_matter.get("speaker") or "") if article else ""
    return ctx.render(
        "episode.html",
        record=record,
        t=t,
        rows=build_rows(t, pairing),
        seg_html=ctx.seg_html(slug),
        pairing=pairing,
        article_text=lambda block: texts.get(block.index, block.text),
        looks=block_looks(slug, article, pairing, episode_images(layout, article, record.source_article)),
        todo=review.todo_count(t, ctx.low),
        can_undo=review.can_undo(t),
        stale=review.review_is_stale(layout, t),
        speaker=t.speaker or meta_speaker or ctx.settings.show.host,
        speakers=episode_speakers(ctx.settings.show.host, article.front_matter if article else {}),
        has_audio=layout.master_mp3.exists(),
        not_live=changes_not_live(record, t if layout.reviewed_json.exists() else None),
        lang=record.language or t.language,
    )


def episode_speakers(host: str, front_matter: dict[str, object]) -> list[str]:
    """Names a reviewer can give a segment: the host, the article's `speaker` and `speakers`."""
    names = [host, str(front_matter.get("speaker") or "")]
    listed = front_matter.get("speakers")
    for person in listed if isinstance(listed, list) else []:
        names.append(str(person.get("name") or "") if isinstance(person, dict) else str(person))
    return list(dict.fromkeys(n.strip() for n in names if n and n.strip()))


def page_routes(ctx: ReviewContext) -> APIRouter:
    """The pages, the article's pictures, the transcript download and the page's own files."""
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    def episodes_page() -> HTMLResponse:
        return render_episodes(ctx)

    @router.get("/episodes/{slug}", response_class=HTMLResponse)
    def episode_page(slug: str) -> HTMLResponse:
        return render_episode(ctx, slug)

    @router.get("/episodes/{slug}/source/{ref:path}")
    def picture(slug: str, ref: str) -> FileResponse:
        """A picture the article shows, read-only from the workspace; nothing else of source/."""
        layout = ctx.layout_of(slug)
        record = load_record(layout)
        article = ctx.read_article(layout, record.source_article)
        file = dict(episode_images(layout, article, record.source_article).found).get(ref)
        if file is None:
            raise HTTPException(404, "the article shows no such picture")
        return FileResponse(file, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    @router.get("/episodes/{slug}/transcript.txt")
    def export(slug: str) -> PlainTextResponse:
        layout = ctx.layout_of(slug)
        disposition = f'attachment; filename="{slug}-transcript.txt"'
        return PlainTextResponse(
            review.export_text(ctx.transcripts.get(layout)), headers={"Content-Disposition": disposition}
        )

    @router.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @router.get("/static/{name}")
    def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, "not found")
        return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name])

    return router


def audio_routes(ctx: ReviewContext) -> APIRouter:
    """The episode's audio, with byte ranges."""
    router = APIRouter()

    @router.get("/episodes/{slug}/audio.mp3")
    def audio(slug: str) -> FileResponse:
        layout = ctx.layout_of(slug)
        if not layout.master_mp3.exists():
            raise HTTPException(404, "no audio yet")
        # FileResponse answers byte ranges (206): browsers need that to seek.
        return FileResponse(layout.master_mp3, media_type="audio/mpeg")

    return router


def save_edit(ctx: ReviewContext, slug: str, body: OpRequest) -> JSONResponse:
    """Apply one edit to the episode's transcript, unless another page saved a newer version first."""
    layout = ctx.layout_of(slug)
    transcripts, low = ctx.transcripts, ctx.low
    with transcripts.lock(slug):
        current = transcripts.get(layout)
        if current.version != body.base_version:
            raise StaleReviewError(
                f"{slug}: the transcript changed in another tab/window: reload the page "
                f"(version {current.version} is saved, this page has version {body.base_version})"
            )
        new = apply_op(body, current, lambda: transcripts.draft(layout))
        saved = current if new is current else review.save_review(layout, new, base_version=body.base_version)
        transcripts.put(layout, saved)
    return JSONResponse(
        {
            "version": saved.version,
            "patch": segments_patch(current, saved, low, transcripts.pairing(layout)),
            "todo": review.todo_count(saved, low),
            "can_undo": review.can_undo(saved),
            "speaker": saved.speaker or "",
            "not_live": changes_not_live(load_record(layout), saved),
        }
    )


def find_text(ctx: ReviewContext, slug: str, body: FindRequest) -> JSONResponse:
    """Where the text occurs in the transcript: the count and the first 200, with 40 characters around."""
    matches = review.find_matches(ctx.transcripts.get(ctx.layout_of(slug)), body.find, whole_word=body.whole_word)
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


def api_routes(ctx: ReviewContext) -> APIRouter:
    """The state-changing requests: edit, find, approve, request changes; each checks the token."""
    router = APIRouter()

    @router.post("/api/episodes/{slug}/edit")
    def edit(slug: str, body: OpRequest, request: Request) -> JSONResponse:
        ctx.check_write(request)
        return save_edit(ctx, slug, body)

    @router.post("/api/episodes/{slug}/find")
    def find(slug: str, body: FindRequest, request: Request) -> JSONResponse:
        ctx.check_write(request)
        return find_text(ctx, slug, body)

    @router.post("/api/episodes/{slug}/approve")
    def approve(slug: str, request: Request, body: ApproveRequest | None = None) -> JSONResponse:
        ctx.check_write(request)
        layout = ctx.layout_of(slug)
        with ctx.transcripts.lock(slug):
            left = review.items_left(layout, ctx.low, load=ctx.transcripts.get)
            record = review.approve_episode(
                layout, by=Approver.review_page, left_to_check=left, anyway=body is not None and body.anyway
            )
        ctx.start_on_approve(slug)
        return JSONResponse({"state": str(record.state)})

    @router.post("/api/episodes/{slug}/republish")
    def republish(slug: str, request: Request) -> JSONResponse:
        ctx.check_write(request)
        record = load_record(ctx.layout_of(slug))
        if record.state is not EpisodeState.published:
            raise ReviewError(f"'{slug}' is {record.state}, not published: approve it to publish it")
        ctx.start_on_approve(slug)
        return JSONResponse({"state": str(record.state), "started": ctx.on_approve is not None})

    @router.post("/api/episodes/{slug}/request-changes")
    def reject(slug: str, body: NoteRequest, request: Request) -> JSONResponse:
        ctx.check_write(request)
        record = review.request_changes(ctx.layout_of(slug), body.note)
        return JSONResponse({"state": str(record.state), "note": record.review_note})

    return router
