"""A plate read the same way several times in a row is not read on every later frame."""

import numpy as np

from dashpipe.config import PlateSettings
from dashpipe.plates.vote import vote
from dashpipe.stages.heavy import SETTLE_READS, read_frame
from dashpipe.types import BBox, FrameQuality, OcrResult, Region, SelectedFrame

Q = FrameQuality(brightness=120, bright_p99=250, sharpness=500, motion=5)


class StillPlate:
    """Stand-in detector: the hinted plate, where the hint says."""

    name = "still"

    def detect(self, image, hints):
        return list(hints)


class CountingReader:
    """Stand-in reader that always reads one text, and counts the crops it was shown."""

    name = "counting"

    def __init__(self) -> None:
        self.crops = 0

    def read(self, crops):
        self.crops += len(crops)
        return [OcrResult(text="AB123CD", confidence=0.97, char_confidences=(0.97,) * 7) for _ in crops]


def test_settled_plates_are_read_again_only_now_and_then():
    image = np.full((200, 400, 3), 200, np.uint8)
    reader = CountingReader()
    chains: list = []
    reads = []
    for i in range(20):
        box = BBox(x1=100 + i, y1=80, x2=200 + i, y2=110)
        frame = SelectedFrame(
            index=i * 7, pts_s=i * 0.25, quality=Q, regions=(Region(label="plate", box=box, score=0.9),)
        )
        reads += read_frame(image, frame, StillPlate(), reader, PlateSettings(), chains).reads
    assert len(reads) == 20  # every sighting is kept, with its box and time
    assert SETTLE_READS <= reader.crops < 12  # but most were not read again
    voted = vote(reads, PlateSettings())
    assert voted.text == "AB123CD"
    assert voted.histogram == {"AB123CD": reader.crops}  # the histogram counts real reads only


def test_without_state_every_plate_is_read():
    image = np.full((200, 400, 3), 200, np.uint8)
    reader = CountingReader()
    for i in range(6):
        box = BBox(x1=100, y1=80, x2=200, y2=110)
        frame = SelectedFrame(index=i, pts_s=i * 0.25, quality=Q, regions=(Region(label="plate", box=box, score=0.9),))
        read_frame(image, frame, StillPlate(), reader, PlateSettings())
    assert reader.crops == 6


def test_a_lone_read_stands_only_when_it_is_long_and_sure():
    from dashpipe.stages.heavy import _sure_alone
    from dashpipe.types import CropQuality, PlateRead

    q = CropQuality(sharpness=300.0, height_px=30.0, brightness=120.0, contrast=60.0)
    box = BBox(x1=100, y1=100, x2=200, y2=130)

    def read(text: str, conf: float, weakest: float, clipped: bool = False, height: float = 30) -> PlateRead:
        chars = (conf,) * (len(text) - 1) + (weakest,)
        return PlateRead(
            frame_index=1,
            t_s=0.1,
            box=box.model_copy(update={"y2": box.y1 + height}),
            text=text,
            confidence=conf,
            char_confidences=chars,
            quality=q,
            clipped=clipped,
        )

    cfg = PlateSettings()
    assert _sure_alone([read("AGCR2944", 0.99, 0.95)], cfg, 1920)
    assert not _sure_alone([read("NR31", 0.99, 0.99)], cfg, 1920)  # short: too often a fragment
    assert not _sure_alone([read("AGCR2944", 0.99, 0.6)], cfg, 1920)  # one unsure character
    assert not _sure_alone([read("AGCR2944", 0.99, 0.99, clipped=True)], cfg, 1920)
    assert not _sure_alone([read("AGCR2944", 0.99, 0.99)], PlateSettings(single_read_confidence=1.0), 1920)
    # 100 px from the left side is 3.3 box heights: clear; a picture 260 px wide leaves 60 px on the right
    assert not _sure_alone([read("AGCR2944", 0.99, 0.99)], cfg, 260)
    # a plate 10 px tall has glyphs of about 5 px: sure or not, the reader guesses there
    assert not _sure_alone([read("AGCR2944", 0.99, 0.99, height=10)], cfg, 1920)


def test_a_read_inside_a_larger_read_of_the_same_frame_is_dropped():
    from dashpipe.stages.heavy import drop_nested
    from dashpipe.types import CropQuality, PlateRead

    q = CropQuality(sharpness=500.0, height_px=40.0, brightness=120.0, contrast=50.0)

    def pr(text: str, x1: float, x2: float) -> PlateRead:
        box = BBox(x1=x1, y1=100, x2=x2, y2=130)
        return PlateRead(frame_index=7, t_s=0.2, box=box, text=text, confidence=0.97, char_confidences=(), quality=q)

    cfg = PlateSettings()
    whole, piece, other = pr("9TSL80", 100, 260), pr("9TSL8", 100, 230), pr("AB123", 600, 760)
    assert drop_nested([whole, piece, other], cfg) == [whole, other]
    twin = pr("9TSL80", 100, 260)
    assert len(drop_nested([whole, twin], cfg)) == 1  # two equal boxes: one stays
    # The same text cut tighter is the same plate: the tighter box stands in for the loose one.
    tight = pr("9TSL80", 110, 250)
    assert drop_nested([whole, tight, other], cfg) == [tight, other]


