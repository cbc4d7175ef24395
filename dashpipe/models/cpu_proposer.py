"""Plate proposals by classic image analysis: rows of glyph-like blobs.

A plate is found through what makes it a plate: a short row of glyphs of one height, dark on a
light ground or light on a dark one, with calmer ground above and below. Each level of an image
pyramid is binarised against its local min/max midpoint (Bernsen), so a small plate on a dark
bumper still separates from its surroundings; components shaped like glyphs of that level's
size are linked into rows and each row is scored. No model file, so it runs offline on any
footage, and the same functions refine boxes at full resolution (``cpu_detector``).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from dashpipe.config import CpuProposerConfig
from dashpipe.types import BBox, Region

GLYPH_MIN_PX = 7  # shortest glyph looked for on each pyramid level but the first
FINEST_GLYPH_MIN_PX = 5  # on the first, smaller still: nothing finer will look again
GLYPH_MAX_PX = 26  # tallest; levels overlap so thin strokes are met before pyrDown blurs them
LOCAL_PX = 9  # Bernsen window: wider than a stroke at every level
MIN_CONTRAST = 16  # grey levels between a glyph and its ground
NMS_IOU = 0.4
LINK_REACH = 1.2  # glyph heights: the widest gap between two glyphs of one row
END_GAP = 0.8  # glyph heights: an end glyph farther than this from its neighbour is not part of the row

# Each score term saturates where a clear plate sits: 7 glyphs, a mean horizontal gradient of
# 120 (3x3 Sobel, 8-bit) along the row, and 2.5 times more gradient in the row than around it.
FULL_GLYPHS = 7.0
FULL_STROKES = 120.0
FULL_CALM = 2.5

_LONG = GLYPH_MAX_PX + 6
_H_RUN = np.ones((1, _LONG), np.uint8)
_V_RUN = np.ones((_LONG, 1), np.uint8)
_THICKEN_V = np.ones((3, 1), np.uint8)
_THICKEN_H = np.ones((1, 3), np.uint8)
_LOCAL = np.ones((LOCAL_PX, LOCAL_PX), np.uint8)


class GlyphRows(NamedTuple):
    """Rows of glyphs as parallel arrays, in the pixels of the image they were found in.

    ``x1..y2`` bound the glyphs (vertically: the mean glyph top and bottom), ``height`` is
    the mean glyph height, ``spread`` how much the glyphs disagree in height and baseline (in
    glyph heights) and ``score`` in [0, 1] how plate-like the row is.
    """

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    height: np.ndarray
    glyphs: np.ndarray
    spread: np.ndarray
    score: np.ndarray
    level: np.ndarray  # pyramid level the row was found on (0: full size of the input)

    @staticmethod
    def empty() -> GlyphRows:
        z = np.zeros(0, np.float64)
        return GlyphRows(z, z, z, z, z, z, z, z, z)

    @staticmethod
    def concat(parts: list[GlyphRows]) -> GlyphRows:
        if not parts:
            return GlyphRows.empty()
        return GlyphRows(*(np.concatenate([getattr(p, f) for p in parts]) for f in GlyphRows._fields))

    def scaled(self, s: float) -> GlyphRows:
        return self._replace(x1=self.x1 * s, y1=self.y1 * s, x2=self.x2 * s, y2=self.y2 * s, height=self.height * s)

    def take(self, idx: np.ndarray) -> GlyphRows:
        return GlyphRows(*(getattr(self, f)[idx] for f in GlyphRows._fields))


def binarise(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dark and light masks (uint8 0/1) against the local min/max midpoint, where contrast is enough.

    ``g < (hi + lo) / 2`` is tested as ``g - lo < hi - g`` so everything stays in saturating uint8.
    """
    hi = cv2.dilate(gray, _LOCAL)
    lo = cv2.erode(gray, _LOCAL)
    above_lo = cv2.subtract(gray, lo)
    below_hi = cv2.subtract(hi, gray)
    contrasty = cv2.subtract(hi, lo) >= MIN_CONTRAST
    dark = (above_lo < below_hi) & contrasty
    light = (above_lo > below_hi) & contrasty
    return dark.view(np.uint8), light.view(np.uint8)


def cut_lines(mask: np.ndarray) -> np.ndarray:
    """Remove runs longer than any glyph (plate frames, bumper edges, poles) that glue glyphs together.

    Runs are looked for in a copy thickened across the run, so a line tilted by a pixel still counts.
    """
    h = cv2.morphologyEx(cv2.dilate(mask, _THICKEN_V), cv2.MORPH_OPEN, _H_RUN)
    v = cv2.morphologyEx(cv2.dilate(mask, _THICKEN_H), cv2.MORPH_OPEN, _V_RUN)
    return cv2.subtract(mask, cv2.bitwise_or(h, v))


