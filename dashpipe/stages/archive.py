"""Archive stage: the report entry (a stable contract) and the database rows of one job."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from dashpipe.db import SightingRow, TrackPointRow, VideoRow
from dashpipe.types import HeavyResult, PlateSighting, VideoJob

REJECT_KEYS = ("static", "dark", "blurry")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def plate_entry(p: PlateSighting) -> dict[str, Any]:
    """One plate of the report: the contract's fields first, then the extras."""
    return {
        "text": p.text,
        "confidence": round(p.confidence, 4),
        "first_seen_s": round(p.first_seen_s, 3),
        "last_seen_s": round(p.last_seen_s, 3),
        "frames": p.frames,
        "lat": p.lat,
        "lon": p.lon,
        "best_crop": p.best_crop,
        "reads": dict(p.reads),
        "first_seen_at": _iso(p.first_seen_at),
        "last_seen_at": _iso(p.last_seen_at),
        "last_lat": p.last_lat,
        "last_lon": p.last_lon,
        "ego_speed_mps": p.ego_speed_mps,
        "ego_course_deg": p.ego_course_deg,
        "motion": p.motion,
        "vehicle": p.vehicle,
        "vehicle_box": list(p.vehicle_box.as_int()) if p.vehicle_box else None,
        "best_frame": p.best_frame,
        "box": list(p.box.as_int()) if p.box else None,
    }


def report_entry(job: VideoJob, result: HeavyResult | None) -> dict[str, Any]:
    if result is None:
        return {
            "source": job.source,
            "video_id": job.video_id,
            "status": "failed",
            "error": job.error or "failed",
            "started_at": None,
            "duration_s": None,
            "fps": None,
            "frames_total": None,
            "frames_selected": None,
            "rejected": {k: 0 for k in REJECT_KEYS},
            "plates": [],
            "alerts": [],
        }
    rejected = {k: int(result.rejected.get(k, 0)) for k in REJECT_KEYS}
    rejected.update({k: int(v) for k, v in result.rejected.items() if k not in rejected})
    return {
        "source": job.source,
        "video_id": job.video_id,
        "status": "done",
        "error": None,
        "started_at": _iso(result.started_at),
        "duration_s": round(result.info.duration_s, 3),
        "fps": result.info.fps,
        "frames_total": result.info.frames_total,
        "frames_selected": result.frames_selected,
        "rejected": rejected,
        "plates": [plate_entry(p) for p in result.plates],
        "alerts": [a.model_dump(mode="json") for a in result.alerts],
        "video": result.video_path,
        "gps": {"source": result.gps_source, "fixes": len(result.track), "notes": list(result.gps_notes)},
    }


def rows_for(
    job: VideoJob,
    result: HeavyResult | None,
    entry: dict[str, Any],
    report_path: Path,
    now: datetime,
) -> tuple[VideoRow, list[SightingRow], list[TrackPointRow]]:
    video = VideoRow(
        video_id=job.video_id,
        source=job.source,
        status=entry["status"],
        error=entry["error"],
        started_at=result.started_at if result else None,
        duration_s=entry["duration_s"],
        fps=entry["fps"],
        frames_total=entry["frames_total"],
        frames_selected=entry["frames_selected"],
        rejected=entry["rejected"],
        video_path=result.video_path if result else None,
        report_path=str(report_path),
        gps_source=result.gps_source if result else None,
        processed_at=now,
    )
    if result is None:
        return video, [], []
    sightings = [
        SightingRow(
            video_id=job.video_id,
            plate=p.text,
            confidence=p.confidence,
            first_seen_s=p.first_seen_s,
            last_seen_s=p.last_seen_s,
            first_seen_at=p.first_seen_at,
            last_seen_at=p.last_seen_at,
            frames=p.frames,
            lat=p.lat,
            lon=p.lon,
            motion=p.motion,
            vehicle=p.vehicle,
            best_crop=p.best_crop,
            reads=dict(p.reads),
            detail=plate_entry(p),
        )
        for p in result.plates
    ]
    track = [
        TrackPointRow(
            video_id=job.video_id,
            time=f.time,
            lat=f.lat,
            lon=f.lon,
            speed_mps=f.speed_mps,
            course_deg=f.course_deg,
        )
        for f in result.track
    ]
    return video, sightings, track
