"""Sightings and drive tracks as text: CSV, GeoJSON, GPX, KML.

Pure functions (rows in, a string out) so the ``export`` command, any other front end and tests share
them. Coordinates are WGS84 degrees; GeoJSON and KML write longitude first, as their
specifications require. A sighting without a position is still a row in CSV and a feature
with a null geometry in GeoJSON, but cannot be a GPX waypoint or a KML placemark, so those
formats leave it out. A track needs two fixes to be a line.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from dashpipe.types import Frozen, GpsFix

KML_NS = "http://www.opengis.net/kml/2.2"


class SightingRow(Frozen):
    """One plate sighting as exported (one physical plate in one video)."""

    video_id: str
    plate: str
    confidence: float
    first_seen_utc: datetime | None = None
    last_seen_utc: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    best_crop: str | None = None
    motion: str = "unknown"

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None


class DriveTrack(Frozen):
    """The GPS track recorded during one video."""

    video_id: str
    fixes: tuple[GpsFix, ...]


def iso_utc(t: datetime | None) -> str:
    """ISO-8601 UTC with a 'Z' (what every GIS tool reads); empty for None."""
    if t is None:
        return ""
    t = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    return t.isoformat().replace("+00:00", "Z")


def _num(v: float | None, digits: int) -> str:
    return "" if v is None else f"{v:.{digits}f}"


# ---------------------------------------------------------------- CSV

SIGHTING_COLUMNS = (
    "video_id", "plate", "confidence", "first_seen_utc", "last_seen_utc", "lat", "lon", "best_crop", "motion",
)  # fmt: skip
TRACK_COLUMNS = ("video_id", "time_utc", "lat", "lon", "alt_m", "speed_mps", "course_deg")


def sightings_csv(rows: Sequence[SightingRow]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(SIGHTING_COLUMNS)
    for r in rows:
        w.writerow(
            [
                r.video_id,
                r.plate,
                f"{r.confidence:.4f}",
                iso_utc(r.first_seen_utc),
                iso_utc(r.last_seen_utc),
                _num(r.lat, 7),
                _num(r.lon, 7),
                r.best_crop or "",
                r.motion,
            ]
        )
    return out.getvalue()


def tracks_csv(tracks: Sequence[DriveTrack]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(TRACK_COLUMNS)
    for t in tracks:
        for f in t.fixes:
            w.writerow(
                [
                    t.video_id,
                    iso_utc(f.time),
                    _num(f.lat, 7),
                    _num(f.lon, 7),
                    _num(f.alt_m, 1),
                    _num(f.speed_mps, 2),
                    _num(f.course_deg, 1),
                ]
            )
    return out.getvalue()


def to_csv(rows: Sequence[SightingRow], tracks: Sequence[DriveTrack] = ()) -> str:
    """Sightings as CSV; with tracks and no sightings, the tracks' fixes as CSV."""
    if not rows and tracks:
        return tracks_csv(tracks)
    return sightings_csv(rows)


# ---------------------------------------------------------------- GeoJSON


def _sighting_props(r: SightingRow) -> dict[str, Any]:
    return {
        "video_id": r.video_id,
        "plate": r.plate,
        "confidence": r.confidence,
        "first_seen_utc": iso_utc(r.first_seen_utc) or None,
        "last_seen_utc": iso_utc(r.last_seen_utc) or None,
        "best_crop": r.best_crop,
        "motion": r.motion,
    }


def to_geojson(rows: Sequence[SightingRow], tracks: Sequence[DriveTrack] = ()) -> str:
    """A FeatureCollection: a Point per sighting, a LineString per drive track."""
    features: list[dict[str, Any]] = []
    for r in rows:
        geometry = {"type": "Point", "coordinates": [r.lon, r.lat]} if r.lat is not None and r.lon is not None else None
        features.append({"type": "Feature", "geometry": geometry, "properties": _sighting_props(r)})
    for t in tracks:
        if len(t.fixes) < 2:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[f.lon, f.lat] for f in t.fixes]},
                "properties": {
                    "video_id": t.video_id,
                    "start_utc": iso_utc(t.fixes[0].time),
                    "end_utc": iso_utc(t.fixes[-1].time),
                    "times_utc": [iso_utc(f.time) for f in t.fixes],
                },
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1) + "\n"


