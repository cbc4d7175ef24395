"""The archive's rows in PostgreSQL: a database of the test's own, created and dropped here.

Skipped where no PostgreSQL server answers on 127.0.0.1:5432 (set DASHPIPE_TEST_POSTGRES to another
server URL without a database name, e.g. postgresql+psycopg://user@host:5432).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from dashpipe.db import SightingRow, TrackPointRow, VideoRow, connect, replace_video

pytestmark = pytest.mark.integration
SERVER = os.environ.get("DASHPIPE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture()
def pg_url():
    pytest.importorskip("psycopg")
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    name = f"dashpipe_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server, no rights: nothing to test against here
        admin.dispose()
        pytest.skip(f"no PostgreSQL server usable at {SERVER}: {exc.__class__.__name__}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rows(now: datetime) -> tuple[VideoRow, list[SightingRow], list[TrackPointRow]]:
    video = VideoRow(
        video_id="v1",
        source="/a.mp4",
        status="done",
        error=None,
        started_at=now,
        duration_s=60.0,
        fps=30.0,
        frames_total=1800,
        frames_selected=200,
        rejected={"static": 3},
        video_path=None,
        report_path="/r.json",
        gps_source="sidecar nmea",
        processed_at=now,
    )
    sightings = [
        SightingRow(
            video_id="v1",
            plate="AB123CD",
            confidence=0.97,
            first_seen_s=1.0,
            last_seen_s=2.0,
            first_seen_at=now,
            last_seen_at=now,
            frames=5,
            lat=52.1,
            lon=4.9,
            motion="receding",
            vehicle=None,
            best_crop="/c.jpg",
            reads={"AB123CD": 5},
            detail={"box": [1, 2, 3, 4]},
        )
    ]
    track = [TrackPointRow(video_id="v1", time=now, lat=52.1, lon=4.9, speed_mps=12.0, course_deg=90.0)]
    return video, sightings, track


def test_rows_replace_not_duplicate_in_postgres(pg_url):
    engine = connect(pg_url)
    now = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    replace_video(engine, *rows(now))
    replace_video(engine, *rows(now))  # a redelivered archive task
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(VideoRow)) == 1
        assert s.scalar(select(func.count()).select_from(SightingRow)) == 1
        sighting = s.scalars(select(SightingRow)).one()
        assert sighting.reads == {"AB123CD": 5}
        assert sighting.first_seen_at == now  # timezone-aware round trip
    engine.dispose()
