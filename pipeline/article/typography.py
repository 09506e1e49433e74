"""Text as creators type it and as matching needs it.

The article keeps its typography (« », ’, non-breaking spaces); matching works on a folded form
(lower case, no accents, straight quotes, plain spaces) so that "l’équipe" in the article and
"l'équipe" in a transcript are the same words.
"""

from __future__ import annotations

import re
import unicodedata

# Spaces a French text uses around « » ; : ! ? (U+00A0 no-break, U+202F narrow no-break, U+2009 thin).
NBSP_CHARS = "\u00a0\u202f\u2007\u2009\u2008\u200a"
_FOLD_TABLE = str.maketrans(
    {
        **{c: " " for c in NBSP_CHARS},
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u0153": "oe",
        "\u00e6": "ae",
        "\u00df": "ss",
    }
)
# ASCII whitespace only: Python's \s also matches no-break spaces, which the article keeps.
_ASCII_WS = re.compile(r"[ \t\n\r\f\v]+")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
# A Mac Roman no-break space (0xCA) read as Latin-1/UTF-8 shows up as "Ê" glued to a lower-case word.
_MACROMAN_NBSP = re.compile(r"(?<=[a-zàâçéèêëîïôûùüÿœ])\u00ca(?= )")


def collapse_spaces(text: str) -> str:
    """Collapse runs of ASCII whitespace to one space; no-break spaces are kept as typed."""
    return _ASCII_WS.sub(" ", text).strip(" \t\n\r\f\v")


def fix_mojibake(text: str) -> tuple[str, int]:
    """Drop the no-break spaces that a Mac Roman copy turned into "Ê" (a space follows them anyway).

    Returns (text, repairs). French words never end in a capital Ê, so the pattern is safe.
    """
    fixed, count = _MACROMAN_NBSP.subn("", text)
    return fixed, count


def fold(text: str) -> str:
    """Lower case, accents removed, quotes and spaces made plain: the form used for matching."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLD_TABLE).lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return collapse_spaces(text)


def words(text: str) -> list[str]:
    """Folded words of a text ("l’équipe" -> ["l'equipe"]); digits count as words."""
    return _WORD.findall(fold(text))


def slugify(text: str, *, max_len: int = 60) -> str:
    """An ASCII anchor/slug: "L’été à Paris !" -> "l-ete-a-paris"."""
    folded = fold(text).replace("'", "-")
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug
