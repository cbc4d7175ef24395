"""Synthetic dashcam clips: the demo's input and a fixture for the whole pipeline.

A real clip with known plates, positions and trouble spots cannot be shipped, so one is drawn. A
windscreen camera (pinhole, 1.3 m above a straight three-lane road, bonnet at the bottom) sees a
textured road and verge that scroll with the ego speed, roadside trees and posts, a sky panorama
that pans as the heading changes, and traffic seen from behind: cars, SUVs and vans with a rear
window, tail lights and a licence plate. Slower traffic keeps to one side lane and faster to the
other; vehicles are overtaken (they grow and leave the frame at the side), overtake (they come in
from the side and shrink into the distance), change lanes, and queue in front of the ego car at
its stop. Every vehicle's speed is a multiple of the ego speed, so all traffic stands still when
the ego does. Plates come in several styles (US, French, British, Dutch, German) with random
texts; they are painted at 1100 px/m with thick Hershey strokes and shrunk to their on-screen size,
so a stock OCR reads them at close range. Letters I, O and Q are left out, as on most real series.

One seed drives everything: every seed gives a different clip (start time and place, speeds,
segment positions, traffic, plate texts) and the same seed always gives the same clip, so
algorithms can be tested on many clips and tuned to none.

``render_sample(outdir, seconds, seed)`` writes three files named the way a dashcam names them
(``YYYY_MMDD_HHMMSS_F``, the clip's start in UTC):

- ``<stem>.mp4``: H.264 yuv420p (BT.601), PTS = frame index at a 1/fps time base,
  ``creation_time`` = the clip's start (UTC, ISO-8601 with ``Z``), mild sensor noise, and the
  camera's clock and speed burned into every frame (none of it is a plate).
- ``<stem>.nmea``: NMEA 0183 ``$GPRMC`` + ``$GPGGA`` at 1 Hz (UTC) for the ego car's trajectory,
  starting 20-40 s before the clip and ending 20-40 s after it, as a logger running longer than the
  camera file does. Positions integrate the speed and heading the video shows on a local tangent
  plane (WGS84 radii at the start).
- ``<stem>.truth.json``: what the clip contains (read it with ``load_truth``)::

    {
      "schema": 1, "seed": 0,
      "start_utc": "2023-04-05T06:07:08Z",           # time of frame 0
      "fps": 30, "frames": 1800, "width": 1920, "height": 1080, "duration_s": 60.0,
      "video": "2023_0405_060708_F.mp4", "nmea": "2023_0405_060708_F.nmea",
      "camera": {"focal_px": 1440.0, "horizon_y": 453.6, "height_m": 1.3},
      "segments": {                                   # seconds from the clip start, null if absent
        "stop":  [t0, t1],   # ego speed exactly 0 (also in the GPS log); all traffic stands still
        "dark":  [t0, t1],   # every frame near black (tunnel); 0.4 s fades lie outside [t0, t1]
        "shake": [t0, t1]    # camera jitter and strong motion blur
      },
      "overlay": {"edge": "bottom", "speed_unit": "km/h", "name": "A119 MINI"},  # burned-in text, or null
      "gps": {"first_utc": "...Z", "last_utc": "...Z", "fixes": 113},
      "ego": [{"t_s": 0.0, "lat": 52.1, "lon": 4.9, "speed_mps": 13.2, "course_deg": 87.5}, ...],  # per frame
      "readable_rule": {"min_char_height_px": 12.0, "min_frames": 8},
      "plates": [{
        "text": "7ABC123",            # normalised: uppercase letters and digits only
        "display": "7ABC123",         # as drawn, separators included
        "style": "us",                # us | fr | uk | nl | de
        "readable": true,
        "visible": [t0, t1],          # first and last time the plate is on screen
        "motion": "approaching",      # approaching | receding | passing
        "max_height_px": 41, "readable_frames": 63,
        "vehicle": {"kind": "suv", "color": "red"},
        "boxes": [[t_s, x1, y1, x2, y2], ...],          # every frame the plate is on screen
        "vehicle_boxes": [[t_s, x1, y1, x2, y2], ...]   # its vehicle in those frames (clipped to the frame)
      }, ...]
    }

Definitions (general, so that a reader can be judged against them):

- A plate is *on screen* in a frame when it is at least 2 px tall, lies entirely inside the frame
  and no nearer vehicle covers any part of it. Boxes are xyxy pixels of the full frame (the pixels
  the plate was painted into, after any camera shake).
- A plate is *readable* when it is on screen in at least ``min_frames`` frames that are outside the
  dark stretch (and its fades) and outside the shake stretch, with characters at least
  ``min_char_height_px`` tall (character height = box height x the style's character fraction).
  A good reader is expected to read every readable plate; others may or may not be read.
- *motion*: ``passing`` when the plate leaves the frame through a side edge while getting closer
  (the ego car overtakes it); otherwise ``approaching`` when it is nearer at its last sighting than
  at its first, else ``receding``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = ["SampleFiles", "load_truth", "render_sample"]

# ---------------------------------------------------------------- public surface


class SampleFiles(BaseModel):
    """The three files of one rendered clip."""

    model_config = ConfigDict(frozen=True)

    video: Path
    nmea: Path
    truth: Path


def load_truth(path: Path) -> dict[str, Any]:
    """Read a ``<stem>.truth.json`` written by ``render_sample`` (schema in the module docstring)."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def render_sample(
    outdir: Path,
    seconds: float = 60.0,
    seed: int = 0,
    *,
    width: int = 1920,
    height: int = 1080,
    fps: int = 30,
    overlay: bool = True,
) -> SampleFiles:
    """Render a clip, its NMEA log and its truth into ``outdir``; same seed, same clip.

    Clips of at least 8 s contain every segment (stop, dark, shake); shorter ones contain none.
    ``overlay``: burn the camera's clock and speed (and, for some seeds, its name) into the frames.
    """
    if seconds <= 0 or not math.isfinite(seconds):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    if fps < 1:
        raise ValueError(f"fps must be at least 1, got {fps!r}")
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and at least 64 (H.264 4:2:0), got {width}x{height}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_frames = max(1, round(seconds * fps))
    duration = n_frames / fps
    start = _start_time(rng)
    cam = _Camera.make(width, height)
    segments = _plan_segments(duration, rng)
    ego = _plan_ego(duration, fps, segments, rng)
    traffic = _plan_traffic(duration, n_frames, ego, segments, rng)
    scene = _Scene.make(cam, ego, rng)
    effects = _plan_effects(n_frames, fps, segments, cam, rng)
    stamp = _plan_overlay(cam, rng) if overlay else None

    stem = start.strftime("%Y_%m%d_%H%M%S") + "_F"
    files = SampleFiles(video=outdir / f"{stem}.mp4", nmea=outdir / f"{stem}.nmea", truth=outdir / f"{stem}.truth.json")
    sightings = _render_video(files.video, start, cam, ego, traffic, scene, effects, stamp, fps, n_frames)
    fixes = _gps_fixes(ego, start)
    _write_atomic(files.nmea, "".join(_nmea_sentences(fixes)))
    truth = _truth(seed, start, cam, fps, n_frames, segments, ego, fixes, traffic, sightings, files, stamp)
    _write_atomic(files.truth, json.dumps(truth, indent=1))
    return files


# ---------------------------------------------------------------- world constants

