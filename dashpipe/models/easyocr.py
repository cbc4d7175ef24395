"""Plate reader on EasyOCR (gpu extra): CRAFT text detector + CRNN recogniser, offline only.

The plate number row is found the same way as for RapidOCR (``dashpipe.plates.band``) and read
directly by the recogniser; when no row is found, EasyOCR's own detector looks for text and the
tallest line wins (state names and slogans are smaller than the number). Model files are never
downloaded: they must be in ``ocr.model_dir`` with the names and checksums EasyOCR expects.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dashpipe.config import EasyOcrConfig
from dashpipe.models.base import BackendUnavailable
from dashpipe.plates.band import find_band
from dashpipe.plates.text import ALNUM, normalize
from dashpipe.types import OcrResult

DETECTOR = "craft"
ROW_MARGIN = 0.15  # of the row height, above and below the number row
TALL_LINE = 0.7  # detected lines at least this share of the tallest line's height make up the plate


def _import_easyocr() -> Any:
    try:
        import easyocr
        import torch  # noqa: F401  (easyocr needs it; say so before its own import error does)
    except ImportError as exc:
        raise BackendUnavailable(
            f"EasyOCR backend needs easyocr and torch ({exc}); install the gpu extra: pip install 'dashpipe[gpu]'"
        ) from exc
    return easyocr


def recognizer_name(languages: Sequence[str], configured: str | None, latin: Sequence[str]) -> str | None:
    """The recognition network EasyOCR will load (its own rule for English and Latin scripts);
    None for other scripts, where EasyOCR's own check names the file."""
    if configured:
        return configured
    if list(languages) == ["en"]:
        return "english_g2"
    if set(languages) <= set(latin):
        return "latin_g2"
    return None


def required_files(cfg: EasyOcrConfig) -> list[str]:
    """File names EasyOCR looks for in ``model_dir`` for this configuration (as far as known)."""
    models = _import_easyocr().config
    files = [models.detection_models[DETECTOR]["filename"]]
    name = recognizer_name(cfg.languages, cfg.recognizer, models.latin_lang_list)
    if name is not None:
        rec = models.recognition_models["gen2"].get(name) or models.recognition_models["gen1"].get(name)
        if rec is None:
            raise BackendUnavailable(f"unknown EasyOCR recognizer {name!r} (setting 'ocr.recognizer')")
        files.append(rec["filename"])
    return files


class EasyOcrReader:
    """PlateReader on EasyOCR; checks its files at construction, loads the networks on first use."""

    name = "easyocr"

    def __init__(self, cfg: EasyOcrConfig) -> None:
        self.cfg = cfg
        model_dir = Path(cfg.model_dir).expanduser()
        if not model_dir.is_dir():
            raise BackendUnavailable(f"EasyOCR model folder not found: {model_dir} (set 'ocr.model_dir')")
        missing = [f for f in required_files(cfg) if not (model_dir / f).is_file()]
        if missing:
            raise BackendUnavailable(
                f"EasyOCR model file(s) missing in {model_dir}: {', '.join(missing)} "
                "(set 'ocr.model_dir' to the folder holding them; nothing is downloaded)"
            )
        self.model_dir = model_dir
        self._lock = threading.Lock()
        self._reader: Any = None

    def _load(self) -> Any:
        with self._lock:
            if self._reader is None:
                easyocr = _import_easyocr()
                import torch

                gpu = bool(self.cfg.gpu and torch.cuda.is_available())
                kwargs: dict[str, Any] = {}
                if self.cfg.recognizer:
                    kwargs["recog_network"] = self.cfg.recognizer
                try:
                    self._reader = easyocr.Reader(
                        list(self.cfg.languages),
                        gpu=gpu,
                        model_storage_directory=str(self.model_dir),
                        user_network_directory=str(self.model_dir),
                        download_enabled=False,
                        detector=True,
                        recognizer=True,
                        verbose=False,
                        **kwargs,
                    )
                except FileNotFoundError as exc:  # missing file or checksum mismatch, downloads off
                    raise BackendUnavailable(
                        f"EasyOCR cannot load its models: {exc} (set 'ocr.model_dir' to a folder with "
                        "EasyOCR's original files)"
                    ) from exc
            return self._reader

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        if not crops:
            return []
        reader = self._load()
        return [self._read_one(reader, c) for c in crops]

    def _read_one(self, reader: Any, crop: np.ndarray) -> OcrResult:
        if crop.size == 0:
            return OcrResult(text="", confidence=0.0)
        bgr = crop if crop.ndim == 3 else cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        band = find_band(bgr)
        if band is not None:
            top, bottom = band.rows(ROW_MARGIN, gray.shape[0])
            found = reader.recognize(
                gray,
                horizontal_list=[[0, gray.shape[1], top, bottom]],
                free_list=[],
                allowlist=ALNUM,
                detail=1,
                paragraph=False,
            )
        else:
            found = reader.readtext(bgr, allowlist=ALNUM, detail=1, paragraph=False)
        return tallest_line(found)


def tallest_line(found: Sequence[Any]) -> OcrResult:
    """Join EasyOCR's (box, text, confidence) items of the tallest line, left to right."""
    items = []
    for box, text, conf in found:
        pts = np.asarray(box, dtype=np.float64).reshape(-1, 2)
        items.append((float(np.ptp(pts[:, 1])), float(pts[:, 0].min()), normalize(str(text)), float(conf)))
    items = [i for i in items if i[2]]
    if not items:
        return OcrResult(text="", confidence=0.0)
    tallest = max(i[0] for i in items)
    line = sorted((i for i in items if i[0] >= TALL_LINE * tallest), key=lambda i: i[1])
    text = "".join(i[2] for i in line)
    weights = [len(i[2]) for i in line]
    confidence = float(np.average([i[3] for i in line], weights=weights))
    return OcrResult(text=text, confidence=confidence)
