"""Embedded runs with a progress bar per video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from dashpipe import pipeline
from dashpipe.types import VideoJob

STAGES = ("preprocess", "heavy", "archive")


def _failed_entry(video: Path, reason: str) -> dict[str, Any]:
    from dashpipe.stages.archive import report_entry

    job = VideoJob(video_id="", source=str(video), status="failed", error=reason)
    return report_entry(job, None)


def run_videos(videos: list[Path], gps: Path | None) -> list[dict[str, Any]]:
    from dashpipe.api import run

    entries: list[dict[str, Any]] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        transient=False,
    ) as bars:
        for video in videos:
            task: TaskID = bars.add_task(video.name, total=3.0, stage="queued")

            def hook(stage: str, job: VideoJob, done: int, total: int, task: TaskID = task) -> None:
                step = STAGES.index(stage) if stage in STAGES else 0
                bars.update(task, completed=step + min(done / max(total, 1), 1.0), stage=stage)

            pipeline.progress_hook = hook
            try:
                entry = run(video, gps)
            except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
                entry = _failed_entry(video, str(exc))
            finally:
                pipeline.progress_hook = None
            bars.update(task, completed=3.0, stage=entry["status"])
            entries.append(entry)
    return entries
