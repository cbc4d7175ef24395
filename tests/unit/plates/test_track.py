"""Tracking on synthetic box sequences: big jumps between kept frames, crossing plates, gaps, merges."""

from dashpipe.config import PlateSettings
from dashpipe.plates.track import _Track as Track
from dashpipe.plates.track import build_tracks, match_cost, merge_tracks

from .conftest import read

CFG = PlateSettings(track_max_gap_s=1.5, min_confidence=0.0)
FPS = 4.0  # kept frames per second


def box(cx: float, cy: float, w: float) -> tuple[float, float, float, float]:
    return (cx - w / 2, cy - w / 8, cx + w / 2, cy + w / 8)


def texts(track: tuple) -> set[str]:
    return {r.text for r in track}


def test_a_close_plate_jumping_several_widths_per_frame_stays_one_track() -> None:
    # overtaken car: the plate grows and sweeps across the frame, ~3 plate widths per kept frame
    fast = [read("ABC1234", t=i / FPS, box=box(200 + 330 * i, 600 - 20 * i, 110 + 12 * i)) for i in range(6)]
    far = [read("XYZ987", t=i / FPS, box=box(960 + 3 * i, 500, 60)) for i in range(6)]
    tracks = build_tracks(fast + far, CFG)
    assert len(tracks) == 2
    assert sorted(len(t) for t in tracks) == [6, 6]
    assert all(len(texts(t)) == 1 for t in tracks)


def test_crossing_plates_keep_their_own_reads() -> None:
    reads = []
    for i in range(7):
        t = i / FPS
        reads.append(read("KTE268", t=t, box=box(400 + 150 * i, 500, 120)))  # left to right
        reads.append(read("MSH861", t=t, box=box(1300 - 150 * i, 505, 120)))  # right to left
    tracks = build_tracks(reads, CFG)
    assert len(tracks) == 2
    assert [texts(t) for t in tracks] in ([{"KTE268"}, {"MSH861"}], [{"MSH861"}, {"KTE268"}])


def test_misreads_stay_in_the_track() -> None:
    seq = ["ABC1234", "A8C1234", "ABC1234", "ABC124", "ABC1Z34"]
    reads = [read(s, t=i / FPS, box=box(500 + 80 * i, 400, 100 + 5 * i)) for i, s in enumerate(seq)]
    tracks = build_tracks(reads, CFG)
    assert len(tracks) == 1 and len(tracks[0]) == 5


def test_a_far_jump_starts_a_new_track_merged_back_by_text_but_one_frame_never_merges() -> None:
    reads = [read("ABC123", t=0.0, box=box(200, 400, 100)), read("ABC123", t=0.25, box=box(1700, 400, 100))]
    assert len(build_tracks(reads, PlateSettings(track_max_gap_s=1.5))) == 1  # joined later by the merge
    same_frame = [read("ABC123", t=0.0, box=box(200, 400, 100)), read("ABC123", t=0.0, box=box(1700, 400, 100))]
    assert len(build_tracks(same_frame, CFG)) == 2


def test_one_plate_outlined_twice_in_a_frame_is_one_track() -> None:
    # The detector gave a tight box and a taller one taking in the state name; both read the plate.
    reads = [read("AYX8803", t=i / FPS, box=box(680, 200, 70)) for i in range(4)]
    reads += [read("4AYX8803", t=i / FPS, box=(645.0, 188.0, 730.0, 205.0)) for i in (2, 3)]
    assert len(build_tracks(reads, CFG)) == 1
    apart = [read("AYX8803", t=i / FPS, box=box(680, 200, 70)) for i in range(4)]
    apart += [read("AYX8803", t=i / FPS, box=box(1400, 300, 70)) for i in (2, 3)]
    assert len(build_tracks(apart, CFG)) == 2  # the same text at two places at once: two plates


