"""Frame selection on hand-made frames: each reject reason, the rate cap, the sharpest pick, the rescue."""

import av
import cv2
import numpy as np
import pytest

from dashpipe.config import PreprocessSettings
from dashpipe.stages.preprocess import change, select_frames
from dashpipe.types import BBox, Region
from dashpipe.video import LowFrame

W, H = 320, 180
rng = np.random.default_rng(0)
SCENE = cv2.GaussianBlur((rng.random((H, W)) * 255).astype(np.uint8), (0, 0), 1.0)


def frame(index: int, image: np.ndarray, fps: float = 30.0) -> LowFrame:
    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR).astype(np.uint8)
    return LowFrame(index=index, pts_s=index / fps, luma=image, frame=av.VideoFrame.from_ndarray(bgr, format="bgr24"))


def noisy(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def moving(i: int) -> np.ndarray:
    return noisy(np.roll(SCENE, 3 * i, axis=1))


class FixedProposer:
    """A deterministic stand-in proposer: one plate region in every frame it is shown."""

    name = "fixed"
    colour = False
    width = W

    def __init__(self) -> None:
        self.calls = 0

    def propose(self, image: np.ndarray) -> list[Region]:
        self.calls += 1
        return [Region(label="plate", box=BBox(x1=10, y1=10, x2=50, y2=22), score=0.9)]


CFG = PreprocessSettings(keep_fps=4.0)


def test_rate_cap_keeps_one_frame_per_slot_when_everything_moves():
    frames = [frame(i, moving(i)) for i in range(60)]  # 2 s at 30 fps
    sel = select_frames(frames, CFG, fps=30.0, full_width=W, proposer=None)
    assert len(sel.selected) == 8
    assert sel.rejected["redundant"] == 52
    assert sel.frames_seen == 60
    # one kept frame per quarter second
    assert sorted({int(f.pts_s * 4) for f in sel.selected}) == list(range(8))


def test_static_frames_are_rejected_after_the_first():
    still = SCENE
    frames = [frame(i, noisy(still)) for i in range(60)]
    sel = select_frames(frames, CFG, fps=30.0, full_width=W, proposer=None)
    assert len(sel.selected) == 1
    assert sel.rejected["static"] >= 50


def test_a_small_moving_object_is_not_static():
    frames = []
    for i in range(30):
        img = SCENE.copy()
        cv2.rectangle(img, (20 + 4 * i, 100), (50 + 4 * i, 130), 255, -1)  # one car moving, camera still
        frames.append(frame(i, noisy(img)))
    sel = select_frames(frames, CFG, fps=30.0, full_width=W, proposer=None)
    assert len(sel.selected) >= 3


def test_dark_frames_are_rejected_as_dark():
    frames = [frame(i, (moving(i) * 0.05).astype(np.uint8)) for i in range(30)]
    sel = select_frames(frames, CFG, fps=30.0, full_width=W, proposer=None)
    assert sel.selected == []
    assert sel.rejected["dark"] == 30


def test_blurry_frames_lose_to_sharp_ones_and_are_counted():
    frames = []
    for i in range(90):
        img = moving(i)
        if 30 <= i < 60:
            img = cv2.blur(img, (9, 9))
        frames.append(frame(i, img))
    sel = select_frames(frames, CFG, fps=30.0, full_width=W, proposer=None)
    kept = {f.index for f in sel.selected}
    assert not any(30 <= k < 60 for k in kept)
    assert sel.rejected["blurry"] == 30


def test_sharpest_frame_of_a_slot_wins():
    frames = [frame(i, cv2.blur(moving(i), (3, 3)) if i != 4 else moving(i)) for i in range(7)]
    sel = select_frames(frames, CFG, fps=30.0, full_width=W, proposer=None)
    assert [f.index for f in sel.selected] == [4]


def test_dark_frame_with_a_plate_is_rescued_with_a_flag():
    frames = [frame(i, (moving(i) * 0.1).astype(np.uint8)) for i in range(8)]
    proposer = FixedProposer()
    sel = select_frames(frames, CFG, fps=30.0, full_width=W * 2, proposer=proposer)
    assert len(sel.selected) == 1
    kept = sel.selected[0]
    assert [r.value for r in kept.flags] == ["dark"]
    # regions come back in full-frame pixels
    assert kept.regions[0].box == BBox(x1=20, y1=20, x2=100, y2=44)
    assert proposer.calls == 1


def test_proposals_run_only_on_kept_frames():
    proposer = FixedProposer()
    frames = [frame(i, moving(i)) for i in range(30)]
    sel = select_frames(frames, CFG, fps=30.0, full_width=W, proposer=proposer)
    assert proposer.calls == len(sel.selected) == 4


@pytest.mark.parametrize("shift", [0, 8])
def test_change_measure(shift):
    a = SCENE.astype(np.float32)
    b = np.roll(SCENE, shift, axis=1).astype(np.float32)
    assert (change(a, b) > 5) == (shift > 0)
