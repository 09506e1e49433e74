"""Builders shared by the tests and benchmarks (no tests here): real episode workspaces, transcripts
shaped like Whisper's, pairings, and a static server for the site.

Audio is real (a recording from ../shared/testdata/speech, encoded to MP3 with ffmpeg); transcripts
are either hand-made with word times (unit tests) or produced by the real Whisper model
(integration tests, see the `whisper_en` fixture in tests/publish/conftest.py).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

from pipeline.episodes import create_record, set_state, update_record
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import (
    Approver,
    AudioOnlySpan,
    Chapter,
    Coverage,
    EpisodeState,
    PairedBlock,
    Pairing,
    Segment,
    Transcript,
    Word,
)
from pipeline.review import state as review
from pipeline.store import write_model

if TYPE_CHECKING:
    from pipeline.article.reader import Article

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
TESTDATA = SHARED / "testdata"
SPEECH = TESTDATA / "speech"
EXAMPLES = SHARED / "examples"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


def encode_mp3(source: Path, dest: Path, *, seconds: float | None = None, bitrate_k: int = 64) -> Path:
    """Encode a real recording to MP3 (mono, 44.1 kHz), optionally cut to its first `seconds`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    cut = ["-t", str(seconds)] if seconds else []
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *cut]
    cmd += ["-ac", "1", "-ar", "44100", "-b:a", f"{bitrate_k}k", "-map_metadata", "-1", str(dest)]
    subprocess.run(cmd, check=True)
    return dest


def timed_words(text: str, *, start_s: float, end_s: float) -> list[Word]:
    """Words spread evenly over [start_s, end_s] by length: a stand-in for a model's word times."""
    tokens = text.split()
    total = sum(len(t) + 1 for t in tokens)
    words, at = [], start_s
    for token in tokens:
        length = (end_s - start_s) * (len(token) + 1) / total
        words.append(
            Word(start_s=round(at, 3), end_s=round(at + length, 3), text=" " + token, probability=0.9)
        )
        at += length
    return words


def make_transcript(sentences: list[str], *, duration_s: float, language: str = "en") -> Transcript:
    """A transcript whose segments share the duration in proportion to their length."""
    total = sum(len(s) for s in sentences)
    segments, at = [], 0.0
    for i, sentence in enumerate(sentences):
        span = duration_s * len(sentence) / total
        words = timed_words(sentence, start_s=at, end_s=at + span * 0.95)
        segments.append(
            Segment(id=i, start_s=round(at, 3), end_s=round(at + span * 0.95, 3), text=sentence, words=words)
        )
        at += span
    return Transcript(
        language=language,
        engine="test",
        model="hand-made",
        audio_sha256="0" * 64,
        duration_s=duration_s,
        segments=segments,
    )


def pairing_for(paragraphs: list[str], transcript: Transcript) -> Pairing:
    """Pair each article paragraph with the transcript words that say it (first words matched)."""
    words = [w for s in transcript.segments for w in s.words]
    norm = [re.sub(r"\W", "", w.text.lower()) for w in words]
    blocks, chapters = [], []
    cursor = 0
    for index, paragraph in enumerate(paragraphs):
        head = [re.sub(r"\W", "", t.lower()) for t in paragraph.split()[:4]]
        anchor = f"p-{index + 1}"
        hit = next(
            (i for i in range(cursor, len(norm) - len(head) + 1) if norm[i : i + len(head)] == head), None
        )
        if hit is None:
            blocks.append(
                PairedBlock(index=index, kind="paragraph", text=paragraph, anchor=anchor, status="text_only")
            )
            continue
        last = min(hit + len(paragraph.split()) - 1, len(words) - 1)
        blocks.append(
            PairedBlock(
                index=index,
                kind="paragraph",
                text=paragraph,
                anchor=anchor,
                status="paired",
                start_s=words[hit].start_s,
                end_s=words[last].end_s,
                score=0.9,
            )
        )
        if index % 2 == 0:
            chapters.append(
                Chapter(title=" ".join(paragraph.split()[:5]), start_s=words[hit].start_s, anchor=anchor)
            )
        cursor = last + 1
    return Pairing(
        blocks=blocks,
        chapters=chapters,
        coverage=Coverage(article_told=1.0, episode_covered=1.0),
        method="test",
        transcript_source="draft",
        transcript_sha256="0" * 64,
        article_sha256="0" * 64,
    )


