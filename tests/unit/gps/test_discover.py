"""Finding a video's GPS (explicit, embedded, sidecar by name) and the assembled context."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashpipe.config import GpsSettings
from dashpipe.gps.align import load_gps_context
from dashpipe.gps.discover import find_gps, read_gps, sidecar_candidates
from dashpipe.gps.freegps import read_freegps

from .conftest import sentence

UTC = timezone.utc


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def freegps_block(
    t: datetime, lat_raw: float, lon_raw: float, knots: float, course: float, status: bytes = b"A"
) -> bytes:
    """A Novatek DEFAULT-layout block: the 'free' box whose payload starts with 'GPS '."""
    body = bytearray(256)
    body[0:4] = b"GPS "
    struct.pack_into("<6I", body, 40, t.hour, t.minute, t.second, t.year - 2000, t.month, t.day)
    body[64:67] = status + b"NW"
    struct.pack_into("<4f", body, 68, lat_raw, lon_raw, knots, course)
    return box(b"free", bytes(body))


def novatek_mp4(path: Path, start: datetime, n: int = 3, with_index: bool = True) -> Path:
    """ftyp + mdat holding n freeGPS blocks + moov with a 'gps ' index pointing at them."""
    ftyp = box(b"ftyp", b"isom\0\0\2\0isomavc1mp41")
    blocks = [
        freegps_block(start + timedelta(seconds=i), 5130.0 + i * 0.01, 7.5 + i * 0.01, 20.0, 270.0) for i in range(n)
    ]
    mdat_payload = b"".join(blocks)
    first = len(ftyp) + 8
    offsets, at = [], first
    for b in blocks:
        offsets.append((at, len(b)))
        at += len(b)
    index = struct.pack(">II", 0x101, n) + b"".join(struct.pack(">II", o, s) for o, s in offsets)
    moov = box(b"moov", box(b"gps ", index) if with_index else b"")
    path.write_bytes(ftyp + box(b"mdat", mdat_payload) + moov)
    return path


def nmea_log(path: Path, start: datetime, n: int = 5) -> Path:
    lines = []
    for i in range(n):
        t = start + timedelta(seconds=i)
        lines.append(sentence(f"GPRMC,{t:%H%M%S}.00,A,5200.{i:04d},N,00400.0000,E,10.0,90.0,{t:%d%m%y},,"))
    path.write_text("\n".join(lines) + "\n")
    return path


T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_embedded_freegps_through_the_moov_index(tmp_path: Path) -> None:
    r = read_freegps(novatek_mp4(tmp_path / "a.mp4", T0))
    assert len(r.fixes) == 3
    assert r.fixes[0].time == T0
    assert r.fixes[0].lat == pytest.approx(51.5) and r.fixes[0].lon == pytest.approx(-0.125)


def test_embedded_freegps_without_index_as_top_level_boxes(tmp_path: Path) -> None:
    ftyp = box(b"ftyp", b"isom\0\0\2\0isom")
    blocks = b"".join(freegps_block(T0 + timedelta(seconds=i), 5130.0, 7.5, 0.0, 0.0) for i in range(2))
    p = tmp_path / "b.mp4"
    p.write_bytes(ftyp + blocks + box(b"moov", b""))
    assert len(read_freegps(p).fixes) == 2


def test_void_blocks_are_no_fix(tmp_path: Path) -> None:
    p = tmp_path / "c.mp4"
    p.write_bytes(box(b"ftyp", b"isom") + freegps_block(T0, 0.0, 0.0, 0.0, 0.0, status=b"V") + box(b"moov", b""))
    r = read_freegps(p)
    assert r.fixes == () and r.no_fix == 1


def test_truncated_video_does_not_raise(tmp_path: Path) -> None:
    full = novatek_mp4(tmp_path / "full.mp4", T0).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full[: len(full) // 2])
    r = find_gps(cut)
    assert r.fixes == () or len(r.fixes) <= 3


@pytest.mark.parametrize(
    ("video", "sidecar"),
    [
        ("clip.mp4", "clip.nmea"),
        ("clip.MP4", "CLIP.NMEA"),
        ("clip.mp4", "clip.mp4.gpx"),
        ("clip.mov", "clip.LOG"),
        ("20190101_120000_NF.mp4", "20190101_120000_N.gps"),
        ("20190101_120000_NR.mp4", "20190101_120000_N.gps"),
        ("FILE260819-071804R.MP4", "FILE260819-071804F.NMEA"),
    ],
)
def test_sidecar_found_by_name(tmp_path: Path, video: str, sidecar: str) -> None:
    (tmp_path / video).write_bytes(b"")
    (tmp_path / sidecar).write_text("x")
    (tmp_path / "other.nmea").write_text("x")
    assert sidecar_candidates(tmp_path / video) == [tmp_path / sidecar]


def test_sidecar_is_read_when_nothing_is_embedded(tmp_path: Path) -> None:
    video = tmp_path / "drive.mp4"
    video.write_bytes(box(b"ftyp", b"isom") + box(b"moov", b""))
    nmea_log(tmp_path / "drive.nmea", T0)
    r = find_gps(video)
    assert r.origin == "sidecar" and r.kind == "nmea" and len(r.fixes) == 5


def test_embedded_wins_over_a_sidecar(tmp_path: Path) -> None:
    video = novatek_mp4(tmp_path / "drive.mp4", T0)
    nmea_log(tmp_path / "drive.nmea", T0)
    r = find_gps(video)
    assert r.origin == "embedded" and r.kind == "freegps"


def test_explicit_file_wins_over_everything(tmp_path: Path) -> None:
    video = novatek_mp4(tmp_path / "drive.mp4", T0)
    explicit = nmea_log(tmp_path / "elsewhere.txt", T0, n=2)
    r = find_gps(video, explicit)
    assert r.origin == "explicit" and len(r.fixes) == 2


def test_missing_explicit_file_is_an_error_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.nmea"):
        find_gps(tmp_path / "v.mp4", tmp_path / "nope.nmea")
    with pytest.raises(FileNotFoundError, match="GPS file not found"):
        read_gps(tmp_path / "nope.gpx")


def test_an_unusable_sidecar_does_not_stop_the_search(tmp_path: Path) -> None:
    video = tmp_path / "drive.mp4"
    video.write_bytes(b"")
    (tmp_path / "drive.txt").write_text("notes about the trip\n")
    nmea_log(tmp_path / "drive.log", T0)
    r = find_gps(video)
    assert r.origin == "sidecar" and len(r.fixes) == 5


def test_nothing_found_says_what_was_looked_for(tmp_path: Path) -> None:
    video = tmp_path / "drive.mp4"
    video.write_bytes(box(b"ftyp", b"isom") + box(b"moov", b""))
    r = find_gps(video)
    assert r.kind == "none" and r.fixes == ()
    assert any("no sidecar" in n for n in r.notes)


def test_context_aligns_frames_and_clips_the_track(tmp_path: Path) -> None:
    video = tmp_path / "2024_0501_120002_001.mp4"
    video.write_bytes(b"")
    nmea_log(tmp_path / "2024_0501_120002_001.nmea", T0, n=30)
    ctx = load_gps_context(video, None, None, GpsSettings(camera_utc_offset_s=0))
    assert ctx.start == T0 + timedelta(seconds=2) and "viofo" in ctx.start_how
    assert ctx.source is not None and ctx.source.startswith("sidecar nmea")
    assert ctx.at(1.5) == T0 + timedelta(seconds=3.5)
    p = ctx.position(1.5, max_gap_s=5)
    assert p is not None and p.lat == pytest.approx(52 + 3.5e-4 / 60, abs=1e-9)
    assert [f.time for f in ctx.clip_track(5, margin_s=0)] == [T0 + timedelta(seconds=s) for s in range(2, 8)]


def test_context_dates_a_time_of_day_log_and_fixes_rollover(tmp_path: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(b"")
    ggas = [sentence(f"GPGGA,12000{i}.00,5200.0000,N,00400.0000,E,1,08,0.9,5.0,M,0,M,,") for i in range(3)]
    (tmp_path / "a.nmea").write_text("\n".join(ggas))
    ctx = load_gps_context(video, None, T0, GpsSettings())
    assert [f.time for f in ctx.fixes] == [T0 + timedelta(seconds=i) for i in range(3)]
    rolled = T0 - timedelta(weeks=1024)
    nmea_log(tmp_path / "a.nmea", rolled, n=3)
    ctx = load_gps_context(video, None, T0, GpsSettings())
    assert ctx.fixes[0].time == T0 and any("rollover" in n for n in ctx.notes)


def test_context_warns_when_the_video_time_is_far_from_the_track(tmp_path: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(b"")
    nmea_log(tmp_path / "a.nmea", T0)
    ctx = load_gps_context(video, None, T0 + timedelta(hours=3), GpsSettings())
    assert any("away from the GPS track" in n for n in ctx.notes)
    assert ctx.position(0.0, 5) is None


def test_context_without_any_gps(tmp_path: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(b"")
    ctx = load_gps_context(video, None, T0, GpsSettings())
    assert ctx.fixes == () and ctx.source is None and ctx.start == T0 and ctx.notes
