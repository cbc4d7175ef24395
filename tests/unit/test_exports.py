"""Exports of sightings and drive tracks: CSV, GeoJSON, GPX (gpxpy round trip), KML (well-formed)."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import gpxpy
import pytest

from dashpipe.exports import DriveTrack, SightingRow, export, to_csv, to_geojson, to_gpx, to_kml
from dashpipe.types import GpsFix

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
KML = "{http://www.opengis.net/kml/2.2}"

ROWS = [
    SightingRow(
        video_id="v1", plate="7ABC123", confidence=0.97, first_seen_utc=T0, last_seen_utc=T0 + timedelta(seconds=3),
        lat=52.1, lon=4.9, best_crop="crops/7ABC123.jpg", motion="approaching",
    ),
    SightingRow(video_id="v1", plate="XY<&>1", confidence=0.6, lat=None, lon=None),
]  # fmt: skip
TRACK = DriveTrack(
    video_id="v1",
    fixes=tuple(
        GpsFix(time=T0 + timedelta(seconds=i), lat=52.1 + i * 1e-4, lon=4.9, alt_m=3.0, speed_mps=10.0)
        for i in range(3)
    ),
)


def test_csv_rows_and_empty_position() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(ROWS))))
    assert rows[0]["plate"] == "7ABC123" and rows[0]["first_seen_utc"] == "2024-05-01T12:00:00Z"
    assert float(rows[0]["lat"]) == 52.1 and rows[0]["motion"] == "approaching"
    assert rows[1]["lat"] == "" and rows[1]["plate"] == "XY<&>1"


def test_csv_of_tracks_alone() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv([], [TRACK]))))
    assert len(rows) == 3 and rows[2]["time_utc"] == "2024-05-01T12:00:02Z"


def test_geojson_points_lines_and_lon_lat_order() -> None:
    fc = json.loads(to_geojson(ROWS, [TRACK]))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 3
    point, unplaced, line = fc["features"]
    assert point["geometry"] == {"type": "Point", "coordinates": [4.9, 52.1]}
    assert point["properties"]["plate"] == "7ABC123" and point["properties"]["motion"] == "approaching"
    assert unplaced["geometry"] is None
    assert line["geometry"]["type"] == "LineString" and line["geometry"]["coordinates"][0] == [4.9, 52.1]
    assert line["properties"]["start_utc"] == "2024-05-01T12:00:00Z"


def test_gpx_round_trip_through_gpxpy() -> None:
    gpx = gpxpy.parse(to_gpx(ROWS, [TRACK]))
    assert [w.name for w in gpx.waypoints] == ["7ABC123"]  # the unplaced sighting cannot be a waypoint
    w = gpx.waypoints[0]
    assert (w.latitude, w.longitude) == (52.1, 4.9) and w.time == T0 and "approaching" in (w.description or "")
    pts = gpx.tracks[0].segments[0].points
    assert gpx.tracks[0].name == "v1" and len(pts) == 3
    assert pts[2].latitude == pytest.approx(52.1002) and pts[2].time == T0 + timedelta(seconds=2)


def test_kml_is_well_formed_with_placemarks_and_a_line() -> None:
    root = ET.fromstring(to_kml(ROWS, [TRACK]))
    marks = root.findall(f"{KML}Document/{KML}Placemark")
    assert [m.findtext(f"{KML}name") for m in marks] == ["7ABC123", "v1"]
    assert marks[0].findtext(f"{KML}Point/{KML}coordinates") == "4.9000000,52.1000000"
    assert marks[0].findtext(f"{KML}TimeSpan/{KML}begin") == "2024-05-01T12:00:00Z"
    coords = marks[1].findtext(f"{KML}LineString/{KML}coordinates")
    assert coords is not None and len(coords.split()) == 3


def test_special_characters_are_escaped() -> None:
    odd = [SightingRow(video_id="v<1>", plate="A&B", confidence=1.0, lat=1.0, lon=2.0)]
    assert ET.fromstring(to_kml(odd)).find(f"{KML}Document/{KML}Placemark/{KML}name").text == "A&B"  # type: ignore[union-attr]
    assert gpxpy.parse(to_gpx(odd)).waypoints[0].name == "A&B"


def test_single_fix_track_is_not_a_line() -> None:
    short = DriveTrack(video_id="v", fixes=TRACK.fixes[:1])
    assert json.loads(to_geojson([], [short]))["features"] == []
    assert ET.fromstring(to_kml([], [short])).findall(f"{KML}Document/{KML}Placemark") == []


def test_export_dispatch_and_unknown_format() -> None:
    assert export("geojson", ROWS) == to_geojson(ROWS)
    with pytest.raises(ValueError, match="expected one of: csv, geojson, gpx, kml"):
        export("shp", ROWS)
