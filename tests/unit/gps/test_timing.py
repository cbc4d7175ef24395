"""Video start times from settings, GPS streams, file names and containers; GPS week rollover."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashpipe.config import GpsSettings
from dashpipe.gps.result import GpsReadResult
from dashpipe.gps.timing import correct_rollover, name_time, parse_iso_utc, rollover_weeks, video_start
from dashpipe.types import GpsFix

UTC = timezone.utc


@pytest.mark.parametrize(
    ("name", "brand", "local"),
    [
        ("2021_1013_183759_050.MP4", "viofo", datetime(2021, 10, 13, 18, 37, 59)),
        ("2024_0101_120000_0001F.MP4", "viofo", datetime(2024, 1, 1, 12, 0, 0)),
        ("20190101_120000_NF.mp4", "blackvue", datetime(2019, 1, 1, 12, 0, 0)),
        ("20260718_070333_NR.mp4", "blackvue", datetime(2026, 7, 18, 7, 3, 33)),
        ("NO20260712-195504-000000F.MP4", "70mai", datetime(2026, 7, 12, 19, 55, 4)),
        ("FILE260819-071804F.MP4", "mivue", datetime(2026, 8, 19, 7, 18, 4)),
        ("190101_120000_001_FH.MP4", "nextbase", datetime(2019, 1, 1, 12, 0, 0)),
        ("20260406142122_000022.MP4", "generic", datetime(2026, 4, 6, 14, 21, 22)),
        ("drive 2023-05-06 07-08-09.mov", "generic", datetime(2023, 5, 6, 7, 8, 9)),
        ("2023-05-06T07:08:09.mp4", "generic", datetime(2023, 5, 6, 7, 8, 9)),
    ],
)
def test_file_name_times(name: str, brand: str, local: datetime) -> None:
    got = name_time(name)
    assert got is not None and got.brand == brand and got.local == local


@pytest.mark.parametrize(
    "name", ["GRMN0042.MP4", "MOV_0581.mp4", "GH010123.MP4", "2024_1399_250000_001.MP4", "clip.mp4"]
)
def test_names_without_a_time(name: str) -> None:
    assert name_time(name) is None


def test_setting_wins_over_everything() -> None:
    cfg = GpsSettings(video_start="2024-05-01T10:00:00Z")
    start, how = video_start(Path("2021_1013_183759_050.MP4"), datetime(2020, 1, 1, tzinfo=UTC), cfg)
    assert start == datetime(2024, 5, 1, 10, tzinfo=UTC) and "setting" in how


def test_gps_stream_start_wins_over_names_and_container() -> None:
    src = GpsReadResult(kind="gopro", start_utc=datetime(2019, 11, 18, 23, 45, 13, tzinfo=UTC))
    start, how = video_start(Path("2021_1013_183759_050.MP4"), datetime(2020, 1, 1, tzinfo=UTC), GpsSettings(), src)
    assert start == src.start_utc and "gopro" in how


def test_file_name_with_configured_camera_offset_wins_over_container() -> None:
    cfg = GpsSettings(camera_utc_offset_s=3600)
    start, how = video_start(Path("2021_1013_183759_050.MP4"), datetime(2021, 10, 13, 18, 37, 0, tzinfo=UTC), cfg)
    assert start == datetime(2021, 10, 13, 17, 37, 59, tzinfo=UTC)
    assert "camera clock" in how and "3600" in how


def test_measured_offset_wins_over_the_setting() -> None:
    src = GpsReadResult(kind="blackvue", clock_offset_s=7200.0)
    start, how = video_start(Path("20190101_120000_NF.mp4"), None, GpsSettings(camera_utc_offset_s=3600), src)
    assert start == datetime(2019, 1, 1, 10, 0, 0, tzinfo=UTC) and "measured" in how


def test_container_time_when_no_offset_is_known() -> None:
    ct = datetime(2021, 10, 13, 15, 38, 0, tzinfo=UTC)
    start, how = video_start(Path("2021_1013_183759_050.MP4"), ct, GpsSettings())
    assert start == ct and how == "container creation time"


def test_naive_container_time_is_utc() -> None:
    start, _ = video_start(Path("clip.mp4"), datetime(2021, 10, 13, 15, 38), GpsSettings())
    assert start == datetime(2021, 10, 13, 15, 38, tzinfo=UTC)


def test_file_name_taken_as_utc_as_a_last_resort() -> None:
    start, how = video_start(Path("2021_1013_183759_050.MP4"), None, GpsSettings())
    assert start == datetime(2021, 10, 13, 18, 37, 59, tzinfo=UTC) and "taken as UTC" in how


def test_no_time_at_all_says_why() -> None:
    assert video_start(Path("GRMN0042.MP4"), None, GpsSettings()) == (
        None,
        "garmin file names carry no time and the container has none",
    )
    start, how = video_start(Path("clip.mp4"), None, GpsSettings())
    assert start is None and how.startswith("no time")


def test_bad_iso_setting_says_what_was_expected() -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_iso_utc("yesterday")
    assert parse_iso_utc("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)


def _fix(t: datetime) -> GpsFix:
    return GpsFix(time=t, lat=1.0, lon=2.0)


def test_rollover_by_1024_weeks_only_near_the_reference() -> None:
    ref = datetime(2019, 4, 7, 12, tzinfo=UTC)
    rolled = datetime(1999, 8, 22, 0, 3, tzinfo=UTC)
    assert rollover_weeks(rolled, ref) == 1024
    assert rollover_weeks(rolled - timedelta(weeks=1024), ref) == 2048
    assert rollover_weeks(ref - timedelta(hours=3), ref) == 0  # a wrong time zone is not a rollover
    assert rollover_weeks(datetime(2009, 1, 1, tzinfo=UTC), ref) == 0  # 10 years off: not 1024 weeks
    fixes, moved = correct_rollover([_fix(rolled), _fix(ref)], ref)
    assert moved == 1 and fixes[0].time == rolled + timedelta(weeks=1024) and fixes[1].time == ref
    assert correct_rollover([_fix(rolled)], None) == ((_fix(rolled),), 0)
