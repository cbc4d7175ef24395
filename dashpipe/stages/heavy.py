"""GPU stage: full-resolution plates on the kept frames, read, followed, voted, placed on the map.

``read_plates`` is the per-frame part (detector -> crops -> OCR in one batch per frame, and a look
at the frames just before one where a plate near the picture's side was read once, ``look_back``);
``sightings_from_reads`` turns the reads of the whole video into one entry per physical plate.
Crops of every read are kept as JPEG bytes only until the best of each plate is chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from dashpipe.config import PlateSettings, Settings, WatchlistEntry
from dashpipe.gps.align import GpsContext, load_gps_context
from dashpipe.gps.movement import relative_motion
from dashpipe.models.base import Detector, PlateReader
from dashpipe.overlay import in_overlay
from dashpipe.plates.crop import crop_quality, extract_crop
from dashpipe.plates.enhance import enhance, read_either
from dashpipe.plates.second_look import best_read, doubtful, other_boxes
from dashpipe.plates.text import fold_glyphs, plate_text, plausible_or_agreed
from dashpipe.plates.track import build_tracks
from dashpipe.plates.vote import VoteResult, vote
from dashpipe.plates.watchlist import match_watchlist
from dashpipe.types import (
    Alert,
    BBox,
    HeavyResult,
    OcrResult,
    PlateRead,
    PlateSighting,
    PreprocessResult,
    Region,
    SelectedFrame,
)
from dashpipe.video import FullFrame, planar_bgr

log = logging.getLogger("dashpipe")

CROP_JPEG_QUALITY = 92
MIN_READ_CHARS = 3
SURE_ALONE_CHARS = 5  # a lone read this long (short texts are too often fragments) ...
SURE_ALONE_CHAR_SLACK = 0.1  # ... whose weakest character is at most this far below the bar
SURE_ALONE_SIDE_HEIGHTS = 3.0  # ... and whose box is at least this many box heights from the sides
# ... and at least this tall at full resolution: a plate box about twice its glyphs' height, so a lower
# one holds glyphs of 8 px or less, which the reader scales up to its 48 px lines and guesses at (a receding plate
# read once at 10 px, its right part "482TG" as "402TG", was reported as a plate of its own).
SURE_ALONE_MIN_HEIGHT_PX = 16.0
# A sure read near the sides is looked for again in the frames decoded just before it (``look_back``),
# in a window this many of its box widths wider on each side (a car passing close by moves about half
# its plate's width a frame), unless its text was read less than LOOK_BACK_RECENT_S before. The reads
# found count only when the plate was, in the earliest of them, at least LOOK_BACK_INWARD box heights
# (some four glyph widths) further from the side.
LOOK_BACK_REACH = 1.0
LOOK_BACK_RECENT_S = 1.0
LOOK_BACK_INWARD = 1.0


@dataclass(frozen=True, slots=True)
class FrameReads:
    reads: list[PlateRead]
    crops: dict[PlateRead, bytes]  # JPEG of the crop each read was made from


def _vehicle_for(plate: Region, vehicles: Sequence[Region]) -> Region | None:
    """The smallest vehicle box that holds the plate's centre (the nearest car, not the one behind)."""
    cx, cy = plate.box.center
    holding = [v for v in vehicles if v.box.x1 <= cx <= v.box.x2 and v.box.y1 <= cy <= v.box.y2]
    return min(holding, key=lambda v: v.box.area) if holding else None


EDGE_PX = 3
# A plate read the same way, confidently, this many times in a row at one place is settled: its next
# sightings reuse the text (every SETTLE_RECHECK-th is read again, in case another plate took its place).
SETTLE_READS = 4
SETTLE_RECHECK = 4
SETTLE_CONFIDENCE = 0.9
SETTLE_IOU = 0.3
SETTLE_GAP_S = 0.6


def _at_edge(box: BBox, width: int, height: int) -> bool:
    return box.x1 <= EDGE_PX or box.y1 <= EDGE_PX or box.x2 >= width - EDGE_PX or box.y2 >= height - EDGE_PX


def _cut_at(box: BBox, width: int, height: int) -> Literal["", "start", "end"]:
    """The end of the text the frame's side edge may have cut away, when only one can have been."""
    left, right = box.x1 <= EDGE_PX, box.x2 >= width - EDGE_PX
    if box.y1 <= EDGE_PX or box.y2 >= height - EDGE_PX or left == right:
        return ""
    return "start" if left else "end"


@dataclass
class _Chain:
    """The latest read at one place in the picture, and how many confident reads in a row agreed."""

    last: PlateRead
    streak: int


