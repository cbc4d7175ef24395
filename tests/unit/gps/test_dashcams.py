"""Real dashcam bytes (anonymised coordinates) and GoPro files: each yields the track its notes describe."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest

from dashpipe.config import GpsSettings
from dashpipe.gps.discover import read_embedded, read_gps
from dashpipe.gps.gopro import parse_gpmf_payloads
from dashpipe.gps.nmea import KNOTS_TO_MPS
from dashpipe.gps.result import GpsReadResult
from dashpipe.gps.timing import video_start
from dashpipe.gps.track import clean_track

from .conftest import GPS_DATA, VIDEO_DATA

UTC = timezone.utc
CAMS = GPS_DATA / "dashcams"
GOPRO = VIDEO_DATA / "gopro"


@pytest.fixture(scope="module", autouse=True)
def _data(gps_data: Path, gopro_data: Path) -> None:
    """Skips the module when the shared data is absent."""


@cache
def read(rel: str) -> GpsReadResult:
    path = GOPRO / rel[len("gopro/") :] if rel.startswith("gopro/") else CAMS / rel
    return read_gps(path)


def decoded_freegps() -> dict[str, list[tuple[datetime, str, float, float, float, float]]]:
    """freegps-decoded.txt: the values a reference decoder read from each freeGPS block."""
    out: dict[str, list[tuple[datetime, str, float, float, float, float]]] = {}
    current = ""
    line_re = re.compile(
        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) active=(\w) \S+ lat_raw=([\d.]+) lon_raw=([\d.]+) "
        r"speed_kn=([\d.]+) course=([\d.]+)"
    )
    for line in (CAMS / "freegps-decoded.txt").read_text().splitlines():
        if line.startswith("== "):
            current = line.split()[1]
            out[current] = []
        elif m := line_re.search(line):
            t = datetime.fromisoformat(m[1]).replace(tzinfo=UTC)
            out[current].append((t, m[2], float(m[3]), float(m[4]), float(m[5]), float(m[6])))
    return out


def nmea_deg(raw: float) -> float:
    return int(raw // 100) + (raw % 100) / 60


@pytest.mark.parametrize("name", ["2e-drive-730.mp4", "silverstone-a80.mp4", "viofo-a119-mini2-coldstart.mp4"])
def test_freegps_blocks_match_the_reference_decoding(name: str) -> None:
    expected = decoded_freegps()[name]
    r = read(f"novatek-real-anonymized/{name}")
    assert r.kind == "freegps"
    active = [e for e in expected if e[1] == "A"]
    assert len(r.fixes) == len(active)
    assert r.no_fix == len(expected) - len(active)
    for fix, (t, _, lat_raw, lon_raw, knots, course) in zip(r.fixes, active, strict=True):
        assert fix.time == t
        assert fix.lat == pytest.approx(nmea_deg(lat_raw), abs=2e-6)
        assert fix.lon == pytest.approx(nmea_deg(lon_raw), abs=2e-6)
        assert fix.speed_mps == pytest.approx(knots * KNOTS_TO_MPS, abs=1e-3)
        assert fix.course_deg == pytest.approx(course, abs=1e-2)


def test_viofo_cold_start_clock_jump_and_repeated_time() -> None:
    r = read("novatek-real-anonymized/viofo-a119-mini2-coldstart.mp4")
    assert any("clock jumped by +10801 s" in n for n in r.notes)
    track, dropped = clean_track(r.fixes)
    assert dropped == 2 and len(track) == 2  # 14:22:06 written three times


def test_vantrue_freegps_with_nmea_text() -> None:
    r = read("vantrue-real-anonymized/vantrue-n2x.mp4")
    assert [f.time for f in r.fixes] == [datetime(2025, 6, 7, 18, 6, s, tzinfo=UTC) for s in (17, 18, 19)]
    assert [round(f.lat, 4) for f in r.fixes] == [50.0, 50.0001, 50.0002]
    assert all(f.speed_mps == pytest.approx(10 * KNOTS_TO_MPS) and f.course_deg == 45.0 for f in r.fixes)


@pytest.mark.parametrize(
    ("rel", "count", "first"),
    [
        ("gopro-gpmf/hero5-trimmed.mp4", 36, (33.1264969, -117.3273542)),
        ("gopro-gpmf/hero6-trimmed.mp4", 36, None),
        ("gopro/max-heromode.mp4", 191, None),
    ],
)
def test_gopro_gps5_tracks(rel: str, count: int, first: tuple[float, float] | None) -> None:
    r = read(rel)
    assert r.kind == "gopro" and len(r.fixes) == count and r.no_fix == 0
    if first:
        assert (r.fixes[0].lat, r.fixes[0].lon) == pytest.approx(first, abs=1e-7)
    assert all(32 < f.lat < 34 and -118 < f.lon < -117 for f in r.fixes)  # San Diego
    times = [f.time for f in r.fixes]
    assert times == sorted(times) and times[-1] - times[0] < timedelta(seconds=15)


def test_gopro_max_start_time_from_gpsu() -> None:
    r = read("gopro/max-heromode.mp4")
    assert r.fixes[0].time == datetime(2019, 11, 18, 23, 45, 14, tzinfo=UTC)
    assert r.start_utc is not None and abs(r.start_utc - r.fixes[0].time) < timedelta(seconds=2)
    start, how = video_start(GOPRO / "max-heromode.mp4", None, GpsSettings(), r)
    assert start == r.start_utc and "gopro" in how


def test_hero8_no_fix_flag_is_respected() -> None:
    """GPSF=0 and DOP 99.99 on every sample; the coordinates jump 6 degrees a second: not positions."""
    r = read("gopro-gpmf/hero8-trimmed.mp4")
    assert r.fixes == () and r.no_fix == 36 and r.start_utc is None
    assert any("no position fix" in n for n in r.notes)


def test_karma_has_telemetry_without_gps5() -> None:
    r = read("gopro/karma.mp4")
    assert r.fixes == () and any("no GPS5/GPS9" in n for n in r.notes)


@pytest.mark.parametrize(
    ("name", "fixes", "no_fix", "first"),
    [
        ("hero5.raw", 18, 0, (33.1264969, -117.3273542)),
        ("Fusion.raw", 19, 0, None),
        ("hero6.raw", 0, 17, None),
        ("hero6+ble.raw", 0, 18, None),
        ("karma.raw", 0, 0, None),
    ],
)
def test_raw_gpmf_payloads(name: str, fixes: int, no_fix: int, first: tuple[float, float] | None) -> None:
    r = parse_gpmf_payloads([(0.0, 1.0, (GOPRO / name).read_bytes())])
    assert len(r.fixes) == fixes and r.no_fix == no_fix
    if first:
        assert (r.fixes[0].lat, r.fixes[0].lon) == pytest.approx(first, abs=1e-7)


def test_blackvue_times_by_rmc_and_measures_the_camera_clock() -> None:
    r = read("vendors/blackvue/real-anonymized.gps")
    assert r.kind == "blackvue"
    assert r.fixes[0].time == datetime(2026, 7, 18, 6, 3, 29, tzinfo=UTC)  # RMC UTC, not the prefix
    assert all(f.lat == 52.0 and f.lon == 0.0 for f in r.fixes)
    assert all(10 < f.speed_mps < 40 for f in r.fixes if f.speed_mps is not None)
    assert r.clock_offset_s == 3600.0  # camera on UTC+1
    assert r.checksum_ignored > 0  # the anonymiser left stale checksums
    start, how = video_start(Path("20260718_070333_NF.mp4"), None, GpsSettings(), r)
    assert start == datetime(2026, 7, 18, 6, 3, 33, tzinfo=UTC) and "blackvue" in how
    assert start <= r.fixes[-1].time + timedelta(seconds=61)


def test_mivue_nmea_sidecar() -> None:
    r = read("vendors/mivue/real-anonymized.NMEA")
    assert len(r.fixes) == 8
    assert all(f.lat == -23.0 and f.lon == 150.0 for f in r.fixes)
    assert r.fixes[0].time == datetime(2026, 6, 25, 4, 48, 57, tzinfo=UTC)
    assert r.ignored > 0  # $GSENSORD lines are not errors


def test_dashcam_viewer_nmea_with_gsensor_lines() -> None:
    r = read("dashcam-viewer-corpus/MOV_0581.nmea")
    assert len(r.fixes) == 30
    assert r.fixes[0].time.date().isoformat() == "2013-01-29"
    assert all(f.lat == -34.0 and f.lon == 151.0 for f in r.fixes)
    assert all(8 < f.speed_mps < 20 for f in r.fixes if f.speed_mps is not None)


@pytest.mark.parametrize(
    "rel",
    [
        "sstar-ssmd-real-anonymized/neoline-spectrum-front.mp4",
        "vendors/vueroid-txet/real-anonymized.mp4",
        "vendors/70mai-embedded/real-anonymized.mp4",
    ],
)
def test_unsupported_embedded_formats_say_so_without_raising(rel: str) -> None:
    r = read_embedded(CAMS / rel)
    assert r.fixes == () and r.notes


@pytest.mark.parametrize(
    "rel",
    [
        "vendors/70mai/real-anonymized-a810.txt",
        "vendors/escort/real-anonymized.map",
        "vendors/blackvue/real-anonymized.3gf",
    ],
)
def test_unknown_text_and_binary_formats_say_so(rel: str) -> None:
    r = read(rel)
    assert r.fixes == () and r.kind == "none" and "unknown GPS format" in r.notes[0]


def test_thinkware_nmea_in_the_subtitle_track() -> None:
    """Cues like 'gsensori,...;GPRMC,...*54;CAR,...': sentences without '$' among vendor fields."""
    r = read("vendors/thinkware/real-anonymized.mp4")
    assert r.kind == "subtitle-nmea" and len(r.fixes) == 10
    assert r.fixes[0].time == datetime(2026, 6, 2, 4, 16, 46, tzinfo=UTC)
    assert [round(f.lat, 4) for f in r.fixes[:3]] == [50.0, 50.0001, 50.0002]
    assert r.fixes[0].speed_mps == pytest.approx(14.101 * KNOTS_TO_MPS) and r.fixes[0].course_deg == 16.87


def test_pynmea2_example_log_with_junk_and_no_final_newline(gps_data: Path) -> None:
    r = read_gps(gps_data / "pynmea2" / "data.log")
    assert r.skip_reasons.get("not NMEA") == 1  # "foobar"
    assert r.fixes == () and r.undated == 1  # one GGA, no date in the file


def test_exiftool_rmc_mixed_with_heading_sentences(gps_data: Path) -> None:
    r = read_gps(gps_data / "exiftool" / "Geotag2.log")
    assert len(r.fixes) == 3
    assert [f.time.isoformat()[:10] for f in r.fixes] == ["2010-04-24"] * 3
    assert timedelta(seconds=18) <= r.fixes[1].time - r.fixes[0].time <= timedelta(seconds=21)


@pytest.mark.parametrize(
    "rel",
    [
        "gopro-gpmf/hero5-trimmed.mp4",
        "novatek-real-anonymized/viofo-a119-mini2-coldstart.mp4",
        "vantrue-real-anonymized/vantrue-n2x.mp4",
        "vendors/blackvue/real-anonymized.gps",
        "dashcam-viewer-corpus/MOV_0581.nmea",
    ],
)
def test_damaged_copies_never_raise(rel: str, tmp_path: Path) -> None:
    """Truncated and bit-flipped copies of real files: a result with notes, never an exception."""
    rng = random.Random(rel)
    data = (CAMS / rel).read_bytes()
    for k in range(12):
        damaged = bytearray(data[: rng.randrange(len(data))] if k % 3 == 0 else data)
        for _ in range(0 if k % 3 == 0 else rng.randrange(1, 60)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path = tmp_path / f"{k}{Path(rel).suffix}"
        path.write_bytes(bytes(damaged))
        r = read_gps(path)
        assert r.fixes or r.notes
