"""Proposers: the classic-CV plate proposer and the SSD-style .tflite proposer."""

from __future__ import annotations

import ctypes.util
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from dashpipe.config import CpuProposerConfig, TfliteProposerConfig
from dashpipe.models.base import BackendUnavailable, Proposer
from dashpipe.models.cpu_proposer import (
    CpuProposer,
    GlyphRows,
    _inner_glyphs,
    link_rows,
    nms,
    plate_boxes,
    propose_plates,
)
from dashpipe.models.registry import build_proposer
from dashpipe.models.tflite_proposer import TfliteProposer, prepare_input, read_labels, split_outputs
from dashpipe.types import BBox
from tests.conftest import labelled_photos

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PLATES = DATA / "plates" / "openalpr-us"


def _labelled(n: int) -> list[tuple[np.ndarray, BBox]]:
    return labelled_photos(n, start=0)


def _synthetic_plate(rng: np.random.Generator) -> tuple[np.ndarray, BBox]:
    """A light plate with dark text on a noisy darker ground."""
    image = np.clip(rng.normal(90, 12, (540, 960, 3)), 0, 255).astype(np.uint8)
    cv2.rectangle(image, (400, 300), (520, 360), (235, 235, 235), -1)
    cv2.putText(image, "ABC 123", (408, 343), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2)
    return image, BBox(x1=400, y1=300, x2=520, y2=360)


# ---------------------------------------------------------------- pure parts


