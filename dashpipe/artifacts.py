"""What stages hand each other on disk, and its compact JSON form.

The preprocess JSON crosses from the jetson to the gpu box for every video, so it is written as
columns of small integers rather than nested objects: about 20 bytes per kept frame and per region.
"""

from __future__ import annotations

import json
from typing import Any

from dashpipe.types import (
    BBox,
    FrameQuality,
    PreprocessResult,
    Region,
    RejectReason,
    SelectedFrame,
    VideoInfo,
)

FORMAT_VERSION = 3
_FLAGS = {RejectReason.dark: "d", RejectReason.blurry: "b"}
_FLAGS_BACK = {v: k for k, v in _FLAGS.items()}


def _deltas(values: list[int]) -> list[int]:
    return [b - a for a, b in zip([0, *values[:-1]], values)]


def _undelta(deltas: list[int]) -> list[int]:
    out, acc = [], 0
    for d in deltas:
        acc += d
        out.append(acc)
    return out


def region_unit(frame_width: int) -> int:
    """Pixels per stored box unit: about 500 units across.

    A proposal is a hint the gpu stage refines at full resolution with a generous reach, so a
    quarter of a 1080p glyph's height is precision enough, and most widths and heights fit in
    one or two digits.
    """
    return max(1, round(frame_width / 500))


def _nominal_ms(index: int, fps: float) -> int:
    return round(index * 1000 / fps) if fps > 0 else 0


def encode_preprocess(result: PreprocessResult) -> bytes:
    """Columns, not objects: indices as deltas, pixels and metrics as small integers.

    Frame times are stored as their offset from ``index / fps``, only where it is not 0 (never,
    for constant frame rate footage); regions are plates unless listed under ``vehicle``, and
    each kept frame's regions follow one another in the region columns (``count`` per frame),
    left to right, each ``x`` stored as its step from the region before it in that frame.
    """
    sel = result.selected
    unit = region_unit(result.info.width)
    fps = result.info.fps
    offsets = [round(f.pts_s * 1000) - _nominal_ms(f.index, fps) for f in sel]
    flags = {str(i): "".join(_FLAGS[r] for r in f.flags if r in _FLAGS) for i, f in enumerate(sel) if f.flags}
    vehicles: list[int] = []
    boxes: list[int] = []
    scores: list[int] = []
    kinds: dict[str, str] = {}
    n = 0
    for f in sel:
        left = 0
        for r in sorted(f.regions, key=lambda r: r.box.x1):
            if r.kind:
                kinds[str(n)] = r.kind
            if r.label == "vehicle":
                vehicles.append(n)
            b = r.box.scale(1.0 / unit)
            x1, y1 = round(b.x1), round(b.y1)
            boxes.extend((x1 - left, y1, max(1, round(b.x2) - x1), max(1, round(b.y2) - y1)))
            scores.append(round(r.score * 100))
            left = x1
            n += 1
    doc: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "video_id": result.video_id,
        "source": result.source,
        "info": result.info.model_dump(mode="json"),
        "analysis_width": result.analysis_width,
        "proposer": result.proposer,
        "rejected": result.rejected,
        "frames": {
            "index": _deltas([f.index for f in sel]),
            "pts_ms_off": {str(i): off for i, off in enumerate(offsets) if off},
            "brightness": [round(f.quality.brightness) for f in sel],
            "p99": [round(f.quality.bright_p99) for f in sel],
            "sharpness": [round(f.quality.sharpness) for f in sel],
            "motion": [round(f.quality.motion) for f in sel],
            "flags": flags,
            "count": [len(f.regions) for f in sel],
        },
        "overlays": [list(o.as_int()) for o in result.overlays],
        "regions": {
            "unit": unit,
            "xywh": boxes,
            "score": scores,
            "vehicle": vehicles,
            "kind": kinds,
        },
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_preprocess(data: bytes) -> PreprocessResult:
    doc = json.loads(data)
    if doc.get("format") != FORMAT_VERSION:
        raise ValueError(f"preprocess JSON format {doc.get('format')!r}, expected {FORMAT_VERSION}")
    fr, rg = doc["frames"], doc["regions"]
    info = VideoInfo.model_validate(doc["info"])
    xywh, unit, vehicles = rg["xywh"], rg["unit"], set(rg["vehicle"])
    selected = []
    n = 0
    for pos, index in enumerate(_undelta(fr["index"])):
        regions = []
        left = 0
        for _ in range(fr["count"][pos]):
            dx, y, w, h = xywh[4 * n : 4 * n + 4]
            left += dx
            x, y, w, h = left * unit, y * unit, w * unit, h * unit
            regions.append(
                Region(
                    label="vehicle" if n in vehicles else "plate",
                    box=BBox(x1=x, y1=y, x2=x + w, y2=y + h),
                    score=rg["score"][n] / 100.0,
                    kind=rg["kind"].get(str(n)),
                )
            )
            n += 1
        selected.append(
            SelectedFrame(
                index=index,
                pts_s=(_nominal_ms(index, info.fps) + fr["pts_ms_off"].get(str(pos), 0)) / 1000.0,
                quality=FrameQuality(
                    brightness=fr["brightness"][pos],
                    bright_p99=fr["p99"][pos],
                    sharpness=fr["sharpness"][pos],
                    motion=fr["motion"][pos],
                ),
                flags=tuple(_FLAGS_BACK[c] for c in fr["flags"].get(str(pos), "")),
                regions=tuple(regions),
            )
        )
    return PreprocessResult(
        video_id=doc["video_id"],
        source=doc["source"],
        info=info,
        selected=tuple(selected),
        rejected=doc["rejected"],
        analysis_width=doc["analysis_width"],
        proposer=doc["proposer"],
        overlays=tuple(BBox(x1=x1, y1=y1, x2=x2, y2=y2) for x1, y1, x2, y2 in doc.get("overlays", ())),
    )
