"""Help for crops from dark or blurry frames before OCR: exposure, local contrast, sharpening.

Each step is chosen from the crop itself (a frame flagged dark can hold a plate lit by headlights),
so a crop that needs nothing comes back nearly unchanged. Which steps help is still a guess from
the crop's statistics, so a flagged crop is read both ways and the surer read kept (``read_either``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

from dashpipe.models.base import PlateReader
from dashpipe.types import OcrResult

DARK_MEAN = 90.0  # mean grey below this: lift the mid-tones with a gamma curve
TARGET_MEAN = 120.0
MIN_GAMMA = 0.35
LOW_CONTRAST = 40.0  # RMS contrast below this: local contrast equalisation (CLAHE)
CLAHE_CLIP = 2.0
SHARP_AMOUNT = 1.0  # unsharp mask weight
SHARP_SIGMA = 0.02  # blur radius of the unsharp mask, share of the crop height
BLURRY_EDGE = 0.7  # steepest edge / grey range below this: the crop is soft, sharpen it (crisp: ~1)


def gamma_for(mean: float) -> float:
    """Exponent that moves a mean grey of ``mean`` towards ``TARGET_MEAN`` (1.0: leave it)."""
    if mean >= DARK_MEAN or mean <= 1.0:
        return 1.0
    return float(np.clip(np.log(TARGET_MEAN / 255.0) / np.log(mean / 255.0), MIN_GAMMA, 1.0))


def _apply_gamma(img: np.ndarray, gamma: float) -> np.ndarray:
    lut = (np.linspace(0.0, 1.0, 256) ** gamma * 255.0).round().astype(np.uint8)
    return cv2.LUT(img, lut)


def _clahe(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    tiles = (max(1, round(w / max(h, 1) * 2)), 2)  # square-ish tiles on a wide plate
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=tiles)
    if img.ndim == 2:
        return clahe.apply(img)
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB)
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def _unsharp(img: np.ndarray) -> np.ndarray:
    sigma = max(0.8, SHARP_SIGMA * img.shape[0])
    soft = cv2.GaussianBlur(img, (0, 0), sigma)
    return cv2.addWeighted(img, 1.0 + SHARP_AMOUNT, soft, -SHARP_AMOUNT, 0)


def edge_ratio(gray: np.ndarray) -> float:
    """Steepest edges over the crop's grey range: ~1 for a crisp step, lower the softer the edges.

    Percentiles keep it independent of how much of the crop is flat background, and the range
    keeps it independent of exposure.
    """
    lo, hi = np.percentile(gray, (5, 95))
    if hi - lo < 8:
        return 0.0
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    return float(np.percentile(np.hypot(gx, gy), 99)) / (4.0 * float(hi - lo))


def enhance(crop: np.ndarray) -> np.ndarray:
    """Gamma for dark crops, CLAHE for flat ones, unsharp masking for soft ones (BGR or grey uint8)."""
    if crop.size == 0:
        return crop
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    out = crop
    gamma = gamma_for(float(gray.mean()))
    if gamma < 1.0:
        out = _apply_gamma(out, gamma)
    g = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY) if out.ndim == 3 else out
    if float(g.std()) < LOW_CONTRAST:
        out = _clahe(out)
    if edge_ratio(gray) < BLURRY_EDGE:
        out = _unsharp(out)
    return out


class EitherRead(NamedTuple):
    """The read ``read_either`` kept for one crop."""

    read: OcrResult
    crop: np.ndarray  # the crop the read was made from
    enhanced: bool


def read_either(reader: PlateReader, crops: Sequence[np.ndarray]) -> list[EitherRead]:
    """Each crop read as it is and enhanced; the surer read is kept (the plain one on a tie).

    Lifting a dark crop gains many characters, but sharpening cannot undo motion blur and its
    ringing costs some there (``bench/ocr_bench.py`` measures both). The reader's own confidence
    tells which of the two it could read, for the price of a second read of the few flagged crops.
    """
    if not crops:
        return []
    helped = [enhance(c) for c in crops]
    reads = reader.read([*crops, *helped])
    return [
        EitherRead(e, h, True) if e.confidence > p.confidence else EitherRead(p, c, False)
        for c, h, p, e in zip(crops, helped, reads[: len(crops)], reads[len(crops) :], strict=True)
    ]
