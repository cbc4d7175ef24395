"""Cutting plate crops out of frames and scoring how readable they are."""

from __future__ import annotations

import cv2
import numpy as np

from dashpipe.types import BBox, CropQuality

DEFAULT_MARGIN = 0.08  # of the box size on each side: detectors cut plates tight, OCR wants the edges
MAX_DESKEW_DEG = 15.0  # a larger angle is more likely a wrong fit than a tilted plate
MIN_DESKEW_DEG = 1.5  # below this a rotation costs more sharpness than it gains


def extract_crop(frame: np.ndarray, box: BBox, margin: float = DEFAULT_MARGIN, level: bool = True) -> np.ndarray:
    """The box grown by ``margin`` (share of its size per side), clipped at the frame edges.

    With ``level`` a tilted plate is rotated level (``deskew``): the recogniser reads a level row
    much better. Corners come from the crop's own edges, not from the frame around it, whose
    clutter would reach the end characters.
    Returns a copy (the frame buffer may be reused by the decoder); an empty array when the box
    lies outside the frame.
    """
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = box.expand(margin).clip(w, h).as_int()
    if x2 <= x1 or y2 <= y1:
        return np.zeros((0, 0, *frame.shape[2:]), dtype=frame.dtype)
    crop = np.ascontiguousarray(frame[y1:y2, x1:x2])
    return deskew(crop) if level else crop


def _gray(crop: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop


def crop_quality(crop: np.ndarray) -> CropQuality:
    """Sharpness (variance of the Laplacian), height, mean brightness and RMS contrast of a crop."""
    if crop.size == 0:
        return CropQuality(sharpness=0.0, height_px=0.0, brightness=0.0, contrast=0.0)
    gray = _gray(crop)
    return CropQuality(
        sharpness=float(cv2.Laplacian(gray, cv2.CV_64F).var()),
        height_px=float(gray.shape[0]),
        brightness=float(gray.mean()),
        contrast=float(gray.std()),
    )


def skew_angle(crop: np.ndarray) -> float:
    """Tilt of the plate's main character row in degrees (positive: the row rises to the right).

    Fitted through the bottoms of the row's characters, which stay on one line whatever the font.
    """
    from dashpipe.plates.band import find_band

    band = find_band(crop)
    if band is None:
        return 0.0
    h = band.height
    chars = [
        b
        for b in band.blobs
        if 0.6 * h <= b[3] <= 1.4 * h and b[2] <= 1.2 * b[3] and band.y1 - 0.5 * h <= b[1] <= band.y1 + 0.5 * h
    ]
    if len(chars) < 3:
        return 0.0
    xs = np.array([b[0] + b[2] / 2 for b in chars], dtype=np.float64)
    ys = np.array([b[1] + b[3] for b in chars], dtype=np.float64)
    if np.ptp(xs) < 2 * h:
        return 0.0
    slope = np.polyfit(xs, ys, 1)[0]
    return float(-np.degrees(np.arctan(slope)))


def deskew(crop: np.ndarray) -> np.ndarray:
    """The crop rotated so that its character row is level; unchanged when already level or unsure."""
    angle = skew_angle(crop)
    if not MIN_DESKEW_DEG <= abs(angle) <= MAX_DESKEW_DEG:
        return crop
    h, w = crop.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -angle, 1.0)
    return cv2.warpAffine(crop, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
