"""Real plates through the whole video path: the openalpr-us photos played as one clip, each slowly zoomed.

    python bench/photo_clip.py [--seconds-per-photo 1.5] [--limit N] [--region us]

The photo bench reads each photo once; a dashcam sees a plate in many frames. Here each photo becomes a
shot of a clip (1280x720, 30 fps, H.264 High as cameras encode), zoomed in by 12% about the picture's
centre over the shot and a little noisy, so the preprocess has motion to keep frames on and the heavy stage
several views to vote over. ``dashpipe.run`` processes the clip (US region preset by default, no GPS). A
labelled plate counts as read when an entry seen during its shot says its text (O and 0 taken as one,
as on US plates); entries per labelled plate are those of the shot agreeing with the label (one character
apart, or one a part of the other). The labels name one plate per photo, so other entries are not errors.
Skips with a message when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.plates import _print  # noqa: E402
from bench.proposal_bench import DATA, Sample, load_samples  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 30
ZOOM = 0.12  # growth of the picture over one shot
NOISE = 2.0  # grey levels of sensor noise added to each frame


def _fit(image: np.ndarray) -> np.ndarray:
    """The photo letterboxed into the clip's frame."""
    h, w = image.shape[:2]
    s = min(WIDTH / w, HEIGHT / h)
    nw, nh = round(w * s), round(h * s)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    ox, oy = (WIDTH - nw) // 2, (HEIGHT - nh) // 2
    frame[oy : oy + nh, ox : ox + nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return frame


def write_clip(samples: list[Sample], path: Path, seconds: float, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    # A few noise fields, cycled: fresh noise for every frame costs more than the encoding.
    noise = [rng.normal(0.0, NOISE, (HEIGHT, WIDTH, 3)).astype(np.int16) for _ in range(7)]
    frames = max(2, round(seconds * FPS))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20", "profile": "high", "bf": "0", "g": str(FPS)}
        stream.time_base = Fraction(1, FPS)
        index = 0
        for s in samples:
            still = _fit(s.image)
            for k in range(frames):
                z = 1.0 + ZOOM * k / (frames - 1)
                m = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), 0.0, z)
                frame = cv2.warpAffine(still, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
                noisy = np.clip(frame.astype(np.int16) + noise[index % len(noise)], 0, 255).astype(np.uint8)
                picture = av.VideoFrame.from_ndarray(noisy, format="bgr24")
                picture.pts, index = index, index + 1
                for packet in stream.encode(picture):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def score(entries: list[dict], samples: list[Sample], seconds: float, fold: dict[str, str]) -> tuple[int, int]:
    """Labelled plates read exactly, and labelled plates reported more than once."""
    from dashpipe.plates.text import fold_glyphs, normalize, texts_agree

    read = extra = 0
    for i, s in enumerate(samples):
        truth = fold_glyphs(s.text, fold)
        shot = [
            fold_glyphs(normalize(e["text"]), fold)
            for e in entries
            if float(e["first_seen_s"]) < (i + 1) * seconds and float(e["last_seen_s"]) >= i * seconds
        ]
        read += truth in shot
        extra += sum(texts_agree(t, truth) for t in shot) > 1
    return read, extra


def _across(entries: list[dict], seconds: float) -> str:
    """Entries whose track lasts two shots' length or more: a plate's track that took in reads at the same
    place across a cut to the next photo, or text burned into the pictures (a camera's timestamp)."""
    long = [e["text"] for e in entries if float(e["last_seen_s"]) - float(e["first_seen_s"]) >= 2 * seconds]
    return f"{len(long)} {long}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds-per-photo", type=float, default=1.5)
    ap.add_argument("--limit", type=int, default=None, help="only the first N photos")
    ap.add_argument("--region", default="us", choices=["us", "any"])
    args = ap.parse_args(argv)
    print(f"machine: {describe()}\n")
    samples = load_samples(limit=args.limit)
    if not samples:
        print(f"skipped: no photos at {DATA.resolve()} (the shared data folder is absent)")
        return 0
    import dashpipe
    from dashpipe.config import load_settings

    with tempfile.TemporaryDirectory(prefix="dashpipe-photo-clip-") as tmp:
        clip = Path(tmp) / "photos.mp4"
        write_clip(samples, clip, args.seconds_per_photo)
        settings = load_settings(
            store={"data_dir": f"{tmp}/d"}, database_url=f"sqlite:///{tmp}/d.db", plates={"region": args.region}
        )
        t = time.perf_counter()
        entry = dashpipe.run(clip, None, settings=settings)
        elapsed = time.perf_counter() - t
    if entry.get("status") != "done":
        print(f"the run failed: {entry.get('error')}")
        return 1
    read, extra = score(entry["plates"], samples, args.seconds_per_photo, settings.plates.fold)
    n = len(samples)
    length = n * args.seconds_per_photo
    rows = [
        ("clip", f"{n} photos x {args.seconds_per_photo:g} s, {WIDTH}x{HEIGHT} {FPS} fps H.264 High ({length:.0f} s)"),
        ("frames kept by the preprocess", f"{entry['frames_selected']} of {entry['frames_total']}"),
        ("labelled plates read exactly (voted text)", f"{read}/{n} = {read / n:.1%}"),
        ("labelled plates reported more than once", f"{extra}"),
        ("entries in all (labelled and other plates)", f"{len(entry['plates'])}"),
        ("entries seen for two shots' length or more", _across(entry["plates"], args.seconds_per_photo)),
        ("dashpipe.run", f"{elapsed:.1f} s = {length / elapsed:.2f}x real time"),
    ]
    _print(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
