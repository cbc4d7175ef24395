"""Where the plate number sits inside a crop, and which read characters do not belong to it.

US plates (and many others) carry a state name above the number and a slogan below; the number
is the row of the tallest characters. Ink blobs of either polarity (dark on light, light on dark)
are grouped by height and row; the row with the most tall blobs wins. The recogniser then reads
only that row, and characters it reports that sit on something much smaller (stacked small
characters) or beyond the row's ends are dropped. Ink taller than the row at the row's ends is no
sign of an emblem: on photos it is mostly the plate's frame or the bumper, glued to a real end
character.

Blobs are first taken as thresholded and, only when no row turns up there, after an erosion that
cuts thin links. Where the characters touch a dark frame, the unbroken mask can offer the frame's
own uprights as a row while the glued characters fail the shape test: ``eroded_band`` gives the
row found after the erosion, for a reader to try when its read of the first row is in doubt.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ANALYSIS_HEIGHT = 120  # crops are analysed at this height, so the thresholds below are in a known scale

MIN_CHAR_HEIGHT = 0.2  # of the crop height
MAX_CHAR_HEIGHT = 0.9
MAX_CHAR_ASPECT = 1.2  # width / height of one character blob
MIN_CHAR_ASPECT = 0.05
MIN_FILL = 0.1  # ink share of the blob's box
SAME_HEIGHT = 0.25  # blobs of one row differ in height by less than this share
SAME_ROW = 0.3  # and their centres by less than this share of the height

ROW_MEMBER = (0.7, 1.35)  # height range (of the row height) of other blobs counted in the row
ROW_MEMBER_WIDTH = 4.0  # widest such blob (a few touching characters), in row heights

SMALL_CHAR = 0.6  # a read character on ink shorter than this share of the row height is not in the row ...
SMALL_MAX_CONFIDENCE = 0.99  # ... unless the reader was this sure: a character broken up by an emblem or dirt
NOISE_BLOB = 0.25  # blobs shorter than this share of the row height are ignored as evidence
OUTSIDE_MARGIN = 0.2  # an edge character beyond the row's ends by this many row heights ...
OUTSIDE_MAX_CONFIDENCE = 0.95  # ... is an emblem or a border unless the reader was sure of it
# (PP-OCRv6 reads a cactus or a stacked "PC" as a character at 0.9 or more)
CHAR_WINDOW = 0.15  # half-width, in row heights, of the column looked at around a character


Blob = tuple[int, int, int, int]  # x, y, w, h in crop pixels


@dataclass(frozen=True, slots=True)
class TextBand:
    """The main character row of a crop, in crop pixels, with the ink blobs it was found from."""

    y1: float
    y2: float
    x1: float  # first and last column of the row's characters
    x2: float
    blobs: tuple[Blob, ...]  # every blob of the row's polarity (evidence for the character filter)
    crop_width: int
    eroded: bool = False  # found on the mask with thin links cut

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def rows(self, margin: float, crop_height: int) -> tuple[int, int]:
        """First and last+1 pixel rows of the band grown by ``margin`` row heights, inside the crop."""
        grow = margin * self.height
        top = max(0, int(self.y1 - grow))
        bottom = min(crop_height, int(np.ceil(self.y2 + grow)))
        return top, max(bottom, top + 1)


def _blobs(gray: np.ndarray, dark_text: bool, erode: bool) -> list[Blob]:
    h = gray.shape[0]
    src = gray if dark_text else 255 - gray
    block = max(3, (h // 4) | 1)
    binary = cv2.adaptiveThreshold(src, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 8)
    if erode:  # cut the thin links that glue characters to a textured background or to each other
        binary = cv2.erode(binary, np.ones((3, 3), np.uint8))
    n, _labels, stats, _centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
    return [(int(s[0]), int(s[1]), int(s[2]), int(s[3])) for s in stats[1:n] if s[4] >= MIN_FILL * s[2] * s[3]]


def _char_like(b: Blob, crop_h: int) -> bool:
    _x, _y, w, h = b
    return MIN_CHAR_HEIGHT * crop_h <= h <= MAX_CHAR_HEIGHT * crop_h and MIN_CHAR_ASPECT * h <= w <= MAX_CHAR_ASPECT * h


def _best_row(small: np.ndarray, erode: bool) -> tuple[list[Blob], list[Blob]] | None:
    """The row with the most tall look-alike blobs (count x height), either polarity."""
    best: tuple[float, list[Blob], list[Blob]] | None = None
    for dark_text in (True, False):
        blobs = _blobs(small, dark_text, erode)
        chars = [b for b in blobs if _char_like(b, small.shape[0])]
        for seed in chars:
            centre = seed[1] + seed[3] / 2
            row = [
                b
                for b in chars
                if abs(b[3] - seed[3]) < SAME_HEIGHT * seed[3] and abs(b[1] + b[3] / 2 - centre) < SAME_ROW * seed[3]
            ]
            if len(row) < 2:
                continue
            score = len(row) * seed[3]
            if best is None or score > best[0]:
                best = (score, row, blobs)
    return None if best is None else (best[1], best[2])


def find_band(crop: np.ndarray) -> TextBand | None:
    """The row of the tallest characters, or None when no two blobs look like characters of one row."""
    small = _analysed(crop)
    if small is None:
        return None
    return _band(small, crop.shape[:2], erode=False) or _band(small, crop.shape[:2], erode=True)


def eroded_band(crop: np.ndarray, first: TextBand) -> TextBand | None:
    """The row found after cutting thin links, when ``first`` was found without the cut and this
    row lies elsewhere (its top or bottom SAME_ROW row heights or more away); else None."""
    small = None if first.eroded else _analysed(crop)
    other = None if small is None else _band(small, crop.shape[:2], erode=True)
    if other is None:
        return None
    apart = max(abs(other.y1 - first.y1), abs(other.y2 - first.y2))
    return other if apart >= SAME_ROW * first.height else None


def _analysed(crop: np.ndarray) -> np.ndarray | None:
    """The crop in grey at ANALYSIS_HEIGHT, or None when too small to hold a row."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h0, w0 = gray.shape[:2]
    if h0 < 8 or w0 < 8:
        return None
    scale = ANALYSIS_HEIGHT / h0
    return cv2.resize(gray, (max(8, round(w0 * scale)), ANALYSIS_HEIGHT), interpolation=cv2.INTER_AREA)


