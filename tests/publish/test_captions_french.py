"""Every transcript format, the episode page and the review page carry the same words, written as
Whisper wrote them: a real French recording transcribed by the real Whisper base model, whose words
come in pieces ("m" + "'appelle", "non" + "-cé"), published through the real publish stage."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

import pytest
import srt
import webvtt

from pipeline.config import Settings
from pipeline.layout import ProjectLayout
from pipeline.models import Transcript
from pipeline.publish import publish_site
from pipeline.review.view import segment_html
from tests.factories import RealAudio, make_episode

# A space before an apostrophe or a hyphen that glues a word: "l 'homme", "tante -huit".
ARTIFACT = re.compile(r"\w\s+['’]\w|\w\s+-\w")
SPEAKER = "Éric Joanis"


class _Text(HTMLParser):
    """The text inside the elements matching `keep` (tag, class), one string per element."""

    def __init__(self, tag: str, css: str | None = None) -> None:
        super().__init__()
        self.tag, self.css, self.depth, self.parts, self.skip = tag, css, 0, [], 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self.depth:
            self.depth += tag == self.tag
            self.skip += tag in ("a", "b", "cite", "time", "button")
        elif tag == self.tag and (self.css is None or self.css in classes):
            self.depth, self.parts = 1, [*self.parts, ""]

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.skip -= tag in ("a", "b", "cite", "time", "button") and self.skip > 0
            self.depth -= tag == self.tag

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip:
            self.parts[-1] += data


def _html_texts(html: str, tag: str, css: str | None = None) -> list[str]:
    parser = _Text(tag, css)
    parser.feed(html)
    return [" ".join(p.split()) for p in parser.parts]


@pytest.mark.integration
def test_every_format_carries_the_words_as_whisper_wrote_them(
    whisper_fr: Transcript, real_audio: dict[str, RealAudio], project: ProjectLayout
) -> None:
    words = [w for s in whisper_fr.segments for w in s.words]
    # The recording makes Whisper cut words in pieces: the case the formats must get right.
    assert sum(1 for w in words if w.text.strip() and not w.text[0].isspace()) >= 5
    expected = "".join(w.text for w in words).split()
    assert not ARTIFACT.search(" ".join(expected))

    make_episode(project, "bonjour", title="Bonjour", mp3=real_audio["fr"].path, transcript=whisper_fr,
                 pairing=None, article=None)
    publish_site(project, Settings(show={"speaker": SPEAKER, "language": "fr"}))
    folder = project.site_dir / "bonjour"

    vtt = webvtt.from_buffer(io.StringIO((folder / "transcript.vtt").read_text()))
    srt_subs = list(srt.parse((folder / "transcript.srt").read_text()))
    formats = {
        "vtt": " ".join(c.text for c in vtt.captions),
        "srt": " ".join(s.content for s in srt_subs).replace(f"{SPEAKER}: ", ""),
        "json": " ".join(s["body"] for s in json.loads((folder / "transcript.json").read_text())["segments"]),
        "html": " ".join(_html_texts((folder / "transcript.html").read_text(), "p")),
        "txt": re.sub(r"\[\d\d:\d\d:\d\d\] (" + SPEAKER + ": )?", "", (folder / "transcript.txt").read_text()),
        "page": " ".join(_html_texts((folder / "index.html").read_text(), "li")),
        "review": " ".join(_html_texts("".join(segment_html(s, 0.0) for s in whisper_fr.segments), "span", "tx")),
    }
    for name, text in formats.items():
        assert not ARTIFACT.search(text), f"{name}: {ARTIFACT.search(text)}"
        assert text.split() == expected, name
    # The speaker (show.speaker) is in every format that can carry one.
    assert all(c.voice == SPEAKER for c in vtt.captions)
    assert srt_subs[0].content.startswith(f"{SPEAKER}: ")
    assert {s["speaker"] for s in json.loads((folder / "transcript.json").read_text())["segments"]} == {SPEAKER}
    assert f"<cite>{SPEAKER}:</cite>" in (folder / "transcript.html").read_text()
    assert (folder / "transcript.txt").read_text().startswith(f"[00:00:00] {SPEAKER}: ")
