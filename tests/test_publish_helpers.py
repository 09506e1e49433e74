"""Real episode workspaces for the publishing tests and benchmark (no tests here).

Audio is real (a recording from ../shared/testdata/speech, encoded to MP3 with ffmpeg); transcripts
are either hand-made with word times (unit tests) or produced by the real Whisper model
(integration tests, see `whisper_transcript`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.episodes import create_record, set_state, update_record
from pipeline.layout import EpisodeLayout, ProjectLayout
from pipeline.models import (
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
from pipeline.store import write_model


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
        set_state(layout, EpisodeState.approved, stage="review")
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


@pytest.fixture(scope="session")
def real_audio(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RealAudio]:
    """Real recordings encoded once per session: 'en' (2:29, UDHR preamble), 'fr' (0:34)."""
    folder = tmp_path_factory.mktemp("mp3")
    return {
        "en": RealAudio(
            encode_mp3(speech / "udhr-preamble-en.mp3", folder / "en.mp3"),
            (speech / "udhr-preamble-en.txt").read_text(encoding="utf-8"),
        ),
        "fr": RealAudio(
            encode_mp3(speech / "ej-fra.m4a", folder / "fr.mp3"),
            (speech / "ej-fra.txt").read_text(encoding="utf-8"),
        ),
    }


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


@pytest.fixture(scope="session")
def whisper_en(real_audio: dict[str, RealAudio]) -> Transcript:
    """The English recording transcribed by the real Whisper base model (faster-whisper engine)."""
    from pipeline.config import TranscribeSettings
    from pipeline.store import sha256_file
    from pipeline.transcribe import transcribe_audio
    from pipeline.whisper_models import default_models_dir, install_model

    models_dir = default_models_dir()
    install_model("base", models_dir)
    audio = real_audio["en"].path
    settings = TranscribeSettings(engine="faster-whisper", language="en")
    return transcribe_audio(audio, settings=settings, models_dir=models_dir, audio_sha256=sha256_file(audio))


def add_whisper_episode(
    project: ProjectLayout, audio: RealAudio, transcript: Transcript, slug: str = "preamble", **kw: object
) -> EpisodeLayout:
    """The English episode as the stages leave it: the model's transcript, and the article (with
    section headings) paired against it by the real pairing stage."""
    from pipeline.article import read_article
    from pipeline.config import PairingSettings
    from pipeline.pairing import pair_article
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
