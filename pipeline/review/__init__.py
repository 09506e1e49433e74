"""Review by a person. Takes an episode's draft transcript and pairing; gives
`transcript/reviewed.json` (edits never overwritten, saved against a version) and the review
decision in the episode's state. Holds the edit operations, the word re-timing after an edit, and
the review web app (routes, guard, templates and static files) served on 127.0.0.1 with a token.
"""

from pipeline.review.app import create_app, serve
from pipeline.review.edits import export_text, import_text
from pipeline.review.state import (
    approve_episode,
    describe_left,
    items_left,
    load_for_review,
    request_changes,
    save_review,
)

__all__ = [
    "approve_episode",
    "create_app",
    "describe_left",
    "export_text",
    "import_text",
    "items_left",
    "load_for_review",
    "request_changes",
    "save_review",
    "serve",
]
