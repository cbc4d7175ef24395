"""How a plate moved relative to the camera, from how its box changed in the frame.

A plate's apparent size is inversely proportional to its distance, so the box growing means
the vehicle is getting closer (approaching) and shrinking means it is getting away
(receding). A plate that leaves the frame at a side while still large was passed (or
passed us). A box that keeps its size kept its distance (static relative to us, e.g. the
car ahead at our speed, or both parked). The ends of the timeline are compared through
medians of their first and last quarter, so one bad detection cannot flip the verdict.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from dashpipe.types import BBox, Motion

GROWTH = 1.15  # size ratio (end/start) beyond which the distance clearly changed
EDGE_FRACTION = 0.03  # a box this close to the left/right border is leaving at that side
SIDE_MOVE = 0.05  # the centre must have travelled this share of the width towards that side
STILL_LARGE = 0.85  # "large" at exit: at least this share of the size it had at the start
MIN_SPAN_S = 0.2  # a shorter timeline says nothing about motion
MIN_POINTS = 2


def _size(b: BBox) -> float:
    return math.sqrt(b.area)


def _ends(values: Sequence[float]) -> tuple[float, float]:
    k = max(1, len(values) // 4)
    return statistics.median(values[:k]), statistics.median(values[-k:])


def relative_motion(timeline: Sequence[tuple[float, BBox]], frame_width: int, frame_height: int) -> Motion:
    """approaching / receding / passing / static / unknown for one plate's (t_s, box) timeline."""
    points = sorted(((t, b) for t, b in timeline if b.valid), key=lambda p: p[0])
    if len(points) < MIN_POINTS or frame_width <= 0 or frame_height <= 0:
        return "unknown"
    if points[-1][0] - points[0][0] < MIN_SPAN_S:
        return "unknown"
    sizes = [_size(b) for _, b in points]
    centres = [b.center[0] / frame_width for _, b in points]
    size_start, size_end = _ends(sizes)
    if size_start <= 0:
        return "unknown"
    growth = size_end / size_start
    cx_start, cx_end = _ends(centres)
    last = points[-1][1]
    at_left = last.x1 <= EDGE_FRACTION * frame_width and cx_end < cx_start - SIDE_MOVE
    at_right = last.x2 >= (1.0 - EDGE_FRACTION) * frame_width and cx_end > cx_start + SIDE_MOVE
    if (at_left or at_right) and growth >= STILL_LARGE:
        return "passing"
    if growth >= GROWTH:
        return "approaching"
    if growth <= 1.0 / GROWTH:
        return "receding"
    return "static"
