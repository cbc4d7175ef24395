"""A track: fixes sorted by time, one per instant, with speed and course filled in.

``position_at`` answers "where was the car at time t" by bisecting on time and interpolating
between the two fixes around t. It never extrapolates: farther than ``max_gap_s`` from the
nearest fix, or inside a gap wider than twice that, the answer is None (a wrong position
on the map is worse than none).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime

from dashpipe.types import GeoPoint, GpsFix

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
MIN_MOVE_M = 0.5  # below this between two fixes the course is noise, not a direction


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres.

    >>> round(haversine_m(52.0, 4.0, 52.0, 4.001), 1)
    68.5
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north, [0, 360).

    >>> round(bearing_deg(0.0, 0.0, 0.0, 1.0), 6)
    90.0
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def lerp_angle_deg(a: float, b: float, w: float) -> float:
    """Interpolate on the circle: 350 -> 10 passes through 0, not through 180.

    >>> lerp_angle_deg(350.0, 10.0, 0.5)
    0.0
    """
    diff = (b - a + 180.0) % 360.0 - 180.0
    return (a + w * diff) % 360.0


def _lerp_lon(a: float, b: float, w: float) -> float:
    """Longitudes interpolated across the antimeridian the short way."""
    diff = (b - a + 180.0) % 360.0 - 180.0
    v = a + w * diff
    return (v + 180.0) % 360.0 - 180.0


def normalize(fixes: Sequence[GpsFix]) -> tuple[tuple[GpsFix, ...], int]:
    """Sorted by time, one fix per instant (the first one reported wins); returns (track, dropped)."""
    ordered = sorted(fixes, key=lambda f: f.time)  # stable: same-time fixes keep file order
    out: list[GpsFix] = []
    for f in ordered:
        if out and f.time == out[-1].time:
            continue
        out.append(f)
    return tuple(out), len(ordered) - len(out)


def fill_motion(track: Sequence[GpsFix]) -> tuple[GpsFix, ...]:
    """Speed and course from positions where the source had none (GPX, GGA-only logs).

    Uses the central difference (previous to next fix) so a fix's values describe the motion
    through it; the course is left empty when the car barely moved (it would be noise).
    """
    n = len(track)
    if n < 2:
        return tuple(track)
    out: list[GpsFix] = []
    for i, f in enumerate(track):
        if f.speed_mps is not None and f.course_deg is not None:
            out.append(f)
            continue
        a, b = track[max(i - 1, 0)], track[min(i + 1, n - 1)]
        dt = (b.time - a.time).total_seconds()
        update: dict[str, float] = {}
        if dt > 0:
            dist = haversine_m(a.lat, a.lon, b.lat, b.lon)
            if f.speed_mps is None:
                update["speed_mps"] = dist / dt
            if f.course_deg is None and dist >= MIN_MOVE_M:
                update["course_deg"] = bearing_deg(a.lat, a.lon, b.lat, b.lon)
        out.append(f.model_copy(update=update) if update else f)
    return tuple(out)


def clean_track(fixes: Sequence[GpsFix]) -> tuple[tuple[GpsFix, ...], int]:
    """normalize + fill_motion: what every consumer of a track wants; returns (track, duplicates)."""
    track, dropped = normalize(fixes)
    return fill_motion(track), dropped


def _ts(t: datetime) -> float:
    return t.timestamp()


def position_at(fixes: Sequence[GpsFix], t: datetime, max_gap_s: float) -> GeoPoint | None:
    """Where the car was at ``t`` (aware), interpolated; None beyond ``max_gap_s`` from the data.

    ``fixes`` must be sorted by time (``normalize``). Inside the track the two fixes around t
    are used as long as they are at most ``2 * max_gap_s`` apart (each within reach of t);
    at the ends t may be at most ``max_gap_s`` from the first/last fix, which is then returned
    as is (no extrapolation).
    """
    if not fixes:
        return None
    x = _ts(t)
    times = _times_of(fixes) if isinstance(fixes, tuple) and len(fixes) >= 64 else [_ts(f.time) for f in fixes]
    i = bisect_left(times, x)
    if i < len(times) and times[i] == x:
        return _point(fixes[i])
    if i == 0:
        return _point(fixes[0]) if times[0] - x <= max_gap_s else None
    if i == len(times):
        return _point(fixes[-1]) if x - times[-1] <= max_gap_s else None
    a, b = fixes[i - 1], fixes[i]
    ta, tb = times[i - 1], times[i]
    if tb - ta > 2 * max_gap_s:
        # A hole in the data: like at the ends, a fix is used alone within max_gap_s of it.
        if x - ta <= max_gap_s:
            return _point(a) if x - ta <= tb - x else _point(b)
        if tb - x <= max_gap_s:
            return _point(b)
        return None
    w = (x - ta) / (tb - ta)
    return GeoPoint(
        lat=a.lat + w * (b.lat - a.lat),
        lon=_lerp_lon(a.lon, b.lon, w),
        speed_mps=_lerp_opt(a.speed_mps, b.speed_mps, w),
        course_deg=_lerp_course(a.course_deg, b.course_deg, w),
    )


# Bisecting needs the timestamps as floats; converting a long track for every query would be
# O(n) each time, so they are cached per track tuple (immutable, so never stale).
_TIMES_CACHE: dict[int, tuple[tuple[GpsFix, ...], list[float]]] = {}


def _times_of(fixes: tuple[GpsFix, ...]) -> list[float]:
    hit = _TIMES_CACHE.get(id(fixes))
    if hit is not None and hit[0] is fixes:
        return hit[1]
    times = [_ts(f.time) for f in fixes]
    if len(_TIMES_CACHE) > 32:
        _TIMES_CACHE.clear()
    _TIMES_CACHE[id(fixes)] = (fixes, times)
    return times


def _point(f: GpsFix) -> GeoPoint:
    return GeoPoint(lat=f.lat, lon=f.lon, speed_mps=f.speed_mps, course_deg=f.course_deg)


def _lerp_opt(a: float | None, b: float | None, w: float) -> float | None:
    if a is None or b is None:
        return a if w < 0.5 else b
    return a + w * (b - a)


def _lerp_course(a: float | None, b: float | None, w: float) -> float | None:
    if a is None or b is None:
        return a if w < 0.5 else b
    return lerp_angle_deg(a, b, w)
