"""All frame I/O: probe, low-resolution luma decode, full-resolution reads, the small archive video.

Decoding is the physical limit of every stage that looks at every frame, so the low-resolution
path avoids colour conversion altogether: it takes the decoder's luma plane as it is and only
shrinks it. Frame times come from each frame's PTS, not ``index / fps``, so variable frame rate
footage stays aligned with GPS.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import ColorRange, VideoReformatter

from dashpipe.read_ahead import read_ahead
from dashpipe.types import VideoInfo


class BadVideo(ValueError):
    """The file is not a video we can decode (empty, truncated, not a video). Permanent."""


# Decoder options of the low-resolution pass when ``skip_deblocking`` is on (see ``_decode``).
SKIP_DEBLOCKING = {"skip_loop_filter": "all"}

_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"}


def _parse_creation_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    parsed = parsed.astimezone(timezone.utc)
    # Cameras without a set clock write 1904/1970 epochs; those say nothing.
    return parsed if parsed.year >= 2000 else None


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise BadVideo(f"video not found: {path}")
    if path.stat().st_size == 0:
        raise BadVideo(f"video is empty (0 bytes): {path}")
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise BadVideo(f"not a readable video: {path}: {exc}") from exc


def probe(path: Path) -> VideoInfo:
    """Stream facts without decoding; raises BadVideo for anything that is not a video."""
    with _open(path) as container:
        if not container.streams.video:
            raise BadVideo(f"no video stream in {path}")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise BadVideo(f"video stream without a frame size in {path}")
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        fps = float(rate)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = int(stream.frames) if stream.frames else int(round(duration * fps))
        created = _parse_creation_time(container.metadata.get("creation_time") or stream.metadata.get("creation_time"))
        return VideoInfo(
            width=int(ctx.width),
            height=int(ctx.height),
            fps=round(fps, 3),
            duration_s=round(duration, 3),
            frames_total=frames,
            codec=str(ctx.name),
            creation_time=created,
        )


@dataclass(frozen=True, slots=True)
class LowFrame:
    """One decoded frame, small: its luma for the frame measures and, when asked for, a larger luma
    for a proposer that reads luma only (``detail``) or the decoder's frame for one that needs colour."""

    index: int
    pts_s: float
    luma: np.ndarray
    detail: np.ndarray | None = None
    frame: av.VideoFrame | None = None

    def bgr(self, width: int) -> np.ndarray:
        """The frame in colour at ``width`` (only paid for the frames a stage keeps); grey without a frame."""
        if self.frame is not None:
            height = _even(self.frame.height * width / self.frame.width)
            return self.frame.to_ndarray(width=width, height=height, format="bgr24")
        gray = self.gray(width)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)

    def gray(self, width: int) -> np.ndarray:
        """Luma at ``width``, from the largest image this frame still holds."""
        if self.detail is not None and self.detail.shape[1] == width:
            return self.detail
        if self.frame is not None:
            return _luma(self.frame, width)
        return shrink(self.detail if self.detail is not None else self.luma, width)


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def shrink(gray: np.ndarray, width: int) -> np.ndarray:
    """``gray`` at ``width`` pixels wide by area averaging.

    Halving is OpenCV's fast path for the area filter (one 2x2 mean per pixel); a single large
    step is several times slower, so big reductions go by halves and finish with one small step.
    """
    h, w = gray.shape[:2]
    height = _even(h * width / w)
    if width > w:
        return cv2.resize(gray, (width, height), interpolation=cv2.INTER_LINEAR)
    while w >= 2 * width and w >= 4 and h >= 4:
        w, h = w // 2, h // 2
        gray = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA)
    if (w, h) == (width, height):
        return gray if gray.flags.owndata else gray.copy()
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)


def _luma(frame: av.VideoFrame, width: int) -> np.ndarray:
    return _at_width(_full_luma(frame), width)


def _full_luma(frame: av.VideoFrame, scaler: VideoReformatter | None = None) -> np.ndarray:
    """The frame's luma at full size: a view of its plane when it has one, else a grey conversion."""
    if frame.format.name in _PLANAR_8BIT:
        return _plane(frame, 0)
    return (scaler or VideoReformatter()).reformat(frame, format="gray").to_ndarray()


def _at_width(full: np.ndarray, width: int) -> np.ndarray:
    """A copy of ``full`` at ``width`` (a plane view must not outlive its frame)."""
    return full.copy() if full.shape[1] == width else shrink(full, width)


def _frame_time(frame: av.VideoFrame, first_pts: int | None, index: int, fps: float) -> float:
    if frame.pts is None or frame.time_base is None or first_pts is None:
        return index / fps if fps > 0 else 0.0
    return float((frame.pts - first_pts) * frame.time_base)