def article_markdown(title: str, paragraphs: list[str], *, front_matter: str = "") -> str:
    head = f"---\n{front_matter.strip()}\n---\n\n" if front_matter.strip() else ""
    return head + f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n"


def make_episode(
    project: ProjectLayout,
    slug: str,
    *,
    title: str,
    mp3: Path,
    transcript: Transcript,
    pairing: Pairing | None,
    article: str | None,
    state: EpisodeState = EpisodeState.approved,
    reviewed: bool = True,
    audio_only: list[AudioOnlySpan] | None = None,
    published_at: datetime | None = None,
    link_audio: bool = False,
    article_name: str = "article.md",
) -> EpisodeLayout:
    """A workspace as the earlier stages leave it, in `state`."""
    layout = project.episode(slug)
    layout.source_dir.mkdir(parents=True, exist_ok=True)
    record_fields: dict[str, object] = {"language": transcript.language, "duration_s": transcript.duration_s}
    if article is not None:
        (layout.source_dir / article_name).write_text(article, encoding="utf-8")
        record_fields["source_article"] = article_name
    create_record(layout, title=title, **record_fields)
    layout.audio_dir.mkdir(parents=True, exist_ok=True)
    if link_audio:
        layout.master_mp3.hardlink_to(mp3)
    else:
        shutil.copyfile(mp3, layout.master_mp3)
    write_model(layout.reviewed_json if reviewed else layout.draft_json, transcript)
    if pairing is not None:
        if audio_only:
            pairing = pairing.model_copy(update={"audio_only": audio_only})
        write_model(layout.pairing_json, pairing)
    for step in (
        EpisodeState.normalized,
        EpisodeState.transcribed,
        EpisodeState.paired,
        EpisodeState.awaiting_review,
    ):
        set_state(layout, step, stage="test")
    if state in (EpisodeState.approved, EpisodeState.published):
        review.approve_episode(layout, by=Approver.terminal)  # as a person does: recorded, publishing checks it
    if state is EpisodeState.published:
        set_state(
            layout, EpisodeState.published, stage="publish", published_at=published_at or datetime.now(UTC)
        )
    elif published_at is not None:
        update_record(layout, published_at=published_at)
    return layout


# --- a small real show: one English and one French episode ------------------------------------------


@dataclass(frozen=True)
class RealAudio:
    path: Path
    text: str  # what the speaker says (the recording's reference text)


def paragraphs_of(text: str) -> list[str]:
    """The reference text's paragraphs (the UDHR's heading line dropped)."""
    paras = [p.strip() for p in text.split("\n\n") if p.strip()]
    return paras[1:] if paras and paras[0] == "Preamble" else paras


def sentences_of(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]


def mp3_duration(path: Path) -> float:
    from mutagen.mp3 import MP3

    return float(MP3(path).info.length)


def add_english_episode(
    project: ProjectLayout, audio: RealAudio, slug: str = "preamble", **kw: object
) -> EpisodeLayout:
    paras = paragraphs_of(audio.text)
    transcript = make_transcript(paras, duration_s=mp3_duration(audio.path), language="en")
    article_paras = paras[:4] + ["A paragraph written for the page only, never read aloud."] + paras[4:]
    pairing = pairing_for(article_paras, transcript)
    spans = [AudioOnlySpan(start_s=60.0, end_s=70.0, text="An aside heard only in the episode.")]
    fields: dict[str, object] = {
        "title": "The Preamble",
        "mp3": audio.path,
        "transcript": transcript,
        "pairing": pairing,
        "article": article_markdown("The Preamble", article_paras),
        "audio_only": spans,
    }
    fields.update(kw)
    return make_episode(project, slug, **fields)  # type: ignore[arg-type]


