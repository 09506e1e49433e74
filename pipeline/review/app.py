"""The review web app: FastAPI, server-side templates and one plain script; no network needed.

It serves on 127.0.0.1 and trusts nobody else: every request must name an allowed Host (no DNS
rebinding) and stay under 2 MB (pipeline.review_guard); pages need the server's token once (from
the logged address, then a cookie); state-changing requests need the token in the X-Diptych-Token
header and a same-origin Origin; every text is escaped by Jinja or set with textContent. The request
bodies, and how an edit maps onto pipeline.review, are pipeline.review_requests'; the routes are
pipeline.review_routes', over the state they share (pipeline.review_context).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import socket
import threading
import webbrowser

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from pipeline.config import Settings
from pipeline.errors import ReviewError
from pipeline.layout import ProjectLayout
from pipeline.review.context import OnApprove, ReviewContext
from pipeline.review.guard import MAX_BODY_BYTES, Guard, loopback_hosts
from pipeline.review.routes import api_routes, audio_routes, page_routes
from pipeline.review.state import ReviewStateError, StaleReviewError, UncheckedItemsError

log = logging.getLogger(__name__)


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
    ctx = ReviewContext(project=project, settings=settings, token=token, log=log, on_approve=on_approve)
    app = FastAPI(title="diptych review", docs_url=None, redoc_url=None, openapi_url=None)
    add_token_check(app, ctx)
    app.exception_handler(ReviewError)(review_error)
    app.include_router(page_routes(ctx))
    app.include_router(audio_routes(ctx))
    app.include_router(api_routes(ctx))
    # Added last, so it runs first: nothing is read before the Host and the body size are checked.
    app.add_middleware(Guard, allowed_hosts=allowed_hosts or loopback_hosts(), max_body=MAX_BODY_BYTES)
    return app


def add_token_check(app: FastAPI, ctx: ReviewContext) -> None:
    """Pages need the token's cookie; the logged address's ?token= is traded for that cookie."""

    @app.middleware("http")
    async def token_from_address(request: Request, call_next):  # type: ignore[no-untyped-def]
        """The logged address carries ?token=...: trade it for a cookie and a clean address."""
        given = request.query_params.get("token")
        if request.method == "GET" and given is not None:
            if not hmac.compare_digest(given.encode(), ctx.token.encode()):
                return PlainTextResponse("wrong token: use the address diptych review printed", 403)
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(ctx.cookie, ctx.token, httponly=True, samesite="strict", path="/")
            return response
        public = request.url.path.startswith(("/static/", "/favicon.ico"))
        if request.method in ("GET", "HEAD") and not public:
            if not ctx.page_allowed(request):
                return PlainTextResponse(
                    "open the address that diptych review printed (it holds a token)", 403
                )
        return await call_next(request)


async def review_error(_request: Request, exc: ReviewError) -> JSONResponse:
    """A refused review action as JSON: 409 when the page is out of date, else 400."""
    status = 409 if isinstance(exc, StaleReviewError | ReviewStateError) else 400
    left = {"left": exc.left} if isinstance(exc, UncheckedItemsError) else {}
    return JSONResponse({"error": str(exc), **left}, status_code=status)


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