def _decode(path: Path, skip_deblocking: bool = False) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """Every frame in presentation order with its index and time; decode errors become BadVideo.

    ``skip_deblocking`` leaves out the loop filter of codecs that have one (H.264, HEVC): the
    frames then carry faint block edges, and errors drift a little until the next key frame,
    neither of which survives shrinking to a few hundred pixels.
    """
    container = _open(path)
    try:
        if not container.streams.video:
            raise BadVideo(f"no video stream in {path}")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if skip_deblocking:
            stream.codec_context.options = dict(SKIP_DEBLOCKING)
        fps = float(stream.average_rate or 30)
        first_pts: int | None = None
        index = 0
        try:
            for frame in container.decode(stream):
                if first_pts is None:
                    first_pts = frame.pts
                yield index, _frame_time(frame, first_pts, index, fps), frame
                index += 1
        except (av.error.FFmpegError, ValueError) as exc:
            if index == 0:
                raise BadVideo(f"could not decode any frame of {path}: {exc}") from exc
            # A truncated tail: keep what decoded, like a player would.
            return
        if index == 0:
            raise BadVideo(f"video has no decodable frames: {path}")
    finally:
        container.close()


def iter_lowres(
    path: Path,
    width: int,
    detail_width: int | None = None,
    keep_frame: bool = True,
    skip_deblocking: bool = False,
) -> Generator[LowFrame, None, None]:
    """Every frame's luma at ``width`` pixels wide (height keeps the aspect ratio).

    With ``detail_width`` each frame also carries its luma at that width, and the small luma is
    shrunk from it (cheaper than from the full frame twice). ``keep_frame=False`` lets the decoder
    reuse its buffers at once, which it cannot while a stage holds on to its frames. Decoding runs
    ahead of the caller on a thread of its own (``read_ahead``) that does nothing but keep the
    decoder's threads fed; shrinking happens on the caller's thread. ``skip_deblocking``: see
    ``_decode``.
    """
    with closing(read_ahead(_decode_luma(path, skip_deblocking), name="decode")) as decoded:
        for index, pts_s, frame, full in decoded:
            if detail_width is not None:
                detail = _at_width(full, detail_width)
                luma = shrink(detail, width)
            else:
                detail, luma = None, _at_width(full, width)
            yield LowFrame(index=index, pts_s=pts_s, luma=luma, detail=detail, frame=frame if keep_frame else None)


def _decode_luma(path: Path, skip_deblocking: bool) -> Iterator[tuple[int, float, av.VideoFrame, np.ndarray]]:
    """``_decode`` with each frame's full-size luma, taken on the decoding thread (a grey conversion
    is libswscale, and that on a decoder's frame from another thread was seen to deadlock, see
    BackgroundWriter)."""
    to_gray = VideoReformatter()  # for frames without a luma plane: one libswscale set-up, not one a frame
    for index, pts_s, frame in _decode(path, skip_deblocking):
        yield index, pts_s, frame, _full_luma(frame, to_gray)


@dataclass(frozen=True, slots=True)
class EarlierFrame:
    """A decoded frame kept for a while: ``planar_bgr`` turns it into a picture on any thread."""

    index: int
    pts_s: float
    frame: av.VideoFrame


@dataclass(frozen=True, slots=True)
class FullFrame:
    """A wanted frame in BGR at full resolution, and the frames decoded just before it, oldest first."""

    index: int
    pts_s: float
    image: np.ndarray
    before: tuple[EarlierFrame, ...] = ()


def read_frames(
    path: Path,
    wanted: Iterable[int],
    on_frame: Callable[[int, float, av.VideoFrame], None] | None = None,
    depth: int = 4,
    before: int = 0,
) -> Generator[FullFrame, None, None]:
    """Full-resolution BGR of the ``wanted`` frame indices, in one decode pass.

    ``on_frame`` sees every decoded frame (the archive video writer rides on the same pass); it is
    called on the decoding thread. Decoding runs up to ``depth`` wanted frames ahead of the caller
    (``read_ahead``): reading plates in a frame takes as long as decoding the next few, and without
    it the decoder's threads would wait for the reader and the reader for the decoder. Each wanted
    frame comes with up to ``before`` frames decoded just before it, kept as the decoder gave them
    and turned into pictures only when asked (``planar_bgr``): a second look at a moment then costs
    no second decode. Held frames are the decoder's buffers, which it cannot reuse meanwhile: about
    ``(depth + 1) * before`` of them more are alive at a time (15 with the defaults).
    """
    frames = _wanted_frames(path, set(wanted), on_frame, before)
    with closing(read_ahead(frames, depth=depth, name="decode")) as ahead:
        yield from ahead


def _wanted_frames(
    path: Path, todo: set[int], on_frame: Callable[[int, float, av.VideoFrame], None] | None, before: int
) -> Iterator[FullFrame]:
    last = max(todo) if todo else -1
    recent: deque[EarlierFrame] = deque(maxlen=before)  # maxlen 0 keeps nothing
    to_bgr = VideoReformatter()  # one libswscale set-up for the video, not one a frame (SmallVideoWriter)
    for index, pts_s, frame in _decode(path):
        if on_frame is not None:
            on_frame(index, pts_s, frame)
        if index in todo:
            yield FullFrame(index, pts_s, to_bgr.reformat(frame, format="bgr24").to_ndarray(), tuple(recent))
        elif on_frame is None and index > last:
            return
        recent.append(EarlierFrame(index, pts_s, frame))


