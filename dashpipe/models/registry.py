"""The explicit backend registry: config ``type`` -> the class that implements it.

Adding a backend touches its own module and one line here. Modules are imported only when
chosen, so the jetson never imports torch and the base install never needs the extras.
"""

from __future__ import annotations

import importlib
from typing import Any

from dashpipe.config import DetectorConfig, OcrConfig, ProposerConfig
from dashpipe.models.base import BackendUnavailable, Detector, PlateReader, Proposer

PROPOSERS: dict[str, str] = {
    "cpu": "dashpipe.models.cpu_proposer:CpuProposer",
    "edgetpu": "dashpipe.models.tflite_proposer:TfliteProposer",
    "tflite": "dashpipe.models.tflite_proposer:TfliteProposer",
}
DETECTORS: dict[str, str] = {
    "cpu": "dashpipe.models.cpu_detector:CpuDetector",
    "yolo": "dashpipe.models.yolo_ultralytics:UltralyticsDetector",
    "yolo_onnx": "dashpipe.models.yolo_onnx:OnnxYoloDetector",
}
READERS: dict[str, str] = {
    "rapidocr": "dashpipe.models.rapidocr:RapidOcrReader",
    "easyocr": "dashpipe.models.easyocr:EasyOcrReader",
}


def _load(table: dict[str, str], kind: str, cfg: Any) -> Any:
    try:
        target = table[cfg.type]
    except KeyError:
        raise BackendUnavailable(f"unknown {kind} type {cfg.type!r}; expected one of {sorted(table)}") from None
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls(cfg)


def build_proposer(cfg: ProposerConfig) -> Proposer:
    proposer: Proposer = _load(PROPOSERS, "proposer", cfg)
    return proposer


def build_detector(cfg: DetectorConfig) -> Detector:
    detector: Detector = _load(DETECTORS, "detector", cfg)
    return detector


def build_reader(cfg: OcrConfig) -> PlateReader:
    reader: PlateReader = _load(READERS, "ocr", cfg)
    return reader
