"""GoPro GPMF telemetry (the ``gpmd`` metadata track of GoPro MP4s) -> ``GpsFix``.

GPMF is a KLV stream: 4-byte key, 1-byte type, 1-byte struct size, 2-byte repeat count,
data padded to 4 bytes; type 0 nests. In each payload a ``STRM`` carries ``GPS5`` (HERO5 to
HERO10: lat, lon, alt, 2D speed, 3D speed as scaled int32) with sticky ``SCAL`` (divisors),
``GPSU`` (UTC of the first sample), ``GPSF`` (fix: 0 none, 2 2D, 3 3D) and ``GPSP`` (DOP x100),
or ``GPS9`` (HERO11+: the same plus days since 2000, seconds of the day, DOP and fix per
sample).

Samples inside a payload are spread evenly over the payload's duration. The payload's media
time ties the GPS clock to the video's: the first frame's UTC is GPSU minus the payload's
media time, which is exact where a file-name or container time is a guess.

GPSF=0 means no fix and the sample is dropped, whatever its coordinates say: on the HERO8
sample that writes 0 on every sample (DOP 99.99) they jump by 6 degrees a second with an
altitude of 9,500 km.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dashpipe.gps.mp4 import open_video, read_movie
from dashpipe.gps.result import GpsReadResult, empty_result, why_empty
from dashpipe.types import GpsFix

UTC = timezone.utc
GPS9_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

_TYPES: dict[str, tuple[str, int]] = {
    "b": ("b", 1), "B": ("B", 1), "c": ("c", 1), "d": ("d", 8), "f": ("f", 4), "F": ("4s", 4),
    "j": ("q", 8), "J": ("Q", 8), "l": ("i", 4), "L": ("I", 4), "q": ("i", 4), "Q": ("q", 8),
    "s": ("h", 2), "S": ("H", 2), "U": ("16s", 16), "G": ("16s", 16),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Klv:
    key: str
    type: str  # "\x00" for nested
    size: int  # bytes per struct
    repeat: int
    data: bytes


def iter_klv(buf: bytes, start: int = 0, end: int | None = None) -> Iterator[Klv]:
    end = len(buf) if end is None else end
    pos = start
    while pos + 8 <= end:
        key = buf[pos : pos + 4].decode("latin-1")
        kind = chr(buf[pos + 4])
        size = buf[pos + 5]
        repeat = struct.unpack(">H", buf[pos + 6 : pos + 8])[0]
        length = size * repeat
        if pos + 8 + length > end or key == "\x00\x00\x00\x00":
            return
        yield Klv(key, kind, size, repeat, buf[pos + 8 : pos + 8 + length])
        pos += 8 + ((length + 3) & ~3)


def values(k: Klv, kind: str | None = None) -> list[tuple[Any, ...]]:
    """Decode a KLV's data: one tuple per repeat (struct of ``size`` bytes, elements of the type)."""
    t = kind or k.type
    if t == "c":
        return [(k.data.rstrip(b"\0").decode("latin-1"),)]
    fmt, width = _TYPES.get(t, ("", 0))
    if not fmt or k.size == 0 or width == 0:
        return []
    per = k.size // width
    unpack = struct.Struct(">" + fmt * per).unpack_from
    return [unpack(k.data, i * k.size) for i in range(k.repeat)]


def _complex(k: Klv, type_string: str) -> list[tuple[float, ...]]:
    """A '?' KLV described by a TYPE string such as 'lllllllSS' (GPS9)."""
    fmt = ">" + "".join(_TYPES[c][0] for c in type_string)
    s = struct.Struct(fmt)
    if s.size != k.size:
        return []
    return [tuple(float(v) for v in s.unpack_from(k.data, i * k.size)) for i in range(k.repeat)]


def _gpsu(raw: bytes) -> datetime | None:
    text = raw.decode("latin-1").strip("\0 ")
    try:
        t = datetime.strptime(text[:12], "%y%m%d%H%M%S")
        frac = float(text[12:]) if len(text) > 12 else 0.0
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) + timedelta(seconds=frac)


@dataclass
class _Batch:
    """The GPS5 samples of one payload: GPSU dates the first, the next payload's GPSU bounds the last."""

    gpsu: datetime
    t_media: float
    duration_s: float
    gpsf: int | None
    dop: float | None
    rows: list[tuple[float, float, float, float]]  # lat, lon, alt, 2D speed


@dataclass
class _Counts:
    fixes: list[GpsFix]
    batches: list[_Batch]
    no_fix: int = 0
    skipped: int = 0


