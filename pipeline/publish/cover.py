"""The cover as published: Apple Podcasts takes at most 3000 px, so a larger one is resized."""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from pipeline.errors import PublishError

log = logging.getLogger(__name__)

MAX_COVER_PX = 3000


@dataclass(frozen=True)
class PublishedCover:
    data: bytes
    warning: str | None  # said when the cover was resized


def published_cover(path: Path) -> PublishedCover:
    """The bytes to publish for `path`: as dropped, or resized to MAX_COVER_PX (same format)."""
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            # A 10000 px square is a cover, not a bomb; Pillow still refuses twice its default limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            resized = _resized(Image.open(io.BytesIO(data)))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PublishError(f"cover {path.name} is not an image that can be read ({exc}): use a JPEG or PNG") from exc
    if resized is None:
        return PublishedCover(data, None)
    out, (width, height), size = resized
    warning = (f"{path.name} is {width}×{height} px: published resized to {size[0]}×{size[1]} px, "
               f"Apple Podcasts' maximum is {MAX_COVER_PX} px")
    log.warning(warning)
    return PublishedCover(out, warning)


def _resized(image: Image.Image) -> tuple[bytes, tuple[int, int], tuple[int, int]] | None:
    """(new bytes, old size, new size) when larger than MAX_COVER_PX, else None."""
    with image:
        width, height = image.size
        if max(width, height) <= MAX_COVER_PX:
            return None
        kind = image.format or "JPEG"
        image.draft("RGB", (MAX_COVER_PX, MAX_COVER_PX))  # JPEG: decode at a fraction of the size
        image.thumbnail((MAX_COVER_PX, MAX_COVER_PX), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.convert("RGB" if kind == "JPEG" else image.mode).save(out, format=kind, quality=90)
        return out.getvalue(), (width, height), image.size
