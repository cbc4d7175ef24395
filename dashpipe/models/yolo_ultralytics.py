"""YOLO plate/vehicle detector with Ultralytics and .pt weights (the ``gpu`` extra).

Ultralytics fetches weights, fonts and packages on demand; here it is told to stay offline
before it is first imported, so a missing file fails at start instead of downloading.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dashpipe.config import YoloDetectorConfig
from dashpipe.models.base import BackendUnavailable, require_file
from dashpipe.models.yolo_onnx import label_regions
from dashpipe.types import Region


def _stay_offline() -> None:
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    if not os.environ.get("YOLO_CONFIG_DIR"):
        path = Path(tempfile.gettempdir()) / "dashpipe-ultralytics"
        path.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(path)


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda:0' when torch sees a GPU, else 'cpu'; a CUDA device torch cannot see fails now."""
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(
            f"detector.device is {device!r} but torch sees no CUDA GPU (install the CUDA build of torch, "
            "or set detector.device: auto or cpu)"
        )
    return device


class UltralyticsDetector:
    """Whole-frame YOLO through Ultralytics; ignores hints (it looks everywhere)."""

    name = "yolo"

    def __init__(self, cfg: YoloDetectorConfig) -> None:
        require_file(cfg.weights, "detector.weights")
        _stay_offline()
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise BackendUnavailable(
                "detector type 'yolo' needs ultralytics and torch: pip install 'dashpipe[gpu]' "
                "(or export the model to ONNX and use detector.type: yolo_onnx)"
            ) from exc
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        try:
            self._model: Any = YOLO(str(cfg.weights), task="detect")
        except Exception as exc:  # torch/ultralytics raise many kinds for a bad checkpoint
            raise BackendUnavailable(f"cannot load {cfg.weights} (detector.weights) as YOLO weights: {exc}") from exc
        self.names: dict[int, str] = {int(k): str(v) for k, v in dict(self._model.names).items()}

    def detect(self, image: np.ndarray, hints: Sequence[Region]) -> list[Region]:
        result = self._model.predict(
            image, imgsz=self.cfg.image_size, conf=self.cfg.confidence, device=self.device, verbose=False
        )[0]
        boxes = result.boxes
        return label_regions(
            boxes.xyxy.cpu().numpy(),
            boxes.conf.cpu().numpy(),
            boxes.cls.cpu().numpy().astype(np.intp),
            self.names,
            self.cfg.plate_classes,
            self.cfg.vehicle_classes,
        )
