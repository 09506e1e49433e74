"""Words into text as the transcript writes them (pipeline.words), on words shaped as Whisper gives
them: pieces glued without a space, typed words with one."""

from __future__ import annotations

from pipeline.models import Segment, Word
from pipeline.words import join_words, segment_text, spoken_words


def _words(*texts: str, probability: float = 0.9) -> list[Word]:
    return [Word(start_s=i, end_s=i + 0.5, text=t, probability=probability) for i, t in enumerate(texts)]


def test_pieces_without_a_space_join_the_word_before() -> None:
    words = _words(" Bonjour,", " je", " m", "'appelle", " Éric.", " Quatre", "-vingt", "-huit", " ans.")
    assert join_words(words) == "Bonjour, je m'appelle Éric. Quatre-vingt-huit ans."
    spoken = spoken_words(words)
    assert [w.text for w in spoken] == ["Bonjour,", "je", "m'appelle", "Éric.", "Quatre-vingt-huit", "ans."]
    glued = spoken[2]
    assert (glued.start_s, glued.end_s) == (2, 3.5)  # from the first piece's start to the last's end


def test_the_least_sure_piece_marks_the_word() -> None:
    words = _words(" l", "'équipe")
    words[1] = words[1].model_copy(update={"probability": 0.2})
    assert [w.probability for w in spoken_words(words)] == [0.2]


def test_typed_words_and_a_first_word_without_space_stay_words() -> None:
    assert join_words(_words("Hello", " world")) == "Hello world"
    assert join_words(_words(" ", " a", "  ", " b")) == "a b"


def test_segment_text_uses_words_and_falls_back_on_text() -> None:
    with_words = Segment(id=0, start_s=0, end_s=2, text=" j 'ai", words=_words(" J", "'ai"))
    assert segment_text(with_words) == "J'ai"
    without = Segment(id=1, start_s=0, end_s=2, text="  an   edited\n text ")
    assert segment_text(without) == "an edited text"
