"""Burned-in overlays: the text a dashcam stamps on every frame (clock, speed, position, its name).

Such text looks like a plate to any text finder, and it is in every frame, so left alone it
becomes the video's most confident "plate". What gives it away is that it stays on the same
pixels while the scene moves behind it: over the frames a stage keeps, a pixel of the overlay is
an edge in nearly all of them and keeps its grey level, a pixel of the world is an edge only now
and then. Edges alone are not enough: the glyphs of a plate ahead, a car driving at the ego's
speed, are so close together that a pixel or two of jitter leaves their area all edges, but the
jitter swings each pixel's grey level from ink to paint and back.

Small text loses that in front of a bright sky: shrunk to the analysis width, a white glyph's thin
dark rim blends away, and while a white cloud passes behind it the glyph is hardly an edge and its
grey level follows the cloud. What it keeps is the sign of its edge, brighter than around it before
blue sky and before white cloud alike; a plate that bobs by a pixel turns that sign over and over.
So a pixel that is an edge in most frames and whose Laplacian keeps its sign counts as steady too,
once there are enough frames: over a few, a bobbing plate's stroke centres keep theirs by chance.

When pixels stay put all over the picture, or its edges keep their sides all over it (parked, the
frames kept are those where the light changed), the camera stood still (or the picture froze) and a
parked car's plate would look the same: then nothing is called an overlay. (A parked
camera facing a blank wall cannot be told from a moving one in fog; that is the price.)

The ticking digits of a clock (and a speed's) keep changing, so their grey levels are not steady,
but their pixels are edges nearly all the time, where the world's are now and then: a line's box
runs on along its rows through such busy columns, a few glyphs at most, over gaps as wide as a glyph
is tall (a thin colon in front of a white cloud is an edge too seldom to be steady or busy).

A straight road's solid edge line stays put too while the car keeps its lane. It slants, so the
steady pixels are followed in pieces a few columns wide and only pieces on the same rows join into
a line: a slanting stroke stays in pieces, a horizontal one is a line only a few rows tall, and
neither is taken for text. Cameras write along the top or the bottom edge of the picture, so lines
are only looked for there: in between, what stays put on a straight road is its lines, its horizon
and a car ahead at the same speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import cv2
import numpy as np

from dashpipe.types import BBox

EDGE_LEVEL = 40  # |Laplacian| of the luma counted as an edge (burned-in text is drawn at full contrast)
PERSISTENT_SHARE = 0.9  # an overlay pixel is an edge in at least this share of the frames seen
MAX_STD = 12.0  # ... and its grey level varies by at most this much (compression noise; 0..255),
COHERENT = 0.95  # ... or its Laplacian keeps its sign: |its sum| is at least this share of the sum of |it|
MIN_SIGN_FRAMES = 12  # ... over at least this many frames (over fewer, a plate bobbing by a pixel keeps it by chance)
MIN_FRAMES = 6  # fewer frames than this cannot tell a steady pixel from one that stayed by chance
MIN_SPAN_S = 1.5  # ... nor can frames from a shorter stretch of time (the scene moves too little)
MAX_STEADY_SHARE = 0.05  # more of the picture than this stayed put: the camera did not move
STILL_SIGNS = 0.85  # ... nor did it when its edges kept their sides this well (driving, far fewer do)
MIN_PIXELS = 12  # a persistent blob smaller than this is a dust speck or a hot pixel, not text
BUSY_SHARE = 0.6  # a pixel that is an edge in this share of the frames may be a ticking digit's
MAX_REACH = 6.0  # a line runs on through busy columns for at most this many of its heights a side
GAP_REACH = 1.0  # ... over gaps of at most this many heights (a clock's colon and the spaces beside it)
PIECE_PX = 8  # a line is followed in pieces this many columns wide ...
SAME_ROWS = 0.6  # ... and two neighbours whose rows overlap this much (of the shorter) are one line ...
MAX_DRIFT = 0.25  # ... whose middles are at most this share of the taller one's height apart ...
LINE_SLACK = 1.5  # ... as long as the line stays at most this many times as tall as its tallest piece
MIN_ROWS = 4  # a line of glyphs is at least this tall (the smallest burned-in text, at the analysis width)
EDGE_BAND = 0.15  # burned-in text lies within this share of the height from the top or the bottom
MIN_ACROSS = 0.3  # gradient across a line, as a share of that along it (a road's line has next to none)
COVERED_SHARE = 0.5  # a box with at least this share of its core inside overlays is overlay text
CORE_MARGIN = 0.25  # the core: the box without this share of its width (and height) on each side


class OverlayFinder:
    """Counts, per pixel of the analysis image, in how many of the frames fed it was an edge, and sums
    its grey levels and their squares (for their spread), its Laplacian and the Laplacian's size."""

    def __init__(self) -> None:
        self._counts: np.ndarray | None = None
        self._sum = np.zeros(0)
        self._squares = np.zeros(0)
        self._lap_sum = np.zeros(0, np.float32)
        self._lap_size = np.zeros(0, np.float32)
        self._frames = 0
        self._first_s: float | None = None
        self._last_s = 0.0

    def add(self, luma: np.ndarray, pts_s: float) -> None:
        lap = cv2.Laplacian(luma, cv2.CV_32F, ksize=1)
        size = np.abs(lap)
        if self._counts is None or self._counts.shape != luma.shape:
            self._counts = np.zeros(luma.shape, np.uint32)
            self._sum = np.zeros(luma.shape, np.float64)
            self._squares = np.zeros(luma.shape, np.float64)
            self._lap_sum = np.zeros(luma.shape, np.float32)
            self._lap_size = np.zeros(luma.shape, np.float32)
            self._frames = 0
            self._first_s = pts_s
        self._counts += size >= EDGE_LEVEL
        cv2.accumulate(luma, self._sum)
        cv2.accumulateSquare(luma, self._squares)
        self._lap_sum += lap
        self._lap_size += size
        self._frames += 1
        self._last_s = pts_s

    def _stood_still(self) -> bool:
        """Whether the picture's edges kept their sides all over it: parked, the frames a stage keeps are
        those where the light changed, and their grey levels move while nothing else does."""
        size = float(self._lap_size.sum())
        return size > 0 and float(np.abs(self._lap_sum).sum()) >= STILL_SIGNS * size

    def boxes(self, full_width: int) -> tuple[BBox, ...]:
        """The overlays found, as boxes of the full frame, ``full_width`` pixels wide."""
        counts = self._counts
        if counts is None or self._frames < MIN_FRAMES or self._last_s - (self._first_s or 0.0) < MIN_SPAN_S:
            return ()
        mean = self._sum / self._frames
        spread = np.sqrt(np.maximum(self._squares / self._frames - mean * mean, 0.0))
        steady = (counts >= PERSISTENT_SHARE * self._frames) & (spread <= MAX_STD)
        busy = counts >= BUSY_SHARE * self._frames
        if self._frames >= MIN_SIGN_FRAMES:
            steady |= busy & (np.abs(self._lap_sum) >= COHERENT * self._lap_size)
        if np.count_nonzero(steady) > MAX_STEADY_SHARE * steady.size or self._stood_still():
            return ()
        steady[_inner_rows(steady.shape[0])] = False
        scale = full_width / counts.shape[1]
        boxes = [b for b in _text_boxes(steady, busy) if _strokes_across(mean, b)]
        return tuple(b.scale(scale) for b in boxes)


