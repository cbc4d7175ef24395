"""``dashpipe``: run videos in this process, submit them to the queues, render a sample, inspect results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dashpipe.config import ConfigError, Settings, load_settings
from dashpipe.runtime import configure


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"]
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "configs",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML settings file (repeat to overlay); default $DASHPIPE_CONFIG.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.version_option(package_name="dashpipe")
@click.pass_context
def main(ctx: click.Context, configs: tuple[Path, ...], verbose: bool) -> None:
    """Dashcam videos to a searchable, geotagged record of licence plates."""
    import logging

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        settings = load_settings(*configs)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    configure(settings)
    ctx.obj = {"settings": settings}


@main.command()
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--gps", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="GPS log for the video(s).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here.")
@click.pass_context
def run(ctx: click.Context, videos: tuple[Path, ...], gps: Path | None, report: Path | None) -> None:
    """Process VIDEOS here and now, with no broker (SQLite and local folders by default)."""
    from dashpipe.cli.progress import run_videos
    from dashpipe.cli.tables import print_plates

    entries = run_videos(list(videos), gps)
    doc = {"videos": entries}
    if report is not None:
        from dashpipe.storage import atomic_write

        atomic_write(report.resolve(), json.dumps(doc, indent=2).encode())
    print_plates(entries)
    settings = _settings(ctx)
    click.echo(f"archive: {settings.store.resolved('archive').resolve()}")
    click.echo(f"database: {settings.database_url}")
    if report is not None:
        click.echo(f"report: {report.resolve()}")
    if any(e["status"] != "done" for e in entries):
        sys.exit(1)


@main.command()
@click.argument("videos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--gps", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="GPS log for the video(s).")
@click.option("--wait", is_flag=True, help="Wait for every chain and print its plates.")
@click.option("--timeout", type=float, default=None, help="With --wait: give up after this many seconds.")
def submit(videos: tuple[Path, ...], gps: Path | None, wait: bool, timeout: float | None) -> None:
    """Send VIDEOS through the jetson -> gpu -> archive queues (workers must be running)."""
    from dashpipe.api import submit as submit_video
    from dashpipe.cli.tables import print_plates

    results = [(v, submit_video(v, gps)) for v in videos]
    for video, res in results:
        click.echo(f"{res.id}  {video}")
    if not wait:
        return
    entries: list[dict[str, Any]] = [res.get(timeout=timeout) for _, res in results]
    print_plates(entries)
    if any(e["status"] != "done" for e in entries):
        sys.exit(1)


@main.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seconds", type=float, default=60.0, show_default=True, help="Clip length.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (plates, route, events).")
@click.option(
    "--overlay/--no-overlay", default=True, show_default=True, help="Burn the clock and speed into the frames."
)
def sample(outdir: Path, seconds: float, seed: int, overlay: bool) -> None:
    """Render a synthetic 1080p30 dashcam clip with known plates, an NMEA log and its ground truth."""
    from dashpipe.sample import render_sample

    files = render_sample(outdir, seconds=seconds, seed=seed, overlay=overlay)
    click.echo(f"video: {files.video}")
    click.echo(f"gps:   {files.nmea}")
    click.echo(f"truth: {files.truth}")


@main.command()
@click.option("--seconds", type=float, default=20.0, show_default=True, help="Length of the sample clip.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sample seed.")
@click.pass_context
def demo(ctx: click.Context, seconds: float, seed: int) -> None:
    """Render a sample clip into the incoming folder and process it (the quick start)."""
    from dashpipe.sample import render_sample

    settings = _settings(ctx)
    incoming = settings.store.resolved("incoming")
    click.echo(f"rendering a {seconds:g} s sample clip into {incoming} ...")
    files = render_sample(incoming, seconds=seconds, seed=seed)
    report = settings.store.data_dir / "report.json"
    ctx.invoke(run, videos=(files.video,), gps=files.nmea, report=report)


@main.command()
@click.argument("video_id", required=False)
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_context
def status(ctx: click.Context, video_id: str | None, limit: int) -> None:
    """Videos known to the database, newest first (or one video's plates)."""
    from dashpipe.cli.tables import print_status

    print_status(_settings(ctx), video_id, limit)


@main.command()
@click.argument("pattern")
@click.option("--distance", type=int, default=0, show_default=True, help="Also match within this edit distance.")
@click.pass_context
def search(ctx: click.Context, pattern: str, distance: int) -> None:
    """Sightings of plates matching PATTERN ('*' and '?' wildcards)."""
    from dashpipe.cli.tables import print_search

    print_search(_settings(ctx), pattern, distance)


@main.command("config")
@click.option("--documented", is_flag=True, help="Print every key with its description and default instead.")
@click.pass_context
def show_config(ctx: click.Context, documented: bool) -> None:
    """Print the settings in effect (files + environment) as YAML."""
    if documented:
        from dashpipe.config import documented_yaml

        click.echo(documented_yaml(), nl=False)
        return
    import yaml

    click.echo(yaml.safe_dump(_settings(ctx).model_dump(mode="json"), sort_keys=False))


def _register_optional() -> None:
    from dashpipe.cli.export import export_command
    from dashpipe.cli.gps import gps_command

    main.add_command(gps_command)
    main.add_command(export_command)


_register_optional()
