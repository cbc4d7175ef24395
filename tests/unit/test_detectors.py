"""Detectors: the CPU refiner around hints and the two YOLO backends (ONNX, Ultralytics)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from dashpipe.config import CpuDetectorConfig, YoloDetectorConfig
from dashpipe.models.base import BackendUnavailable, Detector
from dashpipe.models.cpu_detector import CpuDetector, refine_plate
from dashpipe.models.registry import build_detector
from dashpipe.models.yolo_onnx import (
    Letterbox,
    OnnxYoloDetector,
    class_names,
    decode,
    letterbox,
    unletterbox,
)
from dashpipe.types import BBox, Region
from tests.conftest import labelled_photos

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PLATES = DATA / "plates" / "openalpr-us"


def _labelled(n: int) -> list[tuple[np.ndarray, BBox]]:
    return labelled_photos(n, start=5)


def _hint(box: BBox, dx: float, dy: float, grow: float) -> Region:
    """A hint off by a fraction of the plate's size in place and size."""
    cx, cy = box.center
    cx, cy = cx + dx * box.width, cy + dy * box.height
    w, h = box.width * grow / 2, box.height * grow / 2
    return Region(label="plate", box=BBox(x1=cx - w, y1=cy - h, x2=cx + w, y2=cy + h), score=0.5)


# ---------------------------------------------------------------- CpuDetector


def test_cpu_detector_is_built_from_config():
    detector = build_detector(CpuDetectorConfig(margin=0.8))
    assert isinstance(detector, CpuDetector) and isinstance(detector, Detector)


