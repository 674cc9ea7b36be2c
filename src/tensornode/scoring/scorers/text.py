"""Normalising answers and pulling the answer out of a longer reply.

Extraction rules (the same for every verifiable family, documented for miners):

1. a marked answer wins: the text after the *last* ``answer:``, ``answer is``, ``result
   is`` or ``=``;
2. then the last ``**bold**``, backtick or double-quoted span;
3. otherwise the last non-empty line of the reply.

Numbers are read after dropping thousands separators (``1,234`` -> 1234, only when the
groups are exactly three digits, so a list ``7, 19`` stays a list), and the number words
zero to twenty are understood. Strings compare after :func:`normalize` (strip, casefold,
surrounding quotes and trailing punctuation dropped, whitespace collapsed). So a model
that explains itself and finishes with the answer scores, and listing several guesses
does not help: only one candidate (plus the whole reply) is compared.
"""

from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")
_MARKERS = re.compile(
    r"(?:final answer|answer|result)\s*(?:is|:|=)\s*|=\s*",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`|\"([^\"]+)\"|\u201c([^\u201d]+)\u201d")
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])")
_NUMBER = re.compile(r"(?<![\w.])[-\u2212]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_STRIP_CHARS = " \t\r\n\"'`*_.,;:!?()[]{}<>\u201c\u201d\u2018\u2019"

NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


def normalize(text: str) -> str:
    """Casefold, NFKC, collapse whitespace, strip quotes and surrounding punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _WS.sub(" ", text).strip(_STRIP_CHARS)


def loose(text: str) -> str:
    """Letters and digits only, single-spaced: for echo and copy comparisons."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text))


def answer_candidate(reply: str) -> str:
    """The part of ``reply`` that is the answer, by the module's extraction rules."""
    text = reply.strip()
    if not text:
        return ""
    emphasis = [next(g for g in m.groups() if g) for m in _EMPHASIS.finditer(text)]
    markers = list(_MARKERS.finditer(text))
    if markers:
        tail = text[markers[-1].end() :]
        first_line = tail.strip().splitlines()[0] if tail.strip() else ""
        if first_line:
            return first_line.strip()
    if emphasis:
        return emphasis[-1].strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def drop_thousands(text: str) -> str:
    """``1,234,567`` -> ``1234567``; lists like ``7, 19`` are left alone."""
    return _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), text)


def numbers_in(text: str) -> list[float]:
    """Every number in ``text`` in order (thousands separators and number words handled)."""
    text = drop_thousands(text).replace("\u2212", "-")
    found: list[tuple[int, float]] = [(m.start(), float(m.group())) for m in _NUMBER.finditer(text)]
    for m in _WORD.finditer(text):
        value = NUMBER_WORDS.get(m.group().casefold())
        if value is not None:
            found.append((m.start(), float(value)))
    found.sort(key=lambda item: item[0])
    return [v for _, v in found]


def extract_number(reply: str) -> float | None:
    """The answer number: the last number of the answer candidate, else of the reply."""
    for text in (answer_candidate(reply), reply):
        values = numbers_in(text)
        if values:
            return values[-1]
    return None


def words_in(text: str) -> list[str]:
    """Alphabetic words, casefolded, in order."""
    return [w.casefold() for w in _WORD.findall(text)]
