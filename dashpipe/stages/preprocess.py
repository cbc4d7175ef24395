"""Jetson stage: choose the few frames worth a full-resolution look, and where to look in them.

A moving dashcam changes every frame, so "motion" alone keeps everything. Frames are grouped in
time slots (``keep_fps`` per second); each slot keeps its sharpest frame that is lit, sharp and
different from the last kept frame, and the rest are rejected with a reason. Sharpness is judged
against the recent median, not an absolute number, so a soft camera is not rejected wholesale
while a shaken frame still is. Frames that are dark or blurry but still show a plate region are
kept with a flag (the heavy stage enhances them) rather than lost. Text the camera burns into
every frame is found once the whole video is seen (``dashpipe.overlay``), and the proposals on it
are dropped.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np

from dashpipe.config import PreprocessSettings
from dashpipe.models.base import Proposer
from dashpipe.overlay import OverlayFinder, in_overlay
from dashpipe.types import BBox, FrameQuality, Region, RejectReason, SelectedFrame
from dashpipe.video import LowFrame

MOTION_GRID = (8, 6)  # blocks across, down: a small local change (one car moving) still counts
MOTION_WIDTH = 96  # motion is measured on a tiny image where sensor noise has averaged away
SHARPNESS_WINDOW = 60  # frames of history for the median sharpness
MAX_PENDING = 4  # chosen frames (and their decoded pictures) waiting for proposals at most
OVERLAY_SLOTS = 6  # proposals asked for beyond the limit: burned-in text takes some until it is found


@dataclass(frozen=True, slots=True)
class Measured:
    frame: LowFrame
    brightness: float
    bright_p99: float
    sharpness: float
    tiny: np.ndarray  # float32 MOTION_WIDTH-wide luma for the change measure


@dataclass(frozen=True, slots=True)
class _Pending:
    """A chosen frame waiting for its proposals (a rescued one is kept only if they hold a plate)."""

    frame: LowFrame
    quality: FrameQuality
    flag: RejectReason | None
    regions: Future[tuple[Region, ...]] | None


@dataclass
class Selection:
    selected: list[SelectedFrame] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=lambda: {r.value: 0 for r in RejectReason})
    frames_seen: int = 0
    last_pts_s: float = 0.0  # time of the last frame: with frames_seen, the frame rate the decoder saw
    thumbnails: dict[int, np.ndarray] = field(default_factory=dict)
    overlays: tuple[BBox, ...] = ()  # burned-in text, full-frame boxes


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
        region_limit: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.region_limit = region_limit
        self.fps = fps if fps > 0 else 30.0
        self.full_width = full_width
        self.proposer = proposer
        self.result = Selection()
        self._slot: list[Measured] = []
        self._slot_id: int | None = None
        self._last_kept: np.ndarray | None = None
        self._sharp_hist: deque[float] = deque(maxlen=SHARPNESS_WINDOW)
        self._pending: deque[_Pending] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self._overlays = OverlayFinder() if cfg.find_overlays else None

    def add(self, frame: LowFrame) -> None:
        self.result.frames_seen += 1
        self.result.last_pts_s = max(self.result.last_pts_s, frame.pts_s)
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
        while self._pending:
            self._settle(self._pending.popleft())
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._overlays is not None:
            self._drop_overlays(self._overlays.boxes(self.full_width))
        if self.region_limit is not None:
            self._trim(self.region_limit)
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
        chosen: Measured | None = None
        flag: RejectReason | None = None
        if good:
            chosen = max(good, key=lambda m: m.sharpness)
        elif self.cfg.rescue_flagged and self.proposer is not None:
            flagged = [(m, r) for m, r in zip(slot, reasons) if r in (RejectReason.dark, RejectReason.blurry)]
            if flagged:
                cand, reason = max(flagged, key=lambda mr: mr[0].sharpness)
                if self._last_kept is None or change(cand.tiny, self._last_kept) >= self.cfg.static_threshold:
                    chosen, flag = cand, reason
        for m, r in zip(slot, reasons):
            if m is not chosen:
                self.result.rejected[(r or RejectReason.redundant).value] += 1
        if chosen is None:
            return
        motion = 255.0 if self._last_kept is None else change(chosen.tiny, self._last_kept)
        if flag is None:
            self._last_kept = chosen.tiny  # a rescued frame is not proof the scene moved on
            if self._overlays is not None:
                self._overlays.add(chosen.frame.luma, chosen.frame.pts_s)
        quality = FrameQuality(
            brightness=round(chosen.brightness, 1),
            bright_p99=round(chosen.bright_p99, 1),
            sharpness=round(chosen.sharpness, 1),
            motion=round(motion, 2),
        )
        self._pending.append(_Pending(chosen.frame, quality, flag, self._propose_later(chosen.frame)))
        while len(self._pending) > MAX_PENDING:
            self._settle(self._pending.popleft())

    def _propose_later(self, frame: LowFrame) -> Future[tuple[Region, ...]] | None:
        """Proposals run on a worker thread: OpenCV and the colour conversion release the GIL, so they
        overlap the decoder, which leaves part of the CPU idle while it waits on its own threads."""
        if self.proposer is None:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="propose")
        return self._pool.submit(self._propose, frame)

    def _propose(self, frame: LowFrame) -> tuple[Region, ...]:
        assert self.proposer is not None
        width = self.proposer.width
        image = frame.bgr(width) if self.proposer.colour else frame.gray(width)
        return _scaled(self.proposer.propose(image), self.full_width / image.shape[1])

    def _settle(self, p: _Pending) -> None:
        regions = p.regions.result() if p.regions is not None else ()
        if p.flag is not None and not any(r.label == "plate" for r in regions):
            self.result.rejected[p.flag.value] += 1  # dark or blurry, and no plate to rescue
            return
        self.result.selected.append(
            SelectedFrame(
                index=p.frame.index,
                pts_s=round(p.frame.pts_s, 4),
                quality=p.quality,
                flags=(p.flag,) if p.flag is not None else (),
                regions=regions,
            )
        )
        if self.cfg.thumbnails:
            self.result.thumbnails[p.frame.index] = p.frame.bgr(160)

    def _drop_overlays(self, overlays: tuple[BBox, ...]) -> None:
        """Proposals on burned-in text go; so does a rescued frame that kept only for them."""
        if not overlays:
            return
        self.result.overlays = overlays
        kept = []
        for f in self.result.selected:
            regions = tuple(r for r in f.regions if not in_overlay(r.box, overlays))
            if f.flags and not any(r.label == "plate" for r in regions):
                self.result.rejected[f.flags[0].value] += 1
                self.result.thumbnails.pop(f.index, None)
                continue
            kept.append(f.model_copy(update={"regions": regions}) if len(regions) != len(f.regions) else f)
        self.result.selected = kept

    def _trim(self, limit: int) -> None:
        self.result.selected = [
            f.model_copy(update={"regions": tuple(sorted(f.regions, key=lambda r: -r.score)[:limit])})
            if len(f.regions) > limit
            else f
            for f in self.result.selected
        ]


def select_frames(
    frames: Iterable[LowFrame],
    cfg: PreprocessSettings,
    fps: float,
    full_width: int,
    proposer: Proposer | None,
    progress: Callable[[int], None] | None = None,
    region_limit: int | None = None,
) -> Selection:
    """``region_limit``: the most regions a kept frame keeps, counted after burned-in text is dropped."""
    selector = FrameSelector(cfg, fps, full_width, proposer, region_limit)
    with opencv_threads(1):
        for frame in frames:
            selector.add(frame)
            if progress is not None and selector.result.frames_seen % 30 == 0:
                progress(selector.result.frames_seen)
        return selector.finish()


@contextmanager
def opencv_threads(count: int) -> Iterator[None]:
    """OpenCV's own thread pool, at ``count`` for a while.

    The images here are small and the decoder already keeps the cores busy, so splitting each
    OpenCV call over threads costs more in hand-offs than it gains: on 960 px frames the
    proposer took about twice the CPU time with OpenCV's default pool as with one thread.
    """
    before = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before)
