"""Matching voted plate texts against the watchlist: exact, wildcard, or within an edit distance.

Look-alike glyphs (O/0, I/1, B/8 ...) are compared as equal before the edit distance is counted:
a plate read as "8O1" should hit an entry "B01" without spending the one edit the user allowed
for a genuinely different character.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Literal

from dashpipe.config import WatchlistEntry
from dashpipe.plates.text import ALNUM, edit_distance, normalize

MatchKind = Literal["exact", "wildcard", "fuzzy"]

# One canonical glyph per look-alike group, used only for comparison.
_LOOKALIKE = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "B": "8", "S": "5", "Z": "2"})


def canonical(text: str) -> str:
    """The text with look-alike letters replaced by their digit twins (for comparing only)."""
    return normalize(text).translate(_LOOKALIKE)


def _pattern_text(pattern: str) -> str:
    """Upper-cased entry keeping only letters, digits and the wildcards '*' and '?'."""
    return "".join(c for c in pattern.upper() if c in ALNUM or c in "*?")


@functools.lru_cache(maxsize=256)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in canonical_pattern(pattern)]
    return re.compile("".join(parts))


def canonical_pattern(pattern: str) -> str:
    return "".join(c if c in "*?" else c.translate(_LOOKALIKE) for c in _pattern_text(pattern))


def match_entry(text: str, entry: WatchlistEntry) -> tuple[MatchKind, int] | None:
    """How ``text`` matches one entry (kind, edit distance) or None."""
    plate = normalize(text)
    if not plate:
        return None
    pattern = _pattern_text(entry.plate)
    if "*" in pattern or "?" in pattern:
        if _wildcard_regex(entry.plate).fullmatch(canonical(plate)):
            return "wildcard", 0
        return None
    if not pattern:
        return None
    if plate == pattern:
        return "exact", 0
    distance = edit_distance(canonical(plate), canonical(pattern))
    if distance <= entry.max_distance:
        return "fuzzy", distance
    return None


def match_watchlist(text: str, entries: Sequence[WatchlistEntry]) -> tuple[WatchlistEntry, MatchKind] | None:
    """The best entry ``text`` matches (exact before wildcard before fuzzy, then the closest)."""
    rank = {"exact": 0, "wildcard": 1, "fuzzy": 2}
    hits = []
    for order, entry in enumerate(entries):
        got = match_entry(text, entry)
        if got is not None:
            kind, distance = got
            hits.append((rank[kind], distance, order, entry, kind))
    if not hits:
        return None
    _r, _d, _o, entry, kind = min(hits, key=lambda h: (h[0], h[1], h[2]))
    return entry, kind
