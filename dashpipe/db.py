"""The database behind search, status and export: one row per video, one per plate sighting, the drive track.

Writes replace a video's rows in one transaction, so a redelivered archive task leaves exactly
one set of rows. SQLite by default; any SQLAlchemy URL (PostgreSQL with the ``postgres`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class VideoRow(Base):
    __tablename__ = "videos"

    video_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    fps: Mapped[float | None] = mapped_column(Float, nullable=True)
    frames_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frames_selected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rejected: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    video_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    gps_source: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SightingRow(Base):
    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id", ondelete="CASCADE"), index=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    first_seen_s: Mapped[float] = mapped_column(Float)
    last_seen_s: Mapped[float] = mapped_column(Float)
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    frames: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    motion: Mapped[str | None] = mapped_column(String(16), nullable=True)
    vehicle: Mapped[str | None] = mapped_column(String(32), nullable=True)
    best_crop: Mapped[str | None] = mapped_column(Text, nullable=True)
    reads: Mapped[dict[str, int]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class TrackPointRow(Base):
    __tablename__ = "track_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float, nullable=True)
    course_deg: Mapped[float | None] = mapped_column(Float, nullable=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def connect(url: str) -> Engine:
    """An engine with the schema in place; SQLite folders are created and WAL is on for concurrent workers."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    Base.metadata.create_all(engine)
    return engine


def replace_video(
    engine: Engine,
    video: VideoRow,
    sightings: Sequence[SightingRow],
    track: Sequence[TrackPointRow],
) -> None:
    """Write a video's rows, replacing any earlier ones, in one transaction."""
    with Session(engine) as session, session.begin():
        for table in (SightingRow, TrackPointRow):
            session.execute(delete(table).where(table.video_id == video.video_id))
        session.execute(delete(VideoRow).where(VideoRow.video_id == video.video_id))
        session.add(video)
        session.flush()
        session.add_all(list(sightings))
        session.add_all(list(track))
