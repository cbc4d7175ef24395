"""BlackVue ``.gps`` sidecars: NMEA lines prefixed with ``[unix_ms]``.

The prefix is the camera clock when the line was written, i.e. local time written as if it
were UTC, plus the firmware's write delay; the RMC sentence carries the true UTC. Positions
are timed by RMC/GGA (UTC) and the prefix is used for one thing only: measuring the camera
clock offset, which turns the file name's camera-clock start into UTC.

The offset is the smallest (prefix - latest epoch written with it) over the file: the write
delay is never negative, so the lower envelope is the closest estimate of the clock offset.
When it lies within a few seconds of a whole quarter hour (every time zone is one) it is
taken to be that time-zone offset and the remainder to be write delay.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dashpipe.gps.nmea import NmeaDecoder, read_text
from dashpipe.gps.result import GpsReadResult
from dashpipe.gps.timing import rollover_weeks

PREFIX = re.compile(r"^\s*\[(\d{10,16})\]")
QUARTER_HOUR_S = 900.0
SNAP_TOLERANCE_S = 5.0


def looks_like_blackvue(text: str) -> bool:
    head = text[:4096]
    return bool(re.search(r"^\s*\[\d{10,16}\]\s*\$", head, re.M))


def snap_offset(raw_s: float) -> float:
    """A measured camera offset -> the time-zone offset it stands for, when it is that close.

    >>> snap_offset(3601.37), snap_offset(-1799.0), snap_offset(47.0)
    (3600.0, -1800.0, 47.0)
    """
    zone = round(raw_s / QUARTER_HOUR_S) * QUARTER_HOUR_S
    return zone if abs(raw_s - zone) <= SNAP_TOLERANCE_S else round(raw_s, 3)


def _decode(lines: list[str], trust_bad_checksums: bool) -> tuple[NmeaDecoder, list[tuple[float, int]]]:
    decoder = NmeaDecoder(trust_bad_checksums=trust_bad_checksums)
    stamped: list[tuple[float, int]] = []  # (camera clock s, id of a fix epoch written then)
    for line in lines:
        m = PREFIX.match(line)
        if m is None:
            decoder.feed_line(line)
            continue
        cam_s = int(m.group(1)) / 1000.0
        for _sentence, epoch in decoder.feed_line(line[m.end() :]):
            if epoch is not None and epoch.lat is not None:  # only a fix has a trustworthy time
                stamped.append((cam_s, id(epoch)))
    return decoder, stamped


def parse_blackvue_text(text: str, path: str | None = None) -> GpsReadResult:
    lines = text.splitlines()
    decoder, stamped = _decode(lines, trust_bad_checksums=False)
    if decoder.checksums_look_edited():
        decoder, stamped = _decode(lines, trust_bad_checksums=True)
    times, _ = decoder.epoch_times()
    base = decoder.result(path, kind="blackvue")
    notes = list(base.notes)
    fixes = base.fixes
    offsets = [cam - times[eid].timestamp() for cam, eid in stamped if eid in times]
    offset: float | None = None
    weeks = 0
    if offsets:
        # Latest epoch per prefix: the smallest difference of each block bounds the offset.
        raw = min(offsets)
        weeks = rollover_weeks(datetime.fromtimestamp(0, timezone.utc), datetime.fromtimestamp(raw, timezone.utc))
        if weeks:
            shift = timedelta(weeks=weeks)
            fixes = tuple(f.model_copy(update={"time": f.time + shift}) for f in fixes)
            raw -= shift.total_seconds()
            notes.append(f"blackvue: dates moved by {weeks} weeks (GPS week rollover, per the camera clock)")
        offset = snap_offset(raw)
        notes.append(
            f"blackvue: camera clock is {offset:+g} s from UTC (measured {raw:+.3f} s from the [unix_ms] stamps)"
        )
    else:
        notes.append("blackvue: no dated fix to measure the camera clock against")
    return base.model_copy(
        update={"fixes": fixes, "clock_offset_s": offset, "rollover_weeks": weeks, "notes": tuple(notes)}
    )


def read_blackvue(path: Path) -> GpsReadResult:
    return parse_blackvue_text(read_text(path), str(path))
