"""Reading recordings: ffprobe for a quick look, pydub (ffmpeg) to decode, numpy from there on.

pydub's AudioSegment stays inside this module and audio_encode.py: callers get float32 arrays
shaped (channels, samples), scaled to [-1, 1).
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError
from scipy import signal

from pipeline.errors import AudioDecodeError

log = logging.getLogger(__name__)

FFPROBE = "ffprobe"
FFMPEG = "ffmpeg"
# Rows of samples converted at a time, so no full-length temporary is made.
CONVERT_CHUNK = 1 << 20
# Two channels whose difference is this far below their level are one mono signal twice.
DUAL_MONO_DB = -40.0
# A channel this far below the other is taken as dead (a microphone plugged into one side).
DEAD_CHANNEL_DB = -45.0
# ITU-R BS.775 fold-down of 5.1 (FL FR FC LFE SL SR) to stereo; the LFE channel is dropped.
SURROUND_TO_STEREO = np.array(
    [[1.0, 0.0, 0.7071, 0.0, 0.7071, 0.0], [0.0, 1.0, 0.7071, 0.0, 0.0, 0.7071]], dtype=np.float32
)


@dataclass(frozen=True)
class AudioInfo:
    """What ffprobe says about a recording, before it is decoded."""

    path: Path
    duration_s: float
    channels: int
    sample_rate_hz: int
    codec: str
    bits_per_sample: int | None
    container: str


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded recording, down-mixed to one or two channels, at its own sample rate."""

    samples: np.ndarray  # float32, (channels, n)
    rate: int
    input_channels: int
    layout: str  # "mono", "stereo", "dual-mono", "one-live-channel", "surround", "multichannel"

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.rate


def _ffprobe_json(path: Path) -> dict:
    cmd = [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip().splitlines()
        detail = why[-1] if why else f"ffprobe exit {proc.returncode}"
        raise AudioDecodeError(
            f"cannot read {path.name}: not an audio file ffmpeg understands ({detail}); "
            "export it again as MP3, WAV, M4A or FLAC"
        )
    return json.loads(proc.stdout or b"{}")


def probe_audio(path: Path) -> AudioInfo:
    """Duration, channels, rate and codec of the first audio stream; AudioDecodeError if unreadable."""
    if not path.is_file():
        raise AudioDecodeError(f"cannot read {path.name}: no such file ({path})")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"cannot read {path.name}: the file is empty (0 bytes); copy the recording again")
    data = _ffprobe_json(path)
    streams = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise AudioDecodeError(
            f"cannot read {path.name}: it holds no audio stream; drop the recording itself (MP3, WAV, M4A...)"
        )
    stream, fmt = streams[0], data.get("format", {})
    duration = stream.get("duration") or fmt.get("duration")
    bits = int(stream.get("bits_per_raw_sample") or stream.get("bits_per_sample") or 0) or None
    return AudioInfo(
        path=path,
        duration_s=float(duration) if duration not in (None, "N/A") else 0.0,
        channels=int(stream.get("channels") or 0),
        sample_rate_hz=int(stream.get("sample_rate") or 0),
        codec=str(stream.get("codec_name", "unknown")),
        bits_per_sample=bits,
        container=str(fmt.get("format_name", "unknown")),
    )


def _load_segment(info: AudioInfo) -> AudioSegment:
    """Decode with pydub. 16-bit WAV is read directly; anything else goes through ffmpeg as 16-bit PCM.

    pydub widens 24-bit PCM to 32-bit one sample at a time in Python (minutes for an hour), and reads
    WAV files itself even when they hold floats; so every other file is handed to ffmpeg under a
    name without extension, with its decoder named, which makes ffmpeg deliver 16-bit PCM.
    """
    path = info.path
    if path.suffix.lower() == ".wav" and info.codec in ("pcm_s16le", "pcm_u8"):
        return AudioSegment.from_file(str(path))
    with tempfile.TemporaryDirectory(prefix="diptych-decode-") as tmp:
        link = Path(tmp) / "source"
        link.symlink_to(path.resolve())
        return AudioSegment.from_file(str(link), codec=info.codec)


