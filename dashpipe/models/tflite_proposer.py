"""Plate/vehicle proposals from an SSD-style .tflite detector, on a Coral Edge TPU or the CPU.

The model is any detector ending in TFLite's detection post-processing (boxes as normalised
[ymin, xmin, ymax, xmax], classes, scores, count), e.g. an SSD MobileNet trained on plates and
vehicles and compiled for the Edge TPU. It runs through ``ai_edge_litert`` (the ``coral`` extra);
the Edge TPU needs Coral's ``libedgetpu`` delegate on the host.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from dashpipe.config import TfliteProposerConfig
from dashpipe.models.base import BackendUnavailable, require_file
from dashpipe.types import BBox, Region


class Detections(NamedTuple):
    """The four post-processed outputs, dequantised: boxes (n, 4) normalised yxyx, classes, scores."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray


def read_labels(path: Path) -> dict[int, str]:
    """Class id -> name from 'name' lines (id = line number) or 'id name' lines."""
    names: dict[int, str] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        text = line.strip()
        if not text:
            continue
        head, _, rest = text.partition(" ")
        if head.isdigit() and rest.strip():
            names[int(head)] = rest.strip()
        else:
            names[i] = text
    return names


def _integral(a: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - np.round(a)) < 1e-6))


def split_outputs(outputs: Sequence[tuple[str, np.ndarray]]) -> Detections:
    """Find boxes, classes, scores and count among the outputs, whatever their order.

    Exporters differ (TF1: boxes, classes, scores, count; TF2 often scores, boxes, count,
    classes), so boxes are told by their trailing 4, count by its single value, and classes
    from scores by name, else by classes being whole numbers, else by the TF1 order.
    """
    if len(outputs) != 4:
        raise ValueError(f"expected 4 detection outputs (boxes, classes, scores, count), got {len(outputs)}")
    arrays = [(name.lower(), np.asarray(a, dtype=np.float32)) for name, a in outputs]
    box_i = [i for i, (_, a) in enumerate(arrays) if a.ndim >= 2 and a.shape[-1] == 4 and a.size > 1]
    cnt_i = [i for i, (_, a) in enumerate(arrays) if a.size == 1]
    if len(box_i) != 1 or len(cnt_i) != 1:
        shapes = [a.shape for _, a in arrays]
        raise ValueError(f"cannot tell boxes and count apart in output shapes {shapes}")
    rest = [i for i in range(4) if i not in (box_i[0], cnt_i[0])]
    first, second = arrays[rest[0]], arrays[rest[1]]
    if "score" in first[0] or "class" in second[0]:
        scores, classes = first[1], second[1]
    elif "class" in first[0] or "score" in second[0]:
        classes, scores = first[1], second[1]
    elif _integral(first[1]) != _integral(second[1]):
        classes, scores = (first[1], second[1]) if _integral(first[1]) else (second[1], first[1])
    else:
        classes, scores = first[1], second[1]
    n = int(round(float(arrays[cnt_i[0]][1].reshape(-1)[0])))
    boxes = arrays[box_i[0]][1].reshape(-1, 4)
    n = max(0, min(n, len(boxes)))
    return Detections(boxes[:n], classes.reshape(-1)[:n], scores.reshape(-1)[:n])


def to_regions(
    det: Detections,
    names: dict[int, str],
    width: int,
    height: int,
    plate_labels: Sequence[str],
    vehicle_labels: Sequence[str],
    score_threshold: float,
) -> list[Region]:
    """Regions in pixels of a ``width`` x ``height`` image; classes that are neither are dropped."""
    plates = {s.lower() for s in plate_labels}
    vehicles = {s.lower() for s in vehicle_labels}
    out: list[Region] = []
    for (y1, x1, y2, x2), cls, score in zip(det.boxes, det.classes, det.scores, strict=True):
        if score < score_threshold:
            continue
        name = names.get(int(round(float(cls))), str(int(round(float(cls)))))
        key = name.lower()
        if key in plates:
            label, kind = "plate", None
        elif key in vehicles:
            label, kind = "vehicle", name
        else:
            continue
        box = BBox(x1=float(x1) * width, y1=float(y1) * height, x2=float(x2) * width, y2=float(y2) * height)
        box = box.clip(float(width), float(height))
        if box.valid:
            out.append(Region(label=label, box=box, score=float(np.clip(score, 0.0, 1.0)), kind=kind))
    return out


