"""Review by a person. Takes an episode's draft transcript and pairing; gives
`transcript/reviewed.json` (edits never overwritten, saved against a version) and the review
decision in the episode's state. Holds the edit operations, the word re-timing after an edit, and
the review web app (routes, guard, templates and static files) served on 127.0.0.1 with a token.
"""

from typing import TYPE_CHECKING

from pipeline.review.edits import export_text, import_text
from pipeline.review.guard import hostname_of
from pipeline.review.state import (
    approve_episode,
    describe_left,
    items_left,
    load_for_review,
    request_changes,
    save_review,
    todo_count,
)

if TYPE_CHECKING:
    from pipeline.review.app import create_app, serve

__all__ = [
    "approve_episode",
    "create_app",
    "describe_left",
    "export_text",
    "hostname_of",
    "import_text",
    "items_left",
    "load_for_review",
    "request_changes",
    "save_review",
    "serve",
    "todo_count",
]


def __getattr__(name: str) -> object:
    # The web app (FastAPI) loads only where it is served: `diptych status` reads its rows through
    # this face and stays quick.
    if name in ("create_app", "serve"):
        from pipeline.review import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