def _strokes_across(mean: np.ndarray, box: BBox) -> bool:
    """Whether the average picture has glyph strokes across the line as well as along it: a road's
    line, level or slanting, has its edges along it only."""
    part = mean[int(box.y1) : int(box.y2), int(box.x1) : int(box.x2)]
    across = float(np.abs(cv2.Sobel(part, cv2.CV_64F, 1, 0)).sum())
    along = float(np.abs(cv2.Sobel(part, cv2.CV_64F, 0, 1)).sum())
    return across >= MIN_ACROSS * along


def _inner_rows(height: int) -> slice:
    """The rows between the top and the bottom band, where no camera writes its text."""
    band = round(EDGE_BAND * height)
    return slice(band, max(band, height - band))


def _run_on(busy_cols: np.ndarray, start: int, step: int, limit: int, gap: int) -> int:
    """The last busy column reached from ``start`` going ``step``-wise, over gaps up to ``gap`` wide."""
    end = start
    for x in range(start + step, start + step * (limit + 1), step):
        if not 0 <= x < len(busy_cols) or abs(x - end) > gap:
            break
        if busy_cols[x]:
            end = x
    return end


def _pieces(mask: np.ndarray, x0: int, y0: int) -> list[tuple[int, int, int, int]]:
    """(x1, y1, x2, y2), ends excluded, of the pixels in each PIECE_PX-wide run of the mask's columns."""
    out = []
    for cx in range(0, mask.shape[1], PIECE_PX):
        part = mask[:, cx : cx + PIECE_PX]
        rows = np.flatnonzero(part.any(axis=1))
        if len(rows):
            cols = np.flatnonzero(part.any(axis=0))
            out.append((x0 + cx + int(cols[0]), y0 + int(rows[0]), x0 + cx + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1))
    return out