def prepare_input(image: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """BGR uint8 image -> the model's input tensor (RGB, its size, its type)."""
    _, h, w, _ = (int(v) for v in detail["shape"])
    rgb = cv2.cvtColor(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    dtype = np.dtype(detail["dtype"])
    if dtype == np.uint8:
        tensor = rgb
    elif dtype == np.int8:
        tensor = (rgb.astype(np.int16) - 128).astype(np.int8)
    else:  # float models of this family take [-1, 1]
        tensor = ((rgb.astype(np.float32) - 127.5) / 127.5).astype(dtype)
    return tensor[np.newaxis]


def _dequantise(a: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if np.issubdtype(a.dtype, np.floating):
        return a
    scale, zero = detail.get("quantization", (0.0, 0))
    return (a.astype(np.float32) - zero) * (scale or 1.0)


def _make_interpreter(cfg: TfliteProposerConfig) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter, load_delegate
    except ImportError as exc:
        raise BackendUnavailable(
            "proposer type 'tflite'/'edgetpu' needs ai-edge-litert: pip install 'dashpipe[coral]'"
        ) from exc
    delegates = []
    if cfg.type == "edgetpu":
        options = {"device": cfg.device} if cfg.device else {}
        try:
            # Opening the library first keeps a missing libedgetpu from half-building a Delegate
            # (whose finaliser then fails noisily); load_delegate still reports a missing TPU.
            ctypes.CDLL(cfg.delegate)
            delegates.append(load_delegate(cfg.delegate, options))
        except (OSError, ValueError) as exc:
            where = f" on device {cfg.device!r}" if cfg.device else ""
            raise BackendUnavailable(
                f"Edge TPU delegate '{cfg.delegate}' could not be loaded{where} ({exc}): libedgetpu is missing "
                "or no Coral TPU is attached. Install the Edge TPU runtime (Debian package 'libedgetpu1-std' "
                "from Coral's apt repository), plug in the TPU, or set 'proposer.type: tflite' to run the "
                "same model on the CPU."
            ) from exc
    return Interpreter(model_path=str(cfg.model), experimental_delegates=delegates or None)


class TfliteProposer:
    """SSD-style .tflite detector as a proposer ('edgetpu' on a Coral, 'tflite' on the CPU)."""

    colour = True

    def __init__(self, cfg: TfliteProposerConfig) -> None:
        require_file(cfg.model, "proposer.model")
        if cfg.labels is not None:
            require_file(cfg.labels, "proposer.labels")
        self.cfg = cfg
        self.name = cfg.type
        self._names = read_labels(cfg.labels) if cfg.labels is not None else {}
        self._interp = _make_interpreter(cfg)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]
        self._outputs = self._interp.get_output_details()
        if len(self._outputs) != 4 or len(self._input["shape"]) != 4:
            raise BackendUnavailable(
                f"{cfg.model} (proposer.model) is not an SSD-style detector with post-processing: expected one "
                f"NHWC image input and 4 outputs (boxes, classes, scores, count), found input shape "
                f"{list(self._input['shape'])} and {len(self._outputs)} outputs"
            )
        self.width = int(self._input["shape"][2])

    def propose(self, image: np.ndarray) -> list[Region]:
        height, width = image.shape[:2]
        self._interp.set_tensor(self._input["index"], prepare_input(image, self._input))
        self._interp.invoke()
        outputs = [(d["name"], _dequantise(self._interp.get_tensor(d["index"]), d)) for d in self._outputs]
        det = split_outputs(outputs)
        return to_regions(
            det, self._names, width, height, self.cfg.plate_labels, self.cfg.vehicle_labels, self.cfg.score_threshold
        )
