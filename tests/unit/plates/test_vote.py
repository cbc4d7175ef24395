"""Per-character voting over aligned reads beats picking the most frequent whole string."""

import random

import pytest

from dashpipe.config import PlateSettings
from dashpipe.plates import vote as vote_module
from dashpipe.plates.text import ALNUM
from dashpipe.plates.vote import most_frequent, vote
from dashpipe.types import CropQuality

from .conftest import read

CFG = PlateSettings(min_confidence=0.0)


def test_one_error_per_read_everywhere_different() -> None:
    reads = [read(t) for t in ("7A8C123", "7ABC128", "ZABC123", "7ABC1Z3", "7ABCI23")]
    assert most_frequent(reads) != "7ABC123"  # no two strings agree: the baseline picks a wrong one
    got = vote(reads, CFG)
    assert got.text == "7ABC123"
    assert 0.5 < got.confidence < 1.0
    assert got.histogram == {"7A8C123": 1, "7ABC128": 1, "ZABC123": 1, "7ABC1Z3": 1, "7ABCI23": 1}


def test_dropped_and_extra_characters_do_not_shift_the_vote() -> None:
    reads = [read(t) for t in ("ABC1234", "ABC234", "ABC12345", "AB1234", "XABC1234")]
    assert vote(reads, CFG).text == "ABC1234"


def test_character_confidence_decides_a_split_position() -> None:
    sure = read("ABC1234", char_conf=(0.9, 0.95, 0.9, 0.9, 0.9, 0.9, 0.9))
    unsure = [read("A8C1234", char_conf=(0.9, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9)) for _ in range(2)]
    assert most_frequent([sure, *unsure]) == "A8C1234"
    assert vote([sure, *unsure], CFG).text == "ABC1234"


def test_better_crops_weigh_more() -> None:
    big = CropQuality(sharpness=1500.0, height_px=80.0, brightness=128.0, contrast=60.0)
    small = CropQuality(sharpness=20.0, height_px=12.0, brightness=40.0, contrast=10.0)
    for reads in (
        [read("KTE268", quality=big), read("KTE26B", quality=small)],
        [read("KTE26B", quality=small), read("KTE268", quality=big)],
    ):
        got = vote(reads, CFG)
        assert got.text == "KTE268"  # same confidence: the better crop decides, whatever the order
        assert got.best.quality == big


def test_best_read_agrees_with_the_winner_and_has_the_best_crop() -> None:
    fine = CropQuality(sharpness=900.0, height_px=70.0, brightness=120.0, contrast=50.0)
    finest_but_wrong = CropQuality(sharpness=2000.0, height_px=90.0, brightness=128.0, contrast=70.0)
    reads = [
        read("ABC123", t=0.0),
        read("ABC123", t=0.3, quality=fine),
        read("XYZ999", t=0.6, quality=finest_but_wrong),
    ]
    got = vote(reads, CFG)
    assert got.text == "ABC123"
    assert got.best.t_s == 0.3


def test_low_confidence_reads_do_not_vote() -> None:
    cfg = PlateSettings(min_confidence=0.5)
    reads = [read("ABC123", 0.9), read("XBC12", 0.2), read("XBC12", 0.2), read("XBC12", 0.2)]
    got = vote(reads, cfg)
    assert got.text == "ABC123"
    assert got.votes == 1
    assert got.histogram["XBC12"] == 3  # still counted in the histogram
    none = vote([read("XBC12", 0.2)], cfg)
    assert none.text == "" and none.confidence == 0.0


def test_voted_text_is_fitted_to_the_formats() -> None:
    cfg = PlateSettings(min_confidence=0.0, formats=("^[A-Z]{3}[0-9]{3}$",))
    reads = [read("A8C123", char_conf=(0.9, 0.5, 0.9, 0.9, 0.9, 0.9)) for _ in range(3)]
    assert vote(reads, cfg).text == "ABC123"


def test_single_read_keeps_its_confidence() -> None:
    got = vote([read("ABC123", 0.8)], CFG)
    assert got.text == "ABC123"
    assert got.confidence == pytest.approx(0.8)


def test_vote_needs_reads() -> None:
    with pytest.raises(ValueError):
        vote([], CFG)


def test_on_random_noise_voting_wins_more_often_than_the_most_frequent_string() -> None:
    rng = random.Random(7)

    def noisy(truth: str) -> str:
        chars = list(truth)
        for _ in range(rng.choice((0, 1, 1, 2))):
            kind, i = rng.random(), rng.randrange(len(chars))
            if kind < 0.6:
                chars[i] = rng.choice(ALNUM)
            elif kind < 0.8 and len(chars) > 4:
                del chars[i]
            else:
                chars.insert(i, rng.choice(ALNUM))
        return "".join(chars)

    voted = frequent = 0
    for _ in range(200):
        truth = "".join(rng.choice(ALNUM) for _ in range(7))
        reads = [read(noisy(truth)) for _ in range(5)]
        voted += vote(reads, CFG).text == truth
        frequent += most_frequent(reads) == truth
    assert voted > frequent + 20


def test_reads_of_a_plate_cut_by_the_frame_edge_lose_to_whole_views():
    from dashpipe.config import PlateSettings
    from dashpipe.plates.vote import vote
    from dashpipe.types import BBox, CropQuality, PlateRead

    q = CropQuality(sharpness=300.0, height_px=30.0, brightness=120.0, contrast=60.0)
    box = BBox(x1=0, y1=400, x2=90, y2=430)
    cut = [
        PlateRead(frame_index=i, t_s=i / 30, box=box, text="465RZ", confidence=0.99, quality=q, clipped=True)
        for i in range(4)
    ]
    whole = [
        PlateRead(frame_index=10 + i, t_s=(10 + i) / 30, box=box, text="LP465RZ", confidence=0.95, quality=q)
        for i in range(2)
    ]
    assert vote(cut + whole, PlateSettings()).text == "LP465RZ"
    assert vote(cut, PlateSettings()).text == "465RZ"  # nothing better seen: the partial read stands


