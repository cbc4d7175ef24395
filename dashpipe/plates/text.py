"""Plate text rules: normalisation, region formats, character confusions, plausibility.

OCR engines confuse look-alike glyphs (O/0, I/1, B/8 ...). Swapping them blindly would corrupt
plates that really carry the other glyph, so a swap is made only where a configured region format
demands a letter (or a digit) at that very position, and the cheapest set of swaps wins: a swap
costs the confidence the reader had in the character it replaces.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Protocol

from dashpipe.config import PLATE_REGIONS, PlateSettings

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM_SET = frozenset(ALNUM)

# Letter -> digit and digit -> letter look-alikes, as seen in plate fonts.
LETTER_TO_DIGIT: Mapping[str, str] = {
    "O": "0", "Q": "0", "D": "0", "U": "0",
    "I": "1", "L": "1", "T": "1", "J": "1",
    "Z": "2", "S": "5", "B": "8", "G": "6", "A": "4",
}  # fmt: skip
DIGIT_TO_LETTER: Mapping[str, str] = {
    "0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G", "4": "A", "7": "T",
}  # fmt: skip

# The US preset: common serial formats and the O/0 glyph the plates share.
US_FORMATS, US_FOLD = PLATE_REGIONS["us"].formats, PLATE_REGIONS["us"].fold

SUBSTITUTION_LIMIT = 3  # most swaps tried to fit a format
MAX_FIT_COST = 2.0  # a fit costing more is not taken
DOUBT = 0.7  # only characters read with less confidence may be swapped or dropped ...
DELETE_PENALTY = 0.5  # ... and dropping one costs more than swapping it
UNKNOWN_CONFIDENCE = 0.5  # cost of touching a character whose confidence the reader did not give


def normalize(text: str) -> str:
    """Upper-case letters and digits only: spaces, dashes, dots and other marks go."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(c for c in folded if c in _ALNUM_SET)


def fold_glyphs(text: str, fold: Mapping[str, str]) -> str:
    """Replace characters a region does not tell apart by one canonical symbol."""
    return "".join(fold.get(c, c) for c in text) if fold else text


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


PARTIAL_MIN_CHARS = 4  # a shorter text inside another proves nothing


def texts_agree(a: str, b: str) -> bool:
    """Near-identical, or one a partial read of the other (a plate's end cut off in some frames)."""
    if not a or not b:
        return False
    if edit_distance(a, b) <= (1 if min(len(a), len(b)) >= 5 else 0):
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= PARTIAL_MIN_CHARS and short in long_


def similarity(a: str, b: str) -> float:
    """1.0 for equal texts, 0.0 for nothing in common (edit distance over the longer length)."""
    if not a and not b:
        return 1.0
    return 1.0 - edit_distance(a, b) / max(len(a), len(b))


