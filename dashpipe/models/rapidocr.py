"""Plate reader on the PP-OCRv6 (small) recognition network shipped in the rapidocr wheel.

Only the recogniser runs (no text detector): the plate number row is found in the crop by
``dashpipe.plates.band`` and read at the network's 48 px height, crops batched by width. The
network is a CTC model over ~18,700 symbols; per time step the probabilities of each letter's
cases and width forms are summed into 36 groups (A-Z, 0-9), every other symbol into one
"separator" group, so a dash or an emblem ends a character instead of being forced into one.
"""

from __future__ import annotations

import importlib.util
import math
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dashpipe.config import RapidOcrConfig
from dashpipe.models.base import BackendUnavailable
from dashpipe.plates.band import TextBand, find_band, is_foreign_char
from dashpipe.plates.text import ALNUM
from dashpipe.types import OcrResult

MODEL_NAME = "PP-OCRv6_rec_small.onnx"
INPUT_HEIGHT = 48
STEP_PX = 8  # input pixels per CTC time step
MAX_WIDTH = INPUT_HEIGHT * 16  # wider inputs are squeezed: a plate row is never this long
BATCH = 8
BAND_MARGIN = 0.15  # of the row height, above and below the number row
PAD_LIMIT = 32  # most padding, in input pixels, a row gets to share a batch
RETRY_BELOW = 0.75  # a read with a character less sure than this (or one dropped) is read again ...
RETRY_MARGINS = (0.05, 0.3)  # ... with these row margins, and the most confident read is kept
RETRY_MIN_CONFIDENCE = 0.7  # ... unless its mean confidence is below this: then it is texture, not a plate
BLANK, SEPARATOR = 0, len(ALNUM) + 1  # group ids; letters and digits are 1..36


def wheel_model(name: str) -> Path | None:
    """A model file shipped inside the rapidocr wheel (None when the wheel is absent)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models" / name


def default_model_path() -> Path | None:
    return wheel_model(MODEL_NAME)


def cpu_session(model: Path, threads: int) -> Any:
    """An onnxruntime CPU session without busy-waiting between runs: the glue code around each run
    (row search, decoding, the video decoder) needs the same cores. ``threads`` 0 lets onnxruntime decide."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


@dataclass(frozen=True, slots=True)
class Grouping:
    """Which network classes make up each of the 36 letter/digit groups (case and width forms)."""

    columns: np.ndarray  # class indices, sorted by group
    starts: np.ndarray  # where each group begins in ``columns``

    @classmethod
    def of(cls, characters: Sequence[str]) -> Grouping:
        classes = ["<blank>", *characters, " "]  # PaddleOCR's CTC layout: blank first, space last
        members: list[list[int]] = [[] for _ in ALNUM]
        for i, ch in enumerate(classes[1:], 1):
            plain = unicodedata.normalize("NFKC", ch).upper()
            if len(plain) == 1 and plain in ALNUM:
                members[ALNUM.index(plain)].append(i)
        missing = [ALNUM[g] for g, m in enumerate(members) if not m]
        if missing:
            raise BackendUnavailable(f"the model's dictionary lacks {''.join(missing)}; set 'ocr.rec_model'")
        starts = np.cumsum([0] + [len(m) for m in members[:-1]])
        return cls(np.array([i for m in members for i in m]), starts)

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        """(T, classes) softmax -> (T, 38): blank, A-Z0-9 in ALNUM order, everything else."""
        alnum = np.add.reduceat(probs[:, self.columns], self.starts, axis=1)
        blank = probs[:, :1]
        other = np.clip(1.0 - blank - alnum.sum(axis=1, keepdims=True), 0.0, 1.0)
        return np.concatenate([blank, alnum, other], axis=1)


@dataclass(frozen=True, slots=True)
class _Decoded:
    text: str
    confidences: tuple[float, ...]
    steps: tuple[float, ...]  # mean time step of each character


