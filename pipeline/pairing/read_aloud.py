"""Where a sentence read aloud and the transcript's words for it differ: what a correction may change.

For every sentence the pairing found read word for word (pairing.json's `sentences`), the
transcript's words in its time range are aligned with the article's words; each stretch where they
differ is a `Difference`: the transcript words there (none when the article has words the transcript
lacks) and the article's words. Words the transcript has and the article does not (a filler, a word
added while reading) are never a difference: nothing heard is taken out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from pipeline.models import Pairing, Transcript, Word
from pipeline.pairing.words import word_key

# A replacement this many words long or more (on either side) is not a misheard word but another text.
MAX_DIFFERENCE_WORDS = 12
# The article's words must be at least this share of the heard words' length (in letters).
MIN_LENGTH_RATIO = 0.75


@dataclass(frozen=True)
class WordRef:
    segment: int  # index in transcript.segments
    word: int  # index in that segment's words


@dataclass(frozen=True)
class Difference:
    heard: tuple[WordRef, ...]  # the transcript's words there (empty: an insertion)
    after: WordRef | None  # for an insertion: the transcript word it follows (None: at the start)
    article: tuple[str, ...]  # the article's words, as written


@dataclass(frozen=True)
class ReadSentence:
    text: str
    start_s: float
    end_s: float
    words: tuple[WordRef, ...]  # every transcript word said in it, in order
    differences: tuple[Difference, ...]


def read_sentences(pairing: Pairing, transcript: Transcript) -> list[ReadSentence]:
    """The sentences read aloud, each with its transcript words and where they differ from it."""
    refs = _word_refs(transcript)
    out: list[ReadSentence] = []
    for block in pairing.blocks:
        if block.delivery != "read":
            continue
        for sentence in block.sentences:
            if not sentence.read or sentence.start_s is None or sentence.end_s is None:
                continue
            inside = [r for r, w in refs if w.start_s >= sentence.start_s - 0.01 and w.end_s <= sentence.end_s + 0.01]
            if inside:
                differences = _differences(sentence.text, inside, transcript)
                out.append(ReadSentence(sentence.text, sentence.start_s, sentence.end_s, tuple(inside), differences))
    return out


def _word_refs(transcript: Transcript) -> list[tuple[WordRef, Word]]:
    return [
        (WordRef(s, w), word)
        for s, segment in enumerate(transcript.segments)
        for w, word in enumerate(segment.words)
        if word.text.strip()
    ]


def article_sentence_words(text: str) -> list[str]:
    """The sentence's words as written; a mark standing alone (« : ») stays with the word before."""
    out: list[str] = []
    for word in text.split():
        if out and not word_key(word):
            out[-1] = f"{out[-1]} {word}"
        elif word_key(word):
            out.append(word)
    return out


def _groups(refs: Sequence[WordRef], transcript: Transcript) -> list[list[WordRef]]:
    """Whisper's pieces joined into words (a piece without a leading space continues the word)."""
    groups: list[list[WordRef]] = []
    for ref in refs:
        text = transcript.segments[ref.segment].words[ref.word].text
        if groups and not text.startswith(" ") and groups[-1][-1].segment == ref.segment:
            groups[-1].append(ref)
        else:
            groups.append([ref])
    return groups


def _differences(text: str, refs: Sequence[WordRef], transcript: Transcript) -> tuple[Difference, ...]:
    written = article_sentence_words(text)
    groups = _groups(refs, transcript)
    keys: list[str] = []
    owner: list[int] = []  # the group each key comes from (a restored name is several words)
    for g, group in enumerate(groups):
        for part in "".join(transcript.segments[r.segment].words[r.word].text for r in group).split():
            if word_key(part):
                keys.append(word_key(part))
                owner.append(g)
    matcher = SequenceMatcher(None, [word_key(w) for w in written], keys, autojunk=False)
    out: list[Difference] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op not in ("replace", "delete") or max(i2 - i1, j2 - j1) >= MAX_DIFFERENCE_WORDS:
            continue
        if op == "delete" and j1 == 0:  # before the sentence's first word: no time to put it at
            continue
        if op == "replace" and not _whole_groups(owner, j1, j2):
            continue
        said = tuple(r for g in groups[owner[j1] : owner[j2 - 1] + 1] for r in g) if op == "replace" else ()
        after = groups[owner[j1 - 1]][-1] if op == "delete" else None
        if op == "replace" and not _comparable(written[i1:i2], keys[j1:j2]):
            continue
        if len({r.segment for r in said}) > 1:  # across two segments: whose time would it take?
            continue
        out.append(Difference(said, after, tuple(written[i1:i2])))
    return tuple(out)


def _whole_groups(owner: Sequence[int], j1: int, j2: int) -> bool:
    """Whether keys[j1:j2] are whole transcript words (not part of a word holding several)."""
    starts = j1 == 0 or owner[j1 - 1] != owner[j1]
    ends = j2 == len(owner) or owner[j2] != owner[j2 - 1]
    return starts and ends


def _comparable(written: Sequence[str], heard: Sequence[str]) -> bool:
    """A misheard stretch sounds about as long as the words it stands for; the article's words
    replacing much longer talk would drop words that were said."""
    article_chars = sum(len(word_key(w)) for w in written)
    heard_chars = sum(len(k) for k in heard)
    return article_chars >= MIN_LENGTH_RATIO * heard_chars
