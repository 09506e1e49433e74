"""What the review page's script sends to the app: one pydantic model per request body (unknown
fields refused, sizes bounded), and how each edit maps onto pipeline.review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import ReviewError
from pipeline.models import Transcript
from pipeline.review import state as review


class OpRequest(BaseModel):
    """One edit from the page, made on top of `base_version`."""

    model_config = ConfigDict(extra="forbid")

    base_version: int = Field(ge=0)
    op: Literal["edit", "merge", "split", "replace", "speaker", "check", "undo", "import"]
    segment_id: int | None = None
    text: str = Field("", max_length=1_500_000)
    offset: int = 0
    find: str = Field("", max_length=500)
    whole_word: bool = True


class FindRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    find: str = Field(max_length=500)
    whole_word: bool = True


class ApproveRequest(BaseModel):
    """Approve; `anyway`: even with flagged passages or unsure words left to check."""

    model_config = ConfigDict(extra="forbid")

    anyway: bool = False


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(max_length=review.MAX_NOTE_CHARS)


def apply_op(body: OpRequest, t: Transcript, draft: Callable[[], Transcript]) -> Transcript:
    sid = body.segment_id
    if body.op in ("edit", "merge", "split", "check") and sid is None:
        raise ReviewError(f"'{body.op}' needs a segment")
    if body.op == "edit":
        return review.apply_text_edit(t, sid or 0, body.text)
    if body.op == "merge":
        return review.merge_segments(t, sid or 0)
    if body.op == "split":
        return review.split_segment(t, sid or 0, body.offset)
    if body.op == "replace":
        return review.replace_all(t, body.find, body.text, whole_word=body.whole_word)
    if body.op == "speaker":
        return review.set_speaker(t, body.text, sid)
    if body.op == "check":
        return review.mark_checked(t, sid or 0)
    if body.op == "undo":
        return review.undo_last(t, draft())
    return review.import_text(body.text, t)
