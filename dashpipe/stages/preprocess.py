"""Jetson stage: choose the few frames worth a full-resolution look, and where to look in them.

A moving dashcam changes every frame, so "motion" alone keeps everything. Frames are grouped in
time slots (``keep_fps`` per second); each slot keeps its sharpest frame that is lit, sharp and
different from the last kept frame, and the rest are rejected with a reason. Sharpness is judged
against the recent median, not an absolute number, so a soft camera is not rejected wholesale
while a shaken frame still is. Frames that are dark or blurry but still show a plate region are
kept with a flag (the heavy stage enhances them) rather than lost.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from dashpipe.config import PreprocessSettings
from dashpipe.models.base import Proposer
from dashpipe.types import FrameQuality, Region, RejectReason, SelectedFrame
from dashpipe.video import LowFrame

MOTION_GRID = (8, 6)  # blocks across, down: a small local change (one car moving) still counts
MOTION_WIDTH = 96  # motion is measured on a tiny image where sensor noise has averaged away
SHARPNESS_WINDOW = 60  # frames of history for the median sharpness


@dataclass(frozen=True, slots=True)
class Measured:
    frame: LowFrame
    brightness: float
    bright_p99: float
    sharpness: float
    tiny: np.ndarray  # float32 MOTION_WIDTH-wide luma for the change measure


@dataclass
class Selection:
    selected: list[SelectedFrame] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=lambda: {r.value: 0 for r in RejectReason})
    frames_seen: int = 0
    thumbnails: dict[int, np.ndarray] = field(default_factory=dict)


def measure(frame: LowFrame) -> Measured:
    luma = frame.luma
    hist = cv2.calcHist([luma], [0], None, [256], [0, 256]).ravel()
    cdf = np.cumsum(hist)
    p99 = float(np.searchsorted(cdf, 0.99 * cdf[-1]))
    brightness = float(np.dot(hist, np.arange(256)) / max(cdf[-1], 1.0))
    _, std = cv2.meanStdDev(cv2.Laplacian(luma, cv2.CV_16S, ksize=1))
    h, w = luma.shape
    tiny = cv2.resize(luma, (MOTION_WIDTH, max(1, round(h * MOTION_WIDTH / w))), interpolation=cv2.INTER_AREA)
    return Measured(frame, brightness, p99, float(std[0][0]) ** 2, tiny.astype(np.float32))


def change(a: np.ndarray, b: np.ndarray) -> float:
    """Largest mean absolute luma change over a coarse grid of blocks (0..255)."""
    diff = cv2.absdiff(a, b)
    cols, rows = MOTION_GRID
    cells = cv2.resize(diff, (cols, rows), interpolation=cv2.INTER_AREA)
    return float(cells.max())


def _scaled(regions: Sequence[Region], factor: float) -> tuple[Region, ...]:
    return tuple(r.model_copy(update={"box": r.box.scale(factor)}) for r in regions)


class FrameSelector:
    """Streaming selection: feed frames in order, read the selection at the end."""

    def __init__(
        self,
        cfg: PreprocessSettings,
        fps: float,
        full_width: int,
        proposer: Proposer | None,
    ) -> None:
        self.cfg = cfg
        self.fps = fps if fps > 0 else 30.0
        self.full_width = full_width
        self.proposer = proposer
        self.result = Selection()
        self._slot: list[Measured] = []
        self._slot_id: int | None = None
        self._last_kept: np.ndarray | None = None
        self._sharp_hist: deque[float] = deque(maxlen=SHARPNESS_WINDOW)

    def add(self, frame: LowFrame) -> None:
        self.result.frames_seen += 1
        slot_id = int(frame.pts_s * self.cfg.keep_fps + 1e-6)
        if self._slot_id is not None and slot_id != self._slot_id:
            self._close_slot()
        self._slot_id = slot_id
        m = measure(frame)
        if m.bright_p99 >= self.cfg.dark_p99:
            self._sharp_hist.append(m.sharpness)
        self._slot.append(m)

    def finish(self) -> Selection:
        if self._slot:
            self._close_slot()
        return self.result

    # -- internals

    def _sharp_floor(self) -> float:
        median = statistics.median(self._sharp_hist) if self._sharp_hist else 0.0
        return max(self.cfg.min_sharpness, self.cfg.blur_ratio * median)

    def _reason(self, m: Measured, floor: float) -> RejectReason | None:
        if m.bright_p99 < self.cfg.dark_p99:
            return RejectReason.dark
        if m.sharpness < floor:
            return RejectReason.blurry
        if self._last_kept is not None and change(m.tiny, self._last_kept) < self.cfg.static_threshold:
            return RejectReason.static
        return None

    def _close_slot(self) -> None:
        slot, self._slot = self._slot, []
        floor = self._sharp_floor()
        reasons = [self._reason(m, floor) for m in slot]
        good = [m for m, r in zip(slot, reasons) if r is None]
        kept: Measured | None = None
        flags: tuple[RejectReason, ...] = ()
        regions: tuple[Region, ...] = ()
        if good:
            kept = max(good, key=lambda m: m.sharpness)
            regions = self._propose(kept)
        elif self.cfg.rescue_flagged and self.proposer is not None:
            flagged = [(m, r) for m, r in zip(slot, reasons) if r in (RejectReason.dark, RejectReason.blurry)]
            if flagged:
                cand, reason = max(flagged, key=lambda mr: mr[0].sharpness)
                if self._last_kept is None or change(cand.tiny, self._last_kept) >= self.cfg.static_threshold:
                    found = self._propose(cand)
                    if any(r.label == "plate" for r in found):
                        kept, flags, regions = cand, (reason,), found
        for m, r in zip(slot, reasons):
            if m is kept:
                continue
            self.result.rejected[(r or RejectReason.redundant).value] += 1
        if kept is None:
            return
        motion = 255.0 if self._last_kept is None else change(kept.tiny, self._last_kept)
        self._last_kept = kept.tiny
        quality = FrameQuality(
            brightness=round(kept.brightness, 1),
            bright_p99=round(kept.bright_p99, 1),
            sharpness=round(kept.sharpness, 1),
            motion=round(motion, 2),
        )
        self.result.selected.append(
            SelectedFrame(
                index=kept.frame.index,
                pts_s=round(kept.frame.pts_s, 4),
                quality=quality,
                flags=flags,
                regions=regions,
            )
        )
        if self.cfg.thumbnails:
            self.result.thumbnails[kept.frame.index] = kept.frame.bgr(160)

    def _propose(self, m: Measured) -> tuple[Region, ...]:
        if self.proposer is None:
            return ()
        image = m.frame.bgr(self.proposer.width)
        return _scaled(self.proposer.propose(image), self.full_width / image.shape[1])


def select_frames(
    frames: Iterable[LowFrame],
    cfg: PreprocessSettings,
    fps: float,
    full_width: int,
    proposer: Proposer | None,
    progress: Callable[[int], None] | None = None,
) -> Selection:
    selector = FrameSelector(cfg, fps, full_width, proposer)
    for frame in frames:
        selector.add(frame)
        if progress is not None and selector.result.frames_seen % 30 == 0:
            progress(selector.result.frames_seen)
    return selector.finish()
