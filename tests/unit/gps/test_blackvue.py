"""BlackVue ``[unix_ms]`` logs built here: UTC from RMC, camera clock offset from the stamps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashpipe.config import GpsSettings
from dashpipe.gps.blackvue import parse_blackvue_text, snap_offset
from dashpipe.gps.discover import find_gps
from dashpipe.gps.timing import video_start

from .conftest import sentence

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def blackvue_log(start: datetime, camera_offset_s: float, lag_s: float = 1.4, n: int = 10) -> str:
    """One block per second, stamped with camera time = UTC + offset + write lag; GGA one second ahead.

    The default lag is over a second, as on the real DR550DW log: the GGA of second N+1 is written
    in the block stamped after it.
    """
    lines = []
    for i in range(n):
        t = start + timedelta(seconds=i)
        stamp = int((t.timestamp() + camera_offset_s + lag_s + 0.1 * (i % 3)) * 1000)
        g = t + timedelta(seconds=1)
        rmc = sentence(f"GPRMC,{t:%H%M%S}.000,A,5200.{i:04d},N,00400.0000,E,020.0,090.0,{t:%d%m%y},,,A")
        gga = sentence(f"GPGGA,{g:%H%M%S}.000,5200.{i + 1:04d},N,00400.0000,E,1,08,1.0,10.0,M,47.0,M,,0000")
        lines += [f"[{stamp}]{rmc}", f"[{stamp}]{gga}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("offset", [7200.0, -18000.0, 0.0, 19800.0])  # UTC+2, UTC-5, UTC, UTC+5:30
def test_times_are_utc_and_the_zone_offset_is_measured(offset: float) -> None:
    r = parse_blackvue_text(blackvue_log(T0, offset))
    assert r.kind == "blackvue" and r.checksum_ignored == 0
    assert r.fixes[0].time == T0  # from the RMC, whatever the camera clock says
    assert r.clock_offset_s == offset
    assert any("camera clock" in n for n in r.notes)


def test_a_drifting_camera_clock_is_kept_unrounded() -> None:
    r = parse_blackvue_text(blackvue_log(T0, 3600.0 + 47.0, lag_s=1.0))  # GGA of N+1 written after N+1
    assert r.clock_offset_s == pytest.approx(3647.0, abs=0.01)


def test_snap_to_time_zones() -> None:
    assert snap_offset(3601.37) == 3600.0 and snap_offset(-1799.0) == -1800.0 and snap_offset(47.0) == 47.0


def test_start_from_the_file_name_and_the_measured_offset(tmp_path: Path) -> None:
    (tmp_path / "20240501_120000_NF.mp4").write_bytes(b"")
    (tmp_path / "20240501_120000_N.gps").write_text(blackvue_log(T0, 7200.0))
    r = find_gps(tmp_path / "20240501_120000_NF.mp4")
    assert r.origin == "sidecar" and r.kind == "blackvue"
    start, how = video_start(tmp_path / "20240501_120000_NF.mp4", None, GpsSettings(camera_utc_offset_s=0), r)
    assert start == T0 and "measured by the blackvue log" in how


def test_rolled_over_dates_are_fixed_by_the_camera_clock() -> None:
    rolled = T0 - timedelta(weeks=1024)
    text = blackvue_log(rolled, 3600.0 + timedelta(weeks=1024).total_seconds())
    r = parse_blackvue_text(text)
    assert r.fixes[0].time == T0 and r.rollover_weeks == 1024 and r.clock_offset_s == 3600.0


def test_no_fix_log_has_no_offset_and_says_so() -> None:
    text = "[1714557600000]" + sentence("GPRMC,100000.000,V,,,,,,,010524,,,N") + "\n"
    r = parse_blackvue_text(text)
    assert r.fixes == () and r.no_fix == 1 and r.clock_offset_s is None
    assert any("no position fix" in n for n in r.notes)
    assert any("no dated fix" in n for n in r.notes)
