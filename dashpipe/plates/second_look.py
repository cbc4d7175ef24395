"""Reading a plate again from crops cut a little differently, when its first read is in doubt.

A detector's box is often a little off: an end character cut away, the car's badge or bumper
joined to the row, the state name cut through. The recogniser then drops or invents a
character, and no later rule can bring it back. One read costs a few milliseconds, far less than
a plate misread, so a doubtful read (one no region format accepts, or with a character the
reader was unsure of) is read again from the box widened, narrowed and made taller, and the
plausible read with the most support (``OcrResult.support``) wins. Where a region's formats cannot
list every plate (``off_format_reads``: US vanity and special plates), a text that enough of the cuts
read alike counts as plausible too: one cut's read that fits a format by dropping or adding a
character does not outvote the others agreeing on the plate as it stands. Nor does one cut's read
that adds end characters read unsurely to a text more cuts agree on: the wider cut takes in the
plate's frame and bolts, which the reader turns into an unsure "1" or "I", while a character the box
had cut away is read as surely as the rest. Sure reads, the great majority, cost nothing more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from dashpipe.config import PlateSettings
from dashpipe.plates.text import is_plausible, plate_text, plausible_or_agreed
from dashpipe.types import BBox, OcrResult

SURE_CHAR = 0.9  # a read whose characters were all read at least this surely is not looked at again
MIN_CHARS = 4  # reads shorter than this (texture reads as two or three characters), or ...
MIN_CONFIDENCE = 0.8  # ... less sure on the whole, get no second look
FIRST_CUT_LEAD = 0.1  # support the detector's own cut is given ahead of the others: its box is the best guess
# Other cuts of the box: how far each side moves, in box widths (x) and heights (y); outward is
# negative for x1/y1 and positive for x2/y2.
OTHER_CUTS: tuple[tuple[float, float, float, float], ...] = (
    (-0.15, 0.0, 0.15, 0.0),  # wider: an end character the box cut away
    (0.08, 0.0, -0.08, 0.0),  # narrower: a badge or bumper edge joined to the row
    (0.0, -0.2, 0.0, 0.2),  # taller: the row cut through, or a two-line plate's number half out
)


def other_boxes(box: BBox) -> list[BBox]:
    w, h = box.width, box.height
    return [
        BBox(x1=box.x1 + dx1 * w, y1=box.y1 + dy1 * h, x2=box.x2 + dx2 * w, y2=box.y2 + dy2 * h)
        for dx1, dy1, dx2, dy2 in OTHER_CUTS
    ]


def doubtful(read: OcrResult, cfg: PlateSettings) -> bool:
    """Worth another look: no plausible plate text, or a character read with less than SURE_CHAR.
    A read the reader was unsure of as a whole is texture far more often than a plate cut badly:
    another cut would only give it more chances to look like one."""
    if len(read.text) < MIN_CHARS or read.confidence < MIN_CONFIDENCE:
        return False
    if not is_plausible(plate_text(read, cfg), cfg):
        return True
    return min(read.char_confidences, default=0.0) < SURE_CHAR


def best_read(reads: Sequence[OcrResult], cfg: PlateSettings) -> int:
    """Index of the read to keep: among the plausible ones (all, when none is), the best supported,
    the first (the detector's cut) ahead by FIRST_CUT_LEAD; earlier reads win ties. A text no format
    takes is plausible here when at least ``off_format_min_reads`` cuts read it, as a plate's voted
    text is reported (``plausible_or_agreed``). A text that only adds unsure end characters to one
    more cuts read is left out."""
    texts = [plate_text(r, cfg) if r.text else "" for r in reads]
    cuts = Counter(t for t in texts if t)
    plausible = [i for i, t in enumerate(texts) if t and plausible_or_agreed(t, cuts[t], cfg)]
    candidates = plausible or list(range(len(reads)))
    candidate_texts = {texts[i] for i in candidates}
    kept = [
        i
        for i in candidates
        if not any(cuts[t] > cuts[texts[i]] and _unsure_end(reads[i], texts[i], t) for t in candidate_texts)
    ]
    candidates = kept or candidates
    return max(candidates, key=lambda i: (reads[i].support + (FIRST_CUT_LEAD if i == 0 else 0.0), -i))


def _unsure_end(read: OcrResult, text: str, shorter: str) -> bool:
    """Whether ``text`` (``read`` as the region's formats have it) is ``shorter`` with characters added
    at one end, each read with less than SURE_CHAR."""
    confs = read.char_confidences
    extra = len(text) - len(shorter)
    if extra < 1 or len(shorter) < MIN_CHARS or len(confs) != len(text):
        return False
    if text.startswith(shorter):
        return max(confs[len(shorter) :]) < SURE_CHAR
    if text.endswith(shorter):
        return max(confs[:extra]) < SURE_CHAR
    return False
