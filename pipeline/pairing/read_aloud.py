"""Where a sentence read aloud and the transcript's words for it differ: what a correction may change.

For every sentence the pairing found read word for word (pairing.json's `sentences`), the
transcript's words in its time range are aligned with the article's words; each stretch where they
differ is a `Difference`: the transcript words there (none when the article has words the transcript
lacks) and the article's words. Words the transcript has and the article does not (a filler, a word
added while reading) are never a difference: nothing heard is taken out.

A difference may run over two of Whisper's segments (Whisper cuts its segments by time, not by
sentence), as long as the later segment keeps words of its own. One whose words have the same
letters as the article's once case, accents, hyphens, spaces and doubled letters are set aside
("Eric" / "Éric", "read-along studio" / "ReadAlong-Studio", "Joannis" / "Joanis") sounds the same:
it is marked `spelling`, a question of writing that no speech model can settle.

A sentence that Whisper garbled past recognition (too few of its words in order to count as read)
but whose place is known is one `whole` difference: all the transcript's words there against the
article's sentence, for the speech model to decide as a sentence (pipeline.transcribe.correct).
Its place: in a block read aloud, between its read neighbours; in a block that looks retold, where
at least `MIN_GARBLED_SHARE` of its words are heard in order. A sentence really retold is in that
second set too: there the model must prefer the article's sentence to its own transcription
(pipeline.transcribe.correct), and a retold sentence's words are not in the audio.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from pipeline.models import PairedBlock, Pairing, SentenceSpan, Transcript, Word
from pipeline.pairing.spans import BlockSpan
from pipeline.pairing.units import build_units
from pipeline.pairing.words import Token, place_sentences, transcript_tokens, word_key

# A replacement this many words long or more (on either side) is not a misheard word but another text.
MAX_DIFFERENCE_WORDS = 12
# The article's words must be at least this share of the heard words' length (in letters).
MIN_LENGTH_RATIO = 0.75
# An acronym is said letter by letter ("CNRC": "cé enne erre cé"): letters it takes to say one.
SPOKEN_LETTER_CHARS = 2.5
# A garbled sentence's place holding this many times more words than the sentence holds other talk.
MAX_GARBLED_RATIO = 1.5
# ... and at least this share of the sentence's words, said at most this fast: the sentence must fit.
MIN_GARBLED_RATIO = 0.6
MAX_WORDS_PER_S = 4.5
# In a block that looks retold, a sentence with this share of its words heard in order may be garbled.
MIN_GARBLED_SHARE = 0.3

_DOUBLED = re.compile(r"(.)\1+")
# What a language writes and does not say. Letters, wherever they are: French h, but in ch, ph and sh
# ("athlètes" / "atlètes"). Endings: a word differing from another only by them sounds the same
# ("servi" / "servis", "leur" / "leurs", "semblerait" / "sembleraient", "grand" / "grands"); one
# ending of each group is set aside, in order, when at least MIN_STEM letters are left (so "les" and
# "le", "des" and "de", which sound different, stay apart).
UNSAID: dict[str, tuple[re.Pattern[str], tuple[tuple[str, ...], ...]]] = {
    "fr": (re.compile(r"(?<![cps])h"), (("s", "x"), ("ent",), ("t", "e", "d"))),
}
MIN_STEM = 3

@dataclass(frozen=True)
class WordRef:
    segment: int  # index in transcript.segments
    word: int  # index in that segment's words


@dataclass(frozen=True)
class Difference:
    heard: tuple[WordRef, ...]  # the transcript's words there (empty: an insertion)
    after: WordRef | None  # for an insertion: the transcript word it follows (None: at the start)
    article: tuple[str, ...]  # the article's words, as written
    spelling: bool = False  # the same sounds written otherwise (see the module)
    whole: bool = False  # a garbled sentence against the article's (see the module)
    retold: bool = False  # that sentence is in a block that looks retold


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
    asides = [(a.start_s, a.end_s) for a in pairing.audio_only]
    out: list[ReadSentence] = []
    tokens = transcript_tokens(build_units(transcript))
    read = [(b.start_s, b.end_s) for b in pairing.blocks if b.delivery == "read" and b.start_s is not None]
    for block in pairing.blocks:
        if block.delivery == "retold":  # not over an aside nor over a block read aloud
            out.extend(_retold_sentences(block, tokens, refs, transcript, [*asides, *read]))  # type: ignore[list-item]
        if block.delivery != "read":
            continue
        for n, sentence in enumerate(block.sentences):
            if not sentence.read:
                out.extend(_garbled(sentence.text, _garbled_place(block.sentences, n), refs, transcript, asides))
                continue
            if sentence.start_s is None or sentence.end_s is None:
                continue
            inside = _inside(refs, sentence.start_s, sentence.end_s)
            if inside:
                differences = _differences(sentence.text, inside, transcript)
                out.append(ReadSentence(sentence.text, sentence.start_s, sentence.end_s, tuple(inside), differences))
    return out


def _retold_sentences(
    block: PairedBlock,
    tokens: Sequence[Token],
    refs: Sequence[tuple[WordRef, Word]],
    transcript: Transcript,
    asides: Sequence[tuple[float, float]],
) -> list[ReadSentence]:
    """The sentences of a block that looks retold, placed where enough of their words are heard."""
    if block.start_s is None or block.end_s is None:
        return []
    out: list[ReadSentence] = []
    for sentence in place_sentences(block.text, BlockSpan(block.start_s, block.end_s, 0.0), tokens):
        if sentence.share >= MIN_GARBLED_SHARE and sentence.first is not None and sentence.stop is not None:
            place = (tokens[sentence.first].start_s, tokens[sentence.stop - 1].end_s)
            out.extend(_garbled(sentence.text, place, refs, transcript, asides, retold=True))
    return out


def _inside(refs: Sequence[tuple[WordRef, Word]], start_s: float, end_s: float) -> list[WordRef]:
    return [r for r, w in refs if w.start_s >= start_s - 0.01 and w.end_s <= end_s + 0.01]


def _garbled_place(sentences: Sequence[SentenceSpan], n: int) -> tuple[float, float] | None:
    """Where a sentence not read word for word was said: from the end of the sentence before (or its
    own first matched word) to the start of the one after (or its own last matched word)."""
    before = sentences[n - 1].end_s if n > 0 else None
    after = sentences[n + 1].start_s if n + 1 < len(sentences) else None
    own = sentences[n]
    start_s = before if before is not None else own.start_s
    end_s = after if after is not None else own.end_s
    if start_s is None or end_s is None or end_s <= start_s:
        return None
    return start_s + 0.01, end_s - 0.01


def _garbled(
    text: str,
    place: tuple[float, float] | None,
    refs: Sequence[tuple[WordRef, Word]],
    transcript: Transcript,
    asides: Sequence[tuple[float, float]],
    *,
    retold: bool = False,
) -> list[ReadSentence]:
    """A garbled sentence as one whole difference, unless an aside is there or the words there are
    far more or far fewer than the sentence's (other talk, or a sentence that cannot fit)."""
    if place is None or any(a < place[1] and b > place[0] for a, b in asides):
        return []
    said = tuple(r for r, w in refs if place[0] <= (w.start_s + w.end_s) / 2 <= place[1])
    written = article_sentence_words(text)
    if not said or not written or not _later_segments_keep_words(said, transcript):
        return []
    start_s = transcript.segments[said[0].segment].words[said[0].word].start_s
    end_s = transcript.segments[said[-1].segment].words[said[-1].word].end_s
    heard = len(_groups(said, transcript))
    fits = MIN_GARBLED_RATIO * len(written) <= heard <= MAX_GARBLED_RATIO * len(written) + 2
    if not fits or len(written) > MAX_WORDS_PER_S * (end_s - start_s):
        return []
    difference = Difference(said, None, tuple(written), whole=True, retold=retold)
    return [ReadSentence(text, start_s, end_s, said, (difference,))]


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
    language = transcript.language
    written = article_sentence_words(text)
    groups = _groups(refs, transcript)
    keys: list[str] = []
    spelled: list[str] = []  # each key's word as Whisper wrote it
    owner: list[int] = []  # the group each key comes from (a restored name is several words)
    for g, group in enumerate(groups):
        for part in "".join(transcript.segments[r.segment].words[r.word].text for r in group).split():
            if word_key(part):
                keys.append(word_key(part))
                spelled.append(part)
                owner.append(g)
    matcher = SequenceMatcher(None, [word_key(w) for w in written], keys, autojunk=False)
    out: list[Difference] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(_respelled(written, spelled, owner, groups, i1, i2, j1))
            continue
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
        if not _later_segments_keep_words(said, transcript):
            continue
        same = op == "replace" and _sound_key(written[i1:i2], language) == _sound_key(spelled[j1:j2], language)
        out.append(Difference(said, after, tuple(written[i1:i2]), spelling=same))
    return tuple(out)


