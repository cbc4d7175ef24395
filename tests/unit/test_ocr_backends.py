"""The plate readers: RapidOCR on real and rendered crops; EasyOCR's wiring with constructed weights."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from dashpipe.config import EasyOcrConfig, PlateSettings, RapidOcrConfig
from dashpipe.models.base import BackendUnavailable, PlateReader
from dashpipe.models.rapidocr import RapidOcrReader, ctc_decode
from dashpipe.plates.enhance import enhance, read_either
from dashpipe.plates.text import ALNUM
from dashpipe.stages.heavy import read_frame
from dashpipe.types import BBox, FrameQuality, OcrResult, Region, RejectReason, SelectedFrame

REPO = Path(__file__).resolve().parents[2]
CROPS = REPO.parent / "shared" / "data" / "plates" / "openalpr-us-crops"
# A few plates of different states, layouts and colours (state name above, slogan below).
REAL = ["ak1165.png", "al1181.png", "az102.png", "co1018.png", "ct233.png", "dc1008.png", "ga1484.png", "hi103.png"]


def rendered_plate(text: str) -> np.ndarray:
    """A plate-like crop: state name above, the number in the largest letters, a slogan below."""
    img = np.full((160, 320, 3), (225, 235, 240), np.uint8)
    cv2.rectangle(img, (4, 4), (315, 155), (60, 60, 60), 3)
    cv2.putText(img, "CALIFORNIA", (95, 32), cv2.FONT_HERSHEY_DUPLEX, 0.8, (40, 40, 170), 1, cv2.LINE_AA)
    cv2.putText(img, text, (22, 108), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (90, 40, 20), 5, cv2.LINE_AA)
    cv2.putText(img, "dmv.ca.gov", (110, 145), cv2.FONT_HERSHEY_PLAIN, 1.1, (40, 40, 170), 1, cv2.LINE_AA)
    return img


def plate_glued_to_its_frame() -> np.ndarray:
    """A white plate in a dark frame, its characters joined to the frame by a thin dark line, beside
    the tall dark uprights of the plate's recess: unbroken, the characters and frame are one blob and
    the uprights the only row of character-like ink."""
    img = np.full((120, 480, 3), 190, np.uint8)  # the car's paint
    for x in (10, 40, 450):
        cv2.rectangle(img, (x, 0), (x + 18, 70), (30, 30, 30), -1)
    cv2.rectangle(img, (76, 8), (436, 114), (25, 25, 25), -1)  # the frame ...
    cv2.rectangle(img, (88, 28), (424, 106), (235, 235, 235), -1)  # ... round the plate
    cv2.putText(img, "6MWF778", (96, 98), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (25, 25, 25), 7, cv2.LINE_AA)
    cv2.line(img, (88, 56), (424, 56), (25, 25, 25), 1)  # across the characters' tops, end to end
    return img


def crop_truth() -> dict[str, str]:
    """File name -> plate text of the real crops."""
    return {row[0]: row[2] for row in csv.reader((CROPS / "groundtruth.csv").read_text().splitlines())}


def real_crops(names: list[str]) -> list[np.ndarray]:
    """The named real crops, each checked as loaded."""
    crops = [cv2.imread(str(CROPS / "usimages" / name)) for name in names]
    assert all(c is not None for c in crops)
    return [c for c in crops if c is not None]


@pytest.fixture(scope="module")
def reader() -> RapidOcrReader:
    return RapidOcrReader(RapidOcrConfig())


def test_reader_follows_the_protocol(reader: RapidOcrReader) -> None:
    assert isinstance(reader, PlateReader)
    assert reader.read([]) == []


def test_rendered_plate_reads_the_number_not_the_state_or_slogan(reader: RapidOcrReader) -> None:
    crops = [rendered_plate("7ABC123"), rendered_plate("KTE 268")]
    got = reader.read(crops)
    assert [r.text for r in got] == ["7ABC123", "KTE268"]
    for r in got:
        assert len(r.char_confidences) == len(r.text)
        assert all(0.0 <= c <= 1.0 for c in r.char_confidences)
        assert 0.5 < r.confidence <= 1.0


def test_batch_keeps_order_and_handles_empty_grey_and_inverted_crops(reader: RapidOcrReader) -> None:
    plate = rendered_plate("ABC1234")
    crops = [
        plate,
        np.zeros((0, 0, 3), np.uint8),
        cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY),
        255 - plate,  # light characters on a dark plate
        np.full((40, 120, 3), 128, np.uint8),  # nothing written
    ]
    got = reader.read(crops)
    assert len(got) == len(crops) and all(isinstance(r, OcrResult) for r in got)
    assert [r.text for r in got[:4]] == ["ABC1234", "", "ABC1234", "ABC1234"]
    assert got[1].confidence == 0.0 and len(got[4].text) <= 1


def test_real_crops_read_exactly(reader: RapidOcrReader) -> None:
    if not CROPS.exists():
        pytest.skip(f"real data not found at {CROPS} (the shared data folder sits beside the repo)")
    got = [r.text for r in reader.read(real_crops(REAL))]
    truth = crop_truth()
    assert got == [truth[name] for name in REAL]


def test_a_doubtful_read_is_read_again_on_the_row_found_with_thin_links_cut(reader: RapidOcrReader) -> None:
    """The unbroken mask offers the recess's uprights as the row, which cuts the characters in half;
    the read there is unsure, and the row found after the erosion reads the plate."""
    assert reader.read([plate_glued_to_its_frame()])[0].text == "6MWF778"


def test_missing_model_names_the_file_and_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(BackendUnavailable, match=r"nope\.onnx.*'ocr\.rec_model'"):
        RapidOcrReader(RapidOcrConfig(rec_model=missing))


def test_not_a_model_fails_at_load_naming_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(BackendUnavailable, match=r"'ocr\.rec_model'"):
        RapidOcrReader(RapidOcrConfig(rec_model=bad)).read([rendered_plate("ABC123")])


def test_ctc_decode_merges_repeats_and_splits_on_blank_and_separator() -> None:
    steps = ["A", "A", "-", "A", "|", "B", "B", "|", "B", "1", "-"]  # '-' blank, '|' separator
    probs = np.full((len(steps), len(ALNUM) + 2), 0.01, np.float32)
    for t, s in enumerate(steps):
        probs[t, 0 if s == "-" else len(ALNUM) + 1 if s == "|" else ALNUM.index(s) + 1] = 0.9
    probs[1, ALNUM.index("A") + 1] = 0.95
    got = ctc_decode(probs)
    assert got.text == "AABB1"
    assert got.confidences[0] == pytest.approx(0.95)
    assert got.steps[0] == pytest.approx(0.5)


# ---------------------------------------------------------------- EasyOCR

needs_easyocr = pytest.mark.skipif(
    importlib.util.find_spec("easyocr") is None or importlib.util.find_spec("torch") is None,
    reason="easyocr and torch are not installed (gpu extra)",
)


@needs_easyocr
def test_easyocr_missing_files_are_named_with_the_setting(tmp_path: Path) -> None:
    from dashpipe.models.easyocr import EasyOcrReader

    with pytest.raises(BackendUnavailable, match=r"craft_mlt_25k\.pth.*english_g2\.pth.*'ocr\.model_dir'"):
        EasyOcrReader(EasyOcrConfig(model_dir=tmp_path, gpu=False))
    with pytest.raises(BackendUnavailable, match=r"'ocr\.model_dir'"):
        EasyOcrReader(EasyOcrConfig(model_dir=tmp_path / "absent", gpu=False))


@needs_easyocr
def test_easyocr_wiring_with_constructed_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random-init CRAFT and recogniser weights of the real architectures, registered under their
    MD5 as EasyOCR checks it: the text read is garbage by construction; the wiring is what is tested."""
    import easyocr
    import torch
    from easyocr.craft import CRAFT
    from easyocr.model.vgg_model import Model

    from dashpipe.models.easyocr import EasyOcrReader

    torch.manual_seed(0)
    det_path = tmp_path / easyocr.config.detection_models["craft"]["filename"]
    torch.save(CRAFT().state_dict(), det_path)
    rec_info = easyocr.config.recognition_models["gen2"]["english_g2"]
    rec = Model(num_class=len(rec_info["characters"]) + 1, input_channel=1, output_channel=256, hidden_size=256)
    rec_path = tmp_path / rec_info["filename"]
    torch.save({f"module.{k}": v for k, v in rec.state_dict().items()}, rec_path)  # saved as DataParallel
    md5 = {p: hashlib.md5(p.read_bytes()).hexdigest() for p in (det_path, rec_path)}
    monkeypatch.setitem(easyocr.config.detection_models["craft"], "md5sum", md5[det_path])
    monkeypatch.setitem(rec_info, "md5sum", md5[rec_path])

    reader = EasyOcrReader(EasyOcrConfig(model_dir=tmp_path, gpu=False))
    assert isinstance(reader, PlateReader)
    crops = [rendered_plate("ABC123"), np.full((30, 90, 3), 200, np.uint8), np.zeros((0, 0, 3), np.uint8)]
    got = reader.read(crops)
    assert len(got) == 3 and all(isinstance(r, OcrResult) for r in got)
    assert all(isinstance(r.text, str) and set(r.text) <= set(ALNUM) for r in got)
    assert all(0.0 <= r.confidence <= 1.0 for r in got)
    assert got[2].text == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([det_path.name, rec_path.name])  # nothing fetched