def _chain_for(box: BBox, t_s: float, chains: list[_Chain]) -> _Chain | None:
    near = [c for c in chains if t_s - c.last.t_s <= SETTLE_GAP_S and c.last.box.iou(box) >= SETTLE_IOU]
    return max(near, key=lambda c: c.last.box.iou(box)) if near else None


def read_frame(
    image: np.ndarray,
    frame: SelectedFrame,
    detector: Detector,
    reader: PlateReader,
    cfg: PlateSettings,
    chains: list[_Chain] | None = None,
    overlays: Sequence[BBox] = (),
) -> FrameReads:
    """Plates of one frame, read. With ``chains`` (state kept across the frames of a video), a plate
    whose last SETTLE_READS reads agreed confidently is not read again but every SETTLE_RECHECK-th time.
    ``overlays`` (burned-in text the preprocess found) matter to detectors that search the whole frame."""
    chains = [] if chains is None else chains
    regions = detector.detect(image, frame.regions)
    plates = [r for r in regions if r.label == "plate" and not in_overlay(r.box, overlays)]
    vehicles = [r for r in regions if r.label == "vehicle"]
    if not plates:
        return FrameReads([], {})
    flagged = bool(frame.flags) and cfg.enhance
    crops = [extract_crop(image, p.box) for p in plates]
    keep = [i for i, c in enumerate(crops) if c.size > 0]
    crops = [crops[i] for i in keep]
    plates = [plates[i] for i in keep]
    links = [_chain_for(p.box, frame.pts_s, chains) for p in plates]
    settled = [c is not None and c.streak >= SETTLE_READS and c.streak % SETTLE_RECHECK != 0 for c in links]
    asked = [i for i, done in enumerate(settled) if not done]
    to_read = list(crops)
    enhanced = [False] * len(crops)
    answers: dict[int, OcrResult] = {}
    if flagged:  # dark or blurry: read as it is and enhanced, the surer read kept
        for i, either in zip(asked, read_either(reader, [crops[i] for i in asked])):
            answers[i], to_read[i], enhanced[i] = either
    else:
        answers = dict(zip(asked, reader.read([crops[i] for i in asked])))
    _second_look(image, [p.box for p in plates], to_read, answers, reader, cfg, enhanced)
    height, width = image.shape[:2]
    found: list[tuple[PlateRead, np.ndarray, _Chain | None]] = []
    for i, (plate, crop, chain) in enumerate(zip(plates, to_read, links)):
        if i in answers:
            res = answers[i]
            text, conf, chars, ocr = res.text, res.confidence, res.char_confidences, True
        else:
            assert chain is not None
            text, conf, chars, ocr = chain.last.text, chain.last.confidence, chain.last.char_confidences, False
        if not text:
            continue
        read = PlateRead(
            frame_index=frame.index,
            t_s=frame.pts_s,
            box=plate.box,
            text=text,
            confidence=conf,
            char_confidences=chars,
            quality=crop_quality(crop),
            enhanced=enhanced[i],
            vehicle=_vehicle_for(plate, vehicles),
            clipped=_at_edge(plate.box, width, height),
            cut_at=_cut_at(plate.box, width, height),
            ocr=ocr,
        )
        found.append((read, crop, chain))
    whole = {id(r) for r in drop_nested([r for r, _, _ in found], cfg)}
    reads: list[PlateRead] = []
    jpegs: dict[PlateRead, bytes] = {}
    for read, crop, chain in found:
        if id(read) not in whole:
            continue
        sure = read.confidence >= SETTLE_CONFIDENCE
        if chain is None:
            chains.append(_Chain(read, 1 if sure else 0))
        else:
            same = read.text == chain.last.text
            chain.streak = chain.streak + 1 if sure and same else (1 if sure else 0)
            chain.last = read
        reads.append(read)
        ok, jpg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, CROP_JPEG_QUALITY])
        if ok:
            jpegs[read] = jpg.tobytes()
    chains[:] = [c for c in chains if frame.pts_s - c.last.t_s <= SETTLE_GAP_S]
    return FrameReads(reads, jpegs)