def _band(small: np.ndarray, crop_shape: tuple[int, ...], erode: bool) -> TextBand | None:
    """The best row of ``small`` (the crop at ANALYSIS_HEIGHT), in crop pixels."""
    found = _best_row(small, erode)
    if found is None:
        return None
    row, blobs = found
    scale = ANALYSIS_HEIGHT / crop_shape[0]
    y1 = float(np.median([b[1] for b in row]))
    y2 = float(np.median([b[1] + b[3] for b in row]))
    h = y2 - y1
    # Characters that touch a neighbour or the frame fail the shape test but still sit in the row.
    members = row + [
        b
        for b in blobs
        if ROW_MEMBER[0] * h <= b[3] <= ROW_MEMBER[1] * h
        and min(b[1] + b[3], y2) - max(b[1], y1) >= ROW_MEMBER[0] * h
        and b[2] <= ROW_MEMBER_WIDTH * h
    ]
    x1 = min(b[0] for b in members) / scale
    x2 = max(b[0] + b[2] for b in members) / scale
    back = tuple(
        (round(x / scale), round(y / scale), max(1, round(w / scale)), max(1, round(bh / scale)))
        for x, y, w, bh in blobs
    )
    return TextBand(y1=y1 / scale, y2=y2 / scale, x1=x1, x2=x2, blobs=back, crop_width=crop_shape[1], eroded=erode)


def is_foreign_char(band: TextBand, x_centre: float, confidence: float, at_edge: bool) -> bool:
    """True when a character read at ``x_centre`` (crop pixels) does not belong to the number row."""
    h = band.height
    if h <= 0:
        return False
    half = CHAR_WINDOW * h
    cover = [
        b
        for b in band.blobs
        if b[0] <= x_centre + half
        and b[0] + b[2] >= x_centre - half
        and band.y1 <= b[1] + b[3] / 2 <= band.y2  # centred in the row, not a picture reaching into it
        and b[3] >= NOISE_BLOB * h
        and b[2] < 0.5 * band.crop_width  # not the plate's frame
    ]
    # A character glued to the frame is hidden inside the frame's blob, leaving only its small
    # neighbours as evidence; there the small-characters rule would drop a real character.
    if (
        cover
        and all(b[3] < SMALL_CHAR * h for b in cover)
        and not _in_frame(band, x_centre, half)
        and confidence < SMALL_MAX_CONFIDENCE
    ):
        return True  # stacked or small characters beside the number
    beyond = x_centre < band.x1 - OUTSIDE_MARGIN * h or x_centre > band.x2 + OUTSIDE_MARGIN * h
    return at_edge and beyond and confidence < OUTSIDE_MAX_CONFIDENCE


def _in_frame(band: TextBand, x_centre: float, half: float) -> bool:
    """True when a frame-wide blob (half the crop or wider) spans the row's height at ``x_centre``."""
    return any(
        b[2] >= 0.5 * band.crop_width
        and b[0] <= x_centre + half
        and b[0] + b[2] >= x_centre - half
        and b[1] <= band.y1
        and b[1] + b[3] >= band.y2
        for b in band.blobs
    )
