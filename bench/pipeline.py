"""Frame filtering and end-to-end speed on a 1080p30 clip, against the decode limit and ffmpeg.

    python bench/pipeline.py                      # renders a 60 s sample (seed 101) first
    python bench/pipeline.py VIDEO [--gps NMEA]   # any clip

The rendered sample is measured twice: as rendered (x264 ultrafast, cheap to decode) and re-encoded
the way dashcams encode (High profile, CABAC, deblocking).

Prints one table: raw PyAV decode frames/s (the physical limit of a stage that sees every frame), the
same decode without the deblocking filter (as the preprocess decodes by default, ``skip_deblocking``),
dashpipe's preprocess frames/s and its share of both (and the same without plate proposals), the
most the preprocess could reach with every core busy (the cores over its CPU time a frame),
`ffmpeg -vf mpdecimate` frames/s, frames kept, the preprocess JSON size, the preprocess peak memory,
the CPU and size of the heavy stage's down-scaled archive copy (and of ffmpeg making one), and
`dashpipe run` as a multiple of real time. The preprocess runs in its own process so its peak memory
is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from dashpipe.config import ArchiveSettings, load_settings  # noqa: E402
from dashpipe.video import SKIP_DEBLOCKING  # noqa: E402


def raw_decode(video: Path, skip_deblocking: bool = False) -> tuple[float, int, float]:
    """Frames/s, frames, and CPU ms a frame (all of the decoder's threads), decoded in full or, as the
    preprocess decodes by default, without the deblocking filter."""
    with av.open(str(video)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        if skip_deblocking:
            s.codec_context.options = dict(SKIP_DEBLOCKING)
        t, cpu = time.perf_counter(), time.process_time()
        n = sum(1 for _ in c.decode(s))
        return n / (time.perf_counter() - t), n, (time.process_time() - cpu) * 1000 / max(n, 1)


def mpdecimate(video: Path, total: int) -> tuple[float, int] | None:
    """Frames/s over the clip's ``total`` frames, and the frames ffmpeg keeps."""
    if shutil.which("ffmpeg") is None:
        return None
    t = time.perf_counter()
    proc = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-i",
            str(video),
            "-vf",
            "mpdecimate",
            "-fps_mode",
            "vfr",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - t
    frames = re.findall(r"frame=\s*(\d+)", proc.stderr)
    kept = int(frames[-1]) if frames else -1
    return total / elapsed, kept


def archive_copy(video: Path, tmp: Path, cfg: ArchiveSettings) -> tuple[float, int]:
    """CPU seconds of decoding the clip in full and writing the heavy stage's down-scaled archive copy
    (``SmallVideoWriter``, one thread), and the copy's bytes."""
    from dashpipe.video import SmallVideoWriter

    out = tmp / "archive.mp4"
    with av.open(str(video)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        rate = float(s.average_rate or 30)
        writer = SmallVideoWriter(
            out, cfg.video_width, s.codec_context.width, s.codec_context.height, rate, cfg.video_crf
        )
        cpu = time.process_time()
        for n, frame in enumerate(c.decode(s)):
            writer.add(n / rate, frame)
        writer.close()
        cpu = time.process_time() - cpu
    size = out.stat().st_size
    out.unlink()
    return cpu, size


def ffmpeg_copy(video: Path, tmp: Path, cfg: ArchiveSettings) -> tuple[float, int] | None:
    """The same with ffmpeg as one would run it (area scaling, x264 "veryfast", one encoder thread)."""
    if shutil.which("ffmpeg") is None:
        return None
    out = tmp / "ffmpeg.mp4"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    scale = ["-vf", f"scale={cfg.video_width}:-2:flags=area"]
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(cfg.video_crf), "-threads", "1", "-an"]
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", str(video), *scale, *encode, str(out)],
        capture_output=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    size = out.stat().st_size
    out.unlink()
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), size