def test_a_vote_is_backed_only_by_reads_that_say_its_text():
    """Texture followed across frames reads differently every time; a plate's reads agree, or are parts of it."""
    from dashpipe.plates.vote import backing
    from dashpipe.types import CropQuality, PlateRead

    q = CropQuality(sharpness=300.0, height_px=30.0, brightness=120.0, contrast=60.0)

    def read(text: str) -> PlateRead:
        return PlateRead(
            frame_index=1,
            t_s=0.1,
            box=BBox(x1=100, y1=100, x2=200, y2=130),
            text=text,
            confidence=0.9,
            char_confidences=(0.9,) * len(text),
            quality=q,
        )

    assert backing([read("EOO99"), read("0999"), read("POP")], "0999", {}) == 1
    assert backing([read("7FKB"), read("7FKB"), read("7FKB71")], "7FKB71", {}) == 3  # cut short is a part
    assert backing([read("A8C123"), read("ABC123")], "ABC123", {}) == 2  # one character off
    assert backing([read("AB0123"), read("ABO123")], "AB0123", {"O": "0"}) == 2
    assert backing([read("XBC1"), read("ABC123")], "ABC123", {}) == 1  # not a part of it


def test_reads_that_agree_back_their_vote_even_when_a_format_changed_it():
    """A format may swap look-alikes every read agreed on (A8C12S4 -> ABC1254); the reads still back it."""
    from dashpipe.types import CropQuality, PlateRead

    q = CropQuality(sharpness=300.0, height_px=30.0, brightness=120.0, contrast=60.0)
    conf = (0.95, 0.6, 0.95, 0.95, 0.95, 0.6, 0.95)
    reads = [
        PlateRead(
            frame_index=i,
            t_s=0.1 * i,
            box=BBox(x1=100, y1=100, x2=200, y2=130),
            text="A8C12S4",
            confidence=0.85,
            char_confidences=conf,
            quality=q,
        )
        for i in range(4)
    ]
    cfg = PlateSettings(region="us")
    voted = vote(reads, cfg, cfg.fold)
    assert voted.text != "A8C12S4"  # the format changed it ...
    assert voted.backing == 4  # ... and every read still backs it


def test_reads_at_the_frames_side_edges_say_which_end_of_the_text_may_be_cut() -> None:
    from dashpipe.stages.heavy import _cut_at

    def cut(x1: float, y1: float, x2: float, y2: float) -> str:
        return _cut_at(BBox(x1=x1, y1=y1, x2=x2, y2=y2), 1920, 1080)

    assert cut(0, 500, 120, 540) == "start"
    assert cut(1800, 500, 1920, 540) == "end"
    assert cut(600, 500, 720, 540) == ""  # inside the frame
    assert cut(0, 1040, 120, 1080) == ""  # a bottom corner: rows may be cut too, so no end is whole
    assert cut(0, 500, 1920, 540) == ""  # both sides


def test_a_us_plate_outside_the_listed_formats_stands_when_its_reads_agree_and_it_mixes_letters_and_digits():
    from dashpipe.stages.heavy import _reportable
    from dashpipe.types import CropQuality, PlateRead

    q = CropQuality(sharpness=300.0, height_px=30.0, brightness=120.0, contrast=60.0)

    def voted(text: str, times: int, cfg: PlateSettings):
        reads = [
            PlateRead(
                frame_index=i,
                t_s=0.1 * i,
                box=BBox(x1=100, y1=100, x2=200, y2=130),
                text=text,
                confidence=0.97,
                char_confidences=(0.97,) * len(text),
                quality=q,
            )
            for i in range(times)
        ]
        return vote(reads, cfg, cfg.fold)

    us = PlateSettings(region="us")
    assert _reportable(voted("ABC1234", 2, us), us)  # a listed format
    assert _reportable(voted("KCS1M", 3, us), us)  # a special plate no format lists, read three times
    assert not _reportable(voted("KCS1M", 2, us), us)  # too few reads say it
    assert not _reportable(voted("TEXAS", 5, us), us)  # a state name: letters only
    assert not _reportable(voted("PROCHEM", 5, us), us)  # a dealer's name, though O folds into 0
    strict = PlateSettings(region="us", off_format_reads=0)
    assert not _reportable(voted("KCS1M", 5, strict), strict)  # the rule off: formats decide


def test_a_detection_on_a_burned_in_overlay_is_not_read():
    """A detector that searches the whole frame (YOLO) finds the camera's clock too: it is left out."""
    image = np.full((200, 400, 3), 200, np.uint8)
    clock = BBox(x1=10, y1=170, x2=200, y2=195)
    plate = BBox(x1=150, y1=80, x2=250, y2=110)
    regions = tuple(Region(label="plate", box=b, score=0.9) for b in (clock, plate))
    frame = SelectedFrame(index=0, pts_s=0.0, quality=Q, regions=regions)
    reader = CountingReader()
    got = read_frame(image, frame, StillPlate(), reader, PlateSettings(), overlays=(clock.expand(0.05),))
    assert [r.box for r in got.reads] == [plate] and reader.crops == 1
    assert len(read_frame(image, frame, StillPlate(), CountingReader(), PlateSettings()).reads) == 2