def test_one_plate_outlined_by_two_wide_boxes_reaching_past_other_sides_is_one_track() -> None:
    # A plate at x 610-760: one box takes in the badge on its left, the other a lamp on its right.
    # Their centres lie over a plate width apart and they overlap little (IoU 0.12), but a third of the
    # smaller box lies in the other: no two plates stand there.
    left = [read("EMR7094", t=i / FPS, box=(351.0, 276.0 + i, 759.0, 358.0 + i)) for i in range(5)]
    right = [read("EMR7094", t=i / FPS, box=(613.0, 233.0 + i, 1118.0, 388.0 + i)) for i in (2, 3, 4)]
    tracks = build_tracks(left + right, CFG)
    assert len(tracks) == 1 and len(tracks[0]) == 8


def test_a_track_ends_after_the_gap_and_the_same_text_is_merged_back() -> None:
    first = [read("ABC1234", t=i / FPS, box=box(500, 400, 100)) for i in range(4)]
    later = [read("ABC1234", t=5.0 + i / FPS, box=box(900, 420, 100)) for i in range(4)]
    other = [read("QRS555", t=5.0 + i / FPS, box=box(500, 400, 100)) for i in range(4)]
    tracks = build_tracks(first + later + other, CFG)
    assert len(tracks) == 2
    merged = next(t for t in tracks if "ABC1234" in texts(t))
    assert len(merged) == 8 and merged[0].t_s == 0.0 and merged[-1].t_s == 5.75


def test_overlapping_tracks_with_similar_text_are_not_merged() -> None:
    a = [read("ABC1234", t=i / FPS, box=box(300, 400, 100)) for i in range(8)]
    b = [read("ABC1284", t=i / FPS, box=box(1500, 400, 100)) for i in range(8)]
    assert len(merge_tracks([a, b], CFG)) == 2


def test_near_identical_texts_without_overlap_merge() -> None:
    a = [read("ABC1234", t=i / FPS) for i in range(4)]
    b = [read("ABC1284", t=3.0 + i / FPS) for i in range(1)] + [read("ABC1234", t=3.5 + i / FPS) for i in range(3)]
    c = [read("ZZZ999", t=8.0)]
    merged = merge_tracks([a, b, c], CFG)
    assert [len(t) for t in merged] == [8, 1]


def test_prediction_follows_velocity_and_growth() -> None:
    track = Track()
    track.add(read("ABC123", t=0.0, box=box(100, 300, 100)))
    track.add(read("ABC123", t=0.25, box=box(400, 300, 120)))
    predicted, known = track.predict(0.5)
    assert known
    assert abs(predicted.center[0] - 700) < 1e-6
    assert 140 < predicted.width < 148  # 120 * (120/100)


def test_gate_rejects_a_far_read_and_a_confident_different_text() -> None:
    track = Track()
    track.add(read("ABC123", t=0.0, box=box(100, 300, 100)))
    assert match_cost(track, read("ABC123", t=0.25, box=box(1500, 300, 100))) is None
    assert match_cost(track, read("XYZ987", t=0.25, box=box(130, 300, 100))) is None
    near = match_cost(track, read("ABC123", t=0.25, box=box(150, 300, 100)))
    assert near is not None and near < 0


def test_a_sure_read_does_not_take_over_a_stale_unsure_guess_of_another_text() -> None:
    guess = Track()
    guess.add(read("3XX5AR0", 0.6, t=0.0, box=box(200, 600, 100)))
    # well after it, a plate comes in at the same place: not the guess's plate
    assert match_cost(guess, read("YA10TBV", 0.99, t=1.25, box=box(230, 610, 110))) is None
    # right after it, it is the same plate seen closer (a far plate's first read is often a guess)
    assert match_cost(guess, read("YA10TBV", 0.99, t=0.25, box=box(230, 610, 110))) is not None
    # and an unsure read of another text may still join later
    assert match_cost(guess, read("YA1OT8V", 0.6, t=1.25, box=box(230, 610, 110))) is not None


