"""Following plates across the kept frames of a moving camera: reads -> one track per physical plate.

Kept frames are 3-5 per second, so a close plate can jump by several plate widths between two of
them, and the camera's own motion moves everything. Each track predicts where its plate will be
from its last two sightings (constant velocity in the image, constant rate of growth), and reads
are matched to predictions by distance measured in plate widths, by size, and by text. Text
decides between plates that cross. A track ends after ``track_max_gap_s`` unseen; afterwards
tracks with near-identical voted texts that do not overlap in time are merged (the same plate,
lost behind a truck and found again), and so are interleaved tracks of one place whose texts agree
or where one is a partial read of the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from dashpipe.config import PlateSettings
from dashpipe.plates.text import PARTIAL_MIN_CHARS, normalize, similarity, texts_agree
from dashpipe.plates.vote import vote
from dashpipe.types import BBox, PlateRead

GATE_KNOWN_MOTION = 2.5  # largest centre error, in plate widths, once a track has a velocity
GATE_NEW = 4.0  # before that (second sighting: the plate may have moved anywhere nearby)
SAME_TEXT = 0.8  # text similarity at which a read is taken as the same plate ...
SAME_TEXT_GATE = 2.0  # ... and the distance gate widens by this factor
OTHER_TEXT = 0.35  # below this similarity two confident reads are different plates
OTHER_TEXT_MIN_CONF = 0.8
STALE_GUESS_S = 0.5  # a track of unsure reads, unseen this long, takes no sure read of another text
MAX_SCALE_STEP = 2.0  # size change allowed between the prediction (or the last sighting) and a read
GROWTH_BASELINE_S = 1.0  # growth in size is measured over up to this much of a track's recent past
TEXT_WEIGHT = 1.0  # cost = distance + |log size ratio| - TEXT_WEIGHT * similarity
MERGE_MAX_OVERLAP = 0.25  # tracks sharing more than this share of the shorter one's time are distinct
MERGE_MAX_GAP_S = 30.0  # tracks farther apart than this are separate sightings
SAME_PLACE_MAX_DT_S = 0.5  # interleaved tracks are compared at moments this close ...
SAME_PLACE_WIDTHS = 1.0  # ... and are one plate when their centres are within a plate width
# Two reads of one frame are one plate outlined twice when this share of the smaller box lies in the other:
# a tight box inside a wide one, or two wide ones each taking in clutter on another side of the plate.
ONE_PLATE_SHARE = 0.2


@dataclass
class _Track:
    reads: list[PlateRead] = field(default_factory=list)
    texts: dict[str, float] = field(default_factory=dict)

    def add(self, read: PlateRead) -> None:
        self.reads.append(read)
        text = normalize(read.text)
        if text:
            self.texts[text] = self.texts.get(text, 0.0) + read.confidence

    @property
    def last(self) -> PlateRead:
        return self.reads[-1]

    @property
    def text(self) -> str:
        return max(self.texts, key=lambda t: self.texts[t]) if self.texts else ""

    def text_confidence(self) -> float:
        return max((r.confidence for r in self.reads if normalize(r.text) == self.text), default=0.0)

    def motion(self) -> tuple[float, float, float] | None:
        """(vx, vy) of the centre in px/s and the log-size rate per s, from the last two frames."""
        last = self.last
        prev = next((r for r in reversed(self.reads) if r.t_s < last.t_s), None)
        if prev is None:
            return None
        dt = last.t_s - prev.t_s
        (cx1, cy1), (cx0, cy0) = last.box.center, prev.box.center
        # Box widths jitter by a tenth from frame to frame; over two close frames that reads as a
        # fast approach. Growth is taken over a longer stretch of the track where there is one.
        base = next((r for r in self.reads if r.t_s >= last.t_s - GROWTH_BASELINE_S), prev)
        if base.t_s >= last.t_s:
            base = prev
        growth = math.log(max(last.box.width, 1e-6) / max(base.box.width, 1e-6)) / (last.t_s - base.t_s)
        return (cx1 - cx0) / dt, (cy1 - cy0) / dt, growth

    def predict(self, t_s: float) -> tuple[BBox, bool]:
        """Expected box at ``t_s`` and whether it comes from a known motion."""
        last = self.last
        motion = self.motion()
        if motion is None:
            return last.box, False
        vx, vy, growth = motion
        dt = t_s - last.t_s
        scale = min(MAX_SCALE_STEP, max(1.0 / MAX_SCALE_STEP, math.exp(growth * dt)))
        cx, cy = last.box.center
        cx, cy = cx + vx * dt, cy + vy * dt
        w, h = last.box.width * scale / 2.0, last.box.height * scale / 2.0
        return BBox(x1=cx - w, y1=cy - h, x2=cx + w, y2=cy + h), True


def match_cost(track: _Track, read: PlateRead) -> float | None:
    """Cost of adding ``read`` to ``track`` (lower is better), None when it cannot be the same plate."""
    predicted, known = track.predict(read.t_s)
    width = max(predicted.width, read.box.width, 1.0)
    (px, py), (rx, ry) = predicted.center, read.box.center
    distance = math.hypot(px - rx, py - ry) / width
    size = min(
        abs(math.log(max(read.box.width, 1e-6) / max(predicted.width, 1e-6))),
        abs(math.log(max(read.box.width, 1e-6) / max(track.last.box.width, 1e-6))),
    )
    if size > math.log(MAX_SCALE_STEP):
        return None
    text = normalize(read.text)
    sim = similarity(track.text, text) if track.text and text else 0.5
    gate = GATE_KNOWN_MOTION if known else GATE_NEW
    if sim >= SAME_TEXT:
        gate *= SAME_TEXT_GATE
    if distance > gate:
        return None
    if (
        sim < OTHER_TEXT
        and read.confidence >= OTHER_TEXT_MIN_CONF
        and not _fragment_of(text, track.text)
        and (track.text_confidence() >= OTHER_TEXT_MIN_CONF or read.t_s - track.last.t_s > STALE_GUESS_S)
    ):
        # Two sure reads of other texts are two plates. So are an unsure guess and a sure read of
        # another text well after it: a plate coming in at the side would take over a stray read of
        # texture there, and its entry would start at the stray read's time and place.
        return None
    return distance + size - TEXT_WEIGHT * sim


def _fragment_of(a: str, b: str) -> bool:
    """Is the shorter text so short that it may be a piece of the other (a plate cut by the frame's edge
    or read in part) rather than another text? Only when it stands in the other: a stray three-letter
    read of a grille ("SYO") is no piece of "AS942QD", and a track it leads must not take that plate in."""
    short, long_ = sorted((a, b), key=len)
    return len(short) < PARTIAL_MIN_CHARS and short in long_


def _associate(reads: Sequence[PlateRead], max_gap_s: float) -> list[_Track]:
    ordered = sorted(reads, key=lambda r: (r.t_s, r.frame_index))
    finished: list[_Track] = []
    active: list[_Track] = []
    for _frame, group in groupby(ordered, key=lambda r: (r.t_s, r.frame_index)):
        frame_reads = list(group)
        t = frame_reads[0].t_s
        finished += [tr for tr in active if t - tr.last.t_s > max_gap_s]
        active = [tr for tr in active if t - tr.last.t_s <= max_gap_s]
        pairs = []
        for ti, tr in enumerate(active):
            for ri, rd in enumerate(frame_reads):
                cost = match_cost(tr, rd)
                if cost is not None:
                    pairs.append((cost, ti, ri))
        used_tracks: set[int] = set()
        used_reads: set[int] = set()
        for _cost, ti, ri in sorted(pairs):
            if ti in used_tracks or ri in used_reads:
                continue
            active[ti].add(frame_reads[ri])
            used_tracks.add(ti)
            used_reads.add(ri)
        for ri, rd in enumerate(frame_reads):
            if ri not in used_reads:
                track = _Track()
                track.add(rd)
                active.append(track)
    return finished + active


def _span(reads: Sequence[PlateRead]) -> tuple[float, float]:
    return reads[0].t_s, reads[-1].t_s


def _side_by_side(a: Sequence[PlateRead], b: Sequence[PlateRead]) -> bool:
    """At the moments the two tracks come closest in time, are their boxes at one place?"""
    dt, ra, rb = min(((abs(x.t_s - y.t_s), x, y) for x in a for y in b), key=lambda v: v[0])
    if dt > SAME_PLACE_MAX_DT_S:
        return True  # no moment to compare: time and text decide
    (ax, ay), (bx, by) = ra.box.center, rb.box.center
    width = max(ra.box.width, rb.box.width, 1.0)
    return math.hypot(ax - bx, ay - by) <= SAME_PLACE_WIDTHS * width


def _reading(reads: Sequence[PlateRead], text: str) -> list[PlateRead]:
    """The reads of a track that read its own plate. A stray read of texture that joined it says
    nothing about when the plate was seen or whether another plate stood beside it."""
    own = [r for r in reads if texts_agree(normalize(r.text), text)]
    return own or list(reads)


def _shared(x: BBox, y: BBox) -> float:
    return x.intersection(y) / max(min(x.area, y.area), 1e-9)


def _in_one_frame(a: Sequence[PlateRead], b: Sequence[PlateRead]) -> tuple[bool, bool]:
    """Did one frame show both tracks' plates at different places (two plates), and did one show them
    at one place (one plate the detector outlined twice: a tight box and one taking in the state
    name, or two boxes each reaching past another side of the plate to a badge or a lamp)? No two
    plates stand at one place."""
    boxes: dict[int, list[BBox]] = {}
    for y in b:
        boxes.setdefault(y.frame_index, []).append(y.box)
    shares = [_shared(x.box, box) for x in a for box in boxes.get(x.frame_index, ())]
    return any(v < ONE_PLATE_SHARE for v in shares), any(v >= ONE_PLATE_SHARE for v in shares)


def _mergeable(a: Sequence[PlateRead], b: Sequence[PlateRead], text_a: str, text_b: str) -> bool:
    if not texts_agree(text_a, text_b):
        return False
    a, b = _reading(a, text_a), _reading(b, text_b)
    apart, together = _in_one_frame(a, b)
    if apart:
        return False  # seen side by side in one frame: two plates
    if together:
        return True  # outlined twice in one frame: one plate, wherever the two boxes' centres lie
    (a0, a1), (b0, b1) = _span(a), _span(b)
    overlap = min(a1, b1) - max(a0, b0)
    if overlap > MERGE_MAX_OVERLAP * max(min(a1 - a0, b1 - b0), 1e-6) and overlap > 0:
        # Interleaved in time: one plate only if the two were always in one place.
        return _side_by_side(a, b)
    return -overlap <= MERGE_MAX_GAP_S


def merge_tracks(
    tracks: Sequence[Sequence[PlateRead]], cfg: PlateSettings, fold: Mapping[str, str] | None = None
) -> list[tuple[PlateRead, ...]]:
    """Join tracks of one physical plate: near-identical voted texts, little overlap in time."""
    groups = [tuple(sorted(t, key=lambda r: (r.t_s, r.frame_index))) for t in tracks if t]
    texts = [vote(g, cfg, fold).text for g in groups]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if _mergeable(groups[i], groups[j], texts[i], texts[j]):
                    joined = tuple(sorted(groups[i] + groups[j], key=lambda r: (r.t_s, r.frame_index)))
                    groups[i] = joined
                    texts[i] = vote(joined, cfg, fold).text
                    del groups[j], texts[j]
                    merged = True
                    break
            if merged:
                break
    return sorted(groups, key=lambda g: (g[0].t_s, g[0].frame_index))


def build_tracks(
    reads: Sequence[PlateRead], cfg: PlateSettings, fold: Mapping[str, str] | None = None
) -> list[tuple[PlateRead, ...]]:
    """Every read in exactly one track; tracks in order of first sighting, reads in time order."""
    tracks = _associate(reads, cfg.track_max_gap_s)
    return merge_tracks([t.reads for t in tracks], cfg, fold)