def _second_look(
    image: np.ndarray,
    boxes: Sequence[BBox],
    crops: list[np.ndarray],
    answers: dict[int, OcrResult],
    reader: PlateReader,
    cfg: PlateSettings,
    enhanced: Sequence[bool],
) -> None:
    """Doubtful reads read again from other cuts of their box (``second_look``), each cut enhanced
    where the plate's first read was made from its enhanced crop; the better read and its crop replace
    the first in ``answers`` and ``crops``."""
    retry = [i for i, read in answers.items() if doubtful(read, cfg)]
    if not retry:
        return
    views: list[tuple[int, np.ndarray]] = []
    for i in retry:
        for box in other_boxes(boxes[i]):
            crop = extract_crop(image, box)
            if crop.size:
                views.append((i, enhance(crop) if enhanced[i] else crop))
    again = reader.read([c for _, c in views])
    for i in retry:
        options = [(answers[i], crops[i])] + [(r, c) for (k, c), r in zip(views, again) if k == i]
        answers[i], crops[i] = options[best_read([r for r, _ in options], cfg)]


NESTED_SHARE = 0.6  # of a read's box inside another read's box in the same frame


def drop_nested(reads: Sequence[PlateRead], cfg: PlateSettings) -> list[PlateRead]:
    """Reads of one frame without those lying inside a larger read with at least as long a text.

    Two plates cannot sit one inside the other, so a box mostly within another is a piece of
    that plate (half its characters, a sticker, a frame screw row) and its text a fragment that
    would otherwise start a plate entry of its own. An inner read of the same plate text (as the
    region's formats have it) is the same plate cut tighter, and it stands in for the outer one
    (its box says better where the plate is).
    """
    texts = {id(r): plate_text(r, cfg) for r in reads}
    kept: list[PlateRead] = []
    for r in sorted(reads, key=lambda r: (len(texts[id(r)]), r.box.area, r.confidence), reverse=True):
        outer = [k for k, o in enumerate(kept) if r.box.intersection(o.box) >= NESTED_SHARE * r.box.area]
        if not outer:
            kept.append(r)
        elif len(outer) == 1 and texts[id(kept[outer[0]])] == texts[id(r)]:
            kept[outer[0]] = r
    chosen = {id(r) for r in kept}
    return [r for r in reads if id(r) in chosen]


def read_plates(
    pre: PreprocessResult,
    frames: Iterable[FullFrame],
    detector: Detector,
    reader: PlateReader,
    cfg: PlateSettings,
) -> FrameReads:
    """Reads of the kept frames, and of the frames just before one where a sure read near the
    picture's side needs them (``look_back``; frames come with those when ``read_frames`` keeps them)."""
    by_index = {f.index: f for f in pre.selected}
    reads: list[PlateRead] = []
    crops: dict[PlateRead, bytes] = {}
    chains: list[_Chain] = []
    last_read: dict[str, float] = {}  # folded text -> time of its latest read
    for item in frames:
        frame = by_index.get(item.index)
        if frame is None:
            continue
        got = read_frame(item.image, frame, detector, reader, cfg, chains, pre.overlays)
        width = item.image.shape[1]
        for read in got.reads:
            text = fold_glyphs(read.text, cfg.fold)
            previous = last_read.get(text)
            recent = previous is not None and read.t_s - previous <= LOOK_BACK_RECENT_S
            if item.before and not recent and not _clear_of_sides(read, width) and _sure(read, cfg):
                back = look_back(read, item, frame, by_index, detector, reader, cfg, pre.overlays)
                reads.extend(back.reads)
                crops.update(back.crops)
            last_read[text] = read.t_s
        reads.extend(got.reads)
        crops.update(got.crops)
    return FrameReads(reads, crops)


