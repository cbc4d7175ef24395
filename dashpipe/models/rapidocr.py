"""Plate reader on the PP-OCRv6 (small) recognition network shipped in the rapidocr wheel.

Only the recogniser runs (no text detector): the plate number row is found in the crop by
``dashpipe.plates.band`` and read at the network's 48 px height, crops batched by width. The
network is a CTC model over ~18,700 symbols; per time step the probabilities of each letter's
cases and width forms are summed into 36 groups (A-Z, 0-9), every other symbol into one
"separator" group, so a dash or an emblem ends a character instead of being forced into one.

A read with a character the network was unsure of is read again by a second, differently trained
network (PP-OCRv4, from the rapidocr_onnxruntime wheel) and the surer read is kept: the two
networks misread different plates, and where only one reads a plate right, its read is usually
the surer one. Only unsure reads (``bench/ocr_bench.py`` counts them) pay for the second network.
"""

from __future__ import annotations

import importlib.util
import logging
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
from dashpipe.plates.band import TextBand, eroded_band, find_band, is_foreign_char
from dashpipe.plates.text import ALNUM
from dashpipe.types import OcrResult

MODEL_NAME = "PP-OCRv6_rec_small.onnx"
SECOND_PACKAGE, SECOND_MODEL = "rapidocr_onnxruntime", "ch_PP-OCRv4_rec_infer.onnx"
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

log = logging.getLogger("dashpipe")


def wheel_model(name: str, package: str = "rapidocr") -> Path | None:
    """A model file shipped inside an installed wheel (None when the wheel is absent). The package is
    found, never imported: its own dependencies need not be installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models" / name


def default_model_path() -> Path | None:
    return wheel_model(MODEL_NAME)


def default_second_model() -> Path | None:
    """The packaged second network when its wheel is installed with the file in it."""
    path = wheel_model(SECOND_MODEL, SECOND_PACKAGE)
    return path if path is not None and path.is_file() else None


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


@dataclass(frozen=True, slots=True)
class _Network:
    session: Any
    groups: Grouping


def _characters(session: Any, path: Path, key: str) -> list[str]:
    meta = session.get_modelmeta().custom_metadata_map
    if "character" in meta:
        return str(meta["character"]).splitlines()
    keys = path.with_suffix(".keys.txt")
    if keys.is_file():
        return keys.read_text(encoding="utf-8").splitlines()
    raise BackendUnavailable(
        f"{path} carries no character dictionary (model metadata 'character') and {keys} "
        f"does not exist; set '{key}' to a model with one, or put the dictionary beside it"
    )


def load_network(path: Path, threads: int, key: str) -> _Network:
    """A recognition network and its letter/digit grouping; ``key`` is the setting that names the file."""
    try:
        session = cpu_session(path, threads)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise BackendUnavailable(f"cannot load {path} ({exc}); set '{key}' to a PP-OCR rec .onnx file") from exc
    characters = _characters(session, path, key)
    classes = session.get_outputs()[0].shape[-1]
    if isinstance(classes, int) and classes != len(characters) + 2:
        raise BackendUnavailable(
            f"{path}: the network has {classes} classes but its dictionary "
            f"{len(characters)} characters (+ blank and space); set '{key}' to a matching model"
        )
    return _Network(session, Grouping.of(characters))


def _second_path(cfg: RapidOcrConfig, first: Path) -> Path | None:
    """The second network's file: as configured, the packaged one for "auto", None for "off"."""
    if cfg.second_model == "off":
        return None
    if cfg.second_model == "auto":
        found = default_second_model()
        if found is None:
            log.warning(
                "second OCR network not installed (%s from the %s wheel): unsure reads get no second "
                "opinion; install it with `pip install --no-deps %s==1.4.4`, or set ocr.second_model: off",
                SECOND_MODEL,
                SECOND_PACKAGE,
                SECOND_PACKAGE,
            )
        return None if found is None or found.resolve() == first.resolve() else found
    if not Path(cfg.second_model).is_file():
        raise BackendUnavailable(
            f"second OCR network not found: {cfg.second_model}; set 'ocr.second_model' to a PP-OCR rec "
            ".onnx file, 'auto' or 'off'"
        )
    return Path(cfg.second_model)


