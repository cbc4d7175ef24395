"""Novatek ``freeGPS`` blocks inside MP4/MOV (Viofo, 2E, SilverStone, Vantrue and many OEMs).

Each second the camera writes a ``free`` box whose payload starts with ``GPS ``; ``moov``
usually holds a ``gps `` index (version, count, then offset/size pairs) pointing at them
inside ``mdat``. Offsets below are from the ``free`` type bytes ("freeGPS "):

- DEFAULT layout: hour, minute, second, year-2000, month, day as u32 LE at +44; status (A/V),
  N/S, E/W at +68; latitude, longitude (NMEA ddmm.mmmm as float32), speed (knots), course at +72.
- ALT layout (newer Viofo firmware): the same fields starting at +12 / +36 / +40.
- NMEA variant (Vantrue): an ASCII ``$xxRMC`` sentence inside the block.

The layout is chosen per block by plausibility (valid date and time, status A or V), so an
unknown variant is counted as skipped instead of yielding nonsense positions.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from dashpipe.gps.mp4 import Box, find, open_video, top_level
from dashpipe.gps.nmea import KNOTS_TO_MPS, NmeaDecoder
from dashpipe.gps.result import GpsReadResult, empty_result, why_empty
from dashpipe.types import GpsFix

MAGIC = b"freeGPS "
BLOCK_READ = 4096
RMC_TEXT = re.compile(rb"\$[A-Z]{2}RMC,[ -~]*?\*[0-9A-Fa-f]{2}")
CLOCK_JUMP_S = 60.0


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    datetime_at: int
    status_at: int
    values_at: int


LAYOUTS = (Layout("default", 44, 68, 72), Layout("alt", 12, 36, 40))


@dataclass(frozen=True, slots=True)
class Block:
    time: datetime
    active: bool
    lat: float
    lon: float
    speed_mps: float
    course_deg: float


def _nmea_deg(raw: float) -> float:
    deg = int(raw // 100)
    return deg + (raw - deg * 100) / 60.0


def decode_block(block: bytes, layout: Layout) -> Block | None:
    """One block with one layout; None when the bytes are not plausible for it."""
    end = layout.values_at + 16
    if len(block) < end:
        return None
    h, mi, s, y, mo, d = struct.unpack_from("<6I", block, layout.datetime_at)
    status, ns, ew = (chr(c) for c in block[layout.status_at : layout.status_at + 3])
    if status not in ("A", "V") or h > 23 or mi > 59 or s > 60:
        return None
    year = 2000 + y if y < 100 else y
    try:
        t = datetime(year, mo, d, h, mi, min(s, 59), tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        return None
    if not 2000 <= year <= 2099:
        return None
    lat_raw, lon_raw, knots, course = struct.unpack_from("<4f", block, layout.values_at)
    active = status == "A"
    if active:
        if ns not in ("N", "S") or ew not in ("E", "W"):
            return None
        lat, lon = _nmea_deg(lat_raw), _nmea_deg(lon_raw)
        if not (0.0 <= lat <= 90.0 and 0.0 <= lon <= 180.0) or knots < 0 or not 0.0 <= course <= 360.0:
            return None
        lat = -lat if ns == "S" else lat
        lon = -lon if ew == "W" else lon
    else:
        lat = lon = 0.0
    # float32 carries ~7 digits: cameras write speed and course with 2 decimals.
    return Block(t, active, lat, lon, round(knots, 2) * KNOTS_TO_MPS, round(course, 2))


def _index_offsets(f: BinaryIO, moov: Box) -> list[int]:
    """Block offsets from ``moov/gps `` (u32 version, u32 count, count x (u32 offset, u32 size))."""
    f.seek(moov.start)
    buf = f.read(moov.size)
    local = Box("moov", 0, moov.header, len(buf))
    gps = find(buf, local, "gps ")
    if gps is None:
        return []
    body = buf[gps.body : gps.end]
    if len(body) < 8:
        return []
    count = struct.unpack(">I", body[4:8])[0]
    count = min(count, (len(body) - 8) // 8)
    return [struct.unpack_from(">I", body, 8 + 8 * i)[0] for i in range(count)]


def find_blocks(f: BinaryIO, file_size: int) -> list[bytes]:
    """Raw freeGPS blocks (from the magic on) found through the index or as top-level boxes."""
    top = top_level(f, file_size)
    starts: list[int] = []
    moov = next((b for b in top if b.type == "moov"), None)
    if moov is not None:
        for off in _index_offsets(f, moov):
            f.seek(off + 4)
            if f.read(8) == MAGIC:
                starts.append(off + 4)
    if not starts:
        for box in top:
            if box.type != "free":
                continue
            f.seek(box.body)
            head = f.read(8)
            if head[:4] == b"GPS ":
                starts.append(box.start + 4)
            elif head == MAGIC:
                starts.append(box.body)
    blocks = []
    for m in starts:
        f.seek(m)
        blocks.append(f.read(BLOCK_READ))
    return blocks


def parse_blocks(blocks: list[bytes], path: str | None = None) -> GpsReadResult:
    fixes: list[GpsFix] = []
    no_fix = 0
    skipped = 0
    layouts: set[str] = set()
    void_times: list[datetime] = []
    jump: float | None = None
    nmea = NmeaDecoder()
    nmea_blocks = 0
    for raw in blocks:
        text = RMC_TEXT.search(raw[:BLOCK_READ])
        if text is not None:
            nmea_blocks += 1
            nmea.feed_line(text.group(0).decode("ascii"))
            continue
        got = next(((lay, b) for lay in LAYOUTS if (b := decode_block(raw, lay)) is not None), None)
        if got is None:
            skipped += 1
            continue
        layout, block = got
        layouts.add(layout.name)
        if not block.active:
            no_fix += 1
            void_times.append(block.time)
            continue
        if void_times and jump is None and not fixes:
            jump = (block.time - void_times[-1]).total_seconds()
        fixes.append(
            GpsFix(
                time=block.time, lat=block.lat, lon=block.lon, speed_mps=block.speed_mps, course_deg=block.course_deg
            )
        )
    notes: list[str] = []
    if nmea_blocks:
        sub = nmea.result(path, kind="freegps")
        fixes.extend(sub.fixes)
        no_fix += sub.no_fix
        skipped += sub.skipped
        notes.append(f"freegps: {nmea_blocks} blocks hold NMEA text")
    if layouts:
        notes.append(f"freegps: binary layout {', '.join(sorted(layouts))}")
    if skipped:
        notes.append(f"freegps: {skipped} blocks in an unknown layout were skipped")
    if jump is not None and abs(jump) > CLOCK_JUMP_S:
        notes.append(
            f"freegps: the clock jumped by {jump:+.0f} s when the first fix came: the no-fix blocks carry "
            "the camera clock and one of the two is not UTC"
        )
    empty = why_empty("freegps", len(fixes), no_fix, skipped)
    if empty:
        notes.append(empty)
    return GpsReadResult(
        kind="freegps",
        path=path,
        fixes=tuple(fixes),
        no_fix=no_fix,
        skipped=skipped,
        skip_reasons={"unknown layout": skipped} if skipped else {},
        notes=tuple(notes),
    )


def read_freegps(path: Path) -> GpsReadResult:
    """Embedded freeGPS of a video; kind "none" when it has no such blocks."""
    with open_video(path) as (f, size):
        blocks = find_blocks(f, size)
    if not blocks:
        return empty_result("none", str(path), "freegps: no freeGPS blocks")
    return parse_blocks(blocks, str(path))