def test_two_partial_views_do_not_outvote_the_whole_read_they_are_parts_of() -> None:
    # A receding plate: one frame read all of it, the others lost its end or misread a glyph there.
    reads = [read("1GGKC", t=0.0), read("1GGK08", t=0.1), read("1GGK", t=0.2)]
    assert vote(reads, CFG).text == "1GGK08"


def test_a_stray_end_character_in_one_read_still_loses_to_the_others() -> None:
    reads = [read("ABC123"), read("ABC123"), read("ABC123"), read("ABC123I")]
    assert vote(reads, CFG).text == "ABC123"


def test_a_read_cut_at_one_end_still_says_where_the_other_end_is() -> None:
    # A passing plate: a small early view read a mark beside it as an extra first character, a larger
    # one read it whole, and the largest was cut at its end by the frame's right edge.
    small = CropQuality(sharpness=300.0, height_px=18.0, brightness=60.0, contrast=30.0)
    large = CropQuality(sharpness=600.0, height_px=32.0, brightness=60.0, contrast=30.0)
    extra = read("ATP375WD", 0.99, t=0.0, quality=small)
    whole = read("TP375WD", 0.99, t=0.6, quality=large)
    assert vote([extra, whole], CFG).text == "ATP375WD"  # one silence beyond a read's start counts little
    cut = read("TP375WD", 1.0, t=0.7, quality=large).model_copy(update={"clipped": True, "cut_at": "end"})
    assert vote([extra, whole, cut], CFG).text == "TP375WD"
    # Its cut end says nothing: a read cut at its start adds no silence before the text.
    cut_start = cut.model_copy(update={"cut_at": "start"})
    assert vote([extra, whole, cut_start], CFG).text == "ATP375WD"


def quality(height_px: float) -> CropQuality:
    return CropQuality(sharpness=800.0, height_px=height_px, brightness=128.0, contrast=60.0)


def test_sure_reads_of_a_glyph_outvote_as_many_larger_unsure_look_alikes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen on a rendered clip: "ZD88KBB" read three times with a sure B, three times with an E at
    0.93-0.96 on the larger crops; the plain weighted vote said E."""
    sure = (1.0,) * 7
    unsure = (1.0,) * 6 + (0.94,)
    reads = [
        read("ZD88KBE", 0.99, t=0.0, char_conf=unsure, quality=quality(52)),
        read("ZD88KBE", 0.99, t=0.3, char_conf=unsure, quality=quality(48)),
        read("ZD88KBB", 1.0, t=0.4, char_conf=sure, quality=quality(44)),
        read("ZD88KBB", 1.0, t=0.7, char_conf=sure, quality=quality(34)),
        read("ZD88KBB", 1.0, t=0.8, char_conf=sure, quality=quality(32)),
        read("ZD88KBE", 0.99, t=0.9, char_conf=unsure, quality=quality(33)),
    ]
    assert vote(reads, PlateSettings()).text == "ZD88KBB"
    monkeypatch.setattr(vote_module, "PICK_SHARPNESS", 1.0)
    assert vote(reads, PlateSettings()).text == "ZD88KBE"  # the plain vote, for contrast


def test_a_lone_reads_unsure_extra_letters_at_an_end_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    # one crop took the country band for "TA", the other, smaller and surer, read the plate alone
    big = CropQuality(sharpness=900.0, height_px=31.0, brightness=110.0, contrast=40.0)
    small = CropQuality(sharpness=700.0, height_px=20.0, brightness=100.0, contrast=35.0)
    band = read("TATP375WD", 0.97, quality=big, char_conf=(0.95, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0))
    plate = read("TP375WD", 0.99, t=0.4, quality=small, char_conf=(0.98, 0.99, 1.0, 1.0, 1.0, 1.0, 0.98))
    trimmed = vote([band, plate], CFG)
    assert trimmed.text == "TP375WD"
    # the doubt stays in the confidence: junk read as "POTYY" and "POTYP" must not become a surer "POTY"
    monkeypatch.setattr(vote_module, "END_CONFIDENCE", 0.0)
    untrimmed = vote([band, plate], CFG)
    assert untrimmed.text == "TATP375WD"
    assert trimmed.confidence == pytest.approx(untrimmed.confidence)
    monkeypatch.undo()
    # sure of every extra letter, the longer read is taken for the whole view (the other one cut short)
    whole = read("TATP375WD", 0.99, quality=big, char_conf=(0.99,) * 9)
    assert vote([whole, plate], CFG).text == "TATP375WD"
    # two reads that outweigh the one without the end character keep it however unsure each was
    ends = [read("XC69VBT", char_conf=(1.0,) * 6 + (0.7,)) for _ in range(2)]
    assert vote([*ends, read("XC69VB", char_conf=(1.0,) * 6)], CFG).text == "XC69VBT"


def test_an_end_character_kept_only_by_the_partial_view_discount_must_be_sure() -> None:
    plain = [read("752ARM", 1.0, char_conf=(1.0,) * 6) for _ in range(3)]
    # two views of five took the state's emblem for a "4": the three without it are no partial views
    emblem = [read("4752ARM", 0.95, char_conf=(c,) + (1.0,) * 6) for c in (0.81, 0.94)]
    assert vote([*plain, *emblem], CFG).text == "752ARM"
    # two sure views of a character the other three missed: they were cut short
    cut = [read("4752ARM", 1.0, char_conf=(1.0,) * 7) for _ in range(2)]
    assert vote([*plain, *cut], CFG).text == "4752ARM"
