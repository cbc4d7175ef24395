"""Plate proposals and CPU refinement on real photos (openalpr-us): recall, boxes per photo, speed.

Run: ``python bench/proposal_bench.py [--width 960] [--limit N]``. Prints one table; ``bench_rows``
returns the same rows for a combined table. Timing is single-threaded (``cv2.setNumThreads(1)``),
as on a busy jetson core, and counts the CPU time of that one thread (fastest of a few runs), so
other work on the machine does not inflate it. Each photo labels one plate even where more are
visible, so proposals on those other plates count against nothing but the per-photo figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from dashpipe.config import CpuDetectorConfig, CpuProposerConfig  # noqa: E402
from dashpipe.models.cpu_detector import CpuDetector  # noqa: E402
from dashpipe.models.cpu_proposer import CpuProposer  # noqa: E402
from dashpipe.types import BBox, Region  # noqa: E402

SHARED = ROOT / ".." / "shared" / "data"
DATA = SHARED / "plates" / "openalpr-us"
CROPS = SHARED / "plates" / "openalpr-us-crops" / "usimages"
FRAMES = SHARED / "video" / "udacity"
PASTE_WIDTHS = (40, 55, 75, 110, 160)  # plate widths at the proposer's width


@dataclass(frozen=True)
class BenchRow:
    what: str
    photos: int
    recall_iou30: float  # share of labelled plates matched by some box at IoU >= 0.3
    recall_iou50: float
    median_iou: float  # of the best box per labelled plate, over matched plates (IoU >= 0.3)
    per_photo: float  # boxes returned per photo
    ms_mean: float
    ms_p95: float
    ms_unit: str  # what one timing covers


@dataclass(frozen=True)
class Sample:
    name: str
    image: np.ndarray  # full resolution BGR
    plate: BBox  # labelled plate, full-resolution pixels
    text: str = ""  # its text, letters and digits


def load_samples(data_dir: Path = DATA, limit: int | None = None) -> list[Sample]:
    """Photos and their labelled plate; empty when the data folder is absent."""
    if not data_dir.is_dir():
        return []
    out: list[Sample] = []
    for label in sorted(data_dir.glob("*.txt"))[:limit]:
        name, x, y, w, h, text = label.read_text(encoding="utf-8").strip().split("\t")[:6]
        image = cv2.imread(str(data_dir / name))
        if image is None:
            continue
        box = BBox.from_xywh(float(x), float(y), float(w), float(h))
        out.append(Sample(name, image, box, "".join(c for c in text.upper() if c.isalnum())))
    return out


# Hints off by a share of the plate's width/height in place and grown (or shrunk) in size:
# how far the refiner can be trusted with a poor hint.
OFF_HINTS = ((0.25, 0.0, 1.3), (-0.2, 0.2, 1.8), (0.3, 0.3, 2.4), (0.0, 0.0, 0.8))
REPEATS = 3  # timings are the fastest of a few runs: other work on the machine only adds to them


def _timed(fn: Callable[[np.ndarray], list[Region]], image: np.ndarray) -> tuple[list[Region], float]:
    best = float("inf")
    out: list[Region] = []
    for _ in range(REPEATS):
        t0 = time.thread_time()
        out = fn(image)
        best = min(best, (time.thread_time() - t0) * 1000)
    return out, best


def _off_hint(box: BBox, dx: float, dy: float, grow: float) -> Region:
    cx, cy = box.center
    cx, cy = cx + dx * box.width, cy + dy * box.height
    w, h = box.width * grow / 2, box.height * grow / 2
    return Region(label="plate", box=BBox(x1=cx - w, y1=cy - h, x2=cx + w, y2=cy + h), score=0.5)


def _best_iou(regions: list[Region], truth: BBox) -> float:
    return max((r.box.iou(truth) for r in regions), default=0.0)


def _row(what: str, ious: list[float], counts: list[int], times_ms: list[float], unit: str) -> BenchRow:
    matched = [v for v in ious if v >= 0.3]
    n = max(len(ious), 1)
    return BenchRow(
        what=what,
        photos=len(ious),
        recall_iou30=len(matched) / n,
        recall_iou50=sum(v >= 0.5 for v in ious) / n,
        median_iou=statistics.median(matched) if matched else 0.0,
        per_photo=sum(counts) / n,
        ms_mean=statistics.fmean(times_ms) if times_ms else 0.0,
        ms_p95=float(np.percentile(times_ms, 95)) if times_ms else 0.0,
        ms_unit=unit,
    )


def bench_rows(width: int = 960, samples: list[Sample] | None = None) -> list[BenchRow]:
    """Proposer rows (all photos; 16:9 photos alone for the dashcam frame time), then the refiner
    on the proposer's hints and on labelled boxes moved and resized (``OFF_HINTS``)."""
    samples = load_samples() if samples is None else samples
    if not samples:
        return []
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        proposer = CpuProposer(CpuProposerConfig(width=width))
        detector = CpuDetector(CpuDetectorConfig())
        p_iou: list[float] = []
        p_cnt: list[int] = []
        p_ms: list[float] = []
        wide_iou: list[float] = []
        wide_cnt: list[int] = []
        wide_ms: list[float] = []
        d_iou: list[float] = []
        d_cnt: list[int] = []
        d_ms: list[float] = []
        for s in samples:
            h, w = s.image.shape[:2]
            scale = width / w
            small = cv2.resize(s.image, (width, round(h * scale)), interpolation=cv2.INTER_AREA)
            proposals, ms = _timed(proposer.propose, small)
            hints = [r.model_copy(update={"box": r.box.scale(1 / scale)}) for r in proposals]
            iou = _best_iou(hints, s.plate)
            p_iou.append(iou)
            p_cnt.append(len(hints))
            p_ms.append(ms)
            if abs(w / h - 16 / 9) < 0.02:
                wide_iou.append(iou)
                wide_cnt.append(len(hints))
                wide_ms.append(ms)
            plates, ms = _timed(partial(detector.detect, hints=hints), s.image)
            if hints:
                d_ms.append(ms / len(hints))
            d_iou.append(_best_iou(plates, s.plate))
            d_cnt.append(len(plates))
        rows = [
            _row(f"cpu proposer @{width}px, all photos", p_iou, p_cnt, p_ms, "frame"),
            _row(f"cpu proposer @{width}px, 16:9 photos", wide_iou, wide_cnt, wide_ms, "frame"),
            _row("cpu detector, full res, on those hints", d_iou, d_cnt, d_ms, "hint"),
        ]
        for dx, dy, grow in OFF_HINTS:
            ious, counts, times = [], [], []
            for s in samples:
                hint = _off_hint(s.plate, dx, dy, grow)
                plates, ms = _timed(partial(detector.detect, hints=[hint]), s.image)
                ious.append(_best_iou(plates, s.plate))
                counts.append(len(plates))
                times.append(ms)
            what = f"cpu detector, label moved {dx:+.2f},{dy:+.2f} x{grow}"
            rows.append(_row(what, ious, counts, times, "hint"))
    finally:
        cv2.setNumThreads(threads)
    return rows


