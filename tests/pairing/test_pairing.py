"""Pairing on transcripts built from known sentences and times (fast; the embedding model is real).

A transcript here is what Whisper would give for a reading of the sentences: one segment per
sentence, words 0.4 s apart, a pause between sentences. The recordings themselves are paired in
test_pairing_cases.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.article.reader import Article, read_article
from pipeline.models import Pairing, Segment, Transcript, Word
from pipeline.pairing.pair import describe_coverage
from pipeline.store import read_model, write_model
from tests.factories import pair_draft

WORD_S = 0.4
PAUSE_S = 1.0

BREAD = (
    "Good bread needs only flour, water, salt and yeast, but it needs time above all. "
    "A slow rise in a cool kitchen gives the crumb its flavour and its open texture."
)
BIKES = (
    "A bicycle chain wears out long before the gears do. "
    "Clean it and oil it every few weeks, and replace it before it stretches the cogs."
)
BIRDS = (
    "Swallows leave Europe in September and spend the winter south of the Sahara. "
    "They follow the coasts and the great rivers, where insects are plentiful on the way."
)
# The same three subjects told in other words, as a host retells an article.
BREAD_TOLD = [
    "So first, about baking your own loaves at home.",
    "You really only need four ingredients, the flour, some water, a pinch of salt and the yeast.",
    "What matters most is patience, letting the dough rise slowly somewhere cool.",
    "That long wait is what makes the inside of the loaf taste good and full of holes.",
]
BIKES_TOLD = [
    "Now let's talk about looking after your bike.",
    "The chain is the part that goes first, much sooner than the sprockets.",
    "Wipe it down and lubricate it regularly, say once a month.",
    "And swap in a new one before a worn chain ruins the whole drivetrain.",
]
BIRDS_TOLD = [
    "Finally, a word about migrating birds.",
    "Every autumn the swallows fly away from Europe to spend the cold months in Africa.",
    "They travel along the seashore and big river valleys where they can catch flies.",
]
ASIDE_TOLD = [
    "Before I go on, a quick note about the weather here today.",
    "It has been raining for three days and the garden is completely flooded.",
    "My neighbour had to pump the water out of his cellar this morning.",
]


def transcript_of(sentences: list[str], *, language: str = "en", start_s: float = 0.5) -> Transcript:
    segments: list[Segment] = []
    t = start_s
    for i, sentence in enumerate(sentences):
        words = []
        for token in sentence.split():
            words.append(
                Word(
                    start_s=round(t, 3), end_s=round(t + WORD_S - 0.05, 3), text=f" {token}", probability=0.9
                )
            )
            t += WORD_S
        segments.append(
            Segment(id=i, start_s=words[0].start_s, end_s=words[-1].end_s, text=sentence, words=words)
        )
        t += PAUSE_S
    return Transcript(
        language=language, engine="test", model="none", audio_sha256="0" * 64, duration_s=t, segments=segments
    )


def starts_of(sentences: list[str], *, start_s: float = 0.5) -> list[float]:
    out, t = [], start_s
    for sentence in sentences:
        out.append(round(t, 3))
        t += WORD_S * len(sentence.split()) + PAUSE_S
    return out


def article_of(tmp_path: Path, markdown: str, name: str = "article.md") -> Article:
    path = tmp_path / name
    path.write_text(markdown, encoding="utf-8")
    return read_article(path)


pair = pair_draft


def block(pairing: Pairing, starts_with: str):
    return next(b for b in pairing.blocks if b.text.startswith(starts_with))


# --- read aloud ---------------------------------------------------------------------------------


def test_article_read_aloud_pairs_every_paragraph_at_its_first_word(tmp_path: Path) -> None:
    paragraphs = [BREAD, BIKES, BIRDS]
    sentences = [s for p in paragraphs for s in p.split(". ")]
    sentences = [s if s.endswith(".") else s + "." for s in sentences]
    transcript = transcript_of(sentences)
    starts = starts_of(sentences)
    pairing = pair(article_of(tmp_path, "\n\n".join(paragraphs)), transcript)
    assert [b.status for b in pairing.blocks] == ["paired"] * 3
    assert [b.start_s for b in pairing.blocks] == [starts[0], starts[2], starts[4]]
    assert pairing.blocks[0].end_s == pytest.approx(starts[2] - PAUSE_S - 0.05, abs=0.01)
    assert pairing.coverage.article_told == 1.0 and pairing.coverage.episode_covered == 1.0
    assert pairing.audio_only == [] and not pairing.low_confidence
    assert pairing.transcript_source == "draft" and "lexical" in pairing.method


# --- retold in other words, reordered, with an aside, with a paragraph never said ---------------


@pytest.fixture(scope="module")
def retold(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pairing, list[float]]:
    tmp = tmp_path_factory.mktemp("retold")
    extra = "Our newsletter comes out on the first Monday of each month; subscribe on the website."
    article = article_of(tmp, "\n\n".join([BREAD, BIKES, extra, BIRDS]))
    told = BIRDS_TOLD + ASIDE_TOLD + BREAD_TOLD + BIKES_TOLD  # birds moved first, an aside after it
    starts = starts_of(told)
    return pair(article, transcript_of(told)), starts


def test_retold_blocks_are_paired_by_meaning_in_the_episode_order(retold) -> None:
    pairing, starts = retold
    birds_at, aside_at = 0, len(BIRDS_TOLD)
    bread_at = aside_at + len(ASIDE_TOLD)
    bikes_at = bread_at + len(BREAD_TOLD)
    expect = {"Swallows": starts[birds_at], "Good bread": starts[bread_at], "A bicycle": starts[bikes_at]}
    for prefix, start in expect.items():
        found = block(pairing, prefix)
        assert found.status == "paired", prefix
        assert abs(found.start_s - start) <= 2.0, (prefix, found.start_s, start)


def test_paragraph_never_said_is_text_only(retold) -> None:
    pairing, _ = retold
    assert block(pairing, "Our newsletter").status == "text_only"
    assert block(pairing, "Our newsletter").start_s is None


def test_aside_is_audio_only_with_its_text(retold) -> None:
    pairing, starts = retold
    aside_start = starts[len(BIRDS_TOLD)]
    aside_end = starts[len(BIRDS_TOLD) + len(ASIDE_TOLD)] - PAUSE_S
    assert len(pairing.audio_only) == 1
    span = pairing.audio_only[0]
    assert abs(span.start_s - aside_start) <= 2.0 and abs(span.end_s - aside_end) <= 2.0
    assert "raining for three days" in span.text


def test_lexical_alone_misses_what_meaning_finds(retold, tmp_path: Path) -> None:
    """The reason for embeddings: the retelling shares few words with the article."""
    extra = "Our newsletter comes out on the first Monday of each month; subscribe on the website."
    article = article_of(tmp_path, "\n\n".join([BREAD, BIKES, extra, BIRDS]))
    told = BIRDS_TOLD + ASIDE_TOLD + BREAD_TOLD + BIKES_TOLD
    lexical = pair(article, transcript_of(told), method="lexical")
    hybrid, _ = retold
    assert lexical.coverage.episode_covered < hybrid.coverage.episode_covered



def test_an_aside_opening_on_the_subject_of_the_block_before_it_is_audio_only_from_its_first_word(
    tmp_path: Path,
) -> None:
    """The aside's first sentence ("…the old bike shed…") read in context, after the bikes
    paragraph's last sentence, scores above the threshold for that paragraph; read alone it does not."""
    bikes = [
        "Now let's talk about looking after your bike.",
        "The chain is the part that goes first, much sooner than the sprockets.",
        "Wipe it down and lubricate it regularly, say once a month, and swap in a new one before a worn"
        " chain ruins the whole drivetrain.",
    ]
    aside = [
        "By the way, my neighbour has decided that the old bike shed is the best place in the street for his"
        " chickens.",
        "I have asked him twice already, and he just laughs about it.",
        "If you have an idea, please write to me.",
    ]
    told = BREAD_TOLD + bikes + aside + BIRDS_TOLD
    starts = starts_of(told)
    pairing = pair(article_of(tmp_path, "\n\n".join([BREAD, BIKES, BIRDS])), transcript_of(told))
    at = len(BREAD_TOLD) + len(bikes)
    assert len(pairing.audio_only) == 1
    span = pairing.audio_only[0]
    assert span.start_s == starts[at] and span.text.startswith("By the way, my neighbour")
    assert block(pairing, "A bicycle").end_s < starts[at]


