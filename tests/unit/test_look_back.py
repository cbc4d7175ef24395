"""A sure read at the picture's side is looked for again in the frames decoded just before it.

Real parts throughout: clips encoded with x264 and decoded by PyAV, the CPU detector and the
RapidOCR reader on a drawn plate that moves across the picture.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dashpipe.config import CpuDetectorConfig, PlateSettings, RapidOcrConfig
from dashpipe.models.cpu_detector import CpuDetector
from dashpipe.models.rapidocr import RapidOcrReader
from dashpipe.stages.heavy import read_plates
from dashpipe.types import BBox, FrameQuality, PreprocessResult, Region, SelectedFrame, VideoInfo
from dashpipe.video import planar_bgr, read_frames
from tests.unit.test_video import write_frames

W, H = 640, 360
PLATE_W, PLATE_H = 150, 44
STEP = 30  # px a frame: a car passing close by
Q = FrameQuality(brightness=120, bright_p99=250, sharpness=500, motion=20)


def plate() -> np.ndarray:
    img = np.full((PLATE_H, PLATE_W, 3), 235, np.uint8)
    cv2.rectangle(img, (1, 1), (PLATE_W - 2, PLATE_H - 2), (40, 40, 40), 2)
    cv2.putText(img, "XFT6698", (9, 35), cv2.FONT_HERSHEY_SIMPLEX, 1.05, (20, 20, 20), 3, cv2.LINE_AA)
    return img


def passing_clip(path: Path, xs: list[int]) -> Path:
    """The plate at each of ``xs`` (its left edge; negative is partly out of the picture) on a
    textured grey scene."""
    rng = np.random.default_rng(7)
    scene = cv2.GaussianBlur(rng.integers(60, 140, (H, W, 3), dtype=np.uint8), (0, 0), 3)
    frames = []
    for x in xs:
        img = scene.copy()
        p = plate()
        a, b = max(x, 0), min(x + PLATE_W, W)
        if b > a:
            img[250 : 250 + PLATE_H, a:b] = p[:, a - x : b - x]
        frames.append(img)
    return write_frames(path, frames, fps=30)


def kept(index: int, x: int) -> SelectedFrame:
    """Frame ``index`` as the preprocess keeps it, with a proposal around the plate at ``x``."""
    box = BBox(x1=x - 6, y1=244, x2=x + PLATE_W + 6, y2=250 + PLATE_H + 6)
    return SelectedFrame(index=index, pts_s=index / 30, quality=Q, regions=(Region(label="plate", box=box, score=0.9),))


def preprocessed(clip: Path, *frames: SelectedFrame) -> PreprocessResult:
    index = max(f.index for f in frames)
    info = VideoInfo(width=W, height=H, fps=30.0, duration_s=1.0, frames_total=index + 1, codec="h264")
    return PreprocessResult(
        video_id="v", source=str(clip), info=info, selected=frames, rejected={}, analysis_width=W, proposer="cpu"
    )


@pytest.fixture(scope="module")
def parts() -> tuple[CpuDetector, RapidOcrReader]:
    return CpuDetector(CpuDetectorConfig()), RapidOcrReader(RapidOcrConfig())


def test_earlier_frames_come_with_each_wanted_one_and_decode_to_the_same_picture(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    images = [cv2.resize(rng.integers(0, 255, (18, 32, 3), dtype=np.uint8), (W, H)) for _ in range(8)]
    clip = write_frames(tmp_path / "c.mp4", images, fps=30)
    got = list(read_frames(clip, [4, 6], before=3))
    assert [g.index for g in got] == [4, 6]
    assert [b.index for b in got[0].before] == [1, 2, 3]
    assert [b.index for b in got[1].before] == [3, 4, 5]
    again = planar_bgr(got[1].before[1].frame)  # frame 4, converted without libswscale
    assert again is not None and again.shape == got[0].image.shape
    assert float(np.abs(again.astype(np.int16) - got[0].image.astype(np.int16)).mean()) < 4.0
    assert all(g.before == () for g in read_frames(clip, [4, 6]))  # none kept unless asked for


def test_a_sure_read_at_the_side_is_read_again_in_the_frames_before_it(tmp_path: Path, parts) -> None:
    detector, reader = parts
    xs = [10 + STEP * (7 - i) for i in range(8)]  # leaving on the left: 220, 190, ... 10
    clip = passing_clip(tmp_path / "leaving.mp4", xs)
    pre = preprocessed(clip, kept(7, xs[7]))
    cfg = PlateSettings()

    alone = read_plates(pre, read_frames(clip, [7]), detector, reader, cfg)
    assert [(r.frame_index, r.text) for r in alone.reads] == [(7, "XFT6698")]

    got = read_plates(pre, read_frames(clip, [7], before=3), detector, reader, cfg)
    assert sorted(r.frame_index for r in got.reads) == [4, 5, 6, 7]
    assert {r.text for r in got.reads} == {"XFT6698"}
    assert all(r in got.crops for r in got.reads)  # each with the crop it was read from
    earlier = [r for r in got.reads if r.frame_index < 7]
    assert all(r.box.x1 > alone.reads[0].box.x1 for r in earlier)  # found where the plate was then


def test_a_plate_entering_at_the_side_gains_no_reads_from_the_frames_before_it(tmp_path: Path, parts) -> None:
    detector, reader = parts
    xs = [10 - STEP * (7 - i) for i in range(8)]  # entering from the left: less of it in view before
    clip = passing_clip(tmp_path / "entering.mp4", xs)
    pre = preprocessed(clip, kept(7, xs[7]))
    got = read_plates(pre, read_frames(clip, [7], before=3), detector, reader, PlateSettings())
    assert [(r.frame_index, r.text) for r in got.reads] == [(7, "XFT6698")]


def test_a_text_read_moments_before_needs_no_second_look(tmp_path: Path, parts) -> None:
    detector, reader = parts
    xs = [10 + STEP * (7 - i) for i in range(8)]
    clip = passing_clip(tmp_path / "leaving.mp4", xs)
    pre = preprocessed(clip, kept(3, xs[3]), kept(7, xs[7]))
    got = read_plates(pre, read_frames(clip, [3, 7], before=3), detector, reader, PlateSettings())
    # frame 3 is near the side too and looks back; frame 7 has frame 3's read a moment before
    assert sorted(r.frame_index for r in got.reads) == [0, 1, 2, 3, 7]


def test_a_plate_standing_at_the_side_gains_no_reads_from_frames_that_show_nothing_new(tmp_path: Path, parts) -> None:
    """Read alike before, but never a box height further in: whatever may lie beyond the side would
    still be unseen (as for a plate cut by the side and sliding out slowly, which reads the same in
    every frame, its box held at the edge)."""
    detector, reader = parts
    xs = [10 + 4 * (7 - i) for i in range(8)]  # 38, 34, ... 10: in three frames it moves 12 px
    clip = passing_clip(tmp_path / "slow.mp4", xs)
    pre = preprocessed(clip, kept(7, xs[7]))
    got = read_plates(pre, read_frames(clip, [7], before=3), detector, reader, PlateSettings())
    assert [(r.frame_index, r.text) for r in got.reads] == [(7, "XFT6698")]
