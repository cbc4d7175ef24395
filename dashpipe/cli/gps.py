"""``dashpipe gps SOURCE``: print the track of a GPS log or of a video (embedded or sidecar GPS).

The track goes to stdout (CSV, GeoJSON or GPX) so it can be piped; what was counted and
decided (fixes, no-fix reports, skipped lines, source kind, camera clock offset, video
start) goes to stderr. Imports stay inside the command so ``dashpipe --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("gps")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "geojson", "gpx"]),
    default="csv",
    show_default=True,
    help="How the track is printed.",
)
@click.option(
    "--reference",
    metavar="ISO-TIME",
    default=None,
    help="A UTC time near the recording: dates logs that only carry times of day, and corrects GPS "
    "week-rollover dates.",
)
@click.pass_context
def gps_command(ctx: click.Context, source: Path, fmt: str, reference: str | None) -> None:
    """Print the GPS track of SOURCE (a GPS log, or a video with embedded or sidecar GPS)."""
    from dashpipe.config import GpsSettings
    from dashpipe.exports import DriveTrack, to_geojson, to_gpx, tracks_csv
    from dashpipe.gps.align import load_gps_context
    from dashpipe.gps.discover import read_gps
    from dashpipe.gps.mp4 import creation_time, is_mp4
    from dashpipe.gps.result import GpsReadResult
    from dashpipe.gps.timing import apply_rollover, parse_iso_utc
    from dashpipe.gps.track import clean_track

    root = ctx.find_root().obj
    settings = root.get("settings") if isinstance(root, dict) else None
    cfg: GpsSettings = settings.gps if settings is not None else GpsSettings()
    try:
        ref = parse_iso_utc(reference) if reference else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--reference") from None

    with source.open("rb") as f:
        video = is_mp4(f.read(16))
    start_line = None
    if video:
        context = load_gps_context(source, None, creation_time(source), cfg)
        result: GpsReadResult = context.read
        fixes = context.fixes
        start_line = (
            f"video start: {context.start:%Y-%m-%dT%H:%M:%S.%f}Z ({context.start_how})"
            if context.start
            else f"video start: unknown ({context.start_how})"
        )
    else:
        result = apply_rollover(read_gps(source, ref), ref)
        fixes, duplicates = clean_track(result.fixes)
        result = result.model_copy(update={"fixes": fixes, "duplicates": duplicates})

    track = DriveTrack(video_id=source.stem, fixes=fixes)
    if fmt == "csv":
        click.echo(tracks_csv([track]), nl=False)
    elif fmt == "geojson":
        click.echo(to_geojson([], [track]), nl=False)
    else:
        click.echo(to_gpx([], [track]))

    click.echo(result.summary(), err=True)
    if result.skip_reasons:
        click.echo("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(result.skip_reasons.items())), err=True)
    if start_line:
        click.echo(start_line, err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