class RapidOcrReader:
    """PlateReader on a PP-OCR recogniser (PP-OCRv6 small by default) with a second network's opinion
    on unsure reads; loads the networks on first use."""

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
        self.second_path = _second_path(cfg, self.model_path)
        self._lock = threading.Lock()
        self._networks: tuple[_Network, ...] = ()

    def _load(self) -> tuple[_Network, ...]:
        with self._lock:
            if not self._networks:
                first = load_network(self.model_path, self.cfg.threads, "ocr.rec_model")
                second = (
                    ()
                    if self.second_path is None
                    else (load_network(self.second_path, self.cfg.threads, "ocr.second_model"),)
                )
                self._networks = (first, *second)
            return self._networks

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        if not crops:
            return []
        first, *second = self._load()
        images = {i: _bgr(c) for i, c in enumerate(crops) if c.size}
        bands = {i: find_band(im) for i, im in images.items()}
        others: dict[int, TextBand | None] = {}  # rows found with thin links cut, once per retried crop
        results = self._read_with(first, images, bands, others)
        unsure = [i for i, r in results.items() if self.second_reads(r)]
        for network in second if unsure else ():
            again = self._read_with(network, {i: images[i] for i in unsure}, bands, others)
            for i, r in again.items():
                if r.confidence > results[i].confidence:
                    results[i] = r
        empty = OcrResult(text="", confidence=0.0)
        return [results.get(i, empty) for i in range(len(crops))]

    def second_reads(self, result: OcrResult) -> bool:
        """Whether the second network reads again a crop the first read as ``result``: a plate-like
        read with a character read less surely than ``second_below``. Texture (nothing read, or
        unsure throughout) is not: another network would only give it another chance to look like
        a plate."""
        return (
            self.second_path is not None
            and bool(result.text)
            and result.confidence >= RETRY_MIN_CONFIDENCE
            and min(result.char_confidences, default=0.0) < self.cfg.second_below
        )

    def _read_with(
        self,
        network: _Network,
        images: dict[int, np.ndarray],
        bands: dict[int, TextBand | None],
        others: dict[int, TextBand | None],
    ) -> dict[int, OcrResult]:
        """``others`` holds each retried crop's row found with thin links cut; filled here on first need
        and shared between the networks, which retry the same crops."""
        results = self._read_lines(network, {i: _line_of(im, bands[i], BAND_MARGIN) for i, im in images.items()})
        # Unsure reads get a second look with the row cut tighter and looser: a slogan touching the
        # row or a character's top cut off is what usually makes the reader hesitate. And at the row
        # found with thin links cut, where that lies elsewhere: characters glued to a dark frame leave
        # the frame's uprights to pass for the row (``band.eroded_band``).
        retry = {
            i: band
            for i, r in results.items()
            if (band := bands[i]) is not None and r.doubtful and _worth_retry(r.result)
        }
        for i, band in retry.items():
            if i not in others:
                others[i] = eroded_band(images[i], band)
        retries = [{i: _line_of(images[i], band, margin) for i, band in retry.items()} for margin in RETRY_MARGINS]
        retries.append({i: _line_of(images[i], other, BAND_MARGIN) for i in retry if (other := others[i]) is not None})
        for lines in retries:
            for i, r in self._read_lines(network, lines).items():
                if r.result.support > results[i].result.support:
                    results[i] = r
        return {i: r.result for i, r in results.items()}

    def _read_lines(self, network: _Network, lines: dict[int, _Line]) -> dict[int, _Read]:
        """Rows of similar width share a batch; the narrower ones are padded on the right by at most
        PAD_LIMIT pixels (a little grey after the text does not change what is read)."""
        session, groups = network.session, network.groups
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
INK_CHROMA = 20.0  # Lab chroma below which a pixel has no colour (black ink, white letters, grey paint)
MIN_GROUND_SHARE = 0.25  # ... and the share of coloured pixels a window needs to be judged by them alone


def _chroma(ab: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.norm(ab - 128.0, axis=-1))  # OpenCV's 8-bit Lab has grey at a = b = 128


@dataclass(frozen=True, slots=True)
class _RowGround:
    """A row's colours (Lab a, b) and its plate's ground colour, measured once per read row."""

    ab: np.ndarray | None  # None for a grey row: no colour to tell a band by
    plate: np.ndarray

    @property
    def coloured(self) -> bool:
        """The plate's ground has a colour (yellow, orange, green), and then its ink has none."""
        return bool(_chroma(self.plate) >= INK_CHROMA)

    @classmethod
    def of(cls, row: np.ndarray, span: tuple[float, float] | None = None) -> _RowGround:
        """``span``: the first and last column of the number's characters, where the plate's ground is
        measured. A loose crop holds the car's body on both sides of the plate, and over the whole row
        its colour can outweigh a yellow plate's: every character would then stand on another ground."""
        if row.ndim != 3 or row.shape[1] < 4:
            return cls(None, np.zeros(2, np.float32))
        ab = cv2.cvtColor(row, cv2.COLOR_BGR2LAB)[:, :, 1:].astype(np.float32)
        lo, hi = (0, ab.shape[1]) if span is None else (max(0, int(span[0])), int(math.ceil(span[1])) + 1)
        return cls(ab, np.median((ab[:, lo:hi] if hi > lo else ab).reshape(-1, 2), axis=0))

    def _ground(self, lo: int, hi: int) -> np.ndarray:
        """The median colour of columns lo:hi. On a coloured plate a character's colourless pixels are
        its ink, not its ground: a heavy glyph beside the plate's dark rim ("J") or right after the
        country band ("P" on a Dutch plate) leaves more ink than ground in its window, and the ink's
        grey, or the band's edge beside it, would pass for another ground. They are left out while
        enough coloured pixels remain (a band's white letters leave its blue)."""
        assert self.ab is not None
        pixels = self.ab[:, lo:hi].reshape(-1, 2)
        if self.coloured:
            tinted = pixels[_chroma(pixels) >= INK_CHROMA]
            if len(tinted) >= MIN_GROUND_SHARE * len(pixels):
                pixels = tinted
        return np.median(pixels, axis=0)

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
            if hi > lo and float(np.linalg.norm(self._ground(lo, hi) - self.plate)) > OTHER_GROUND:
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
    ground = _RowGround.of(line.image, (band.x1, band.x2))
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