def _lines(pieces: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Neighbouring pieces on the same rows joined: a line of text stays one box, a slanting line
    (a road's edge, seen steady on a straight road) falls apart into small ones."""
    lines: list[tuple[int, int, int, int]] = []
    tallest = 0
    prev: tuple[int, int, int, int] | None = None
    for p in pieces:
        if prev is not None and lines:
            q = lines[-1]
            shared = min(prev[3], p[3]) - max(prev[1], p[1])
            union = max(q[3], p[3]) - min(q[1], p[1])
            tallest_now = max(tallest, p[3] - p[1])
            drift = abs((p[1] + p[3]) - (prev[1] + prev[3])) / 2
            if (
                p[0] - prev[2] <= PIECE_PX
                and shared >= SAME_ROWS * min(prev[3] - prev[1], p[3] - p[1])
                and drift <= MAX_DRIFT * max(prev[3] - prev[1], p[3] - p[1])
                and union <= LINE_SLACK * tallest_now
            ):
                lines[-1] = (q[0], min(q[1], p[1]), p[2], max(q[3], p[3]))
                prev, tallest = p, tallest_now
                continue
        lines.append(p)
        prev, tallest = p, p[3] - p[1]
    return lines


def _text_boxes(steady: np.ndarray, busy: np.ndarray) -> list[BBox]:
    """Boxes of the lines the steady edge pixels form (glyphs joined along their line), run on
    through the busy columns of their rows."""
    mask = steady.astype(np.uint8)
    joined = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    height, width = steady.shape
    out = []
    for i in range(1, count):
        x, y, w, h = (int(v) for v in stats[i, :4])
        own = (labels[y : y + h, x : x + w] == i) & steady[y : y + h, x : x + w]
        for x1, y1, x2, y2 in _lines(_pieces(own, x, y)):
            # A piece alone is a bit of a slanting stroke, a line a few rows tall a horizontal one:
            # neither is a line of glyphs.
            if x2 - x1 <= PIECE_PX or y2 - y1 < MIN_ROWS or np.count_nonzero(steady[y1:y2, x1:x2]) < MIN_PIXELS:
                continue
            tall = y2 - y1
            cols: np.ndarray = np.any(busy[y1:y2], axis=0)
            limit, gap = round(MAX_REACH * tall), max(1, round(GAP_REACH * tall))
            left, right = _run_on(cols, x1, -1, limit, gap), _run_on(cols, x2 - 1, 1, limit, gap)
            out.append(BBox(x1=left - 1, y1=y1 - 1, x2=right + 2, y2=y2 + 1).clip(width, height))
    return out


def in_overlay(box: BBox, overlays: Sequence[BBox]) -> bool:
    """Whether the core of ``box`` lies mostly inside the overlays. The core, the middle half of the
    box each way, is where a proposal's text is: a proposal is cut to a plate's outline around its
    text, twice as tall and with a border, and a plate beside an overlay keeps its core out of it."""
    core = box.expand(-CORE_MARGIN)
    if not overlays or core.area <= 0:
        return False
    return covered_area(core, overlays) >= COVERED_SHARE * core.area


def covered_area(box: BBox, others: Sequence[BBox]) -> float:
    """The area of ``box`` that the union of ``others`` covers (overlapping ones counted once)."""
    parts = [c for o in others if (c := o.shared(box)) is not None]
    if not parts:
        return 0.0
    xs = sorted({v for c in parts for v in (c.x1, c.x2)})
    ys = sorted({v for c in parts for v in (c.y1, c.y2)})
    area = 0.0
    for xa, xb in pairwise(xs):
        for ya, yb in pairwise(ys):
            if any(c.x1 <= xa and xb <= c.x2 and c.y1 <= ya and yb <= c.y2 for c in parts):
                area += (xb - xa) * (yb - ya)
    return area