# --- headings and chapters ----------------------------------------------------------------------


def test_headings_start_with_their_section_and_make_chapters(tmp_path: Path) -> None:
    markdown = (
        f"# Three things\n\nIntro never said.\n\n## Bread\n\n{BREAD}\n\n## Bikes\n\n{BIKES}\n\n"
        "## Knitting\n\nWool and needles.\n"
    )
    told = ASIDE_TOLD + BREAD_TOLD + BIKES_TOLD
    starts = starts_of(told)
    pairing = pair(article_of(tmp_path, markdown), transcript_of(told))
    bread_heading, bikes_heading = block(pairing, "Bread"), block(pairing, "Bikes")
    assert bread_heading.status == "paired" and bread_heading.start_s == block(pairing, "Good bread").start_s
    assert bikes_heading.start_s == block(pairing, "A bicycle").start_s
    assert abs(bread_heading.start_s - starts[len(ASIDE_TOLD)]) <= 2.0
    assert block(pairing, "Knitting").status == "text_only"
    titles = [(c.title, c.anchor) for c in pairing.chapters]
    # The episode opens with an aside, which no block tells: the first heading's chapter starts at
    # 0:00; the article's title is the episode's, never a chapter.
    assert titles == [("Bread", "bread"), ("Bikes", "bikes")]
    assert pairing.chapters[0].start_s == 0.0
    assert bread_heading.spoken is False and bikes_heading.spoken is False