_CAM_HEIGHT_M = 1.3
_FOCAL_PER_WIDTH = 0.75  # horizontal field of view ~67 degrees
_HORIZON_PER_HEIGHT = 0.42
_LANE_M = 3.5
_NEAR_Z = 0.8  # closest distance drawn (camera's near plane), m
_FAR_Z = 220.0  # objects farther away are not drawn
_CLEAR_Z = 90.0  # vehicles nearer than this never overlap each other
_SKY_Z = 400.0  # ground rows beyond this distance are haze
_DASH_PERIOD_M = 12.0  # 3 m dash, 9 m gap
_GROUND_PERIOD_M = 48.0  # the ground texture repeats every this many metres
_MIN_SEGMENTS_S = 8.0  # shorter clips have no stop, dark or shake stretch
_DARK_GAIN = 0.08
_FADE_S = 0.4
_NOISE_SIGMA = 2.0  # sensor noise, grey levels
_X264 = {"crf": "20", "preset": "ultrafast"}  # ultrafast: no B-frames, as dashcam encoders do
_MIN_BOX_PX = 2  # a plate smaller than this is not on screen
_READ_CHAR_PX = 12.0  # readable rule: character height ...
_READ_MIN_FRAMES = 8  # ... in at least this many clean frames
_EPOCH = datetime(2019, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class _Camera:
    width: int
    height: int
    f: float
    cx: float
    yh: float
    hc: float

    @classmethod
    def make(cls, width: int, height: int) -> _Camera:
        return cls(width, height, _FOCAL_PER_WIDTH * width, width / 2.0, _HORIZON_PER_HEIGHT * height, _CAM_HEIGHT_M)

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """World (lateral right, height, forward distance) to pixel (u, v)."""
        return self.cx + self.f * x / z, self.yh + self.f * (self.hc - y) / z

    def row_distance(self, row: np.ndarray) -> np.ndarray:
        """Ground distance seen by pixel rows (centres) below the horizon."""
        return self.f * self.hc / (row + 0.5 - self.yh)


def _start_time(rng: np.random.Generator) -> datetime:
    seconds = int(rng.integers(0, 7 * 365 * 86400))
    return _EPOCH + timedelta(seconds=seconds)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- timeline


@dataclass(frozen=True)
class _Segments:
    stop: tuple[float, float] | None
    dark: tuple[float, float] | None
    shake: tuple[float, float] | None


def _plan_segments(duration: float, rng: np.random.Generator) -> _Segments:
    """Place stop, dark and shake stretches apart from each other, lengths scaled with the clip."""
    if duration < _MIN_SEGMENTS_S:
        return _Segments(None, None, None)
    lengths = {
        "stop": float(np.clip(0.085 * duration, 2.0, 6.0)),
        "dark": float(np.clip(0.06 * duration, 1.0, 4.0)),
        "shake": float(np.clip(0.05 * duration, 1.0, 3.0)),
    }
    names = [list(lengths)[i] for i in rng.permutation(3)]
    edge, gap = 0.5, 1.0
    free = duration - sum(lengths.values()) - 2 * edge - 2 * gap
    spare = rng.dirichlet(np.ones(4)) * free
    placed: dict[str, tuple[float, float]] = {}
    t = edge + spare[0]
    for k, name in enumerate(names):
        placed[name] = (round(t, 3), round(t + lengths[name], 3))
        t += lengths[name] + gap + spare[k + 1]
    return _Segments(placed["stop"], placed["dark"], placed["shake"])


@dataclass(frozen=True)
class _Ego:
    """The camera car on a time grid of step 1/fps covering the whole GPS log."""

    t: np.ndarray  # seconds from the clip start
    v: np.ndarray  # m/s
    s: np.ndarray  # distance travelled, m
    heading: np.ndarray  # rad, clockwise from north
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    first_clip_index: int  # grid index of frame 0
    fps: int

    def at(self, t: float) -> int:
        return int(round((t - float(self.t[0])) * self.fps))


_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


def _integrate(y: np.ndarray, dt: float) -> np.ndarray:
    """Cumulative trapezoid integral starting at 0."""
    return np.concatenate([[0.0], np.cumsum((y[1:] + y[:-1]) * 0.5 * dt)])


def _plan_ego(duration: float, fps: int, segments: _Segments, rng: np.random.Generator) -> _Ego:
    pre, post = int(rng.integers(20, 41)), int(rng.integers(20, 41))
    n = (pre + int(math.ceil(duration)) + post) * fps + 1
    t = (np.arange(n) - pre * fps) / fps
    cruise = rng.uniform(9.0, 19.0)
    p1, p2 = rng.uniform(25, 50), rng.uniform(9, 17)
    ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)
    v = cruise * (1 + 0.12 * np.sin(2 * np.pi * t / p1 + ph1) + 0.05 * np.sin(2 * np.pi * t / p2 + ph2))
    if segments.stop is not None:
        a, b = segments.stop
        decel, accel = rng.uniform(1.8, 2.6), rng.uniform(1.4, 2.2)
        limit = np.where(t < a, decel * (a - t), np.where(t > b, accel * (t - b), 0.0))
        v = np.minimum(v, limit)
    dt = 1.0 / fps
    s = _integrate(v, dt)
    # Curvature along the path, so the heading changes with distance and stays put when stopped.
    k_amp = rng.uniform(0.0, 1 / 350, 2)
    k_len = rng.uniform(300, 900, 2)
    k_ph = rng.uniform(0, 2 * np.pi, 2)
    curvature = sum(k_amp[i] * np.sin(2 * np.pi * s / k_len[i] + k_ph[i]) for i in range(2))
    heading = rng.uniform(0, 2 * np.pi) + _integrate(curvature * v, dt)
    east, north = _integrate(v * np.sin(heading), dt), _integrate(v * np.cos(heading), dt)
    lat0, lon0 = rng.uniform(-60, 60), rng.uniform(-180, 180)
    # Local tangent plane: metres to degrees with the WGS84 radii of curvature at the start.
    sin2 = math.sin(math.radians(lat0)) ** 2
    meridian = _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * sin2) ** 1.5
    normal = _WGS84_A / math.sqrt(1 - _WGS84_E2 * sin2)
    lat = lat0 + np.degrees(north / meridian)
    lon = lon0 + np.degrees(east / (normal * math.cos(math.radians(lat0))))
    lon = (lon + 180.0) % 360.0 - 180.0
    alt = rng.uniform(0, 800) + 6.0 * np.sin(s / rng.uniform(400, 900))
    return _Ego(t, v, s, heading % (2 * np.pi), lat, lon, alt, pre * fps, fps)


# ---------------------------------------------------------------- GPS log


@dataclass(frozen=True)
class _Fix:
    time: datetime
    lat: float
    lon: float
    alt: float
    speed_mps: float
    course_deg: float


def _gps_fixes(ego: _Ego, start: datetime) -> list[_Fix]:
    fixes = []
    for i in range(0, len(ego.t), ego.fps):
        t = float(ego.t[i])
        fixes.append(
            _Fix(
                time=start + timedelta(seconds=round(t)),
                lat=float(ego.lat[i]),
                lon=float(ego.lon[i]),
                alt=float(ego.alt[i]),
                speed_mps=float(ego.v[i]),
                course_deg=math.degrees(float(ego.heading[i])) % 360.0,
            )
        )
    return fixes


def _nmea_angle(value: float, degree_digits: int, hemispheres: str) -> tuple[str, str]:
    """Degrees to NMEA ``(d)ddmm.mmmmm`` and hemisphere letter, rounding without a 60.00000 minute."""
    units = round(abs(value) * 60 * 100000)  # 1e-5 minutes
    degrees, minutes = divmod(units, 60 * 100000)
    text = f"{degrees:0{degree_digits}d}{minutes // 100000:02d}.{minutes % 100000:05d}"
    return text, hemispheres[0] if value >= 0 else hemispheres[1]


def _nmea_line(body: str) -> str:
    checksum = 0
    for char in body.encode("ascii"):
        checksum ^= char
    return f"${body}*{checksum:02X}\r\n"


def _nmea_sentences(fixes: list[_Fix]) -> list[str]:
    lines = []
    for fix in fixes:
        hms = fix.time.strftime("%H%M%S") + ".00"
        lat, ns = _nmea_angle(fix.lat, 2, "NS")
        lon, ew = _nmea_angle(fix.lon, 3, "EW")
        knots = fix.speed_mps * 3600 / 1852
        lines.append(
            _nmea_line(
                f"GPRMC,{hms},A,{lat},{ns},{lon},{ew},{knots:.2f},{fix.course_deg:.1f},"
                f"{fix.time.strftime('%d%m%y')},,,A"
            )
        )
        lines.append(_nmea_line(f"GPGGA,{hms},{lat},{ns},{lon},{ew},1,09,0.9,{fix.alt:.1f},M,46.9,M,,"))
    return lines


# ---------------------------------------------------------------- plates


@dataclass(frozen=True)
class _PlateStyle:
    name: str
    width_m: float
    height_m: float
    background: tuple[int, int, int]  # BGR
    ink: tuple[int, int, int]
    char_frac: float  # character height / plate height
    band: str | None  # country code on a blue band at the left
    patterns: tuple[str, ...]  # L letter, D digit, N digit but 0 (numbers without a leading zero), else as is
    letters: str


_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q: as on most real series, so 0/O and 1/I never clash
_STYLES = (
    _PlateStyle(
        name="us",
        width_m=0.305,
        height_m=0.152,
        background=(236, 236, 232),
        ink=(40, 30, 30),
        char_frac=0.46,
        band=None,
        patterns=("NLLLDDD", "LLL-DDDD", "LLLDDDD"),
        letters=_LETTERS,
    ),
    _PlateStyle(
        name="fr",
        width_m=0.52,
        height_m=0.11,
        background=(238, 238, 238),
        ink=(25, 25, 25),
        char_frac=0.66,
        band="F",
        patterns=("LL-DDD-LL",),
        letters="ABCDEFGHJKLMNPQRSTVWXYZ",
    ),
    _PlateStyle(
        name="uk",
        width_m=0.52,
        height_m=0.111,
        background=(40, 205, 250),
        ink=(20, 20, 20),
        char_frac=0.66,
        band=None,
        patterns=("LLND LLL",),
        letters=_LETTERS,
    ),
    _PlateStyle(
        name="nl",
        width_m=0.52,
        height_m=0.11,
        background=(30, 195, 250),
        ink=(15, 15, 15),
        char_frac=0.64,
        band="NL",
        patterns=("ND-LLL-D", "N-LLL-DD", "LL-NDD-L", "L-NDD-LL", "ND-LL-LL"),
        letters="BDFGHJKLNPRSTVXZ",
    ),
    _PlateStyle(
        name="de",
        width_m=0.52,
        height_m=0.11,
        background=(240, 240, 240),
        ink=(20, 20, 20),
        char_frac=0.64,
        band="D",
        patterns=("L LL NDDD", "LL L NDD", "LLL LL ND", "LL LL NDDD"),
        letters=_LETTERS,
    ),
)
_US_STATES = ("CALIFORNIA", "TEXAS", "NEVADA", "OREGON", "ARIZONA", "FLORIDA", "OHIO", "VERMONT")
_SPACE_FRAC, _GAP_FRAC = 0.5, 0.13  # word space and letter gap, in character heights
_STROKE_FRAC = 0.15  # stroke width, in character heights
_PX_PER_M = 1100.0  # plate templates are drawn at this scale, then shrunk to their on-screen size


