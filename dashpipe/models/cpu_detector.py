"""Tight plate boxes at full resolution around the proposer's hints, on the CPU.

Each hint is only a rough guess (found at a fraction of the resolution, possibly off in place
and size), so a window around it is searched again with the proposer's glyph-row machinery at
a scale where the expected glyphs are comfortably large. A hint whose window holds no row of
glyphs is dropped; one that does becomes a tight plate box.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from dashpipe.config import CpuDetectorConfig
from dashpipe.models.cpu_proposer import GlyphRows, binarise, find_glyph_rows, nms, to_gray
from dashpipe.types import BBox, Region

TARGET_GLYPH_PX = 20  # expected glyph height after rescaling the window (the pyramid covers x0.35..)
MAX_UPSCALE = 2.0
HINT_GLYPHS = 2.4  # a hint is about this many glyph heights tall (proposals 2.5, tight plate boxes 2.2)
MIN_SCORE = 0.12  # weaker rows are texture, not a plate
MERGE_IOU = 0.5
NEAR_SIGMA = 0.5  # hint sizes: how fast a row's distance from the hint's centre counts against it
# How fast a row's glyph height counts against it the further it is from the height the hint implies
# (log ratio): a hint was proposed for a row of one size, and a state name or dealer text beside the
# plate is a row of far smaller glyphs. Wide, as hints can be off in size by a factor of two.
SIZE_SIGMA = 0.9
MAX_FILL = 0.8
# How much more uneven (``GlyphRows.spread``: glyph heights and baselines, in glyph heights) than the
# picked row a row beside it may be and still widen the plate (``_join_collinear``).
JOIN_SPREAD = 0.3
# A plate around its glyph row, in glyph heights (sides: in row widths). Glyphs fill a bit under
# half a (US-style) plate and sit below its middle, under the state name; plates whose glyphs
# fill more of them (most of Europe) get a box somewhat too tall, never one that cuts glyphs.
PLATE_UP = 1.19
PLATE_DOWN = 0.97
PLATE_SIDE = 0.02
# The row finder can miss an end glyph (one touching the plate's frame or standing a little apart):
# a glyph's width more on each side keeps it in the crop; the reader finds the row inside it.
GLYPH_SIDE = 0.8
# Around a known plate a row may bridge wider gaps than when searching a whole frame: separators
# ("AB-123-CD", "AB12 CDE") are about a glyph wide.
DETECTOR_REACH = 1.8
# A one-glyph group behind a dash ("VN-606-X") stands farther off than the row finder keeps an end
# glyph; it is looked for up to SEPARATOR_GAP glyph heights past the row's end (in a window reaching
# SEPARATOR_WINDOW), and the dash must be there.
SEPARATOR_GAP = 1.6
SEPARATOR_WINDOW = 2.5
# A solid glyph of the row's height and baseline this close to its end belongs to it though the row
# finder left it out: heavy glyphs shrunk to a far plate's size ("B", "8" in a Dutch or German font)
# fill more of their box than MAX_FILL lets into a row, and the row then ends short of them and of
# the groups behind them (the "3" of "3-BHF-69" was lost that way).
BESIDE_GAP = 0.5
# A dim plate (night, shade, a grey plate behind a dirty cover) has strokes too faint for the row
# score, which is in absolute grey levels; a window holding no row is searched once more with its
# grey levels stretched from these percentiles to the full range, when they span less than half of
# it (a wider window would barely change), more than a flat one, and many times the window's noise
# (sensor noise stretched makes rows of blobs of its own).
STRETCH_PERCENTILES = (2.0, 98.0)
STRETCH_RANGE = (8.0, 128.0)
MIN_STRETCH_SNR = 10.0


def _join_collinear(rows: GlyphRows, best: int) -> tuple[float, float, float, float, float]:
    """Extend the best row with rows of the same height and baseline close beside it.

    A plate's glyphs can split into groups ("ABC 1234", a sticker or emblem between them). A row
    much more uneven than the best one (JOIN_SPREAD) is not another group of the plate but the
    plate's glyphs linked to clutter beside it (bumper texture, a frame's bolts), and stays out.
    """
    h = rows.height[best]
    cy = (rows.y1 + rows.y2) / 2
    near = (np.abs(cy - cy[best]) < 0.3 * h) & (np.abs(rows.height - h) < 0.3 * h)
    near &= rows.spread <= rows.spread[best] + JOIN_SPREAD
    x1, x2 = float(rows.x1[best]), float(rows.x2[best])
    changed = True
    while changed:
        changed = False
        for i in np.flatnonzero(near):
            if rows.x2[i] >= x1 - 3.0 * h and rows.x1[i] <= x2 + 3.0 * h:
                nx1, nx2 = min(x1, float(rows.x1[i])), max(x2, float(rows.x2[i]))
                if (nx1, nx2) != (x1, x2):
                    x1, x2, changed = nx1, nx2, True
    return x1, float(rows.y1[best]), x2, float(rows.y2[best]), float(rows.score[best])


def _blob_stats(mask: np.ndarray) -> np.ndarray:
    """(n, 5) x, y, w, h, area of the connected components of a 0/1 mask."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return np.asarray(stats[1:, :5], dtype=np.float64)