def look_back(
    read: PlateRead,
    item: FullFrame,
    frame: SelectedFrame,
    skip: Container[int],
    detector: Detector,
    reader: PlateReader,
    cfg: PlateSettings,
    overlays: Sequence[BBox] = (),
) -> FrameReads:
    """Reads of ``read``'s text (read in ``item``, kept as ``frame``) in the frames decoded just before
    it, nearest first, while each finds it.

    A sure read near the picture's side cannot stand alone: it may be of a plate partly out of view
    (``_sure_alone``). But a car passing close by is in view for well under a second and may give
    that one read only. The frames decoded just before show the plate again, further in when it was
    leaving the picture; a read there of the same text is the second read it needs. A plate entering
    the picture shows less of itself there, reads otherwise, and so stays alone. A frame in ``skip``
    (a kept frame, read already without this text) ends the search, and so does footage whose frames
    ``planar_bgr`` cannot convert (not 8-bit 4:2:0). A look-back frame is read as its kept frame is
    (enhanced too when that one is flagged dark or blurry); only reads centred in the searched window
    count, for detectors that look at the whole frame whatever the hint.

    The same text proves the plate whole only where the plate has moved in by more than any hidden
    part's gap (a two-part plate's dash or emblem): a part out of view would then have come into view
    and changed the text. A plate cut by the side and sliding out slowly is read the same in every
    frame, its box held at the picture's edge, so reads found where it moved in less than
    LOOK_BACK_INWARD box heights count for nothing.
    """
    height, width = item.image.shape[:2]
    found = FrameReads([], {})
    text = fold_glyphs(read.text, cfg.fold)
    box = read.box
    for before in reversed(item.before):
        if before.index in skip:
            break
        image = planar_bgr(before.frame)
        if image is None:
            break
        hint = box.expand(LOOK_BACK_REACH, 0.0).clip(float(width), float(height))
        regions = (Region(label="plate", box=hint, score=1.0),)
        here = frame.model_copy(update={"index": before.index, "pts_s": round(before.pts_s, 4), "regions": regions})
        got = read_frame(image, here, detector, reader, cfg, None, overlays)
        window = hint.expand(0.0, 1.0)  # the plate also moves up or down a little between frames
        same = [r for r in got.reads if fold_glyphs(r.text, cfg.fold) == text and _centred_in(r.box, window)]
        if not same:
            break
        best = max(same, key=lambda r: r.confidence)
        found.reads.append(best)
        if best in got.crops:
            found.crops[best] = got.crops[best]
        box = best.box
    inward = _side_gap(box, width) - _side_gap(read.box, width)
    return found if found.reads and inward >= LOOK_BACK_INWARD * read.box.height else FrameReads([], {})


def _centred_in(box: BBox, window: BBox) -> bool:
    cx, cy = box.center
    return window.x1 <= cx <= window.x2 and window.y1 <= cy <= window.y2


def _side_gap(box: BBox, frame_width: int) -> float:
    """How far ``box`` stands from the nearer side of the picture."""
    return min(box.x1, frame_width - box.x2)


def _sure(r: PlateRead, cfg: PlateSettings) -> bool:
    """One read clear enough to stand for a plate alone, wherever it is in the picture (cut off by its
    edge or not)."""
    return (
        r.ocr
        and len(r.text) >= SURE_ALONE_CHARS
        and r.confidence >= cfg.single_read_confidence
        and min(r.char_confidences, default=0.0) >= cfg.single_read_confidence - SURE_ALONE_CHAR_SLACK
        and r.box.height >= SURE_ALONE_MIN_HEIGHT_PX
    )


def _clear_of_sides(r: PlateRead, frame_width: int) -> bool:
    return _side_gap(r.box, frame_width) >= SURE_ALONE_SIDE_HEIGHTS * r.box.height


def _sure_alone(track: Sequence[PlateRead], cfg: PlateSettings, frame_width: int) -> bool:
    """Too few reads to vote, but one so clear it stands alone (a car passing in well under a second).

    Not near the picture's sides: a plate entering or leaving is read from the part in view, and the
    gap of a two-part plate (a dash, an emblem) can end its box well inside the picture. Not tiny: with
    more reads a guess on a tiny plate is outvoted, alone it would be the plate.
    """
    return any(_sure(r, cfg) and not r.clipped and _clear_of_sides(r, frame_width) for r in track)


class TextCheck(Protocol):
    def has_text(self, crop: np.ndarray) -> bool: ...


VERIFY_CROPS = 3  # best crops of a plate shown to the text detector; one showing text is enough


def _shows_text(
    track: Sequence[PlateRead], best: PlateRead, crops: dict[PlateRead, bytes], verifier: TextCheck
) -> bool:
    """Does any of the plate's best few crops hold a line of text?"""
    ranked = [best, *sorted((r for r in track if r is not best), key=lambda r: -r.quality.score)]
    for read in ranked[:VERIFY_CROPS]:
        jpg = crops.get(read)
        if jpg is None:
            continue
        crop = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
        if crop is not None and verifier.has_text(crop):
            return True
    return False


def _alerts(text: str, sighting: PlateSighting, watchlist: Sequence[WatchlistEntry]) -> list[Alert]:
    hit = match_watchlist(text, watchlist)
    if hit is None:
        return []
    entry, kind = hit
    log.warning(
        "watchlist: %s matches %s (%s) at %.1f s, %s",
        text,
        entry.label or entry.plate,
        kind,
        sighting.first_seen_s,
        f"{sighting.lat:.6f},{sighting.lon:.6f}" if sighting.lat is not None and sighting.lon is not None else "no GPS",
    )
    return [
        Alert(
            plate=text,
            matched=entry.label or entry.plate,
            kind=kind,
            first_seen_s=sighting.first_seen_s,
            lat=sighting.lat,
            lon=sighting.lon,
        )
    ]


