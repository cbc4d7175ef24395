"""Crops cut from frames, their quality score, deskewing, and enhancement of dark or soft crops."""

import cv2
import numpy as np
import pytest

from dashpipe.plates.crop import crop_quality, deskew, extract_crop, skew_angle
from dashpipe.plates.enhance import edge_ratio, enhance, gamma_for
from dashpipe.types import BBox


def plate(text: str = "ABC 123", scale: float = 2.0, thick: int = 4) -> np.ndarray:
    img = np.full((80, 300, 3), 235, np.uint8)
    cv2.putText(img, text, (12, 60), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), thick, cv2.LINE_AA)
    return img


def test_extract_crop_adds_margin_and_clips_at_the_frame_edge() -> None:
    frame = np.arange(100 * 200 * 3, dtype=np.uint32).reshape(100, 200, 3).astype(np.uint8)
    inner = extract_crop(frame, BBox(x1=50, y1=20, x2=150, y2=60), margin=0.1)
    assert inner.shape == (48, 120, 3)
    edge = extract_crop(frame, BBox(x1=-30, y1=80, x2=40, y2=130), margin=0.0)
    assert edge.shape == (20, 40, 3)
    assert np.array_equal(edge, frame[80:100, 0:40])
    edge[:] = 0
    assert frame[80:100, 0:40].any()  # a copy, not a view into the decoder's buffer
    assert extract_crop(frame, BBox(x1=300, y1=0, x2=400, y2=50)).size == 0


def test_crop_quality_ranks_sharp_large_and_well_lit_first() -> None:
    sharp = crop_quality(plate())
    blurred = crop_quality(cv2.GaussianBlur(plate(), (0, 0), 3))
    dark = crop_quality((plate() * 0.2).astype(np.uint8))
    small = crop_quality(cv2.resize(plate(), (150, 40), interpolation=cv2.INTER_AREA))
    assert sharp.height_px == 80 and sharp.brightness > 150 and sharp.contrast > 20
    assert sharp.score > blurred.score and sharp.score > dark.score and sharp.score > small.score
    empty = crop_quality(np.zeros((0, 0, 3), np.uint8))
    assert empty.height_px == 0 and empty.score == 0


@pytest.mark.parametrize("angle", [-6.0, 5.0])
def test_deskew_levels_a_tilted_plate(angle: float) -> None:
    img = cv2.copyMakeBorder(plate("ABC 1234", 1.6), 40, 40, 20, 20, cv2.BORDER_CONSTANT, value=(235, 235, 235))
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)  # positive: counter-clockwise, row rises
    tilted = cv2.warpAffine(img, m, (w, h), borderValue=(235, 235, 235))
    assert skew_angle(tilted) == pytest.approx(angle, abs=1.5)
    assert abs(skew_angle(deskew(tilted))) < 1.5
    level = plate("ABC 1234", 1.6)
    assert deskew(level) is level


def test_extract_crop_levels_a_tilted_plate_unless_told_not_to() -> None:
    frame = np.full((400, 600, 3), 90, np.uint8)
    frame[150:310, 130:470] = cv2.copyMakeBorder(
        plate("ABC 1234", 1.6), 40, 40, 20, 20, cv2.BORDER_CONSTANT, value=(235, 235, 235)
    )
    m = cv2.getRotationMatrix2D((300, 230), 6.0, 1.0)
    tilted = cv2.warpAffine(frame, m, (600, 400), borderValue=(90, 90, 90))
    box = BBox(x1=130, y1=150, x2=470, y2=310)
    assert skew_angle(extract_crop(tilted, box, margin=0.0, level=False)) == pytest.approx(6.0, abs=1.5)
    levelled = extract_crop(tilted, box, margin=0.0)
    assert levelled.shape == extract_crop(tilted, box, margin=0.0, level=False).shape
    assert abs(skew_angle(levelled)) < 1.5


def test_gamma_lifts_only_dark_crops() -> None:
    assert gamma_for(30.0) < 0.6
    assert gamma_for(150.0) == 1.0


def test_enhance_brightens_a_dark_crop_and_sharpens_a_soft_one() -> None:
    dark = (plate().astype(np.float32) * 0.15).astype(np.uint8)
    lifted = enhance(dark)
    assert lifted.mean() > 2 * dark.mean()
    assert lifted.std() > dark.std()
    soft = cv2.GaussianBlur(plate(), (0, 0), 2.5)
    g = cv2.cvtColor(soft, cv2.COLOR_BGR2GRAY)
    assert edge_ratio(cv2.cvtColor(enhance(soft), cv2.COLOR_BGR2GRAY)) > edge_ratio(g)


def test_enhance_leaves_a_good_crop_alone_and_keeps_shape() -> None:
    good = plate()
    out = enhance(good)
    assert out.shape == good.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - good.astype(int)).mean() < 3
    gray = cv2.cvtColor(good, cv2.COLOR_BGR2GRAY)
    assert enhance(gray).shape == gray.shape
