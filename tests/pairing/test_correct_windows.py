"""Which stretch of audio each of the article's candidates is scored on (transcribe.correct.plan_windows).

No model here: the windows the transcription encoded are given (their outputs stand in as plain
objects), and the plan says which candidates go to which window and which are encoded anew.
"""

from __future__ import annotations

from pipeline.models import Segment, Transcript, Word
from pipeline.pairing import Difference, ReadSentence, WordRef
from pipeline.transcribe.correct import plan_windows, split_on_windows
from pipeline.transcribe.engines.encoded import EncodedWindow

# Twelve words of 0.5 s each, 0.0-6.0 s; the transcription's windows cut at 3.0 s.
WORDS = "un deux trois quatre cinq six sept huit neuf dix onze douze".split()
FIRST, SECOND = object(), object()
WINDOWS = [EncodedWindow(0.0, 3.0, FIRST), EncodedWindow(3.0, 6.0, SECOND)]


def transcript() -> Transcript:
    words = [Word(start_s=n * 0.5, end_s=n * 0.5 + 0.45, text=f" {w}", probability=0.9) for n, w in enumerate(WORDS)]
    segment = Segment(id=0, start_s=0.0, end_s=6.0, text="".join(w.text for w in words), words=words)
    return Transcript(language="fr", engine="openai-whisper", model="base", audio_sha256="0" * 64,
                      duration_s=6.0, segments=[segment])


def ref(n: int) -> WordRef:
    return WordRef(0, n)


def sentence(first: int, last: int, *differences: Difference) -> ReadSentence:
    words = tuple(ref(n) for n in range(first, last + 1))
    return ReadSentence("…", first * 0.5, last * 0.5 + 0.45, words, differences)


def replace(*heard: int) -> Difference:
    return Difference(heard=tuple(ref(n) for n in heard), after=None, article=("autre",))


def test_a_sentence_over_two_windows_is_scored_on_both_and_encoded_nowhere() -> None:
    early, late = replace(3), replace(8, 9)
    pieces = split_on_windows(sentence(2, 10, early, late), transcript(), WINDOWS)
    assert [(p.words[0], p.words[-1], p.differences) for p in pieces] == [
        (ref(2), ref(5), (early,)),  # 1.0-2.95 s: in the first window
        (ref(6), ref(10), (late,)),  # 3.0-5.45 s: in the second
    ]
    windows = plan_windows([sentence(2, 10, early, late)], transcript(), WINDOWS)
    assert [w.features for w in windows] == [FIRST, SECOND]
    # In the second window, the text starts at its first word (after every word heard since its start).
    assert windows[1].refs[0] == ref(6) and windows[1].refs[-1] == ref(10)


def test_a_candidate_over_the_edge_and_a_whole_sentence_are_encoded_anew() -> None:
    over = replace(5, 6)  # 2.5-3.45 s: half in each window
    whole = Difference(heard=tuple(ref(n) for n in range(2, 11)), after=None, article=("tout", "autre"), whole=True)
    for difference in (over, whole):
        (piece,) = split_on_windows(sentence(2, 10, difference), transcript(), WINDOWS)
        assert piece.words == sentence(2, 10).words and piece.differences == (difference,)
        (window,) = plan_windows([piece], transcript(), WINDOWS)
        assert window.features is None and window.start_s < 1.0 and window.end_s > 5.45


def test_an_insertion_needs_the_words_on_both_its_sides_in_the_window() -> None:
    at_edge = Difference(heard=(), after=ref(5), article=("encore",))  # between 2.95 s and 3.0 s
    inside = Difference(heard=(), after=ref(7), article=("encore",))
    pieces = split_on_windows(sentence(2, 10, at_edge, inside), transcript(), WINDOWS)
    assert [(p.words[0], p.differences) for p in pieces] == [(ref(2), (at_edge,)), (ref(6), (inside,))]
    assert pieces[0].words == sentence(2, 10).words  # what is left: the whole sentence, encoded anew


def test_a_sentence_inside_one_window_or_without_windows_stays_whole() -> None:
    one = sentence(0, 4, replace(1))
    assert split_on_windows(one, transcript(), WINDOWS) == [one]
    assert split_on_windows(sentence(2, 10, replace(3)), transcript(), []) == [sentence(2, 10, replace(3))]
