"""When did the video start, in UTC? And are the GPS dates what they claim to be?

Three clocks meet here. The GPS clock (UTC, trustworthy once the receiver has a fix, except
for old receivers that fold dates back by 1024 weeks after a GPS week rollover); the camera
clock (usually local time, often off by the time-zone offset or drifting: it stamps file
names and, for many dashcams, the container's creation time); and the container's own
``creation_time``, which the MP4 format defines as UTC.

The start of a video is taken, in order, from: an explicit setting; a GPS stream that shares
the video's sample clock (GoPro GPMF); the file name (camera clock) when the camera clock
offset is known (from the setting or measured by the GPS source, e.g. BlackVue's
``[unix_ms]`` stamps); the container creation time; and last the file name taken as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dashpipe.config import GpsSettings
from dashpipe.gps.result import GpsReadResult
from dashpipe.types import GpsFix

UTC = timezone.utc
GPS_WEEK_ROLLOVER = timedelta(weeks=1024)
ROLLOVER_TOLERANCE = timedelta(days=183)  # how far from the reference a corrected date may still be


def as_utc(t: datetime) -> datetime:
    """Aware UTC; a naive time is taken as UTC (what MP4 and GPX mean when they omit a zone)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_iso_utc(text: str) -> datetime:
    """ISO-8601 -> aware UTC ('Z' accepted; no zone means UTC)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(f"not an ISO-8601 time: {text!r} (expected e.g. 2024-05-01T12:00:00Z)") from None


# ---------------------------------------------------------------- GPS week rollover


def rollover_weeks(t: datetime, reference: datetime) -> int:
    """Multiple of 1024 weeks that brings ``t`` next to ``reference`` (0 when it is not a rollover).

    A receiver whose firmware predates a rollover (1999-08-22, 2019-04-07) counts weeks from
    the previous epoch and reports dates 19.6 years early. Only whole multiples of 1024 weeks
    that land within ~6 months of the reference are trusted: a camera clock may be wrong by
    hours or days, not by the same 19.6 years.
    """
    delta = as_utc(reference) - as_utc(t)
    k = round(delta / GPS_WEEK_ROLLOVER)
    if k == 0:
        return 0
    if abs(delta - k * GPS_WEEK_ROLLOVER) > ROLLOVER_TOLERANCE:
        return 0
    return 1024 * k


def correct_rollover(fixes: Sequence[GpsFix], reference: datetime | None) -> tuple[tuple[GpsFix, ...], int]:
    """Move rolled-over dates by their 1024-week multiple; returns (fixes, fixes moved).

    Decided fix by fix: a receiver restarting across a rollover writes both eras in one log.
    """
    if not fixes or reference is None:
        return tuple(fixes), 0
    out: list[GpsFix] = []
    moved = 0
    for f in fixes:
        weeks = rollover_weeks(f.time, reference)
        if weeks:
            f = f.model_copy(update={"time": f.time + timedelta(weeks=weeks)})
            moved += 1
        out.append(f)
    return tuple(out), moved


def apply_rollover(result: GpsReadResult, reference: datetime | None) -> GpsReadResult:
    fixes, moved = correct_rollover(result.fixes, reference)
    if moved == 0 or reference is None:
        return result
    weeks = next(rollover_weeks(a.time, reference) for a in result.fixes if rollover_weeks(a.time, reference))
    note = (
        f"{result.kind}: {moved} fixes moved by {weeks} weeks (GPS week rollover: the receiver reported "
        f"{min(f.time for f in result.fixes):%Y-%m-%d}, the video is from {as_utc(reference):%Y-%m-%d})"
    )
    return result.model_copy(update={"fixes": fixes, "rollover_weeks": weeks, "notes": (*result.notes, note)})


# ---------------------------------------------------------------- file names


@dataclass(frozen=True, slots=True)
class NameTime:
    """A time read from a file name: camera clock, no zone."""

    local: datetime  # naive
    brand: str


def _y4(m: re.Match[str]) -> datetime:
    return datetime(int(m["Y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]))


def _y2(m: re.Match[str]) -> datetime:
    return datetime(2000 + int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]))


_D = r"(?P<mo>\d{2})(?P<d>\d{2})"
_T = r"(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})"
_NB = r"(?<![0-9])"  # not preceded by a digit
_NA = r"(?![0-9])"  # not followed by a digit

# Ordered: the most specific patterns first, the generic ones last.
NAME_PATTERNS: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], datetime]], ...] = (
    # Viofo / Novatek family: 2021_1013_183759_050.MP4, 2024_0101_120000_0001F.MP4
    ("viofo", re.compile(_NB + r"(?P<Y>\d{4})_" + _D + "_" + _T + _NA), _y4),
    # BlackVue: 20190101_120000_NF.mp4 (N/E/P/M mode letter, F/R/I channel)
    ("blackvue", re.compile(_NB + r"(?P<Y>\d{4})" + _D + "_" + _T + r"_[A-Z]{1,3}(?![A-Za-z0-9])"), _y4),
    # 70mai: NO20260712-195504-000000F.MP4
    ("70mai", re.compile(r"^(?:NO|EV|PA|EM)" + r"(?P<Y>\d{4})" + _D + "-" + _T + _NA, re.I), _y4),
    # Mio MiVue: FILE260819-071804F.MP4
    ("mivue", re.compile(r"^FILE(?P<y>\d{2})" + _D + "-" + _T + _NA, re.I), _y2),
    # Nextbase: 190101_120000_001_FH.MP4
    ("nextbase", re.compile(r"^(?P<y>\d{2})" + _D + "_" + _T + r"_\d{3}", re.I), _y2),
    # Generic 4-digit-year stamps: 2024-01-01_12-00-00, 20240101-120000, 20240101120000, 2024-01-01T12:00:00
    (
        "generic",
        re.compile(
            _NB + r"(?P<Y>(?:19|20)\d{2})[-_.]?(?P<mo>\d{2})[-_.]?(?P<d>\d{2})[-_T .]?"
            r"(?P<h>\d{2})[-_:.h]?(?P<mi>\d{2})[-_:.m]?(?P<s>\d{2})" + _NA
        ),
        _y4,
    ),
)

# Brands whose file names carry no time at all (a counter): recognised so the reason is clear.
COUNTER_NAMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("garmin", re.compile(r"^GRMN\d+$", re.I)),
    ("gopro", re.compile(r"^G[HXOPS][0-9A-Z]{2}\d{4}$|^GOPR\d{4}$", re.I)),
)


def name_time(path: Path | str) -> NameTime | None:
    """The camera-clock time a dashcam wrote into the file name, or None."""
    stem = Path(path).stem
    for brand, pattern, build in NAME_PATTERNS:
        for m in pattern.finditer(stem):
            try:
                t = build(m)
            except ValueError:  # 13th month, 25th hour ...: not a time stamp
                continue
            if 2000 <= t.year <= 2099:
                return NameTime(local=t, brand=brand)
    return None


def counter_brand(path: Path | str) -> str | None:
    stem = Path(path).stem
    return next((brand for brand, pattern in COUNTER_NAMES if pattern.match(stem)), None)


# ---------------------------------------------------------------- video start


def camera_offset(cfg: GpsSettings, source: GpsReadResult | None) -> tuple[float | None, str]:
    """Camera clock minus UTC: measured by the GPS source when it can, else the setting."""
    if source is not None and source.clock_offset_s is not None:
        return source.clock_offset_s, f"measured by the {source.kind} log"
    if cfg.camera_utc_offset_s is not None:
        return cfg.camera_utc_offset_s, "gps.camera_utc_offset_s"
    return None, ""


def video_start(
    path: Path,
    creation_time: datetime | None,
    cfg: GpsSettings,
    source: GpsReadResult | None = None,
) -> tuple[datetime | None, str]:
    """UTC of the first frame and how it was found (a short phrase for reports and logs)."""
    if cfg.video_start:
        return parse_iso_utc(cfg.video_start), "gps.video_start setting"
    if source is not None and source.start_utc is not None:
        return as_utc(source.start_utc), f"{source.kind} stream time stamps"
    named = name_time(path)
    offset, offset_from = camera_offset(cfg, source)
    if named is not None and offset is not None:
        start = named.local.replace(tzinfo=UTC) - timedelta(seconds=offset)
        return start, f"{named.brand} file name (camera clock) minus {offset:g} s ({offset_from})"
    if creation_time is not None:
        return as_utc(creation_time), "container creation time"
    if named is not None:
        return named.local.replace(tzinfo=UTC), f"{named.brand} file name, camera clock taken as UTC"
    brand = counter_brand(path)
    if brand is not None:
        return None, f"{brand} file names carry no time and the container has none"
    return None, "no time: no setting, GPS stream, creation time or dated file name"
