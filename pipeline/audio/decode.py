"""Reading recordings: ffprobe for a quick look, ffmpeg to decode, numpy from there on.

The recording is decoded as a stream of 16-bit PCM blocks (what pydub has ffmpeg deliver, without
pydub's whole-file buffers: it holds ffmpeg's output three times over, 1.8 GB at the peak for an
hour of 44.1 kHz stereo) and each block is mixed down into the one float32 array the stage keeps,
then dropped. Callers get float32 arrays shaped (channels, samples), scaled to [-1, 1). The
published MP3 is written the same way, streamed into ffmpeg (audio/encode.py).
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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
        value: float = self.samples.shape[1] / self.rate  # numpy shapes divide to Any
        return value


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
    value: dict[str, Any] = json.loads(proc.stdout or b"{}")  # ffprobe's JSON
    return value


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


# The decoded PCM is read this many bytes at a time: above glibc's largest mmap threshold (32 MB),
# so each block is a mapping of its own, given back to the system when it is dropped.
DECODE_BLOCK_BYTES = 64 << 20
PCM16_SCALE = np.float32(1.0 / 32768)


def _decode_blocks(info: AudioInfo) -> list[np.ndarray]:
    """The recording as (n, channels) int16 blocks at its own rate, from one ffmpeg process."""
    args = ["-map", "0:a:0", "-vn", "-ac", str(info.channels), "-ar", str(info.sample_rate_hz)]
    args += ["-f", "s16le", "-acodec", "pcm_s16le"]
    try:
        blocks = list(_ffmpeg_frames(info.path, args, np.dtype("<i2"), info.channels, DECODE_BLOCK_BYTES))
    except _FfmpegFailed as exc:
        why = exc.why.splitlines()[-1][:160]
        message = f"cannot decode {info.path.name}: ffmpeg failed ({why}); export the recording again"
        raise AudioDecodeError(message) from exc
    if not blocks:
        raise AudioDecodeError(
            f"cannot decode {info.path.name}: ffmpeg failed (no audio samples); export the recording again"
        )
    return blocks


def _mix(blocks: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """weights @ frames of the (n, channels) blocks, as float32 (out_channels, n). Each block is
    taken out of the list once mixed (the list ends empty): the input is let go as the output grows."""
    out = np.empty((weights.shape[0], sum(b.shape[0] for b in blocks)), dtype=np.float32)
    at = 0
    blocks.reverse()
    while blocks:
        raw = blocks.pop()
        for start in range(0, raw.shape[0], CONVERT_CHUNK):
            block = raw[start : start + CONVERT_CHUNK]
            for o, row in enumerate(weights):
                _weighted_sum(block, row, out[o, at : at + block.shape[0]])
            at += block.shape[0]
        del raw
    return out


def _weighted_sum(block: np.ndarray, row: np.ndarray, out: np.ndarray) -> None:
    """out = sum of row[i] * block[:, i]; twin weights (a stereo mean) take one add and one scale."""
    used = np.flatnonzero(row)
    if used.size == 2 and row[used[0]] == row[used[1]]:
        np.add(block[:, used[0]], block[:, used[1]], out=out, dtype=np.float32)
        out *= np.float32(row[used[0]])
        return
    np.multiply(block[:, used[0]], np.float32(row[used[0]]), out=out, dtype=np.float32)
    for i in used[1:]:
        out += block[:, i].astype(np.float32) * np.float32(row[i])


def _stereo_energies(blocks: list[np.ndarray]) -> tuple[float, float, float]:
    """Energy of the left channel, the right channel and their difference, over (n, 2) blocks."""
    left = right = diff = 0.0
    for raw in blocks:
        for start in range(0, raw.shape[0], CONVERT_CHUNK):
            block = raw[start : start + CONVERT_CHUNK].astype(np.float32)
            d = block[:, 0] - block[:, 1]
            left += float(np.dot(block[:, 0], block[:, 0]))
            right += float(np.dot(block[:, 1], block[:, 1]))
            diff += float(np.dot(d, d))
    return left, right, diff


def stereo_weights(left: float, right: float, diff: float) -> tuple[np.ndarray, str]:
    """How to mix two channels: twins -> their mean; one dead channel -> the other; else both."""
    total = left + right
    if total <= 0.0 or diff <= total * 10 ** (DUAL_MONO_DB / 10):
        return np.array([[0.5, 0.5]]), "dual-mono"
    if min(left, right) <= max(left, right) * 10 ** (DEAD_CHANNEL_DB / 10):
        log.warning("one channel is silent: publishing the other one as mono")
        return (np.array([[1.0, 0.0]]) if left > right else np.array([[0.0, 1.0]])), "one-live-channel"
    return np.eye(2), "stereo"


def channels_to_publish(blocks: list[np.ndarray], scale: np.float32) -> tuple[np.ndarray, str]:
    """One or two float32 channels from (n, channels) integer frames, in blocks (consumed): 5.1
    folds to stereo, other layouts of 3+ channels to mono; twin stereo becomes mono."""
    channels = blocks[0].shape[1]
    if channels == 1:
        return _mix(blocks, np.array([[scale]])), "mono"
    if channels == 2:
        weights, layout = stereo_weights(*_stereo_energies(blocks))
        return _mix(blocks, weights * scale), layout
    if channels != 6:
        return _mix(blocks, np.full((1, channels), scale / channels)), "multichannel"
    stereo = _mix(blocks, SURROUND_TO_STEREO * scale)
    weights, layout = stereo_weights(*_stereo_energies([stereo.T]))
    if layout == "stereo":
        return stereo, "surround"
    return _mix([stereo.T], weights), f"surround, {layout}"


def decode_audio(info: AudioInfo) -> DecodedAudio:
    """Decode the whole recording once (the original is only read)."""
    if info.channels < 1 or info.sample_rate_hz < 1:
        raise AudioDecodeError(
            f"cannot decode {info.path.name}: ffprobe finds no sample rate or channel count; export the recording again"
        )
    blocks = _decode_blocks(info)
    x, layout = channels_to_publish(blocks, PCM16_SCALE)
    return DecodedAudio(samples=x, rate=info.sample_rate_hz, input_channels=info.channels, layout=layout)


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling of (channels, n) float32 to `target` Hz (a no-op at the same rate)."""
    if rate == target:
        return x
    from math import gcd

    g = gcd(rate, target)
    rows = [signal.resample_poly(row, target // g, rate // g).astype(np.float32) for row in x]
    return np.stack(rows) if len(rows) > 1 else rows[0][np.newaxis, :]


def _widen_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe (Linux), so ffmpeg decodes ahead instead of waiting on each 64 KiB."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass


class _FfmpegFailed(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _ffmpeg_frames(
    path: Path, args: list[str], dtype: np.dtype, channels: int, block_bytes: int
) -> Iterator[np.ndarray]:
    """ffmpeg's raw output for `path` (output options `args`), as (n, channels) blocks of about
    `block_bytes`; a cut-off last frame is dropped. _FfmpegFailed with ffmpeg's errors if it fails."""
    cmd = [FFMPEG, "-v", "error", "-nostdin", "-i", str(path), *args, "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    _widen_pipe(proc.stdout.fileno())
    frame_bytes = dtype.itemsize * channels
    try:
        # A read returns the whole size asked for until the end of the output: only the last may be short.
        while data := proc.stdout.read(max(1, block_bytes // frame_bytes) * frame_bytes):
            usable = len(data) // frame_bytes * frame_bytes
            if usable:
                yield np.frombuffer(data[:usable], dtype=dtype).reshape(-1, channels)
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if proc.wait() != 0:
            raise _FfmpegFailed(err or f"status {proc.returncode}")


def stream_decode(path: Path, *, rate: int, channels: int, chunk_samples: int) -> Iterator[np.ndarray]:
    """Decode a file of our own (the published MP3) with ffmpeg, yielding float32 (channels, n) chunks."""
    args = ["-f", "f32le", "-ac", str(channels), "-ar", str(rate)]
    try:
        for block in _ffmpeg_frames(path, args, np.dtype(np.float32), channels, chunk_samples * 4 * channels):
            yield block.T
    except _FfmpegFailed as exc:
        raise AudioDecodeError(f"cannot decode {path.name}: {exc.why[:200]}") from exc
