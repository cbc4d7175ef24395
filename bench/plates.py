"""Plate reading, measured end to end and part by part, beside the peers' published figures.

    python bench/plates.py [--skip-multi | --multi-only] [--seeds 101 202 303] [--seconds 30] [--rec-model M.onnx]
                           [--dashcam-encode] [--full-decode]

``--rec-model`` reads with another PP-OCR recognition model than the default (sections 1 and 3).

Sections (each skips with a message where ../shared/data is absent):
  1. OCR only on openalpr-us-crops (751 real US plate crops): exact, within one character, ms per crop.
  2. Proposals on openalpr-us (222 photos) at the preprocess width: recall (IoU >= 0.3), boxes per photo,
     ms per frame; and the full-resolution refinement.
  3. End to end on openalpr-us: proposer -> the heavy stage's per-frame reading (detector, crops, OCR and
     its second look at doubtful reads) on each photo, with the US region preset; the
     labelled plate counts as read when a read whose box overlaps the labelled box (IoU >= 0.3) equals its
     text (O and 0 taken as one glyph, as on US plates). Extra plates are no error.
  4. Multi-frame on rendered sample clips of seeds the tests do not use: readable plates read, false plates,
     duplicate entries, worst location error.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.proposal_bench import DATA, bench_rows, format_table, load_samples  # noqa: E402
from dashpipe.config import Settings  # noqa: E402
from dashpipe.models.registry import build_detector, build_proposer, build_reader  # noqa: E402
from dashpipe.plates.crop import extract_crop  # noqa: E402
from dashpipe.plates.text import fold_glyphs, plate_text  # noqa: E402
from dashpipe.stages.heavy import read_frame  # noqa: E402
from dashpipe.types import FrameQuality, Region, SelectedFrame  # noqa: E402

PEERS = [
    ("OpenALPR, OCR only on openalpr-us-crops (published)", "~86% exact"),
    ("fast-plate-ocr, on its own test sets (published)", "92-94% exact"),
    ("Frigate LPR", "clusters a tracked object's reads by similarity, keeps the largest cluster's best"),
]


def _photo_frame(hints: list[Region]) -> SelectedFrame:
    """A photo as the heavy stage sees a kept frame: its proposals, no flags."""
    quality = FrameQuality(brightness=128.0, bright_p99=255.0, sharpness=100.0, motion=255.0)
    return SelectedFrame(index=0, pts_s=0.0, quality=quality, regions=tuple(hints))


def end_to_end_rows(settings: Settings) -> list[tuple[str, str]]:
    import cv2

    if not DATA.is_dir():
        return [("end to end on openalpr-us", f"skipped: {DATA} not found")]
    samples = load_samples()
    cfg = settings.plates
    proposer = build_proposer(settings.proposer)
    detector = build_detector(settings.detector)
    reader = build_reader(settings.ocr)
    hits, label_hits, times, widths = 0, 0, [], []
    for s in samples:
        t = time.perf_counter()
        h, w = s.image.shape[:2]
        small = cv2.resize(s.image, (proposer.width, round(h * proposer.width / w)), interpolation=cv2.INTER_AREA)
        scale = w / proposer.width
        hints = [r.model_copy(update={"box": r.box.scale(scale)}) for r in proposer.propose(small)]
        # The heavy stage's own per-frame code: detection, crops, reads and their second look.
        reads = read_frame(s.image, _photo_frame(hints), detector, reader, cfg).reads
        times.append((time.perf_counter() - t) * 1000)
        # O and 0 are one glyph on US plates: compare both sides folded (a format may put back an O).
        texts = [fold_glyphs(plate_text(r, cfg), cfg.fold) for r in reads]
        truth = fold_glyphs(s.text, cfg.fold)
        if any(r.box.iou(s.plate) >= 0.3 and t == truth for r, t in zip(reads, texts)):
            hits += 1
        on_plate = [r for r in reads if r.box.iou(s.plate) >= 0.3]
        if on_plate:  # how wide the detector cuts, against the labelled plate
            widths.append(max(on_plate, key=lambda p: p.box.iou(s.plate)).box.width / max(s.plate.width, 1.0))
        # The reader alone, on the labelled box: what perfect boxes would give.
        given = reader.read([extract_crop(s.image, s.plate)])[0]
        if fold_glyphs(plate_text(given, cfg), cfg.fold) == truth:
            label_hits += 1
    ratios = sorted(widths)
    return [
        (
            "end to end on openalpr-us: labelled plate read exactly",
            f"{hits}/{len(samples)} = {hits / len(samples):.1%}",
        ),
        (
            "end to end ms per photo (mean / p95)",
            f"{statistics.mean(times):.0f} / {sorted(times)[int(0.95 * len(times))]:.0f}",
        ),
        (
            "detector box width / labelled width (median / upper quartile)",
            f"{statistics.median(ratios):.2f} / {ratios[3 * len(ratios) // 4]:.2f}" if ratios else "no boxes",
        ),
        (
            "reader alone on the labelled boxes: read exactly",
            f"{label_hits}/{len(samples)} = {label_hits / len(samples):.1%}",
        ),
    ]


def multi_frame_rows(
    seeds: list[int], seconds: float, dashcam: bool = False, full_decode: bool = False
) -> list[tuple[str, str]]:
    """``dashcam``: each clip re-encoded as dashcams encode (``bench.pipeline.dashcam_encode``) first;
    ``full_decode``: the preprocess decodes with the deblocking filter (``preprocess.skip_deblocking``
    off), to see what skipping it changes."""
    import dashpipe
    from bench.pipeline import dashcam_encode
    from dashpipe.config import load_settings
    from dashpipe.evaluate import score_report
    from dashpipe.sample import load_truth, render_sample

    rows = []
    total = found = false = dups = 0
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="dashpipe-plates-") as tmp:
        for seed in seeds:
            files = render_sample(Path(tmp) / f"s{seed}", seconds=seconds, seed=seed)
            video = files.video
            if dashcam:
                video = dashcam_encode(video, video.with_name(f"{video.stem}_high.mp4"))
            settings = load_settings(
                store={"data_dir": f"{tmp}/d{seed}"},
                database_url=f"sqlite:///{tmp}/d{seed}.db",
                preprocess={"skip_deblocking": not full_decode},
            )
            entry = dashpipe.run(video, files.nmea, settings=settings)
            score = score_report(entry, load_truth(files.truth))
            total += score.readable_total
            found += score.readable_found
            false += score.false_plates
            dups += score.duplicates
            worst = max(worst, score.max_location_error_m)
            rows.append(
                (
                    f"sample seed {seed} ({seconds:g} s)",
                    f"readable {score.readable_found}/{score.readable_total}, false {score.false_plates} "
                    f"{score.false_texts}, duplicates {score.duplicates}, "
                    f"worst location {score.max_location_error_m:.1f} m",
                )
            )
    rows.append(
        (
            "multi-frame, all seeds: readable plates read",
            f"{found}/{total} = {found / max(total, 1):.1%}, false plates {false}, duplicates {dups}, "
            f"worst location error {worst:.1f} m",
        )
    )
    return rows


def _print(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 202, 303])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--skip-multi", action="store_true")
    ap.add_argument("--multi-only", action="store_true", help="only section 4 (rendered clips)")
    ap.add_argument("--rec-model", type=Path, default=None, help="another PP-OCR recognition .onnx to read with")
    ap.add_argument("--dashcam-encode", action="store_true", help="section 4 on the clips re-encoded as dashcams do")
    ap.add_argument("--full-decode", action="store_true", help="section 4 with preprocess.skip_deblocking off")
    args = ap.parse_args()
    print(f"machine: {describe()}\n")
    # The photos are of US plates: read them as a US user would (plates.region: us).
    settings = Settings(plates={"region": "us"}, ocr={"type": "rapidocr", "rec_model": args.rec_model})
    if not args.multi_only:
        print("## 1. OCR only")
        try:
            from bench.ocr_bench import ocr_table

            print(ocr_table(rec_model=args.rec_model))
        except ImportError as exc:
            print(f"skipped: {exc}")
        print("\n## 2. Proposals and refinement")
        print(format_table(bench_rows()) if DATA.is_dir() else f"skipped: {DATA} not found")
        print("\n## 3. End to end on photos")
        _print(end_to_end_rows(settings))
    if not args.skip_multi:
        how = (", re-encoded as dashcams encode" if args.dashcam_encode else "") + (
            ", deblocking decoded" if args.full_decode else ""
        )
        print(f"\n## 4. Multi-frame on rendered clips ({args.seconds:g} s each{how})")
        _print(multi_frame_rows(args.seeds, args.seconds, args.dashcam_encode, args.full_decode))
    if not args.multi_only:
        print("\n## Peers")
        _print(PEERS)


if __name__ == "__main__":
    main()