def test_article_without_headings_gets_chapters_at_topic_shifts(tmp_path: Path) -> None:
    told = (BREAD_TOLD * 6) + (BIKES_TOLD * 6) + (BIRDS_TOLD * 7)  # three subjects, about 2 min each
    transcript = transcript_of(told)
    pairing = pair(article_of(tmp_path, "\n\n".join([BREAD, BIKES, BIRDS])), transcript)
    assert len(pairing.chapters) >= 2 and pairing.chapters[0].start_s == 0.0
    bikes_start = starts_of(told)[len(BREAD_TOLD) * 6]
    assert any(abs(c.start_s - bikes_start) <= 35.0 for c in pairing.chapters[1:])
    assert all(len(c.title) <= 61 for c in pairing.chapters)


# --- bad input ----------------------------------------------------------------------------------


def test_empty_article_makes_the_whole_episode_audio_only(tmp_path: Path) -> None:
    told = BREAD_TOLD + BIKES_TOLD
    transcript = transcript_of(told)
    pairing = pair(article_of(tmp_path, ""), transcript)
    assert pairing.blocks == []
    assert len(pairing.audio_only) == 1
    assert pairing.audio_only[0].start_s == transcript.segments[0].start_s
    assert pairing.audio_only[0].end_s == transcript.segments[-1].end_s
    assert any("no text" in w and "audio only" in w for w in pairing.warnings)
    assert pairing.coverage.article_told == 0.0 and pairing.coverage.episode_covered == 0.0


def test_article_in_another_language_is_low_confidence(examples: Path) -> None:
    article = read_article(examples / "creator-article-fr.txt")
    pairing = pair(article, transcript_of(BREAD_TOLD + BIKES_TOLD + BIRDS_TOLD, language="en"))
    assert pairing.low_confidence
    assert any("'fr'" in w and "'en'" in w for w in pairing.warnings)
    assert len(pairing.blocks) == len(article.blocks)


