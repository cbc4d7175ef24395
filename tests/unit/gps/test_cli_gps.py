"""``dashpipe gps``: the track on stdout, the accounting on stderr."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from dashpipe.cli.gps import gps_command

from .conftest import sentence
from .test_discover import novatek_mp4

UTC = timezone.utc


def write_log(path: Path) -> Path:
    lines = [
        sentence("GPRMC,120000.00,A,5200.0000,N,00400.0000,E,10.0,90.0,010524,,"),
        sentence("GPRMC,120001.00,V,,,,,,,010524,,"),
        "garbage line",
        sentence("GPRMC,120002.00,A,5200.0000,N,00400.0600,E,10.0,90.0,010524,,")[:-2] + "00",
        sentence("GNRMC,120003.00,A,5200.0000,N,00400.1200,E,10.0,90.0,010524,,"),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_track_and_counts(tmp_path: Path) -> None:
    res = CliRunner().invoke(gps_command, [str(write_log(tmp_path / "a.nmea"))])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["time_utc"] for r in rows] == ["2024-05-01T12:00:00Z", "2024-05-01T12:00:03Z"]
    assert float(rows[1]["lon"]) == 4.002 and float(rows[0]["speed_mps"]) == 5.14
    assert "source=nmea fixes=2 no_fix=1 skipped=2" in res.stderr
    assert "bad checksum 1" in res.stderr and "not NMEA 1" in res.stderr
    assert "clock_offset_s=none" in res.stderr


def test_geojson_and_gpx_outputs(tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.nmea")
    gj = json.loads(CliRunner().invoke(gps_command, [str(log), "--format", "geojson"]).stdout)
    assert gj["features"][0]["geometry"]["type"] == "LineString"
    gpx = CliRunner().invoke(gps_command, [str(log), "--format", "gpx"]).stdout
    assert "<trkpt" in gpx and gpx.count("<trkpt") == 2


def test_a_video_prints_its_embedded_track_and_start(tmp_path: Path) -> None:
    video = novatek_mp4(tmp_path / "2024_0501_140000_001.MP4", datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    res = CliRunner().invoke(gps_command, [str(video)])
    assert res.exit_code == 0, res.output
    assert len(res.stdout.strip().splitlines()) == 1 + 3
    assert "source=freegps" in res.stderr and "origin=embedded" in res.stderr
    assert "video start:" in res.stderr


def test_reference_dates_a_time_of_day_log(tmp_path: Path) -> None:
    log = tmp_path / "gga.log"
    log.write_text(sentence("GPGGA,235959,5200.0000,N,00400.0000,E,1,08,0.9,5.0,M,0,M,,") + "\n")
    bare = CliRunner().invoke(gps_command, [str(log)])
    assert bare.stdout.strip().count("\n") == 0 and "reference" in bare.stderr
    dated = CliRunner().invoke(gps_command, [str(log), "--reference", "2024-05-02T00:00:30Z"])
    assert "2024-05-01T23:59:59Z" in dated.stdout


def test_missing_source_and_bad_reference_are_usage_errors(tmp_path: Path) -> None:
    assert CliRunner().invoke(gps_command, [str(tmp_path / "nope.nmea")]).exit_code == 2
    log = write_log(tmp_path / "a.nmea")
    res = CliRunner().invoke(gps_command, [str(log), "--reference", "soon"])
    assert res.exit_code == 2 and "ISO-8601" in res.output


def test_importing_the_command_stays_light() -> None:
    code = (
        "import sys; import dashpipe.cli.gps; "
        "heavy = {'gpxpy', 'pynmea2', 'av', 'cv2', 'numpy', 'celery', 'sqlalchemy'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
