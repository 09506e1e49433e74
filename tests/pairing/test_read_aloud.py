"""What the article may correct in a sentence read aloud (pipeline.pairing.read_aloud) and how a
correction is written into the transcript (pipeline.transcribe.correct.apply_differences): the same
sounds written otherwise, a misheard word over two of Whisper's segments, an acronym said letter
by letter. Fast: the embedding model is real, no speech model is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.pairing import read_sentences
from pipeline.transcribe.correct import apply_differences, correct_from_article
from tests.pairing.test_pairing import BIKES, BREAD, article_of, pair
from tests.pairing.test_words import segments_of

NAMES = "My neighbour Zoë Joanis has repaired bicycles in her garage for twenty years and sells them cheaply."


def differences(tmp_path: Path, article: str, heard: list[str]):  # type: ignore[no-untyped-def]
    transcript, _ = segments_of(heard)
    pairing = pair(article_of(tmp_path, article), transcript)
    return transcript, pairing, [d for s in read_sentences(pairing, transcript) for d in s.differences]


def test_the_same_sounds_written_otherwise_are_spelling_and_taken_without_a_speech_model(tmp_path: Path) -> None:
    heard = NAMES.replace("Zoë Joanis", "Zoe Joannis")
    transcript, pairing, found = differences(tmp_path, f"{NAMES}\n\n{BREAD}\n", [heard, BREAD])
    assert [(d.article, d.spelling) for d in found] == [(("Zoë",), True), (("Joanis",), True)]
    # No speech model is installed under tmp_path: a spelling needs none.
    result = correct_from_article(transcript, pairing, np.zeros(16_000), model_name="base", models_dir=tmp_path)
    words = [w for s in result.transcript.segments for w in s.words]
    assert "Zoë Joanis" in result.transcript.text and result.replaced == 2
    assert [w.heard for w in words if w.from_article] == [" Zoe", " Joannis"]


FR_ARTICLE = (
    "Les intérêts de nos athlètes et de nos clubs pourraient être mieux servis. "
    "Il semblerait que cette décision soit prise avant la fin du mois de juin. "
    "Ces obligations dépassent leur stade de développement et leurs capacités. "
    "Nous avons vu les enfants jouer dans le parc pendant tout l’après-midi."
)
FR_SECOND = "Le même mois, la boutique en ligne a enregistré quarante-deux commandes et trente et un colis."


def test_french_words_that_differ_by_a_silent_ending_are_spelling(tmp_path: Path) -> None:
    heard = (
        "Les intérêts de nos atlettes et de nos clubs pourraient être mieux servi. "
        "Il sembleraient que cette décision soit prise avant la fin du mois de juin. "
        "Ces obligations dépassent leur stade de développement et leur capacité. "
        "Nous avons vu le enfants jouer dans le parc pendant tout l'après-midi."
    )
    transcript, _ = segments_of([heard, FR_SECOND])
    transcript = transcript.model_copy(update={"language": "fr"})
    pairing = pair(article_of(tmp_path, f"{FR_ARTICLE}\n\n{FR_SECOND}\n"), transcript)
    found = {d.article: d.spelling for s in read_sentences(pairing, transcript) for d in s.differences}
    # "atlettes" / "athlètes", "servi" / "servis", "sembleraient" / "semblerait", "leur capacité" /
    # "leurs capacités" sound the same; "le" / "les" do not.
    assert found == {
        ("athlètes",): True, ("servis.",): True, ("semblerait",): True, ("les",): False, ("leurs", "capacités."): True
    }
    # In English a final s is said: "cat" and "cats" are for the speech model to decide.
    english, _ = segments_of(["My two cat sleep on the sofa all day long and wake up for dinner.", BREAD])
    pairing = pair(article_of(tmp_path, "My two cats sleep on the sofa all day long and wake up for dinner.\n\n"
                              f"{BREAD}\n"), english)
    assert [(d.article, d.spelling) for s in read_sentences(pairing, english) for d in s.differences] == [
        (("cats",), False)
    ]


def test_a_word_misheard_over_two_segments_goes_whole_to_the_first(tmp_path: Path) -> None:
    first, second = BIKES.split(" gears ")
    heard = [f"{first} gea", f"rs {second}"]
    transcript, _, found = differences(tmp_path, f"{BREAD}\n\n{BIKES}\n", [BREAD, *heard])
    [difference] = found
    assert difference.article == ("gears",) and {r.segment for r in difference.heard} == {1, 2}
    corrected = apply_differences(transcript, [difference])
    one, two = corrected.segments[1], corrected.segments[2]
    assert one.text.endswith(" before the gears") and one.words[-1].heard == " gea rs"
    assert one.end_s == transcript.segments[2].words[0].end_s
    assert two.text.startswith(" do.")
    assert two.start_s == two.words[0].start_s == transcript.segments[2].words[1].start_s


def test_an_acronym_said_letter_by_letter_is_a_candidate_and_a_longer_stretch_is_not(tmp_path: Path) -> None:
    article = "She works at the CNRC in Ottawa on the alignment of the parliament's debates in two languages."
    heard = article.replace("CNRC", "scene air sea")
    _, _, found = differences(tmp_path, f"{article}\n\n{BREAD}\n", [heard, BREAD])
    assert [(d.article, d.spelling) for d in found] == [(("CNRC",), False)]
    heard = article.replace("CNRC", "scene air sea and the other offices")
    _, _, found = differences(tmp_path, f"{article}\n\n{BREAD}\n", [heard, BREAD])
    assert found == []


GARBLED = "Cling it on oily tevery fee wicks, an reap lace it bee four eat stretches the clogs."


def test_a_garbled_sentence_between_read_neighbours_is_one_whole_difference(tmp_path: Path) -> None:
    chain, oil = BIKES.split(". ")
    article = f"{BREAD}\n\n{chain}. {oil} And a spare chain costs little in any bicycle shop in town.\n"
    heard = [BREAD, f"{chain}. {GARBLED} And a spare chain costs little in any bicycle shop in town."]
    transcript, _, found = differences(tmp_path, article, heard)
    [whole] = [d for d in found if d.whole]
    assert not whole.retold and " ".join(whole.article) == oil
    said = "".join(transcript.segments[r.segment].words[r.word].text for r in whole.heard)
    assert said == f" {GARBLED}"


def test_no_whole_difference_where_far_more_or_far_fewer_words_are_said(tmp_path: Path) -> None:
    chain, oil = BIKES.split(". ")
    article = f"{BREAD}\n\n{chain}. {oil} And a spare chain costs little in any bicycle shop in town.\n"
    longer = f"{GARBLED} {GARBLED} {GARBLED}"
    heard = [BREAD, f"{chain}. {longer} And a spare chain costs little in any bicycle shop in town."]
    _, _, found = differences(tmp_path, article, heard)
    assert not [d for d in found if d.whole]
    heard = [BREAD, f"{chain}. Cling it. And a spare chain costs little in any bicycle shop in town."]
    _, _, found = differences(tmp_path, article, heard)
    assert not [d for d in found if d.whole]


def test_the_text_scored_is_written_as_whisper_writes_it() -> None:
    from pipeline.transcribe.correct import scoring_text

    # French quotation marks go, and so does the space they leave before a full stop or a comma.
    assert scoring_text("qu’« on ne devrait pas », dit-il, « leurs capacités ».") == (
        " qu'on ne devrait pas, dit-il, leurs capacités."
    )
