"""The 81 real receiver logs of gpsd's regression suite, checked against gpsd's own decoding.

gpsd's ``.chk`` files echo each input sentence followed by the JSON it reported; a TPV right
after an RMC/GGA/GLL carries that sentence's position. Its dates are shifted by 1024 weeks
(the harness pins them), so positions, speeds and courses are compared, never dates.
"""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path

import pytest

from dashpipe.gps.nmea import BadSentence, Sentence, decode_sentence, read_nmea
from dashpipe.gps.result import GpsReadResult
from dashpipe.gps.timing import apply_rollover, parse_iso_utc

from .conftest import GPS_DATA

LOGS = GPS_DATA / "gpsd" / "logs"
CHK = GPS_DATA / "gpsd" / "chk"
LOG_NAMES = sorted(p.name for p in LOGS.glob("*.log")) if LOGS.is_dir() else []
CHK_NAMES = sorted(p.name[:-4] for p in CHK.glob("*.chk")) if CHK.is_dir() else []
NO_FIX_ONLY = [
    "GPSmap-76S.log", "eXplorist110.log", "garmin-geko201.log", "holux-gm-210.log",
    "skytraq.log", "tn200.log", "tn200-all.log", "ublox-lea-5q.log",
]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _data(gps_data: Path) -> None:
    """Skips the module when the shared data is absent."""


@cache
def parsed(name: str) -> GpsReadResult:
    return read_nmea(LOGS / name)


def manifest() -> dict[str, dict[str, str]]:
    with (GPS_DATA / "gpsd" / "MANIFEST.csv").open(newline="", encoding="utf-8") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def test_all_81_logs_are_here() -> None:
    assert len(LOG_NAMES) == 81


@pytest.mark.parametrize("name", LOG_NAMES)
def test_every_log_parses_and_accounts_for_itself(name: str) -> None:
    r = parsed(name)
    assert r.kind == "nmea"
    for f in r.fixes:
        assert f.time.tzinfo is not None
        assert -90 <= f.lat <= 90 and -180 <= f.lon <= 180
    if not r.fixes:
        assert r.notes, "an empty track must say why"


def test_fix_counts_match_the_manifest() -> None:
    """Epochs with a valid RMC are at least as many as the manifest's RMC 'A' count minus skipped lines."""
    rows = manifest()
    for name in LOG_NAMES:
        r, row = parsed(name), rows[name]
        assert len(r.fixes) >= int(row["RMC_A"]) - int(row["bad_checksum"]) - int(row["no_checksum"]), name


@pytest.mark.parametrize("name", NO_FIX_ONLY)
def test_no_fix_logs_yield_no_track_and_say_so(name: str) -> None:
    r = parsed(name)
    assert r.fixes == () and r.no_fix > 0
    assert any("no position fix" in n for n in r.notes)


@pytest.mark.parametrize(
    ("name", "reasons"),
    [
        ("gp-320fw-2019-04-07-coldboot.log", {"bad checksum", "malformed", "not NMEA"}),  # NULs, splices
        ("firefly-II.log", {"bad checksum"}),  # 23 GGA with a wrong checksum
        ("com-1289.log", {"bad checksum"}),  # one spliced sentence
        ("venus634lp.log", set()),  # vendor text lines are ignored, not errors
    ],
)
def test_bad_lines_are_counted(name: str, reasons: set[str]) -> None:
    r = parsed(name)
    assert set(r.skip_reasons) == reasons
    assert r.skipped == sum(r.skip_reasons.values())


def test_firefly_bad_checksums_counted_exactly() -> None:
    assert parsed("firefly-II.log").skip_reasons == {"bad checksum": 23}
    assert len(parsed("firefly-II.log").fixes) == 23  # the RMCs of the same epochs are fine


def test_coldboot_keeps_the_good_fixes_of_both_eras() -> None:
    r = parsed("gp-320fw-2019-04-07-coldboot.log")
    assert r.skipped >= 35
    years = sorted(f.time.year for f in r.fixes)
    assert years == [1999, 2019]  # 220899 after the reboot (a week-0 date), 070419 before it
    fixed = apply_rollover(r, parse_iso_utc("2019-04-07T00:00:00Z"))
    assert {f.time.date().isoformat() for f in fixed.fixes} == {"2019-04-07"}


