"""Tables printed by the CLI."""

from __future__ import annotations

import fnmatch
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashpipe.config import Settings


def _console() -> Console:
    """A terminal's own width; piped or redirected output is not cut at 80 columns."""
    import sys

    return Console() if sys.stdout.isatty() else Console(width=220)


def _fmt(value: float | None, digits: int = 5) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_plates(entries: list[dict[str, Any]]) -> None:
    console = _console()
    for e in entries:
        if e["status"] != "done":
            console.print(f"[red]FAILED[/red] {e['source']}: {e['error']}")
            continue
        table = Table(title=f"{e['source']}  ({e['frames_selected']}/{e['frames_total']} frames kept)")
        for col in ("plate", "conf", "first s", "last s", "frames", "lat", "lon", "motion", "best crop"):
            table.add_column(col)
        for p in e["plates"]:
            table.add_row(
                p["text"],
                f"{p['confidence']:.2f}",
                f"{p['first_seen_s']:.1f}",
                f"{p['last_seen_s']:.1f}",
                str(p["frames"]),
                _fmt(p["lat"]),
                _fmt(p["lon"]),
                str(p.get("motion") or "-"),
                str(p["best_crop"] or "-"),
            )
        console.print(table)
        for a in e.get("alerts", []):
            console.print(f"[bold yellow]WATCHLIST[/bold yellow] {a['plate']} matches {a['matched']} ({a['kind']})")


def print_status(settings: Settings, video_id: str | None, limit: int) -> None:
    from dashpipe.db import SightingRow, VideoRow, connect

    engine = connect(settings.database_url)
    console = _console()
    with Session(engine) as session:
        if video_id:
            rows = session.scalars(select(SightingRow).where(SightingRow.video_id == video_id)).all()
            table = Table(title=f"plates of {video_id}")
            for col in ("plate", "conf", "first s", "frames", "lat", "lon"):
                table.add_column(col)
            for r in rows:
                table.add_row(
                    r.plate, f"{r.confidence:.2f}", f"{r.first_seen_s:.1f}", str(r.frames), _fmt(r.lat), _fmt(r.lon)
                )
            console.print(table)
            return
        videos = session.scalars(select(VideoRow).order_by(VideoRow.processed_at.desc()).limit(limit)).all()
        table = Table(title="videos")
        for col in ("video id", "status", "source", "frames kept", "plates", "error"):
            table.add_column(col)
        for v in videos:
            n = len(session.scalars(select(SightingRow.id).where(SightingRow.video_id == v.video_id)).all())
            table.add_row(
                v.video_id, v.status, v.source, f"{v.frames_selected or 0}/{v.frames_total or 0}", str(n), v.error or ""
            )
        console.print(table)


def print_search(settings: Settings, pattern: str, distance: int) -> None:
    from dashpipe.db import SightingRow, connect
    from dashpipe.plates.text import edit_distance, normalize

    engine = connect(settings.database_url)
    wanted = pattern.upper()
    plain = normalize(wanted.replace("*", "").replace("?", ""))
    table = Table(title=f"sightings matching {pattern}")
    for col in ("plate", "conf", "seen at (UTC)", "lat", "lon", "video", "best crop"):
        table.add_column(col)
    with Session(engine) as session:
        for r in session.scalars(select(SightingRow).order_by(SightingRow.first_seen_at)).all():
            hit = fnmatch.fnmatchcase(r.plate, wanted)
            if not hit and distance > 0 and "*" not in wanted and "?" not in wanted:
                hit = edit_distance(r.plate, plain) <= distance
            if hit:
                when = r.first_seen_at.isoformat() if r.first_seen_at else f"+{r.first_seen_s:.1f}s"
                table.add_row(
                    r.plate, f"{r.confidence:.2f}", when, _fmt(r.lat), _fmt(r.lon), r.video_id, r.best_crop or "-"
                )
    _console().print(table)
