"""Transcript files read back by the libraries players use: webvtt-py, srt, json."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import pytest
import srt
import webvtt

from pipeline.models import Segment, Transcript, Word
from pipeline.publish.captions import (
    MAX_CUE_S,
    MAX_LINE_CHARS,
    build_cues,
    build_paragraphs,
    format_timestamp,
    render_srt,
    render_transcript_html,
    render_transcript_json,
    render_transcript_text,
    render_vtt,
    wrap_lines,
    write_transcript_files,
)
from tests.factories import make_transcript


def _words(text: str) -> list[str]:
    return re.findall(r"\S+", text)


def udhr_transcript(speech: Path) -> Transcript:
    text = (speech / "udhr-preamble-en.txt").read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n\n")[1:] if p.strip()]
    return make_transcript(paragraphs, duration_s=149.0)


def test_cues_respect_reading_limits_and_keep_every_word(speech: Path) -> None:
    transcript = udhr_transcript(speech)
    cues = build_cues(transcript)
    assert len(cues) > 20
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2, cue
        assert all(len(line) <= MAX_LINE_CHARS for line in cue.lines), cue
        assert cue.end_s - cue.start_s <= MAX_CUE_S + 1e-6, cue
    assert all(a.end_s <= b.start_s for a, b in zip(cues, cues[1:], strict=False))
    assert _words(" ".join(c.text for c in cues)) == _words(transcript.text)


def test_cues_end_at_sentence_or_clause_when_possible(speech: Path) -> None:
    cues = build_cues(udhr_transcript(speech))
    # The preamble is long clauses separated by commas: most cues must end on a punctuation mark.
    ending = [c for c in cues if c.text.endswith((",", ".", ";", ":"))]
    assert len(ending) / len(cues) >= 0.5


def test_short_sentences_are_grouped_and_a_long_pause_splits() -> None:
    words = [
        Word(start_s=0.0, end_s=0.4, text=" Hello.", probability=0.9),
        Word(start_s=0.5, end_s=0.9, text=" Yes.", probability=0.9),
        Word(start_s=5.0, end_s=5.5, text=" Later", probability=0.9),
        Word(start_s=5.6, end_s=6.0, text=" on.", probability=0.9),
    ]
    seg = Segment(id=0, start_s=0.0, end_s=6.0, text="Hello. Yes. Later on.", words=words)
    t = Transcript(language="en", engine="t", model="t", audio_sha256="0", duration_s=6.0, segments=[seg])
    cues = build_cues(t)
    assert [c.text for c in cues] == ["Hello. Yes.", "Later on."]


def test_segment_without_word_times_is_spread_over_its_span() -> None:
    seg = Segment(id=0, start_s=10.0, end_s=30.0, text=" ".join(["word"] * 60))
    t = Transcript(language="en", engine="t", model="t", audio_sha256="0", duration_s=30.0, segments=[seg])
    cues = build_cues(t)
    assert cues[0].start_s == 10.0 and cues[-1].end_s <= 30.0
    assert sum(len(c.text.split()) for c in cues) == 60
    assert all(c.end_s - c.start_s <= MAX_CUE_S for c in cues)


def test_wrap_lines_balances_two_lines() -> None:
    lines = wrap_lines("one two three four five six seven eight nine ten eleven twelve")
    assert len(lines) == 2 and all(len(x) <= 42 for x in lines)
    assert abs(len(lines[0]) - len(lines[1])) <= 10
    assert wrap_lines("short") == ("short",)


def test_timestamps() -> None:
    assert format_timestamp(3723.4567) == "01:02:03.457"
    assert format_timestamp(0.0, sep=",") == "00:00:00,000"


def test_vtt_parses_with_webvtt_py_and_carries_the_speaker(speech: Path) -> None:
    transcript = udhr_transcript(speech).model_copy(update={"speaker": "Ana <host> & co"})
    cues = build_cues(transcript)
    parsed = webvtt.from_buffer(io.StringIO(render_vtt(cues)))
    assert len(parsed.captions) == len(cues)
    first = parsed.captions[0]
    assert html.unescape(first.voice) == "Ana <host> & co"
    assert first.text.startswith("Whereas recognition")
    for caption, cue in zip(parsed.captions, cues, strict=True):
        assert abs(caption.start_in_seconds - int(cue.start_s)) <= 1
        assert len(caption.text.splitlines()) <= 2
        assert caption.end_in_seconds - caption.start_in_seconds <= MAX_CUE_S


def test_vtt_escapes_markup_in_text() -> None:
    seg = Segment(id=0, start_s=0.0, end_s=2.0, text="a <b> & c")
    t = Transcript(language="en", engine="t", model="t", audio_sha256="0", duration_s=2.0, segments=[seg])
    vtt = render_vtt(build_cues(t))
    assert "a &lt;b&gt; &amp; c" in vtt
    # webvtt-py keeps character references as written; a browser decodes them.
    assert html.unescape(webvtt.from_buffer(io.StringIO(vtt)).captions[0].text) == "a <b> & c"


def test_srt_parses_with_srt_library(speech: Path) -> None:
    cues = build_cues(udhr_transcript(speech))
    subtitles = list(srt.parse(render_srt(cues)))
    assert [s.index for s in subtitles] == list(range(1, len(cues) + 1))
    for sub, cue in zip(subtitles, cues, strict=True):
        assert abs(sub.start.total_seconds() - cue.start_s) < 0.001
        assert (sub.end - sub.start).total_seconds() <= MAX_CUE_S
        assert len(sub.content.splitlines()) <= 2
        assert all(len(line) <= MAX_LINE_CHARS for line in sub.content.splitlines())


def test_json_transcript_follows_podcasting_2_0(speech: Path) -> None:
    transcript = udhr_transcript(speech).model_copy(update={"speaker": "Ana"})
    data = json.loads(render_transcript_json(build_cues(transcript)))
    assert data["version"] == "1.0.0"
    first = data["segments"][0]
    assert set(first) == {"startTime", "endTime", "body", "speaker"}
    assert first["speaker"] == "Ana" and first["startTime"] < first["endTime"]
    times = [s["startTime"] for s in data["segments"]]
    assert times == sorted(times)


def test_html_transcript_uses_the_namespace_form() -> None:
    t = make_transcript(["Bonjour « à tous » & merci.", "Deuxième partie."], duration_s=10.0, language="fr")
    t = t.model_copy(update={"speaker": "Éric"})
    page = render_transcript_html(build_paragraphs(t), language="fr", title="Épisode <1>")
    assert "<cite>Éric:</cite>" in page
    assert "<time>00:00:00</time>" in page
    assert "<p>Bonjour « à tous » &amp; merci. Deuxième partie.</p>" in page
    assert "<title>Épisode &lt;1&gt;</title>" in page


def test_text_transcript_breaks_paragraphs_at_long_pauses() -> None:
    segs = [
        Segment(id=0, start_s=0.0, end_s=2.0, text="First thought."),
        Segment(id=1, start_s=2.1, end_s=4.0, text="Same paragraph."),
        Segment(id=2, start_s=9.0, end_s=10.0, text="After a pause."),
    ]
    t = Transcript(language="en", engine="t", model="t", audio_sha256="0", duration_s=10.0, segments=segs)
    text = render_transcript_text(build_paragraphs(t))
    assert text == "[00:00:00] First thought. Same paragraph.\n\n[00:00:09] After a pause.\n"


def test_write_transcript_files(tmp_path: Path, speech: Path) -> None:
    write_transcript_files(tmp_path, udhr_transcript(speech), default_speaker=None, language="en", title="T")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"transcript.{ext}" for ext in ("html", "json", "srt", "txt", "vtt")]
    assert (tmp_path / "transcript.vtt").read_text().startswith("WEBVTT\n")


@pytest.mark.integration
def test_cues_from_the_real_model_word_times(whisper_en: Transcript) -> None:
    """The Whisper base model's transcript of a real recording: limits hold, no word is lost."""
    cues = build_cues(whisper_en)
    vtt = webvtt.from_buffer(io.StringIO(render_vtt(cues)))
    subs = list(srt.parse(render_srt(cues)))
    assert len(vtt.captions) == len(subs) == len(cues) > 15
    for caption in vtt.captions:
        lines = caption.text.splitlines()
        assert len(lines) <= 2 and all(len(line) <= MAX_LINE_CHARS for line in lines), lines
        assert caption.end_in_seconds - caption.start_in_seconds <= MAX_CUE_S
    assert _words(" ".join(s.content.replace("\n", " ") for s in subs)) == _words(
        " ".join(w.text for seg in whisper_en.segments for w in seg.words)
    )
    # Cues follow the speech: each starts within its first word's time.
    words = [w for seg in whisper_en.segments for w in seg.words]
    assert cues[0].start_s == pytest.approx(words[0].start_s)
    assert "inherent dignity" in " ".join(c.text for c in cues)
