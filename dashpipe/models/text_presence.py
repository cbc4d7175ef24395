"""Is there a line of text in this crop? PP-OCRv6's text detector (shipped in the rapidocr wheel) says.

A recogniser reads *something* in any crop: tree trunks become "TYTY", a fence "IIII". The detector
was trained to tell text from texture, so each final plate is checked once on its best crop, which
costs a few milliseconds per plate rather than per read.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dashpipe.models.base import BackendUnavailable
from dashpipe.models.rapidocr import cpu_session, wheel_model

MODEL_NAME = "PP-OCRv6_det_small.onnx"
LIMIT = 320  # longest side fed to the detector, a multiple of 32
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
PIXEL_THRESHOLD = 0.3  # DB's usual binarisation of the probability map
MIN_LINE_SCORE = 0.5  # mean probability inside a text line
MIN_LINE_WIDTH = 0.25  # of the crop width: a plate's number is not a speck
MIN_LINE_ASPECT = 2.0  # width / height: a row of characters is long; a tree crown the detector likes is not


def _input(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape[:2]
    scale = min(1.0, LIMIT / max(h, w)) if max(h, w) > LIMIT else max(1.0, 96 / max(h, w))
    nh, nw = (max(32, int(round(v * scale / 32)) * 32) for v in (h, w))
    img = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    return ((img - MEAN) / STD).transpose(2, 0, 1)[None]


def text_lines(prob: np.ndarray) -> list[tuple[float, float, float]]:
    """(score, width share, width / height) of each text line in a probability map."""
    mask = (prob > PIXEL_THRESHOLD).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for i in range(1, n):
        region = labels == i
        w, h = stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]
        out.append((float(prob[region].mean()), w / prob.shape[1], w / max(h, 1)))
    return out


def shows_text_line(prob: np.ndarray, stretch: float = 1.0) -> bool:
    """Does the probability map hold a sure, long line of some width?

    ``stretch`` is how much more the crop was scaled vertically than horizontally to fit the
    detector's 32-pixel grid; the line's length is judged in the crop's own proportions, so a thin
    crop blown up to 32 rows does not make its text line look short.
    """
    return any(
        s >= MIN_LINE_SCORE and w >= MIN_LINE_WIDTH and a * stretch >= MIN_LINE_ASPECT for s, w, a in text_lines(prob)
    )


class TextPresence:
    """Lazy, one session per process; ``has_text`` on BGR crops."""

    def __init__(self, model: Path | None = None, threads: int = 2) -> None:
        path = model or wheel_model(MODEL_NAME)
        if path is None or not path.is_file():
            raise BackendUnavailable(
                f"text detector not found: {path} (it ships in the rapidocr wheel: pip install 'rapidocr>=3.10')"
            )
        self.model_path: Path = path
        self.threads = threads
        self._session: Any = None
        self._lock = threading.Lock()

    def _run(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._session is None:
                self._session = cpu_session(self.model_path, self.threads)
            session = self._session
        name = session.get_inputs()[0].name
        out: np.ndarray = session.run(None, {name: batch})[0]
        return out

    def has_text(self, crop: np.ndarray) -> bool:
        if crop.size == 0:
            return False
        if crop.ndim == 2:
            crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        batch = _input(crop)
        (h, w), (nh, nw) = crop.shape[:2], batch.shape[2:]
        return shows_text_line(self._run(batch)[0, 0], (nh / h) / (nw / w))