@functools.lru_cache(maxsize=64)
def compile_formats(formats: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    try:
        return tuple(re.compile(f) for f in formats)
    except re.error as exc:
        raise ValueError(f"plate format is not a valid regular expression: {exc.pattern!r} ({exc})") from None


def matches_format(text: str, formats: Sequence[str]) -> bool:
    """True when no format is configured or the text fully matches one of them."""
    if not formats:
        return True
    return any(p.fullmatch(text) for p in compile_formats(tuple(formats)))


def _swap(c: str) -> str | None:
    return LETTER_TO_DIGIT.get(c) if c.isalpha() else DIGIT_TO_LETTER.get(c)


def _swap_cost(c: str, confidence: float, fold: Mapping[str, str], doubt: float) -> float | None:
    """What swapping ``c`` for its look-alike costs; None when it may not be swapped."""
    other = _swap(c)
    if other is None:
        return None
    if fold.get(c) == other or fold.get(other) == c:
        return 0.0  # the region writes both with one glyph: the format alone decides
    return confidence if confidence < doubt else None


def fit_format(
    text: str,
    formats: Sequence[str],
    confidences: Sequence[float] = (),
    fold: Mapping[str, str] | None = None,
    max_cost: float = MAX_FIT_COST,
    doubt: float = DOUBT,
) -> str:
    """The cheapest variant of ``text`` that matches a format, or ``text`` unchanged.

    Variants swap doubtful look-alike characters (at most ``SUBSTITUTION_LIMIT``) and may drop one
    doubtful character (an emblem or a stacked mark read as a character). Characters the reader was
    sure of stay, except glyphs the region folds together (O/0 on US plates), which the format
    decides for free. A text that already matches is returned unchanged.
    """
    if not formats or not text or matches_format(text, formats):
        return text
    fold = fold or {}
    patterns = compile_formats(tuple(formats))
    conf = list(confidences) if len(confidences) == len(text) else [UNKNOWN_CONFIDENCE] * len(text)
    best: tuple[float, str] | None = None
    drops: list[int | None] = [None]
    drops += [i for i, c in enumerate(conf) if c < doubt and len(text) > 1]
    for drop in drops:
        chars = [c for i, c in enumerate(text) if i != drop]
        cost0 = 0.0 if drop is None else conf[drop] + DELETE_PENALTY
        kept_conf = [c for i, c in enumerate(conf) if i != drop]
        costs = {i: _swap_cost(c, kept_conf[i], fold, doubt) for i, c in enumerate(chars)}
        swappable = [i for i, v in costs.items() if v is not None]
        for k in range(0, min(SUBSTITUTION_LIMIT, len(swappable)) + 1):
            for subset in itertools.combinations(swappable, k):
                cost = cost0 + sum(costs[i] or 0.0 for i in subset)
                if cost > max_cost or (best is not None and cost >= best[0]):
                    continue
                variant = list(chars)
                for i in subset:
                    variant[i] = _swap(variant[i]) or variant[i]
                candidate = "".join(variant)
                if any(p.fullmatch(candidate) for p in patterns):
                    best = (cost, candidate)
    return best[1] if best is not None else text


def clean_text(
    text: str,
    formats: Sequence[str] = (),
    confidences: Sequence[float] = (),
    fold: Mapping[str, str] | None = None,
) -> str:
    """Normalise, fold look-alikes a region does not distinguish, then fit the region's formats.

    ``confidences`` are per character of ``text`` after normalisation; they are dropped when
    normalisation changed the length (they would no longer line up).
    """
    plain = normalize(text)
    conf = confidences if len(confidences) == len(plain) else ()
    return fit_format(fold_glyphs(plain, fold or {}), formats, conf, fold)


class _Read(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def char_confidences(self) -> Sequence[float]: ...


def plate_text(read: _Read, cfg: PlateSettings) -> str:
    """A read's text as the region's plates have it (``clean_text`` with the region's formats and folds)."""
    return clean_text(read.text, cfg.formats, read.char_confidences, cfg.fold)


_STROKES = frozenset("I1TY")
MAX_BARE_DIGITS = 8  # no region issues longer plates of digits alone: longer ones are dates, clocks, phone numbers
# A speed and its unit as cameras stamp it ("62 KM/H", "38 MPH", "90KPH"), with the slash read as a stroke or
# left out. A clip too short to tell the stamp from the scene by its steadiness would report it as a plate.
_SPEED_STAMP = re.compile(r"[0-9]{1,3}(?:KM[1IL7]?H|KPH|MPH)")


def is_plausible(text: str, cfg: PlateSettings) -> bool:
    """Could this be a plate? Length, alphabet, not a row of strokes (``plate_like``), and the region's
    formats."""
    return plate_like(text, cfg) and matches_format(text, cfg.formats)


def plate_like(text: str, cfg: PlateSettings) -> bool:
    """Length and alphabet of a plate, and not a row of upright strokes (I, 1, T, Y: a bar, with or
    without a top), which is what a grille, a fence, poles or a barcode read as; no region issues such
    plates. Nor more than MAX_BARE_DIGITS digits without a letter: a camera's burned-in date and time
    read as one line, or a phone number on a van, while real all-digit plates stay shorter (Israel's
    8 the longest). Nor a speed with its unit (``_SPEED_STAMP``)."""
    if not cfg.min_chars <= len(text) <= cfg.max_chars:
        return False
    if any(c not in _ALNUM_SET for c in text):
        return False
    if len(text) > MAX_BARE_DIGITS and text.isdigit():
        return False
    if _SPEED_STAMP.fullmatch(text):
        return False
    return not set(text) <= _STROKES


def plausible_or_agreed(text: str, agreeing: int, cfg: PlateSettings) -> bool:
    """A plausible text; or, where the region's formats cannot list every plate (``off_format_reads``:
    US vanity and special plates), a plate-like text of letters and digits that at least that many
    reads agree on (a plate's reads across frames, or the cuts of one doubtful read)."""
    if is_plausible(text, cfg):
        return True
    needed = cfg.off_format_min_reads
    return 0 < needed <= agreeing and plate_like(text, cfg) and mixes_letters_and_digits(text, cfg.fold)


def mixes_letters_and_digits(text: str, fold: Mapping[str, str] | None = None) -> bool:
    """State names, slogans and dealer names are letters only, dates and phone numbers digits only. A
    glyph the region folds letters into (0 for O on US plates) counts as neither: "PR0CHEM" is a word."""
    shared = set((fold or {}).values())
    return any(c.isdigit() and c not in shared for c in text) and any(c.isalpha() and c not in shared for c in text)