def test_nms_keeps_best_of_overlapping_and_respects_limit():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [40, 40, 50, 50]], float)
    scores = np.array([0.5, 0.9, 0.3, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [1, 3, 2]
    assert nms(boxes, scores, 0.5, limit=2).tolist() == [1, 3]
    assert nms(boxes, scores, 0.99).tolist() == [1, 3, 0, 2]


def test_link_rows_joins_aligned_glyphs_only():
    row = [[10 + 12 * i, 50, 8, 16] for i in range(5)]  # five glyphs, one baseline
    stray = [[300, 10, 8, 16], [400, 200, 8, 30]]
    rows = link_rows(np.array(row + stray, np.float32))
    assert len(rows.x1) == 1
    assert rows.glyphs[0] == 5
    assert (rows.x1[0], rows.x2[0]) == (10, 10 + 12 * 4 + 8)
    assert rows.y1[0] == pytest.approx(50) and rows.y2[0] == pytest.approx(66)
    steps = [[10 + 12 * i, 50 + 9 * i, 8, 16] for i in range(5)]  # a staircase is no row
    assert len(link_rows(np.array(steps, np.float32)).x1) == 0


def test_end_glyph_standing_apart_is_dropped():
    # glyphs at x 0, 10, 20, 30 (w 8, h 16) and a bolt 20 px (> 0.8 h) after the last one
    x = np.array([0, 10, 20, 30, 58], float)
    keep = _inner_glyphs(np.zeros(5, np.intp), x, np.full(5, 8.0), np.full(5, 16.0), 3)
    assert keep.tolist() == [True, True, True, True, False]


def test_plate_box_grows_around_the_glyph_row():
    rows = GlyphRows(*(np.array([v], float) for v in (100, 50, 160, 60, 10, 5, 0.0, 0.5, 0)))
    x1, y1, x2, y2 = plate_boxes(rows, up=1.3, down=1.2, side=0.5, stretch=0.0)[0]
    assert (x1, x2) == (95, 165)
    assert (y1, y2) == (42, 67)


# ---------------------------------------------------------------- CpuProposer


def test_cpu_proposer_is_built_from_config_and_meets_the_protocol():
    proposer = build_proposer(CpuProposerConfig(width=640, max_regions=5))
    assert isinstance(proposer, CpuProposer)
    assert isinstance(proposer, Proposer)
    assert proposer.width == 640


def test_cpu_proposer_finds_a_rendered_plate_and_nothing_on_a_blank_frame():
    image, plate = _synthetic_plate(np.random.default_rng(0))
    regions = CpuProposer(CpuProposerConfig(max_regions=3)).propose(image)
    assert 1 <= len(regions) <= 3
    assert regions[0].label == "plate"
    assert regions[0].box.iou(plate) > 0.5
    assert propose_plates(np.full((540, 960, 3), 128, np.uint8)) == []


def test_cpu_proposer_on_real_photos():
    proposer = CpuProposer(CpuProposerConfig())
    samples = _labelled(12)
    found = 0
    for image, plate in samples:
        h, w = image.shape[:2]
        s = proposer.width / w
        small = cv2.resize(image, (proposer.width, round(h * s)), interpolation=cv2.INTER_AREA)
        regions = proposer.propose(small)
        assert len(regions) <= proposer.cfg.max_regions
        scores = [r.score for r in regions]
        assert scores == sorted(scores, reverse=True)
        for r in regions:
            assert r.label == "plate" and 0.0 <= r.score <= 1.0
            assert 0 <= r.box.x1 < r.box.x2 <= small.shape[1] and 0 <= r.box.y1 < r.box.y2 <= small.shape[0]
        found += any(r.box.scale(1 / s).iou(plate) >= 0.3 for r in regions)
    assert found >= len(samples) - 1


# ---------------------------------------------------------------- TfliteProposer

NEEDS_LITERT = pytest.mark.skipif(
    importlib.util.find_spec("ai_edge_litert") is None, reason="ai-edge-litert (the coral extra) is not installed"
)

# No PyPI wheel ships a small SSD-style detector, so the test builds one: a real TFLite
# flatbuffer (written with the schema bindings inside ai_edge_litert) whose graph is
# DEQUANTIZE -> MEAN -> FULLY_CONNECTED -> LOGISTIC -> RESHAPE into TFLite's own
# TFLite_Detection_PostProcess op, the tail every SSD export ends in. Its weights are made
# up: zero box encodings decode to the anchors, and the biases pick each anchor's class.
ANCHORS = np.array(  # ycenter, xcenter, h, w (normalised)
    [[0.5, 0.5, 0.2, 0.4], [0.5, 0.5, 0.8, 0.8], [0.2, 0.2, 0.2, 0.2], [0.8, 0.8, 0.1, 0.1]], np.float32
)
LABELS = "0 license_plate\n1 car\n2 person\n"  # the classes after the background


def _build_ssd_like(path: Path, size: int = 32) -> None:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s
    from flatbuffers import flexbuffers

    n, c1 = len(ANCHORS), 4
    bias = np.full((n, c1), -6.0, np.float32)  # index 0 is the background class
    bias[0, 1], bias[1, 2], bias[2, 3] = 4.0, 3.0, 2.0  # plate, car, person; anchor 3 scores low
    buffers, tensors, codes, ops = [s.BufferT()], [], [], []

    def tensor(name, shape, ttype, data=None, quant=None):
        buf = s.BufferT()
        if data is not None:
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8).tolist()
        buffers.append(buf)
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), ttype, len(buffers) - 1
        if quant is not None:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [quant[0]], [quant[1]]
            t.quantization = q
        tensors.append(t)
        return len(tensors) - 1

    def op(builtin, ins, outs, opt_type=0, opt=None, custom_code=None, custom=None):
        code = s.OperatorCodeT()
        code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
        code.customCode = custom_code
        codes.append(code)
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = len(codes) - 1, ins, outs
        if opt is not None:
            o.builtinOptionsType, o.builtinOptions = opt_type, opt
        if custom is not None:
            o.customOptions, o.customOptionsFormat = list(custom), s.CustomOptionsFormat.FLEXBUFFERS
        ops.append(o)

    f32, i32, u8 = s.TensorType.FLOAT32, s.TensorType.INT32, s.TensorType.UINT8
    t_in = tensor("image", [1, size, size, 3], u8, quant=(1 / 255.0, 0))
    t_f = tensor("image_float", [1, size, size, 3], f32)
    t_axes = tensor("mean_axes", [2], i32, np.array([1, 2], np.int32))
    t_mean = tensor("mean_rgb", [1, 3], f32)
    weights = np.zeros((n * c1, 3), np.float32)
    weights[:, 0] = 0.1  # scores move a little with the image
    t_w = tensor("fc_weights", [n * c1, 3], f32, weights)
    t_b = tensor("fc_bias", [n * c1], f32, bias.reshape(-1))
    t_fc = tensor("logits", [1, n * c1], f32)
    t_sig = tensor("scores_flat", [1, n * c1], f32)
    t_shape = tensor("scores_shape", [3], i32, np.array([1, n, c1], np.int32))
    t_cls = tensor("class_predictions", [1, n, c1], f32)
    t_enc = tensor("box_encodings", [1, n, 4], f32, np.zeros((1, n, 4), np.float32))
    t_anchors = tensor("anchors", [n, 4], f32, ANCHORS)
    m = 10
    outs = [
        tensor("TFLite_Detection_PostProcess", [1, m, 4], f32),
        tensor("TFLite_Detection_PostProcess:1", [1, m], f32),
        tensor("TFLite_Detection_PostProcess:2", [1, m], f32),
        tensor("TFLite_Detection_PostProcess:3", [1], f32),
    ]
    op(s.BuiltinOperator.DEQUANTIZE, [t_in], [t_f])
    reducer = s.ReducerOptionsT()
    reducer.keepDims = False
    op(s.BuiltinOperator.MEAN, [t_f, t_axes], [t_mean], s.BuiltinOptions.ReducerOptions, reducer)
    fc = s.FullyConnectedOptionsT()
    op(s.BuiltinOperator.FULLY_CONNECTED, [t_mean, t_w, t_b], [t_fc], s.BuiltinOptions.FullyConnectedOptions, fc)
    op(s.BuiltinOperator.LOGISTIC, [t_fc], [t_sig])
    reshape = s.ReshapeOptionsT()
    reshape.newShape = [1, n, c1]
    op(s.BuiltinOperator.RESHAPE, [t_sig, t_shape], [t_cls], s.BuiltinOptions.ReshapeOptions, reshape)
    fbb = flexbuffers.Builder()
    with fbb.Map():
        fbb.Int("max_detections", m)
        fbb.Int("max_classes_per_detection", 1)
        fbb.Int("detections_per_class", 100)
        fbb.Bool("use_regular_nms", False)
        fbb.Float("nms_score_threshold", 0.05)
        fbb.Float("nms_iou_threshold", 0.6)
        fbb.Int("num_classes", c1 - 1)
        for key, value in (("y_scale", 10.0), ("x_scale", 10.0), ("h_scale", 5.0), ("w_scale", 5.0)):
            fbb.Float(key, value)
    op(
        s.BuiltinOperator.CUSTOM,
        [t_enc, t_cls, t_anchors],
        outs,
        custom_code="TFLite_Detection_PostProcess",
        custom=fbb.Finish(),
    )
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators, graph.name = tensors, [t_in], outs, ops, "main"
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, codes, [graph], buffers
    model.description = "tiny SSD-like detector built by the test"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())


