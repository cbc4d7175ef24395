"""Watchlist matching: exact, wildcards, edit distance with look-alikes for free."""

import pytest

from dashpipe.config import WatchlistEntry
from dashpipe.plates.watchlist import canonical, match_entry, match_watchlist

E = WatchlistEntry


@pytest.mark.parametrize(
    ("text", "entry", "expected"),
    [
        ("ABC1234", E(plate="ABC1234"), ("exact", 0)),
        ("ABC1234", E(plate="abc-1234"), ("exact", 0)),
        ("ABC1234", E(plate="ABC*"), ("wildcard", 0)),
        ("ABC1234", E(plate="?BC12?4"), ("wildcard", 0)),
        ("ABC1234", E(plate="X*"), None),
        ("ABC1234", E(plate="ABC123?"), ("wildcard", 0)),
        ("ABC1234", E(plate="ABC12?"), None),
        ("ABC1235", E(plate="ABC1234", max_distance=1), ("fuzzy", 1)),
        ("ABC1235", E(plate="ABC1234", max_distance=0), None),
        ("A8C1234", E(plate="ABC1234", max_distance=0), ("fuzzy", 0)),  # B/8 look alike
        ("XBC12", E(plate="ABC1234", max_distance=2), None),
        ("", E(plate="ABC1234"), None),
    ],
)
def test_match_entry(text: str, entry: WatchlistEntry, expected: tuple[str, int] | None) -> None:
    assert match_entry(text, entry) == expected


def test_best_match_prefers_exact_then_wildcard_then_closest() -> None:
    entries = [E(plate="ABC12*", label="fleet"), E(plate="ABC1235", label="near"), E(plate="ABC1234", label="stolen")]
    assert match_watchlist("ABC1234", entries) == (entries[2], "exact")
    assert match_watchlist("ABC1299", entries) == (entries[0], "wildcard")
    two = [E(plate="XYC1299", max_distance=2), E(plate="ABC1290", max_distance=1)]
    assert match_watchlist("ABC1299", two) == (two[1], "fuzzy")
    assert match_watchlist("ZZZ999", entries) is None


def test_canonical_folds_lookalikes() -> None:
    assert canonical("o-i b s z") == "01852"