@dataclass(frozen=True)
class _Plate:
    text: str
    display: str
    style: _PlateStyle
    image: np.ndarray


def _plate_text(style: _PlateStyle, rng: np.random.Generator) -> str:
    pattern = style.patterns[int(rng.integers(len(style.patterns)))]
    out = []
    for p in pattern:
        if p == "L":
            out.append(style.letters[int(rng.integers(len(style.letters)))])
        elif p == "D":
            out.append(str(int(rng.integers(10))))
        elif p == "N":
            out.append(str(int(rng.integers(1, 10))))
        else:
            out.append(p)
    return "".join(out)


def _glyph(char: str, cap_px: int, thickness: int) -> np.ndarray:
    """Coverage (0..1) of one character, rows from cap top to baseline, columns cropped to its ink."""
    scale = cap_px / 21.0  # DUPLEX cap height is ~21 px at scale 1
    pad = thickness + 4
    size = 2 * cap_px + 2 * pad
    canvas = np.zeros((size, size), np.uint8)
    baseline = pad + cap_px + thickness // 2
    cv2.putText(canvas, char, (pad, baseline), cv2.FONT_HERSHEY_DUPLEX, scale, 255, thickness, cv2.LINE_AA)
    rows = canvas[baseline - cap_px - thickness // 2 : baseline + thickness // 2 + 1]
    xs = np.nonzero(rows.max(axis=0))[0]
    return rows[:, xs.min() : xs.max() + 1].astype(np.float32) / 255.0


def _text_alpha(text: str, cap_px: int, weight: float, max_width: int | None = None) -> np.ndarray:
    """Coverage of ``text`` laid out glyph by glyph with clear gaps (a space becomes a wide one).

    When the text is too wide, glyphs are narrowed but the gaps kept: an OCR merges or repeats
    characters whose strokes touch, as squeezing a whole line would make them.
    """
    thickness = max(1, round(cap_px * weight))
    glyphs = [None if c == " " else _glyph(c, cap_px, thickness) for c in text]
    space, gap = round(_SPACE_FRAC * cap_px), round(_GAP_FRAC * cap_px)
    gaps = sum(space if g is None else gap for g in glyphs[1:])
    ink = sum(g.shape[1] for g in glyphs if g is not None)
    squeeze = 1.0 if max_width is None else min(1.0, (max_width - gaps) / ink)
    parts: list[np.ndarray] = []
    height = glyphs[0].shape[0] if glyphs[0] is not None else cap_px
    for i, g in enumerate(glyphs):
        if i:
            parts.append(np.zeros((height, space if g is None else gap), np.float32))
        if g is not None:
            width = max(1, round(g.shape[1] * squeeze))
            parts.append(cv2.resize(g, (width, height), interpolation=cv2.INTER_AREA))
    return np.hstack(parts)


def _paint(plate: np.ndarray, alpha: np.ndarray, x: int, y: int, w: int, h: int, ink: tuple[int, int, int]) -> None:
    a = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)[:, :, None]
    region = plate[y : y + h, x : x + w].astype(np.float32)
    plate[y : y + h, x : x + w] = (region * (1 - a) + np.array(ink, np.float32) * a).round().astype(np.uint8)


