"""Word-precise pairing: blocks from their first spoken word, spoken and unspoken headings, asides at
word level, sentences read aloud with their times, chapters (fast; the embedding model is real).

Transcripts are built as Whisper gives them: words 0.4 s apart; a segment may hold several
sentences, an aside and the start of a paragraph together.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import Segment, Transcript, Word
from pipeline.pairing import read_sentences
from tests.pairing.test_pairing import BIKES, BIKES_TOLD, BREAD, BREAD_TOLD, article_of, block, pair

WORD_S = 0.4
PAUSE_S = 1.0
ASIDE = "Okay is this thing recording now, let me check the levels first."  # 12 words, 4.8 s


def segments_of(texts: list[str], *, start_s: float = 0.5) -> tuple[Transcript, list[float]]:
    """One segment per text, no pause inside one; returns the transcript and each word's start."""
    segments: list[Segment] = []
    starts: list[float] = []
    t = start_s
    for i, text in enumerate(texts):
        words = []
        for token in text.split():
            words.append(
                Word(start_s=round(t, 3), end_s=round(t + WORD_S - 0.05, 3), text=f" {token}", probability=0.9)
            )
            starts.append(round(t, 3))
            t += WORD_S
        segments.append(Segment(id=i, start_s=words[0].start_s, end_s=words[-1].end_s, text=" " + text, words=words))
        t += PAUSE_S
    transcript = Transcript(
        language="en", engine="test", model="none", audio_sha256="0" * 64, duration_s=t, segments=segments
    )
    return transcript, starts


def word_start(transcript: Transcript, n: int) -> float:
    return [w for s in transcript.segments for w in s.words][n].start_s


def test_an_aside_in_the_first_segment_is_audio_only_and_the_block_starts_on_its_first_word(tmp_path: Path) -> None:
    transcript, _ = segments_of([f"{ASIDE} {BREAD}", BIKES])
    pairing = pair(article_of(tmp_path, f"{BREAD}\n\n{BIKES}\n"), transcript)
    aside_words = len(ASIDE.split())
    assert block(pairing, "Good bread").start_s == word_start(transcript, aside_words)
    assert block(pairing, "Good bread").end_s == transcript.segments[0].words[-1].end_s
    [span] = pairing.audio_only
    assert span.start_s == 0.5 and span.end_s == transcript.segments[0].words[aside_words - 1].end_s
    assert span.text == ASIDE
    assert block(pairing, "A bicycle").start_s == transcript.segments[1].start_s


def test_an_aside_between_two_sentences_of_a_paragraph_is_found(tmp_path: Path) -> None:
    first, second = BREAD.split(". ")
    transcript, _ = segments_of([f"{first}. {ASIDE} {second}"])
    pairing = pair(article_of(tmp_path, f"{BREAD}\n"), transcript)
    [span] = pairing.audio_only
    n_first = len(first.split())
    assert span.start_s == word_start(transcript, n_first)
    assert span.text == ASIDE
    bread = block(pairing, "Good bread")
    assert bread.start_s == 0.5 and bread.end_s == transcript.segments[0].words[-1].end_s
    assert [s.read for s in bread.sentences] == [True, True]
    assert bread.sentences[1].start_s == word_start(transcript, n_first + len(ASIDE.split()))


@pytest.mark.parametrize(
    ("said_first", "said_second"),
    [
        # The second sentence's first word misheard: it is the sentence's, not the aside's.
        ("Good bread needs only flour, water, salt and yeast, but it needs time above all.",
         "At slow rise in a cool kitchen gives the crumb its flavour and its open texture."),
        # The first sentence's last word misheard: the aside starts after it.
        ("Good bread needs only flour, water, salt and yeast, but it needs time above thaw.",
         "A slow rise in a cool kitchen gives the crumb its flavour and its open texture."),
        # Both sentences' first words misheard.
        ("Could bread needs only flour, water, salt and yeast, but it needs time above all.",
         "Hey slow rise in a cool kitchen gives the crumb its flavour and its open texture."),
    ],
)
def test_an_aside_between_two_sentences_takes_no_misheard_word_of_theirs(
    tmp_path: Path, said_first: str, said_second: str
) -> None:
    transcript, _ = segments_of([f"{said_first} {ASIDE} {said_second}"])
    pairing = pair(article_of(tmp_path, f"{BREAD}\n"), transcript)
    n_first, n_aside = len(said_first.split()), len(ASIDE.split())
    [span] = pairing.audio_only
    assert span.text == ASIDE
    assert span.start_s == word_start(transcript, n_first)
    assert span.end_s == word_start(transcript, n_first + n_aside - 1) + WORD_S - 0.05
    bread = block(pairing, "Good bread")
    assert bread.sentences[0].end_s == word_start(transcript, n_first - 1) + WORD_S - 0.05
    assert bread.sentences[1].start_s == word_start(transcript, n_first + n_aside)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # The word said right after the aside misheard ("salt" as "sold"): it stays the sentence's.
        ("Good bread needs only flour, water,", "sold and yeast, but it needs time above all."),
        # The word said right before it misheard ("water" as "waiter").
        ("Good bread needs only flour, waiter,", "salt and yeast, but it needs time above all."),
    ],
)
def test_an_aside_inside_a_sentence_takes_no_misheard_word_next_to_it(tmp_path: Path, before: str, after: str) -> None:
    second = BREAD.split(". ")[1]
    transcript, _ = segments_of([f"{before} {ASIDE} {after} {second}"])
    pairing = pair(article_of(tmp_path, f"{BREAD}\n"), transcript)
    [span] = pairing.audio_only
    assert span.text == ASIDE
    assert span.start_s == word_start(transcript, len(before.split()))


