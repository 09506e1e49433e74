"""Read a CTranslate2 Whisper model.bin and turn it back into openai-whisper's state dict.

The file layout is CTranslate2's `ModelSpec._serialize` (python/ctranslate2/specs/model_spec.py):

    u32 binary version, string spec name, u32 revision, u32 variable count,
    per variable: string name, u8 rank, u32 dims..., u8 dtype id, u32 byte count, raw bytes,
    u32 alias count, per alias: string alias, string target.

Strings are u16 length (counting a trailing NUL) + UTF-8 bytes + NUL. Everything is little-endian.
The converted tensors are the very tensors OpenAI published: CTranslate2 only stacks self-attention
query/key/value (and cross-attention key/value) into one matrix, stores the absent key bias as zeros,
renames the layers and aliases the output projection to the token embedding.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
SUPPORTED_BINARY_VERSION = 6

# Scalars in the spec that describe the architecture: value expected for an OpenAI Whisper model.
_EXPECTED_FLAGS = {
    "decoder/activation": 3,  # ctranslate2 Activation.GELU (exact erf GELU, as in Whisper)
    "decoder/alibi": 0,
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
}
# Scalars that carry no weight (the alignment heads come from config.json).
_IGNORED_SCALARS = ("decoder/alignment_heads", "decoder/alignment_layer")


class Ct2FormatError(ValueError):
    """The bytes are not a CTranslate2 Whisper model this reader understands."""


@dataclass(frozen=True)
class Ct2Model:
    spec_name: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]  # alias name -> variable name


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str:
        size = self.unpack("H")
        raw = bytes(self.data[self.pos : self.pos + size - 1])
        self.pos += size
        return raw.decode("utf-8")

    def array(self, shape: list[int], dtype: str, nbytes: int) -> np.ndarray:
        if dtype == "bfloat16":
            raise Ct2FormatError("bfloat16 variables are not supported")
        raw = self.data[self.pos : self.pos + nbytes]
        self.pos += nbytes
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape)


def read_ct2_model(data: bytes) -> Ct2Model:
    """Parse a whole model.bin held in memory (arrays are views on `data`)."""
    reader = _Reader(data)
    version = reader.unpack("I")
    if version != SUPPORTED_BINARY_VERSION:
        raise Ct2FormatError(f"binary version {version}, expected {SUPPORTED_BINARY_VERSION}")
    spec_name = reader.string()
    revision = reader.unpack("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(reader.unpack("I")):
        name = reader.string()
        shape = [reader.unpack("I") for _ in range(reader.unpack("B"))]
        dtype = _DTYPES[reader.unpack("B")]
        variables[name] = reader.array(shape, dtype, reader.unpack("I"))
    aliases = {reader.string(): reader.string() for _ in range(reader.unpack("I"))}
    if reader.pos != len(data):
        raise Ct2FormatError(f"{len(data) - reader.pos} trailing bytes after the aliases")
    return Ct2Model(spec_name=spec_name, revision=revision, variables=variables, aliases=aliases)


def _layer_count(variables: dict[str, np.ndarray], prefix: str) -> int:
    pattern = re.compile(rf"{prefix}/layer_(\d+)/")
    return len({m.group(1) for name in variables if (m := pattern.match(name))})


def whisper_dims(model: Ct2Model) -> dict[str, int]:
    """openai-whisper's ModelDimensions, read off the tensor shapes."""
    v = model.variables
    vocab, text_state = v["decoder/embeddings/weight"].shape
    audio_state, n_mels, _ = v["encoder/conv1/weight"].shape
    return {
        "n_mels": int(n_mels),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(audio_state),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": _layer_count(v, "encoder"),
        "n_vocab": int(vocab),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(text_state),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": _layer_count(v, "decoder"),
    }


