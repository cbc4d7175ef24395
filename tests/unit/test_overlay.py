"""Burned-in text found by its edges staying put while the scene moves, and a plate ahead that is not."""

import av
import cv2
import numpy as np
import pytest

from dashpipe.config import PreprocessSettings, Settings
from dashpipe.overlay import MIN_FRAMES, OverlayFinder, covered_area, in_overlay
from dashpipe.runtime import Runtime
from dashpipe.stages.preprocess import OVERLAY_SLOTS, select_frames
from dashpipe.types import BBox, Region
from dashpipe.video import LowFrame

W, H = 480, 270
rng = np.random.default_rng(3)
# edges in a tenth of the picture, as in street scenes
WORLD = cv2.GaussianBlur((rng.random((H, 4 * W)) * 255).astype(np.uint8), (0, 0), 1.0)
STAMP = (20, 250)  # where the clock is drawn: bottom left
(_TW, _TH), _ = cv2.getTextSize("2026/12/01 10:00:00", cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
CLOCK_BOX = BBox(x1=STAMP[0] - 2, y1=STAMP[1] - _TH - 3, x2=STAMP[0] + _TW + 2, y2=STAMP[1] + 4)
SECONDS_BOX = BBox(x1=CLOCK_BOX.x2 - 0.15 * _TW, y1=CLOCK_BOX.y1, x2=CLOCK_BOX.x2, y2=CLOCK_BOX.y2)  # ticking


def plate_image() -> np.ndarray:
    plate = np.full((16, 60), 230, np.uint8)
    cv2.putText(plate, "AB123", (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 20, 1, cv2.LINE_AA)
    return plate


PLATE = plate_image()


def clock_text(i: int) -> str:
    """The camera's clock on kept frame ``i`` (four a second)."""
    return f"2026/12/01 10:{i // 40:02d}:{(i // 4) % 60:02d}"


def burn(img: np.ndarray, text: str, at: tuple[int, int], scale: float = 0.45, stroke: int = 1, rim: int = 4) -> None:
    """Text as a camera burns it in: white strokes in a black rim."""
    cv2.putText(img, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, 0, rim, cv2.LINE_AA)
    cv2.putText(img, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, stroke, cv2.LINE_AA)


def scene(i: int, *, drive: bool = True, clock: bool = True, plate_at: tuple[int, int] | None = None) -> np.ndarray:
    """The world scrolling by (or standing still), a plate ahead, the camera's clock on top."""
    shift = 7 * i if drive else 0
    img = np.ascontiguousarray(np.roll(WORLD, -shift, axis=1)[:, :W])
    if plate_at is not None:
        x, y = plate_at
        img[y : y + PLATE.shape[0], x : x + PLATE.shape[1]] = PLATE
    if clock:
        burn(img, clock_text(i), STAMP)
    return img


def following(i: int) -> tuple[int, int]:
    """A car ahead at the same speed: the plate stays near one place but moves with the road's bumps."""
    return 200 + int(round(2 * np.sin(i * 0.7))), 120 + int(round(1.5 * np.sin(i * 1.3 + 1)))


def find(frames: int, **kw: object) -> tuple[BBox, ...]:
    finder = OverlayFinder()
    for i in range(frames):
        plate_at = following(i) if kw.get("plate") else None
        finder.add(scene(i, drive=bool(kw.get("drive", True)), plate_at=plate_at), i / 4)
    return finder.boxes(4 * W)  # a 1920 px wide frame analysed at 480


def test_the_clock_is_found_while_the_world_moves_and_the_plate_ahead_is_not():
    boxes = find(60, plate=True)
    assert boxes, "no overlay found"
    full = [b.scale(0.25) for b in boxes]  # back to analysis pixels
    # the clock's line is covered, ticking seconds included
    assert in_overlay(CLOCK_BOX, full)
    assert in_overlay(SECONDS_BOX, full)
    # nothing covers the plate ahead, though it stayed within a few pixels all along
    x, y = following(0)
    plate = BBox(x1=x - 3, y1=y - 2, x2=x + 63, y2=y + 18)
    assert not in_overlay(plate, full)
    assert all(b.y1 >= 200 * 4 for b in boxes), boxes


def test_a_camera_that_stood_still_finds_no_overlay():
    """Parked: every edge stays put, the plate's as much as the clock's, so nothing is called an overlay."""
    assert find(60, drive=False, plate=True) == ()


def test_too_few_frames_or_too_short_a_stretch_find_nothing():
    def found(frames: int, step_s: float) -> tuple[BBox, ...]:
        finder = OverlayFinder()
        for i in range(frames):
            finder.add(scene(i), i * step_s)
        return finder.boxes(W)

    assert found(MIN_FRAMES, 1.0)  # enough frames over a long enough stretch
    assert found(MIN_FRAMES - 1, 1.0) == ()
    assert found(40, 1 / 30) == ()  # 1.3 s only


def test_two_seconds_of_driving_are_enough_to_find_the_clock():
    """A short clip (a camera's first segment, an event clip) has its stamp read as plates unless found."""
    boxes = [b.scale(0.25) for b in find(8, plate=True)]  # 2 s at four kept frames a second
    assert in_overlay(CLOCK_BOX, boxes), boxes
    assert in_overlay(SECONDS_BOX, boxes), boxes


def test_digits_ticking_beyond_a_lost_colon_are_covered():
    """In front of a white cloud a clock's thin colon is an edge in only some frames, neither steady nor
    busy, and the line found ends before it; digits that change too often to be a line of their own
    behind it (read as a plate: "41029" for 14:10:29) must still be covered. The colon is left out
    here altogether: a gap of one glyph height."""
    date = "2026/12/01 10:00"
    (tw, th), _ = cv2.getTextSize(date, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    x_digits = STAMP[0] + tw + th
    (dw, _), _ = cv2.getTextSize("00", cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    digits = BBox(x1=x_digits - 2, y1=CLOCK_BOX.y1, x2=x_digits + dw + 2, y2=CLOCK_BOX.y2)
    finder = OverlayFinder()
    for i in range(16):  # a 4 s clip
        img = scene(i, clock=False)
        burn(img, date, STAMP)
        burn(img, f"{(37 * i) % 60:02d}", (x_digits, STAMP[1]))
        finder.add(img, i / 4)
    boxes = [b.scale(0.25) for b in finder.boxes(4 * W)]
    assert in_overlay(digits, boxes), boxes


@pytest.mark.parametrize("frames", [8, 12, 20, 40])
def test_a_plate_ahead_bobbing_in_the_bottom_band_is_not_text(frames: int):
    """Close behind a car at the same speed, its plate sits low in the picture and moves by a pixel or
    two: its strokes' centres keep their edges' sides for a few frames, so that alone proves nothing."""
    for phase in range(0, 40, 4):
        finder = OverlayFinder()
        for i in range(frames):
            x, y = following(i + phase)
            finder.add(scene(i + phase, plate_at=(x, y + 116)), i / 4)
        boxes = [b.scale(0.25) for b in finder.boxes(4 * W)]
        assert not in_overlay(BBox(x1=197, y1=234, x2=263, y2=254), boxes), (phase, boxes)


@pytest.mark.parametrize("frames", [20, 60])
def test_a_parked_camera_under_changing_light_finds_no_overlay(frames: int):
    """Parked, the frames a stage keeps are those where the light changed: grey levels move, but every
    edge keeps its side, the plate's in front as much as the clock's."""
    finder = OverlayFinder()
    for i in range(frames):
        img = scene(i, drive=False, clock=False, plate_at=(200, 236)).astype(np.float32)
        img = np.clip(img * (0.8 + 0.2 * np.sin(i * 0.5)), 0, 255).astype(np.uint8)
        burn(img, clock_text(i), (300, 20))
        finder.add(img, i / 4)
    assert finder.boxes(W) == ()


def test_without_a_clock_nothing_is_found():
    finder = OverlayFinder()
    for i in range(60):
        finder.add(scene(i, clock=False, plate_at=following(i)), i / 4)
    assert finder.boxes(W) == ()


def test_a_road_edge_line_that_stays_put_covers_no_plate_on_it():
    """On a straight road a solid edge line stays on the same pixels too, slanting or level, along the
    edges of the picture where the camera's text is looked for as well: no text."""
    finder = OverlayFinder()
    for i in range(60):
        img = scene(i)
        cv2.line(img, (230, 268), (470, 234), 250, 2, cv2.LINE_AA)  # across the bottom band
        cv2.line(img, (20, 20), (200, 22), 250, 2, cv2.LINE_AA)  # level, in the top band
        finder.add(img, i / 4)
    boxes = [b.scale(0.25) for b in finder.boxes(4 * W)]
    assert in_overlay(CLOCK_BOX, boxes)  # the clock is found beside them
    assert not any(b.intersection(BBox(x1=20, y1=10, x2=200, y2=30)) for b in boxes), boxes
    for cx in (260, 320, 380, 440):
        cy = 268 - (cx - 230) * 34 / 240
        assert not in_overlay(BBox(x1=cx - 30, y1=cy - 8, x2=cx + 30, y2=cy + 8), boxes), (cx, boxes)


CLOUDS = cv2.resize(cv2.GaussianBlur(rng.random((27, 4 * 48)), (0, 0), 3.0), (16 * W, 4 * H))
CLOUDS = (CLOUDS - CLOUDS.mean()) / CLOUDS.std() * 10  # faint drifting texture, in the luma of a 1920 px frame


def over_clouds(i: int, plate_at: tuple[int, int] | None = None) -> np.ndarray:
    """A 1920 px frame with a white clock in a thin black rim at the top, over a sky that turns from blue
    to a white cloud and back every ten seconds, softened as an encoder softens it, and shrunk to the
    analysis width as the decoder's luma is: in front of the cloud the clock all but disappears."""
    level = 90 + 150 * (0.5 - 0.5 * np.cos(2 * np.pi * i / 40))
    big = np.clip(level + CLOUDS[:, 3 * i : 3 * i + 4 * W], 0, 255).astype(np.uint8)
    if plate_at is not None:
        x, y = plate_at
        big[y : y + 4 * PLATE.shape[0], x : x + 4 * PLATE.shape[1]] = cv2.resize(PLATE, None, fx=4, fy=4)
    burn(big, clock_text(i), (40, 70), scale=0.8, stroke=2)
    return cv2.resize(cv2.GaussianBlur(big, (0, 0), 1.0), (W, H), interpolation=cv2.INTER_AREA)


def test_a_clock_over_drifting_clouds_is_found_and_a_plate_ahead_beside_it_is_not():
    """The sky behind the clock swings from blue to white, so its blended pixels neither keep their grey
    level nor stay edges all the time; what they keep is the sign of their edge (brighter or darker than
    around them). A plate ahead that bobs by a pixel or two flips that sign."""
    (tw, th), _ = cv2.getTextSize("2026/12/01 10:00:00", cv2.FONT_HERSHEY_SIMPLEX, 0.8, 2)
    clock = BBox(x1=40, y1=70 - th, x2=40 + tw, y2=72).scale(0.25)
    seconds = BBox(x1=clock.x2 - 0.15 * clock.width, y1=clock.y1, x2=clock.x2, y2=clock.y2)
    finder = OverlayFinder()
    for i in range(80):
        x, y = following(i)
        finder.add(over_clouds(i, plate_at=(4 * (x + 100), 4 * (y - 108))), i / 4)
    boxes = [b.scale(0.25) for b in finder.boxes(4 * W)]
    assert in_overlay(clock, boxes), boxes
    assert in_overlay(seconds, boxes), boxes
    x, y = following(0)
    plate = BBox(x1=x + 97, y1=y - 110, x2=x + 163, y2=y - 92)
    assert not in_overlay(plate, boxes), boxes


def test_steady_lines_in_the_middle_of_the_picture_are_not_text():
    """Cameras write along the top or the bottom edge; in between, what stays put is the road's lines
    and the horizon, however text-like their pieces look."""
    finder = OverlayFinder()
    for i in range(60):
        img = scene(i, clock=False)
        burn(img, clock_text(0), (20, 140))
        finder.add(img, i / 4)
    assert finder.boxes(W) == ()


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        (BBox(x1=10, y1=10, x2=30, y2=20), True),
        (BBox(x1=35, y1=10, x2=55, y2=20), True),  # half in each of two overlays
        (BBox(x1=30, y1=10, x2=70, y2=20), False),  # a quarter in
        (BBox(x1=100, y1=100, x2=120, y2=110), False),
    ],
)
def test_in_overlay_counts_the_share_of_the_box_covered(box: BBox, inside: bool):
    overlays = [BBox(x1=0, y1=0, x2=40, y2=30), BBox(x1=45, y1=0, x2=50, y2=30)]
    assert in_overlay(box, overlays) is inside
    assert not in_overlay(box, [])


class ListedProposer:
    """Proposes the same regions in every frame, as a text finder would on a steady clock."""

    name = "listed"
    colour = False
    width = W

    def __init__(self, *regions: tuple[BBox, float]) -> None:
        self.regions = [Region(label="plate", box=box, score=score) for box, score in regions]

    def propose(self, image: np.ndarray) -> list[Region]:
        return list(self.regions)


PLATE_AHEAD = BBox(x1=200, y1=120, x2=260, y2=136)


def _frames(n: int) -> list[LowFrame]:
    out = []
    for i in range(n):
        img = scene(i, plate_at=following(i))
        bgr = av.VideoFrame.from_ndarray(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR).astype(np.uint8), format="bgr24")
        out.append(LowFrame(index=i, pts_s=i / 4, luma=img, frame=bgr))
    return out


@pytest.mark.parametrize("enabled", [True, False])
def test_preprocess_drops_proposals_on_the_overlay(enabled: bool):
    cfg = PreprocessSettings(keep_fps=4.0, find_overlays=enabled)
    proposer = ListedProposer((CLOCK_BOX, 0.9), (PLATE_AHEAD, 0.8))
    sel = select_frames(_frames(60), cfg, fps=4.0, full_width=W, proposer=proposer)
    assert len(sel.selected) > 40
    labels = {len(f.regions) for f in sel.selected}
    if enabled:
        assert sel.overlays and labels == {1}
        assert all(f.regions[0].box.x1 == 200 for f in sel.selected)
    else:
        assert sel.overlays == () and labels == {2}


@pytest.mark.parametrize("enabled", [True, False])
def test_the_region_limit_counts_after_the_overlay_is_dropped(enabled: bool):
    cfg = PreprocessSettings(keep_fps=4.0, find_overlays=enabled)
    # the clock scored highest: with a limit of two it would push the junk out
    crowded = ListedProposer((CLOCK_BOX, 0.95), (PLATE_AHEAD, 0.8), (BBox(x1=300, y1=60, x2=340, y2=70), 0.3))
    sel = select_frames(_frames(60), cfg, 4.0, W, crowded, region_limit=2)
    scores = {tuple(sorted(r.score for r in f.regions)) for f in sel.selected}
    assert scores == ({(0.3, 0.8)} if enabled else {(0.8, 0.95)})


def test_the_cpu_proposer_is_asked_for_spare_slots_while_overlays_are_looked_for():
    rt = Runtime(Settings())
    assert rt.region_limit == 12
    assert rt.proposer.cfg.max_regions == 12 + OVERLAY_SLOTS  # type: ignore[attr-defined]
    off = Runtime(Settings(preprocess={"find_overlays": False}))
    assert off.proposer.cfg.max_regions == 12  # type: ignore[attr-defined]


def test_overlapping_overlays_are_counted_once():
    box = BBox(x1=0, y1=0, x2=100, y2=10)
    same = [BBox(x1=0, y1=0, x2=30, y2=10), BBox(x1=0, y1=0, x2=30, y2=10), BBox(x1=10, y1=0, x2=35, y2=10)]
    assert covered_area(box, same) == pytest.approx(350.0)
    assert not in_overlay(box, same)
    assert in_overlay(box, [*same, BBox(x1=35, y1=-5, x2=60, y2=20)])