def glyph_boxes(mask: np.ndarray, max_fill: float = 0.95, min_h: int = GLYPH_MIN_PX) -> np.ndarray:
    """(n, 4) float32 x, y, w, h of connected components shaped like glyphs of this level's size.

    Blurred small glyphs fill most of their box; at full resolution ``max_fill`` can be lower,
    which keeps solid blobs (bumper shadows, lamps) from joining a row.
    """
    _, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_BBDT)
    s = stats[1:]
    w, h, area = s[:, 2], s[:, 3], s[:, 4]
    ok = (h >= min_h) & (h <= GLYPH_MAX_PX) & (w * 10 >= h) & (w * 2 <= h * 3)
    fill = area / np.maximum(w * h, 1)
    ok &= (fill > 0.12) & (fill < 0.95) & ((fill < max_fill) | (w * 5 < h * 2))  # solid only when bar-thin (1, I)
    return np.asarray(s[ok, :4], dtype=np.float32)


def _neighbour_pairs(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, reach_h: float = LINK_REACH
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a, b) of glyphs (sorted by x) that could stand next to each other in one row."""
    n = len(x)
    reach = x + w + reach_h * h  # the next glyph starts within about one glyph height
    end = np.searchsorted(x, reach, side="right")
    cnt = np.maximum(end - np.arange(n) - 1, 0)
    total = int(cnt.sum())
    a = np.repeat(np.arange(n), cnt)
    b = a + 1 + np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    cy = y + h / 2
    hmax = np.maximum(h[a], h[b])
    ok = (x[b] >= x[a] + 0.3 * w[a]) & (np.minimum(h[a], h[b]) * 1.5 >= hmax)
    ok &= np.abs(cy[b] - cy[a]) < 0.35 * hmax
    return a[ok], b[ok]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected component label (smallest member index) of each node of an undirected graph."""
    lab = np.arange(n)
    while True:
        m = np.minimum(lab[a], lab[b])
        new = lab.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        if np.array_equal(new, lab):
            return lab
        lab = new


def _inner_glyphs(lab: np.ndarray, x: np.ndarray, w: np.ndarray, h: np.ndarray, min_glyphs: int) -> np.ndarray:
    """Mask dropping a row's end glyph standing apart (a bolt, lamp or frame corner beside the plate).

    Glyphs of one plate are evenly spaced; only a separator inside the text is wider, never one
    at the end. Rows left with fewer than ``min_glyphs`` glyphs go entirely.
    """
    n = len(lab)
    if n == 0:
        return np.zeros(0, bool)
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    ends = np.r_[starts[1:], n] - 1
    k = ends - starts + 1
    mh = np.add.reduceat(h, starts) / k
    gap = np.r_[x[1:] - (x[:-1] + w[:-1]), 0.0]  # to the next glyph (meaningless at a row's last)
    keep = np.ones(n, bool)
    long = k > min_glyphs
    keep[starts[long & (gap[starts] > END_GAP * mh)]] = False
    keep[ends[long & (gap[np.maximum(ends - 1, 0)] > END_GAP * mh)]] = False
    counts = np.add.reduceat(keep.astype(np.int64), starts)
    return keep & (np.repeat(counts, k) >= min_glyphs)


def link_rows(glyphs: np.ndarray, min_glyphs: int = 3, reach_h: float = LINK_REACH) -> GlyphRows:
    """Join glyphs of one height standing side by side into rows (``score_rows`` scores them)."""
    if len(glyphs) < min_glyphs:
        return GlyphRows.empty()
    glyphs = glyphs[np.argsort(glyphs[:, 0], kind="stable")].astype(np.float64)
    x, y, w, h = glyphs.T
    a, b = _neighbour_pairs(x, y, w, h, reach_h)
    lab = _components(len(x), a, b)
    members = np.bincount(lab, minlength=len(x))[lab] >= min_glyphs
    if not members.any():
        return GlyphRows.empty()
    lab, x, y, w, h = lab[members], x[members], y[members], w[members], h[members]
    order = np.argsort(lab, kind="stable")  # stable: x order within each row
    lab, x, y, w, h = lab[order], x[order], y[order], w[order], h[order]
    for _ in range(2):
        keep = _inner_glyphs(lab, x, w, h, min_glyphs)
        lab, x, y, w, h = lab[keep], x[keep], y[keep], w[keep], h[keep]
    if len(lab) == 0:
        return GlyphRows.empty()
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    k = np.diff(np.r_[starts, len(lab)]).astype(np.float64)
    cy = y + h / 2
    mh = np.add.reduceat(h, starts) / k
    mcy = np.add.reduceat(cy, starts) / k
    sd_h = np.sqrt(np.maximum(np.add.reduceat(h * h, starts) / k - mh * mh, 0.0))
    sd_cy = np.sqrt(np.maximum(np.add.reduceat(cy * cy, starts) / k - mcy * mcy, 0.0))
    x1 = np.minimum.reduceat(x, starts)
    x2 = np.maximum.reduceat(x + w, starts)
    spread = (sd_h + sd_cy) / mh
    return GlyphRows(x1, mcy - mh / 2, x2, mcy + mh / 2, mh, k, spread, np.zeros_like(k), np.zeros_like(k))


