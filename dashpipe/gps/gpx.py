"""GPX 1.0/1.1 (phone loggers, handheld receivers, exports of other tools) -> ``GpsFix``.

Track points are used; route points and waypoints only when a file has no track (some
loggers write their log as a route). Points without a time cannot be placed on the video's
timeline and are counted as skipped. Naive times are UTC (the GPX schema says so).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dashpipe.gps.result import GpsReadResult, empty_result, why_empty
from dashpipe.gps.timing import as_utc
from dashpipe.types import GpsFix


def _points(gpx: Any) -> tuple[str, list[Any]]:
    track = [p for t in gpx.tracks for s in t.segments for p in s.points]
    if track:
        return "track", track
    route = [p for r in gpx.routes for p in r.points]
    if route:
        return "route", route
    return "waypoint", list(gpx.waypoints)


# GPS time starts in 1980; earlier stamps are placeholders (GPSBabel writes 1901-12-13, the
# smallest 32-bit Unix time, for "unknown").
GPS_EPOCH = datetime(1980, 1, 6, tzinfo=timezone.utc)


def _fix(p: Any) -> GpsFix | None:
    if p.time is None or p.latitude is None or p.longitude is None:
        return None
    if as_utc(p.time) < GPS_EPOCH:
        return None
    lat, lon = float(p.latitude), float(p.longitude)
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    speed = getattr(p, "speed", None)
    course = getattr(p, "course", None)
    hdop = getattr(p, "horizontal_dilution", None)
    sat = getattr(p, "type_of_gpx_fix", None)
    return GpsFix(
        time=as_utc(p.time),
        lat=lat,
        lon=lon,
        alt_m=float(p.elevation) if p.elevation is not None else None,
        speed_mps=float(speed) if speed is not None and float(speed) >= 0 else None,
        course_deg=float(course) % 360.0 if course is not None else None,
        fix_quality=_fix_quality(sat),
        hdop=float(hdop) if hdop is not None else None,
    )


def _fix_quality(kind: str | None) -> int | None:
    """GPX <fix> (none/2d/3d/dgps/pps) -> NMEA GGA-style quality."""
    return {"none": 0, "2d": 1, "3d": 1, "dgps": 2, "pps": 3}.get(kind or "")


def parse_gpx_text(text: str, path: str | None = None) -> GpsReadResult:
    import gpxpy
    import gpxpy.gpx

    if "<gpx" not in text[:4096]:
        return empty_result("gpx", path, "gpx: not a GPX file (no <gpx> element)")
    try:
        gpx = gpxpy.parse(text)
    except (gpxpy.gpx.GPXException, ValueError) as exc:
        return empty_result("gpx", path, f"gpx: not a readable GPX file ({exc})")
    kind, points = _points(gpx)
    fixes: list[GpsFix] = []
    skipped = 0
    for p in points:
        fix = _fix(p)
        if fix is None:
            skipped += 1
        else:
            fixes.append(fix)
    notes: list[str] = []
    if kind != "track" and points:
        notes.append(f"gpx: no track in the file, used its {len(points)} {kind} points")
    if skipped:
        notes.append(f"gpx: {skipped} points without a time or position were skipped")
    empty = why_empty("gpx", len(fixes), 0, skipped)
    if empty:
        notes.append(empty)
    return GpsReadResult(
        kind="gpx",
        path=path,
        fixes=tuple(fixes),
        skipped=skipped,
        skip_reasons={"no time or position": skipped} if skipped else {},
        notes=tuple(notes),
    )


def read_gpx(path: Path) -> GpsReadResult:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"GPS file not found: {path}") from None
    return parse_gpx_text(raw.decode("utf-8", errors="replace"), str(path))
