"""The article's lists on the published page: list-item blocks back into nested <ul>/<ol>.

The page shows the article block by block, so a run of list items arrives flat, each knowing its
place (`ListPlace`: which list, bullets or numbers, its number, its depth). `list_events` turns a
run into what the template writes: open a list, open an item, close them, in order, so that nested
lists nest inside their item. Where an "only in the episode" passage or another block cuts a list,
the run after it reopens the list where it stopped: an <ol start="4"> continues the numbers, and an
item resumed inside a nested list sits in an unmarked item of its parent (`class="cont"`), so it
keeps its indent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipeline.models import ListPlace

T = TypeVar("T")

# A list item whose place is not known (an older pairing.json, read without its article).
LOOSE = ListPlace(list_id=0, tag="ul", ordinal=1, depth=0)


@dataclass(frozen=True)
class ListEvent(Generic[T]):
    # "open" a list, "item": open an item and write its content, "cont": open an unmarked item,
    # "end": close the item, "close": close the list
    op: str
    tag: str = ""  # "ul" or "ol" for "open" and "close"
    start: int | None = None  # <ol start=…> when the list does not begin at 1
    css: str = ""  # class of an opened list
    item: T | None = None


@dataclass
class _Open:
    list_id: int | None  # None: a list opened only to hold a resumed nested one
    tag: str


def _open(place: ListPlace, *, top: bool) -> ListEvent[T]:
    start = place.ordinal if place.tag == "ol" and place.ordinal != 1 else None
    return ListEvent("open", place.tag, start, "blocks" if top else "")


def list_events(items: Sequence[tuple[T, ListPlace | None]]) -> list[ListEvent[T]]:
    """What the page writes for a run of consecutive list items (each with its place)."""
    events: list[ListEvent[T]] = []
    stack: list[_Open] = []

    def close_top() -> None:
        events.extend([ListEvent("end"), ListEvent("close", stack.pop().tag)])

    for item, known in items:
        place = known or LOOSE
        while len(stack) > place.depth + 1:
            close_top()
        if len(stack) == place.depth + 1:
            if stack[-1].list_id == place.list_id:
                events.append(ListEvent("end"))
            else:
                close_top()
        while len(stack) < place.depth:  # resumed inside a nested list: unmarked parents keep the indent
            css = "cont" if stack else "blocks cont"
            events.extend([ListEvent("open", "ul", None, css), ListEvent("cont")])
            stack.append(_Open(None, "ul"))
        if len(stack) == place.depth:
            events.append(_open(place, top=not stack))
            stack.append(_Open(place.list_id, place.tag))
        events.append(ListEvent("item", item=item))
    while stack:
        close_top()
    return events
