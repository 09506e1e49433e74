"""Pairing cases built from the shared test recordings, with the truth established once (the .json files).

a  udhr-preamble-en      the UDHR preamble read aloud; the article is its text, one block per paragraph
b  udhr-reordered        the same recording cut at paragraph pauses and put back in another order
c  udhr-asides           FLEURS clips on other subjects spliced between paragraphs: audio only
d  udhr-extra-paragraph  the article gains a paragraph the recording never says: text only
e  ej-fra                a French self-introduction, one block per sentence
f  retold-en             an article retold in other words, reordered, with an aside and an untold
                         paragraph; synthetic speech (espeak-ng), so the truth is known by construction

Audio is decoded once with ffmpeg to 16 kHz mono and cut and joined at sample precision, so that the
truth of b and c follows from a's by arithmetic. Nothing here is copied into the repository: the
audio and articles of a case are written under a work folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RATE = 16_000
UDHR = "udhr-preamble-en"
# b: the pieces (named by their first block) in their new order; 9 and 10 are one piece (no pause).
REORDER = [0, 7, 5, 6, 2, 3, 4, 8, 1, 9]
# c: after which block each group of FLEURS clips is inserted.
ASIDES = {2: ["fleurs-en-000", "fleurs-en-001"], 5: ["fleurs-en-002"], 7: ["fleurs-en-003", "fleurs-en-004"]}
# d: a paragraph in the preamble's own style and subject that the reader never says.
EXTRA_AFTER = 4
# f: silence between the synthesized sections.
SECTION_GAP_S = 0.7
EXTRA_PARAGRAPH = (
    "Whereas the free exchange of ideas across borders, through the press and every other medium, "
    "strengthens the understanding between peoples and guards them against the return of war,"
)


@dataclass(frozen=True)
class Case:
    name: str
    audio: Path  # 16 kHz mono WAV
    article: Path
    language: str
    truth_starts: dict[int, float]  # article block index -> start in this audio
    audio_only: list[tuple[float, float]] = field(default_factory=list)
    expect_text_only: frozenset[int] = frozenset()


def load_truth(name: str) -> dict:
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


def decode(source: Path) -> np.ndarray:
    """16 kHz mono float32 samples of any recording ffmpeg reads."""
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(source), "-ac", "1", "-ar", str(RATE)]
    raw = subprocess.run([*cmd, "-f", "s16le", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768.0


def write_wav(path: Path, samples: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def build_cases(speech: Path, work: Path) -> list[Case]:
    """Write every case's audio and article under `work`; return the cases a to e."""
    work.mkdir(parents=True, exist_ok=True)
    truth = load_truth(UDHR)
    udhr = decode(speech / f"{UDHR}.mp3")
    starts = {b["index"]: b["start_s"] for b in truth["blocks"]}
    article = speech / f"{UDHR}.txt"
    return [
        Case("a udhr-preamble-en", write_wav(work / "a.wav", udhr), article, "en", starts),
        _reordered(udhr, truth, article, work),
        _asides(udhr, truth, article, speech, work),
        _extra_paragraph(work / "a.wav", starts, article, work),
        _ej_fra(speech, work),
        _retold(work),
    ]


def _pieces(truth: dict, total: int) -> dict[int, tuple[int, int]]:
    """Sample ranges of the pieces that start at a cut, keyed by their first block."""
    cuts = [(b["index"], b["cut_s"]) for b in truth["blocks"] if b["cut_s"] is not None]
    bounds = [int(round(c * RATE)) for _, c in cuts] + [total]
    return {idx: (bounds[i], bounds[i + 1]) for i, (idx, _) in enumerate(cuts)}


def _piece_blocks(truth: dict) -> dict[int, list[int]]:
    """Which blocks each piece holds (a block without a cut belongs to the piece before it)."""
    out: dict[int, list[int]] = {}
    current = 0
    for block in truth["blocks"]:
        if block["cut_s"] is not None:
            current = block["index"]
        out.setdefault(current, []).append(block["index"])
    return out


def _reordered(udhr: np.ndarray, truth: dict, article: Path, work: Path) -> Case:
    pieces, members = _pieces(truth, len(udhr)), _piece_blocks(truth)
    order = REORDER
    assert sorted(order) == sorted(pieces), "REORDER must name every piece once"
    starts: dict[int, float] = {}
    chunks: list[np.ndarray] = []
    offset = 0
    for first in order:
        a, b = pieces[first]
        for idx in members[first]:
            starts[idx] = round(offset / RATE + _start(truth, idx) - a / RATE, 3)
        chunks.append(udhr[a:b])
        offset += b - a
    audio = write_wav(work / "b.wav", np.concatenate(chunks))
    return Case("b udhr-reordered", audio, article, "en", starts)