def _render_plate(image: np.ndarray, x: int, y: int, text_w: int) -> BBox:
    """Dark text on a light plate, text about half the plate's height as on real plates."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 4
    (tw, th), _ = cv2.getTextSize("ABC 123", font, 1.0, thick)
    scale = text_w / tw
    th = int(th * scale)
    w, h = int(text_w / 0.85), int(th / 0.46)
    cv2.rectangle(image, (x, y), (x + w, y + h), (235, 235, 235), -1)
    org = (x + (w - text_w) // 2, y + (h + th) // 2)
    cv2.putText(image, "ABC 123", org, font, scale, (20, 20, 20), thick)
    return BBox(x1=x, y1=y, x2=x + w, y2=y + h)


def test_cpu_detector_tightens_a_rendered_plate_and_drops_empty_hints():
    rng = np.random.default_rng(1)
    image = np.clip(rng.normal(90, 12, (1080, 1920, 3)), 0, 255).astype(np.uint8)
    plate = _render_plate(image, 800, 600, 200)
    vehicle = Region(label="vehicle", box=BBox(x1=600, y1=300, x2=1300, y2=900), score=0.7, kind="car")
    hints = [_hint(plate, 0.25, -0.2, 1.6), _hint(BBox(x1=100, y1=100, x2=340, y2=220), 0, 0, 1.0), vehicle]
    found = CpuDetector(CpuDetectorConfig()).detect(image, hints)
    plates = [r for r in found if r.label == "plate"]
    assert len(plates) == 1  # the hint on plain noise holds no plate
    assert plates[0].box.iou(plate) > 0.6
    assert vehicle in found  # vehicle hints pass through untouched


def test_cpu_detector_on_real_photos_with_hints_off_in_place_and_size():
    detector = CpuDetector(CpuDetectorConfig())
    samples = _labelled(10)
    good = 0
    for (image, plate), (dx, dy, grow) in zip(samples, [(0.25, 0.0, 1.3), (-0.2, 0.2, 1.8)] * 5, strict=True):
        found = detector.detect(image, [_hint(plate, dx, dy, grow)])
        h, w = image.shape[:2]
        for r in found:
            assert r.label == "plate" and 0.0 <= r.score <= 1.0
            assert 0 <= r.box.x1 < r.box.x2 <= w and 0 <= r.box.y1 < r.box.y2 <= h
        good += any(r.box.iou(plate) >= 0.5 for r in found)
    assert good >= len(samples) - 2


# ---------------------------------------------------------------- ONNX: pure parts


def test_letterbox_round_trip_is_exact():
    image = np.zeros((64, 128, 3), np.uint8)
    tensor, lb = letterbox(image, 64, 64)
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    assert lb == Letterbox(ratio=0.5, left=0, top=16)
    assert tensor[0, :, 0, 0].tolist() == pytest.approx([114 / 255] * 3)  # padding grey
    assert tensor[0, :, 16, 0].tolist() == [0.0, 0.0, 0.0]  # the frame starts below the padding
    back = unletterbox(np.array([[22.0, 27.0, 42.0, 37.0]]), lb, 128, 64)
    assert back.tolist() == [[44.0, 22.0, 84.0, 42.0]]


def test_decode_filters_and_suppresses_per_class():
    # rows: cx, cy, w, h, score(class 0), score(class 1)
    preds = np.array(
        [
            [32, 32, 20, 10, 0.9, 0.0],  # plate
            [33, 32, 20, 10, 0.8, 0.0],  # same plate, weaker: suppressed
            [33, 32, 20, 10, 0.0, 0.7],  # overlapping but another class: kept
            [10, 10, 4, 4, 0.1, 0.0],  # below confidence
        ],
        np.float32,
    )
    found = decode(preds.T[np.newaxis], confidence=0.25)
    assert found.classes.tolist() == [0, 1]
    assert found.scores.tolist() == pytest.approx([0.9, 0.7])
    assert found.xyxy[0].tolist() == [22, 27, 42, 37]
    end2end = np.array([[[1, 2, 3, 4, 0.9, 1], [5, 6, 7, 8, 0.1, 0]]], np.float32)
    e2e = decode(end2end, confidence=0.25)
    assert e2e.xyxy.tolist() == [[1, 2, 3, 4]] and e2e.classes.tolist() == [1]


def test_class_names_from_metadata():
    assert class_names({"names": "{0: 'license_plate', 1: 'car'}"}) == {0: "license_plate", 1: "car"}
    assert class_names({"names": "['plate', 'bus']"}) == {0: "plate", 1: "bus"}
    assert class_names({"names": "not python"}) == {}
    assert class_names({}) == {}


# ---------------------------------------------------------------- ONNX: a constructed graph


NEEDS_ONNX = pytest.mark.skipif(
    importlib.util.find_spec("onnx") is None, reason="the onnx package (to build test graphs) is not installed"
)


def _constant_yolo(path: Path, preds: np.ndarray, names: str | None) -> None:
    """A tiny YOLOv8-shaped ONNX graph (built by the test, no trained weights): whatever the
    image, it outputs ``preds`` as [1, 4 + nc, N], so decoding can be checked exactly."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out = preds.T[np.newaxis].astype(np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),  # ties the output to the input
        helper.make_node("Add", ["const", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(out.shape))],
        initializer=[numpy_helper.from_array(out, "const"), numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"names": names})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


PREDS = np.array(
    [
        [32, 32, 20, 10, 0.9, 0.0, 0.0],  # plate
        [32, 33, 20, 10, 0.6, 0.0, 0.0],  # the same plate again: suppressed
        [20, 30, 30, 20, 0.0, 0.8, 0.0],  # car
        [50, 30, 10, 20, 0.0, 0.0, 0.95],  # person: neither plate nor vehicle
    ],
    np.float32,
)


@NEEDS_ONNX
def test_onnx_detector_maps_boxes_back_to_the_frame(tmp_path):
    weights = tmp_path / "tiny.onnx"
    _constant_yolo(weights, PREDS, "{0: 'license_plate', 1: 'car', 2: 'person'}")
    detector = build_detector(YoloDetectorConfig(type="yolo_onnx", weights=weights, device="cpu"))
    assert isinstance(detector, OnnxYoloDetector) and isinstance(detector, Detector)
    frame = np.zeros((64, 128, 3), np.uint8)  # letterboxed to 64x64: ratio 0.5, 16 px on top
    found = detector.detect(frame, [])
    assert [(r.label, r.kind) for r in found] == [("plate", None), ("vehicle", "car")]
    assert found[0].box == BBox(x1=44, y1=22, x2=84, y2=42)
    assert found[0].score == pytest.approx(0.9)
    assert found[1].box == BBox(x1=10, y1=8, x2=70, y2=48)