def _box_means(integral: np.ndarray, x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
    hh, ww = integral.shape[0] - 1, integral.shape[1] - 1
    xa = np.clip(x1, 0, ww).astype(np.intp)
    xb = np.clip(x2, 0, ww).astype(np.intp)
    ya = np.clip(y1, 0, hh).astype(np.intp)
    yb = np.clip(y2, 0, hh).astype(np.intp)
    area = np.maximum((xb - xa) * (yb - ya), 1)
    total = integral[yb, xb] - integral[ya, xb] - integral[yb, xa] + integral[ya, xa]
    return np.asarray(total / area, dtype=np.float64)


def score_rows(gray: np.ndarray, rows: GlyphRows) -> GlyphRows:
    """Score rows: enough glyphs, strong strokes, calm ground above and below, one baseline.

    The stroke term is the mean horizontal gradient inside the row; the calm term compares it
    with the bands just above and below, which on a plate are its plain ground and in foliage,
    gravel or fences are more of the same texture.
    """
    if len(rows.x1) == 0:
        return rows
    gx = cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3))
    integral = cv2.integral(gx)
    gh = rows.y2 - rows.y1
    inside = _box_means(integral, rows.x1, rows.y1, rows.x2, rows.y2)
    above = _box_means(integral, rows.x1, rows.y1 - 0.5 * gh, rows.x2, rows.y1 - 0.1 * gh)
    below = _box_means(integral, rows.x1, rows.y2 + 0.1 * gh, rows.x2, rows.y2 + 0.5 * gh)
    calm = inside / ((above + below) / 2 + 1.0)
    score = (
        np.minimum(rows.glyphs / FULL_GLYPHS, 1.0)
        * np.minimum(inside / FULL_STROKES, 1.0)
        * np.minimum(calm / FULL_CALM, 1.0)
        * np.clip(1.0 - rows.spread, 0.2, 1.0)
    )
    return rows._replace(score=score)


def find_glyph_rows(gray: np.ndarray, max_fill: float = 0.95, reach_h: float = LINK_REACH) -> GlyphRows:
    """Scored glyph rows of every pyramid level, in ``gray``'s pixels.

    ``reach_h`` is the widest gap, in glyph heights, still bridged inside a row.
    """
    parts: list[GlyphRows] = []
    level, scale, index = gray, 1.0, 0
    while min(level.shape[:2]) >= GLYPH_MAX_PX + 8:
        min_h = FINEST_GLYPH_MIN_PX if index == 0 else GLYPH_MIN_PX
        found = [link_rows(glyph_boxes(cut_lines(mask), max_fill, min_h), reach_h=reach_h) for mask in binarise(level)]
        rows = score_rows(level, GlyphRows.concat(found))
        parts.append(rows.scaled(scale)._replace(level=np.full(len(rows.x1), float(index))))
        level = cv2.pyrDown(level)
        scale *= 2.0
        index += 1
    return GlyphRows.concat(parts)


def plate_boxes(
    rows: GlyphRows, up: float = 1.3, down: float = 1.2, side: float = 0.5, stretch: float = 0.05
) -> np.ndarray:
    """(n, 4) xyxy plate boxes around glyph rows.

    Glyphs fill about half a plate's height and sit a little below its middle (a state or
    country name often runs above them). ``up``/``down``/``side`` are in glyph heights,
    ``stretch`` in row widths; the defaults are generous (a proposal), the detector's tight.
    """
    gh = rows.y2 - rows.y1
    cy = (rows.y1 + rows.y2) / 2
    pad = side * gh + stretch * (rows.x2 - rows.x1)
    return np.stack([rows.x1 - pad, cy - up * gh, rows.x2 + pad, cy + down * gh], axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, limit: int | None = None) -> np.ndarray:
    """Indices of boxes (xyxy) kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep: list[int] = []
    while len(order) and (limit is None or len(keep) < limit):
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = area[i] + area[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=np.intp)


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def propose_plates(
    image: np.ndarray, min_plate_width_px: int = 14, max_regions: int = 12, min_score: float = 0.0
) -> list[Region]:
    """Plate regions in ``image`` (BGR or grey) pixels, best first."""
    gray = to_gray(image)
    height, width = gray.shape[:2]
    rows = find_glyph_rows(gray)
    if len(rows.x1) == 0:
        return []
    boxes = plate_boxes(rows)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    wide = ((boxes[:, 2] - boxes[:, 0]) >= min_plate_width_px) & (rows.score >= min_score)
    boxes, scores = boxes[wide], rows.score[wide]
    keep = nms(boxes, scores, NMS_IOU, max_regions)
    return [
        Region(
            label="plate",
            box=BBox(x1=float(b[0]), y1=float(b[1]), x2=float(b[2]), y2=float(b[3])),
            score=float(np.clip(s, 0.0, 1.0)),
        )
        for b, s in zip(boxes[keep], scores[keep], strict=True)
    ]


class CpuProposer:
    """Plate proposals without a model: the default on any jetson-class CPU."""

    name = "cpu"
    colour = False

    def __init__(self, cfg: CpuProposerConfig) -> None:
        self.cfg = cfg
        self.width = cfg.width

    def propose(self, image: np.ndarray) -> list[Region]:
        return propose_plates(image, self.cfg.min_plate_width_px, self.cfg.max_regions, self.cfg.min_score)
