"""Just enough ISO-BMFF (MP4/MOV) reading to find telemetry: boxes, tracks and their samples.

No video decoding and no third-party parser: GPS lives in small places (a metadata track's
samples, ``free`` boxes, a ``gps `` index in ``moov``) and reading them needs box headers,
the sample tables and a few seeks. Damaged files (truncated, sizes pointing past the end)
stop the walk where the damage is instead of raising.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO

CONTAINERS = frozenset({"moov", "trak", "mdia", "minf", "stbl", "udta", "edts", "dinf"})
MP4_EPOCH = datetime(1904, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class Box:
    type: str
    start: int  # offset of the size field
    header: int  # 8, or 16 with a 64-bit size
    size: int

    @property
    def body(self) -> int:
        return self.start + self.header

    @property
    def end(self) -> int:
        return self.start + self.size


def iter_boxes(buf: bytes | BinaryIO, start: int, end: int) -> Iterator[Box]:
    """Boxes laid end to end in [start, end) of a buffer or an open file."""
    pos = start
    while pos + 8 <= end:
        head = _read(buf, pos, 16)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1:
            if len(head) < 16:
                return
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            # A size running past the end: keep what fits (a truncated recording), then stop.
            if size >= header:
                yield Box(kind.decode("latin-1"), pos, header, end - pos)
            return
        yield Box(kind.decode("latin-1"), pos, header, size)
        pos += size


def _read(buf: bytes | BinaryIO, pos: int, n: int) -> bytes:
    if isinstance(buf, bytes):
        return buf[pos : pos + n]
    buf.seek(pos)
    return buf.read(n)


def is_mp4(head: bytes) -> bool:
    """ISO-BMFF files start with a box whose type is one of a few well-known ones."""
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def top_level(f: BinaryIO, file_size: int) -> list[Box]:
    return list(iter_boxes(f, 0, file_size))


def children(buf: bytes, box: Box) -> list[Box]:
    return list(iter_boxes(buf, box.body, box.end))


def find(buf: bytes, box: Box, kind: str) -> Box | None:
    return next((b for b in iter_boxes(buf, box.body, box.end) if b.type == kind), None)


@dataclass
class Track:
    handler: str  # vide, soun, meta, text, sbtl ...
    format: str  # first sample entry: avc1, gpmd, tx3g, ...
    timescale: int
    offsets: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    times_s: list[float] = field(default_factory=list)  # media time of each sample
    durations_s: list[float] = field(default_factory=list)

    def samples(self, f: BinaryIO) -> Iterator[tuple[float, float, bytes]]:
        """(media time s, duration s, payload) of every sample."""
        for off, size, t, d in zip(self.offsets, self.sizes, self.times_s, self.durations_s):
            f.seek(off)
            data = f.read(size)
            if len(data) < size:
                return  # truncated file: the rest is gone
            yield t, d, data


@dataclass
class Movie:
    moov: bytes
    creation_time: datetime | None
    tracks: list[Track]
    top: list[Box]


def read_movie(f: BinaryIO, file_size: int) -> Movie | None:
    """The ``moov`` of an MP4/MOV with its tracks' sample tables, or None when there is none."""
    top = top_level(f, file_size)
    moov_box = next((b for b in top if b.type == "moov"), None)
    if moov_box is None:
        return None
    f.seek(moov_box.start)
    moov = f.read(moov_box.size)
    local = Box("moov", 0, moov_box.header, len(moov))
    tracks = []
    for trak in iter_boxes(moov, local.body, local.end):
        if trak.type == "trak":
            t = _track(moov, trak, file_size)
            if t is not None:
                tracks.append(t)
    return Movie(moov=moov, creation_time=_mvhd_time(moov, local), tracks=tracks, top=top)


def _mvhd_time(moov: bytes, moov_box: Box) -> datetime | None:
    mvhd = find(moov, moov_box, "mvhd")
    if mvhd is None:
        return None
    body = moov[mvhd.body : mvhd.end]
    if len(body) < 12:
        return None
    version = body[0]
    wide = version == 1 and len(body) >= 20
    secs = struct.unpack(">Q", body[4:12])[0] if wide else struct.unpack(">I", body[4:8])[0]
    if secs == 0:
        return None
    return MP4_EPOCH + timedelta(seconds=secs)


