"""The three backend interfaces. Each backend is one module; heavy libraries are imported inside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from dashpipe.types import OcrResult, Region


class BackendUnavailable(RuntimeError):
    """A backend cannot start: missing file, library or device. The message says which and how to fix."""


@runtime_checkable
class Proposer(Protocol):
    """Coarse plate/vehicle regions on a low-resolution frame (jetson queue).

    ``image`` is uint8 at the proposer's own working size: BGR when ``colour`` is true, else luma
    only (which spares the decoder's colour conversion on every kept frame). Boxes come back in
    the pixels of that image (the caller scales them to the full frame).
    """

    name: str
    width: int  # the image width this proposer wants
    colour: bool  # False: a single-channel luma image is all it reads

    def propose(self, image: np.ndarray) -> list[Region]: ...


@runtime_checkable
class Detector(Protocol):
    """Plate (and vehicle) boxes at full resolution (gpu queue).

    ``hints`` are the proposer's regions scaled to the full frame; a detector may search only
    around them (the CPU refiner) or ignore them and look at the whole frame (YOLO).
    """

    name: str

    def detect(self, image: np.ndarray, hints: Sequence[Region]) -> list[Region]: ...


@runtime_checkable
class PlateReader(Protocol):
    """Text of tight plate crops (BGR uint8), one result per crop, in order."""

    name: str

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]: ...


def require_file(path: object, setting: str) -> None:
    """Fail at start, naming the file and the setting, instead of at the first frame."""
    from pathlib import Path

    if path is None or not Path(str(path)).is_file():
        raise BackendUnavailable(f"model file not found: {path} (set '{setting}' to an existing file)")
