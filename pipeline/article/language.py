"""A plain guess at a text's language from its commonest words (enough to tell fr/en/de/es/it/pt/nl)."""

from __future__ import annotations

from collections import Counter

from pipeline.article.typography import words

STOPWORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        "le la les un une des du de et est sont pas que qui dans pour sur avec ce cette il elle nous vous "
        "je tu mais ou au aux plus par ne se sa son ses mon ma mes ton ta tes y en".split()
    ),
    "en": frozenset(
        "the a an and is are was were not that which who in for on with this it he she we you i but or "
        "of to at by from as be have has had they their there".split()
    ),
    "de": frozenset(
        "der die das ein eine und ist sind nicht dass wer in fur auf mit dieser es er sie wir ihr ich "
        "aber oder von zu im den dem des auch sich".split()
    ),
    "es": frozenset(
        "el la los las un una y es son no que quien en para por con este esta lo se su sus pero o del "
        "al como mas yo tu".split()
    ),
    "it": frozenset(
        "il lo la gli le un una e sono non che chi in per su con questo questa di da del della si ma o "
        "io tu noi voi anche".split()
    ),
    "pt": frozenset(
        "o a os as um uma e sao nao que quem em para por com este esta isso do da dos das se mas ou no "
        "na eu voce".split()
    ),
    "nl": frozenset(
        "de het een en is zijn niet dat wie in voor op met deze dit hij zij wij jij ik maar of van te "
        "ook er aan".split()
    ),
}
# Fewer recognised words than this and the text says too little to guess.
MIN_HITS = 5


def language_scores(text: str) -> dict[str, int]:
    counts = Counter(words(text))
    return {lang: sum(counts[w] for w in stop) for lang, stop in STOPWORDS.items()}


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the likeliest language among fr/en/de/es/it/pt/nl, or None when unsure."""
    scores = language_scores(text)
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best, best_hits = ranked[0]
    runner_up = ranked[1][1]
    if best_hits < MIN_HITS or best_hits < 1.3 * runner_up:
        return None
    return best