def test_article_far_longer_than_the_episode(examples: Path) -> None:
    """A one-minute episode that reads two paragraphs of a long article."""
    article = read_article(examples / "creator-article-fr.txt")
    said = [article.blocks[12].text, article.blocks[13].text]
    pairing = pair(article, transcript_of(said, language="fr"))
    paired = [b.index for b in pairing.blocks if b.status == "paired"]
    assert paired == [12, 13]
    assert pairing.coverage.article_told < 0.2 and pairing.coverage.episode_covered == 1.0


def test_article_far_shorter_than_the_episode(tmp_path: Path) -> None:
    told = ASIDE_TOLD * 3 + BREAD_TOLD + BIRDS_TOLD * 3
    pairing = pair(article_of(tmp_path, BREAD), transcript_of(told))
    assert pairing.blocks[0].status == "paired"
    assert abs(pairing.blocks[0].start_s - starts_of(told)[len(ASIDE_TOLD) * 3]) <= 2.0
    assert len(pairing.audio_only) == 2
    assert pairing.coverage.article_told == 1.0 and pairing.coverage.episode_covered < 0.3


def test_article_with_only_headings(tmp_path: Path) -> None:
    article = article_of(tmp_path, "## Baking bread at home\n\n## Looking after a bicycle chain\n")
    told = BREAD_TOLD + BIKES_TOLD
    pairing = pair(article, transcript_of(told))
    assert [b.kind for b in pairing.blocks] == ["heading", "heading"]
    bike = block(pairing, "Looking after")
    assert bike.status == "paired" and abs(bike.start_s - starts_of(told)[len(BREAD_TOLD)]) <= 6.0


def test_transcript_without_words_leaves_every_block_text_only(tmp_path: Path) -> None:
    empty = Transcript(language="en", engine="test", model="none", audio_sha256="0" * 64, duration_s=60.0)
    pairing = pair(article_of(tmp_path, f"{BREAD}\n\n{BIKES}"), empty)
    assert [b.status for b in pairing.blocks] == ["text_only", "text_only"]
    assert pairing.audio_only == [] and pairing.chapters == []
    assert any("no words" in w for w in pairing.warnings)


def test_hole_in_the_transcript_between_told_blocks_is_audio_only(tmp_path: Path) -> None:
    """Speech the transcript skipped (no words for 15 s) is still audio the article does not tell."""
    first, second = transcript_of(BREAD_TOLD), transcript_of(BIKES_TOLD, start_s=0.0)
    shift = first.duration_s + 15.0
    later = [
        s.model_copy(
            update={
                "id": s.id + 100,
                "start_s": s.start_s + shift,
                "end_s": s.end_s + shift,
                "words": [
                    w.model_copy(update={"start_s": w.start_s + shift, "end_s": w.end_s + shift})
                    for w in s.words
                ],
            }
        )
        for s in second.segments
    ]
    transcript = first.model_copy(
        update={"segments": first.segments + later, "duration_s": shift + second.duration_s}
    )
    pairing = pair(article_of(tmp_path, f"{BREAD}\n\n{BIKES}"), transcript)
    assert [b.status for b in pairing.blocks] == ["paired", "paired"]
    assert len(pairing.audio_only) == 1 and pairing.audio_only[0].text == ""
    assert pairing.audio_only[0].end_s - pairing.audio_only[0].start_s >= 15.0


# --- contract -----------------------------------------------------------------------------------


def test_pairing_json_round_trip_and_coverage_line(tmp_path: Path) -> None:
    told = BREAD_TOLD + ASIDE_TOLD
    pairing = pair(article_of(tmp_path, f"# Title\n\n{BREAD}\n\n{BIKES}"), transcript_of(told))
    path = tmp_path / "pairing.json"
    write_model(path, pairing)
    again = read_model(path, Pairing)
    assert again == pairing
    assert [b.index for b in again.blocks] == list(range(len(again.blocks)))
    told_pct = round(100 * pairing.coverage.article_told)
    covered_pct = round(100 * pairing.coverage.episode_covered)
    assert describe_coverage(pairing).startswith(
        f"article told {told_pct} % · episode covered {covered_pct} %"
    )
    assert 0 < told_pct < 100 and 0 < covered_pct < 100