def _past_separator(gray: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    """The row's ends moved out over a group of glyphs standing behind a separator dash ("VN-606-X").

    The row finder drops an end glyph standing apart (it is more often a bolt or a frame corner),
    which is also what a one-glyph group after a dash looks like. Only a glyph of the row's height
    and baseline with a dash between it and the row is taken back, so bolts and frames stay out; so is
    a solid glyph (filled past MAX_FILL, which the row finder refuses) right beside the row's end, a
    heavy glyph shrunk to a far plate's size. One taken back may open the way to the next.
    """
    gh = y2 - y1
    reach = SEPARATOR_WINDOW * gh
    h, w = gray.shape[:2]
    ax1, ax2 = max(0, int(x1 - reach)), min(w, int(np.ceil(x2 + reach)))
    ay1, ay2 = max(0, int(y1 - 0.5 * gh)), min(h, int(np.ceil(y2 + 0.5 * gh)))
    if ax2 - ax1 < 4 or ay2 - ay1 < 4:
        return x1, x2
    left, right = x1, x2
    for mask in binarise(gray[ay1:ay2, ax1:ax2]):
        b = _blob_stats(mask)
        bx, by, bw, bh = b[:, 0] + ax1, b[:, 1] + ay1, b[:, 2], b[:, 3]
        glyph = (np.abs(by - y1) < 0.2 * gh) & (np.abs(by + bh - y2) < 0.2 * gh) & (bw >= 0.2 * gh) & (bw <= 1.2 * gh)
        solid = glyph & (b[:, 4] >= MAX_FILL * bw * bh)
        level = np.abs(by + bh / 2 - (y1 + y2) / 2) < gh / 6  # centred on the row's middle
        dash = level & (bw >= bh) & (bh <= 0.3 * gh) & (bw >= 0.25 * gh) & (bw <= 0.9 * gh)
        right = max(right, _outer_end(bx, bx + bw, glyph, solid, dash, x2, gh))
        left = min(left, -_outer_end(-(bx + bw), -bx, glyph, solid, dash, -x1, gh))  # the left side, mirrored
    return left, right


def _outer_end(
    start: np.ndarray,
    stop: np.ndarray,
    glyph: np.ndarray,
    solid: np.ndarray,
    dash: np.ndarray,
    end: float,
    gh: float,
) -> float:
    """Past the row's right ``end``: glyph by glyph, the far edge of the last solid glyph right beside
    it or glyph behind a dash, else ``end``."""
    while True:
        found = end
        for k in np.flatnonzero(glyph & (start >= end - 0.1 * gh) & (start <= end + SEPARATOR_GAP * gh)):
            beside = solid[k] and start[k] <= end + BESIDE_GAP * gh
            behind_dash = (dash & (start >= end - 0.1 * gh) & (stop <= start[k] + 0.1 * gh)).any()
            if beside or (start[k] >= end + 0.3 * gh and behind_dash):
                found = max(found, float(stop[k]))
        if found <= end:
            return end
        end = found


def _pick(rows: GlyphRows, hint: BBox) -> int:
    """The row most likely to be the hinted plate.

    Rows near the hint's centre are favoured (the hint may be off, but seldom by more than its
    size). Where a finer pyramid level saw the same row, the finer one wins: coarser levels
    blur neighbouring structure into the row and so outline it worse.
    """
    hx, hy = hint.center
    cx, cy = (rows.x1 + rows.x2) / 2, (rows.y1 + rows.y2) / 2
    d2 = ((cx - hx) / max(hint.width, 1.0)) ** 2 + ((cy - hy) / max(hint.height, 1.0)) ** 2
    size = np.log(rows.height / max(hint.height / HINT_GLYPHS, 1.0))
    weight = rows.score * np.exp(-d2 / (2 * NEAR_SIGMA**2) - size**2 / (2 * SIZE_SIGMA**2))
    best = int(np.argmax(weight))
    iw = np.clip(np.minimum(rows.x2, rows.x2[best]) - np.maximum(rows.x1, rows.x1[best]), 0, None)
    ih = np.clip(np.minimum(rows.y2, rows.y2[best]) - np.maximum(rows.y1, rows.y1[best]), 0, None)
    inside = iw * ih / np.maximum((rows.x2 - rows.x1) * (rows.y2 - rows.y1), 1e-9)
    same_size = np.abs(np.log(rows.height / rows.height[best])) < np.log(1.5)  # not a row of parts
    finer = np.flatnonzero((rows.level < rows.level[best]) & (inside > 0.5) & same_size)
    if len(finer):
        best = int(finer[np.argmax(weight[finer])])
    return best


def _plate_rows(gray: np.ndarray) -> GlyphRows:
    rows = find_glyph_rows(gray, MAX_FILL, DETECTOR_REACH)
    return rows.take(np.flatnonzero(rows.score >= MIN_SCORE))


def noise_level(gray: np.ndarray) -> float:
    """Standard deviation of the pixel noise, from the median absolute step between neighbours: most
    neighbours lie on flat ground, so edges barely move it. At least one grey level (quantisation)."""
    step = np.diff(gray.astype(np.int16), axis=1)
    mad = float(np.median(np.abs(step - np.median(step))))
    return max(1.4826 * mad / np.sqrt(2.0), 1.0)


def _stretched(gray: np.ndarray) -> np.ndarray | None:
    """``gray`` with its grey levels stretched to the full range, or None where that would not help."""
    lo, hi = np.percentile(gray, STRETCH_PERCENTILES)
    if not STRETCH_RANGE[0] <= hi - lo <= STRETCH_RANGE[1] or hi - lo < MIN_STRETCH_SNR * noise_level(gray):
        return None
    gain = 255.0 / (hi - lo)
    return cv2.convertScaleAbs(gray, alpha=gain, beta=-lo * gain)


def refine_plate(gray: np.ndarray, hint: BBox, margin: float) -> Region | None:
    """The plate around ``hint`` as a tight box in ``gray``'s pixels, or None when there is none."""
    height, width = gray.shape[:2]
    window = hint.expand(margin).clip(float(width), float(height))
    wx1, wy1, wx2, wy2 = window.as_int()
    if wx2 - wx1 < 8 or wy2 - wy1 < 8:
        return None
    crop = gray[wy1:wy2, wx1:wx2]
    glyph = max(hint.height / HINT_GLYPHS, 1.0)
    s = min(TARGET_GLYPH_PX / glyph, MAX_UPSCALE)
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    scaled = cv2.resize(crop, None, fx=s, fy=s, interpolation=interp) if abs(s - 1.0) > 0.05 else crop
    sy = scaled.shape[0] / crop.shape[0]
    sx = scaled.shape[1] / crop.shape[1]
    rows = _plate_rows(scaled)
    if len(rows.x1) == 0:
        stretched = _stretched(scaled)
        rows = _plate_rows(stretched) if stretched is not None else rows
    if len(rows.x1) == 0:
        return None
    rows = rows._replace(
        x1=rows.x1 / sx + wx1,
        x2=rows.x2 / sx + wx1,
        y1=rows.y1 / sy + wy1,
        y2=rows.y2 / sy + wy1,
        height=rows.height / sy,
    )
    best = _pick(rows, hint)
    x1, y1, x2, y2, score = _join_collinear(rows, best)
    x1, x2 = _past_separator(gray, x1, y1, x2, y2)
    gh, cy = y2 - y1, (y1 + y2) / 2
    pad = PLATE_SIDE * (x2 - x1) + GLYPH_SIDE * gh
    box = BBox(x1=x1 - pad, y1=cy - PLATE_UP * gh, x2=x2 + pad, y2=cy + PLATE_DOWN * gh)
    box = box.clip(float(width), float(height))
    if not box.valid:
        return None
    return Region(label="plate", box=box, score=float(np.clip(score, 0.0, 1.0)))


class CpuDetector:
    """Refines plate hints into tight boxes; vehicle hints pass through (no vehicle model here)."""

    name = "cpu"

    def __init__(self, cfg: CpuDetectorConfig) -> None:
        self.cfg = cfg

    def detect(self, image: np.ndarray, hints: Sequence[Region]) -> list[Region]:
        gray = to_gray(image)
        plates = [r for h in hints if h.label == "plate" if (r := refine_plate(gray, h.box, self.cfg.margin))]
        vehicles = [h for h in hints if h.label == "vehicle"]
        if len(plates) > 1:
            boxes = np.array([[r.box.x1, r.box.y1, r.box.x2, r.box.y2] for r in plates])
            keep = nms(boxes, np.array([r.score for r in plates]), MERGE_IOU)
            plates = [plates[i] for i in keep]
        return plates + vehicles
