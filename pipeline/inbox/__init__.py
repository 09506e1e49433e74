"""Finding, settling and claiming drops. Takes what lies in `inbox/` (a recording and its article, side
by side or in a folder); gives episode workspaces in `output/episodes/<slug>/` with the originals
moved into `source/` and a `received` record, and, for the always-on mode, a watcher that reports
new drops and state changes.
"""

from pipeline.inbox.catalogue import CatalogueEntry, ImportReport, find_catalogue, import_catalogue
from pipeline.inbox.claim import claim_drops, pending_drops, slugify
from pipeline.inbox.drops import find_drops
from pipeline.inbox.plan import InboxNote, inbox_notes
from pipeline.inbox.watcher import EpisodeWatch, InboxWatch, describe_event, inbox_fingerprint, unfinished
from pipeline.inbox.wxr import WxrPost, WxrReport, read_wxr

__all__ = [
    "CatalogueEntry",
    "ImportReport",
    "WxrPost",
    "WxrReport",
    "claim_drops",
    "find_catalogue",
    "import_catalogue",
    "read_wxr",
    "describe_event",
    "EpisodeWatch",
    "find_drops",
    "InboxNote",
    "inbox_notes",
    "inbox_fingerprint",
    "InboxWatch",
    "pending_drops",
    "slugify",
    "unfinished",
]