def test_short_filler_next_to_a_block_is_no_span_of_its_own(tmp_path: Path) -> None:
    transcript, _ = segments_of([f"Okay, euh. {BREAD}", BIKES])
    pairing = pair(article_of(tmp_path, f"{BREAD}\n\n{BIKES}\n"), transcript)
    assert pairing.audio_only == []
    assert block(pairing, "Good bread").start_s == word_start(transcript, 2)
    assert all("Okay" not in c.title for c in pairing.chapters)


def test_headings_said_aloud_are_dated_where_they_are_said(tmp_path: Path) -> None:
    # The title and a sub-heading, said one after the other before the first paragraph.
    transcript, starts = segments_of(["Three things to know.", f"Bread. {BREAD}", f"Bikes. {BIKES}"])
    markdown = f"# Three things to know\n\n## Bread\n\n{BREAD}\n\n## Bikes\n\n{BIKES}\n"
    pairing = pair(article_of(tmp_path, markdown), transcript)
    title, bread_heading, bikes_heading = (block(pairing, t) for t in ("Three things", "Bread", "Bikes"))
    assert title.spoken and title.start_s == 0.5
    assert bread_heading.spoken and bread_heading.start_s == transcript.segments[1].start_s
    # The paragraph follows its heading at once: its own start is its own first word.
    assert block(pairing, "Good bread").start_s == word_start(transcript, 4 + 1)
    assert bikes_heading.spoken and bikes_heading.start_s == transcript.segments[2].start_s
    assert block(pairing, "A bicycle").start_s > bikes_heading.start_s
    assert pairing.audio_only == []
    # Chapters from the headings, where they are said; the title is not one of them.
    assert [(c.title, c.start_s) for c in pairing.chapters] == [("Bread", 0.0), ("Bikes", bikes_heading.start_s)]


def test_a_heading_not_said_is_placed_at_its_section_and_marked(tmp_path: Path) -> None:
    transcript, _ = segments_of([BREAD, BIKES])
    pairing = pair(article_of(tmp_path, f"## Bread\n\n{BREAD}\n\n## Bikes\n\n{BIKES}\n"), transcript)
    bikes_heading = block(pairing, "Bikes")
    assert bikes_heading.spoken is False
    assert bikes_heading.start_s == block(pairing, "A bicycle").start_s


def test_retold_blocks_keep_block_level_times_and_no_sentences(tmp_path: Path) -> None:
    transcript, _ = segments_of([*BREAD_TOLD, BIKES])
    pairing = pair(article_of(tmp_path, f"{BREAD}\n\n{BIKES}\n"), transcript)
    bread, bikes = block(pairing, "Good bread"), block(pairing, "A bicycle")
    assert bread.status == "paired" and bread.delivery == "retold" and bread.sentences == []
    assert bikes.delivery == "read" and all(s.read for s in bikes.sentences)
    assert [s.start_s for s in bikes.sentences] == [
        transcript.segments[-1].start_s,
        word_start(transcript, sum(len(t.split()) for t in BREAD_TOLD) + 10),
    ]
    assert read_sentences(pairing, transcript) and all(
        s.start_s >= bikes.start_s for s in read_sentences(pairing, transcript)
    )


def test_a_misheard_word_in_a_read_sentence_is_a_difference_and_retold_text_is_not(tmp_path: Path) -> None:
    misheard = BIKES.replace("gears", "jeers")
    transcript, _ = segments_of([*BREAD_TOLD, misheard])
    pairing = pair(article_of(tmp_path, f"{BREAD}\n\n{BIKES}\n"), transcript)
    differences = [d for s in read_sentences(pairing, transcript) for d in s.differences]
    assert [d.article for d in differences] == [("gears",)]
    [heard] = differences[0].heard
    assert transcript.segments[heard.segment].words[heard.word].text == " jeers"


def test_chapters_without_headings_are_titled_by_blocks_and_kept_apart(tmp_path: Path) -> None:
    transcript, _ = segments_of(["Okay.", *BREAD_TOLD, *BIKES_TOLD])
    pairing = pair(article_of(tmp_path, f"{BREAD}\n\n{BIKES}\n"), transcript)
    assert pairing.chapters and pairing.chapters[0].start_s == 0.0
    assert pairing.chapters[0].title.startswith("Good bread")
    starts = [c.start_s for c in pairing.chapters]
    assert all(b - a >= 10.0 for a, b in zip(starts, starts[1:], strict=False))
