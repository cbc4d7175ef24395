"""A doubtful read is read again from other cuts of its box; a sure one costs nothing more."""

import numpy as np

from dashpipe.config import PlateSettings
from dashpipe.plates.second_look import SURE_CHAR, best_read, doubtful, other_boxes
from dashpipe.stages.heavy import read_frame
from dashpipe.types import BBox, FrameQuality, OcrResult, Region, SelectedFrame

US = PlateSettings(region="us")


def read(text: str, *confs: float) -> OcrResult:
    chars = confs if confs else (0.99,) * len(text)
    return OcrResult(text=text, confidence=float(np.mean(chars)) if chars else 0.0, char_confidences=tuple(chars))


def test_other_cuts_are_wider_narrower_and_taller():
    box = BBox(x1=100, y1=50, x2=300, y2=100)
    wider, narrower, taller = other_boxes(box)
    assert wider.x1 < box.x1 and wider.x2 > box.x2 and (wider.y1, wider.y2) == (box.y1, box.y2)
    assert narrower.x1 > box.x1 and narrower.x2 < box.x2
    assert taller.y1 < box.y1 and taller.y2 > box.y2 and (taller.x1, taller.x2) == (box.x1, box.x2)


def test_a_read_is_doubtful_when_implausible_or_unsure():
    assert not doubtful(read("ABC1234"), US)
    assert doubtful(read("ABC1234", 0.99, 0.99, 0.99, SURE_CHAR - 0.2, 0.99, 0.99, 0.99), US)
    assert doubtful(read("A1B2C3D"), US)  # no US format
    # Texture, not a plate cut badly: too short, or unsure as a whole, it gets no second look.
    assert not doubtful(read("099", 0.8, 0.8, 0.8), US)
    assert not doubtful(read("BC1234", *(0.6,) * 6), US)


def test_the_plausible_read_with_most_support_wins_and_the_first_cut_leads():
    cut_short, whole = read("BC1234"), read("ABC1234")
    assert best_read([cut_short, whole], US) == 1  # both fit a US format; the whole plate has more support
    assert best_read([read("A1B2C3D"), read("ABC1234", *(0.7,) * 7)], US) == 1  # only the second fits one
    unsure, sure = read("ABC1234", 0.99, 0.99, 0.6, 0.99, 0.99, 0.99, 0.99), read("ABD1234")
    assert sure.support > unsure.support
    assert best_read([unsure, sure], US) == 1
    nearly = read("ABD1234", 0.99, 0.99, 0.97, 0.99, 0.99, 0.99, 0.99)
    assert best_read([read("ABC1234"), nearly], US) == 0  # nearly as good is not better than the first cut
    assert best_read([read(""), read("")], US) == 0


def test_a_text_most_cuts_agree_on_outweighs_one_cut_fitting_a_format():
    # "08E6CK" fits no US format; the wider cut dropped the E, and "086CK" fits one. The whole read
    # has the more support, but a format-fitting read used to win over any read fitting none.
    agreed, fitted = read("08E6CK", 0.95, 0.99, 0.85, 0.82, 1.0, 1.0), read("086CK", *(0.99,) * 5)
    assert agreed.support > fitted.support
    assert best_read([agreed, agreed, agreed, fitted], US) == 0  # three cuts say it: US plausible
    assert best_read([agreed, agreed, fitted], US) == 2  # two are not enough
    assert US.off_format_min_reads == 3
    # Agreement makes no plate of a word (a state name) or of a region whose formats are complete.
    word, fits = read("TEXAS"), read("TEX4512", *(0.7,) * 7)
    assert best_read([word, word, word, fits], US) == 3
    strict = PlateSettings(formats=(r"^[0-9]{3}[A-Z]{2}$",), off_format_reads=0)
    assert best_read([agreed, agreed, agreed, fitted], strict) == 3


def test_an_unsure_end_character_only_one_cut_adds_to_what_more_cuts_agree_on_is_left_out():
    # A plate in a frame: the wider cut takes in the frame's edge as an unsure "1". One character more
    # gives that read the more support, but the three other cuts agree on the plate without it.
    whole, framed = read("YBW23"), read("YBW231", 0.99, 0.99, 0.99, 0.99, 0.99, 0.89)
    assert framed.support > whole.support
    assert best_read([whole, framed, whole, whole], US) == 0
    # At the start too, both texts fitting a US format.
    plate, with_bolt = read("ABC123"), read("1ABC123", 0.8, *(0.99,) * 6)
    assert best_read([plate, with_bolt, plate, plate], US) == 0
    assert best_read([plate, with_bolt], US) == 1
    # Read surely, the end character is one the detector's box had cut away.
    assert best_read([whole, read("YBW231"), whole, whole], US) == 1
    # One cut against one: support decides, as before.
    assert best_read([whole, framed], US) == 1


class StillPlate:
    name = "still"

    def detect(self, image, hints):
        return list(hints)


class WidthReader:
    """Reads the whole plate only from crops at least ``whole_from`` pixels wide; narrower ones lose
    the first character. Counts the crops it is shown."""

    name = "width"

    def __init__(self, whole_from: int) -> None:
        self.whole_from = whole_from
        self.crops = 0

    def read(self, crops):
        self.crops += len(crops)
        return [read("ABC1234") if c.shape[1] >= self.whole_from else read("BC1234", *(0.85,) * 6) for c in crops]


def _frame() -> tuple[np.ndarray, SelectedFrame]:
    image = np.full((300, 600, 3), 200, np.uint8)
    box = BBox(x1=200, y1=100, x2=400, y2=150)
    quality = FrameQuality(brightness=120, bright_p99=250, sharpness=500, motion=5)
    frame = SelectedFrame(index=3, pts_s=0.1, quality=quality, regions=(Region(label="plate", box=box, score=0.9),))
    return image, frame


def test_a_cut_short_plate_is_read_whole_from_a_wider_cut():
    image, frame = _frame()
    reader = WidthReader(whole_from=260)  # the detector's crop is ~232 px, the wider cut ~292 px
    reads = read_frame(image, frame, StillPlate(), reader, US).reads
    assert [r.text for r in reads] == ["ABC1234"]
    assert reader.crops == 4  # the first cut and three others


def test_a_sure_read_is_not_read_again():
    image, frame = _frame()
    reader = WidthReader(whole_from=0)
    reads = read_frame(image, frame, StillPlate(), reader, US).reads
    assert [r.text for r in reads] == ["ABC1234"] and reader.crops == 1
