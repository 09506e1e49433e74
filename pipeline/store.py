"""Atomic, sorted JSON on disk; hashes of files and options."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.errors import DiptychError

M = TypeVar("M", bound=BaseModel)


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A fresh temporary file beside `final` (`.NAME.*.tmp`, same folder) for the block to write;
    renamed over `final` when the block ends, removed when it fails: readers never see half a file.
    Every file written by temp-and-rename goes through here."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
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
