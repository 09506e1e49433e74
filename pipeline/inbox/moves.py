"""Moving a drop's files without ever losing one: a claim that fails half-way puts back what it moved.

Files are moved, never modified: a rename on one file system; across file systems a copy, checked
against the original, then the original removed. A copy that fails (a full disk) is removed.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import DropError
from pipeline.store import sha256_file

log = logging.getLogger(__name__)

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def move_file(src: Path, dest: Path) -> None:
    """Move without modifying. Across file systems: copy, verify the copy, then remove the original."""
    if dest.exists():
        raise DropError(f"{src.name}: {dest} already exists: nothing was moved")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_then_remove(src, dest, exc)


def _copy_then_remove(src: Path, dest: Path, cause: OSError) -> None:
    try:
        shutil.copy2(src, dest)
        if sha256_file(src) != sha256_file(dest):
            raise DropError(f"{src.name}: copy to {dest} did not match the original: left in the inbox") from cause
    except BaseException:
        dest.unlink(missing_ok=True)  # a partial copy is never left behind
        raise
    src.unlink()


@dataclass
class ClaimMoves:
    """The moves of one claim, in order, so that a failure can put every file back where it was."""

    done: list[tuple[Path, Path]] = field(default_factory=list)
    made: list[Path] = field(default_factory=list)  # folders this claim created

    def make_folder(self, folder: Path) -> None:
        if not folder.exists():
            folder.mkdir(parents=True)
            self.made.append(folder)

    def move(self, src: Path, dest: Path) -> None:
        move_file(src, dest)
        self.done.append((src, dest))

    def undo(self) -> bool:
        """Put every moved file back, then remove the folders this claim made; False if one stayed."""
        ok = True
        for src, dest in reversed(self.done):
            try:
                move_file(dest, src)
            except (OSError, DropError) as exc:
                ok = False
                log.error("%s could not be put back to %s (%s): it is safe in %s", src.name, src.parent, exc, dest)
        if ok:
            for folder in reversed(self.made):
                shutil.rmtree(folder, ignore_errors=True)
        self.done.clear()
        return ok


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def disk_full_line(name: str, where: Path, needed_bytes: int) -> str:
    free = shutil.disk_usage(where).free if where.exists() else 0
    return (
        f"{name}: disk full in {where} ({free / 1e6:.1f} MB free, the drop needs {needed_bytes / 1e6:.1f} MB): "
        "free some space; the drop stays in inbox/ and is claimed on the next run"
    )
