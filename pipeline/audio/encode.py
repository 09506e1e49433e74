"""Writing audio: the published MP3 (ffmpeg/libmp3lame, fed 16-bit blocks through a pipe), its
ID3v2.4 tags (mutagen), and the 16 kHz speech-model input (wave).

The MP3 used to be written by pydub's AudioSegment.export, which needs the whole episode as one
16-bit buffer (318 MB for an hour at 44.1 kHz, held while the speech model starts beside the
encoder) and copies it to a WAV file in the system's temporary folder before ffmpeg reads it. The
same ffmpeg command now reads the samples from a pipe, a block at a time: the same MP3 frames
(tests/audio/test_audio.py compares them with pydub's), nothing written outside the episode's folder.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import subprocess
import wave
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from mutagen.id3 import APIC, COMM, ID3, TALB, TDRC, TIT2, TLAN, TPE1, TRCK, ID3NoHeaderError
from scipy import signal

from pipeline.audio.decode import FFMPEG
from pipeline.errors import AudioEncodeError, ConfigError
from pipeline.store import atomic_path

log = logging.getLogger(__name__)

SPEECH_RATE_HZ = 16000
# Input samples of context around each resampled chunk (the resampling filter reaches ~30).
SPEECH_CONTEXT = 256
PCM_CHUNK = 1 << 20
# Samples a channel converted to 16 bits and piped to the MP3 encoder at a time (512 KB a channel).
ENCODE_BLOCK = 1 << 18
# libmp3lame's quality/speed trade-off (0 best, 9 fastest). On 15 minutes of speech at 96 kbit/s
# here, 7 encoded 2.6x faster than 5 and 5x faster than 2, with less true-peak overshoot
# (+0.2 dB against +0.4 and +0.5 over the limiter's level); speech at these rates sounds the same.
LAME_QUALITY = 7

# ISO 639-1 -> ISO 639-2/T, which is what ID3v2.4's TLAN holds.
ISO639_2 = {
    "ar": "ara", "bg": "bul", "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu",
    "el": "ell", "en": "eng", "eo": "epo", "es": "spa", "et": "est", "eu": "eus", "fa": "fas",
    "fi": "fin", "fr": "fra", "ga": "gle", "gl": "glg", "he": "heb", "hi": "hin", "hr": "hrv",
    "hu": "hun", "id": "ind", "is": "isl", "it": "ita", "ja": "jpn", "ko": "kor", "lt": "lit",
    "lv": "lav", "ms": "msa", "nb": "nob", "nl": "nld", "nn": "nno", "no": "nor", "oc": "oci",
    "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv", "sr": "srp",
    "sv": "swe", "sw": "swa", "th": "tha", "tr": "tur", "uk": "ukr", "vi": "vie", "zh": "zho",
}  # fmt: skip


@dataclass(frozen=True)
class Id3Tags:
    """What the published MP3 says about itself (ID3v2.4)."""

    title: str
    artist: str
    album: str  # the show's title
    date: str | None  # "2026-03-01"
    track: int | None  # episode number
    comment: str | None  # description
    language: str | None  # ISO 639 code, e.g. "fr"; written as ISO 639-2 ("fra") in TLAN
    cover: Path | None  # JPEG/PNG cover art


def iso639_2(language: str) -> str:
    """'fr' or 'fr-CA' -> 'fra'; a three-letter code is kept; anything else -> 'und'."""
    code = language.strip().lower().replace("_", "-").split("-")[0]
    if len(code) == 3 and code.isalpha():
        return code
    return ISO639_2.get(code, "und")


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """float32 (channels, n) -> interleaved int16 (n, channels), rounded and clipped, in chunks."""
    out = np.empty((x.shape[1], x.shape[0]), dtype=np.int16)
    for start in range(0, x.shape[1], PCM_CHUNK):
        block = x[:, start : start + PCM_CHUNK] * np.float32(32768.0)
        np.clip(block, -32768.0, 32767.0, out=block)
        out[start : start + block.shape[1]] = np.rint(block).T
    return out


def mp3_command(rate: int, channels: int, target: Path, *, bitrate_kbps: int) -> list[str]:
    """ffmpeg reading interleaved 16-bit samples on its standard input, writing an MP3 at `target`."""
    return [
        FFMPEG, "-v", "error", "-y", "-f", "s16le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0",
        "-acodec", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-compression_level", str(LAME_QUALITY),
        "-f", "mp3", str(target),
    ]  # fmt: skip


def encode_mp3(x: np.ndarray, rate: int, target: Path, *, bitrate_kbps: int) -> None:
    """Encode float32 (channels, n) to an MP3 at `target` (overwritten) with libmp3lame, streamed:
    at most ENCODE_BLOCK samples are converted to 16 bits at a time."""
    cmd = mp3_command(rate, x.shape[0], target, bitrate_kbps=bitrate_kbps)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        for start in range(0, x.shape[1], ENCODE_BLOCK):
            proc.stdin.write(to_pcm16(x[:, start : start + ENCODE_BLOCK]).data.cast("B"))
        proc.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg stopped early: its own message says why
    finally:
        if not proc.stdin.closed:  # ffmpeg failed, or an exception of ours mid-stream
            proc.kill()
            with contextlib.suppress(OSError):
                proc.stdin.close()
        errors = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        status = proc.wait()
    if status != 0:
        raise AudioEncodeError(
            f"cannot write {target.name}: ffmpeg's MP3 encoder failed ({errors[-200:] or status}); "
            "check that ffmpeg has libmp3lame (Debian's ffmpeg does)"
        )


def write_speech_wav(x: np.ndarray, rate: int, target: Path) -> None:
    """16 kHz mono 16-bit PCM of `x`, written atomically: the speech model's input.

    Resampled a chunk at a time; each chunk carries whole resampling periods of context on both
    sides, so the joins are sample-for-sample what one call over the whole audio would give.
    """
    g = math.gcd(rate, SPEECH_RATE_HZ)
    up, down = SPEECH_RATE_HZ // g, rate // g
    context = down * math.ceil(SPEECH_CONTEXT / down)
    step = down * max(1, PCM_CHUNK // down)
    n = x.shape[1]
    with atomic_path(target) as tmp, wave.open(str(tmp), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SPEECH_RATE_HZ)
            for start in range(0, n, step):
                lo, hi = max(0, start - context), min(n, start + step + context)
                mono = x[:, lo:hi].mean(axis=0, dtype=np.float32)
                resampled = signal.resample_poly(mono, up, down).astype(np.float32)
                first = (start - lo) * up // down
                count = -(-(min(n, start + step) - start) * up // down)
                pcm = to_pcm16(resampled[np.newaxis, first : first + count])
                out.writeframes(pcm.data.cast("B"))


def _cover_frame(cover: Path) -> APIC:
    if not cover.is_file():
        raise ConfigError(f"cover image {cover} not found: fix 'cover' in diptych.toml or the article's front matter")
    data = cover.read_bytes()
    if data.startswith(b"\xff\xd8\xff"):
        mime = "image/jpeg"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        mime = "image/png"
    else:
        raise ConfigError(f"cover image {cover.name} is neither JPEG nor PNG: convert it to one of those")
    return APIC(encoding=3, mime=mime, type=3, desc="Cover", data=data)


def _iso_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise ConfigError(f"episode date {value!r} is not a date like 2026-03-01: fix it in the front matter") from exc


def tag_file(mp3: Path, tags: Id3Tags) -> None:
    """Replace the ID3 tag of `mp3` in place (audio frames untouched), as ID3v2.4."""
    try:
        id3 = ID3(str(mp3))
    except ID3NoHeaderError:
        id3 = ID3()
    id3.delete(str(mp3))
    id3.clear()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TPE1(encoding=3, text=tags.artist))
    id3.add(TALB(encoding=3, text=tags.album))
    if tags.date:
        id3.add(TDRC(encoding=3, text=_iso_date(tags.date)))
    if tags.track is not None:
        id3.add(TRCK(encoding=3, text=str(tags.track)))
    lang = iso639_2(tags.language) if tags.language else "und"
    if tags.language:
        id3.add(TLAN(encoding=3, text=lang))
    if tags.comment:
        id3.add(COMM(encoding=3, lang=lang, desc="", text=tags.comment))
    if tags.cover is not None:
        id3.add(_cover_frame(tags.cover))
    id3.save(str(mp3), v2_version=4)


def retag_atomic(mp3: Path, tags: Id3Tags) -> None:
    """Re-tag a published MP3 through a copy, so readers never see a half-written file."""
    with atomic_path(mp3) as tmp:
        shutil.copyfile(mp3, tmp)
        tag_file(tmp, tags)
