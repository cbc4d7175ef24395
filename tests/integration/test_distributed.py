"""The real thing: a private redis-server, one `celery worker` process per queue, dashpipe.submit.

Asserts the chain's tasks ran on the jetson, gpu and archive queues (in those workers), the plates
match the sample's truth, a corrupt video fails its job with a reason while the workers go on, and a
resubmitted video leaves one set of database rows.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import dashpipe
from dashpipe.config import load_settings
from dashpipe.db import SightingRow, VideoRow, connect
from dashpipe.evaluate import score_report
from dashpipe.sample import load_truth
from tests.conftest import Workers, free_port, write_config

pytestmark = pytest.mark.integration
QUEUES = ("jetson", "gpu", "archive")


@pytest.fixture(scope="module")
def cluster(redis_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    config = write_config(root / "dashpipe.yaml", root / "data", celery={"broker_url": redis_url})
    workers = Workers(config, root)
    flower_port = free_port()
    workers.start_flower(flower_port)
    for q in QUEUES:
        workers.start(q)
    try:
        workers.wait_ready()
        workers.flower_url = f"http://127.0.0.1:{flower_port}"  # type: ignore[attr-defined]
        yield workers, load_settings(config)
    finally:
        workers.stop()


def flower_tasks(url: str, timeout: float = 30.0) -> dict:
    """Flower's view of the tasks; it learns from events, so give it a moment to catch up."""
    deadline = time.monotonic() + timeout
    tasks: dict = {}
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/tasks", timeout=5) as resp:
                tasks = json.load(resp)
            if sum(1 for t in tasks.values() if t.get("state") == "SUCCESS") >= 3:
                return tasks
        except OSError:
            pass
        time.sleep(0.5)
    return tasks


def test_chain_runs_on_its_three_queues_and_reads_the_plates(cluster, sample_clip):
    workers, settings = cluster
    result = dashpipe.submit(sample_clip.video, sample_clip.nmea, settings=settings)
    entry = result.get(timeout=600)
    assert entry["status"] == "done", entry.get("error")

    chain_results = [result.parent.parent, result.parent, result]  # preprocess, heavy, archive
    for res, queue in zip(chain_results, QUEUES):
        meta = res.backend.get_task_meta(res.id)
        assert meta["status"] == "SUCCESS"
        assert meta["queue"] == queue
        assert meta["worker"].startswith(f"{queue}@")
    for queue in QUEUES:
        assert "dashpipe." in workers.log(queue)
    seen = flower_tasks(workers.flower_url)
    for res, name in zip(chain_results, ("dashpipe.preprocess", "dashpipe.heavy", "dashpipe.archive")):
        assert seen[res.id]["name"] == name
        assert seen[res.id]["state"] == "SUCCESS"

    score = score_report(entry, load_truth(sample_clip.truth))
    assert score.readable_found >= 0.9 * score.readable_total, score
    assert score.false_plates == 0, score
    assert score.duplicates == 0, score

    engine = connect(settings.database_url)
    with Session(engine) as s:
        assert s.scalar(select(VideoRow.status).where(VideoRow.video_id == entry["video_id"])) == "done"
        assert s.scalar(select(func.count()).select_from(SightingRow)) == len(entry["plates"])
    for plate in entry["plates"]:
        assert plate["best_crop"] and Path(plate["best_crop"]).is_file()
    assert Path(entry["video"]).is_file()
    assert not (Path(settings.store.resolved("work")) / entry["video_id"]).exists()


def test_corrupt_video_fails_its_job_and_workers_go_on(cluster, tmp_path, sample_clip):
    workers, settings = cluster
    bad = tmp_path / "2024_0101_000000_F.mp4"
    data = sample_clip.video.read_bytes()
    bad.write_bytes(data[:4096] + b"\x00" * 50_000)  # header without its frames
    entry = dashpipe.submit(bad, settings=settings).get(timeout=300)
    assert entry["status"] == "failed"
    assert entry["error"]
    assert all(workers.alive(q) for q in QUEUES)
    engine = connect(settings.database_url)
    with Session(engine) as s:
        row = s.get(VideoRow, entry["video_id"])
        assert row is not None and row.status == "failed" and row.error == entry["error"]


def test_resubmitting_a_video_gives_the_same_rows_once(cluster, sample_clip):
    _, settings = cluster
    first = dashpipe.submit(sample_clip.video, sample_clip.nmea, settings=settings).get(timeout=600)
    second = dashpipe.submit(sample_clip.video, sample_clip.nmea, settings=settings).get(timeout=600)
    assert first["video_id"] == second["video_id"]
    assert [p["text"] for p in first["plates"]] == [p["text"] for p in second["plates"]]
    engine = connect(settings.database_url)
    with Session(engine) as s:
        n_videos = s.scalar(select(func.count()).select_from(VideoRow).where(VideoRow.video_id == first["video_id"]))
        n_plates = s.scalar(
            select(func.count()).select_from(SightingRow).where(SightingRow.video_id == first["video_id"])
        )
    assert n_videos == 1
    assert n_plates == len(second["plates"])