# ---------------------------------------------------------------- GPX


def _description(r: SightingRow) -> str:
    parts = [f"confidence {r.confidence:.2f}", f"motion {r.motion}", f"video {r.video_id}"]
    if r.last_seen_utc is not None:
        parts.append(f"last seen {iso_utc(r.last_seen_utc)}")
    if r.best_crop:
        parts.append(f"crop {r.best_crop}")
    return "; ".join(parts)


def to_gpx(rows: Sequence[SightingRow], tracks: Sequence[DriveTrack] = ()) -> str:
    """GPX 1.1: a waypoint per located sighting (named by the plate), a track per video."""
    import gpxpy.gpx

    gpx = gpxpy.gpx.GPX()
    gpx.creator = "dashpipe"
    for r in rows:
        if r.lat is None or r.lon is None:
            continue
        wpt = gpxpy.gpx.GPXWaypoint(
            latitude=r.lat, longitude=r.lon, time=r.first_seen_utc, name=r.plate, description=_description(r)
        )
        wpt.type = "plate"
        gpx.waypoints.append(wpt)
    for t in tracks:
        if not t.fixes:
            continue
        trk = gpxpy.gpx.GPXTrack(name=t.video_id)
        seg = gpxpy.gpx.GPXTrackSegment()
        for f in t.fixes:
            seg.points.append(
                gpxpy.gpx.GPXTrackPoint(
                    latitude=f.lat, longitude=f.lon, elevation=f.alt_m, time=f.time, horizontal_dilution=f.hdop
                )
            )
        trk.segments.append(seg)
        gpx.tracks.append(trk)
    return str(gpx.to_xml(version="1.1"))


# ---------------------------------------------------------------- KML


def to_kml(rows: Sequence[SightingRow], tracks: Sequence[DriveTrack] = ()) -> str:
    """KML 2.2: a Placemark (Point, TimeSpan) per located sighting, a LineString per video."""
    ET.register_namespace("", KML_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        e = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
        if text is not None:
            e.text = text
        return e

    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = el(root, "Document")
    el(doc, "name", "dashpipe")
    for r in rows:
        if r.lat is None or r.lon is None:
            continue
        pm = el(doc, "Placemark")
        el(pm, "name", r.plate)
        el(pm, "description", _description(r))
        if r.first_seen_utc is not None:
            span = el(pm, "TimeSpan")
            el(span, "begin", iso_utc(r.first_seen_utc))
            if r.last_seen_utc is not None:
                el(span, "end", iso_utc(r.last_seen_utc))
        el(el(pm, "Point"), "coordinates", f"{r.lon:.7f},{r.lat:.7f}")
    for t in tracks:
        if len(t.fixes) < 2:
            continue
        pm = el(doc, "Placemark")
        el(pm, "name", t.video_id)
        span = el(pm, "TimeSpan")
        el(span, "begin", iso_utc(t.fixes[0].time))
        el(span, "end", iso_utc(t.fixes[-1].time))
        line = el(pm, "LineString")
        el(line, "tessellate", "1")
        el(line, "coordinates", " ".join(f"{f.lon:.7f},{f.lat:.7f}" for f in t.fixes))
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


EXPORTERS: dict[str, Callable[[Sequence[SightingRow], Sequence[DriveTrack]], str]] = {
    "csv": to_csv,
    "geojson": to_geojson,
    "gpx": to_gpx,
    "kml": to_kml,
}


def export(fmt: str, rows: Sequence[SightingRow], tracks: Sequence[DriveTrack] = ()) -> str:
    """Dispatch on the format name (csv, geojson, gpx, kml)."""
    try:
        return EXPORTERS[fmt](rows, tracks)
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r} (expected one of: {', '.join(EXPORTERS)})") from None
