"""What claiming a drop would do, decided before anything moves: the same answer for `run` and `status`.

A drop becomes a new episode, gives an existing episode a new article and/or recording, is the
same recording again, waits (for its recording, or for `replace: true` before it replaces a
published episode's recording), or cannot be claimed at all. Deciding only reads.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pipeline import episodes
from pipeline.article import read_front_matter
from pipeline.config import EpisodeMeta, parse_episode_meta
from pipeline.errors import DiptychError
from pipeline.inbox.drops import Drop, find_drops
from pipeline.layout import ProjectLayout
from pipeline.models import EpisodeRecord, EpisodeState
from pipeline.store import sha256_file

log = logging.getLogger(__name__)

# An episode in these states is on the site, or about to be: replacing its recording needs `replace: true`.
PUBLIC_STATES = frozenset({EpisodeState.approved, EpisodeState.published})


class ClaimAction(StrEnum):
    new = "new"  # a new episode
    update = "update"  # a new article and/or recording for an existing episode
    duplicate = "duplicate"  # the same recording and article again: left in the inbox
    incomplete = "incomplete"  # an article waiting for its recording
    waiting = "waiting"  # would replace a published recording without `replace: true`


@dataclass(frozen=True)
class ClaimPlan:
    action: ClaimAction
    drop: Drop  # what will move (an identical recording is left out of an update)
    meta: EpisodeMeta
    audio_sha256: str | None
    target: str | None = None  # the existing episode's slug (update, duplicate, waiting)
    reason: str = ""  # the drop's one line for duplicate, incomplete and waiting


@dataclass(frozen=True)
class InboxNote:
    """A drop that stays in the inbox, and why (a row of `diptych status`)."""

    name: str
    state: str  # "incomplete", "waiting", "cannot be claimed"
    reason: str


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60].strip("-") or "episode"


def meta_for(drop: Drop) -> EpisodeMeta:
    if drop.article is None:
        return EpisodeMeta()
    return parse_episode_meta(read_front_matter(drop.article), source=f"inbox/{drop.article.name}")


def _first_name(drop: Drop, inbox: Path) -> str:
    main = drop.audio or drop.article
    return f"inbox/{main.relative_to(inbox).as_posix()}" if main is not None else f"inbox/{drop.name}"


def _target(project: ProjectLayout, drop: Drop, meta: EpisodeMeta, same_audio: str | None) -> str | None:
    if same_audio or meta.slug:
        return same_audio or slugify(meta.slug or "")
    if drop.audio is None:
        # An article alone updates the episode of the same name, or waits for its recording.
        candidate = slugify(drop.name)
        return candidate if project.episode(candidate).state_json.exists() else None
    return None


def plan_claim(project: ProjectLayout, drop: Drop, known_audio: dict[str, str]) -> ClaimPlan:
    """Decide a drop's fate; `known_audio` maps every episode's recording sha256 to its slug."""
    name = _first_name(drop, project.inbox)
    meta = meta_for(drop)
    audio_sha = sha256_file(drop.audio) if drop.audio else None
    same_audio = known_audio.get(audio_sha) if audio_sha else None
    target = _target(project, drop, meta, same_audio)
    if target is None and drop.audio is None:
        return ClaimPlan(ClaimAction.incomplete, drop, meta, None,
                         reason=f"{name}: incomplete: waiting for its recording")
    if target is None or not project.episode(target).state_json.exists():
        return ClaimPlan(ClaimAction.new, drop, meta, audio_sha)
    record = episodes.load_record(project.episode(target))
    article_sha = sha256_file(drop.article) if drop.article else None
    if same_audio and (drop.article is None or article_sha == record.article_sha256):
        return ClaimPlan(ClaimAction.duplicate, drop, meta, audio_sha, target, reason=(
            f"{name}: the same recording as episode '{same_audio}' (sha256 "
            f"{(audio_sha or '')[:12]}…): not processed again; remove it from inbox/"))
    if same_audio or audio_sha == record.audio_sha256:
        drop = Drop(drop.name, None, drop.article, drop.cover, drop.images)  # the recording stays as it is
    elif drop.audio is not None and record.state in PUBLIC_STATES and not meta.replace:
        return ClaimPlan(ClaimAction.waiting, drop, meta, audio_sha, target, reason=(
            f"{name}: would replace the recording of the published episode '{target}': "
            "add 'replace: true' to its front matter to replace it, or give it another slug; waiting"))
    return ClaimPlan(ClaimAction.update, drop, meta, audio_sha, target)


def known_recordings(records: list[EpisodeRecord]) -> dict[str, str]:
    return {r.audio_sha256: r.slug for r in records if r.audio_sha256}


def inbox_notes(project: ProjectLayout) -> list[InboxNote]:
    """Drops that the next run would leave in the inbox, with why; reads only."""
    drops, problems = find_drops(project.inbox)
    notes = [InboxNote(_problem_name(p), "cannot be claimed", p) for p in problems]
    known = known_recordings(episodes.all_records(project))
    for drop in drops:
        if not drop.audio and not drop.article:
            continue
        try:
            plan = plan_claim(project, drop, known)
        except Exception as exc:  # whatever reading one drop raises is that drop's reason
            notes.append(InboxNote(drop.name, "cannot be claimed", describe_failure(drop, exc, project.inbox)))
            continue
        if plan.action in (ClaimAction.incomplete, ClaimAction.waiting):
            notes.append(InboxNote(drop.name, str(plan.action), plan.reason))
    return notes


def describe_failure(drop: Drop, exc: Exception, inbox: Path) -> str:
    """The drop's one line for a failure: a DiptychError says it all; anything else is named."""
    where = _first_name(drop, inbox)
    if isinstance(exc, DiptychError):
        text = str(exc)
        article = drop.article
        if article is not None and text.startswith(f"{article.name}: "):  # the article's own error
            return f"inbox/{article.relative_to(inbox).as_posix()}{text[len(article.name):]}"
        return text if text.startswith("inbox/") else f"{where}: {text}"
    log.debug("%s cannot be claimed", where, exc_info=exc)
    return f"{where}: cannot be read ({type(exc).__name__}: {exc}): fix or remove it"


def _problem_name(line: str) -> str:
    where = line.split(": ", 1)[0]
    return where.removeprefix("inbox/").rstrip("/").removesuffix(".*") or line