def _segment_to_float(seg: AudioSegment) -> np.ndarray:
    """pydub's interleaved integer PCM as float32 (channels, n), converted in chunks."""
    width, channels = seg.sample_width, seg.channels
    dtype = {1: np.int8, 2: np.int16, 4: np.int32}[width]
    raw = np.frombuffer(seg.raw_data, dtype=dtype).reshape(-1, channels)
    scale = np.float32(1.0 / (1 << (8 * width - 1)))
    out = np.empty((channels, raw.shape[0]), dtype=np.float32)
    for start in range(0, raw.shape[0], CONVERT_CHUNK):
        block = raw[start : start + CONVERT_CHUNK]
        np.multiply(block.T, scale, out=out[:, start : start + block.shape[0]], dtype=np.float32)
    return out


def _channel_energies(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Energy of each channel, and of the difference of the first two channels."""
    energy = np.zeros(x.shape[0])
    diff = 0.0
    for start in range(0, x.shape[1], CONVERT_CHUNK):
        block = x[:, start : start + CONVERT_CHUNK].astype(np.float64)
        energy += np.einsum("ij,ij->i", block, block)
        if x.shape[0] == 2:
            d = block[0] - block[1]
            diff += float(d @ d)
    return energy, diff


def _mean_rows(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """weights @ x, chunk by chunk (weights: (out_channels, in_channels))."""
    out = np.empty((weights.shape[0], x.shape[1]), dtype=np.float32)
    for start in range(0, x.shape[1], CONVERT_CHUNK):
        out[:, start : start + CONVERT_CHUNK] = weights @ x[:, start : start + CONVERT_CHUNK]
    return out


def downmix(x: np.ndarray) -> tuple[np.ndarray, str]:
    """One or two channels: 5.1 folds to stereo, other layouts to mono; twin stereo becomes mono."""
    channels = x.shape[0]
    if channels == 1:
        return x, "mono"
    layout = "stereo"
    if channels == 6:
        x, layout = _mean_rows(x, SURROUND_TO_STEREO), "surround"
    elif channels > 2:
        return _mean_rows(x, np.full((1, channels), 1.0 / channels, dtype=np.float32)), "multichannel"
    energy, diff = _channel_energies(x)
    total = float(energy.sum())
    if total <= 0.0:
        return x[:1].copy(), "mono"
    if diff <= total * 10 ** (DUAL_MONO_DB / 10):
        return _mean_rows(x, np.array([[0.5, 0.5]], dtype=np.float32)), "dual-mono"
    quiet, loud = int(np.argmin(energy)), int(np.argmax(energy))
    if energy[quiet] <= energy[loud] * 10 ** (DEAD_CHANNEL_DB / 10):
        log.warning("one channel is silent: publishing the other one as mono")
        return x[loud : loud + 1].copy(), "one-live-channel"
    return x, layout


def decode_audio(info: AudioInfo) -> DecodedAudio:
    """Decode the whole recording once (the original is only read)."""
    try:
        seg = _load_segment(info)
    except (CouldntDecodeError, OSError, ValueError, IndexError, KeyError) as exc:
        why = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise AudioDecodeError(
            f"cannot decode {info.path.name}: ffmpeg failed ({why[:160]}); export the recording again"
        ) from exc
    rate, input_channels = seg.frame_rate, seg.channels
    x = _segment_to_float(seg)
    del seg
    x, layout = downmix(x)
    return DecodedAudio(samples=x, rate=rate, input_channels=input_channels, layout=layout)


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling of (channels, n) float32 to `target` Hz (a no-op at the same rate)."""
    if rate == target:
        return x
    from math import gcd

    g = gcd(rate, target)
    rows = [signal.resample_poly(row, target // g, rate // g).astype(np.float32) for row in x]
    return np.stack(rows) if len(rows) > 1 else rows[0][np.newaxis, :]


def stream_decode(path: Path, *, rate: int, channels: int, chunk_samples: int) -> Iterator[np.ndarray]:
    """Decode a file of our own (the published MP3) with ffmpeg, yielding float32 (channels, n) chunks."""
    cmd = [FFMPEG, "-v", "error", "-nostdin", "-i", str(path), "-f", "f32le", "-ac", str(channels)]
    cmd += ["-ar", str(rate), "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    frame_bytes = 4 * channels
    try:
        while True:
            data = proc.stdout.read(chunk_samples * frame_bytes)
            if not data:
                break
            usable = len(data) // frame_bytes * frame_bytes
            yield np.frombuffer(data[:usable], dtype=np.float32).reshape(-1, channels).T
    finally:
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr else b""
        if proc.wait() != 0:
            raise AudioDecodeError(f"cannot decode {path.name}: {err.decode(errors='replace').strip()[:200]}")