def _respelled(
    written: Sequence[str],
    spelled: Sequence[str],
    owner: Sequence[int],
    groups: Sequence[Sequence[WordRef]],
    i1: int,
    i2: int,
    j1: int,
) -> list[Difference]:
    """Words matched on their folded letters but written with other accents ("Eric" / "Éric")."""
    out = []
    for n in range(i2 - i1):
        i, j = i1 + n, j1 + n
        if _letters(written[i]) != _letters(spelled[j]) and _whole_groups(owner, j, j + 1):
            out.append(Difference(tuple(groups[owner[j]]), None, (written[i],), spelling=True))
    return out


def _letters(word: str) -> str:
    """A word's letters as written (accents kept), lower case: what a respelling changes."""
    return "".join(c for c in unicodedata.normalize("NFC", word.casefold()) if c.isalnum())


def _sound_key(words: Sequence[str], language: str) -> str:
    """Letters without case, accents, spaces, hyphens, doubled letters or what the language does not
    say (UNSAID): words that sound alike."""
    unsaid = UNSAID.get(language.split("-")[0].lower())
    keys = [word_key(w) for w in words]
    if unsaid is not None:
        keys = [_said(k, *unsaid) for k in keys]
    return _DOUBLED.sub(r"\1", "".join(keys))


def _said(key: str, letters: re.Pattern[str], endings: tuple[tuple[str, ...], ...]) -> str:
    key = letters.sub("", key)
    for group in endings:
        ending = next((e for e in group if key.endswith(e) and len(key) - len(e) >= MIN_STEM), "")
        key = key[: len(key) - len(ending)]
    return key


