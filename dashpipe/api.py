"""The Python API: send a video through the queues, or run the very same tasks in this process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashpipe.config import Settings
from dashpipe.pipeline import new_job
from dashpipe.runtime import configure, get_runtime

if TYPE_CHECKING:
    from celery.result import AsyncResult


def submit(video: str | Path, gps: str | Path | None = None, *, settings: Settings | None = None) -> AsyncResult:
    """Publish the preprocess -> heavy -> archive chain for ``video``; returns the chain's AsyncResult.

    ``.get()`` on it gives the report entry of the video once the archive task is done.
    """
    from dashpipe.tasks.app import apply_settings
    from dashpipe.tasks.jobs import video_chain

    if settings is not None:
        apply_settings(configure(settings).settings)
    job = new_job(Path(video), Path(gps) if gps else None)
    result: AsyncResult = video_chain(job).apply_async()
    return result


def run(video: str | Path, gps: str | Path | None = None, *, settings: Settings | None = None) -> dict[str, Any]:
    """Run the chain in-process (no broker): the embedded mode of one machine. Returns the report entry."""
    if settings is not None:
        configure(settings)
    get_runtime()
    from dashpipe.tasks.jobs import video_chain

    job = new_job(Path(video), Path(gps) if gps else None)
    entry: dict[str, Any] = video_chain(job).apply().get(disable_sync_subtasks=False)
    return entry
