"""Machine-wide slots: at most N transcriptions at once on this machine, across processes."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def locks_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"diptych-{os.getuid()}" / "locks"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def machine_slot(name: str, slots: int, *, poll_s: float = 0.5) -> Iterator[int]:
    """Hold one of `slots` file locks named `name`; wait until one is free."""
    handles = [open(locks_dir() / f"{name}.{i}.lock", "a+") for i in range(slots)]
    try:
        while True:
            for i, fh in enumerate(handles):
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                try:
                    yield i
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
                return
            time.sleep(poll_s)
    finally:
        for fh in handles:
            fh.close()
