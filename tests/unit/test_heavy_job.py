"""The heavy job's decoding thread and archive writer around a plate analysis that fails."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dashpipe.artifacts import decode_preprocess
from dashpipe.config import load_settings
from dashpipe.pipeline import heavy_job, new_job, preprocess_job
from dashpipe.runtime import Runtime
from dashpipe.stages import heavy
from tests.unit.test_video import write_frames


def test_a_failing_analysis_stops_the_decoding_thread_and_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rng = np.random.default_rng(7)
    clip = write_frames(tmp_path / "noise.mp4", [rng.integers(0, 256, (240, 320, 3), np.uint8) for _ in range(60)])
    rt = Runtime(load_settings(store={"data_dir": str(tmp_path / "d")}, database_url=f"sqlite:///{tmp_path}/db.sqlite"))
    job = preprocess_job(rt, new_job(clip))
    assert job.preprocess_json and decode_preprocess(Path(job.preprocess_json).read_bytes()).selected
    consumed: list[int] = []

    def failing(pre: Any, frames: Any, **_: Any) -> Any:
        consumed.append(next(frames).index)  # the decoding thread is running, frames are queued ahead
        raise RuntimeError("the plate model crashed")

    monkeypatch.setattr(heavy, "analyse_video", failing)
    with pytest.raises(RuntimeError, match="crashed"):
        heavy_job(rt, job)
    assert consumed
    alive = [t.name for t in threading.enumerate() if t.name in ("decode", "archive-video") and t.is_alive()]
    assert alive == []


def test_a_container_rate_off_by_its_time_base_is_taken_from_the_decoded_frames(tmp_path: Path):
    """Motion-JPEG in AVI, as many dashcams write it, muxed with a 1/600 time base: the container then
    claims 600 frames a second and 20 times the frames there are."""
    from fractions import Fraction

    import av

    from dashpipe.video import probe

    clip = tmp_path / "mjpeg.avi"
    rng = np.random.default_rng(3)
    with av.open(str(clip), "w", format="avi") as c:
        s = c.add_stream("mjpeg", rate=30)
        s.width, s.height, s.pix_fmt = 320, 240, "yuvj420p"
        s.codec_context.time_base = Fraction(1, 600)
        for i in range(45):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (240, 320, 3), np.uint8), format="bgr24")
            frame = frame.reformat(format="yuvj420p")
            frame.pts, frame.time_base = i * 20, Fraction(1, 600)
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    assert probe(clip).fps > 100  # what the container says
    rt = Runtime(load_settings(store={"data_dir": str(tmp_path / "d")}, database_url=f"sqlite:///{tmp_path}/db.sqlite"))
    job = preprocess_job(rt, new_job(clip))
    info = decode_preprocess(Path(job.preprocess_json or "").read_bytes()).info
    assert info.frames_total == 45
    assert info.fps == pytest.approx(30.0, abs=0.01)
