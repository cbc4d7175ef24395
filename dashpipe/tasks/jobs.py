"""Thin task wrappers: validate, get the runtime, call the job function, return a small reference."""

from __future__ import annotations

from typing import Any

from celery import Task, chain
from celery.canvas import Signature
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError as SqlOperationalError

from dashpipe import pipeline
from dashpipe.runtime import get_runtime
from dashpipe.tasks.app import app
from dashpipe.types import VideoJob

# Faults worth a retry from scratch; bad input never is (it is recorded on the job instead).
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    SqlOperationalError,
    RedisConnectionError,
    KombuOperationalError,
)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}


def _reporter(task: Task, stage: str, job: VideoJob) -> pipeline.Progress:
    """Progress to the CLI's bars (embedded) or to Flower and the result backend (workers), every 5%."""
    last = [-1]

    def report(done: int, total: int) -> None:
        hook = pipeline.progress_hook
        if hook is not None:
            hook(stage, job, done, total)
        percent = int(100 * done / max(total, 1)) // 5 * 5
        if percent == last[0] or task.request.called_directly or task.request.is_eager or not task.request.id:
            return
        last[0] = percent
        meta = {"stage": stage, "video_id": job.video_id, "done": done, "total": total, "percent": percent}
        task.update_state(state="PROGRESS", meta=meta)
        task.send_event("task-progress", **meta)

    return report


@app.task(name="dashpipe.preprocess", bind=True, **RETRY)
def preprocess(self: Task, job: dict[str, Any]) -> dict[str, Any]:
    j = VideoJob.model_validate(job)
    out = pipeline.preprocess_job(get_runtime(), j, _reporter(self, "preprocess", j))
    return out.model_dump(mode="json")


@app.task(name="dashpipe.heavy", bind=True, **RETRY)
def heavy(self: Task, job: dict[str, Any]) -> dict[str, Any]:
    j = VideoJob.model_validate(job)
    out = pipeline.heavy_job(get_runtime(), j, _reporter(self, "heavy", j))
    return out.model_dump(mode="json")


@app.task(name="dashpipe.archive", bind=True, **RETRY)
def archive(self: Task, job: dict[str, Any]) -> dict[str, Any]:
    j = VideoJob.model_validate(job)
    _reporter(self, "archive", j)(0, 1)
    return pipeline.archive_job(get_runtime(), j)


def video_chain(job: VideoJob) -> Signature:
    """preprocess (jetson) -> heavy (gpu) -> archive; each publishes the next only when done."""
    return chain(preprocess.s(job.model_dump(mode="json")), heavy.s(), archive.s())