def test_week_rollover_receiver_is_corrected_by_the_video_time() -> None:
    r = parsed("april6_2019.log")
    assert r.fixes[0].time.date().isoformat() == "1999-08-22"
    fixed = apply_rollover(r, parse_iso_utc("2019-04-07T12:00:00Z"))
    assert fixed.fixes[0].time.date().isoformat() == "2019-04-07"
    assert fixed.rollover_weeks == 1024 and any("rollover" in n for n in fixed.notes)
    assert apply_rollover(r, None) is r  # no reference, no guess


@cache
def chk_pairs(name: str) -> list[tuple[str, dict[str, object]]]:
    """(sentence, TPV) where gpsd reported a position right after that sentence."""
    out: list[tuple[str, dict[str, object]]] = []
    last: str | None = None
    for line in (CHK / f"{name}.chk").read_bytes().decode("latin-1").splitlines():
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = {}
            if last is not None and obj.get("class") == "TPV" and "lat" in obj:
                out.append((last, obj))
            last = None
        else:
            last = line.strip() if line.startswith("$") else None
    return out


def _decoded(text: str) -> Sentence | None:
    try:
        return decode_sentence(text)
    except BadSentence:
        return None


@pytest.mark.parametrize("name", CHK_NAMES)
def test_positions_speeds_courses_agree_with_gpsd(name: str) -> None:
    compared = 0
    for text, tpv in chk_pairs(name):
        s = _decoded(text)
        if s is None or s.kind not in ("RMC", "GGA", "GLL") or not s.valid:
            continue
        assert s.lat == pytest.approx(tpv["lat"], abs=1e-6), text
        assert s.lon == pytest.approx(tpv["lon"], abs=1e-6), text
        if s.kind == "RMC" and s.speed_mps is not None and "speed" in tpv:
            assert s.speed_mps == pytest.approx(tpv["speed"], abs=1e-3), text
        if s.kind == "RMC" and s.course_deg is not None and "track" in tpv:
            assert s.course_deg == pytest.approx(tpv["track"], abs=1e-6), text
        compared += 1
    fixes = len(parsed(name).fixes)
    assert compared > 0 or fixes == 0 or not chk_pairs(name)


def test_gpsd_comparison_covers_hundreds_of_sentences() -> None:
    n = sum(
        1
        for name in CHK_NAMES
        for text, _ in chk_pairs(name)
        if (s := _decoded(text)) is not None and s.kind in ("RMC", "GGA", "GLL") and s.valid
    )
    assert n > 900


@pytest.mark.parametrize("name", LOG_NAMES)
def test_every_fix_is_a_position_its_epoch_reported(name: str) -> None:
    """Merging never mixes epochs: each fix holds the position of a sentence with its time of day.

    The sentences are read by pynmea2, independently of our decoder. (A receiver's RMC and GGA of
    one epoch may disagree by up to ~1e-4 degree, so gpsd's end-of-cycle report is no oracle here.)
    """
    pynmea2 = pytest.importorskip("pynmea2")
    by_tod: dict[str, list[tuple[float, float]]] = {}
    for line in (LOGS / name).read_bytes().decode("latin-1").splitlines():
        for piece in line.split("$")[1:]:
            try:
                msg = pynmea2.parse("$" + piece.strip())
                kind = getattr(msg, "sentence_type", None)
                if kind in ("RMC", "GGA", "GLL") and getattr(msg, "timestamp", None) and msg.lat:
                    tod = msg.timestamp.strftime("%H%M%S.%f")[:10]
                    by_tod.setdefault(tod, []).append((msg.latitude, msg.longitude))
            except Exception:  # pynmea2 raises several kinds; they only mean "not this one"
                continue
    for f in parsed(name).fixes:
        candidates = by_tod.get(f.time.strftime("%H%M%S.%f")[:10], [])
        assert any(abs(lat - f.lat) <= 1e-6 and abs(lon - f.lon) <= 1e-6 for lat, lon in candidates), f


def test_fast_decoder_agrees_with_pynmea2_on_every_real_sentence() -> None:
    pynmea2 = pytest.importorskip("pynmea2")
    checked = 0
    for name in LOG_NAMES:
        for line in (LOGS / name).read_bytes().decode("latin-1").splitlines():
            if not line.startswith("$") or line.count("$") != 1:
                continue
            s = _decoded(line.strip())
            if s is None or s.kind not in ("RMC", "GGA") or s.lat is None or s.lon is None:
                continue
            msg = pynmea2.parse(line.strip())
            assert s.lat == pytest.approx(msg.latitude, abs=1e-9), line
            assert s.lon == pytest.approx(msg.longitude, abs=1e-9), line
            if s.kind == "RMC" and s.day is not None:
                assert s.day == msg.datestamp, line
            checked += 1
    assert checked > 1000