def add_french_episode(
    project: ProjectLayout, audio: RealAudio, slug: str = "bonjour", **kw: object
) -> EpisodeLayout:
    sentences = sentences_of(audio.text)
    transcript = make_transcript(sentences, duration_s=mp3_duration(audio.path), language="fr")
    paras = [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
    fields: dict[str, object] = {
        "title": "Présentation d’Éric",
        "mp3": audio.path,
        "transcript": transcript,
        "pairing": pairing_for(paras, transcript),
        "article": article_markdown(
            "Présentation", paras, front_matter="language: fr\ndescription: Qui est Éric ?"
        ),
    }
    fields.update(kw)
    return make_episode(project, slug, **fields)  # type: ignore[arg-type]


# --- a real transcript: the Whisper base model on the English recording -----------------------------


def add_whisper_episode(
    project: ProjectLayout, audio: RealAudio, transcript: Transcript, slug: str = "preamble", **kw: object
) -> EpisodeLayout:
    """The English episode as the stages leave it: the model's transcript, and the article (with
    section headings) paired against it by the real pairing stage."""
    from pipeline.article.reader import read_article
    from pipeline.config import PairingSettings
    from pipeline.pairing.pair import pair_article
    from pipeline.store import sha256_file

    paras = paragraphs_of(audio.text)
    headings = {0: "## Dignity", 2: "## Against tyranny", 3: "## Friendly relations", 5: "## Pledges"}
    headings[8] = "## Proclamation"
    body: list[str] = []
    for i, para in enumerate(
        paras[:4] + ["A paragraph written for the page only, never read aloud."] + paras[4:]
    ):
        body += [headings[i], para] if i in headings else [para]
    fields: dict[str, object] = {"title": "The Preamble", "mp3": audio.path, "transcript": transcript}
    fields.update(kw)
    layout = make_episode(
        project, slug, pairing=None, article=article_markdown("The Preamble", body), **fields
    )  # type: ignore[arg-type]
    article_path = layout.source_file("article.md")
    pairing = pair_article(
        read_article(article_path),
        transcript,
        settings=PairingSettings(),
        transcript_source="reviewed",
        transcript_sha256=sha256_file(layout.reviewed_json),
        article_sha256=sha256_file(article_path),
    )
    write_model(layout.pairing_json, pairing)
    return layout


def pair_draft(article: Article, transcript: Transcript, **settings: object) -> Pairing:
    """`article` paired with a draft transcript, placeholder hashes (the pairing tests' call)."""
    from pipeline.config import PairingSettings
    from pipeline.pairing.pair import pair_article

    return pair_article(
        article,
        transcript,
        settings=PairingSettings(**settings),  # type: ignore[arg-type]
        transcript_source="draft",
        transcript_sha256="t" * 64,
        article_sha256="a" * 64,
    )


# --- transcripts shaped like Whisper's, for the review tests ---


def whisper_like_transcript(text: str, *, words_per_segment: int = 12, low_every: int = 17) -> Transcript:
    """A transcript shaped like Whisper's: leading spaces, word times with pauses, a few unsure words."""
    tokens = text.split()
    segments, t, i = [], 0.3, 0
    for seg_id, first in enumerate(range(0, len(tokens), words_per_segment)):
        words = []
        for token in tokens[first : first + words_per_segment]:
            duration = 0.06 * len(token) + 0.05
            prob = 0.31 if i % low_every == 5 else 0.93
            words.append(
                Word(start_s=round(t, 3), end_s=round(t + duration, 3), text=f" {token}", probability=prob)
            )
            t += duration + 0.07
            i += 1
        flags = ["low_logprob"] if seg_id % 5 == 3 else []
        segments.append(
            Segment(
                id=seg_id,
                start_s=words[0].start_s - 0.02,
                end_s=words[-1].end_s + 0.02,
                text="".join(w.text for w in words),
                words=words,
                flags=flags,
            )
        )
        t += 0.4
    return Transcript(
        language="en", engine="test", model="none", audio_sha256="0" * 64, duration_s=t + 1, segments=segments
    )


def all_words(t: Transcript) -> list[Word]:
    return [w for s in t.segments for w in s.words]


def assert_monotonic(t: Transcript, *, words_inside_segments: bool = True) -> None:
    """Segments in order without overlap; words in order without overlap across the transcript.

    Whisper's own drafts sometimes start a first word a little before its segment: for those,
    words_inside_segments=False checks the rest.
    """
    previous_seg_end = previous_word_end = 0.0
    for seg in t.segments:
        assert seg.start_s >= previous_seg_end - 1e-9, f"segment {seg.id} starts before the previous one ends"
        assert seg.start_s <= seg.end_s
        for w in seg.words:
            assert w.start_s <= w.end_s and w.start_s >= previous_word_end - 1e-9, (
                seg.id,
                w,
                previous_word_end,
            )
            if words_inside_segments:
                assert seg.start_s - 1e-9 <= w.start_s <= w.end_s <= seg.end_s + 1e-9, (seg.id, w)
            previous_word_end = w.end_s
        previous_seg_end = seg.end_s
    ids = [s.id for s in t.segments]
    assert len(ids) == len(set(ids))
    for seg in t.segments:
        assert " ".join(seg.text.split()) == " ".join(w.text.strip() for w in seg.words) or not seg.words


def norm(text: str) -> str:
    return re.sub(r"[^\w]+", "", text.casefold())


def assert_survivors_keep_draft_times(t: Transcript, draft: Transcript) -> None:
    """Every word still from the draft sits at the draft's times, in the draft's order."""
    draft_words = all_words(draft)
    vocabulary = {norm(w.text) for w in draft_words}
    survivors = [w for w in all_words(t) if norm(w.text) in vocabulary]
    k = 0
    for w in survivors:
        while k < len(draft_words) and not (
            norm(draft_words[k].text) == norm(w.text)
            and (draft_words[k].start_s, draft_words[k].end_s) == (w.start_s, w.end_s)
        ):
            k += 1
        assert k < len(draft_words), f"{w.text!r} at {w.start_s}-{w.end_s} has lost its draft times"
        k += 1


def random_edit(rng: random.Random, t: Transcript, draft: Transcript, counter: list[int]) -> Transcript:
    def fresh() -> str:
        counter[0] += 1
        return f"qz{counter[0]}"

    seg = rng.choice(t.segments)
    kind = rng.choice(["edit", "edit", "edit", "merge", "split", "replace", "import", "undo", "check"])
    if kind == "edit":
        tokens = review.display_text(seg).split()
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(0, len(tokens))
            action = rng.choice(["insert", "delete", "replace", "case"])
            if action == "insert":
                tokens[pos:pos] = [fresh() for _ in range(rng.randint(1, 3))]
            elif tokens and pos < len(tokens):
                tokens[pos : pos + 1] = {
                    "delete": [],
                    "replace": [fresh()],
                    "case": [tokens[pos].upper() + ","],
                }[action]
        return review.apply_text_edit(t, seg.id, " ".join(tokens))
    if kind == "merge" and seg is not t.segments[-1]:
        return review.merge_segments(t, seg.id)
    if kind == "split" and len(seg.text.split()) > 1:
        text = review.display_text(seg)
        return review.split_segment(t, seg.id, rng.randint(text.index(" ") + 1, len(text) - 1))
    if kind == "replace":
        word = rng.choice(review.display_text(seg).split())
        if norm(word):
            return review.replace_all(t, re.sub(r"[^\w]", "", word) or word, fresh())
    if kind == "import":
        lines = review.export_text(t).splitlines()
        j = rng.randrange(len(lines))
        lines[j] = f"{lines[j]} {fresh()}"
        if rng.random() < 0.5 and j + 1 < len(lines):
            lines[j] = lines[j] + " " + lines.pop(j + 1).split("] ", 1)[1]
        return review.import_text("\n".join(lines), t)
    if kind == "undo" and review.can_undo(t):
        return review.undo_last(t, draft)
    if kind == "check":
        return review.mark_checked(t, seg.id)
    return t


def make_pairing(
    blocks: list[PairedBlock],
    *,
    told: float = 0.8,
    covered: float = 0.7,
    transcript_sha256: str = "0" * 64,
    audio_only: list[AudioOnlySpan] | None = None,
) -> Pairing:
    """A pairing of `blocks` as the pair stage writes it, with the given coverage."""
    return Pairing(
        blocks=blocks,
        audio_only=audio_only or [],
        coverage=Coverage(article_told=told, episode_covered=covered),
        method="test",
        transcript_source="draft",
        transcript_sha256=transcript_sha256,
        article_sha256="0" * 64,
    )


class StaticServer:
    """output/site/ served by Starlette's StaticFiles (answers byte-range requests) in a thread."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        app = Starlette()
        app.mount("/", StaticFiles(directory=folder, html=True))
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> StaticServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("static server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def stop_process_groups(procs: list[subprocess.Popen], *, timeout_s: float = 60) -> None:
    """SIGTERM to each process's group, then SIGKILL to those not stopped within `timeout_s`."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
