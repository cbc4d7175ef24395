"""YOLO plate/vehicle detector exported to ONNX, on plain onnxruntime (no torch).

Takes Ultralytics exports: YOLOv8-style heads (one ``[1, 4 + nc, N]`` output of centre boxes
and class scores, NMS done here) and end-to-end heads (``[1, N, 6]`` of xyxy, score, class).
Class names come from the export's ``names`` metadata; frames are letterboxed as in training.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import cv2
import numpy as np

from dashpipe.config import YoloDetectorConfig
from dashpipe.models.base import BackendUnavailable, require_file
from dashpipe.models.cpu_proposer import nms
from dashpipe.types import BBox, Region

NMS_IOU = 0.5
MAX_DETECTIONS = 300
PAD_VALUE = 114  # Ultralytics' letterbox grey


class Letterbox(NamedTuple):
    """How a frame was fitted into the network input: scale, then left/top padding."""

    ratio: float
    left: int
    top: int


def letterbox(image: np.ndarray, height: int, width: int) -> tuple[np.ndarray, Letterbox]:
    """Fit ``image`` into height x width keeping its aspect, centred on grey; NCHW float RGB 0..1."""
    h, w = image.shape[:2]
    r = min(height / h, width / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    left = int(round((width - nw) / 2 - 0.1))
    top = int(round((height - nh) / 2 - 0.1))
    canvas = np.full((height, width, 3), PAD_VALUE, np.uint8)
    resized = image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas[top : top + nh, left : left + nw] = resized
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    tensor = np.ascontiguousarray(rgb.transpose(2, 0, 1)[np.newaxis], dtype=np.float32) / 255.0
    return tensor, Letterbox(r, left, top)


def unletterbox(boxes: np.ndarray, lb: Letterbox, width: int, height: int) -> np.ndarray:
    """Network-input xyxy -> frame xyxy, clipped to the frame."""
    out = boxes.astype(np.float64).copy()
    out[:, [0, 2]] = ((out[:, [0, 2]] - lb.left) / lb.ratio).clip(0, width)
    out[:, [1, 3]] = ((out[:, [1, 3]] - lb.top) / lb.ratio).clip(0, height)
    return out


class Boxes(NamedTuple):
    xyxy: np.ndarray  # (n, 4)
    scores: np.ndarray  # (n,)
    classes: np.ndarray  # (n,) int


def decode(output: np.ndarray, confidence: float, iou: float = NMS_IOU) -> Boxes:
    """Boxes in network-input pixels from either head layout, filtered and (YOLOv8 head) NMS'd per class."""
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"expected a YOLO output of 2 or 3 dimensions, got shape {output.shape}")
    if out.shape[1] == 6 and out.shape[0] != 6:  # end-to-end: rows of x1, y1, x2, y2, score, class
        keep = out[:, 4] >= confidence
        rows = out[keep]
        return Boxes(rows[:, :4], rows[:, 4], rows[:, 5].round().astype(np.intp))
    preds = out.T  # (N, 4 + nc)
    if preds.shape[1] < 5:
        raise ValueError(f"expected [1, 4 + classes, N] output, got shape {output.shape}")
    cls_scores = preds[:, 4:]
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores[np.arange(len(classes)), classes]
    keep = scores >= confidence
    cx, cy, w, h = preds[keep, 0], preds[keep, 1], preds[keep, 2], preds[keep, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    scores, classes = scores[keep], classes[keep]
    if len(scores) == 0:
        return Boxes(xyxy, scores, classes)
    # One NMS for all classes: boxes of different classes are moved apart so they never overlap.
    shifted = xyxy + (classes[:, None] * (float(xyxy.max()) + 1.0))
    idx = nms(shifted, scores, iou, MAX_DETECTIONS)
    return Boxes(xyxy[idx], scores[idx], classes[idx])


def class_names(metadata: Mapping[str, str]) -> dict[int, str]:
    """``names`` from an Ultralytics export's metadata ("{0: 'plate', ...}"), else empty."""
    raw = metadata.get("names")
    if not raw:
        return {}
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return {}
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        return {i: str(v) for i, v in enumerate(value)}
    return {}


def label_regions(
    xyxy: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    names: Mapping[int, str],
    plate_classes: Sequence[str],
    vehicle_classes: Sequence[str],
) -> list[Region]:
    """Regions for the classes that are plates or vehicles (vehicles keep their class in ``kind``)."""
    plates = {c.lower() for c in plate_classes}
    vehicles = {c.lower() for c in vehicle_classes}
    out: list[Region] = []
    for (x1, y1, x2, y2), score, cls in zip(xyxy, scores, classes, strict=True):
        name = names.get(int(cls), str(int(cls)))
        if name.lower() in plates:
            label, kind = "plate", None
        elif name.lower() in vehicles:
            label, kind = "vehicle", name
        else:
            continue
        box = BBox(x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2))
        if box.valid:
            out.append(Region(label=label, box=box, score=float(np.clip(score, 0.0, 1.0)), kind=kind))
    return out


def _providers(device: str, available: Sequence[str]) -> list[Any]:
    cuda = "CUDAExecutionProvider" in available
    if device == "cpu" or (device == "auto" and not cuda):
        return ["CPUExecutionProvider"]
    if device.startswith("cuda") and not cuda:
        raise BackendUnavailable(
            f"detector.device is {device!r} but this onnxruntime has no CUDA provider "
            "(install onnxruntime-gpu, or set detector.device: cpu)"
        )
    _, _, index = device.partition(":")
    return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]


class OnnxYoloDetector:
    """Whole-frame YOLO on onnxruntime; ignores hints (it looks everywhere)."""

    name = "yolo_onnx"

    def __init__(self, cfg: YoloDetectorConfig) -> None:
        require_file(cfg.weights, "detector.weights")
        import onnxruntime as ort

        self.cfg = cfg
        try:
            self._session = ort.InferenceSession(
                str(cfg.weights), providers=_providers(cfg.device, ort.get_available_providers())
            )
        except BackendUnavailable:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
            raise BackendUnavailable(f"cannot load {cfg.weights} (detector.weights) as ONNX: {exc}") from exc
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        shape = list(inp.shape)
        fixed = len(shape) == 4 and all(isinstance(v, int) and v > 0 for v in shape[2:])
        self._hw = (int(shape[2]), int(shape[3])) if fixed else (cfg.image_size, cfg.image_size)
        self.names = class_names(self._session.get_modelmeta().custom_metadata_map)

    def detect(self, image: np.ndarray, hints: Sequence[Region]) -> list[Region]:
        height, width = image.shape[:2]
        tensor, lb = letterbox(image, *self._hw)
        (output,) = self._session.run(None, {self._input: tensor})[:1]
        found = decode(output, self.cfg.confidence)
        xyxy = unletterbox(found.xyxy, lb, width, height)
        return label_regions(
            xyxy, found.scores, found.classes, self.names, self.cfg.plate_classes, self.cfg.vehicle_classes
        )