def _plate_image(style: _PlateStyle, display: str, state: str | None) -> np.ndarray:
    w, h = round(style.width_m * _PX_PER_M), round(style.height_m * _PX_PER_M)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = style.background
    border = max(2, round(0.035 * h))
    cv2.rectangle(img, (border, border), (w - 1 - border, h - 1 - border), style.ink, border, cv2.LINE_AA)
    left = 2 * border
    if style.band:
        band_w = round(0.085 * w)
        cv2.rectangle(img, (2 * border, 2 * border), (2 * border + band_w, h - 1 - 2 * border), (150, 60, 10), -1)
        ch = round(0.2 * h)
        code = _text_alpha(style.band, ch, 0.12, band_w - 8)
        x = 2 * border + (band_w - code.shape[1]) // 2
        _paint(img, code, x, h - 3 * border - ch - 2, code.shape[1], ch, (235, 235, 235))
        left = 2 * border + band_w
    margin = round(0.05 * h)
    avail_w = w - left - 2 * border - 2 * margin
    cap = round(style.char_frac * h)
    top_space = 0
    if state:
        state_cap = round(0.13 * h)
        label = _text_alpha(state, state_cap, 0.11, round(0.7 * w))
        _paint(img, label, (w - label.shape[1]) // 2, 3 * border, label.shape[1], state_cap, (40, 40, 170))
        top_space = state_cap + border
    alpha = _text_alpha(display, cap, _STROKE_FRAC, avail_w)
    x0 = left + margin + (avail_w - alpha.shape[1]) // 2
    y0 = top_space + (h - top_space - cap) // 2 + (border if state else 0)
    _paint(img, alpha, x0, y0, alpha.shape[1], cap, style.ink)
    return img


def plate_image(style: str, display: str) -> np.ndarray:
    """A plate of the named style ("us", "uk", "nl", "fr", "de", ...) as the sample draws it, at its
    template scale (no state name): the reader is tested on the sample's plates without a clip."""
    styles = {s.name: s for s in _STYLES}
    if style not in styles:
        raise ValueError(f"unknown plate style {style!r}; known: {', '.join(styles)}")
    return _plate_image(styles[style], display, None)


def _new_plate(rng: np.random.Generator, used: set[str]) -> _Plate:
    while True:
        style = _STYLES[int(rng.integers(len(_STYLES)))]
        display = _plate_text(style, rng)
        text = "".join(c for c in display if c.isalnum())
        if text not in used:
            used.add(text)
            break
    state = _US_STATES[int(rng.integers(len(_US_STATES)))] if style.name == "us" and rng.random() < 0.5 else None
    return _Plate(text, display, style, _plate_image(style, display, state))


# ---------------------------------------------------------------- traffic


@dataclass(frozen=True)
class _Body:
    kind: str
    width: float
    height: float
    belt: float  # top of the lower body, where the windows start
    length: float
    cabin_inset: float
    slope: float  # how far the roof's rear edge sits ahead of the bumper, m


_BODIES = (
    _Body("car", 1.78, 1.45, 0.95, 4.4, 0.22, 0.45),
    _Body("hatchback", 1.72, 1.50, 0.98, 4.0, 0.18, 0.25),
    _Body("suv", 1.88, 1.72, 1.08, 4.7, 0.16, 0.2),
    _Body("van", 1.96, 2.15, 1.20, 5.2, 0.05, 0.03),
)
_COLORS = {
    "white": (232, 232, 230),
    "silver": (188, 190, 186),
    "grey": (105, 108, 110),
    "black": (32, 30, 30),
    "blue": (110, 50, 25),
    "red": (35, 30, 175),
    "maroon": (35, 25, 105),
    "green": (55, 85, 35),
    "beige": (150, 185, 200),
}


@dataclass(frozen=True)
class _Vehicle:
    """A vehicle whose distance ahead of the camera is a function of the ego's travelled distance.

    Its speed is ``k`` times the ego speed (``k_before`` until the ego has travelled ``s_ref``,
    ``k_after`` from then on), so it stands still exactly when the ego does, and it is ``d_ref``
    ahead when the ego is at ``s_ref``. A lane change moves it sideways while its distance goes
    from ``lc_from`` to ``lc_to``.
    """

    s_ref: float
    d_ref: float
    k_before: float
    k_after: float
    x_from: float
    x_to: float
    lc_from: float
    lc_to: float
    body: _Body
    color_name: str
    plate_y: float  # plate centre height above the ground, m
    plate: _Plate

    def distance(self, s: np.ndarray) -> np.ndarray:
        return np.where(
            s < self.s_ref,
            self.d_ref + (1 - self.k_before) * (self.s_ref - s),
            self.d_ref + (self.k_after - 1) * (s - self.s_ref),
        )

    def lateral(self, d: np.ndarray) -> np.ndarray:
        if self.x_from == self.x_to:
            return np.full_like(d, self.x_from)
        u = np.clip((d - self.lc_from) / (self.lc_to - self.lc_from), 0.0, 1.0)
        return self.x_from + (self.x_to - self.x_from) * u * u * (3 - 2 * u)


@dataclass(frozen=True)
class _Traffic:
    vehicles: tuple[_Vehicle, ...]
    d: np.ndarray  # (vehicles, frames) distance of the rear ahead of the camera, m
    x: np.ndarray  # (vehicles, frames) lateral offset of the centre, m


@dataclass(frozen=True)
class _Flow:
    """Lane discipline of one clip: slower traffic keeps to one side of the ego lane, faster to the other.

    Vehicles of a lane move at nearly the lane's speed (a fraction ``k`` of the ego speed), so they
    rarely need to pass through each other.
    """

    slow_side: float  # +1: the slow lane is on the right
    k_slow: float
    k_fast: float

    @classmethod
    def make(cls, rng: np.random.Generator) -> _Flow:
        return cls(1.0 if rng.random() < 0.6 else -1.0, rng.uniform(0.5, 0.8), rng.uniform(1.2, 1.5))


_FALLBACK = {"cut_out": "pass", "cut_in": "overtake"}  # same lanes' worth of traffic, fewer lane changes


def _random_vehicle(rng: np.random.Generator, role: str, s_ref: float, plate: _Plate, flow: _Flow) -> _Vehicle:
    body = _BODIES[int(rng.choice(len(_BODIES), p=[0.4, 0.25, 0.25, 0.1]))]
    color = list(_COLORS)[int(rng.integers(len(_COLORS)))]
    wobble = rng.uniform(-0.25, 0.25)
    own, slow, fast = wobble, flow.slow_side * _LANE_M + wobble, -flow.slow_side * _LANE_M + wobble
    k_slow, k_fast = flow.k_slow * rng.uniform(0.97, 1.03), flow.k_fast * rng.uniform(0.97, 1.03)
    lc_from = lc_to = 0.0
    if role == "pass":  # in the slow lane: the ego overtakes it
        kb = ka = k_slow
        d_ref, x_from, x_to = 2.5, slow, slow
    elif role == "overtake":  # in the fast lane: comes from behind and pulls away
        kb = ka = k_fast
        d_ref, x_from, x_to = -4.0, fast, fast
    elif role == "cut_out":  # ahead in our lane, moves to the slow lane, then the ego overtakes it
        kb = ka = k_slow
        d_ref, x_from, x_to = 2.5, own, slow
        lc_from = rng.uniform(22, 32)
        lc_to = lc_from - rng.uniform(10, 14)
    elif role == "cut_in":  # overtakes in the fast lane, moves in front of the ego, pulls away
        kb = ka = k_fast
        d_ref, x_from, x_to = -4.0, fast, own
        lc_from = rng.uniform(7, 10)
        lc_to = lc_from + rng.uniform(8, 14)
    elif role == "leader":  # our lane: reached, stopped behind at the stop, then drives off
        kb, ka = rng.uniform(0.75, 0.9), rng.uniform(1.15, 1.5)
        d_ref, x_from, x_to = rng.uniform(3.3, 4.6), own, own
    elif role == "neighbour":  # slow lane, stands beside-ahead during the stop
        kb = ka = k_slow
        d_ref, x_from, x_to = rng.uniform(6.0, 14.0), slow, slow
    elif role == "approach":  # our lane, still being caught up with when the clip ends
        kb = ka = rng.uniform(0.7, 0.9)
        d_ref, x_from, x_to = rng.uniform(5.0, 10.0), own, own
    else:
        raise ValueError(f"unknown role {role!r}")
    ph = plate.style.height_m
    low, high = 0.3 + ph / 2 + 0.04, body.belt - 0.22 - ph / 2 - 0.03
    plate_y = rng.uniform(low, max(low, high))
    return _Vehicle(s_ref, d_ref, kb, ka, x_from, x_to, lc_from, lc_to, body, color, plate_y, plate)


def _conflicts(d: np.ndarray, x: np.ndarray, length: float, others: list[tuple[np.ndarray, np.ndarray, float]]) -> bool:
    """Whether a vehicle would touch the ego car, or another vehicle where the two are clearly seen.

    Beyond ``_CLEAR_Z`` a car is a few dozen pixels wide and one passing through another reads as
    one hiding the other, so lanes are only kept free near the camera.
    """
    near = (d > -12) & (d < _CLEAR_Z)
    if np.any(near & (np.abs(x) < 2.2) & (d < 3.0) & (d + length > -3.0)):
        return True
    for od, ox, olen in others:
        seen = near & (od > -12) & (od < _CLEAR_Z)
        overlap = (np.abs(x - ox) < 2.3) & (d < od + olen + 1.5) & (od < d + length + 1.5)
        if np.any(seen & overlap):
            return True
    return False


def _plan_traffic(duration: float, n_frames: int, ego: _Ego, segments: _Segments, rng: np.random.Generator) -> _Traffic:
    """Who drives where: a queue leader (and often a neighbour) at the stop, often one vehicle still
    being caught up with at the end, and one event every 4-6 s (overtaken, overtaking, lane changes).

    A vehicle that would touch another is drawn again, then given a role without a lane change,
    then left out.
    """
    s_clip = ego.s[ego.first_clip_index : ego.first_clip_index + n_frames]
    n_events = max(2, round(duration / rng.uniform(4.0, 6.0)))
    plan: list[tuple[str, float]] = []  # (role, ego distance of the role's reference moment)
    if segments.stop is not None:
        s_stop = float(ego.s[ego.at(segments.stop[0])])
        plan.append(("leader", s_stop))
        if rng.random() < 0.7:
            plan.append(("neighbour", s_stop))
    if rng.random() < 0.7:
        plan.append(("approach", float(s_clip[-1])))
    roles = ["pass", "overtake", "cut_out", "cut_in"]
    for j in range(n_events):
        te = duration * (j + rng.uniform(0.15, 0.85)) / n_events
        plan.append((roles[int(rng.choice(4, p=[0.35, 0.25, 0.2, 0.2]))], float(np.interp(te, ego.t, ego.s))))
    flow = _Flow.make(rng)
    used: set[str] = set()
    vehicles: list[_Vehicle] = []
    tracks: list[tuple[np.ndarray, np.ndarray, float]] = []
    for role, s_ref in plan:
        plate = _new_plate(rng, used)
        for attempt in range(24):
            kind = _FALLBACK.get(role, role) if attempt >= 12 else role
            veh = _random_vehicle(rng, kind, s_ref, plate, flow)
            d = veh.distance(s_clip)
            x = veh.lateral(d)
            if not _conflicts(d, x, veh.body.length, tracks):
                vehicles.append(veh)
                tracks.append((d, x, veh.body.length))
                break
            if role in roles:
                s_ref += rng.uniform(-30, 30)
    if not vehicles:
        return _Traffic((), np.zeros((0, n_frames)), np.zeros((0, n_frames)))
    return _Traffic(tuple(vehicles), np.stack([t[0] for t in tracks]), np.stack([t[1] for t in tracks]))


# ---------------------------------------------------------------- scenery


def _wrap_noise(rng: np.random.Generator, grid_shape: tuple[int, int], out_shape: tuple[int, int]) -> np.ndarray:
    """Smooth noise (about unit variance), periodic in both directions, one feature per grid cell."""
    grid = rng.standard_normal(grid_shape).astype(np.float32)
    ys = (np.arange(out_shape[0], dtype=np.float32) + 0.5) * grid_shape[0] / out_shape[0] - 0.5
    xs = (np.arange(out_shape[1], dtype=np.float32) + 0.5) * grid_shape[1] / out_shape[1] - 0.5
    mx, my = np.meshgrid(xs, ys)
    return cv2.remap(grid, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_WRAP)


@dataclass(frozen=True)
class _WorldNoise:
    """Noise grids fixed in road coordinates, so every texture level shows the same patches."""

    grids: tuple[tuple[np.ndarray, float], ...]  # (grid, cell size m); rows wrap every _GROUND_PERIOD_M

    @classmethod
    def make(cls, rng: np.random.Generator) -> _WorldNoise:
        grids = []
        for cell in (6.0, 1.5, 0.4, 0.1):
            rows = round(_GROUND_PERIOD_M / cell)
            grids.append((rng.standard_normal((rows, min(4096, round(600 / cell)))).astype(np.float32), cell))
        return cls(tuple(grids))

    def sample(self, level: int, xs: np.ndarray, zs: np.ndarray) -> np.ndarray:
        grid, cell = self.grids[level]
        mx, my = np.meshgrid((xs / cell).astype(np.float32), (zs / cell).astype(np.float32))
        return cv2.remap(grid, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def _coverage(dist: np.ndarray, half_width: float, texel: float) -> np.ndarray:
    """Fraction of a texel covered by a stripe of ``half_width`` at ``dist`` from its centre line."""
    return np.clip((half_width + texel / 2 - np.abs(dist)) / texel, 0.0, 1.0)


def _ground_texture(
    noise: _WorldNoise, palette: dict[str, np.ndarray], x_half: float, dx: float, dz: float, rng: np.random.Generator
) -> np.ndarray:
    """Road and verges in road coordinates: columns are lateral metres, rows metres ahead (periodic).

    Float32 single-channel fields combined per colour channel: this runs on millions of texels.
    """
    cols = int(math.ceil(2 * x_half / dx))
    rows = max(2, round(_GROUND_PERIOD_M / dz))
    dz = _GROUND_PERIOD_M / rows
    xs = ((np.arange(cols) + 0.5) * dx - x_half).astype(np.float32)
    zs = ((np.arange(rows) + 0.5) * dz).astype(np.float32)
    ax = np.abs(xs)
    road_edge, verge_edge = 3 * _LANE_M / 2 + 1.0, 3 * _LANE_M / 2 + 2.0
    road = _coverage(xs, road_edge, dx)[None, :]
    gravel = _coverage(xs, verge_edge, dx)[None, :] - road
    grass = 1 - road - gravel
    big, mid = noise.sample(0, xs, zs), noise.sample(1, xs, zs)
    detail = 0.5 * noise.sample(2, xs, zs) if dx < 0.3 else np.float32(0)
    if dx < 0.08:
        detail = detail + 0.5 * noise.sample(3, xs, zs)
    fine = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(min(1.0, math.sqrt(0.01 / dx)))
    centres = (-4.25, -2.75, -0.75, 0.75, 2.75, 4.25)  # where wheels wear the lanes
    tracks = (1 - 0.07 * sum(np.exp(-(((xs - c) / 0.3) ** 2)) for c in centres)).astype(np.float32)[None, :]
    on_road = (1 + 0.05 * big + 0.05 * mid + 0.08 * detail + 0.06 * fine) * tracks * road
    on_gravel = (1 + 0.08 * mid + 0.24 * detail + 0.1 * fine) * gravel
    on_grass = (1 + 0.16 * mid + 0.26 * detail + 0.1 * fine) * grass
    dry = np.clip(0.5 + 0.6 * big, 0, 1)
    solid = _coverage(ax - 3 * _LANE_M / 2, 0.075, dx)
    dashed = _coverage(ax - _LANE_M / 2, 0.06, dx)
    dash_on = _coverage(np.mod(zs, _DASH_PERIOD_M) - 1.5, 1.5, dz)  # dashes: the first 3 m of each period
    paint = np.clip(solid[None, :] + dashed[None, :] * dash_on[:, None], 0, 1)
    unpainted = 1 - paint
    painted = (1 + 0.03 * fine) * paint
    out = np.empty((rows, cols, 3), np.uint8)
    for c in range(3):
        green, brown = float(palette["grass"][c]), float(palette["dry"][c])
        channel = (green + (brown - green) * dry) * on_grass
        channel += float(palette["gravel"][c]) * on_gravel + float(palette["asphalt"][c]) * on_road
        channel = channel * unpainted + float(palette["paint"][c]) * painted
        out[..., c] = np.clip(channel, 0, 255)
    return out


_PHASES = 4  # sub-texel positions of the scrolling ground, each with its own precomputed maps


@dataclass(frozen=True)
class _GroundBand:
    """Rows of the frame drawn from one texture level.

    The maps are fixed (fast fixed-point ``remap``); scrolling picks a window of the vertically
    tiled texture by whole texels and one of ``_PHASES`` maps for the fraction.
    """

    top: int  # first frame row
    texture: np.ndarray  # one period tiled twice (+2 rows), so any window of period+2 rows exists
    period_rows: int
    maps: tuple[tuple[np.ndarray, np.ndarray], ...]  # per phase, from cv2.convertMaps
    rows_per_m: float

    def draw(self, frame: np.ndarray, travelled_m: float) -> None:
        shift = (travelled_m % _GROUND_PERIOD_M) * self.rows_per_m
        k = int(shift)
        phase = round((shift - k) * _PHASES)
        if phase == _PHASES:
            k, phase = (k + 1) % self.period_rows, 0
        window = self.texture[k : k + self.period_rows + 2]
        m1, m2 = self.maps[phase]
        cv2.remap(window, m1, m2, cv2.INTER_LINEAR, dst=frame[self.top : self.top + m1.shape[0]])


@dataclass(frozen=True)
class _Prop:
    z: float  # world distance along the road, m
    x: float
    kind: str  # "tree" | "post"
    size: float
    trunk: float
    color: tuple[int, int, int]


@dataclass(frozen=True)
class _Scene:
    """Everything that does not depend on traffic: sky panorama, ground levels, hood, roadside props."""

    panorama: np.ndarray  # rows above the ground, 360 degrees wide (+ one frame width for wrap)
    ground_top: int
    bands: tuple[_GroundBand, ...]
    fog: np.ndarray  # (rows, 1, 1) fog fraction of the far ground rows
    fog_rows: tuple[int, int]
    haze: np.ndarray
    hood_top: int
    hood: np.ndarray
    hood_mask: np.ndarray
    props: tuple[_Prop, ...]
    prop_z: np.ndarray
    heading0: float

    @classmethod
    def make(cls, cam: _Camera, ego: _Ego, rng: np.random.Generator) -> _Scene:
        palette = {
            "asphalt": np.array([88, 90, 94], np.float32) * rng.uniform(0.85, 1.15),
            "grass": np.array([48, 118, 78], np.float32) * rng.uniform(0.8, 1.1),
            "dry": np.array([70, 135, 150], np.float32) * rng.uniform(0.85, 1.1),
            "gravel": np.array([112, 128, 140], np.float32),
            "paint": np.array([222, 226, 228], np.float32),
        }
        haze = np.array([200, 192, 182], np.float32) * rng.uniform(0.9, 1.05)
        ground_top = int(math.ceil(cam.yh + cam.f * cam.hc / _SKY_Z))
        rows = np.arange(ground_top, cam.height)
        z_rows = cam.row_distance(rows.astype(np.float64))
        noise = _WorldNoise.make(rng)
        bands = []
        edges = [_SKY_Z, 96.0, 48.0, 24.0, 12.0, 6.0, 0.0]
        u = np.arange(cam.width, dtype=np.float64) + 0.5 - cam.cx
        for far, near in itertools.pairwise(edges):
            sel = np.nonzero((z_rows <= far) & (z_rows > near))[0]
            if len(sel) == 0:
                continue
            z_near = max(near, float(z_rows[sel].min()))
            dx = max(0.015, z_near / cam.f)
            dz = max(0.03, z_near * z_near / (cam.f * cam.hc))
            x_half = far * cam.cx / cam.f * 1.05 + 2.0
            tex = _ground_texture(noise, palette, x_half, dx, dz, rng)
            n = tex.shape[0]
            rows_per_m = n / _GROUND_PERIOD_M
            z = z_rows[sel][:, None]
            map_x = ((u[None, :] * z / cam.f + x_half) / dx - 0.5).astype(np.float32)
            base_y = np.broadcast_to(np.mod(z * rows_per_m - 0.5, n), map_x.shape)
            maps = tuple(
                cv2.convertMaps(map_x, (base_y + ph / _PHASES).astype(np.float32), cv2.CV_16SC2)
                for ph in range(_PHASES)
            )
            tiled = np.concatenate([tex, tex, tex[:2]])
            bands.append(_GroundBand(int(rows[sel[0]]), tiled, n, maps, rows_per_m))
        fog_end = ground_top + int(np.searchsorted(-z_rows, -40.0))
        fog = (1 - np.exp(-z_rows[: fog_end - ground_top] / 260.0)).astype(np.float32)[:, None, None]
        hood_top, hood, mask = _hood(cam, rng)
        return cls(
            panorama=_panorama(cam, ground_top, haze, rng),
            ground_top=ground_top,
            bands=tuple(bands),
            fog=fog,
            fog_rows=(ground_top, fog_end),
            haze=haze,
            hood_top=hood_top,
            hood=hood,
            hood_mask=mask,
            props=(props := _props(ego, rng)),
            prop_z=np.array([p.z for p in props]),
            heading0=float(ego.heading[ego.first_clip_index]),
        )


def _panorama(cam: _Camera, rows: int, haze: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sky, clouds and a distant tree line all around, so turning pans the view."""
    width = round(2 * math.pi * cam.f)
    y = np.arange(rows, dtype=np.float32)[:, None, None] / max(1.0, cam.yh)
    top = np.array([170, 110, 60], np.float32) * rng.uniform(0.85, 1.15)
    sky = top * (1 - y) + haze * y
    sky = np.broadcast_to(sky, (rows, width, 3)).copy()
    scale = cam.height / 1080
    clouds = _wrap_noise(rng, (6, 40), (rows, width)) + 0.5 * _wrap_noise(rng, (14, 110), (rows, width))
    cover = np.clip((clouds - rng.uniform(0.3, 1.2)) * 0.8, 0, 1) * np.clip(1.3 - y[:, :, 0] * 1.2, 0, 1)
    sky = sky * (1 - cover[..., None]) + np.array([238, 236, 234], np.float32) * cover[..., None]
    ridge = _wrap_noise(rng, (1, 24), (1, width))[0] * 14 + _wrap_noise(rng, (1, 160), (1, width))[0] * 6
    tree_line = cam.yh - (22 + ridge) * scale
    rr = np.arange(rows, dtype=np.float32)[:, None]
    inside = np.clip(rr - tree_line[None, :] + 0.5, 0, 1)[..., None]
    leaves = _wrap_noise(rng, (max(2, rows // 6), width // 6), (rows, width))
    far_green = np.array([95, 115, 100], np.float32) * (1 + 0.12 * leaves[..., None])
    far_green = far_green * 0.7 + haze * 0.3
    img = sky * (1 - inside) + far_green * inside
    img = np.clip(img, 0, 255).astype(np.uint8)
    return np.concatenate([img, img[:, : cam.width]], axis=1)


def _hood(cam: _Camera, rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray]:
    """The ego car's bonnet at the bottom of the picture: a dark curved band."""
    w, h = cam.width, cam.height
    top = int(h * 0.935)
    xs = (np.arange(w) - w / 2) / (w / 2)
    edge = top + (h - top) * 0.85 * xs**2
    rows = np.arange(top, h)[:, None]
    mask = rows >= edge[None, :]
    base = np.array([40, 38, 36], np.float32) * rng.uniform(0.8, 1.6)
    shade = (1 + 0.25 * np.exp(-(((rows - top) / (0.02 * h + 1)) ** 2)) * (1 - np.abs(xs))[None, :])[..., None]
    hood = np.clip(base * shade, 0, 255).astype(np.uint8)
    return top, hood, np.repeat(mask[..., None], 3, axis=2)


def _props(ego: _Ego, rng: np.random.Generator) -> tuple[_Prop, ...]:
    props: list[_Prop] = []
    s_end = float(ego.s[-1]) + _FAR_Z + 10
    z = -10.0
    while z < s_end:  # reflector posts every 50 m on both sides
        props.append(_Prop(z, 7.2, "post", 1.0, 0.0, (235, 235, 235)))
        props.append(_Prop(z + 25, -7.2, "post", 1.0, 0.0, (235, 235, 235)))
        z += 50.0
    for side in (-1.0, 1.0):
        z = -10.0 + rng.uniform(0, 20)
        while z < s_end:
            green = (rng.uniform(25, 60), rng.uniform(70, 125), rng.uniform(35, 80))
            props.append(
                _Prop(
                    z,
                    side * rng.uniform(9.5, 30),
                    "tree",
                    rng.uniform(1.5, 3.2),
                    rng.uniform(1.6, 3.2),
                    (int(green[0]), int(green[1]), int(green[2])),
                )
            )
            z += rng.uniform(6, 30)
    props.sort(key=lambda p: p.z)
    return tuple(props)


# ---------------------------------------------------------------- effects


@dataclass(frozen=True)
class _Effects:
    gain: np.ndarray  # per frame brightness factor (dark stretch)
    shake: dict[int, tuple[np.ndarray, float, float]]  # frame -> (2x3 affine, blur length px, angle deg)
    noise: tuple[tuple[np.ndarray, np.ndarray], ...]  # (add, subtract) uint8 sensor noise frames


def _plan_effects(n_frames: int, fps: int, segments: _Segments, cam: _Camera, rng: np.random.Generator) -> _Effects:
    t = np.arange(n_frames) / fps
    gain = np.ones(n_frames)
    if segments.dark is not None:
        a, b = segments.dark
        depth = np.clip(np.minimum(t - (a - _FADE_S), (b + _FADE_S) - t) / _FADE_S, 0, 1)
        gain = 1 - (1 - _DARK_GAIN) * depth
    shake: dict[int, tuple[np.ndarray, float, float]] = {}
    if segments.shake is not None:
        a, b = segments.shake
        for i in np.nonzero((t >= a) & (t <= b))[0]:
            dx, dy = rng.normal(0, 0.01 * cam.width, 2)
            angle = rng.normal(0, 0.8)
            m = cv2.getRotationMatrix2D((cam.cx, cam.height / 2), angle, 1.0)
            m[:, 2] += (dx, dy)
            length = rng.uniform(0.018, 0.035) * cam.width
            angle_deg = 90 + rng.normal(0, 35)
            shake[int(i)] = (m, float(length), float(angle_deg))
    noise = []
    for _ in range(6):
        n = np.rint(rng.standard_normal((cam.height, cam.width, 3), dtype=np.float32) * _NOISE_SIGMA)
        noise.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
    return _Effects(gain, shake, tuple(noise))


# ---------------------------------------------------------------- burned-in text

_CAMERA_NAMES = ("DASHCAM", "A119 MINI", "DR590X 2CH", "CAR DVR", "T3 PRO")


@dataclass(frozen=True)
class _Overlay:
    """The text a dashcam burns into every frame: its clock and the GPS speed along the bottom (over
    the bonnet) or the top (over the sky), white with a black rim, and for some cameras their name
    on the other edge. It is drawn after exposure and noise, so it stays bright in a tunnel."""

    scale: float  # Hershey font scale
    top: bool
    mph: bool
    name: str | None


def _plan_overlay(cam: _Camera, rng: np.random.Generator) -> _Overlay:
    name = _CAMERA_NAMES[int(rng.integers(len(_CAMERA_NAMES)))] if rng.random() < 0.5 else None
    scale = float(rng.uniform(0.8, 1.3)) * cam.height / 1080
    return _Overlay(scale, top=bool(rng.random() < 0.3), mph=bool(rng.random() < 0.3), name=name)


def _stroke(scale: float) -> int:
    return max(1, round(2 * scale))


def _burn_text(img: np.ndarray, text: str, x: int, y: int, scale: float) -> None:
    thick = _stroke(scale)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, text, (x, y), font, scale, (0, 0, 0), thick + max(2, round(3 * scale)), cv2.LINE_AA)
    cv2.putText(img, text, (x, y), font, scale, (255, 255, 255), thick, cv2.LINE_AA)


def _burn_overlay(img: np.ndarray, stamp: _Overlay, when: datetime, speed_mps: float) -> None:
    h, w = img.shape[:2]
    cap = round(22 * stamp.scale)
    margin = max(8, round(0.015 * w))
    near, far = (margin + cap, h - margin) if stamp.top else (h - margin, margin + cap)
    speed = speed_mps * (2.2369363 if stamp.mph else 3.6)
    line = f"{round(speed)} {'MPH' if stamp.mph else 'KM/H'}"
    (tw, _), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, stamp.scale, _stroke(stamp.scale))
    _burn_text(img, when.strftime("%Y/%m/%d %H:%M:%S"), margin, near, stamp.scale)
    _burn_text(img, line, w - margin - tw, near, stamp.scale)
    if stamp.name is not None:
        _burn_text(img, stamp.name, margin, far, stamp.scale)


# ---------------------------------------------------------------- drawing


def _poly(img: np.ndarray, pts: list[tuple[float, float]], color: tuple[int, ...], box: list[float]) -> None:
    """Fill a convex polygon with sub-pixel precision and grow ``box`` (x1, y1, x2, y2) around it."""
    arr = np.array(pts, np.float64)
    box[0] = min(box[0], float(arr[:, 0].min()))
    box[1] = min(box[1], float(arr[:, 1].min()))
    box[2] = max(box[2], float(arr[:, 0].max()))
    box[3] = max(box[3], float(arr[:, 1].max()))
    cv2.fillConvexPoly(img, np.round(arr * 16).astype(np.int32), color, cv2.LINE_AA, 4)


def _shade(color: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return (min(255, int(color[0] * factor)), min(255, int(color[1] * factor)), min(255, int(color[2] * factor)))


def _draw_vehicle(
    img: np.ndarray, cam: _Camera, veh: _Vehicle, x: float, d: float
) -> tuple[tuple[int, int, int, int] | None, list[float] | None]:
    """Draw one vehicle from behind (and its near side); return its plate box and silhouette box."""
    b = veh.body
    far_z = d + b.length
    if far_z <= _NEAR_Z:
        return None, None
    color = _COLORS[veh.color_name]
    box = [math.inf, math.inf, -math.inf, -math.inf]
    p = cam.project
    hw = b.width / 2
    z0 = max(d, _NEAR_Z)
    shadow = [p(x - hw * 1.05, 0, z0), p(x + hw * 1.05, 0, z0), p(x + hw * 1.05, 0, far_z), p(x - hw * 1.05, 0, far_z)]
    _poly(img, shadow, (28, 28, 30), [0.0, 0.0, 0.0, 0.0])  # on the road, not part of the vehicle's box
    side = x - hw if x - hw > 0.2 else (x + hw if x + hw < -0.2 else None)
    if side is not None:
        dark = _shade(color, 0.72)
        _poly(img, [p(side, 0.28, z0), p(side, b.belt, z0), p(side, b.belt, far_z), p(side, 0.28, far_z)], dark, box)
        top_z0, top_z1 = max(d + b.slope, _NEAR_Z), far_z - (0.3 if b.kind == "van" else 1.3)
        if top_z1 > top_z0:
            _poly(
                img,
                [
                    p(side, b.belt, max(d, _NEAR_Z)),
                    p(side, b.height, top_z0),
                    p(side, b.height, top_z1),
                    p(side, b.belt, far_z - 0.6),
                ],
                dark,
                box,
            )
            w0, w1 = max(d + b.slope + 0.2, _NEAR_Z), top_z1 - 0.2
            if w1 > w0:
                _poly(
                    img,
                    [
                        p(side, b.belt + 0.06, w0),
                        p(side, b.height - 0.07, w0 + 0.1),
                        p(side, b.height - 0.07, w1),
                        p(side, b.belt + 0.06, w1 + 0.2),
                    ],
                    (55, 45, 40),
                    box,
                )
        for wz in (d + 0.6, far_z - 1.35):
            if wz > _NEAR_Z:
                _poly(
                    img,
                    [p(side, 0.0, wz), p(side, 0.62, wz), p(side, 0.62, wz + 0.7), p(side, 0.0, wz + 0.7)],
                    (22, 22, 22),
                    box,
                )
    if d < _NEAR_Z:
        return None, box
    for wx in (x - hw + 0.12, x + hw - 0.4):  # rear wheels under the bumper
        _poly(
            img,
            [p(wx, 0.0, d + 0.6), p(wx + 0.28, 0.0, d + 0.6), p(wx + 0.28, 0.35, d + 0.6), p(wx, 0.35, d + 0.6)],
            (20, 20, 20),
            box,
        )
    _poly(img, [p(x - hw, 0.28, d), p(x + hw, 0.28, d), p(x + hw, b.belt, d), p(x - hw, b.belt, d)], color, box)
    _poly(
        img,
        [p(x - hw - 0.02, 0.26, d), p(x + hw + 0.02, 0.26, d), p(x + hw + 0.02, 0.42, d), p(x - hw - 0.02, 0.42, d)],
        _shade(color, 0.55),
        box,
    )
    ci, dt = b.cabin_inset, d + b.slope
    _poly(
        img,
        [
            p(x - hw + 0.06, b.belt, d),
            p(x + hw - 0.06, b.belt, d),
            p(x + hw - ci, b.height, dt),
            p(x - hw + ci, b.height, dt),
        ],
        _shade(color, 0.9),
        box,
    )
    gl = 0.06 + (0.1 if b.kind != "van" else 0.05)
    _poly(
        img,
        [
            p(x - hw + gl, b.belt + 0.06, d + 0.06 * b.slope),
            p(x + hw - gl, b.belt + 0.06, d + 0.06 * b.slope),
            p(x + hw - ci - 0.07, b.height - 0.08, dt - 0.05),
            p(x - hw + ci + 0.07, b.height - 0.08, dt - 0.05),
        ],
        (62, 52, 46),
        box,
    )
    for sx in (-1.0, 1.0):  # tail lights
        outer, inner = x + sx * (hw - 0.03), x + sx * (hw - 0.36)
        lo, hi = min(outer, inner), max(outer, inner)
        _poly(
            img,
            [p(lo, b.belt - 0.22, d), p(hi, b.belt - 0.22, d), p(hi, b.belt - 0.04, d), p(lo, b.belt - 0.04, d)],
            (30, 30, 190),
            box,
        )
    st = veh.plate.style
    u1, v1 = p(x - st.width_m / 2, veh.plate_y + st.height_m / 2, d)
    u2, v2 = p(x + st.width_m / 2, veh.plate_y - st.height_m / 2, d)
    x1, y1, x2, y2 = round(u1), round(v1), max(round(u2), round(u1) + 1), max(round(v2), round(v1) + 1)
    _paste_plate(img, veh.plate.image, x1, y1, x2, y2)
    return (x1, y1, x2, y2), box


def _paste_plate(img: np.ndarray, plate: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> None:
    h, w = img.shape[:2]
    cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if cx2 <= cx1 or cy2 <= cy1:
        return
    if y2 - y1 < 3 or x2 - x1 < 3:
        img[cy1:cy2, cx1:cx2] = plate[plate.shape[0] // 2, plate.shape[1] // 8]
        return
    small = cv2.resize(plate, (x2 - x1, y2 - y1), interpolation=cv2.INTER_AREA)
    img[cy1:cy2, cx1:cx2] = small[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]


def _draw_prop(img: np.ndarray, cam: _Camera, prop: _Prop, z: float) -> None:
    p = cam.project
    box = [0.0, 0.0, 0.0, 0.0]
    if prop.kind == "post":
        _poly(
            img,
            [p(prop.x - 0.06, 0, z), p(prop.x + 0.06, 0, z), p(prop.x + 0.06, 1.0, z), p(prop.x - 0.06, 1.0, z)],
            prop.color,
            box,
        )
        _poly(
            img,
            [p(prop.x - 0.06, 0.8, z), p(prop.x + 0.06, 0.8, z), p(prop.x + 0.06, 1.0, z), p(prop.x - 0.06, 1.0, z)],
            (25, 25, 25),
            box,
        )
        return
    tw = 0.12 + 0.08 * prop.size
    _poly(
        img,
        [
            p(prop.x - tw, 0, z),
            p(prop.x + tw, 0, z),
            p(prop.x + tw, prop.trunk + 0.5, z),
            p(prop.x - tw, prop.trunk + 0.5, z),
        ],
        (40, 60, 80),
        box,
    )
    r = prop.size
    for ox, oy, rf, shade in ((0.0, 0.8, 1.0, 0.8), (-0.35, 1.05, 0.7, 1.0), (0.3, 0.65, 0.6, 0.65)):
        u, v = p(prop.x + ox * r, prop.trunk + oy * r, z)
        rad = cam.f * r * rf / z
        if rad < 0.5 or abs(u - cam.cx) > cam.width + rad or v - rad > cam.height:
            continue
        cv2.circle(img, (round(u * 16), round(v * 16)), round(rad * 16), _shade(prop.color, shade), -1, cv2.LINE_AA, 4)


def _shake(img: np.ndarray, move: np.ndarray, length_px: float, angle_deg: float) -> np.ndarray:
    """Jitter the frame by the affine ``move`` and smear it along ``angle_deg`` over ``length_px``.

    Done at half size: the smear removes all detail finer than that anyway. The smear is a box
    blur in a frame rotated so that its direction is vertical.
    """
    h, w = img.shape[:2]
    hw, hh = w // 2, h // 2
    half = cv2.resize(img, (hw, hh), interpolation=cv2.INTER_AREA)
    scale = np.array([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 1]])
    move_half = scale @ np.vstack([move, [0, 0, 1]]) @ np.linalg.inv(scale)
    a = math.radians(angle_deg - 90.0)
    cw = int(math.ceil(hw * abs(math.cos(a)) + hh * abs(math.sin(a))))
    ch = int(math.ceil(hw * abs(math.sin(a)) + hh * abs(math.cos(a))))
    turn = np.vstack([cv2.getRotationMatrix2D((hw / 2, hh / 2), angle_deg - 90.0, 1.0), [0, 0, 1]])
    turn[:2, 2] += ((cw - hw) / 2, (ch - hh) / 2)  # a canvas big enough to keep the corners
    upright = cv2.warpAffine(half, (turn @ move_half)[:2], (cw, ch), borderMode=cv2.BORDER_REPLICATE)
    upright = cv2.blur(upright, (1, max(1, round(length_px / 2))), borderType=cv2.BORDER_REPLICATE)
    back = cv2.warpAffine(
        upright, turn[:2], (hw, hh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass
class _Sighting:
    """Per-vehicle truth gathered while rendering."""

    boxes: list[list[float]]
    vehicle_boxes: list[list[float]]
    distances: list[float]
    good_heights: list[int]
    exit_side: bool = False


def _compose(
    frame: np.ndarray, cam: _Camera, scene: _Scene, ego: _Ego, traffic: _Traffic, gi: int, i: int
) -> list[tuple[int, tuple[int, int, int, int] | None, list[float] | None]]:
    """Draw one clean frame; return (vehicle, plate box, silhouette box) in drawing order (far to near)."""
    w = cam.width
    pan = round(cam.f * ((float(ego.heading[gi]) - scene.heading0 + math.pi) % (2 * math.pi) - math.pi))
    off = pan % (scene.panorama.shape[1] - w)
    frame[: scene.ground_top] = scene.panorama[:, off : off + w]
    s = float(ego.s[gi])
    for band in scene.bands:
        band.draw(frame, s)
    r0, r1 = scene.fog_rows
    far = frame[r0:r1].astype(np.float32)
    frame[r0:r1] = (far * (1 - scene.fog) + scene.haze * scene.fog).astype(np.uint8)
    items: list[tuple[float, int, int]] = []  # (distance, 0 prop / 1 vehicle, index)
    lo, hi = np.searchsorted(scene.prop_z, [s + 1.0, s + _FAR_Z])
    items.extend((scene.props[k].z - s, 0, int(k)) for k in range(lo, hi))
    for k in range(len(traffic.vehicles)):
        d = float(traffic.d[k, i])
        if -traffic.vehicles[k].body.length < d < _FAR_Z:
            items.append((d, 1, k))
    items.sort(key=lambda it: -it[0])
    drawn = []
    for z, kind, k in items:
        if kind == 0:
            _draw_prop(frame, cam, scene.props[k], z)
        else:
            plate, sil = _draw_vehicle(frame, cam, traffic.vehicles[k], float(traffic.x[k, i]), z)
            drawn.append((k, plate, sil))
    hood_rows = frame[scene.hood_top :]
    np.copyto(hood_rows, scene.hood, where=scene.hood_mask)
    return drawn


def _transform_box(m: np.ndarray | None, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    if m is None:
        return box
    x1, y1, x2, y2 = box
    pts = np.array([[x1, y1, 1], [x2, y1, 1], [x1, y2, 1], [x2, y2, 1]], np.float64) @ m.T
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))


def _record(
    sightings: list[_Sighting],
    drawn: list[tuple[int, tuple[int, int, int, int] | None, list[float] | None]],
    cam: _Camera,
    traffic: _Traffic,
    scene: _Scene,
    m: np.ndarray | None,
    i: int,
    fps: int,
    good: bool,
) -> None:
    """Add one frame to the truth: plates on screen (inside the frame, above the bonnet, not covered
    by a vehicle drawn after them), and whether a plate left through a side while getting closer."""
    t = round(i / fps, 4)
    w, h = cam.width, cam.height
    for pos, (k, plate, sil) in enumerate(drawn):
        if plate is None or sil is None:
            continue
        px1, py1, px2, py2 = _transform_box(m, (float(plate[0]), float(plate[1]), float(plate[2]), float(plate[3])))
        if py2 - py1 < _MIN_BOX_PX:
            continue
        if px1 < 0 or py1 < 0 or px2 > w or py2 > h:
            d_now = float(traffic.d[k, i])
            if (px1 < 0 or px2 > w) and d_now < 15 and i > 0 and d_now < float(traffic.d[k, i - 1]):
                sightings[k].exit_side = True
            continue
        if py2 > scene.hood_top:
            continue
        covered = False
        for _, _, other in drawn[pos + 1 :]:
            if (
                other is not None
                and other[0] < plate[2]
                and plate[0] < other[2]
                and other[1] < plate[3]
                and plate[1] < other[3]
            ):
                covered = True
                break
        if covered:
            continue
        sx1, sy1, sx2, sy2 = _transform_box(m, (sil[0], sil[1], sil[2], sil[3]))
        rec = sightings[k]
        rec.exit_side = False
        rec.boxes.append([t, round(px1, 1), round(py1, 1), round(px2, 1), round(py2, 1)])
        rec.vehicle_boxes.append(
            [t, round(max(sx1, 0.0), 1), round(max(sy1, 0.0), 1), round(min(sx2, w), 1), round(min(sy2, h), 1)]
        )
        rec.distances.append(float(traffic.d[k, i]))
        if good:
            rec.good_heights.append(int(round(py2 - py1)))


def _render_video(
    path: Path,
    start: datetime,
    cam: _Camera,
    ego: _Ego,
    traffic: _Traffic,
    scene: _Scene,
    effects: _Effects,
    stamp: _Overlay | None,
    fps: int,
    n_frames: int,
) -> list[_Sighting]:
    sightings = [_Sighting([], [], [], []) for _ in traffic.vehicles]
    tmp = path.with_name(path.name + ".part")
    frame = np.empty((cam.height, cam.width, 3), np.uint8)
    with av.open(str(tmp), mode="w", format="mp4") as container:
        container.metadata["creation_time"] = start.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = cam.width, cam.height, "yuv420p"
        stream.options = dict(_X264)
        ctx = stream.codec_context
        ctx.time_base = Fraction(1, fps)
        ctx.gop_size = fps
        ctx.thread_type, ctx.thread_count = "FRAME", 0  # frame threads: x264 works while the next frame is drawn
        ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = 6, 6, 6, 1  # BT.601, limited
        for i in range(n_frames):
            gi = ego.first_clip_index + i
            drawn = _compose(frame, cam, scene, ego, traffic, gi, i)
            out: np.ndarray = frame
            shake = effects.shake.get(i)
            if shake is not None:
                out = _shake(out, *shake)
            gain = float(effects.gain[i])
            if gain < 1.0:
                out = cv2.convertScaleAbs(out, alpha=gain)
            add, sub = effects.noise[i % len(effects.noise)]
            out = cv2.subtract(cv2.add(out, add), sub)
            if stamp is not None:
                _burn_overlay(out, stamp, start + timedelta(seconds=i // fps), float(ego.v[gi]))
            good = shake is None and gain == 1.0
            _record(sightings, drawn, cam, traffic, scene, None if shake is None else shake[0], i, fps, good)
            yuv: np.ndarray = cv2.cvtColor(out, cv2.COLOR_BGR2YUV_I420)
            vf = av.VideoFrame.from_ndarray(yuv.astype(np.uint8, copy=False), format="yuv420p")
            vf.pts = i
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)
    return sightings


# ---------------------------------------------------------------- truth


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _overlay_truth(stamp: _Overlay) -> dict[str, Any]:
    return {"edge": "top" if stamp.top else "bottom", "speed_unit": "mph" if stamp.mph else "km/h", "name": stamp.name}


def _truth(
    seed: int,
    start: datetime,
    cam: _Camera,
    fps: int,
    n_frames: int,
    segments: _Segments,
    ego: _Ego,
    fixes: list[_Fix],
    traffic: _Traffic,
    sightings: list[_Sighting],
    files: SampleFiles,
    stamp: _Overlay | None,
) -> dict[str, Any]:
    ego_rows = []
    for i in range(n_frames):
        gi = ego.first_clip_index + i
        ego_rows.append(
            {
                "t_s": round(i / fps, 4),
                "lat": round(float(ego.lat[gi]), 8),
                "lon": round(float(ego.lon[gi]), 8),
                "speed_mps": round(float(ego.v[gi]), 3),
                "course_deg": round(math.degrees(float(ego.heading[gi])) % 360.0, 2),
            }
        )
    plates: list[dict[str, Any]] = []
    for veh, rec in zip(traffic.vehicles, sightings, strict=True):
        if not rec.boxes:
            continue
        frac = veh.plate.style.char_frac
        good = sum(1 for hgt in rec.good_heights if hgt * frac >= _READ_CHAR_PX)
        closer = rec.distances[-1] < rec.distances[0]
        motion = "passing" if rec.exit_side else ("approaching" if closer else "receding")
        plates.append(
            {
                "text": veh.plate.text,
                "display": veh.plate.display,
                "style": veh.plate.style.name,
                "readable": good >= _READ_MIN_FRAMES,
                "visible": [rec.boxes[0][0], rec.boxes[-1][0]],
                "motion": motion,
                "max_height_px": int(round(max(b[4] - b[2] for b in rec.boxes))),
                "readable_frames": good,
                "vehicle": {"kind": veh.body.kind, "color": veh.color_name},
                "boxes": rec.boxes,
                "vehicle_boxes": rec.vehicle_boxes,
            }
        )
    plates.sort(key=lambda p: p["visible"][0])

    def seg(value: tuple[float, float] | None) -> list[float] | None:
        return None if value is None else [value[0], value[1]]

    return {
        "schema": 1,
        "seed": seed,
        "start_utc": _iso(start),
        "fps": fps,
        "frames": n_frames,
        "width": cam.width,
        "height": cam.height,
        "duration_s": round(n_frames / fps, 4),
        "video": files.video.name,
        "nmea": files.nmea.name,
        "camera": {"focal_px": round(cam.f, 3), "horizon_y": round(cam.yh, 3), "height_m": cam.hc},
        "segments": {"stop": seg(segments.stop), "dark": seg(segments.dark), "shake": seg(segments.shake)},
        "overlay": None if stamp is None else _overlay_truth(stamp),
        "gps": {"first_utc": _iso(fixes[0].time), "last_utc": _iso(fixes[-1].time), "fixes": len(fixes)},
        "ego": ego_rows,
        "readable_rule": {"min_char_height_px": _READ_CHAR_PX, "min_frames": _READ_MIN_FRAMES},
        "plates": plates,
    }
