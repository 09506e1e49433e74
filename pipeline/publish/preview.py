"""`diptych preview`: serve output/site/ locally, with byte ranges so that the player can seek."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import PublishError

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger(__name__)


def site_app(site_dir: Path) -> Starlette:
    from starlette.applications import Starlette
    from starlette.staticfiles import StaticFiles

    app = Starlette()
    # StaticFiles answers Range requests (HTTP 206): browsers need them to seek in audio.
    app.mount("/", StaticFiles(directory=site_dir, html=True), name="site")
    return app


def serve_site(site_dir: Path, *, host: str, port: int) -> None:
    import uvicorn

    if not (site_dir / "index.html").is_file():
        raise PublishError(f"nothing published yet in {site_dir}: run 'diptych publish' first")
    log.info("serving %s at http://%s:%d/ (Ctrl-C to stop)", site_dir, host, port)
    uvicorn.run(site_app(site_dir), host=host, port=port, log_level="warning")
