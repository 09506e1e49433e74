"""The article helps the transcript: its vocabulary primes Whisper, its spelling fixes names after.

Whisper spells a name the way it heard it ("dojo créa saint maur"); the creator wrote it once in the
article ("Dojo Créa Saint-Maur"). Before decoding, the article's title, names and rare words become
Whisper's `initial_prompt` (read as "previous text", it biases spelling and style). After decoding,
any run of transcript words whose letters match an article term, ignoring case, accents, hyphens and
spaces, takes the article's spelling.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipeline.article import Article
from pipeline.models import Segment, Word

# Whisper keeps at most 223 prompt tokens (half its 448-token context); stay well below.
PROMPT_MAX_TOKENS = 120
_TOKEN_RE = re.compile(r"[\w’']+(?:-[\w’']+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…:]\s*$|^\s*$")
_CONNECTORS = frozenset({"de", "du", "des", "la", "le", "d", "of", "von", "van", "del", "di"})
_MIN_KEY = 4  # shorter names match too many ordinary words
_FUZZY_MIN_KEY = 7
_FUZZY_RATIO = 0.88
_MAX_SPAN_EXTRA = 1  # transcript may split a term into one more piece than the article has


@dataclass(frozen=True)
class Term:
    text: str  # the article's spelling
    key: str  # letters and digits only, lowercase, no accents

    @property
    def pieces(self) -> int:
        return len(re.split(r"[\s\-]+", self.text))


def fold(text: str) -> str:
    """Lowercase letters and digits without accents: the key two spellings of a name share."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def _is_capitalized(token: str) -> bool:
    return token[:1].isupper()


def _has_inner_mark(token: str) -> bool:
    """CamelCase, inner capitals (ReadAlong, CNRC) or a hyphenated compound."""
    return any(ch.isupper() for ch in token[1:]) or "-" in token


def _name_phrases(text: str) -> list[str]:
    """Runs of capitalized tokens not at a sentence start ("Dojo Créa Saint-Maur", "Éric Joanis")."""
    phrases: list[str] = []
    for line in text.splitlines():
        tokens = [(m.group(0), m.start()) for m in _TOKEN_RE.finditer(line)]
        run: list[str] = []
        for token, pos in [*tokens, ("", len(line))]:
            starts_sentence = bool(_SENTENCE_END.search(line[:pos]))
            if starts_sentence or not token:
                _close(run, phrases)
            if token and _is_capitalized(token) and (not starts_sentence or _has_inner_mark(token) or run):
                run.append(token)
            elif token.lower() in _CONNECTORS and run:
                run.append(token)
            else:
                _close(run, phrases)
    return phrases


def _close(run: list[str], phrases: list[str]) -> None:
    while run and run[-1].lower() in _CONNECTORS:
        run.pop()
    if run:
        phrases.append(" ".join(run))
    run.clear()


def _lowercase_words(text: str) -> set[str]:
    return {tok for tok in _TOKEN_RE.findall(text) if tok.islower()}


def extract_terms(article: Article) -> list[Term]:
    """Names and marked words of the article, longest first, without ordinary words."""
    text = article.text if article.title is None else f"{article.title}\n{article.text}"
    ordinary = {fold(w) for w in _lowercase_words(text)}
    candidates = _name_phrases(text)
    candidates += [tok for tok in _TOKEN_RE.findall(text) if "-" in tok]
    seen: dict[str, Term] = {}
    for phrase in candidates:
        key = fold(phrase)
        if len(key) < _MIN_KEY or key in seen:
            continue
        if " " not in phrase and "-" not in phrase and key in ordinary:
            continue  # also written in lowercase: an ordinary word that began a line
        seen[key] = Term(text=phrase, key=key)
    return sorted(seen.values(), key=lambda t: (-len(t.key), t.key))


# --- prompt -------------------------------------------------------------------------------------


