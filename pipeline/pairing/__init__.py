"""The pair stage. Takes the article and the current transcript; gives a `Pairing` (`pairing.json`):
each article block with the span of the episode that tells it (or `text_only`), the passages only
the audio has, and chapters.
"""

from pipeline.pairing.pair import describe_coverage, pair_article
from pipeline.pairing.read_aloud import Difference, ReadSentence, WordRef, read_sentences

__all__ = [
    "Difference",
    "ReadSentence",
    "WordRef",
    "describe_coverage",
    "pair_article",
    "read_sentences",
]
