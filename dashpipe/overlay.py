"""Burned-in overlays: the text a dashcam stamps on every frame (clock, speed, position, its name).

Such text looks like a plate to any text finder, and it is in every frame, so left alone it
becomes the video's most confident "plate". What gives it away is that it stays on the same
pixels while the scene moves behind it: over the frames a stage keeps, a pixel of the overlay is
an edge in nearly all of them and keeps its grey level, a pixel of the world is an edge only now
and then. Edges alone are not enough: the glyphs of a plate ahead, a car driving at the ego's
speed, are so close together that a pixel or two of jitter leaves their area all edges, but the
jitter swings each pixel's grey level from ink to paint and back.

When pixels stay put all over the picture, the camera stood still (parked, or a frozen picture)
and a parked car's plate would look the same: then nothing is called an overlay. (A parked
camera facing a blank wall cannot be told from a moving one in fog; that is the price.)

The ticking digits of a clock (and a speed's) keep changing, so their grey levels are not steady,
but their pixels are edges nearly all the time, where the world's are now and then: a line's box
runs on along its rows through such busy columns, a few glyphs at most.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from dashpipe.types import BBox

EDGE_LEVEL = 40  # |Laplacian| of the luma counted as an edge (burned-in text is drawn at full contrast)
PERSISTENT_SHARE = 0.9  # an overlay pixel is an edge in at least this share of the frames seen
MAX_STD = 12.0  # ... and its grey level varies by at most this much (compression noise; 0..255)
MIN_FRAMES = 20  # fewer frames than this cannot tell a steady plate from an overlay
MIN_SPAN_S = 8.0  # ... nor can frames from a shorter stretch of time
MAX_STEADY_SHARE = 0.05  # more of the picture than this stayed put: the camera did not move
MIN_PIXELS = 12  # a persistent blob smaller than this is a dust speck or a hot pixel, not text
BUSY_SHARE = 0.6  # a pixel that is an edge in this share of the frames may be a ticking digit's
MAX_REACH = 6.0  # a line runs on through busy columns for at most this many of its heights a side
GAP_REACH = 0.6  # ... over gaps of at most this many heights (the space between two glyphs)
COVERED_SHARE = 0.5  # a box with at least this share of its area inside overlays is overlay text


class OverlayFinder:
    """Counts, per pixel of the analysis image, in how many of the frames fed it was an edge, and sums
    its grey levels and their squares (for their spread)."""

    def __init__(self) -> None:
        self._counts: np.ndarray | None = None
        self._sum = np.zeros(0)
        self._squares = np.zeros(0)
        self._frames = 0
        self._first_s: float | None = None
        self._last_s = 0.0

    def add(self, luma: np.ndarray, pts_s: float) -> None:
        edges = cv2.convertScaleAbs(cv2.Laplacian(luma, cv2.CV_16S, ksize=1)) >= EDGE_LEVEL
        if self._counts is None or self._counts.shape != luma.shape:
            self._counts = np.zeros(luma.shape, np.uint16)
            self._sum = np.zeros(luma.shape, np.float64)
            self._squares = np.zeros(luma.shape, np.float64)
            self._frames = 0
            self._first_s = pts_s
        self._counts += edges
        cv2.accumulate(luma, self._sum)
        cv2.accumulateSquare(luma, self._squares)
        self._frames += 1
        self._last_s = pts_s

    def boxes(self, scale: float) -> tuple[BBox, ...]:
        """The overlays found, as full-frame boxes (``scale``: full-frame pixels per analysis pixel)."""
        counts = self._counts
        if counts is None or self._frames < MIN_FRAMES or self._last_s - (self._first_s or 0.0) < MIN_SPAN_S:
            return ()
        mean = self._sum / self._frames
        spread = np.sqrt(np.maximum(self._squares / self._frames - mean * mean, 0.0))
        steady = (counts >= PERSISTENT_SHARE * self._frames) & (spread <= MAX_STD)
        if np.count_nonzero(steady) > MAX_STEADY_SHARE * steady.size:
            return ()
        busy = counts >= BUSY_SHARE * self._frames
        return tuple(b.scale(scale) for b in _text_boxes(steady, busy))


def _run_on(busy_cols: np.ndarray, start: int, step: int, limit: int, gap: int) -> int:
    """The last busy column reached from ``start`` going ``step``-wise, over gaps up to ``gap`` wide."""
    end = start
    for x in range(start + step, start + step * (limit + 1), step):
        if not 0 <= x < len(busy_cols) or abs(x - end) > gap:
            break
        if busy_cols[x]:
            end = x
    return end


def _text_boxes(steady: np.ndarray, busy: np.ndarray) -> list[BBox]:
    """Boxes of the lines the steady edge pixels form (glyphs joined along their line), run on
    through the busy columns of their rows."""
    mask = steady.astype(np.uint8)
    joined = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    height, width = steady.shape
    out = []
    for x, y, w, h, _ in stats[1:count]:
        if np.count_nonzero(mask[y : y + h, x : x + w]) < MIN_PIXELS:
            continue
        cols: np.ndarray = np.any(busy[y : y + h], axis=0)
        limit, gap = round(MAX_REACH * h), max(1, round(GAP_REACH * h))
        left = _run_on(cols, x, -1, limit, gap)
        right = _run_on(cols, x + w - 1, 1, limit, gap)
        box = BBox(x1=left - 1, y1=y - 1, x2=right + 2, y2=y + h + 1)
        out.append(box.clip(width, height))
    return out


def in_overlay(box: BBox, overlays: Sequence[BBox]) -> bool:
    """Whether ``box`` lies mostly inside the overlays (a plate beside one keeps most of its area out)."""
    if not overlays or box.area <= 0:
        return False
    return sum(box.intersection(o) for o in overlays) >= COVERED_SHARE * box.area