def pasted_rows(width: int = 960, every: int = 3, seed: int = 7) -> list[BenchRow]:
    """Plates the proposer was never tuned on: straightened crops (openalpr-us-crops) pasted at
    several widths into real road frames (udacity), blurred a little and JPEG-compressed as a
    video frame would be. One row per plate width; empty when either folder is absent.
    """
    crops = sorted(CROPS.glob("*.png"))[::every]
    frames = [cv2.imread(str(p)) for p in sorted(FRAMES.rglob("*.jpg"))]
    backgrounds = [
        cv2.resize(f, (width, width * 9 // 16), interpolation=cv2.INTER_AREA) for f in frames if f is not None
    ]
    if not crops or not backgrounds:
        return []
    rng = np.random.default_rng(seed)
    proposer = CpuProposer(CpuProposerConfig(width=width))
    found: dict[int, list[float]] = {w: [] for w in PASTE_WIDTHS}
    counts: dict[int, list[int]] = {w: [] for w in PASTE_WIDTHS}
    for i, path in enumerate(crops):
        crop = cv2.imread(str(path))
        if crop is None:
            continue
        pw = PASTE_WIDTHS[i % len(PASTE_WIDTHS)]
        ph = round(pw * crop.shape[0] / crop.shape[1])
        frame = backgrounds[int(rng.integers(len(backgrounds)))].copy()
        x = int(rng.integers(0, frame.shape[1] - pw))
        y = int(rng.integers(frame.shape[0] // 3, frame.shape[0] - ph))
        frame[y : y + ph, x : x + pw] = cv2.resize(crop, (pw, ph), interpolation=cv2.INTER_AREA)
        blurred = cv2.GaussianBlur(frame, (3, 3), 0.6)
        decoded = cv2.imdecode(cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, 80])[1], cv2.IMREAD_COLOR)
        assert decoded is not None
        regions = proposer.propose(decoded)
        found[pw].append(_best_iou(regions, BBox(x1=x, y1=y, x2=x + pw, y2=y + ph)))
        counts[pw].append(len(regions))
    return [_row(f"cpu proposer, pasted crop {w}px wide", found[w], counts[w], [], "-") for w in PASTE_WIDTHS]


def format_table(rows: list[BenchRow]) -> str:
    head = f"{'what':44} {'photos':>6} {'R@.3':>6} {'R@.5':>6} {'medIoU':>6} {'boxes':>6} {'ms':>6} {'p95':>6}  per"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.what:44} {r.photos:6d} {r.recall_iou30:6.3f} {r.recall_iou50:6.3f} {r.median_iou:6.3f} "
            f"{r.per_photo:6.1f} {r.ms_mean:6.2f} {r.ms_p95:6.2f}  {r.ms_unit}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=960, help="proposer width (the preprocess width)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    args = parser.parse_args(argv)
    samples = load_samples(limit=args.limit)
    if not samples:
        print(f"skipped: no photos at {DATA.resolve()} (the shared data folder is absent)")
        return 0
    print(f"machine: {describe()}\n")
    print(f"openalpr-us: {len(samples)} photos, one labelled plate each; single-threaded OpenCV")
    print(format_table(bench_rows(args.width, samples)))
    pasted = pasted_rows(args.width)
    if pasted:
        print("\nunseen plates: openalpr-us-crops pasted into udacity road frames (no timing)")
        print(format_table(pasted))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