def _track(moov: bytes, trak: Box, file_size: int) -> Track | None:
    mdia = find(moov, trak, "mdia")
    if mdia is None:
        return None
    hdlr, mdhd, minf = find(moov, mdia, "hdlr"), find(moov, mdia, "mdhd"), find(moov, mdia, "minf")
    stbl = find(moov, minf, "stbl") if minf else None
    if hdlr is None or mdhd is None or stbl is None:
        return None
    handler = moov[hdlr.body + 8 : hdlr.body + 12].decode("latin-1")
    md = moov[mdhd.body : mdhd.end]
    timescale = struct.unpack(">I", md[20:24] if md[0] == 1 else md[12:16])[0] or 1
    tables = {b.type: moov[b.body : b.end] for b in iter_boxes(moov, stbl.body, stbl.end)}
    stsd = tables.get("stsd", b"")
    fmt = stsd[12:16].decode("latin-1") if len(stsd) >= 16 else ""
    track = Track(handler=handler, format=fmt, timescale=timescale)
    with contextlib.suppress(struct.error, IndexError, ValueError):
        _fill_samples(track, tables, file_size)  # broken sample tables: the track is listed, with no samples
    return track


def _fill_samples(track: Track, tables: dict[str, bytes], file_size: int) -> None:
    """Sample offsets, sizes and times from stsz/stco/co64/stsc/stts.

    Every count is capped by what its table and the file can hold: a damaged table claiming
    four billion samples must cost nothing, not all the memory of the machine.
    """
    stsz = tables.get("stsz")
    if stsz is None:
        return
    fixed, count = struct.unpack(">II", stsz[4:12])
    if fixed:
        count = min(count, file_size // fixed)
        sizes = [fixed] * count
    else:
        count = min(count, (len(stsz) - 12) // 4)
        sizes = list(struct.unpack(f">{count}I", stsz[12 : 12 + 4 * count]))
    if "co64" in tables:
        co = tables["co64"]
        n = min(struct.unpack(">I", co[4:8])[0], (len(co) - 8) // 8)
        chunks = list(struct.unpack(f">{n}Q", co[8 : 8 + 8 * n]))
    else:
        co = tables.get("stco", b"\0" * 8)
        n = min(struct.unpack(">I", co[4:8])[0], (len(co) - 8) // 4)
        chunks = list(struct.unpack(f">{n}I", co[8 : 8 + 4 * n]))
    stsc = tables.get("stsc", b"\0" * 8)
    n_stsc = min(struct.unpack(">I", stsc[4:8])[0], (len(stsc) - 8) // 12)
    runs = [struct.unpack(">III", stsc[8 + 12 * i : 20 + 12 * i]) for i in range(n_stsc)]
    offsets: list[int] = []
    sample = 0
    for r, (first_chunk, per_chunk, _desc) in enumerate(runs):
        last_chunk = min(runs[r + 1][0] - 1 if r + 1 < len(runs) else len(chunks), len(chunks))
        for chunk in range(max(first_chunk, 1), last_chunk + 1):
            pos = chunks[chunk - 1]
            for _ in range(min(per_chunk, count - sample)):
                offsets.append(pos)
                pos += sizes[sample]
                sample += 1
            if sample >= count:
                break
    stts = tables.get("stts", b"\0" * 8)
    n_stts = min(struct.unpack(">I", stts[4:8])[0], (len(stts) - 8) // 8)
    times: list[float] = []
    durations: list[float] = []
    t = 0
    for i in range(n_stts):
        n_s, delta = struct.unpack(">II", stts[8 + 8 * i : 16 + 8 * i])
        for _ in range(min(n_s, count - len(times))):
            times.append(t / track.timescale)
            durations.append(delta / track.timescale)
            t += delta
    n_ok = min(len(offsets), len(times), count)
    keep = [i for i in range(n_ok) if offsets[i] + sizes[i] <= file_size]
    track.offsets = [offsets[i] for i in keep]
    track.sizes = [sizes[i] for i in keep]
    track.times_s = [times[i] for i in keep]
    track.durations_s = [durations[i] for i in keep]


def creation_time(path: Path) -> datetime | None:
    """``mvhd`` creation time (UTC by the format; many dashcams write local time there)."""
    try:
        with path.open("rb") as f:
            movie = read_movie(f, path.stat().st_size)
    except OSError:
        return None
    return movie.creation_time if movie else None


@contextlib.contextmanager
def open_video(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """The open file and its size; a missing video is a FileNotFoundError that names it."""
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"video not found: {path}") from None
    with f:
        yield f, size
