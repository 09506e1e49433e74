"""Word-precision cases, built from the shared recordings (and espeak-ng for the added headings and
retellings), with the truth following from the construction:

g  aside-start      a 4.3 s FLEURS clip (another speaker, another subject) said right before the UDHR
                    reading starts, 0.2 s apart: Whisper puts both in its first segment
h  headings-read    the title, said by espeak-ng, then the UDHR recording, which says "Preamble" (a
                    heading of the article) before its first paragraph
i  subheading       case h's recording, with "The General Assembly," a sub-heading of the article:
                    the reader says "Proclaims…" 0.3 s after it (and the title, said first, is
                    not in this article: audio only)
j  read-retold      the UDHR with 4 of its 10 paragraphs (39 % of its words) retold in other words by
                    espeak-ng instead of read
k  subheading-fr    ej-fra with a sub-heading ("Mon parcours.", espeak-ng, French) spliced in 0.1 s
                    before the sentence it heads; every sentence is read (WER on read passages:
                    Whisper base mishears a few of its words)
l  aside-mid-fr     four FLEURS French clips (four speakers) read as an article of three paragraphs,
                    with a fifth clip, on another subject, said between the two sentences of the
                    first: an aside inside a paragraph, next to words Whisper base mishears. The
                    article says "dix-huit" where the reader says "dix-sept" (an article changed
                    after the recording): where Whisper hears the number, the correction must
                    keep what was said (Whisper base drops it here: "…chiant ainsi.")

Every start in the truth is the onset of a piece (first 10 ms frame above -40 dBFS; for the FLEURS
clips of case l, each levelled to a -6 dBFS peak, the first and last of 150 ms above it, past the
clicks some have after the voice) plus its offset in the built audio, or a start of
../udhr-preamble-en.json / ej-fra.json moved by the same offset.
`read` and `retold` give each passage's time range and its reference text, for the WER columns.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cases import (
    RATE,
    UDHR,
    Case,
    _leading_silence,
    _piece_blocks,
    _pieces,
    decode,
    frame_levels,
    load_truth,
    write_wav,
)

ASIDE_CLIP = "fleurs-en-004"
ASIDE_GAP_S = 0.2
TITLE = "Universal Declaration of Human Rights"
SUBHEADING = 9  # "The General Assembly," in the UDHR text: case i makes it a sub-heading
SUBHEADING_FR = "Mon parcours"
SUBHEADING_BEFORE = 3  # ej-fra sentence index it heads ("J'ai fait une bonne partie…")
SUBHEADING_CUT_S = 7.8  # in the pause before that sentence (its onset is 7.95 s)
# Case l: each clip's text as the article writes it, in the order said; None: the aside.
MID_FR = [
    ("fleurs-fr-000", "L’accident a eu lieu en terrain montagneux, et il semblerait que cela ait été causé par "
     "un incendie malveillant."),
    ("fleurs-fr-003", None),
    ("fleurs-fr-004", "Le même mois, un autre avion de ligne a fait une sortie de piste à Mashhad et a heurté "
     "un mur, tuant ainsi dix-huit personnes."),
    ("fleurs-fr-001", "Nous sommes d’accord avec la déclaration de l’USOC, le Comité olympique des États-Unis, "
     "selon laquelle les intérêts de nos athlètes et de nos clubs, ainsi que de leur sport, pourraient être "
     "mieux servis. Cela peut être fait en allant de l’avant et en procédant plutôt à des changements "
     "significatifs au sein de notre organisation qu’à la révocation d’accréditation."),
    ("fleurs-fr-002", "Il a ajouté qu’« on ne devrait cependant pas leur demander d’assumer des obligations qui "
     "dépassent leur stade de développement, leur responsabilité et leurs capacités »."),
]
MID_FR_GAP_S = 0.45
RETOLD = {
    2: "Then the text remembers the horrors of the past. Ignoring human rights led to cruel acts that "
    "shocked everyone, and what ordinary people want most is a world where they can speak and "
    "believe freely and live without fear or poverty.",
    4: "It also says that good relations between countries must be encouraged.",
    6: "The member countries have promised to work with the United Nations, so that rights and basic "
    "freedoms are respected everywhere.",
    7: "And to keep that promise, everyone needs to share the same idea of what these rights and freedoms are.",
}


@dataclass(frozen=True)
class Passage:
    start_s: float
    end_s: float
    text: str  # what is said there (the reference for WER)


@dataclass(frozen=True)
class WordCase(Case):
    read: list[Passage] = field(default_factory=list)
    retold: list[Passage] = field(default_factory=list)
    heading_starts: dict[int, float] = field(default_factory=dict)  # spoken headings' truth


def build_word_cases(speech: Path, work: Path) -> list[WordCase]:
    work.mkdir(parents=True, exist_ok=True)
    truth = load_truth(UDHR)
    udhr = decode(speech / f"{UDHR}.mp3")
    paragraphs = _paragraphs(speech / f"{UDHR}.txt")
    headings = _headings_read(udhr, truth, paragraphs, work)
    return [
        _aside_start(udhr, truth, paragraphs, speech, work),
        headings,
        _subheading(truth, paragraphs, work, headings),
        _read_retold(udhr, truth, paragraphs, work),
        _subheading_fr(speech, work),
        _aside_mid_fr(speech, work),
    ]


def _paragraphs(path: Path) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if p.strip()]


def _trim(samples: np.ndarray) -> np.ndarray:
    """The samples from the first loud frame to the last (voice only)."""
    start = _leading_silence(samples)
    end = len(samples) - _leading_silence(samples[::-1])
    return samples[start:end]


def _speak(text: str, path: Path, voice: str) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(path), text], check=True, capture_output=True)
    return _trim(decode(path))


def _udhr_starts(truth: dict, offset_s: float, *, skip: int = 0) -> dict[int, float]:
    return {b["index"] - skip: round(b["start_s"] + offset_s, 3) for b in truth["blocks"] if b["index"] >= skip}


def _aside_start(udhr: np.ndarray, truth: dict, paragraphs: list[str], speech: Path, work: Path) -> WordCase:
    aside = _trim(decode(speech / f"{ASIDE_CLIP}.ogg"))
    first = truth["blocks"][1]["start_s"]  # "Whereas recognition…": the reading starts there
    cut = int(round((first - ASIDE_GAP_S) * RATE))
    audio = np.concatenate([aside, udhr[cut:]])
    offset_s = len(aside) / RATE - cut / RATE
    article = work / "g-article.md"
    article.write_text("\n\n".join(paragraphs[1:]) + "\n", encoding="utf-8")
    starts = _udhr_starts(truth, offset_s, skip=1)
    spans = [(0.0, round(len(aside) / RATE, 3))]
    return WordCase("g aside-start", write_wav(work / "g.wav", audio), article, "en", starts, audio_only=spans)


def _headings_read(udhr: np.ndarray, truth: dict, paragraphs: list[str], work: Path) -> WordCase:
    title = _speak(f"{TITLE}.", work / "h-title.wav", "en-us")
    gap = np.zeros(int(0.4 * RATE), dtype=np.float32)
    audio = np.concatenate([title, gap, udhr])
    offset_s = (len(title) + len(gap)) / RATE
    article = work / "h-article.md"
    body = "\n\n".join(paragraphs[1:])
    article.write_text(f"# {TITLE}\n\n## {paragraphs[0]}\n\n{body}\n", encoding="utf-8")
    starts = {i + 1: s for i, s in _udhr_starts(truth, offset_s).items() if i >= 1}
    headings = {0: 0.0, 1: round(truth["blocks"][0]["start_s"] + offset_s, 3)}
    return WordCase("h headings-read", write_wav(work / "h.wav", audio), article, "en", starts, heading_starts=headings)


def _subheading(truth: dict, paragraphs: list[str], work: Path, heard: WordCase) -> WordCase:
    """Case h's recording; the article makes "The General Assembly," a sub-heading: the reader says
    "Proclaims…" 0.3 s after it. The title said first is not in this article: it is audio only."""
    article = work / "i-article.md"
    blocks = [f"## {p.rstrip(',')}" if i == SUBHEADING else p for i, p in enumerate(paragraphs)]
    article.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    offset_s = heard.heading_starts[1] - truth["blocks"][0]["start_s"]
    starts = {i: s for i, s in _udhr_starts(truth, offset_s).items() if i != SUBHEADING}
    title_s = round(offset_s - 0.4, 3)  # the title's voice ends where the 0.4 s gap begins
    return WordCase(
        "i subheading-then-para",
        heard.audio,
        article,
        "en",
        starts,
        audio_only=[(0.0, title_s)],
        heading_starts={SUBHEADING: round(_udhr_starts(truth, offset_s)[SUBHEADING], 3)},
    )


def _subheading_fr(speech: Path, work: Path) -> WordCase:
    truth = load_truth("ej-fra")
    voice = decode(speech / "ej-fra.m4a")
    heading = _speak(f"{SUBHEADING_FR}.", work / "k-heading.wav", "fr")
    onset = next(b["start_s"] for b in truth["blocks"] if b["index"] == SUBHEADING_BEFORE)
    cut = int(round(SUBHEADING_CUT_S * RATE))
    lead = np.zeros(int(0.3 * RATE), dtype=np.float32)
    # The sentence follows the heading 0.1 s after it ends: the pause before it is cut to that.
    after = int(round((onset - 0.1) * RATE))
    audio = np.concatenate([voice[:cut], lead, heading, voice[after:]])
    heading_s = round((cut + len(lead)) / RATE, 3)
    shift = (cut + len(lead) + len(heading) - after) / RATE
    text = (speech / "ej-fra.txt").read_text(encoding="utf-8")
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    blocks = [*sentences[:SUBHEADING_BEFORE], f"## {SUBHEADING_FR}", *sentences[SUBHEADING_BEFORE:]]
    article = work / "k-article.md"
    article.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    starts = {}
    for b in truth["blocks"]:
        i = b["index"]
        starts[i if i < SUBHEADING_BEFORE else i + 1] = round(
            b["start_s"] + (shift if i >= SUBHEADING_BEFORE else 0), 3
        )
    ends = [*sorted(starts.values())[1:], len(audio) / RATE]
    read = [Passage(s, e, t) for s, e, t in zip(sorted(starts.values()), ends, sentences, strict=True)]
    return WordCase(
        "k subheading-fr",
        write_wav(work / "k.wav", audio),
        article,
        "fr",
        starts,
        heading_starts={SUBHEADING_BEFORE: heading_s},
        read=read,
    )


def _voice(samples: np.ndarray, *, frame: int = 160, run: int = 15, floor_dbfs: float = -40.0) -> np.ndarray:
    """A FLEURS clip levelled to a -6 dBFS peak, from the first to the last `run` frames in a row
    louder than floor_dbfs (its voice, without the clicks some clips have after it)."""
    samples = samples * (10 ** (-6 / 20) / max(float(np.abs(samples).max()), 1e-6))
    loud = frame_levels(samples, frame) > floor_dbfs
    held = np.convolve(loud.astype(int), np.ones(run, dtype=int), mode="valid") == run  # frames n..n+run-1 loud
    first, last = np.flatnonzero(held)[[0, -1]]
    return samples[first * frame : (last + run) * frame]


def _aside_mid_fr(speech: Path, work: Path) -> WordCase:
    gap = np.zeros(int(MID_FR_GAP_S * RATE), dtype=np.float32)
    chunks: list[np.ndarray] = []
    spoken: list[tuple[float, float, str | None, str]] = []  # start, end, article text, what is said
    offset = 0
    for clip, written in MID_FR:
        voice = _voice(decode(speech / f"{clip}.ogg"))
        said = (speech / f"{clip}.txt").read_text(encoding="utf-8").strip()
        spoken.append((offset / RATE, (offset + len(voice)) / RATE, written, said))
        chunks += [voice, gap]
        offset += len(voice) + len(gap)
    first, aside, *rest = spoken
    paragraphs = [f"{first[2]} {rest[0][2]}", *(r[2] for r in rest[1:])]
    article = work / "l-article.md"
    article.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    starts = {0: round(first[0], 3), 1: round(rest[1][0], 3), 2: round(rest[2][0], 3)}
    read = [Passage(a, b, said) for a, b, written, said in spoken if written is not None]
    return WordCase(
        "l aside-mid-fr",
        write_wav(work / "l.wav", np.concatenate(chunks)),
        article,
        "fr",
        starts,
        audio_only=[(round(aside[0], 3), round(aside[1], 3))],
        read=read,
    )


def _read_retold(udhr: np.ndarray, truth: dict, paragraphs: list[str], work: Path) -> WordCase:
    pieces, members = _pieces(truth, len(udhr)), _piece_blocks(truth)
    chunks: list[np.ndarray] = []
    starts: dict[int, float] = {}
    read: list[Passage] = []
    retold: list[Passage] = []
    offset = 0
    gap = np.zeros(int(0.6 * RATE), dtype=np.float32)
    for first in sorted(pieces):
        a, b = pieces[first]
        if first in RETOLD:
            voice = np.concatenate([gap, _speak(RETOLD[first], work / f"j-{first}.wav", "en-us"), gap])
            starts[first] = round((offset + len(gap)) / RATE, 3)
            retold.append(Passage(offset / RATE, (offset + len(voice)) / RATE, RETOLD[first]))
            chunks.append(voice)
            offset += len(voice)
            continue
        for idx in members[first]:
            starts[idx] = round(
                offset / RATE + next(x["start_s"] for x in truth["blocks"] if x["index"] == idx) - a / RATE, 3
            )
        text = " ".join(paragraphs[i] for i in members[first])
        read.append(Passage(offset / RATE, (offset + b - a) / RATE, text))
        chunks.append(udhr[a:b])
        offset += b - a
    article = work / "j-article.md"
    article.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    audio = write_wav(work / "j.wav", np.concatenate(chunks))
    return WordCase("j read-retold", audio, article, "en", starts, read=read, retold=retold)