def test_a_short_sure_read_of_texture_does_not_lead_a_plate_into_its_track() -> None:
    grille = Track()
    grille.add(read("YTTOT", 0.5, t=0.0, box=box(1200, 450, 200)))
    grille.add(read("SYO", 0.86, t=0.1, box=box(1190, 455, 240)))
    # a sure plate read nearby: three letters that stand nowhere in it are no piece of it
    assert match_cost(grille, read("AS942QD", 0.99, t=0.3, box=box(1230, 460, 150))) is None
    # while a three-letter piece of a plate still joins that plate's track
    plate = Track()
    plate.add(read("AS9", 0.99, t=0.0, box=box(1200, 450, 140)))
    assert match_cost(plate, read("AS942QD", 0.99, t=0.1, box=box(1210, 452, 150))) is not None


def test_every_read_lands_in_exactly_one_track() -> None:
    reads = [read(f"P{i % 3}X{i}", t=i * 0.3, box=box(100 + 400 * (i % 3), 300, 90)) for i in range(12)]
    tracks = build_tracks(reads, CFG)
    assert sorted(r.t_s for t in tracks for r in t) == sorted(r.t_s for r in reads)
    assert all(list(t) == sorted(t, key=lambda r: r.t_s) for t in tracks)


def test_interleaved_partial_reads_of_one_plate_are_one_track():
    """A plate whose first characters are cut off in some frames: the two texts, one place, one plate."""
    from dashpipe.config import PlateSettings
    from dashpipe.plates.track import merge_tracks
    from dashpipe.types import BBox, CropQuality, PlateRead

    q = CropQuality(sharpness=300.0, height_px=30.0, brightness=120.0, contrast=60.0)

    def read(i: int, text: str, dx: float = 0.0) -> PlateRead:
        return PlateRead(
            frame_index=i,
            t_s=i / 30,
            box=BBox(x1=500 + dx + i, y1=400, x2=620 + dx + i, y2=430),
            text=text,
            confidence=0.95,
            quality=q,
        )

    full = [read(i, "LP465RZ") for i in (0, 16, 32)]
    cut = [read(i, "465RZ", 10) for i in (8, 24, 40)]
    elsewhere = [read(i, "465RZ", 900) for i in (8, 24, 40)]  # the same text far away: another plate
    cfg = PlateSettings(min_chars=4)
    assert len(merge_tracks([full, cut], cfg)) == 1
    assert len(merge_tracks([full, elsewhere], cfg)) == 2


def test_a_narrow_partial_read_amid_jittery_widths_joins_its_plate() -> None:
    # A slowly receding plate whose detected width jitters by a tenth; one frame reads only part of it
    # on a box two thirds as wide. Judged from the last two widths alone the plate would be growing fast.
    widths = [99, 117, 0, 109, 104, 111]
    reads = [
        read("DN54BEL", 1.0, t=i / FPS, box=box(940, 610, w))
        for i, w in enumerate(widths)
        if w  # the gap is the partial read's frame
    ]
    partial = read("DN54E", 0.97, t=2 / FPS, box=(881, 606, 949, 627))
    tracks = build_tracks([*reads, partial], CFG)
    assert len(tracks) == 1
    assert texts(tracks[0]) == {"DN54BEL", "DN54E"}


def test_a_stray_read_in_a_partial_track_does_not_keep_it_apart() -> None:
    # The plate enters at the left edge (only its end is read), a read of texture lands in the same
    # frame and joins the later, full reads: the stray read's frame does not prove two plates.
    edge = [read("NV56", 1.0, t=0.0, box=(18, 668, 114, 703)), read("5RNV56", 1.0, t=0.1, box=(0, 658, 158, 690))]
    stray = read("ONO", 0.6, t=0.0, box=(300, 400, 360, 420))
    full = [read("5RNV56", 1.0, t=0.55 + i / FPS, box=box(230 + 60 * i, 630, 128)) for i in range(4)]
    merged = merge_tracks([edge, [stray, *full]], CFG)
    assert len(merged) == 1
