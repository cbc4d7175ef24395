"""``dashpipe export``: sightings and drive tracks from the database, for QGIS, Google Earth, GPX tools."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    from dashpipe.gps.timing import parse_iso_utc

    try:
        return parse_iso_utc(value if "T" in value else f"{value}T00:00:00Z")
    except ValueError as exc:
        raise click.BadParameter(f"expected an ISO-8601 date or time, got {value!r}") from exc


@click.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "geojson", "gpx", "kml"]), default="geojson", show_default=True
)
@click.option("--since", help="Only what was seen at or after this UTC date/time (e.g. 2024-05-01).")
@click.option("--no-tracks", is_flag=True, help="Sightings only, without the drive tracks.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout)."
)
@click.pass_context
def export_command(ctx: click.Context, fmt: str, since: str | None, no_tracks: bool, output: Path | None) -> None:
    """Export sightings (points) and drive tracks (lines) as CSV, GeoJSON, GPX or KML."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from dashpipe import db
    from dashpipe.exports import DriveTrack, SightingRow, export
    from dashpipe.types import GpsFix

    settings = ctx.obj["settings"]
    start = _since(since)
    engine = db.connect(settings.database_url)
    with Session(engine) as session:
        q = select(db.SightingRow).order_by(db.SightingRow.first_seen_at, db.SightingRow.id)
        rows = []
        for r in session.scalars(q):
            seen = _utc(r.first_seen_at)
            if start is not None and (seen is None or seen < start):
                continue
            rows.append(
                SightingRow(
                    video_id=r.video_id,
                    plate=r.plate,
                    confidence=r.confidence,
                    first_seen_utc=seen,
                    last_seen_utc=_utc(r.last_seen_at),
                    lat=r.lat,
                    lon=r.lon,
                    best_crop=r.best_crop,
                    motion=r.motion or "unknown",
                )
            )
        tracks: list[DriveTrack] = []
        if not no_tracks:
            points: dict[str, list[GpsFix]] = {}
            for p in session.scalars(
                select(db.TrackPointRow).order_by(db.TrackPointRow.video_id, db.TrackPointRow.time)
            ):
                t = _utc(p.time)
                if t is None or (start is not None and t < start):
                    continue
                points.setdefault(p.video_id, []).append(
                    GpsFix(time=t, lat=p.lat, lon=p.lon, speed_mps=p.speed_mps, course_deg=p.course_deg)
                )
            tracks = [DriveTrack(video_id=v, fixes=tuple(f)) for v, f in points.items() if len(f) > 1]
    text = export(fmt, rows, tracks)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        from dashpipe.storage import atomic_write

        atomic_write(output, text.encode())
        click.echo(f"{len(rows)} sightings, {len(tracks)} tracks -> {output}", err=True)


def _utc(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written as UTC."""
    if t is None:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
