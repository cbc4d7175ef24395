"""relative_motion on hand-made plate timelines (1920x1080 frames)."""

from __future__ import annotations

import pytest

from dashpipe.gps.movement import relative_motion
from dashpipe.types import BBox

W, H = 1920, 1080


def box(cx: float, cy: float, w: float, h: float | None = None) -> BBox:
    h = w / 4.5 if h is None else h
    return BBox(x1=cx - w / 2, y1=cy - h / 2, x2=cx + w / 2, y2=cy + h / 2)


def timeline(boxes: list[BBox], dt: float = 0.25) -> list[tuple[float, BBox]]:
    return [(i * dt, b) for i, b in enumerate(boxes)]


def test_growing_plate_is_approaching() -> None:
    boxes = [box(960, 600, 40 + 10 * i) for i in range(8)]
    assert relative_motion(timeline(boxes), W, H) == "approaching"


def test_shrinking_plate_is_receding() -> None:
    boxes = [box(900, 600, 120 - 10 * i) for i in range(8)]
    assert relative_motion(timeline(boxes), W, H) == "receding"


def test_constant_size_is_static() -> None:
    boxes = [box(960 + (i % 2) * 4, 600, 80 + (i % 3)) for i in range(10)]
    assert relative_motion(timeline(boxes), W, H) == "static"


def test_leaving_at_the_right_while_large_is_passing() -> None:
    boxes = [box(1300 + 80 * i, 700, 90 + 8 * i) for i in range(8)]
    boxes[-1] = BBox(x1=1850, y1=680, x2=1919, y2=720)
    assert relative_motion(timeline(boxes), W, H) == "passing"


def test_leaving_at_the_left_while_large_is_passing() -> None:
    boxes = [box(600 - 70 * i, 700, 100 + 5 * i) for i in range(8)]
    boxes[-1] = BBox(x1=0, y1=680, x2=80, y2=720)
    assert relative_motion(timeline(boxes), W, H) == "passing"


def test_shrinking_towards_a_side_is_not_passing() -> None:
    """A car that overtook us: it starts large at the side and shrinks towards the middle."""
    boxes = [box(1800 - 100 * i, 650, 160 - 15 * i) for i in range(8)]
    assert relative_motion(timeline(boxes), W, H) == "receding"


def test_one_outlier_does_not_flip_the_verdict() -> None:
    boxes = [box(960, 600, 40 + 10 * i) for i in range(12)]
    boxes[-1] = box(960, 600, 20)  # a bad detection at the end
    assert relative_motion(timeline(boxes), W, H) == "approaching"


@pytest.mark.parametrize(
    "tl",
    [
        [],
        [(0.0, box(960, 600, 80))],
        [(0.0, box(960, 600, 80)), (0.05, box(960, 600, 120))],  # too short a time to say
        [(0.0, BBox(x1=5, y1=5, x2=5, y2=5)), (1.0, BBox(x1=6, y1=6, x2=6, y2=6))],  # empty boxes
    ],
)
def test_too_little_to_say_is_unknown(tl: list[tuple[float, BBox]]) -> None:
    assert relative_motion(tl, W, H) == "unknown"


def test_order_of_the_timeline_does_not_matter() -> None:
    boxes = timeline([box(960, 600, 40 + 10 * i) for i in range(8)])
    assert relative_motion(list(reversed(boxes)), W, H) == "approaching"
