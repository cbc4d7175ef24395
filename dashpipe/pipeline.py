"""Job-level steps: the I/O around each pure stage (decode, read and write artifacts, the database).

Each step is idempotent: it first looks for its own artifact and returns at once when a retry or a
redelivered duplicate finds the work done. Bad input never raises out of here: it is recorded on
the job (``status="failed"``), passed along the chain, and the archive step writes it down.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2

from dashpipe.artifacts import decode_preprocess, encode_preprocess
from dashpipe.runtime import Runtime
from dashpipe.stages.archive import report_entry, rows_for
from dashpipe.stages.preprocess import select_frames
from dashpipe.storage import atomic_write, move_file, video_id_for
from dashpipe.types import HeavyResult, PreprocessResult, VideoJob
from dashpipe.video import (
    BackgroundWriter,
    BadVideo,
    FullFrame,
    SmallVideoWriter,
    iter_lowres,
    probe,
    read_frames,
)

log = logging.getLogger("dashpipe")

Progress = Callable[[int, int], None]
# Set by the CLI to draw progress bars in the embedded mode: (stage, job, done, total).
progress_hook: Callable[[str, VideoJob, int, int], None] | None = None


def _noop(done: int, total: int) -> None:
    return None


def new_job(video: Path, gps: Path | None = None) -> VideoJob:
    """A job for a video; its id is derived from the content, so a re-run is the same job."""
    if not video.is_file():
        raise FileNotFoundError(f"video not found: {video}")
    return VideoJob(video_id=video_id_for(video), source=str(video), gps=str(gps) if gps else None)


def _failed(job: VideoJob, reason: str) -> VideoJob:
    log.warning("job %s (%s) failed: %s", job.video_id, job.source, reason)
    return job.model_copy(update={"status": "failed", "error": reason})


def preprocess_job(rt: Runtime, job: VideoJob, progress: Progress = _noop) -> VideoJob:
    if job.status == "failed":
        return job
    out = rt.store.preprocess_json(job.video_id)
    if out.exists():
        return job.model_copy(update={"preprocess_json": str(out)})
    cfg = rt.settings.preprocess
    source = Path(job.source)
    try:
        info = probe(source)
        total = max(info.frames_total, 1)
        proposer = rt.proposer
        colour = proposer.colour or cfg.thumbnails
        selection = select_frames(
            iter_lowres(
                source,
                min(cfg.analysis_width, info.width),
                detail_width=None if colour else proposer.width,
                keep_frame=colour,
                skip_deblocking=cfg.skip_deblocking,
            ),
            cfg,
            fps=info.fps,
            full_width=info.width,
            proposer=proposer,
            progress=lambda n: progress(n, total),
            region_limit=rt.region_limit,
        )
    except BadVideo as exc:
        return _failed(job, str(exc))
    if selection.frames_seen != info.frames_total:
        # The container's count was off, and so is the rate it derived from the same fields (an AVI
        # with a fine time base claims hundreds of frames a second): both come from the frames decoded.
        update: dict[str, Any] = {"frames_total": selection.frames_seen}
        if selection.frames_seen > 1 and selection.last_pts_s > 0:
            update["fps"] = round((selection.frames_seen - 1) / selection.last_pts_s, 3)
        info = info.model_copy(update=update)
    result = PreprocessResult(
        video_id=job.video_id,
        source=job.source,
        info=info,
        selected=tuple(selection.selected),
        rejected=selection.rejected,
        analysis_width=min(cfg.analysis_width, info.width),
        proposer=rt.proposer.name,
        overlays=selection.overlays,
    )
    for index, thumb in selection.thumbnails.items():
        ok, jpg = cv2.imencode(".jpg", thumb, [cv2.IMWRITE_JPEG_QUALITY, 70])
        if ok:
            atomic_write(rt.store.thumbnails(job.video_id) / f"{index:07d}.jpg", jpg.tobytes())
    atomic_write(out, encode_preprocess(result))
    progress(info.frames_total, info.frames_total)
    return job.model_copy(update={"preprocess_json": str(out)})


def heavy_job(rt: Runtime, job: VideoJob, progress: Progress = _noop) -> VideoJob:
    from dashpipe.stages.heavy import analyse_video

    if job.status == "failed":
        return job
    out = rt.store.heavy_json(job.video_id)
    if out.exists():
        return job.model_copy(update={"heavy_json": str(out)})
    pre_path = Path(job.preprocess_json or rt.store.preprocess_json(job.video_id))
    pre = decode_preprocess(pre_path.read_bytes())
    source = Path(job.source)
    if job.gps and not Path(job.gps).is_file():
        return _failed(job, f"GPS file not found: {job.gps}")
    video_path = rt.store.work_video(job.video_id)
    video_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_video = video_path.with_name(".video.part.mp4")
    writer = BackgroundWriter(
        SmallVideoWriter(
            tmp_video,
            rt.settings.archive.video_width,
            pre.info.width,
            pre.info.height,
            pre.info.fps,
            rt.settings.archive.video_crf,
        )
    )
    total = max(pre.info.frames_total, 1)

    def on_frame(index: int, pts_s: float, frame: Any) -> None:  # on the decoding thread
        writer.add(pts_s, frame)

    def told(frames: Generator[FullFrame, None, None]) -> Generator[FullFrame, None, None]:
        """Progress on this thread: up to the frame being read (decoding runs a few frames ahead)."""
        with closing(frames):
            for item in frames:
                progress(item.index + 1, total)
                yield item

    wanted = [f.index for f in pre.selected]
    frames = told(read_frames(source, wanted, on_frame=on_frame, before=rt.settings.plates.look_back_frames))
    try:
        result, crops = analyse_video(
            pre,
            frames,
            detector=rt.detector,
            reader=rt.reader,
            verifier=rt.verifier,
            settings=rt.settings,
            video=source,
            gps=Path(job.gps) if job.gps else None,
        )
        writer.close()
    except BadVideo as exc:
        tmp_video.unlink(missing_ok=True)
        return _failed(job, str(exc))
    finally:
        frames.close()  # on failure the decoding thread ends first: it feeds the writer
        writer.stop()
    tmp_video.replace(video_path)
    crops_dir = rt.store.work_crops(job.video_id)
    for name, jpg in crops.items():
        atomic_write(crops_dir / name, jpg)
    result = result.model_copy(update={"crops_dir": str(crops_dir), "video_path": str(video_path)})
    atomic_write(out, result.model_dump_json().encode())
    progress(total, total)
    return job.model_copy(update={"heavy_json": str(out)})


def archive_job(rt: Runtime, job: VideoJob) -> dict[str, Any]:
    """Move the media to the archive, write the rows and the report; the work folder goes in every outcome."""
    from dashpipe.db import replace_video

    store = rt.store
    report_path = store.report(job.video_id)
    heavy_path = store.heavy_json(job.video_id)
    try:
        if job.status != "failed" and not heavy_path.exists() and report_path.exists():
            # A redelivered archive of a finished job: the first run did everything.
            existing: dict[str, Any] = json.loads(report_path.read_text())
            return existing
        result: HeavyResult | None = None
        if job.status != "failed":
            result = HeavyResult.model_validate_json(heavy_path.read_bytes())
            result = _move_media(rt, result)
        now = datetime.now(timezone.utc)
        entry = report_entry(job, result)
        video_row, sightings, track = rows_for(job, result, entry, report_path, now)
        atomic_write(report_path, json.dumps(entry, indent=2).encode())
        replace_video(rt.engine, video_row, sightings, track)
        return entry
    finally:
        store.remove_work(job.video_id)


def _move_media(rt: Runtime, result: HeavyResult) -> HeavyResult:
    dest = rt.store.archive_dir(result.video_id)
    crops_src = Path(result.crops_dir)
    plates = []
    for p in result.plates:
        if p.best_crop:
            src = crops_src / p.best_crop
            target = dest / "crops" / p.best_crop
            if src.exists():
                move_file(src, target)
            p = p.model_copy(update={"best_crop": str(target)})
        plates.append(p)
    if rt.settings.archive.keep_all_crops and crops_src.is_dir():
        for extra in crops_src.iterdir():
            move_file(extra, dest / "crops" / extra.name)
    video_path = None
    if result.video_path and Path(result.video_path).exists():
        video_path = str(move_file(Path(result.video_path), dest / "video.mp4"))
    elif (dest / "video.mp4").exists():
        video_path = str(dest / "video.mp4")
    return result.model_copy(
        update={"plates": tuple(plates), "video_path": video_path, "crops_dir": str(dest / "crops")}
    )