@pytest.fixture(scope="module")
def ssd_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ssd")
    model, labels = folder / "ssd_like.tflite", folder / "labels.txt"
    _build_ssd_like(model)
    labels.write_text(LABELS, encoding="utf-8")
    return model, labels


def _real_frame() -> np.ndarray:
    stills = sorted((DATA / "video").rglob("*.jpg")) + sorted(PLATES.glob("*.jpg"))
    if not stills:
        pytest.skip(f"no real image under {DATA}")
    image = cv2.imread(str(stills[0]))
    assert image is not None
    return image


@NEEDS_LITERT
def test_tflite_proposer_runs_a_real_tflite_model_on_a_real_frame(ssd_files):
    model, labels = ssd_files
    proposer = build_proposer(TfliteProposerConfig(type="tflite", model=model, labels=labels))
    assert isinstance(proposer, TfliteProposer) and isinstance(proposer, Proposer)
    assert proposer.width == 32  # the model's input width
    image = _real_frame()
    h, w = image.shape[:2]
    regions = proposer.propose(image)
    by_label = {r.label: r for r in regions}
    assert sorted(by_label) == ["plate", "vehicle"]  # 'person' is neither; anchor 3 is below threshold
    plate, car = by_label["plate"], by_label["vehicle"]
    assert plate.kind is None and car.kind == "car"
    assert plate.box.x1 == pytest.approx(0.3 * w, abs=1) and plate.box.x2 == pytest.approx(0.7 * w, abs=1)
    assert plate.box.y1 == pytest.approx(0.4 * h, abs=1) and plate.box.y2 == pytest.approx(0.6 * h, abs=1)
    assert car.box.x1 == pytest.approx(0.1 * w, abs=1) and car.box.y2 == pytest.approx(0.9 * h, abs=1)
    for r in regions:
        assert 0.0 <= r.score <= 1.0 and r.score >= 0.3
        assert 0 <= r.box.x1 < r.box.x2 <= w and 0 <= r.box.y1 < r.box.y2 <= h


@NEEDS_LITERT
def test_tflite_proposer_threshold_and_label_mapping_are_configurable(ssd_files):
    model, labels = ssd_files
    cfg = TfliteProposerConfig(
        type="tflite", model=model, labels=labels, score_threshold=0.0, vehicle_labels=("car", "person")
    )
    regions = TfliteProposer(cfg).propose(_real_frame())
    assert sorted(r.kind or "plate" for r in regions) == ["car", "person", "plate"]
    no_labels = TfliteProposer(TfliteProposerConfig(type="tflite", model=model, plate_labels=("0",)))
    assert [r.label for r in no_labels.propose(_real_frame())] == ["plate"]  # ids stand in for names


