"""Frozen domain types shared by every stage.

One box convention everywhere: ``BBox`` is xyxy in pixels of the *full-resolution* frame, so
values never need to be re-scaled by a reader who does not know which stage produced them.
Units live in field names (``_s`` seconds, ``_mps`` metres per second, ``_deg`` degrees).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BBox(Frozen):
    """Axis-aligned box, xyxy pixels of the full frame."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    @property
    def valid(self) -> bool:
        return self.x2 > self.x1 and self.y2 > self.y1

    def scale(self, sx: float, sy: float | None = None) -> BBox:
        sy = sx if sy is None else sy
        return BBox(x1=self.x1 * sx, y1=self.y1 * sy, x2=self.x2 * sx, y2=self.y2 * sy)

    def expand(self, fx: float, fy: float | None = None) -> BBox:
        """Grow by a fraction of the size on each side (negative shrinks)."""
        fy = fx if fy is None else fy
        dx, dy = self.width * fx, self.height * fy
        return BBox(x1=self.x1 - dx, y1=self.y1 - dy, x2=self.x2 + dx, y2=self.y2 + dy)

    def clip(self, width: float, height: float) -> BBox:
        return BBox(
            x1=min(max(self.x1, 0.0), width),
            y1=min(max(self.y1, 0.0), height),
            x2=min(max(self.x2, 0.0), width),
            y2=min(max(self.y2, 0.0), height),
        )

    def shared(self, other: BBox) -> BBox | None:
        """The box both cover, if any."""
        x1, y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        x2, y2 = min(self.x2, other.x2), min(self.y2, other.y2)
        return BBox(x1=x1, y1=y1, x2=x2, y2=y2) if x2 > x1 and y2 > y1 else None

    def intersection(self, other: BBox) -> float:
        both = self.shared(other)
        return both.area if both is not None else 0.0

    def iou(self, other: BBox) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_int(self) -> tuple[int, int, int, int]:
        return (int(round(self.x1)), int(round(self.y1)), int(round(self.x2)), int(round(self.y2)))

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> BBox:
        return cls(x1=x, y1=y, x2=x + w, y2=y + h)


RegionLabel = Literal["plate", "vehicle"]


class Region(Frozen):
    """A candidate or detected object: what it is, where, how sure."""

    label: RegionLabel
    box: BBox
    score: float = Field(ge=0.0, le=1.0)
    kind: str | None = None  # vehicle class name when a detector gives one ("car", "truck", ...)


class RejectReason(str, Enum):
    static = "static"
    dark = "dark"
    blurry = "blurry"
    redundant = "redundant"  # a sharper frame of the same moment was kept instead


class FrameQuality(Frozen):
    """Metrics computed on the low-resolution luma of one frame."""

    brightness: float  # mean luma 0..255
    bright_p99: float  # 99th percentile luma: separates "night with lights" from "black"
    sharpness: float  # variance of the Laplacian
    motion: float  # mean abs luma difference to the last kept frame, 0..255


class SelectedFrame(Frozen):
    index: int  # decode order index in the video
    pts_s: float  # presentation time from the stream, seconds from the first frame
    quality: FrameQuality
    flags: tuple[RejectReason, ...] = ()  # kept despite being dark/blurry because it carries a plate
    regions: tuple[Region, ...] = ()


class VideoInfo(Frozen):
    width: int
    height: int
    fps: float
    duration_s: float
    frames_total: int
    codec: str
    creation_time: datetime | None = None  # UTC, from container metadata


class PreprocessResult(Frozen):
    """The small JSON the jetson queue hands to the gpu queue."""

    video_id: str
    source: str
    info: VideoInfo
    selected: tuple[SelectedFrame, ...]
    rejected: dict[str, int]
    analysis_width: int
    proposer: str
    overlays: tuple[BBox, ...] = ()  # text burned into every frame; no plate is looked for there


class OcrResult(Frozen):
    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()

    @property
    def support(self) -> float:
        """How much the read's characters are worth when reads of one plate are compared: each counts
        by how far its confidence is above a coin flip, so a read does not win by dropping its one
        unsure (but real) character."""
        return sum(c - 0.5 for c in self.char_confidences)


class CropQuality(Frozen):
    sharpness: float
    height_px: float
    brightness: float
    contrast: float

    @property
    def score(self) -> float:
        """Higher is a better crop: large, sharp and well exposed."""
        expo = 1.0 - abs(self.brightness - 128.0) / 128.0
        return self.height_px * (1.0 + min(self.sharpness, 2000.0) / 500.0) * (0.5 + 0.5 * expo)


class PlateRead(Frozen):
    """One OCR read of one plate in one frame."""

    frame_index: int
    t_s: float
    box: BBox
    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()
    quality: CropQuality
    enhanced: bool = False  # the crop was enhanced (night/blur) before OCR
    clipped: bool = False  # the plate touched the frame's edge: its text may be cut short
    # Which end of the text the frame's edge may have cut: "start" (the left edge), "end" (the right
    # edge), "" when neither or both, or only the top or bottom edge, was touched.
    cut_at: Literal["", "start", "end"] = ""
    ocr: bool = True  # False: the text was carried over from the plate's settled reads, not read again
    vehicle: Region | None = None


class GpsFix(Frozen):
    """One position report, whatever the source format."""

    time: datetime  # timezone-aware UTC
    lat: float
    lon: float
    alt_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    fix_quality: int | None = None
    hdop: float | None = None


class GeoPoint(Frozen):
    lat: float
    lon: float
    speed_mps: float | None = None
    course_deg: float | None = None


Motion = Literal["approaching", "receding", "passing", "static", "unknown"]


class PlateSighting(Frozen):
    """One physical plate followed across frames: one entry of the report."""

    text: str
    confidence: float
    first_seen_s: float
    last_seen_s: float
    frames: int
    lat: float | None
    lon: float | None
    best_crop: str | None
    reads: dict[str, int]
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None
    last_lat: float | None = None
    last_lon: float | None = None
    ego_speed_mps: float | None = None
    ego_course_deg: float | None = None
    motion: Motion = "unknown"
    vehicle: str | None = None
    vehicle_box: BBox | None = None
    best_frame: int | None = None
    box: BBox | None = None  # plate box in the best frame
    timeline: tuple[tuple[float, float, float, float, float], ...] = ()  # (t_s, x1, y1, x2, y2)


class Alert(Frozen):
    plate: str
    matched: str  # the watchlist entry
    kind: Literal["exact", "wildcard", "fuzzy"]
    first_seen_s: float
    lat: float | None = None
    lon: float | None = None


JobStatus = Literal["done", "failed"]


class VideoJob(Frozen):
    """What travels between tasks: ids and paths, never frames."""

    video_id: str
    source: str
    gps: str | None = None
    status: Literal["pending", "failed"] = "pending"
    error: str | None = None
    preprocess_json: str | None = None
    heavy_json: str | None = None


class HeavyResult(Frozen):
    video_id: str
    source: str
    info: VideoInfo
    started_at: datetime | None
    frames_selected: int
    rejected: dict[str, int]
    plates: tuple[PlateSighting, ...]
    alerts: tuple[Alert, ...] = ()
    crops_dir: str
    video_path: str | None
    track: tuple[GpsFix, ...] = ()
    gps_source: str | None = None
    gps_notes: tuple[str, ...] = ()
