"""How much the pairing depends on Whisper's commas: each case paired again on transcripts that
differ from its own by one comma dropped.

A comma ends a unit once it is long enough (pipeline.pairing.units), so one comma more or less
moves a unit's boundary: two phrases become one sentence, and what its neighbours lend it changes.
Whisper does not write the same commas in every run: another transcript of the same recording can
be one of these variants rather than the one the table above scored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cases import Case
from word_scoring import score_words

from pipeline.models import Pairing, Transcript


@dataclass(frozen=True)
class Robustness:
    case: str
    variants: int
    all_within_10: float  # share of variants with every block within ±1.0 s
    worst_s: float | None  # the worst block start error over the variants
    worst_variant: str  # the comma whose dropping gave it
    worst_iou: float | None  # the worst aside IoU over the variants
    below_07: int  # variants with an aside below IoU 0.7


def comma_variants(transcript: Transcript) -> Iterator[tuple[str, Transcript]]:
    """The transcript once with each of its commas dropped (named by the word that carried it)."""
    for s, segment in enumerate(transcript.segments):
        for w, word in enumerate(segment.words):
            if not word.text.rstrip().endswith(","):
                continue
            words = list(segment.words)
            words[w] = word.model_copy(update={"text": word.text.rstrip()[:-1]})
            segments = list(transcript.segments)
            segments[s] = segment.model_copy(update={"words": words})
            yield word.text.strip(), transcript.model_copy(update={"segments": segments})


def robustness(case: Case, transcript: Transcript, pair: Callable[[Transcript], Pairing]) -> Robustness:
    """`pair` over every comma variant of the case's transcript."""
    results = [(score_words(case, pair(variant)), comma) for comma, variant in comma_variants(transcript)]
    if not results:
        return Robustness(case.name, 0, 1.0, None, "—", None, 0)
    worst = max(results, key=lambda r: r[0].worst_s or 0.0)
    ious = [r.iou for r, _ in results if r.iou is not None]
    return Robustness(
        case=case.name,
        variants=len(results),
        all_within_10=sum(r.within_10 == 1.0 for r, _ in results) / len(results),
        worst_s=worst[0].worst_s,
        worst_variant=worst[1],
        worst_iou=min(ious) if ious else None,
        below_07=sum(i < 0.7 for i in ious),
    )