def ctc_decode(groups: np.ndarray) -> _Decoded:
    """Greedy CTC over grouped probabilities (T, 38); a character's confidence is its peak probability."""
    best = groups.argmax(axis=1)
    prob = groups.max(axis=1)
    text: list[str] = []
    conf: list[float] = []
    steps: list[list[int]] = []
    prev = -1
    for t, g in enumerate(best.tolist()):
        if g not in (BLANK, SEPARATOR):
            if g != prev:
                text.append(ALNUM[g - 1])
                conf.append(float(prob[t]))
                steps.append([t])
            else:
                conf[-1] = max(conf[-1], float(prob[t]))
                steps[-1].append(t)
        prev = g
    return _Decoded("".join(text), tuple(conf), tuple(float(np.mean(s)) for s in steps))


@dataclass(frozen=True, slots=True)
class _Line:
    image: np.ndarray  # the row to read, BGR
    band: TextBand | None
    crop_width: int


def _bgr(crop: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR) if crop.ndim == 2 else crop


def _line_of(crop: np.ndarray, band: TextBand | None, margin: float) -> _Line:
    if band is None:
        return _Line(crop, None, crop.shape[1])
    top, bottom = band.rows(margin, crop.shape[0])
    return _Line(crop[top:bottom], band, crop.shape[1])


def _input_width(image: np.ndarray) -> int:
    """The row's width at the network's height, keeping its aspect ratio."""
    h, w = image.shape[:2]
    return int(min(MAX_WIDTH, max(STEP_PX * 2, math.ceil(INPUT_HEIGHT * w / max(h, 1)))))


