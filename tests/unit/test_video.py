import itertools

import av
import numpy as np
import pytest

from dashpipe.video import (
    BackgroundWriter,
    BadVideo,
    SmallVideoWriter,
    _decode,
    iter_lowres,
    probe,
    read_frames,
    shrink,
)


def write_frames(path, images, fps=25, codec="libx264", pix_fmt="yuv420p", metadata=None):
    """A clip of the BGR ``images``."""
    h, w = images[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        c.metadata.update(metadata or {})
        for img in images:
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def write_clip(path, n=20, w=320, h=240, fps=25):
    images = [np.full((h, w, 3), (i * 10) % 255, np.uint8) for i in range(n)]
    return write_frames(path, images, fps, metadata={"creation_time": "2024-05-06T07:08:09.000000Z"})


def test_probe_and_lowres_decode(tmp_path):
    clip = write_clip(tmp_path / "c.mp4")
    info = probe(clip)
    assert (info.width, info.height, info.fps, info.frames_total) == (320, 240, 25.0, 20)
    assert info.creation_time is not None and info.creation_time.isoformat().startswith("2024-05-06T07:08:09")
    frames = list(iter_lowres(clip, 160))
    assert len(frames) == 20
    assert frames[0].luma.shape == (120, 160)
    assert frames[10].pts_s == pytest.approx(10 / 25)
    assert abs(float(frames[10].luma.mean()) - 100) < 12  # luma of a grey frame of value 100


def test_read_frames_one_pass_and_small_video(tmp_path):
    clip = write_clip(tmp_path / "c.mp4")
    small = SmallVideoWriter(tmp_path / "s.mp4", 160, 320, 240, 25.0, 30)
    got = list(read_frames(clip, [3, 7], on_frame=lambda i, t, f: small.add(t, f)))
    small.close()
    assert [g.index for g in got] == [3, 7]
    assert got[0].image.shape == (240, 320, 3)
    info = probe(tmp_path / "s.mp4")
    assert (info.width, info.height, info.frames_total) == (160, 120, 20)


def test_read_frames_decodes_ahead_on_its_own_thread_and_stops_when_closed(tmp_path):
    import threading

    clip = write_clip(tmp_path / "c.mp4")
    threads: set[int] = set()
    seen: list[int] = []

    def on_frame(i, t, f):
        threads.add(threading.get_ident())
        seen.append(i)

    frames = read_frames(clip, [2, 5, 9], on_frame=on_frame, depth=1)
    first = next(frames)
    frames.close()  # the caller stops early: the decoding thread ends, nothing hangs
    assert first.index == 2
    assert threads and threading.get_ident() not in threads
    assert len(seen) < 20


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a video at all" * 100, bytes(range(256)) * 400],
    ids=["empty", "text", "noise"],
)
def test_bad_inputs_raise_badvideo(tmp_path, content):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(BadVideo):
        probe(p)
    with pytest.raises(BadVideo):
        list(iter_lowres(p, 160))
    with pytest.raises(BadVideo):  # raised on the decoding thread, handed to the caller
        list(read_frames(p, [0]))


def test_truncated_video_keeps_what_decodes(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", n=60)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        frames = list(iter_lowres(cut, 160))
    except BadVideo as exc:  # moov at the end: nothing decodable, and it says so
        assert "cut.mp4" in str(exc)
    else:
        assert 0 < len(frames) < 60


def test_missing_file(tmp_path):
    with pytest.raises(BadVideo, match="not found"):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize(
    ("src", "width"), [((1080, 1920), 480), ((720, 1280), 960), ((1080, 1920), 960), ((200, 300), 640)]
)
def test_shrink_keeps_aspect_and_mean(src, width):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, src, dtype=np.uint8)
    small = shrink(gray, width)
    assert small.shape[1] == width
    assert abs(small.shape[0] - src[0] * width / src[1]) <= 2
    assert abs(float(small.mean()) - float(gray.mean())) < 2.0


def test_lowres_detail_without_frames(tmp_path):
    clip = write_clip(tmp_path / "c.mp4")
    frames = list(iter_lowres(clip, 80, detail_width=160, keep_frame=False))
    assert frames[0].frame is None and frames[0].detail is not None
    assert frames[0].detail.shape == (120, 160) and frames[0].luma.shape == (60, 80)
    assert frames[0].gray(160) is frames[0].detail
    assert frames[0].bgr(160).shape == (120, 160, 3)  # grey in three channels when no frame is kept