def _reportable(voted: VoteResult, cfg: PlateSettings) -> bool:
    """A plausible text, or one enough of the plate's reads say (``plausible_or_agreed``)."""
    return plausible_or_agreed(voted.text, voted.backing, cfg)


def sightings_from_reads(
    reads: Sequence[PlateRead],
    crop_jpegs: dict[PlateRead, bytes],
    verifier: TextCheck | None,
    settings: Settings,
    frame_size: tuple[int, int],
    gps: GpsContext,
) -> tuple[list[PlateSighting], dict[str, bytes], list[Alert]]:
    cfg = settings.plates
    sightings: list[PlateSighting] = []
    files: dict[str, bytes] = {}
    alerts: list[Alert] = []
    # Reads of two characters or fewer are texture the detector let through, not partial plates:
    # kept out, they cannot pull a real plate's track off course.
    plausible = [r for r in reads if len(r.text) >= MIN_READ_CHARS]
    for track in build_tracks(plausible, cfg, cfg.fold):
        if all(r.clipped for r in track):
            continue  # only ever seen cut by the frame's edge
        alone = _sure_alone(track, cfg, frame_size[0])
        if len(track) < cfg.min_reads and not alone:
            continue
        voted = vote(track, cfg, cfg.fold)
        if not voted.text or voted.confidence < cfg.report_confidence or not _reportable(voted, cfg):
            continue
        if voted.backing < cfg.min_reads and not alone:
            continue  # reads that agree on nothing: texture followed across frames, not a plate
        if verifier is not None and not _shows_text(track, voted.best, crop_jpegs, verifier):
            continue
        first, last = track[0], track[-1]
        best = voted.best
        name = f"{voted.text}_{best.frame_index:07d}.jpg"
        if best in crop_jpegs:
            files[name] = crop_jpegs[best]
        p_first = gps.position(first.t_s, settings.gps.max_gap_s)
        p_last = gps.position(last.t_s, settings.gps.max_gap_s)
        vehicle = next((r.vehicle for r in track if r.vehicle is not None), None)
        sighting = PlateSighting(
            text=voted.text,
            confidence=voted.confidence,
            first_seen_s=first.t_s,
            last_seen_s=last.t_s,
            frames=len({r.frame_index for r in track}),
            lat=p_first.lat if p_first else None,
            lon=p_first.lon if p_first else None,
            best_crop=name if name in files else None,
            reads=voted.histogram,
            first_seen_at=gps.at(first.t_s),
            last_seen_at=gps.at(last.t_s),
            last_lat=p_last.lat if p_last else None,
            last_lon=p_last.lon if p_last else None,
            ego_speed_mps=p_first.speed_mps if p_first else None,
            ego_course_deg=p_first.course_deg if p_first else None,
            motion=relative_motion([(r.t_s, r.box) for r in track], *frame_size),
            vehicle=vehicle.kind if vehicle else None,
            vehicle_box=vehicle.box if vehicle else None,
            best_frame=best.frame_index,
            box=best.box,
            timeline=tuple((r.t_s, r.box.x1, r.box.y1, r.box.x2, r.box.y2) for r in track),
        )
        sightings.append(sighting)
        alerts.extend(_alerts(voted.text, sighting, settings.watchlist))
    sightings.sort(key=lambda s: s.first_seen_s)
    return sightings, files, alerts


def analyse_video(
    pre: PreprocessResult,
    frames: Iterable[FullFrame],
    *,
    detector: Detector,
    reader: PlateReader,
    verifier: TextCheck | None,
    settings: Settings,
    video: Path,
    gps: Path | None,
) -> tuple[HeavyResult, dict[str, bytes]]:
    """The heavy stage of one video: returns its result and the best crops as JPEG bytes by file name."""
    got = read_plates(pre, frames, detector, reader, settings.plates)
    context = load_gps_context(video, gps, pre.info.creation_time, settings.gps)
    sightings, files, alerts = sightings_from_reads(
        got.reads, got.crops, verifier, settings, (pre.info.width, pre.info.height), context
    )
    result = HeavyResult(
        video_id=pre.video_id,
        source=pre.source,
        info=pre.info,
        started_at=context.start,
        frames_selected=len(pre.selected),
        rejected=pre.rejected,
        plates=tuple(sightings),
        alerts=tuple(alerts),
        crops_dir="",
        video_path=None,
        track=tuple(context.clip_track(pre.info.duration_s)),
        gps_source=context.source,
        gps_notes=context.notes,
    )
    return result, files