def _normalised(image: np.ndarray, width: int) -> np.ndarray:
    """Grey (plate colours and backgrounds only distract), 48 px high, scaled to [-1, 1]."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    interp = cv2.INTER_AREA if gray.shape[0] > INPUT_HEIGHT else cv2.INTER_LINEAR
    resized = cv2.resize(gray, (width, INPUT_HEIGHT), interpolation=interp).astype(np.float32) / 127.5 - 1.0
    return np.broadcast_to(resized, (3, INPUT_HEIGHT, width))


class RapidOcrReader:
    """PlateReader on a PP-OCR recogniser (PP-OCRv6 small by default); loads the network on first use."""

    name = "rapidocr"

    def __init__(self, cfg: RapidOcrConfig) -> None:
        self.cfg = cfg
        path = cfg.rec_model if cfg.rec_model is not None else default_model_path()
        if path is None or not Path(path).is_file():
            hint = "" if cfg.rec_model is not None else " (is rapidocr installed?)"
            raise BackendUnavailable(
                f"RapidOCR recognition model not found: {path}{hint}; set 'ocr.rec_model' to a PP-OCR rec .onnx file"
            )
        self.model_path = Path(path)
        self._lock = threading.Lock()
        self._session: Any = None
        self._groups: Grouping | None = None

    def _load(self) -> tuple[Any, Grouping]:
        with self._lock:
            if self._session is None or self._groups is None:
                try:
                    session = cpu_session(self.model_path, self.cfg.threads)
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise BackendUnavailable(
                        f"cannot load {self.model_path} ({exc}); set 'ocr.rec_model' to a PP-OCR rec .onnx file"
                    ) from exc
                characters = self._characters(session)
                classes = session.get_outputs()[0].shape[-1]
                if isinstance(classes, int) and classes != len(characters) + 2:
                    raise BackendUnavailable(
                        f"{self.model_path}: the network has {classes} classes but its dictionary "
                        f"{len(characters)} characters (+ blank and space); set 'ocr.rec_model' to a matching model"
                    )
                self._groups = Grouping.of(characters)
                self._session = session
            return self._session, self._groups

    def _characters(self, session: Any) -> list[str]:
        meta = session.get_modelmeta().custom_metadata_map
        if "character" in meta:
            return str(meta["character"]).splitlines()
        keys = self.model_path.with_suffix(".keys.txt")
        if keys.is_file():
            return keys.read_text(encoding="utf-8").splitlines()
        raise BackendUnavailable(
            f"{self.model_path} carries no character dictionary (model metadata 'character') and {keys} "
            "does not exist; set 'ocr.rec_model' to a model with one, or put the dictionary beside it"
        )

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        if not crops:
            return []
        session, groups = self._load()
        images = {i: _bgr(c) for i, c in enumerate(crops) if c.size}
        bands = {i: find_band(im) for i, im in images.items()}
        results = self._read_lines(
            session, groups, {i: _line_of(im, bands[i], BAND_MARGIN) for i, im in images.items()}
        )
        # Unsure reads get a second look with the row cut tighter and looser: a slogan touching the
        # row or a character's top cut off is what usually makes the reader hesitate.
        retry = [i for i, r in results.items() if bands[i] is not None and r.doubtful and _worth_retry(r.result)]
        for margin in RETRY_MARGINS if retry else ():
            again = self._read_lines(session, groups, {i: _line_of(images[i], bands[i], margin) for i in retry})
            for i, r in again.items():
                if r.result.support > results[i].result.support:
                    results[i] = r
        empty = OcrResult(text="", confidence=0.0)
        return [results[i].result if i in results else empty for i in range(len(crops))]

    def _read_lines(self, session: Any, groups: Grouping, lines: dict[int, _Line]) -> dict[int, _Read]:
        """Rows of similar width share a batch; the narrower ones are padded on the right by at most
        PAD_LIMIT pixels (a little grey after the text does not change what is read)."""
        input_name = session.get_inputs()[0].name
        widths = {i: _input_width(line.image) for i, line in lines.items()}
        chunks: list[list[int]] = []
        for i in sorted(lines, key=lambda k: widths[k]):
            if chunks and len(chunks[-1]) < BATCH and widths[i] - widths[chunks[-1][0]] <= PAD_LIMIT:
                chunks[-1].append(i)
            else:
                chunks.append([i])
        results: dict[int, _Read] = {}
        for chunk in chunks:
            batch = np.zeros((len(chunk), 3, INPUT_HEIGHT, max(widths[i] for i in chunk)), dtype=np.float32)
            for row, i in enumerate(chunk):
                batch[row, :, :, : widths[i]] = _normalised(lines[i].image, widths[i])
            probs = session.run(None, {input_name: batch})[0]
            for row, i in enumerate(chunk):
                steps = math.ceil(widths[i] / STEP_PX)
                results[i] = _result(ctc_decode(groups(probs[row, :steps])), lines[i], widths[i])
        return results


def _worth_retry(result: OcrResult) -> bool:
    """Another row margin rescues a plate read with one or two unsure characters; a read unsure
    throughout is texture, common on a drive's proposals and never a plate a margin brings out (the
    second look skips such reads for the same reason, ``second_look.MIN_CONFIDENCE``). A read whose
    characters were all dropped as foreign still gets its retry."""
    return not result.text or result.confidence >= RETRY_MIN_CONFIDENCE


@dataclass(frozen=True, slots=True)
class _Read:
    result: OcrResult
    doubtful: bool  # worth reading again with other row margins


OTHER_GROUND = 40.0  # Lab chroma distance between an edge character's ground and the plate's


@dataclass(frozen=True, slots=True)
class _RowGround:
    """A row's colours (Lab a, b) and its plate's ground colour, measured once per read row."""

    ab: np.ndarray | None  # None for a grey row: no colour to tell a band by
    plate: np.ndarray

    @classmethod
    def of(cls, row: np.ndarray) -> _RowGround:
        if row.ndim != 3 or row.shape[1] < 4:
            return cls(None, np.zeros(2, np.float32))
        ab = cv2.cvtColor(row, cv2.COLOR_BGR2LAB)[:, :, 1:].astype(np.float32)
        return cls(ab, np.median(ab.reshape(-1, 2), axis=0))

    def other(self, x: float, glyph_h: float, look_left: bool) -> bool:
        """Does the character at ``x`` stand on a ground of another colour than the plate's?

        The EU country band (blue, beside white or yellow plates) and coloured emblems carry letters
        of their own ("NL", "D", a state's initials) that a reader puts in front of the number. The
        ground is looked at around the character and, with ``look_left``, on its left too (where the
        bands stand): the reader's place for a character can be a few pixels inward of it, and a
        narrow band then fills only part of a window centred there. Never outward on the right: a
        loose crop's window there reaches past the plate onto the car's body.
        """
        if self.ab is None:
            return False
        half = max(1, int(round(0.3 * glyph_h)))
        windows = [(int(x) - half, int(x) + half + 1)]
        if look_left:
            windows.append((int(x) - 2 * half, int(x) + 1))
        for lo, hi in windows:
            lo, hi = max(0, lo), min(self.ab.shape[1], hi)
            if hi > lo:
                here = np.median(self.ab[:, lo:hi].reshape(-1, 2), axis=0)
                if float(np.linalg.norm(here - self.plate)) > OTHER_GROUND:
                    return True
        return False


MAX_PEELED = 3  # end characters dropped at most from each side: a band or emblem carries no more letters


def _kept(line: _Line, xs: Sequence[float], confs: Sequence[float]) -> list[int]:
    """Indices of the characters read at ``xs`` that belong to the number row.

    Small characters are dropped anywhere; the end rules (beyond the row, on another ground) are
    applied from each end inward, because a band's letters come in pairs ("NL"): once the outer
    one is dropped the inner one is the end. Peeling stops at the first character that stays, and
    after MAX_PEELED, so a loose crop whose colours mislead the ground test still keeps its number.
    On the left the ground is also looked at outward of the character while the peeled characters
    stood on a band, not past it onto the band from the number's own first character.
    """
    band = line.band
    assert band is not None
    ground = _RowGround.of(line.image)
    lo, hi = 0, len(xs) - 1
    look_left = True
    while lo <= hi and lo < MAX_PEELED:
        on_band = ground.other(xs[lo], band.height, look_left)
        if not (on_band or is_foreign_char(band, xs[lo], confs[lo], True)):
            break
        look_left = on_band
        lo += 1
    while hi >= lo and len(xs) - 1 - hi < MAX_PEELED:
        if not (is_foreign_char(band, xs[hi], confs[hi], True) or ground.other(xs[hi], band.height, False)):
            break
        hi -= 1
    return [k for k in range(lo, hi + 1) if not is_foreign_char(band, xs[k], confs[k], False)]


def _result(decoded: _Decoded, line: _Line, width: int) -> _Read:
    """The read with characters foreign to the number row dropped. It is doubtful when the network was
    unsure of a character or when one was dropped: a dropped character may have been a real one."""
    chars, confs = list(decoded.text), list(decoded.confidences)
    if line.band is not None and chars:
        px = line.crop_width / width  # crop pixels per input pixel (the row spans the crop's width)
        keep = _kept(line, [(step + 0.5) * STEP_PX * px for step in decoded.steps], confs)
        chars = [chars[k] for k in keep]
        confs = [confs[k] for k in keep]
    doubtful = len(chars) < len(decoded.text) or min(decoded.confidences, default=0.0) < RETRY_BELOW
    if not chars:
        # Nothing seen at all is texture, not a plate another margin would bring out: only a read
        # whose characters were all dropped as foreign is worth a second look.
        return _Read(OcrResult(text="", confidence=0.0), doubtful=bool(decoded.text))
    result = OcrResult(text="".join(chars), confidence=float(np.mean(confs)), char_confidences=tuple(confs))
    return _Read(result, doubtful)
