"""Taking a drop out of the inbox when several claims race for it (processes on one machine, or
workers on several machines sharing the project folder): by rename, which is atomic.

The drop's files are renamed, the recording first, into a folder of this claim's own
(`inbox/.claiming/<id>/`, on the inbox's file system, hidden from the drop finder). Of several
claims only the one whose first rename succeeds has the drop; the others find the file gone and
leave the drop alone. Slugs are reserved by creating the episode's folder, also atomic, so two
drops with the same name never share an episode. Nothing is deleted: what a claim does not keep
goes back where it was.

Each claim's folder holds a lease (`.claim.json`: the host, the process, when it started and where
each file came from). A claim whose process is gone (on this host), or that is older than any claim
takes (on another host, whose machine was lost mid-claim), is given back by the next claim, so its
files are in the inbox again and claimed as any drop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import DropError
from pipeline.inbox.drops import Drop
from pipeline.layout import ProjectLayout
from pipeline.models import Strict
from pipeline.store import read_model_or_none, write_model

log = logging.getLogger(__name__)

LEASE = ".claim.json"
# A claim renames a few files and copies them into a workspace: seconds. One older than this on
# another host was cut short by the loss of its machine.
STALE_CLAIM_S = 900.0


class ClaimLease(Strict):
    host: str
    pid: int
    started: datetime
    files: dict[str, str]  # name in the claim's folder → path relative to the inbox


@dataclass(frozen=True)
class TakenDrop:
    drop: Drop  # the same drop, its paths now in the claim's folder
    moved: dict[Path, Path]  # inbox path → where it is now
    folder: Path  # inbox/.claiming/<id>/


def take_drop(project: ProjectLayout, drop: Drop) -> TakenDrop | None:
    """Rename the drop's files into a folder of this claim's own; None when another claim has it."""
    folder = project.inbox / ".claiming" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    write_model(folder / LEASE, ClaimLease(
        host=socket.gethostname(), pid=os.getpid(), started=datetime.now(UTC),
        files={name: str(path.relative_to(project.inbox)) for path, name in drop.moves},
    ))
    moved: dict[Path, Path] = {}
    try:
        for path, name in drop.moves:
            dest = folder / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, dest)
            moved[path] = dest
    except FileNotFoundError:
        taken = TakenDrop(drop, moved, folder)
        give_back(taken)
        if moved:  # won the recording, then a file went: the drop changed while it was taken
            raise DropError(f"inbox/{drop.name}: its files changed while it was claimed: "
                            "it is claimed on the next run") from None
        return None
    images = tuple(replace(i, path=moved[i.path]) for i in drop.images)
    renamed = replace(drop, audio=moved[drop.audio] if drop.audio else None,
                      article=moved[drop.article] if drop.article else None,
                      cover=moved[drop.cover] if drop.cover else None, images=images)
    return TakenDrop(renamed, moved, folder)


def give_back(taken: TakenDrop) -> None:
    """What the claim did not keep (a drop that failed, waits for its recording, or repeats an
    episode) goes back where it was in the inbox; the claim's folder goes once empty."""
    for original, current in taken.moved.items():
        if current.exists() and not original.exists():
            original.parent.mkdir(parents=True, exist_ok=True)
            os.rename(current, original)
    _remove_if_empty(taken.folder)


def _remove_if_empty(claim: Path) -> None:
    """The claim's folder and its lease, once no file of the drop is left in it."""
    folders = sorted((p for p in claim.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()
    if [p for p in claim.iterdir() if p.name != LEASE]:
        return  # a file stays, never deleted
    (claim / LEASE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        claim.rmdir()


def _is_stale(lease: ClaimLease | None, folder: Path, now: datetime) -> bool:
    started = lease.started if lease else datetime.fromtimestamp(folder.stat().st_mtime, UTC)
    if lease is not None and lease.host == socket.gethostname():
        try:
            os.kill(lease.pid, 0)
        except ProcessLookupError:
            return True  # the claiming process is gone
        except PermissionError:
            pass  # alive, another user's
    return (now - started).total_seconds() > STALE_CLAIM_S


def recover_stale_claims(project: ProjectLayout) -> list[str]:
    """Give back the claims cut short (their process killed, their machine lost): their files go
    back where they were in the inbox. The inbox paths given back."""
    root = project.inbox / ".claiming"
    if not root.is_dir():
        return []
    now, back = datetime.now(UTC), []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            lease = read_model_or_none(folder / LEASE, ClaimLease)
            if not _is_stale(lease, folder, now):
                continue
        except FileNotFoundError:
            continue  # given back by another claim meanwhile
        back += [original for name, original in (lease.files if lease else {}).items()
                 if _put_back(folder / name, project.inbox / original)]
        with contextlib.suppress(FileNotFoundError):  # another claim emptied it first
            _remove_if_empty(folder)
    return back


def _put_back(current: Path, target: Path) -> bool:
    if not current.exists():
        return False
    if target.exists():
        log.warning("%s: left by a claim cut short; %s is in the inbox again, so it stays here", current, target)
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(current, target)
    except FileNotFoundError:
        return False  # another claim gave it back first
    return True


def reserve_slug(project: ProjectLayout, base: str) -> str:
    """The first free slug from `base`, reserved by creating its episode folder."""
    project.episodes_dir.mkdir(parents=True, exist_ok=True)
    slug, n = base, 2
    while True:
        try:
            project.episode(slug).root.mkdir()
            return slug
        except FileExistsError:
            slug = f"{base}-{n}"
            n += 1
