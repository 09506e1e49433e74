"""Atomic, sorted JSON on disk; hashes of files and options."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.errors import DiptychError, OutputError

M = TypeVar("M", bound=BaseModel)
# atomic_path's temporary files: ".state.json.k3j9x2.tmp" beside "state.json".
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A fresh temporary file beside `final` (`.NAME.*.tmp`, same folder) for the block to write;
    renamed over `final` when the block ends, removed when it fails: readers never see half a file.
    Every file written by temp-and-rename goes through here."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def remove_stale_temp_files(folder: Path, *, older_than_s: float = 600.0) -> list[Path]:
    """Remove the temporary files that a killed write left under `folder`; the ones removed. A JSON
    write lasts well under a second and an encode keeps touching its file: one untouched for
    `older_than_s` belongs to no write in progress (another command's included)."""
    if not folder.is_dir():
        return []
    limit = time.time() - older_than_s
    removed = []
    for path in folder.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < limit:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue  # a write in progress just renamed it
    return removed


def require_writable(folder: Path) -> None:
    """A one-line OutputError, naming `folder` and the fix, when a file cannot be created in it."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".diptych-write-check.", dir=folder)
    except FileNotFoundError:
        return  # not made yet: its parent was checked, the command makes it
    except OSError as exc:
        raise OutputError(
            f"cannot write in {folder} ({exc.strerror}): make it writable (or give the project a writable "
            "output/ folder), then run the command again"
        ) from exc
    os.close(fd)
    os.unlink(probe)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def dumps_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps_json(data))


def write_model(path: Path, model: BaseModel) -> None:
    write_json(path, model.model_dump(mode="json"))


def read_model(path: Path, model_type: type[M]) -> M:
    try:
        return model_type.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DiptychError(f"{path}: invalid {model_type.__name__} at '{where}': {first['msg']}") from exc


def read_model_or_none(path: Path, model_type: type[M]) -> M | None:
    try:
        return read_model(path, model_type)
    except FileNotFoundError:
        return None


def sha256_file(path: Path, *, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(data: Any) -> str:
    """A stable hash of options or any JSON-able value (keys sorted)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if needed), across threads and processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
