"""Fixtures shared by the transcription tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.transcribe.model_cache import default_models_dir, install_model


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The folder `diptych models install base` fills; installed here when a test runs alone."""
    folder = default_models_dir()
    install_model("base", folder)
    return folder