def _later_segments_keep_words(said: Sequence[WordRef], transcript: Transcript) -> bool:
    """A replacement across segments goes to the first: every later one must keep a word of its own."""
    later = {r.segment for r in said} - {said[0].segment} if said else set()
    for segment in later:
        own = [w for w, word in enumerate(transcript.segments[segment].words) if word.text.strip()]
        if all(WordRef(segment, w) in said for w in own):
            return False
    return True


def _whole_groups(owner: Sequence[int], j1: int, j2: int) -> bool:
    """Whether keys[j1:j2] are whole transcript words (not part of a word holding several)."""
    starts = j1 == 0 or owner[j1 - 1] != owner[j1]
    ends = j2 == len(owner) or owner[j2] != owner[j2 - 1]
    return starts and ends


def _comparable(written: Sequence[str], heard: Sequence[str]) -> bool:
    """A misheard stretch sounds about as long as the words it stands for; the article's words
    replacing much longer talk would drop words that were said."""
    article_chars = sum(_spoken_chars(w) for w in written)
    heard_chars = sum(len(k) for k in heard)
    return article_chars >= MIN_LENGTH_RATIO * heard_chars


def _spoken_chars(word: str) -> float:
    """About how many letters saying the word takes (an acronym's letters are said one by one)."""
    key = word_key(word)
    letters = [c for c in word if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return SPOKEN_LETTER_CHARS * len(key)
    return float(len(key))