@needs_easyocr
def test_easyocr_checksum_mismatch_is_reported(tmp_path: Path) -> None:
    from dashpipe.models.easyocr import EasyOcrReader

    for name in ("craft_mlt_25k.pth", "english_g2.pth"):
        (tmp_path / name).write_bytes(b"not the real weights")
    reader = EasyOcrReader(EasyOcrConfig(model_dir=tmp_path, gpu=False))
    with pytest.raises(BackendUnavailable, match=r"MD5 mismatch.*'ocr\.model_dir'"):
        reader.read([rendered_plate("ABC123")])


def test_an_edge_character_on_a_band_of_another_colour_is_foreign():
    """The EU country band: blue ground beside a white or yellow plate."""
    import cv2
    import numpy as np

    from dashpipe.models.rapidocr import _RowGround

    for plate_bgr in ((255, 255, 255), (40, 200, 250)):  # white, yellow
        row = np.full((40, 300, 3), plate_bgr, np.uint8)
        row[:, :30] = (160, 60, 10)  # blue band
        cv2.putText(row, "AB123", (40, 32), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 3)
        assert _RowGround.of(row).other(15, 30, look_left=True)
        # A place read a few pixels right of the band's letter still looks outward onto the band.
        assert _RowGround.of(row).other(34, 30, look_left=True)
        assert not _RowGround.of(row).other(60, 30, look_left=True)
        assert not _RowGround.of(row).other(280, 30, look_left=False)
        # Right of the number the window stays on the character: a loose crop's car body is no band.
        loose = np.full((40, 330, 3), (30, 30, 170), np.uint8)
        loose[:, :300] = row
        assert not _RowGround.of(loose).other(292, 30, look_left=False)