def _stream(strm: bytes, t_media: float, dur: float, out: _Counts) -> datetime | None:
    """One STRM: collect its GPS5 batch, append its GPS9 fixes; returns the UTC of its first GPS9 fix."""
    scal: list[float] = []
    gpsu: datetime | None = None
    gpsf: int | None = None
    dop: float | None = None
    type_string = ""
    first_utc: datetime | None = None
    for k in iter_klv(strm):
        if k.key == "SCAL":
            scal = [float(x) for row in values(k) for x in row]
        elif k.key == "GPSU":
            gpsu = _gpsu(k.data)
        elif k.key == "GPSF":
            got = values(k)
            gpsf = int(got[0][0]) if got else None
        elif k.key == "GPSP":
            got = values(k)
            dop = float(got[0][0]) / 100.0 if got else None
        elif k.key == "TYPE":
            type_string = k.data.rstrip(b"\0").decode("latin-1")
        elif k.key == "GPS5":
            rows = values(k)
            if gpsu is None or len(scal) < 5 or not rows:
                out.skipped += len(rows) or 1
                continue
            decoded = [(row[0] / scal[0], row[1] / scal[1], row[2] / scal[2], row[3] / scal[3]) for row in rows]
            out.batches.append(_Batch(gpsu, t_media, dur, gpsf, dop, decoded))
        elif k.key == "GPS9":
            rows9 = _complex(k, type_string or "lllllllSS")
            if len(scal) < 9 or not rows9:
                out.skipped += k.repeat or 1
                continue
            for row in rows9:
                lat, lon, alt, v2d, _v3d, days, secs, dop9, fix9 = (row[j] / scal[j] for j in range(9))
                if not _usable(int(fix9), lat, lon):
                    out.no_fix += 1
                    continue
                t = GPS9_EPOCH + timedelta(days=days, seconds=secs)
                first_utc = first_utc or t
                out.fixes.append(
                    GpsFix(time=t, lat=lat, lon=lon, alt_m=alt, speed_mps=v2d, fix_quality=int(fix9), hdop=dop9)
                )
    return first_utc


def _usable(gpsf: int | None, lat: float, lon: float) -> bool:
    """A 2D/3D fix (or no GPSF at all) with coordinates on the globe and not the (0, 0) filler."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or (lat == 0.0 and lon == 0.0):
        return False
    return gpsf is None or gpsf >= 2


def _gps5_fixes(out: _Counts) -> datetime | None:
    """Time the GPS5 samples; returns the video's first-frame UTC from the first batch with a fix.

    Samples are spread evenly from their payload's GPSU to the next payload's GPSU (the GPS
    clock), or over the payload's duration for the last one or when the next GPSU is odd.
    """
    start: datetime | None = None
    for k, b in enumerate(out.batches):
        span = b.duration_s
        if k + 1 < len(out.batches):
            gap = (out.batches[k + 1].gpsu - b.gpsu).total_seconds()
            if 0 < gap < 2 * b.duration_s:
                span = gap
        n = len(b.rows)
        kept = 0
        for i, (lat, lon, alt, v2d) in enumerate(b.rows):
            if not _usable(b.gpsf, lat, lon):
                out.no_fix += 1
                continue
            t = b.gpsu + timedelta(seconds=i * span / n)
            out.fixes.append(GpsFix(time=t, lat=lat, lon=lon, alt_m=alt, speed_mps=v2d, fix_quality=b.gpsf, hdop=b.dop))
            kept += 1
        if kept and start is None:  # GPSU is only the GPS clock once the receiver has a fix
            start = b.gpsu - timedelta(seconds=b.t_media)
    return start


def parse_gpmf_payloads(payloads: list[tuple[float, float, bytes]], path: str | None = None) -> GpsReadResult:
    """(media time s, duration s, GPMF bytes) per sample -> fixes and the video start in UTC."""
    out = _Counts(fixes=[], batches=[])
    start: datetime | None = None
    for t_media, dur, data in payloads:
        for devc in iter_klv(data):
            if devc.key != "DEVC":
                continue
            for strm in iter_klv(devc.data):
                if strm.key == "STRM":
                    first = _stream(strm.data, t_media, dur, out)
                    if first is not None and start is None:
                        start = first - timedelta(seconds=t_media)
    start = _gps5_fixes(out) or start
    notes: list[str] = []
    if not payloads:
        notes.append("gopro: the gpmd track has no samples")
    empty = why_empty("gopro", len(out.fixes), out.no_fix, out.skipped)
    if empty and payloads:
        notes.append(empty if out.no_fix or out.skipped else "gopro: no GPS5/GPS9 stream in the telemetry")
    return GpsReadResult(
        kind="gopro",
        path=path,
        fixes=tuple(out.fixes),
        no_fix=out.no_fix,
        skipped=out.skipped,
        start_utc=start,
        notes=tuple(notes),
    )


def read_gopro(path: Path) -> GpsReadResult:
    """GPS of a GoPro MP4; kind "none" when the file has no gpmd track."""
    with open_video(path) as (f, size):
        movie = read_movie(f, size)
        tracks = [t for t in (movie.tracks if movie else []) if t.format == "gpmd"]
        if not tracks:
            return empty_result("none", str(path), "gopro: no GPMF (gpmd) track")
        payloads = list(tracks[0].samples(f))
    return parse_gpmf_payloads(payloads, str(path))
