"""GPX files: real ones from gpxpy's and ExifTool's test sets, and edge cases built here."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from dashpipe.gps.discover import read_gps
from dashpipe.gps.gpx import parse_gpx_text
from dashpipe.gps.track import clean_track

UTC = timezone.utc

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.0" creator="test" xmlns="http://www.topografix.com/GPX/1/0">
<trk><trkseg>
<trkpt lat="52.0" lon="4.0"><ele>1.5</ele><time>2024-05-01T12:00:00Z</time>
<speed>10.0</speed><course>90</course></trkpt>
<trkpt lat="52.0" lon="4.001"><time>2024-05-01T14:00:01+02:00</time></trkpt>
<trkpt lat="52.0" lon="4.002"></trkpt>
</trkseg></trk>
</gpx>
"""


def test_gpx_points_speed_course_and_zones() -> None:
    r = parse_gpx_text(GPX)
    assert r.kind == "gpx" and len(r.fixes) == 2 and r.skipped == 1
    a, b = r.fixes
    assert a.time == datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC) and a.alt_m == 1.5
    assert a.speed_mps == 10.0 and a.course_deg == 90.0
    assert b.time == datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)  # +02:00 converted to UTC
    assert any("without a time" in n for n in r.notes)


def test_speed_and_course_are_derived_when_missing() -> None:
    track, _ = clean_track(parse_gpx_text(GPX).fixes)
    assert track[1].speed_mps == pytest.approx(68.5, abs=0.5)  # 0.001 deg of longitude at 52N in 1 s
    assert track[1].course_deg == pytest.approx(90.0, abs=0.1)


@pytest.mark.parametrize("text", ["", "not xml at all", "<gpx><trk><trkseg><trkpt lat='1'"])
def test_broken_gpx_is_a_note_not_an_exception(text: str) -> None:
    r = parse_gpx_text(text)
    assert r.fixes == () and r.notes


def test_route_used_when_there_is_no_track() -> None:
    text = GPX.replace("<trk><trkseg>", "<rte>").replace("</trkseg></trk>", "</rte>").replace("trkpt", "rtept")
    r = parse_gpx_text(text)
    assert len(r.fixes) == 2 and any("route" in n for n in r.notes)


def test_real_car_drive(gps_data: Path) -> None:
    r = read_gps(gps_data / "gpx" / "around-visnjan-with-car.gpx")
    assert r.kind == "gpx" and len(r.fixes) == 104
    assert r.fixes[0].time == datetime(2020, 12, 18, 6, 15, 50, tzinfo=UTC)
    assert all(45.0 < f.lat < 45.5 and 13.5 < f.lon < 14.0 for f in r.fixes)  # Istria


def test_points_without_time_are_counted(gps_data: Path) -> None:
    r = read_gps(gps_data / "gpx" / "cerknicko-without-times.gpx")
    assert r.skipped > 250 and r.skipped + len(r.fixes) == 296


def test_placeholder_1901_times_are_not_times(gps_data: Path) -> None:
    r = read_gps(gps_data / "gpx" / "Mojstrovka.gpx")
    assert r.fixes == () and r.skipped == 184


def test_descending_timestamps_are_sorted(gps_data: Path) -> None:
    r = read_gps(gps_data / "exiftool" / "Geotag.gpx")
    assert len(r.fixes) == 9
    raw = [f.time for f in r.fixes]
    assert raw == sorted(raw, reverse=True)  # as written
    track, _ = clean_track(r.fixes)
    assert [f.time for f in track] == sorted(raw)


def test_kml_is_not_taken_for_gpx(gps_data: Path) -> None:
    r = read_gps(gps_data / "exiftool" / "Geotag.kml")
    assert r.fixes == () and r.kind == "none"
