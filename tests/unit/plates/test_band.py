"""Finding the number row of a plate crop and telling its characters from stacked marks and emblems."""

import cv2
import numpy as np

from dashpipe.plates.band import eroded_band, find_band, is_foreign_char
from tests.unit.test_ocr_backends import plate_glued_to_its_frame


def plate_with_stacked_marks() -> np.ndarray:
    img = np.full((160, 340, 3), 235, np.uint8)
    cv2.putText(img, "STATE NAME", (100, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (30, 30, 160), 2, cv2.LINE_AA)
    cv2.putText(img, "M", (18, 72), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 3, cv2.LINE_AA)  # stacked
    cv2.putText(img, "C", (18, 112), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 3, cv2.LINE_AA)
    cv2.putText(img, "N3934", (60, 115), cv2.FONT_HERSHEY_SIMPLEX, 2.4, (20, 20, 20), 6, cv2.LINE_AA)
    cv2.putText(img, "slogan", (130, 150), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (30, 30, 160), 1, cv2.LINE_AA)
    return img


def test_band_is_the_row_of_the_tallest_characters() -> None:
    band = find_band(plate_with_stacked_marks())
    assert band is not None
    assert 55 <= band.y1 <= 72 and 108 <= band.y2 <= 122  # the digits span ~65..115
    assert 55 < band.x1 < 80 and 270 < band.x2 < 300  # the number, not the stacked marks at x~20
    top, bottom = band.rows(0.15, 160)
    assert top < band.y1 and bottom > band.y2


def test_light_characters_on_a_dark_plate_are_found_too() -> None:
    band = find_band(255 - plate_with_stacked_marks())
    assert band is not None and 55 <= band.y1 <= 72


def test_stacked_marks_are_foreign_and_number_characters_are_not() -> None:
    band = find_band(plate_with_stacked_marks())
    assert band is not None
    assert is_foreign_char(band, 30.0, 0.95, at_edge=True)  # the stacked M/C column
    assert not is_foreign_char(band, 160.0, 0.95, at_edge=False)  # inside the number
    assert not is_foreign_char(band, 280.0, 0.95, at_edge=True)
    assert is_foreign_char(band, 330.0, 0.6, at_edge=True)  # beyond the row, unsure: a border or emblem


def test_no_row_on_a_blank_or_tiny_crop() -> None:
    assert find_band(np.full((60, 200, 3), 200, np.uint8)) is None
    assert find_band(np.zeros((5, 5, 3), np.uint8)) is None


def test_a_character_glued_to_the_frame_is_not_taken_for_a_small_mark() -> None:
    img = np.full((120, 340, 3), 235, np.uint8)
    cv2.putText(img, "AB", (40, 90), cv2.FONT_HERSHEY_SIMPLEX, 2.4, (20, 20, 20), 6, cv2.LINE_AA)
    cv2.putText(img, "12", (220, 90), cv2.FONT_HERSHEY_SIMPLEX, 2.4, (20, 20, 20), 6, cv2.LINE_AA)
    cv2.rectangle(img, (4, 4), (335, 115), (20, 20, 20), 5)  # the frame
    cv2.rectangle(img, (160, 4), (190, 92), (20, 20, 20), -1)  # an "I" glued to the frame's top
    cv2.rectangle(img, (195, 66), (199, 90), (20, 20, 20), -1)  # a short mark beside it
    band = find_band(img)
    assert band is not None
    assert not is_foreign_char(band, 190.0, 0.7, at_edge=False)


def test_a_sure_character_on_broken_ink_stays_in_the_number() -> None:
    """An emblem or dirt can break a real character into short pieces; the reader's certainty keeps it."""
    band = find_band(plate_with_stacked_marks())
    assert band is not None
    assert is_foreign_char(band, 30.0, 0.95, at_edge=False)  # short ink, the reader unsure: a stacked mark
    assert not is_foreign_char(band, 30.0, 0.995, at_edge=False)  # short ink, the reader sure: a character


def test_characters_glued_to_the_frame_are_found_as_a_row_once_thin_links_are_cut() -> None:
    img = plate_glued_to_its_frame()
    first = find_band(img)
    assert first is not None and not first.eroded
    assert first.y2 < 75  # the recess's uprights (0..70), not the characters (about 55..98)
    other = eroded_band(img, first)
    assert other is not None and other.eroded
    assert 50 <= other.y1 <= 60 and 92 <= other.y2 <= 102
    assert 90 <= other.x1 <= 110 and 390 <= other.x2 <= 410  # the characters, not the uprights at 10..468
    assert eroded_band(img, other) is None  # found with the cut already: nothing else to offer


def test_no_other_row_where_the_cut_finds_the_same_one() -> None:
    band = find_band(plate_with_stacked_marks())
    assert band is not None and not band.eroded
    assert eroded_band(plate_with_stacked_marks(), band) is None
