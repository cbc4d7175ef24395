"""One video's GPS, ready for the heavy stage: its track, its start in UTC, and why.

``load_gps_context`` puts the pieces together: find and read the GPS (explicit, embedded,
sidecar), fix the dates (GPS week rollover, time-of-day-only logs) against the video's own
time, work out the UTC of the first frame, and clean the track (sorted, one fix per instant,
speed and course filled in). Nothing here raises on bad GPS content; a missing explicit file
does, because the user named it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dashpipe.config import GpsSettings
from dashpipe.gps.discover import find_gps, read_gps
from dashpipe.gps.result import GpsReadResult
from dashpipe.gps.timing import apply_rollover, video_start
from dashpipe.gps.track import clean_track, position_at
from dashpipe.types import GeoPoint, GpsFix

FAR_FROM_TRACK = timedelta(hours=1)
CLIP_MARGIN_S = 10.0


@dataclass(frozen=True)
class GpsContext:
    fixes: tuple[GpsFix, ...]  # the whole log, sorted, one fix per instant
    start: datetime | None  # UTC of the video's first frame
    start_how: str
    source: str | None  # "sidecar nmea /path/x.nmea", "embedded gopro", None without GPS
    notes: tuple[str, ...]
    read: GpsReadResult

    def at(self, t_s: float) -> datetime | None:
        """UTC of a frame ``t_s`` seconds into the video (None when the start is unknown)."""
        return self.start + timedelta(seconds=t_s) if self.start is not None else None

    def position(self, t_s: float, max_gap_s: float) -> GeoPoint | None:
        t = self.at(t_s)
        return position_at(self.fixes, t, max_gap_s) if t is not None else None

    def clip_track(self, duration_s: float, margin_s: float = CLIP_MARGIN_S) -> tuple[GpsFix, ...]:
        """The fixes recorded while this video ran (all of them when its start is unknown)."""
        if self.start is None:
            return self.fixes
        lo = self.start - timedelta(seconds=margin_s)
        hi = self.start + timedelta(seconds=duration_s + margin_s)
        return tuple(f for f in self.fixes if lo <= f.time <= hi)


def describe_source(r: GpsReadResult) -> str | None:
    if r.kind == "none":
        return None
    parts = [r.origin or "file", r.kind]
    if r.path and r.origin != "embedded":
        parts.append(r.path)
    return " ".join(parts)


def load_gps_context(video: Path, gps: Path | None, creation_time: datetime | None, cfg: GpsSettings) -> GpsContext:
    """Everything the heavy stage needs to put a frame of ``video`` on the map."""
    read = find_gps(video, gps)
    # The video's own time (not GPS-derived) is the reference for dating the log.
    reference, _ = video_start(video, creation_time, cfg, read.model_copy(update={"start_utc": None}))
    if read.undated and reference is not None and read.path:
        read = read_gps(Path(read.path), reference).model_copy(update={"origin": read.origin})
    read = apply_rollover(read, reference)
    start, how = video_start(video, creation_time, cfg, read)
    fixes, duplicates = clean_track(read.fixes)
    notes = list(read.notes)
    if duplicates:
        notes.append(f"{read.kind}: {duplicates} fixes with an already seen time were dropped")
    if start is not None and fixes and not (fixes[0].time - FAR_FROM_TRACK <= start <= fixes[-1].time + FAR_FROM_TRACK):
        gap_h = min(abs((start - fixes[0].time).total_seconds()), abs((start - fixes[-1].time).total_seconds())) / 3600
        notes.append(
            f"the video start ({start:%Y-%m-%d %H:%M:%S}Z, from {how}) is {gap_h:.1f} h away from the GPS track: "
            "check the camera clock (gps.camera_utc_offset_s) or set gps.video_start"
        )
    notes.append(f"video start: {how}")
    read = read.model_copy(update={"fixes": fixes, "duplicates": duplicates, "notes": tuple(notes)})
    return GpsContext(
        fixes=fixes, start=start, start_how=how, source=describe_source(read), notes=tuple(notes), read=read
    )
