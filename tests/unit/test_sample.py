"""The synthetic clip is a fixture for the whole pipeline: its files must be what its truth says."""

from __future__ import annotations

import itertools
import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import cv2
import numpy as np
import pynmea2
import pytest

from dashpipe.sample import SampleFiles, load_truth, plate_image, render_sample

SECONDS, FPS, WIDTH, HEIGHT, SEED = 8.0, 15, 640, 360, 7


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> SampleFiles:
    return render_sample(tmp_path_factory.mktemp("clip"), SECONDS, SEED, width=WIDTH, height=HEIGHT, fps=FPS)


@pytest.fixture(scope="module")
def truth(clip: SampleFiles) -> dict:
    return load_truth(clip.truth)


@pytest.fixture(scope="module")
def frames(clip: SampleFiles) -> list[np.ndarray]:
    with av.open(str(clip.video)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _luma(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _frame_at(frames: list[np.ndarray], t: float) -> np.ndarray:
    return frames[min(len(frames) - 1, max(0, round(t * FPS)))]


def test_files_are_named_like_a_dashcam(clip: SampleFiles, truth: dict) -> None:
    stem = clip.video.name.removesuffix(".mp4")
    assert re.fullmatch(r"\d{4}_\d{4}_\d{6}_F", stem)
    assert clip.nmea.name == f"{stem}.nmea"
    assert clip.truth.name == f"{stem}.truth.json"
    assert datetime.strptime(stem, "%Y_%m%d_%H%M%S_F").replace(tzinfo=timezone.utc) == _utc(truth["start_utc"])


def test_video_decodes_with_the_promised_timing(clip: SampleFiles, truth: dict) -> None:
    with av.open(str(clip.video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == FPS
        creation = container.metadata["creation_time"]
        pts = [(f.pts if f.pts is not None else -1, f.width, f.height, f.format.name) for f in container.decode(stream)]
        time_base = stream.time_base
    assert time_base is not None
    assert len(pts) == truth["frames"] == round(SECONDS * FPS)
    assert {(w, h) for _, w, h, _ in pts} == {(WIDTH, HEIGHT)}
    assert {fmt for *_, fmt in pts} == {"yuv420p"}
    assert [p * time_base for p, *_ in pts] == [pytest.approx(i / FPS) for i in range(len(pts))]
    assert creation.endswith("Z")
    assert datetime.fromisoformat(creation.replace("Z", "+00:00")) == _utc(truth["start_utc"])


def test_nmea_log_is_valid_and_outlasts_the_clip(clip: SampleFiles, truth: dict) -> None:
    lines = clip.nmea.read_text().splitlines()
    msgs = [pynmea2.parse(line, check=True) for line in lines]  # raises on a bad checksum
    rmc = [m for m in msgs if m.sentence_type == "RMC"]
    gga = [m for m in msgs if m.sentence_type == "GGA"]
    assert len(rmc) == len(gga) == truth["gps"]["fixes"]
    start = _utc(truth["start_utc"])
    times = [m.datetime for m in rmc]
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(times))
    assert times[0] <= start - timedelta(seconds=20)
    assert times[-1] >= start + timedelta(seconds=truth["duration_s"] + 20)
    assert all(m.status == "A" for m in rmc)
    assert all(abs(m.latitude) < 61 for m in rmc)


def test_gps_positions_follow_speed(clip: SampleFiles) -> None:
    rmc = [m for m in map(pynmea2.parse, clip.nmea.read_text().splitlines()) if m.sentence_type == "RMC"]
    total = expected = 0.0
    for a, b in itertools.pairwise(rmc):
        lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
        dlon = math.radians(b.longitude - a.longitude)
        hav = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        dist = 2 * 6371008.8 * math.asin(math.sqrt(hav))
        speeds = sorted(m.spd_over_grnd * 1852 / 3600 for m in (a, b))
        # between two fixes the speed stays within the two (a stop is reached at most once in a second)
        assert speeds[0] * 0.97 - 0.3 <= dist <= speeds[1] * 1.03 + 0.3
        total += dist
        expected += sum(speeds) / 2
    assert total == pytest.approx(expected, rel=0.03)


def test_ego_stands_still_during_the_stop_in_gps_and_truth(clip: SampleFiles, truth: dict) -> None:
    t0, t1 = truth["segments"]["stop"]
    start = _utc(truth["start_utc"])
    inside = [e for e in truth["ego"] if t0 <= e["t_s"] <= t1]
    assert inside and all(e["speed_mps"] == 0 for e in inside)
    assert max(e["speed_mps"] for e in truth["ego"]) > 3
    rmc = [m for m in map(pynmea2.parse, clip.nmea.read_text().splitlines()) if m.sentence_type == "RMC"]
    during = [m for m in rmc if t0 <= (m.datetime - start).total_seconds() <= t1]
    moving = [m for m in rmc if not t0 - 3 <= (m.datetime - start).total_seconds() <= t1 + 3]
    assert during and all(m.spd_over_grnd == 0 for m in during)
    assert moving and all(m.spd_over_grnd > 0 for m in moving)


def test_stop_frames_differ_only_by_sensor_noise(truth: dict, frames: list[np.ndarray]) -> None:
    t0, t1 = truth["segments"]["stop"]
    a, b = _luma(_frame_at(frames, t0 + 0.2)), _luma(_frame_at(frames, t1 - 0.2))
    still = float(np.mean(cv2.absdiff(a, b)))
    troubled = (truth["segments"]["dark"], truth["segments"]["shake"])
    clean = [
        e
        for e in truth["ego"]
        if e["t_s"] + 0.5 < truth["duration_s"] and not any(s[0] - 0.95 <= e["t_s"] <= s[1] + 0.45 for s in troubled)
    ]
    fastest = max(clean, key=lambda e: e["speed_mps"])
    assert fastest["speed_mps"] > 1
    c, d = _luma(_frame_at(frames, fastest["t_s"])), _luma(_frame_at(frames, fastest["t_s"] + 0.5))
    assert 0 < still < 3.0
    assert float(np.mean(cv2.absdiff(c, d))) > 2 * still


def test_dark_stretch_is_dark(truth: dict, frames: list[np.ndarray]) -> None:
    t0, t1 = truth["segments"]["dark"]
    dark = _luma(_frame_at(frames, (t0 + t1) / 2))
    assert np.percentile(dark, 99) < 30
    lit = [e["t_s"] for e in truth["ego"] if not t0 - 1 <= e["t_s"] <= t1 + 1]
    assert np.percentile(_luma(_frame_at(frames, lit[len(lit) // 2])), 99) > 120


def test_shake_stretch_is_blurrier_than_its_neighbours(truth: dict, frames: list[np.ndarray]) -> None:
    t0, t1 = truth["segments"]["shake"]

    def sharpness(t: float) -> float:
        return float(cv2.Laplacian(_luma(_frame_at(frames, t)), cv2.CV_64F).var())

    shaken = max(sharpness(t0 + 0.25), sharpness((t0 + t1) / 2), sharpness(t1 - 0.25))
    neighbours = min(sharpness(t0 - 0.5), sharpness(t1 + 0.5))
    assert shaken < 0.5 * neighbours


def test_segments_are_apart_and_inside_the_clip(truth: dict) -> None:
    spans = sorted(truth["segments"].values())
    assert len(spans) == 3
    assert spans[0][0] >= 0 and spans[-1][1] <= truth["duration_s"]
    assert all(b[0] - a[1] >= 1.0 for a, b in itertools.pairwise(spans))


def test_plates_have_boxes_inside_the_frame(truth: dict) -> None:
    plates = truth["plates"]
    assert plates
    assert len({p["text"] for p in plates}) == len(plates)
    for p in plates:
        assert re.fullmatch(r"[A-Z0-9]{5,9}", p["text"])
        assert "".join(c for c in p["display"] if c.isalnum()) == p["text"]
        assert p["motion"] in {"approaching", "receding", "passing"}
        assert p["boxes"] and len(p["boxes"]) == len(p["vehicle_boxes"])
        assert p["visible"] == [p["boxes"][0][0], p["boxes"][-1][0]]
        for (t, x1, y1, x2, y2), (tv, vx1, vy1, vx2, vy2) in zip(p["boxes"], p["vehicle_boxes"], strict=True):
            assert t == tv and 0 <= t < truth["duration_s"]
            assert 0 <= x1 < x2 <= WIDTH and 0 <= y1 < y2 <= HEIGHT
            assert vx1 <= x1 and vy1 <= y1 and x2 <= vx2 and y2 <= vy2  # the plate is on its vehicle
        if p["readable"]:
            assert p["readable_frames"] >= truth["readable_rule"]["min_frames"]


def test_plate_boxes_hold_a_light_plate_with_dark_ink(truth: dict, frames: list[np.ndarray]) -> None:
    troubled = (truth["segments"]["dark"], truth["segments"]["shake"])
    checked = 0
    for p in truth["plates"]:
        clear = [b for b in p["boxes"] if not any(s[0] - 0.5 <= b[0] <= s[1] + 0.5 for s in troubled)]
        if not clear:
            continue
        t, x1, y1, x2, y2 = max(clear, key=lambda b: b[4] - b[2])
        if y2 - y1 < 8:
            continue
        crop = _luma(_frame_at(frames, t))[round(y1) : round(y2), round(x1) : round(x2)]
        assert np.percentile(crop, 90) > 140 and np.percentile(crop, 5) < 90
        checked += 1
    assert checked


def test_same_seed_same_clip_other_seed_other_clip(tmp_path: Path, truth: dict) -> None:
    again = load_truth(render_sample(tmp_path / "a", SECONDS, SEED, width=WIDTH, height=HEIGHT, fps=FPS).truth)
    other = load_truth(render_sample(tmp_path / "b", SECONDS, SEED + 1, width=WIDTH, height=HEIGHT, fps=FPS).truth)
    assert again == truth
    assert other["start_utc"] != truth["start_utc"]
    assert other["segments"] != truth["segments"]
    assert {p["text"] for p in other["plates"]} != {p["text"] for p in truth["plates"]}


def test_short_clip_has_no_segments(tmp_path: Path) -> None:
    files = render_sample(tmp_path, 2.0, 1, width=160, height=90, fps=10)
    short = load_truth(files.truth)
    assert short["frames"] == 20
    assert short["segments"] == {"stop": None, "dark": None, "shake": None}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seconds": 0.0}, "seconds"),
        ({"width": 641}, "even"),
        ({"height": 32}, "at least 64"),
        ({"fps": 0}, "fps"),
    ],
)
def test_rejects_impossible_settings(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_sample(tmp_path, **{"seconds": 1.0, **kwargs})


def test_the_burned_in_clock_is_on_one_edge_away_from_the_plates_and_bright_in_the_dark(
    tmp_path: Path, clip: SampleFiles, truth: dict, frames: list[np.ndarray]
) -> None:
    plain = render_sample(tmp_path, SECONDS, SEED, width=WIDTH, height=HEIGHT, fps=FPS, overlay=False)
    assert load_truth(plain.truth)["overlay"] is None
    stamp = truth["overlay"]
    assert stamp["edge"] in ("top", "bottom") and stamp["speed_unit"] in ("km/h", "mph")
    with av.open(str(plain.video)) as container:
        bare = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    band = slice(0, HEIGHT // 8) if stamp["edge"] == "top" else slice(HEIGHT - HEIGHT // 8, HEIGHT)
    for i in (0, len(frames) // 2, len(frames) - 1):
        diff = _luma(cv2.absdiff(frames[i], bare[i])) > 40
        assert diff[band].sum() > 50  # the text is there ...
        outside = diff.copy()
        outside[band] = False
        if stamp["name"] is not None:  # ... the camera's name on the other edge
            outside[: HEIGHT // 8] = outside[HEIGHT - HEIGHT // 8 :] = False
        assert outside.sum() == 0  # ... and nowhere else
    for plate in truth["plates"]:
        for _, _, y1, _, y2 in plate["boxes"]:
            assert y2 < HEIGHT - HEIGHT // 8 and y1 > HEIGHT // 8
    t0, t1 = truth["segments"]["dark"]
    dark = _luma(_frame_at(frames, (t0 + t1) / 2))
    assert np.percentile(dark[band], 99.5) > 150  # burned in after the exposure
    assert np.percentile(dark[HEIGHT // 4 : HEIGHT // 2], 99.5) < 30


def test_a_plate_image_is_drawn_in_its_style_and_an_unknown_style_is_named():
    nl = plate_image("nl", "P-717-GH")
    assert nl.shape[1] > 4 * nl.shape[0]  # a European plate is long and low
    blue = (nl[:, :, 0] > 120) & (nl[:, :, 2] < 60)
    assert blue[:, : nl.shape[1] // 8].mean() > 0.5  # the country band at the left
    assert not blue[:, nl.shape[1] // 4 :].any()
    with pytest.raises(ValueError, match=r"'xx'.*nl"):
        plate_image("xx", "ABC123")