class _Converter:
    """Maps CTranslate2 names to whisper names, remembering which source tensors were used."""

    def __init__(self, model: Ct2Model) -> None:
        self.src = model.variables
        self.used: set[str] = set()
        self.out: dict[str, np.ndarray] = {}

    def take(self, name: str) -> np.ndarray:
        self.used.add(name)
        return self.src[name]

    def copy(self, dst: str, src: str) -> None:
        self.out[dst] = self.take(src)

    def linear(self, dst: str, src: str, *, bias: bool = True) -> None:
        self.copy(f"{dst}.weight", f"{src}/weight")
        if bias:
            self.copy(f"{dst}.bias", f"{src}/bias")

    def norm(self, dst: str, src: str) -> None:
        self.copy(f"{dst}.weight", f"{src}/gamma")
        self.copy(f"{dst}.bias", f"{src}/beta")

    def split(self, dst: str, src: str, parts: tuple[str, ...]) -> None:
        """Unstack query/key/value; the key has no bias in Whisper, stored as zeros."""
        weights = np.split(self.take(f"{src}/weight"), len(parts), axis=0)
        biases = np.split(self.take(f"{src}/bias"), len(parts), axis=0)
        for part, weight, bias in zip(parts, weights, biases, strict=True):
            self.out[f"{dst}.{part}.weight"] = weight
            if part == "key":
                if np.any(bias != 0):
                    raise Ct2FormatError(f"{src}: key bias is not zero, not a Whisper model")
            else:
                self.out[f"{dst}.{part}.bias"] = bias

    def block_common(self, dst: str, src: str) -> None:
        self.split(f"{dst}.attn", f"{src}/self_attention/linear_0", ("query", "key", "value"))
        self.linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        self.norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        self.linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        self.linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        self.norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    def cross_attention(self, dst: str, src: str) -> None:
        self.linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        self.split(f"{dst}.cross_attn", f"{src}/attention/linear_1", ("key", "value"))
        self.linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        self.norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")


def _check_scalars(conv: _Converter) -> None:
    for name, expected in _EXPECTED_FLAGS.items():
        if int(conv.take(name)) != expected:
            raise Ct2FormatError(f"{name} = {int(conv.src[name])}, expected {expected}")
    for name in _IGNORED_SCALARS:
        conv.take(name)
    conv.take("encoder/num_heads")
    conv.take("decoder/num_heads")


def convert_to_whisper(model: Ct2Model) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Return (dims, state dict as numpy arrays); every source tensor must be used exactly once."""
    if model.spec_name != "WhisperSpec":
        raise Ct2FormatError(f"spec {model.spec_name!r}, expected 'WhisperSpec'")
    dims = whisper_dims(model)
    conv = _Converter(model)
    conv.linear("encoder.conv1", "encoder/conv1")
    conv.linear("encoder.conv2", "encoder/conv2")
    conv.copy("encoder.positional_embedding", "encoder/position_encodings/encodings")
    for i in range(dims["n_audio_layer"]):
        conv.block_common(f"encoder.blocks.{i}", f"encoder/layer_{i}")
    conv.norm("encoder.ln_post", "encoder/layer_norm")
    conv.copy("decoder.token_embedding.weight", "decoder/embeddings/weight")
    conv.copy("decoder.positional_embedding", "decoder/position_encodings/encodings")
    for i in range(dims["n_text_layer"]):
        conv.block_common(f"decoder.blocks.{i}", f"decoder/layer_{i}")
        conv.cross_attention(f"decoder.blocks.{i}", f"decoder/layer_{i}")
    conv.norm("decoder.ln", "decoder/layer_norm")
    _check_scalars(conv)
    left = sorted(set(model.variables) - conv.used)
    if left:
        raise Ct2FormatError(f"unconverted tensors: {', '.join(left[:5])}")
    # Whisper's logits are x @ token_embedding.T: the projection alias must point there.
    if model.aliases != {"decoder/projection/weight": "decoder/embeddings/weight"}:
        raise Ct2FormatError(f"unexpected aliases {model.aliases}")
    return dims, conv.out


def alignment_mask(heads: list[Any], n_layers: int, n_heads: int) -> np.ndarray:
    """Boolean (layers, heads) mask from config.json's [[layer, head], ...] list."""
    mask = np.zeros((n_layers, n_heads), dtype=bool)
    for layer, head in heads:
        mask[int(layer), int(head)] = True
    return mask