def peak_memory_mb() -> float:
    """This process's own peak resident memory.

    ``ru_maxrss`` outlives ``exec``: a child forked from a parent holding a rendered clip reports the
    parent's size. The kernel's high-water mark of the process's current image (VmHWM) starts anew.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_preprocess(video: Path, workdir: Path) -> None:
    """Runs in a fresh process: preprocess only, then report speed, size and peak memory."""
    from dashpipe.pipeline import new_job, preprocess_job
    from dashpipe.runtime import Runtime

    rt = Runtime(load_settings(store={"data_dir": str(workdir)}, database_url=f"sqlite:///{workdir}/db.sqlite"))
    _ = rt.proposer  # model load is start-up, not per-frame work
    job = new_job(video)
    t, cpu = time.perf_counter(), time.process_time()
    out = preprocess_job(rt, job)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    data = Path(out.preprocess_json or "").read_bytes()
    doc = json.loads(data)
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "frames": doc["info"]["frames_total"],
                "kept": len(doc["frames"]["index"]),
                "json_bytes": len(data),
                "regions": len(doc["regions"]["score"]),
                "overlays": len(doc.get("overlays", ())),
                "rejected": doc["rejected"],
                "maxrss_mb": peak_memory_mb(),
            }
        )
    )


def selection_only(video: Path) -> tuple[float, float]:
    """Frames/s and CPU ms a frame of the preprocess without proposals: decode, shrink, measure, select."""
    from dashpipe.stages.preprocess import select_frames
    from dashpipe.video import iter_lowres, probe

    cfg = load_settings().preprocess
    info = probe(video)
    t, cpu = time.perf_counter(), time.process_time()
    frames = iter_lowres(
        video, min(cfg.analysis_width, info.width), keep_frame=False, skip_deblocking=cfg.skip_deblocking
    )
    seen = select_frames(frames, cfg, info.fps, info.width, proposer=None).frames_seen
    return seen / (time.perf_counter() - t), (time.process_time() - cpu) * 1000 / max(seen, 1)


def end_to_end(video: Path, gps: Path | None, workdir: Path) -> float:
    env = dict(
        os.environ, DASHPIPE_STORE__DATA_DIR=str(workdir), DASHPIPE_DATABASE_URL=f"sqlite:///{workdir}/db.sqlite"
    )
    cmd = [sys.executable, "-m", "dashpipe.cli", "run", str(video), "--report", str(workdir / "r.json")]
    if gps:
        cmd += ["--gps", str(gps)]
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def dashcam_encode(src: Path, dst: Path) -> Path:
    """``src`` re-encoded the way dashcam encoders write: H.264 High profile with CABAC and the
    deblocking filter, no B-frames, a key frame a second. The rendered sample is encoded with
    x264's ultrafast preset (no CABAC, no deblocking), which is cheaper to decode than any camera's
    footage, so it flatters the decoder and makes everything after it look expensive."""
    with av.open(str(src)) as inp, av.open(str(dst), mode="w", format="mp4") as out:
        s_in = inp.streams.video[0]
        s_in.thread_type = "AUTO"
        rate = s_in.average_rate or 30
        s_out = out.add_stream("libx264", rate=rate)
        s_out.width, s_out.height, s_out.pix_fmt = s_in.codec_context.width, s_in.codec_context.height, "yuv420p"
        s_out.options = {"preset": "veryfast", "profile": "high", "crf": "20", "x264-params": "bframes=0"}
        s_out.codec_context.gop_size = int(round(float(rate)))
        s_out.codec_context.thread_type = "FRAME"
        s_out.codec_context.time_base = 1 / Fraction(rate)
        for i, frame in enumerate(inp.decode(s_in)):
            frame.pts, frame.time_base = i, s_out.codec_context.time_base
            for packet in s_out.encode(frame):
                out.mux(packet)
        for packet in s_out.encode(None):
            out.mux(packet)
    return dst


def bench_clip(video: Path, gps: Path | None, tmp: Path, label: str) -> list[tuple[str, str]]:
    with av.open(str(video)) as c:
        s = c.streams.video[0]
        size, fps = f"{s.codec_context.width}x{s.codec_context.height}", float(s.average_rate or 0)
        codec = f"{s.codec_context.name} {s.codec_context.profile or ''}".strip()
    raw_fps, total, raw_cpu_ms = raw_decode(video)
    lean_fps, _, lean_cpu_ms = raw_decode(video, skip_deblocking=True)
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(video), str(tmp / "pre")],
        capture_output=True,
        text=True,
        check=True,
    )
    pre = json.loads(child.stdout.strip().splitlines()[-1])
    sel_fps, sel_cpu_ms = selection_only(video)
    pre_fps = pre["frames"] / pre["seconds"]
    pre_cpu_ms = pre["cpu_seconds"] * 1000 / pre["frames"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    ceiling = cores * 1000 / pre_cpu_ms  # no scheduling can beat the CPU work a frame takes
    mpd = mpdecimate(video, total)
    archive = load_settings().archive
    ours_cpu, ours_bytes = archive_copy(video, tmp, archive)
    peer = ffmpeg_copy(video, tmp, archive)
    e2e = end_to_end(video, gps, tmp / "e2e")
    duration = total / fps if fps else 0.0
    minutes = duration / 60 if duration else 1.0
    ours_ms = ours_cpu * 1000 / total
    shutil.rmtree(tmp / "pre", ignore_errors=True)
    shutil.rmtree(tmp / "e2e", ignore_errors=True)
    return [
        ("clip", f"{label}: {video.name} {size} {fps:g} fps {codec}, {total} frames ({duration:.1f} s)"),
        (
            "raw PyAV decode (limit)",
            f"{raw_fps:.0f} frames/s, {raw_cpu_ms:.1f} ms CPU a frame ({raw_cpu_ms * raw_fps / 1000:.1f} cores busy)",
        ),
        (
            "raw PyAV decode without deblocking",
            f"{lean_fps:.0f} frames/s, {lean_cpu_ms:.1f} ms CPU a frame (how the preprocess decodes; "
            "the same as above for a clip encoded without the filter)",
        ),
        (
            "dashpipe preprocess",
            f"{pre_fps:.0f} frames/s = {pre_fps / raw_fps:.2f}x the limit "
            f"({pre_fps / lean_fps:.2f}x the decode without deblocking), {pre_cpu_ms:.1f} ms CPU a frame",
        ),
        (
            "preprocess ceiling with every core busy",
            f"{cores} cores / {pre_cpu_ms:.1f} ms CPU a frame = {ceiling:.0f} frames/s = "
            f"{ceiling / raw_fps:.2f}x the limit (the preprocess keeps {pre_fps * pre_cpu_ms / 1000:.1f} cores busy)",
        ),
        (
            "of which frame selection alone",
            f"{sel_fps:.0f} frames/s = {sel_fps / raw_fps:.2f}x the limit ({sel_fps / lean_fps:.2f}x without "
            f"deblocking), {sel_cpu_ms:.1f} ms CPU a frame (no proposals)",
        ),
        (
            "ffmpeg -vf mpdecimate",
            "ffmpeg not installed"
            if mpd is None
            else f"{mpd[0]:.0f} frames/s, keeps {mpd[1]} ({100 * mpd[1] / total:.1f}%)",
        ),
        ("frames kept by dashpipe", f"{pre['kept']} ({100 * pre['kept'] / total:.1f}%)"),
        ("rejected", ", ".join(f"{k} {v}" for k, v in pre["rejected"].items())),
        ("plate regions proposed", str(pre["regions"])),
        ("burned-in text lines found (no plates proposed there)", str(pre.get("overlays", 0))),
        (
            "preprocess JSON",
            f"{pre['json_bytes']} B = {pre['json_bytes'] * 10000 / total / 1000:.1f} KB per 10,000 frames",
        ),
        ("preprocess peak memory", f"{pre['maxrss_mb']:.0f} MB"),
        (
            "archive copy (full decode + down-scaled H.264)",
            f"{ours_ms:.1f} ms CPU a frame ({ours_ms - raw_cpu_ms:.1f} beyond the decode), "
            f"{ours_bytes / 1024 / minutes:.0f} KB a minute",
        ),
        (
            "the same by ffmpeg (area scaling, x264 veryfast)",
            "ffmpeg not installed"
            if peer is None
            else f"{peer[0] * 1000 / total:.1f} ms CPU a frame, {peer[1] / 1024 / minutes:.0f} KB a minute",
        ),
        ("dashpipe run end to end", f"{e2e:.1f} s = {duration / e2e:.2f}x real time"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", type=Path)
    ap.add_argument("--gps", type=Path)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--child", nargs=2, metavar=("VIDEO", "WORKDIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_preprocess(Path(args.child[0]), Path(args.child[1]))
        return
    print(f"machine: {describe()}\n")
    tmp = Path(tempfile.mkdtemp(prefix="dashpipe-bench-"))
    try:
        if args.video is not None:
            clips = [("given clip", args.video, args.gps)]
        else:
            from dashpipe.sample import render_sample

            files = render_sample(tmp / "sample", seconds=args.seconds, seed=args.seed)
            camera = dashcam_encode(files.video, files.video.with_name(files.video.stem + "_high.mp4"))
            clips = [
                ("rendered sample (x264 ultrafast)", files.video, files.nmea),
                ("the same re-encoded as dashcams encode (High, CABAC, deblocking, no B-frames)", camera, files.nmea),
            ]
        for label, video, gps in clips:
            rows = bench_clip(video, gps, tmp, label)
            width = max(len(r[0]) for r in rows)
            print(f"| {'measure':<{width}} | value |")
            print(f"|{'-' * (width + 2)}|-------|")
            for k, v in rows:
                print(f"| {k:<{width}} | {v} |")
            print()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
