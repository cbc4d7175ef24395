"""Fixtures of the GPS tests: the real GPS data (skipped when absent) and small NMEA builders."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashpipe.gps.nmea import xor_checksum

REPO = Path(__file__).resolve().parents[3]
GPS_DATA = REPO.parent / "shared" / "data" / "gps"
VIDEO_DATA = REPO.parent / "shared" / "data" / "video"


def need(path: Path) -> Path:
    """The real data path, or a skip saying where it was expected."""
    if not path.exists():
        pytest.skip(f"real data not found at {path} (the shared data folder sits beside the repo)")
    return path


def sentence(body: str) -> str:
    """'GPRMC,...' -> '$GPRMC,...*hh' with the right checksum."""
    return f"${body}*{xor_checksum(body):02X}"


@pytest.fixture(scope="session")
def gps_data() -> Path:
    return need(GPS_DATA)


@pytest.fixture(scope="session")
def gopro_data() -> Path:
    return need(VIDEO_DATA / "gopro")