def _start(truth: dict, idx: int) -> float:
    return next(b["start_s"] for b in truth["blocks"] if b["index"] == idx)


def _asides(udhr: np.ndarray, truth: dict, article: Path, speech: Path, work: Path) -> Case:
    pieces, members = _pieces(truth, len(udhr)), _piece_blocks(truth)
    starts: dict[int, float] = {}
    spans: list[tuple[float, float]] = []
    chunks: list[np.ndarray] = []
    offset = 0
    for first in sorted(pieces):
        a, b = pieces[first]
        for idx in members[first]:
            starts[idx] = round(offset / RATE + _start(truth, idx) - a / RATE, 3)
        chunks.append(udhr[a:b])
        offset += b - a
        if members[first][-1] in ASIDES:
            inserted = np.concatenate([decode(speech / f"{clip}.ogg") for clip in ASIDES[members[first][-1]]])
            spans.append((round(offset / RATE, 3), round((offset + len(inserted)) / RATE, 3)))
            chunks.append(inserted)
            offset += len(inserted)
    audio = write_wav(work / "c.wav", np.concatenate(chunks))
    return Case("c udhr-asides", audio, article, "en", starts, audio_only=spans)


def _extra_paragraph(audio: Path, starts: dict[int, float], article: Path, work: Path) -> Case:
    paragraphs = [p for p in re.split(r"\n\s*\n", article.read_text(encoding="utf-8")) if p.strip()]
    paragraphs.insert(EXTRA_AFTER + 1, EXTRA_PARAGRAPH)
    path = work / "d-article.txt"
    path.write_text("\n\n".join(p.strip() for p in paragraphs) + "\n", encoding="utf-8")
    shifted = {(i if i <= EXTRA_AFTER else i + 1): s for i, s in starts.items()}
    extra = frozenset({EXTRA_AFTER + 1})
    return Case("d udhr-extra-paragraph", audio, path, "en", shifted, expect_text_only=extra)


def _ej_fra(speech: Path, work: Path) -> Case:
    truth = load_truth("ej-fra")
    text = (speech / "ej-fra.txt").read_text(encoding="utf-8")
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    path = work / "e-article.md"
    path.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    audio = write_wav(work / "e.wav", decode(speech / "ej-fra.m4a"))
    starts = {b["index"]: b["start_s"] for b in truth["blocks"]}
    return Case("e ej-fra", audio, path, "fr", starts)


def _retold(work: Path) -> Case:
    spec = load_truth("retold-en")
    article = work / "f-article.md"
    article.write_text("\n\n".join(spec["article"]) + "\n", encoding="utf-8")
    gap = np.zeros(int(SECTION_GAP_S * RATE), dtype=np.float32)
    chunks: list[np.ndarray] = []
    starts: dict[int, float] = {}
    asides: list[tuple[float, float]] = []
    offset = 0
    for i, section in enumerate(spec["episode"]):
        voice = _speak(section["text"], work / f"f-{i}.wav")
        if section["block"] is None:
            asides.append((round(offset / RATE, 3), round((offset + len(voice)) / RATE, 3)))
        else:
            starts[section["block"]] = round((offset + _leading_silence(voice)) / RATE, 3)
        chunks.extend([voice, gap])
        offset += len(voice) + len(gap)
    audio = write_wav(work / "f.wav", np.concatenate(chunks))
    untold = frozenset(range(len(spec["article"]))) - frozenset(starts)
    return Case("f retold-en", audio, article, "en", starts, audio_only=asides, expect_text_only=untold)


def _speak(text: str, path: Path) -> np.ndarray:
    cmd = ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path), text]
    subprocess.run(cmd, check=True, capture_output=True)
    return decode(path)


def frame_levels(samples: np.ndarray, frame: int = 160) -> np.ndarray:
    """The level (dBFS) of each whole frame of the samples (10 ms at 16 kHz)."""
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    return 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)


def _leading_silence(samples: np.ndarray, *, frame: int = 160, floor_dbfs: float = -40.0) -> int:
    """Samples before the first 10 ms frame louder than floor_dbfs."""
    loud = np.flatnonzero(frame_levels(samples, frame) > floor_dbfs)
    return int(loud[0]) * frame if loud.size else 0


def audio_key(path: Path, engine: str) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{digest[:16]}-{engine}"