def test_background_writer_keeps_every_frame_and_its_colours(tmp_path):
    images = []
    for i in range(30):
        img = np.zeros((240, 320, 3), np.uint8)
        img[:, :160] = (0, 0, 230)  # red left half (BGR)
        img[:, 160:] = (230, 0, 0) if i % 2 else (0, 200, 0)  # blue or green right half
        images.append(img)
    src = write_frames(tmp_path / "colour.mp4", images)
    writer = BackgroundWriter(SmallVideoWriter(tmp_path / "small.mp4", 160, 320, 240, 25.0, 18))
    for _index, pts_s, frame in _decode(src):
        writer.add(pts_s, frame)
    writer.close()
    writer.stop()  # safe after close
    info = probe(tmp_path / "small.mp4")
    assert (info.width, info.height, info.frames_total) == (160, 120, 30)
    got = [f.image for f in read_frames(tmp_path / "small.mp4", [0, 1])]
    left, right0, right1 = got[0][60, 30], got[0][60, 130], got[1][60, 130]
    assert left[2] > 180 and left[0] < 60  # still red
    assert right0[1] > 150 and right0[2] < 80  # green
    assert right1[0] > 180 and right1[1] < 80  # blue: the chroma planes were not swapped


def test_lowres_decode_stopped_early_ends_its_decoding_thread(tmp_path):
    import threading

    clip = write_clip(tmp_path / "c.mp4", n=60)
    frames = iter_lowres(clip, 160)
    assert [next(frames).index for _ in range(3)] == [0, 1, 2]
    frames.close()
    assert not any(t.name == "decode" for t in threading.enumerate())


def test_lowres_decode_of_a_packed_rgb_clip_gives_its_luma(tmp_path):
    # FFV1 in bgr0 decodes to a packed format without a luma plane: grey comes from a conversion.
    images = [np.full((240, 320, 3), 40 + 15 * i, np.uint8) for i in range(10)]
    clip = write_frames(tmp_path / "rgb.mkv", images, codec="ffv1", pix_fmt="bgr0")
    frames = list(iter_lowres(clip, 160, detail_width=320, keep_frame=False))
    assert len(frames) == 10
    assert frames[0].luma.shape == (120, 160) and frames[0].detail is not None
    means = [float(f.luma.mean()) for f in frames]
    assert all(b > a for a, b in itertools.pairwise(means))  # each frame brighter than the one before
    assert abs(means[0] - 40) < 12


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt"),
    [
        ("hevc.mp4", "libx265", "yuv420p"),  # newer dashcams
        ("mjpeg.avi", "mjpeg", "yuvj420p"),  # older and cheap ones
        ("h264.ts", "libx264", "yuv420p"),  # MPEG-TS writers
        ("h264.mov", "libx264", "yuv420p"),
    ],
)
def test_containers_and_codecs_dashcams_write_decode_frame_by_frame(tmp_path, name, codec, pix_fmt):
    images = [np.full((240, 320, 3), 20 + 20 * i, np.uint8) for i in range(8)]
    clip = write_frames(tmp_path / name, images, fps=30, codec=codec, pix_fmt=pix_fmt)
    info = probe(clip)
    assert (info.width, info.height) == (320, 240)
    frames = list(iter_lowres(clip, 160, skip_deblocking=True))
    assert [f.index for f in frames] == list(range(8))
    assert frames[3].pts_s == pytest.approx(3 / 30, abs=1e-3)
    means = [float(f.luma.mean()) for f in frames]
    assert all(b > a for a, b in itertools.pairwise(means))


def test_archive_copy_of_full_range_footage_keeps_its_brightness(tmp_path):
    # MJPEG (as many dashcams record) decodes to full-range yuvj420p; the archive copy is video range.
    images = [np.full((240, 320, 3), 200, np.uint8) for _ in range(5)]
    clip = write_frames(tmp_path / "j.avi", images, codec="mjpeg", pix_fmt="yuvj420p")
    frame = next(_decode(clip))[2]
    assert frame.format.name == "yuvj420p"
    writer = BackgroundWriter(SmallVideoWriter(tmp_path / "small.mp4", 160, 320, 240, 25.0, 18))
    for _index, pts_s, f in _decode(clip):
        writer.add(pts_s, f)
    writer.close()
    assert probe(tmp_path / "small.mp4").frames_total == 5
    (got,) = [f.image for f in read_frames(tmp_path / "small.mp4", [2])]
    source = float(frame.to_ndarray(format="bgr24").mean())
    assert abs(float(got.mean()) - source) < 4  # full-range values taken as video range come out ~13 brighter


def test_archive_copy_chooses_its_own_frame_types(tmp_path):
    # A camera's encoder sets its own key frames (here every 4th frame, no B-frames); decoded frames carry
    # that picture type, and x264 would obey it if the copy passed it on.
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (240, 320, 3), np.uint8)
    clip = tmp_path / "gop4.mp4"
    with av.open(str(clip), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        s.options = {"g": "4", "bf": "0"}
        for i in range(40):
            img = np.roll(base, 2 * i, axis=1)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)

    def key_frames(path):
        with av.open(str(path)) as c:
            return sum(f.key_frame for f in c.decode(video=0))

    assert key_frames(clip) == 10
    writer = BackgroundWriter(SmallVideoWriter(tmp_path / "small.mp4", 160, 320, 240, 25.0, 28))
    for _index, pts_s, f in _decode(clip):
        writer.add(pts_s, f)
    writer.close()
    assert probe(tmp_path / "small.mp4").frames_total == 40
    assert key_frames(tmp_path / "small.mp4") == 1