def _rare_words(text: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Words the tokenizer splits into many pieces: the ones Whisper is least sure to spell."""
    bare = (re.split(r"[’']", tok)[-1] for tok in _TOKEN_RE.findall(text))  # l'équipe -> équipe
    words = {tok for tok in bare if len(tok) >= 6 and tok.islower()}
    scored = sorted(words, key=lambda w: (-count_tokens(" " + w) / len(w), w))
    return [w for w in scored if count_tokens(" " + w) >= 3][:limit]


def build_prompt(
    article: Article,
    count_tokens: Callable[[str], int],
    *,
    max_tokens: int = PROMPT_MAX_TOKENS,
) -> str | None:
    """Title, then names, then rare words, as one comma-separated line within max_tokens."""
    terms = [t.text for t in sorted(extract_terms(article), key=lambda t: t.key)]
    rare = _rare_words(article.text, count_tokens, limit=40)
    parts = _unique([*terms, *rare])
    prompt = f"{article.title.strip()}." if article.title else ""
    for part in parts:
        candidate = f"{prompt} {part}," if prompt else f"{part},"
        if count_tokens(" " + candidate) > max_tokens:
            break
        prompt = candidate
    prompt = prompt.rstrip(",").strip()
    return prompt + "." if prompt and not prompt.endswith(".") else (prompt or None)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- spelling restoration -------------------------------------------------------------------------


def _edges(text: str) -> tuple[str, str]:
    """Leading (space, opening punctuation) and trailing punctuation around a word's letters."""
    lead = re.match(r"^[^\w]*", text)
    trail = re.search(r"[^\w]*$", text)
    return (lead.group(0) if lead else ""), (trail.group(0) if trail else "")


def _fuzzy_ratio(joined: str, term: Term) -> float:
    """Similarity for near variants of long names only; same first letter, similar length."""
    if len(term.key) < _FUZZY_MIN_KEY or joined[:1] != term.key[:1]:
        return 0.0
    if abs(len(joined) - len(term.key)) > max(1, len(term.key) // 8):
        return 0.0
    return difflib.SequenceMatcher(None, joined, term.key).ratio()


def _find_term(words: list[Word], i: int, terms: list[Term]) -> tuple[Term, int] | None:
    """The term that words[i:i+span] spell: exact key first, else the closest near variant."""
    best: tuple[float, Term, int] | None = None
    for term in terms:
        for span in range(1, min(term.pieces + _MAX_SPAN_EXTRA, len(words) - i) + 1):
            joined = fold("".join(w.text for w in words[i : i + span]))
            if joined == term.key:
                return term, span
            ratio = _fuzzy_ratio(joined, term)
            if ratio >= _FUZZY_RATIO and (best is None or ratio > best[0]):
                best = (ratio, term, span)
    return (best[1], best[2]) if best else None


def _respell(words: list[Word], term: Term) -> list[Word]:
    """The words carrying the term's spelling: one per word of the term, else merged into one."""
    lead, _ = _edges(words[0].text)
    _, trail = _edges(words[-1].text)
    pieces = term.text.split(" ")
    if len(pieces) == len(words):
        out = []
        for k, (word, piece) in enumerate(zip(words, pieces, strict=True)):
            head, tail = _edges(word.text)
            text = f"{head}{piece}{tail}" if 0 < k < len(words) - 1 else word.text
            if k == 0:
                text = f"{lead}{piece}" + (trail if len(words) == 1 else tail)
            elif k == len(words) - 1:
                text = f"{head}{piece}{trail}"
            out.append(word.model_copy(update={"text": text}))
        return out
    merged = Word(
        start_s=words[0].start_s,
        end_s=words[-1].end_s,
        text=f"{lead}{term.text}{trail}",
        probability=min(w.probability for w in words),
    )
    return [merged]


def restore_words(words: list[Word], terms: list[Term]) -> list[Word]:
    out: list[Word] = []
    i = 0
    while i < len(words):
        found = _find_term(words, i, terms)
        if found is None:
            out.append(words[i])
            i += 1
            continue
        term, span = found
        out.extend(_respell(words[i : i + span], term))
        i += span
    return out


def restore_spelling(segments: list[Segment], terms: list[Term]) -> list[Segment]:
    """Segments whose words (and so text) carry the article's spelling of its names and terms."""
    if not terms:
        return segments
    restored = []
    for seg in segments:
        if not seg.words:
            restored.append(seg)
            continue
        words = restore_words(seg.words, terms)
        if words == seg.words:
            restored.append(seg)
            continue
        text = "".join(w.text for w in words).strip()
        restored.append(seg.model_copy(update={"words": words, "text": text}))
    return restored
