"""A retold block keeps whole sentences: a sentence Whisper wrote is not split between two retold
blocks, nor between a block and audio only (pipeline.pairing.passages.whole_sentences)."""

from __future__ import annotations

from pipeline.pairing.passages import MAX_SENTENCE_WORDS, sentence_ranges, whole_sentences
from pipeline.pairing.words import Token, word_key


def tokens_of(text: str, *, pause_after: int | None = None) -> list[Token]:
    out, t = [], 0.0
    for n, word in enumerate(text.split()):
        out.append(Token(word_key(word), f" {word}", t, t + 0.3, n // 5))
        t += 0.35 + (1.5 if n == pause_after else 0.0)
    return out


def test_sentences_end_at_a_full_stop_or_a_long_pause() -> None:
    tokens = tokens_of("one two three. four five six seven eight", pause_after=5)
    assert sentence_ranges(tokens) == [(0, 3), (3, 6), (6, 8)]


def test_the_untold_end_of_a_retold_sentence_goes_to_its_block_and_the_aside_stays_untold() -> None:
    tokens = tokens_of("Light comes next, half a day at least, so find the sunny spot. By the way my cat sleeps here.")
    owners: list[int | None] = [1] * 8 + [None] * 5 + [None] * 7
    assert whole_sentences(tokens, owners) == [1] * 13 + [None] * 7


def test_a_sentence_split_between_two_retold_blocks_goes_to_the_one_telling_most_of_it() -> None:
    tokens = tokens_of("The members promised to work together so that rights are respected. And to keep it, share it.")
    owners: list[int | None] = [6] * 7 + [7] * 4 + [7] * 7
    assert whole_sentences(tokens, owners) == [6] * 11 + [7] * 7


def test_a_block_telling_little_of_a_sentence_and_an_unpunctuated_run_keep_their_labels() -> None:
    few = tokens_of("okay so my cat has decided that the new bed is the best place in the whole house.")
    owners: list[int | None] = [2] * 2 + [None] * 16
    assert whole_sentences(few, owners) == owners
    long = tokens_of(" ".join(["word"] * (MAX_SENTENCE_WORDS + 1)))
    owners = [3] * 20 + [None] * (MAX_SENTENCE_WORDS + 1 - 20)
    assert whole_sentences(long, owners) == owners
