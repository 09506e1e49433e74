"""Taking a drop out of the inbox when several claims race for it (processes on one machine, or
workers on several machines sharing the project folder): by rename, which is atomic.

The drop's files are renamed, the recording first, into a folder of this claim's own
(`inbox/.claiming/<id>/`, on the inbox's file system, hidden from the drop finder). Of several
claims only the one whose first rename succeeds has the drop; the others find the file gone and
leave the drop alone. Slugs are reserved by creating the episode's folder, also atomic, so two
drops with the same name never share an episode. Nothing is deleted: what a claim does not keep
goes back where it was.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.errors import DropError
from pipeline.inbox.drops import Drop
from pipeline.layout import ProjectLayout


@dataclass(frozen=True)
class TakenDrop:
    drop: Drop  # the same drop, its paths now in the claim's folder
    moved: dict[Path, Path]  # inbox path → where it is now
    folder: Path  # inbox/.claiming/<id>/


def take_drop(project: ProjectLayout, drop: Drop) -> TakenDrop | None:
    """Rename the drop's files into a folder of this claim's own; None when another claim has it."""
    folder = project.inbox / ".claiming" / uuid.uuid4().hex
    folder.mkdir(parents=True)
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
    folders = sorted((p for p in taken.folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for folder in [*folders, taken.folder]:
        with contextlib.suppress(OSError):  # not empty: a file stays, never deleted
            folder.rmdir()


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
