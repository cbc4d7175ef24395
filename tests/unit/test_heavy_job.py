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
        consumed.append(next(frames)[0])  # the decoding thread is running, frames are queued ahead
        raise RuntimeError("the plate model crashed")

    monkeypatch.setattr(heavy, "analyse_video", failing)
    with pytest.raises(RuntimeError, match="crashed"):
        heavy_job(rt, job)
    assert consumed
    alive = [t.name for t in threading.enumerate() if t.name in ("decode", "archive-video") and t.is_alive()]
    assert alive == []
