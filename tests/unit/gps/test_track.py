"""Track cleaning and interpolation on hand-made fixes."""

from __future__ import annotations

import doctest
from datetime import datetime, timedelta, timezone

import pytest

import dashpipe.gps.track as track_module
from dashpipe.gps.track import (
    bearing_deg,
    clean_track,
    fill_motion,
    haversine_m,
    lerp_angle_deg,
    normalize,
    position_at,
)
from dashpipe.types import GpsFix

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def fix(s: float, lat: float, lon: float, speed: float | None = None, course: float | None = None) -> GpsFix:
    return GpsFix(time=T0 + timedelta(seconds=s), lat=lat, lon=lon, speed_mps=speed, course_deg=course)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_doctests() -> None:
    assert doctest.testmod(track_module).failed == 0


def test_haversine_and_bearing_known_values() -> None:
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-4)  # one degree on the equator
    assert haversine_m(51.5007, -0.1246, 40.6892, -74.0445) == pytest.approx(5_574_840, rel=2e-3)  # London-NYC
    assert bearing_deg(0, 0, 1, 0) == pytest.approx(0.0)
    assert bearing_deg(0, 0, 0, -1) == pytest.approx(270.0)
    assert bearing_deg(0, 0, -1, 0) == pytest.approx(180.0)


def test_normalize_sorts_and_keeps_the_first_of_equal_times() -> None:
    fixes = [fix(2, 1, 1), fix(0, 0, 0), fix(2, 9, 9), fix(1, 0.5, 0.5)]
    track, dropped = normalize(fixes)
    assert [f.time for f in track] == [at(0), at(1), at(2)]
    assert dropped == 1 and track[2].lat == 1


def test_interpolates_position_speed_and_course() -> None:
    track = (fix(0, 52.0, 4.0, 10.0, 80.0), fix(2, 52.0, 4.002, 20.0, 100.0))
    p = position_at(track, at(0.5), max_gap_s=5)
    assert p is not None
    assert p.lon == pytest.approx(4.0005) and p.lat == pytest.approx(52.0)
    assert p.speed_mps == pytest.approx(12.5) and p.course_deg == pytest.approx(85.0)


def test_course_interpolates_on_the_circle() -> None:
    track = (fix(0, 0, 0, 1, 350.0), fix(1, 0, 0, 1, 10.0))
    p = position_at(track, at(0.25), 5)
    assert p is not None and p.course_deg == pytest.approx(355.0)
    assert lerp_angle_deg(10.0, 350.0, 0.75) == pytest.approx(355.0)


def test_longitude_interpolates_across_the_antimeridian() -> None:
    track = (fix(0, 0, 179.9), fix(1, 0, -179.9))
    p = position_at(track, at(0.5), 5)
    assert p is not None and abs(p.lon) == pytest.approx(180.0)


def test_exact_fix_time_returns_that_fix() -> None:
    track = (fix(0, 1, 1), fix(1, 2, 2), fix(2, 3, 3))
    p = position_at(track, at(1), 5)
    assert p is not None and (p.lat, p.lon) == (2, 2)


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        (-4.9, 0.0),  # before the first fix, within max_gap: that fix, not an extrapolation
        (-5.1, None),  # too far before
        (14.9, 10.0),  # after the last fix, within reach
        (15.1, None),
    ],
)
def test_no_extrapolation_beyond_max_gap(s: float, expected: float | None) -> None:
    track = (fix(0, 0.0, 0.0), fix(10, 10.0, 0.0))
    p = position_at(track, at(s), max_gap_s=5)
    assert (p.lat if p else None) == expected


def test_a_hole_in_the_data_gives_no_position_in_its_middle() -> None:
    track = (fix(0, 0.0, 0.0), fix(60, 60.0, 0.0))  # 60 s without a fix
    assert position_at(track, at(30), max_gap_s=5) is None
    near_start = position_at(track, at(3), max_gap_s=5)
    near_end = position_at(track, at(58), max_gap_s=5)
    assert near_start is not None and near_start.lat == 0.0
    assert near_end is not None and near_end.lat == 60.0


def test_a_gap_within_twice_max_gap_is_interpolated() -> None:
    track = (fix(0, 0.0, 0.0), fix(8, 8.0, 0.0))
    p = position_at(track, at(4), max_gap_s=5)
    assert p is not None and p.lat == pytest.approx(4.0)


def test_empty_track() -> None:
    assert position_at((), at(0), 5) is None


def test_long_track_bisects_correctly() -> None:
    track = tuple(fix(i, i * 1e-4, 0.0) for i in range(1000))
    for s in (0.0, 1.5, 500.25, 998.75, 999.0):
        p = position_at(track, at(s), 5)
        assert p is not None and p.lat == pytest.approx(s * 1e-4)


def test_fill_motion_derives_missing_values_only() -> None:
    fixes = [fix(0, 0.0, 0.0), fix(10, 0.0, 0.001), fix(20, 0.0, 0.002, speed=99.0, course=1.0)]
    out = fill_motion(fixes)
    assert out[1].speed_mps == pytest.approx(111.195 * 2 / 20, rel=1e-3)
    assert out[1].course_deg == pytest.approx(90.0)
    assert out[2].speed_mps == 99.0 and out[2].course_deg == 1.0


def test_no_course_when_standing_still() -> None:
    out = fill_motion([fix(0, 1.0, 1.0), fix(1, 1.0, 1.0)])
    assert out[0].speed_mps == 0.0 and out[0].course_deg is None


def test_clean_track_combines() -> None:
    track, dropped = clean_track([fix(1, 0.0, 0.001), fix(0, 0.0, 0.0), fix(1, 5.0, 5.0)])
    assert dropped == 1 and len(track) == 2 and track[0].speed_mps is not None