def test_text_lines_are_long_a_blob_is_not_a_line():
    """The text detector also fires on tree crowns; only a long line counts as a plate's text."""
    import numpy as np

    from dashpipe.models.text_presence import shows_text_line

    prob = np.zeros((64, 224), np.float32)
    prob[20:40, 30:190] = 0.95  # a row of characters: 160 x 20
    assert shows_text_line(prob)
    blob = np.zeros((64, 224), np.float32)
    blob[5:60, 60:160] = 0.95  # wide enough, but as tall as it is wide
    assert not shows_text_line(blob)
    faint = prob * 0.4  # long, but the detector was not sure
    assert not shows_text_line(faint)
    squat = np.zeros((64, 224), np.float32)
    squat[10:54, 60:140] = 0.95  # 80 x 44 as the detector saw it ...
    assert not shows_text_line(squat)
    assert shows_text_line(squat, stretch=2.0)  # ... from a thin crop stretched twice as much vertically


def test_a_band_of_two_letters_is_peeled_from_the_end():
    """ "NL" on the blue band: once N is dropped, L is the end character and is dropped too; the
    number's own characters stay, however sure the reader was of the band's letters."""
    import cv2
    import numpy as np

    from dashpipe.models.rapidocr import _kept, _Line
    from dashpipe.plates.band import find_band

    row = np.full((60, 320, 3), (40, 200, 250), np.uint8)  # yellow plate
    row[:, :44] = (160, 60, 10)  # blue band
    cv2.putText(row, "AB123", (60, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 4)
    band = find_band(row)
    assert band is not None
    line = _Line(row, band, row.shape[1])
    xs = [12.0, 30.0, *np.linspace(band.x1 + 10, band.x2 - 10, 5).tolist()]
    assert _kept(line, xs, [0.99] * len(xs)) == [2, 3, 4, 5, 6]
    # Without the band nothing is dropped.
    plain = row.copy()
    plain[:, :44] = (40, 200, 250)
    assert _kept(_Line(plain, band, row.shape[1]), xs[2:], [0.99] * 5) == [0, 1, 2, 3, 4]


def test_a_loose_crop_on_a_coloured_car_keeps_its_number():
    """When the car's body fills most of the row, every character may look foreign to the ground
    test; peeling stops after a few from each side instead of emptying the read."""
    import cv2
    import numpy as np

    from dashpipe.models.rapidocr import MAX_PEELED, _kept, _Line
    from dashpipe.plates.band import find_band

    row = np.full((60, 700, 3), (30, 30, 170), np.uint8)  # red car
    row[:, 200:500] = 255  # a white plate in the middle
    cv2.putText(row, "ABC1234", (215, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 4)
    band = find_band(row)
    assert band is not None
    xs = np.linspace(band.x1 + 8, band.x2 - 8, 9).tolist()
    kept = _kept(_Line(row, band, row.shape[1]), xs, [0.99] * 9)
    assert len(kept) >= 9 - 2 * MAX_PEELED


def test_the_plate_ground_is_measured_between_the_number_s_characters():
    """A yellow plate in a loose crop, grey car body on both sides: over the whole row the grey
    outweighs the yellow and every end character stood on "another ground" (a UK "JZ75WNL" lost its
    J so); between the first and the last character the ground is the plate's."""
    import cv2
    import numpy as np

    from dashpipe.models.rapidocr import _kept, _Line
    from dashpipe.plates.band import find_band

    row = np.full((60, 640, 3), (120, 120, 120), np.uint8)  # grey car
    row[4:56, 200:440] = (25, 25, 25)  # the plate's dark rim
    row[7:53, 203:437] = (40, 200, 250)  # yellow plate
    cv2.putText(row, "JZ75WNL", (206, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 4)
    band = find_band(row)
    assert band is not None
    xs = np.linspace(band.x1 + 8, band.x2 - 8, 7).tolist()
    assert _kept(_Line(row, band, row.shape[1]), xs, [0.99] * 7) == list(range(7))


@pytest.mark.parametrize(("style", "display", "text"), [("nl", "P-717-GH", "P717GH"), ("uk", "BB66 TBY", "BB66TBY")])
def test_a_heavy_first_glyph_on_a_yellow_plate_is_read(reader: RapidOcrReader, style: str, display: str, text: str):
    """The sample's yellow plates, shrunk to a far plate's size in a loose crop. The first glyph stands
    right after the country band or beside the plate's dark rim, and its window holds more ink than
    ground: the ink is no ground of another colour, and the glyph stays."""
    import cv2

    from dashpipe.sample import plate_image

    plate = plate_image(style, display)
    crops = []
    for height in (24, 28):
        small = cv2.resize(
            plate, (round(plate.shape[1] * height / plate.shape[0]), height), interpolation=cv2.INTER_AREA
        )
        for body in (120, 30):  # grey and black cars
            crop = np.full((height + 6, small.shape[1] + 36, 3), body, np.uint8)
            crop[3 : 3 + height, 18 : 18 + small.shape[1]] = small
            crops.append(crop)
    assert [r.text for r in reader.read(crops)] == [text] * len(crops)


def test_a_read_unsure_throughout_gets_no_margin_retry():
    from dashpipe.models.rapidocr import RETRY_MIN_CONFIDENCE, _worth_retry

    near_plate = OcrResult(text="7ABC123", confidence=RETRY_MIN_CONFIDENCE + 0.1)
    texture = OcrResult(text="IIL", confidence=RETRY_MIN_CONFIDENCE - 0.2)
    all_dropped = OcrResult(text="", confidence=0.0)
    assert _worth_retry(near_plate)
    assert not _worth_retry(texture)
    assert _worth_retry(all_dropped)


def night(crop: np.ndarray, light: float = 0.015) -> np.ndarray:
    """``crop`` with a little of its light, a camera's gamma and sensor noise."""
    dim = (crop.astype(np.float32) / 255.0) ** 2.2 * light * 255.0 + np.random.default_rng(3).normal(0, 3, crop.shape)
    return dim.clip(0, 255).astype(np.uint8)


def test_a_flagged_crop_is_read_both_ways_and_the_surer_read_kept(reader: RapidOcrReader) -> None:
    plate = rendered_plate("KTE268")
    streaked = cv2.filter2D(plate, -1, np.full((1, 21), 1 / 21, np.float32))  # motion blur: sharpening rings
    crops = [night(plate), streaked, plate]
    both = reader.read([*crops, *(enhance(c) for c in crops)])  # one batch, as read_either reads them
    plain, helped = both[:3], both[3:]
    got = read_either(reader, crops)
    for crop, p, h, either in zip(crops, plain, helped, got, strict=True):
        assert either == (h, either.crop, True) if h.confidence > p.confidence else either == (p, crop, False)
    assert got[0].enhanced and got[0].read.text == "KTE268"  # the night crop is read surer once lifted
    assert not got[2].enhanced  # a clean crop gains nothing
    assert read_either(reader, []) == []


def test_a_plate_in_a_flagged_frame_is_read_from_the_lifted_crop_only_where_that_is_surer(
    reader: RapidOcrReader,
) -> None:
    clear = np.full((300, 600, 3), 90, np.uint8)
    clear[100:260, 140:460] = rendered_plate("KTE268")
    box = BBox(x1=140, y1=100, x2=460, y2=260)
    quality = FrameQuality(brightness=5, bright_p99=20, sharpness=50, motion=5)
    regions = (Region(label="plate", box=box, score=0.9),)

    class Given:  # the plate box as given (refinement is not what this test is about)
        name = "given"

        def detect(self, image: np.ndarray, hints: Sequence[Region]) -> list[Region]:
            return list(hints)

    cfg = PlateSettings()
    flagged = SelectedFrame(index=0, pts_s=0.0, quality=quality, flags=(RejectReason.dark,), regions=regions)
    (read,) = read_frame(night(clear), flagged, Given(), reader, cfg).reads
    assert read.enhanced and read.text == "KTE268"
    unflagged = read_frame(night(clear), flagged.model_copy(update={"flags": ()}), Given(), reader, cfg).reads
    assert all(not r.enhanced and r.confidence < read.confidence for r in unflagged)
    # Flagged (the frame was dark), but the plate itself is clear: enhancing it gains nothing.
    (read,) = read_frame(clear, flagged, Given(), reader, cfg).reads
    assert not read.enhanced and read.text == "KTE268"


# Plates the first network reads with an extra character it is unsure of, and the second reads right.
SECOND_WINS = ["az381.png", "ms639.png", "ok48.png", "wy1083.png"]


def test_unsure_reads_get_the_second_network_and_the_surer_read_is_kept(reader: RapidOcrReader) -> None:
    from dashpipe.models.rapidocr import default_second_model

    second = default_second_model()
    if second is None:
        pytest.skip("the second network's wheel (rapidocr_onnxruntime) is not installed")
    plate = rendered_plate("KTE268")
    streaked = cv2.filter2D(plate, -1, np.full((1, 25), 1 / 25, np.float32))
    crops = [plate, streaked, night(plate, 0.03), cv2.GaussianBlur(rendered_plate("8XYZ407"), (0, 0), 3.5)]
    if CROPS.exists():  # with plates the first network misreads, unsure of the extra character
        crops += real_crops([*REAL, *SECOND_WINS])
    alone = RapidOcrReader(RapidOcrConfig(second_model="off")).read(crops)
    unsure = [i for i, r in enumerate(alone) if reader.second_reads(r)]
    assert 0 < len(unsure) < len(crops)
    # The second network reads the unsure crops in one batch, as the reader does (batches pad rows).
    other = RapidOcrReader(RapidOcrConfig(rec_model=second, second_model="off")).read([crops[i] for i in unsure])
    asked = dict(zip(unsure, other))
    got = reader.read(crops)
    assert reader.second_path == second
    for i, (a, g) in enumerate(zip(alone, got, strict=True)):
        o = asked.get(i)
        assert g == (o if o is not None and o.confidence > a.confidence else a)
    assert got[0].text == "KTE268" and got[0] == alone[0]  # a clear plate costs one network only
    if CROPS.exists():
        truth = crop_truth()
        wins = [truth[name] for name in SECOND_WINS]
        assert [r.text for r in got[-len(SECOND_WINS) :]] == wins
        assert [r.text for r in alone[-len(SECOND_WINS) :]] != wins


def test_second_network_can_be_turned_off_or_named_and_a_missing_one_is_named(tmp_path: Path) -> None:
    assert RapidOcrReader(RapidOcrConfig(second_model="off")).second_path is None
    missing = tmp_path / "second.onnx"
    with pytest.raises(BackendUnavailable, match=r"second\.onnx.*'ocr\.second_model'"):
        RapidOcrReader(RapidOcrConfig(second_model=missing))
    from dashpipe.models.rapidocr import wheel_model

    assert wheel_model("x.onnx", "no_such_package_here") is None