@NEEDS_LITERT
def test_edgetpu_without_a_tpu_says_what_is_missing(ssd_files):
    model, _ = ssd_files
    if ctypes.util.find_library("edgetpu"):
        pytest.skip("libedgetpu is installed here; the missing-delegate path cannot be shown")
    with pytest.raises(BackendUnavailable) as err:
        TfliteProposer(TfliteProposerConfig(type="edgetpu", model=model, device="usb:0"))
    message = str(err.value)
    assert "libedgetpu.so.1" in message and "usb:0" in message
    assert "libedgetpu1-std" in message and "proposer.type: tflite" in message


def test_missing_model_file_names_the_file_and_the_setting(tmp_path):
    missing = tmp_path / "nope.tflite"
    with pytest.raises(BackendUnavailable, match=r"nope\.tflite.*proposer\.model"):
        TfliteProposer(TfliteProposerConfig(type="tflite", model=missing))


def test_split_outputs_handles_tf2_order_and_names():
    boxes = np.array([[[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.6, 0.7], [0, 0, 0, 0]]], np.float32)
    classes = np.array([[2.0, 0.0, 0.0]], np.float32)
    scores = np.array([[0.9, 0.4, 0.0]], np.float32)
    count = np.array([2.0], np.float32)
    tf2 = [("StatefulPartitionedCall:1", scores), ("StatefulPartitionedCall:3", boxes),
           ("StatefulPartitionedCall:0", count), ("StatefulPartitionedCall:2", classes)]  # fmt: skip
    for outputs in (tf2, [("detection_classes", classes), ("detection_boxes", boxes),
                          ("detection_scores", scores), ("num_detections", count)]):  # fmt: skip
        det = split_outputs(outputs)
        assert det.boxes.shape == (2, 4)
        assert det.classes.tolist() == [2.0, 0.0]
        assert det.scores.tolist() == pytest.approx([0.9, 0.4])
    with pytest.raises(ValueError, match="4 detection outputs"):
        split_outputs([("a", boxes)])


def test_read_labels_both_formats(tmp_path):
    plain, numbered = tmp_path / "plain.txt", tmp_path / "numbered.txt"
    plain.write_text("background\nlicense_plate\ncar\n", encoding="utf-8")
    numbered.write_text("0  person\n2 car\n7 license plate\n", encoding="utf-8")
    assert read_labels(plain) == {0: "background", 1: "license_plate", 2: "car"}
    assert read_labels(numbered) == {0: "person", 2: "car", 7: "license plate"}


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.uint8, 255), (np.int8, 127), (np.float32, 1.0)],
)
def test_prepare_input_matches_the_model_type(dtype, expected):
    image = np.full((20, 40, 3), 255, np.uint8)
    tensor = prepare_input(image, {"shape": np.array([1, 8, 16, 3]), "dtype": dtype})
    assert tensor.shape == (1, 8, 16, 3) and tensor.dtype == dtype
    assert tensor.max() == pytest.approx(expected)


@NEEDS_LITERT
def test_a_model_without_detection_outputs_is_refused_at_start(tmp_path):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    t_in, t_out = s.TensorT(), s.TensorT()
    for t, name in ((t_in, "x"), (t_out, "y")):
        t.name, t.shape, t.type, t.buffer = name, [1, 4, 4, 3], s.TensorType.FLOAT32, 0
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.LOGISTIC
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = [t_in, t_out], [0], [1], [op]
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], [s.BufferT()]
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / "classifier.tflite"
    path.write_bytes(builder.Output())
    with pytest.raises(BackendUnavailable, match=r"classifier\.tflite \(proposer\.model\).*1 outputs"):
        TfliteProposer(TfliteProposerConfig(type="tflite", model=path))


def test_small_distant_plate_is_proposed():
    # A plate drawn large and shrunk by area averaging, as a camera blurs it: glyphs about 6 px tall at
    # the proposer's width (a 1080p plate about 17 px tall, still readable at full resolution).
    rng = np.random.default_rng(3)
    big = np.full((60, 240, 3), 230, np.uint8)
    cv2.putText(big, "KT 4821", (10, 47), cv2.FONT_HERSHEY_SIMPLEX, 1.45, (25, 25, 25), 4)
    small = cv2.resize(big, (48, 12), interpolation=cv2.INTER_AREA)
    image = np.clip(rng.normal(95, 10, (540, 960, 3)), 0, 255).astype(np.uint8)
    image[400:412, 500:548] = small
    regions = CpuProposer(CpuProposerConfig()).propose(image)
    truth = BBox(x1=500, y1=400, x2=548, y2=412)
    assert max((r.box.iou(truth) for r in regions), default=0.0) >= 0.3
