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

FORMAT_VERSION = 2
_LABELS = {"plate": "p", "vehicle": "v"}
_LABELS_BACK = {v: k for k, v in _LABELS.items()}
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
    """Pixels per stored box unit: about 1000 units across, finer than any proposer looks."""
    return max(1, round(frame_width / 1000))


def encode_preprocess(result: PreprocessResult) -> bytes:
    """Columns, not objects: indices and times as deltas, pixels and metrics as integers."""
    sel = result.selected
    unit = region_unit(result.info.width)
    flags = {str(i): "".join(_FLAGS[r] for r in f.flags if r in _FLAGS) for i, f in enumerate(sel) if f.flags}
    reg_frame: list[int] = []
    labels: list[str] = []
    boxes: list[int] = []
    scores: list[int] = []
    kinds: dict[str, str] = {}
    for pos, f in enumerate(sel):
        for r in f.regions:
            if r.kind:
                kinds[str(len(labels))] = r.kind
            reg_frame.append(pos)
            labels.append(_LABELS[r.label])
            b = r.box.scale(1.0 / unit)
            x1, y1 = round(b.x1), round(b.y1)
            boxes.extend((x1, y1, max(1, round(b.x2) - x1), max(1, round(b.y2) - y1)))
            scores.append(round(r.score * 100))
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
            "pts_ms": _deltas([round(f.pts_s * 1000) for f in sel]),
            "brightness": [round(f.quality.brightness) for f in sel],
            "p99": [round(f.quality.bright_p99) for f in sel],
            "sharpness": [round(f.quality.sharpness) for f in sel],
            "motion": [round(f.quality.motion) for f in sel],
            "flags": flags,
        },
        "regions": {
            "frame": _deltas(reg_frame),
            "label": "".join(labels),
            "unit": unit,
            "xywh": boxes,
            "score": scores,
            "kind": kinds,
        },
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_preprocess(data: bytes) -> PreprocessResult:
    doc = json.loads(data)
    if doc.get("format") != FORMAT_VERSION:
        raise ValueError(f"preprocess JSON format {doc.get('format')!r}, expected {FORMAT_VERSION}")
    fr, rg = doc["frames"], doc["regions"]
    per_frame: dict[int, list[Region]] = {}
    xywh, unit = rg["xywh"], rg["unit"]
    for n, (pos, label) in enumerate(zip(_undelta(rg["frame"]), rg["label"])):
        x, y, w, h = (v * unit for v in xywh[4 * n : 4 * n + 4])
        per_frame.setdefault(pos, []).append(
            Region(
                label=_LABELS_BACK[label],
                box=BBox(x1=x, y1=y, x2=x + w, y2=y + h),
                score=rg["score"][n] / 100.0,
                kind=rg["kind"].get(str(n)),
            )
        )
    selected = []
    for pos, (index, pts_ms) in enumerate(zip(_undelta(fr["index"]), _undelta(fr["pts_ms"]))):
        selected.append(
            SelectedFrame(
                index=index,
                pts_s=pts_ms / 1000.0,
                quality=FrameQuality(
                    brightness=fr["brightness"][pos],
                    bright_p99=fr["p99"][pos],
                    sharpness=fr["sharpness"][pos],
                    motion=fr["motion"][pos],
                ),
                flags=tuple(_FLAGS_BACK[c] for c in fr["flags"].get(str(pos), "")),
                regions=tuple(per_frame.get(pos, ())),
            )
        )
    return PreprocessResult(
        video_id=doc["video_id"],
        source=doc["source"],
        info=VideoInfo.model_validate(doc["info"]),
        selected=tuple(selected),
        rejected=doc["rejected"],
        analysis_width=doc["analysis_width"],
        proposer=doc["proposer"],
    )
