"""Builders of plate reads for the pure plate tests, and the real crop data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashpipe.types import BBox, CropQuality, PlateRead

REPO = Path(__file__).resolve().parents[3]
CROPS = REPO.parent / "shared" / "data" / "plates" / "openalpr-us-crops"

GOOD = CropQuality(sharpness=800.0, height_px=60.0, brightness=128.0, contrast=60.0)


def need(path: Path) -> Path:
    """The real data path, or a skip saying where it was expected."""
    if not path.exists():
        pytest.skip(f"real data not found at {path} (the shared data folder sits beside the repo)")
    return path


def read(
    text: str,
    conf: float = 0.9,
    *,
    t: float = 0.0,
    frame: int | None = None,
    box: tuple[float, float, float, float] = (100.0, 100.0, 200.0, 130.0),
    quality: CropQuality = GOOD,
    char_conf: tuple[float, ...] | None = None,
) -> PlateRead:
    x1, y1, x2, y2 = box
    return PlateRead(
        frame_index=frame if frame is not None else round(t * 30),
        t_s=t,
        box=BBox(x1=x1, y1=y1, x2=x2, y2=y2),
        text=text,
        confidence=conf,
        char_confidences=char_conf if char_conf is not None else (conf,) * len(text),
        quality=quality,
    )