@NEEDS_ONNX
def test_onnx_detector_without_names_uses_class_ids(tmp_path):
    weights = tmp_path / "anonymous.onnx"
    _constant_yolo(weights, PREDS, None)
    cfg = YoloDetectorConfig(type="yolo_onnx", weights=weights, plate_classes=("0",), vehicle_classes=("2",))
    found = OnnxYoloDetector(cfg).detect(np.zeros((64, 64, 3), np.uint8), [])
    assert [(r.label, r.kind) for r in found] == [("vehicle", "2"), ("plate", None)]


def test_missing_weights_name_the_file_and_the_setting(tmp_path):
    for kind in ("yolo_onnx", "yolo"):
        with pytest.raises(BackendUnavailable, match=r"absent\.bin.*detector\.weights"):
            build_detector(YoloDetectorConfig(type=kind, weights=tmp_path / "absent.bin"))


@NEEDS_ONNX
def test_onnx_detector_refuses_cuda_it_does_not_have(tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    weights = tmp_path / "tiny.onnx"
    _constant_yolo(weights, PREDS, None)
    with pytest.raises(BackendUnavailable, match="onnxruntime-gpu"):
        OnnxYoloDetector(YoloDetectorConfig(type="yolo_onnx", weights=weights, device="cuda:0"))


# ---------------------------------------------------------------- Ultralytics (gpu extra)

NEEDS_ULTRALYTICS = pytest.mark.skipif(
    importlib.util.find_spec("ultralytics") is None or importlib.util.find_spec("torch") is None,
    reason="ultralytics and torch (the gpu extra) are not installed",
)


@pytest.fixture(scope="module")
def random_yolo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """YOLOv8n built from its yaml with random weights (no training, no download), saved as .pt."""
    from dashpipe.models.yolo_ultralytics import _stay_offline

    _stay_offline()
    import torch
    import ultralytics
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    model = DetectionModel("yolov8n.yaml", nc=3, verbose=False)
    model.names = {0: "license_plate", 1: "car", 2: "person"}
    path = tmp_path_factory.mktemp("yolo") / "random_yolov8n.pt"
    torch.save({"model": model, "train_args": {}, "date": None, "version": ultralytics.__version__}, path)
    return path


def _frame() -> np.ndarray:
    photos = sorted(PLATES.glob("*.jpg"))
    if not photos:
        pytest.skip(f"real plate photos not found at {PLATES}")
    image = cv2.imread(str(photos[0]))
    assert image is not None
    return image


@NEEDS_ULTRALYTICS
def test_ultralytics_detector_runs_random_weights_on_a_real_frame(random_yolo):
    cfg = YoloDetectorConfig(type="yolo", weights=random_yolo, image_size=320, confidence=0.0)
    from dashpipe.models.yolo_ultralytics import UltralyticsDetector

    detector = build_detector(cfg)
    assert isinstance(detector, UltralyticsDetector) and isinstance(detector, Detector)
    assert detector.names == {0: "license_plate", 1: "car", 2: "person"}
    assert detector.device in ("cpu", "cuda:0")
    frame = _frame()
    h, w = frame.shape[:2]
    found = detector.detect(frame, [])
    assert found  # at confidence 0 random weights still box something
    for r in found:
        assert isinstance(r, Region)
        assert (r.label, r.kind) in (("plate", None), ("vehicle", "car"))
        assert 0 <= r.box.x1 < r.box.x2 <= w and 0 <= r.box.y1 < r.box.y2 <= h


@NEEDS_ULTRALYTICS
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:Converting a tensor to a Python boolean")
def test_ultralytics_export_runs_on_the_onnx_backend(random_yolo, tmp_path):
    from ultralytics import YOLO

    exported = Path(YOLO(str(random_yolo)).export(format="onnx", imgsz=320, opset=12, simplify=False))
    detector = OnnxYoloDetector(YoloDetectorConfig(type="yolo_onnx", weights=exported, confidence=0.0))
    assert detector.names == {0: "license_plate", 1: "car", 2: "person"}  # from the export's metadata
    frame = _frame()
    h, w = frame.shape[:2]
    found = detector.detect(frame, [])
    assert found
    for r in found:
        assert r.label in ("plate", "vehicle")
        assert 0 <= r.box.x1 < r.box.x2 <= w and 0 <= r.box.y1 < r.box.y2 <= h


@NEEDS_ULTRALYTICS
def test_ultralytics_refuses_a_cuda_device_torch_cannot_see(random_yolo):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(BackendUnavailable, match="torch sees no CUDA GPU"):
        build_detector(YoloDetectorConfig(type="yolo", weights=random_yolo, device="cuda:0"))


def _separated_plate(dash: bool, last_height: int = 24) -> np.ndarray:
    """Dark bars as glyphs on a light plate: a row of five, then a gap, a dash (or not), one more."""
    img = np.full((80, 260), 210, np.uint8)
    for k in range(5):
        x = 20 + 16 * k
        cv2.rectangle(img, (x, 28), (x + 9, 51), 30, -1)
    if dash:
        cv2.rectangle(img, (108, 38), (116, 41), 30, -1)
    cv2.rectangle(img, (124, 52 - last_height), (133, 51), 30, -1)
    return img


def test_a_group_behind_a_dash_joins_the_row_and_nothing_else_does():
    from dashpipe.models.cpu_detector import _past_separator

    row = (20.0, 28.0, 94.0, 52.0)  # the five glyphs' extent: x1, y1, x2, y2
    assert _past_separator(_separated_plate(dash=True), *row) == (20.0, 134.0)
    assert _past_separator(_separated_plate(dash=False), *row) == (20.0, 94.0)  # a bolt or frame corner
    assert _past_separator(_separated_plate(dash=True, last_height=12), *row) == (20.0, 94.0)  # not a glyph of the row
    mirrored = np.ascontiguousarray(_separated_plate(dash=True)[:, ::-1])  # the group before the row ("1-GGK-08")
    assert _past_separator(mirrored, 260.0 - 94.0, 28.0, 260.0 - 20.0, 52.0) == (126.0, 240.0)


def _bold_plate(text_w: int) -> np.ndarray:
    """ "3-BHF-69" in heavy strokes on a yellow plate (as Dutch plates are), drawn large and shrunk to
    ``text_w`` pixels of text as a far plate is."""
    font, scale = cv2.FONT_HERSHEY_DUPLEX, 4
    (tw, th), _ = cv2.getTextSize("3-BHF-69", font, 1.0, 1)
    big = np.full((2 * th * scale, int(1.15 * tw) * scale, 3), (30, 195, 250), np.uint8)
    org = (int(0.07 * tw * scale), int(1.5 * th * scale))
    cv2.putText(big, "3-BHF-69", org, font, scale, (15, 15, 15), int(0.2 * th * scale))
    f = text_w / (tw * scale)
    return cv2.resize(big, (round(big.shape[1] * f), round(big.shape[0] * f)), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("text_w", [100, 150, 200])
def test_heavy_glyphs_that_fill_their_box_stay_in_the_row(text_w):
    # Shrunk heavy glyphs ("B", "8") fill over 80% of their box; dropped as solid blobs, they cut the
    # row at "B" and the plate lost its "3-B" (read as "HF69" or "BHF69").
    plate = _bold_plate(text_w)
    image = np.full((400, 600), 190, np.uint8)
    image[200:] = 90
    ph, pw = plate.shape[:2]
    x1, y1 = 200, 200 - ph // 2
    image[y1 : y1 + ph, x1 : x1 + pw] = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
    found = refine_plate(image, BBox(x1=x1 - 10, y1=y1 - 8, x2=x1 + pw + 10, y2=y1 + ph + 8), 1.0)
    assert found is not None
    assert found.box.x1 <= x1 + 0.07 * pw / 1.15  # left of the "3"
    assert found.box.x2 >= x1 + 0.9 * pw  # right of the "9"


def test_a_second_group_widens_the_plate_and_a_row_linked_to_clutter_does_not():
    from dashpipe.models.cpu_detector import JOIN_SPREAD, _join_collinear
    from dashpipe.models.cpu_proposer import GlyphRows

    def rows(*found: tuple[float, float, float]) -> GlyphRows:  # x1, x2, spread of rows 20 px high at y 100
        n = len(found)
        x1, x2, spread = (np.array(v, float) for v in zip(*found))
        ones = np.ones(n)
        return GlyphRows(x1, 100 * ones, x2, 120 * ones, 20 * ones, 4 * ones, spread, 0.5 * ones, 0 * ones)

    plate = (300.0, 400.0, 0.1)
    group = (430.0, 480.0, 0.1)  # "ABC 1234": the other group, as even as the picked one
    cluttered = (120.0, 410.0, 0.1 + JOIN_SPREAD + 0.1)  # the plate's glyphs and bumper texture on its left

    def ends(found: GlyphRows) -> tuple[float, float]:
        x1, _, x2, _, _ = _join_collinear(found, 0)
        return x1, x2

    assert ends(rows(plate, group)) == (300.0, 480.0)
    assert ends(rows(plate, cluttered)) == (300.0, 400.0)
    assert ends(rows(plate, cluttered, group)) == (300.0, 480.0)


# ---------------------------------------------------------------- CPU detector: dim plates, dealer text


def test_a_dim_plate_is_found_in_its_window_stretched() -> None:
    # Ink 15 grey levels from its ground at night: the row score, in absolute grey levels, sees no plate.
    rng = np.random.default_rng(3)
    image = np.clip(rng.normal(40, 3, (400, 600)), 0, 255).astype(np.uint8)
    cv2.rectangle(image, (200, 150), (400, 250), 75, -1)
    cv2.putText(image, "ABC 123", (218, 218), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 60, 3)
    image = cv2.GaussianBlur(image, (3, 3), 0.8).astype(np.uint8)
    plate = BBox(x1=200, y1=150, x2=400, y2=250)
    found = refine_plate(image, plate.expand(0.1), CpuDetectorConfig().margin)
    assert found is not None and found.box.iou(plate) > 0.4
    flat = np.full((400, 600), 40, np.uint8)  # nothing to stretch: still nothing found
    assert refine_plate(flat, plate, CpuDetectorConfig().margin) is None


def _plate_under_dealer_text() -> tuple[np.ndarray, BBox]:
    """A faded plate number under a dealer frame's small, bright, crisp text."""
    rng = np.random.default_rng(3)
    image = np.clip(rng.normal(120, 4, (500, 800)), 0, 255).astype(np.uint8)
    x, y, w, h = 250, 200, 300, 100
    cv2.rectangle(image, (x, y), (x + w, y + h), 225, -1)
    cv2.putText(image, "ABC 123", (x + 20, y + 72), cv2.FONT_HERSHEY_SIMPLEX, 1.9, 150, 4)
    cv2.rectangle(image, (x - 10, y - 45), (x + w + 10, y - 2), 20, -1)
    cv2.putText(image, "CAPITOL", (x + 80, y - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 255, 2)
    return cv2.GaussianBlur(image, (3, 3), 0.8), BBox(x1=x, y1=y, x2=x + w, y2=y + h)


def _found_under_hints_moved_up(image: np.ndarray, plate: BBox) -> list[bool]:
    margin = CpuDetectorConfig().margin
    hints = [BBox(x1=plate.x1, y1=plate.y1 - d, x2=plate.x2, y2=plate.y2 - d) for d in range(20, 36, 2)]
    return [bool((r := refine_plate(image, h, margin)) and r.box.iou(plate) > 0.5) for h in hints]


def test_the_row_of_the_size_the_hint_implies_wins_over_smaller_text_nearer_its_centre(monkeypatch) -> None:
    image, plate = _plate_under_dealer_text()
    assert all(_found_under_hints_moved_up(image, plate))
    # Without the size term the crisper dealer text takes over as the hint moves towards it.
    monkeypatch.setattr("dashpipe.models.cpu_detector.SIZE_SIGMA", float("inf"))
    assert not all(_found_under_hints_moved_up(image, plate))


def test_noise_level_reads_the_sensor_noise_and_not_the_edges() -> None:
    from dashpipe.models.cpu_detector import noise_level

    rng = np.random.default_rng(5)
    noisy = np.clip(rng.normal(100, 6, (200, 300)), 0, 255).astype(np.uint8)
    assert 5.0 < noise_level(noisy) < 7.0
    edged = noisy.copy()
    edged[:, ::20] = 250  # strong edges every 20 px barely move it
    assert 5.0 < noise_level(edged) < 7.5
    assert noise_level(np.full((50, 50), 30, np.uint8)) == 1.0  # quantisation floor