def planar_bgr(frame: av.VideoFrame) -> np.ndarray | None:
    """BGR of an 8-bit 4:2:0 frame from its planes by OpenCV, None for other pixel formats.

    Unlike ``to_ndarray`` this leaves libswscale out, so it is safe on a thread other than the
    decoder's (see BackgroundWriter). OpenCV assumes BT.601 video range, as libswscale does for
    these frames unless told otherwise; full-range (yuvj) frames come out a little more contrasty.
    """
    w, h = frame.width, frame.height
    if frame.format.name not in ("yuv420p", "yuvj420p") or w % 2 or h % 2:
        return None
    i420 = np.empty(w * h * 3 // 2, np.uint8)
    quarter = w * h // 4
    i420[: w * h].reshape(h, w)[:] = _plane(frame, 0)
    i420[w * h : w * h + quarter].reshape(h // 2, w // 2)[:] = _plane(frame, 1)
    i420[w * h + quarter :].reshape(h // 2, w // 2)[:] = _plane(frame, 2)
    return cv2.cvtColor(i420.reshape(h * 3 // 2, w), cv2.COLOR_YUV2BGR_I420)


class SmallVideoWriter:
    """Down-scaled H.264 copy of the footage for the archive (about ``width`` pixels wide)."""

    def __init__(self, path: Path, width: int, src_width: int, src_height: int, fps: float, crf: int) -> None:
        self.path = path
        self.width = min(_even(width), _even(src_width))
        self.height = _even(src_height * self.width / src_width)
        self._container = av.open(str(path), mode="w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width = self.width
        self._stream.height = self.height
        self._stream.pix_fmt = "yuv420p"
        # One encoder thread: the copy is encoded beside the decoder and the plate reading, where x264's
        # own threads only add hand-off work on a machine whose cores are already busy.
        self._stream.options = {"crf": str(crf), "threads": "1", **ARCHIVE_X264}
        self._stream.codec_context.time_base = Fraction(1, 90_000)
        self._last_pts = -1
        self.frames = 0
        # One scaler for the whole copy: a frame's own ``reformat`` sets up libswscale's filters anew for
        # each frame, about as much work again as the scaling itself.
        self._scaler = VideoReformatter()

    def add(self, pts_s: float, frame: av.VideoFrame) -> None:
        self.encode(self.shrink(pts_s, frame))

    def shrink(self, pts_s: float, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame at the archive size, timed (libswscale; see BackgroundWriter for why it stays on the
        decoding thread)."""
        small = self._scaler.reformat(
            frame,
            width=self.width,
            height=self.height,
            format="yuv420p",
            interpolation="AREA",
            dst_color_range=ColorRange.MPEG,  # full-range (yuvj) frames too: players take the copy as video range
        )
        small.pts = self.next_pts(pts_s)
        small.time_base = Fraction(1, 90_000)
        # The decoded frame's picture type survives the scaling, and x264 obeys it: the copy would take
        # the camera's key-frame interval and no B-frames (about 40% larger at the same quality).
        small.pict_type = PictureType.NONE
        return small

    def next_pts(self, pts_s: float) -> int:
        """The archive's time stamp for a frame at ``pts_s``: 90 kHz, strictly increasing."""
        self._last_pts = max(int(round(pts_s * 90_000)), self._last_pts + 1)
        return self._last_pts

    def encode(self, small: av.VideoFrame) -> None:
        for packet in self._stream.encode(small):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()


# x264's "superfast" (markedly less encoding work than "veryfast") with the macroblock tree and a short
# look-ahead of "veryfast" back on: without them the archive copy came out two-thirds larger at the same
# quality setting, with them 7% larger than with "veryfast".
ARCHIVE_X264 = {"preset": "superfast", "x264-params": "mbtree=1:rc-lookahead=10"}


class BackgroundWriter:
    """A SmallVideoWriter that encodes on a thread of its own.

    ``add`` shrinks the frame (libswscale's area filter, cheaper than OpenCV's on the planes) on the
    caller's thread, which is the decoding thread
    (``read_frames`` calls its ``on_frame`` there): scaling a decoder's frame on another thread while
    that decoder works was seen to deadlock. The encoder releases the GIL, so the archive copy is
    encoded while plates are read. ``close`` finishes the file; ``stop`` (safe after ``close``, or
    instead of it on failure) ends the thread without finishing the file.
    """

    def __init__(self, writer: SmallVideoWriter, depth: int = 8) -> None:
        self.writer = writer
        self._queue: queue.Queue[av.VideoFrame | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="archive-video", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (small := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.writer.encode(small)
                except BaseException as exc:  # raised again on the caller's thread
                    self._error = exc

    def add(self, pts_s: float, frame: av.VideoFrame) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(self.writer.shrink(pts_s, frame))

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def close(self) -> None:
        self.stop()
        if self._error is not None:
            raise self._error
        self.writer.close()


def _plane(frame: av.VideoFrame, k: int) -> np.ndarray:
    """A view (no copy) of one 8-bit plane without its row padding; valid while ``frame`` lives."""
    plane = frame.planes[k]
    return np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
