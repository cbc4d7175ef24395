"""Normalisation, formats and look-alike swaps made only where a format demands them."""

import pytest

from dashpipe.config import PlateSettings
from dashpipe.plates.text import (
    US_FOLD,
    clean_text,
    edit_distance,
    fit_format,
    fold_glyphs,
    is_plausible,
    matches_format,
    normalize,
    similarity,
)

LLL_DDDD = ("^[A-Z]{3}[0-9]{4}$",)


@pytest.mark.parametrize(
    ("raw", "plain"),
    [("abc-123", "ABC123"), (" 7 ABC·123 ", "7ABC123"), ("ＡＢ１２", "AB12"), ("ü-x.y", "XY"), ("", "")],
)
def test_normalize_keeps_upper_letters_and_digits(raw: str, plain: str) -> None:
    assert normalize(raw) == plain


@pytest.mark.parametrize(("a", "b", "d"), [("", "", 0), ("ABC", "ABC", 0), ("ABC", "AC", 1), ("ABC", "XBCD", 2)])
def test_edit_distance(a: str, b: str, d: int) -> None:
    assert edit_distance(a, b) == d == edit_distance(b, a)


def test_similarity_is_one_for_equal_and_drops_per_edit() -> None:
    assert similarity("ABC123", "ABC123") == 1.0
    assert similarity("ABC123", "ABC128") == pytest.approx(5 / 6)


@pytest.mark.parametrize(
    ("read", "conf", "fixed"),
    [
        ("A8C1234", 0.6, "ABC1234"),  # a digit where the format wants a letter
        ("ABC12S4", 0.6, "ABC1254"),  # a letter where it wants a digit
        ("0BC1234", 0.6, "OBC1234"),
        ("ABCI234", 0.6, "ABC1234"),
    ],
)
def test_doubtful_lookalikes_are_swapped_where_the_format_demands(read: str, conf: float, fixed: str) -> None:
    confidences = [0.99] * len(read)
    bad = next(i for i, (a, b) in enumerate(zip(read, fixed)) if a != b)
    confidences[bad] = conf
    assert fit_format(read, LLL_DDDD, confidences) == fixed


def test_a_sure_character_is_not_swapped_even_if_the_format_wants_it() -> None:
    assert fit_format("A8C1234", LLL_DDDD, [0.99] * 7) == "A8C1234"


def test_a_text_that_matches_is_never_changed() -> None:
    formats = (*LLL_DDDD, "^[A-Z0-9]{7}$")
    assert fit_format("A8C1234", formats, [0.3] * 7) == "A8C1234"


def test_no_format_means_no_change() -> None:
    assert fit_format("A8C1234", (), [0.1] * 7) == "A8C1234"


def test_a_doubtful_stray_character_is_dropped_to_fit() -> None:
    assert fit_format("4ABC1234", LLL_DDDD, [0.5] + [0.99] * 7) == "ABC1234"
    assert fit_format("4ABC1234", LLL_DDDD, [0.99] * 8) == "4ABC1234"


def test_folded_glyphs_are_restored_where_the_format_wants_a_letter() -> None:
    # the region writes O and 0 alike: the reader's confidence does not matter, the format decides
    assert clean_text("N0X218", ("^[A-Z]{3}[0-9]{3}$",), [0.99] * 6, US_FOLD) == "NOX218"
    assert clean_text("COUGAR", (), (), US_FOLD) == "C0UGAR"


def test_fold_glyphs() -> None:
    assert fold_glyphs("OO0", {"O": "0"}) == "000"
    assert fold_glyphs("OO0", {}) == "OO0"


def test_bad_format_names_the_pattern() -> None:
    with pytest.raises(ValueError, match=r"\[A-Z"):
        matches_format("ABC", ("[A-Z",))


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("ABC123", True),
        ("AB", False),
        ("ABCDEFGHIJK", False),
        ("IIII", False),
        ("1111", False),
        ("ITYY", False),  # a fence or poles
        ("TY71", True),  # a 7 is no upright stroke
        ("abc1", False),
        ("12345678", True),  # Israel's plates are eight digits
        ("2024112811", False),  # a burned-in date and hour read as one line
        ("MH12AB1234", True),  # India's plates are ten characters long, with letters
        ("62KMH", False),  # a burned-in speed: "62 KM/H"
        ("120KM1H", False),  # ... its slash read as a stroke
        ("38MPH", False),
        ("KMH62", True),  # letters first: no camera writes its speed so
        ("62KMHA", True),
    ],
)
def test_plausible_length_alphabet_and_strokes(text: str, ok: bool) -> None:
    assert is_plausible(text, PlateSettings()) is ok


def test_plausible_with_formats() -> None:
    cfg = PlateSettings(formats=LLL_DDDD)
    assert is_plausible("ABC1234", cfg)
    assert not is_plausible("1234ABC", cfg)
