"""One text per tracked plate from its noisy reads: aligned per-character voting.

Picking the most frequent whole string wastes information: with five reads that each got a
different single character wrong, no two strings agree, yet every position has a clear
majority. The reads are aligned to a pivot (the read closest to all others) by edit distance, so
a dropped or an extra character shifts nothing, and each slot (a pivot position, or a gap between
two where some reads have an extra character) is decided by a weighted vote. A read's weight
grows with its crop quality (large, sharp, well lit) and each character counts with the
reader's confidence in it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dashpipe.config import PlateSettings
from dashpipe.plates.text import clean_text, edit_distance, fold_glyphs, normalize, texts_agree
from dashpipe.types import PlateRead

MIN_QUALITY_WEIGHT = 0.5  # the worst crop of a track still counts this much of the best one
SHORT_READ_SILENCE = 0.45  # weight of "no character here" from a read that ends before the slot
PICK_SHARPNESS = 4.0  # which character wins a slot: confidences counted raised to this power
# Characters at an end of the text that stand on one read's word, or only because the reads without them
# are taken for partial views, stand only when the reads having them were this sure (``_trim_doubtful_ends``).
END_CONFIDENCE = 0.9
_WHOLE_END = {"start": "end", "end": "start"}  # the end of the text a read cut at the other end saw


@dataclass(frozen=True)
class VoteResult:
    text: str  # "" when no read was good enough to vote
    confidence: float  # 0..1: mean over characters of (share of reads agreeing x their confidence)
    histogram: dict[str, int]  # normalised read text -> how many reads said it
    best: PlateRead  # the read to show: best crop among those that agree with the text
    char_confidences: tuple[float, ...] = field(default=())
    votes: int = 0  # reads that took part in the vote
    backing: int = 0  # reads that say the voted text (see ``backing``)


@dataclass(frozen=True, slots=True)
class _Ballot:
    text: str
    weight: float  # quality weight of the read's crop
    confidence: float  # the reader's confidence in the whole read
    chars: tuple[float, ...]  # per character: weight x the reader's confidence in it


def _char_conf(read: PlateRead, text: str) -> tuple[float, ...]:
    if len(read.char_confidences) == len(text):
        return tuple(read.char_confidences)
    return (read.confidence,) * len(text)


def _quality_weights(reads: Sequence[PlateRead]) -> list[float]:
    scores = [max(r.quality.score, 0.0) for r in reads]
    top = max(scores, default=0.0)
    if top <= 0:
        return [1.0] * len(reads)
    return [MIN_QUALITY_WEIGHT + (1.0 - MIN_QUALITY_WEIGHT) * s / top for s in scores]


def _table(pivot: str, other: str) -> tuple[list[list[float]], int]:
    """Edit distances of pivot prefixes to ``other`` prefixes, where ``other`` missing the pivot's
    first or last characters costs SHORT_READ_SILENCE each (a read that stops short is more often a
    partial view than a misread: the slot vote discounts it the same way); and the pivot length
    after which ``other`` ends (the rest of the pivot is its missing tail)."""
    n, m = len(pivot), len(other)
    d = [[0.0] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        d[0][j] = float(j)
    for i in range(1, n + 1):
        d[i][0] = i * SHORT_READ_SILENCE
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (pivot[i - 1] != other[j - 1]))
    end = min(range(n + 1), key=lambda i: (d[i][m] + (n - i) * SHORT_READ_SILENCE, -i))
    return d, end


def _partial_distance(pivot: str, other: str) -> float:
    d, end = _table(pivot, other)
    return d[end][len(other)] + (len(pivot) - end) * SHORT_READ_SILENCE


def _same(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9


def _alignment(pivot: str, other: str) -> tuple[list[str], list[str]]:
    """``other`` laid on ``pivot``: what it has at each pivot position ("" for nothing) and what
    it has in each of the len(pivot)+1 gaps before, between and after them."""
    d, i = _table(pivot, other)
    j = len(other)
    at = [""] * len(pivot)
    gaps = [""] * (len(pivot) + 1)
    while i > 0 or j > 0:
        if i > 0 and j > 0 and _same(d[i][j], d[i - 1][j - 1] + (pivot[i - 1] != other[j - 1])):
            at[i - 1] = other[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and _same(d[i][j], d[i - 1][j] + (1.0 if j > 0 else SHORT_READ_SILENCE)):
            i -= 1  # pivot character missing from other
        else:
            gaps[i] = other[j - 1] + gaps[i]
            j -= 1
    return at, gaps


def _pivot(ballots: Sequence[_Ballot]) -> str:
    """The text the ballots are most likely views of: least weighted distance to all of them, a
    cut-off read counting less against a longer text (ties: the heavier text). Picking it by plain
    edit distance let two partial views outvote the one whole read they are both parts of."""
    weight: dict[str, float] = defaultdict(float)
    for b in ballots:
        weight[b.text] += b.weight * b.confidence
    texts = list(weight)
    return min(texts, key=lambda t: (sum(weight[o] * _partial_distance(t, o) for o in texts), -weight[t]))


@dataclass
class _Slot:
    """One place in the aligned text: does a character stand here, and which one."""

    absent: float = 0.0  # weight x read confidence of the reads without a character here
    absent_plain: float = 0.0  # the same without the discount for reads that end before the slot
    support: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # weight x char confidence
    weight: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # crop weight per candidate
    sharp: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # weight x confidence^PICK
    readers: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # reads per candidate

    def add(self, text: str, ballot: _Ballot, char_weights: Sequence[float], beyond_read: bool) -> None:
        if not text:
            # A read that stops short of this slot is more likely a partial view than a plate without it.
            factor = SHORT_READ_SILENCE if beyond_read else 1.0
            self.absent += ballot.weight * ballot.confidence * factor
            self.absent_plain += ballot.weight * ballot.confidence
            return
        mean = sum(char_weights) / len(char_weights)
        self.support[text] += mean
        self.weight[text] += ballot.weight
        self.readers[text] += 1
        confs = [w / ballot.weight for w in char_weights] if ballot.weight > 0 else [0.0]
        self.sharp[text] += ballot.weight * sum(c**PICK_SHARPNESS for c in confs) / len(confs)

    def winner(self) -> str:
        """Whether a character stands here counts plain confidences; which one, sharpened ones: the
        reader is sure (1.00) of the characters it reads right, and a look-alike read on a larger crop
        at 0.93 must not outvote as many sure reads of the other glyph."""
        if sum(self.support.values()) <= self.absent:
            return ""  # a tie keeps the text shorter
        return max(self.support, key=lambda c: (self.sharp[c], self.support[c]))

    def confidence(self, winner: str) -> float:
        """The reader's mean confidence in ``winner`` among the reads that have it here (crop-weighted)."""
        return min(1.0, self.support[winner] / max(self.weight[winner], 1e-9))

    def in_doubt(self, winner: str) -> bool:
        """Does ``winner`` stand here on one read's word, or only because reads without it are taken
        for partial views?"""
        lone = self.readers[winner] == 1 and self.absent > 0
        return lone or sum(self.support.values()) <= self.absent_plain


def _trim_doubtful_ends(picked: list[tuple[_Slot, str]]) -> tuple[int, int]:
    """How many characters to drop from the start and from the end of the text: of the characters in
    doubt there (``_Slot.in_doubt``), those through the innermost one the reads were unsure of.

    Reads that stop short are more often partial views than misreads, so a character they lack at
    an end usually stands: the plate's end was cut off in some crops, and the reads that saw it were
    sure of it (the reader is sure of the characters it reads right). A country band, a bolt or the
    plate's frame read as a character is seldom sure: "TA" before TP375WD in one enhanced dark crop
    of two, a "4" before 752ARM in two views of five."""

    def cut(ordered: list[tuple[_Slot, str]]) -> int:
        run = 0
        while run < len(ordered) and ordered[run][0].in_doubt(ordered[run][1]):
            run += 1
        unsure = [i for i, (slot, winner) in enumerate(ordered[:run]) if slot.confidence(winner) < END_CONFIDENCE]
        return unsure[-1] + 1 if unsure else 0

    start = cut(picked)
    return start, min(cut(picked[::-1]), len(picked) - start)


def _edge_silence(slots: list[_Slot], pivot: str, view: _Ballot, seen: str) -> None:
    """A read of a plate the frame's edge cut at one end still saw the other end whole: from that end
    to its first character, the slots it has nothing in are silence, counted as a read's silence
    beyond its ends is. It votes on nothing else (its cut end is no view at all)."""
    at, gaps = _alignment(pivot, view.text)
    order = [gaps[g // 2] if g % 2 == 0 else at[g // 2] for g in range(len(slots))]
    indices = range(len(slots)) if seen == "start" else range(len(slots) - 1, -1, -1)
    for i in indices:
        if order[i]:
            return
        slots[i].add("", view, (), beyond_read=True)


def vote_texts(
    ballots: Sequence[_Ballot], edge_views: Sequence[tuple[_Ballot, str]] = ()
) -> tuple[str, tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """The voted text and, per character, the share of the (weighted) reads that agree with it and
    the reader's mean confidence in it among them; and share x confidence of each character dropped
    from its ends (``_trim_doubtful_ends``): a doubt about where the text ends that its confidence keeps.

    A character stands at a slot when the reader's confidence in the characters read there
    outweighs the reads that have nothing there (reads that end before the slot count less: they
    are more often cut-off views); which character, by the reader's confidence in each candidate.
    So a stray character read in one frame stays out, and a sure read outvotes two unsure ones.
    ``edge_views``: reads cut by the frame's edge, each with the end of the text it saw ("start" or
    "end"), which add only their silence there (``_edge_silence``).
    """
    if not ballots:
        return "", (), (), ()
    pivot = _pivot(ballots)
    total = sum(b.weight * b.confidence for b in ballots)
    slots = [_Slot() for _ in range(2 * len(pivot) + 1)]  # gap, char, gap, char, ..., gap
    # The pivot's reads go first, so a tie between candidates at a slot goes to the pivot's character.
    for b in sorted(ballots, key=lambda b: b.text != pivot):
        at, gaps = _alignment(pivot, b.text)
        held = [i for i, c in enumerate(at) if c]
        first, last = (held[0], held[-1]) if held else (len(pivot), -1)
        k = 0  # next character of the read, walking its slots in reading order
        for g in range(len(pivot) + 1):
            slots[2 * g].add(gaps[g], b, b.chars[k : k + len(gaps[g])], g <= first or g > last)
            k += len(gaps[g])
            if g < len(pivot):
                slots[2 * g + 1].add(at[g], b, b.chars[k : k + len(at[g])], g < first or g > last)
                k += len(at[g])
    for view, seen in edge_views:
        _edge_silence(slots, pivot, view, seen)
    picked = [(slot, winner) for slot in slots if (winner := slot.winner())]
    start, end = _trim_doubtful_ends(picked)
    text: list[str] = []
    share: list[float] = []
    sure: list[float] = []
    dropped: list[float] = []
    for i, (slot, winner) in enumerate(picked):
        agree = min(1.0, slot.support[winner] / total) if total > 0 else 0.0
        if i < start or i >= len(picked) - end:
            dropped += [agree * slot.confidence(winner)] * len(winner)
            continue
        text.append(winner)
        share += [agree] * len(winner)
        sure += [slot.confidence(winner)] * len(winner)
    return "".join(text), tuple(share), tuple(sure), tuple(dropped)


def _best_read(reads: Sequence[PlateRead], text: str, fold: Mapping[str, str]) -> PlateRead:
    """Best crop among the reads closest to the voted text."""
    dist = [edit_distance(fold_glyphs(normalize(r.text), fold), text) for r in reads]
    agreeing = [r for r, d in zip(reads, dist) if d == min(dist)]
    return max(agreeing, key=lambda r: (r.quality.score, r.confidence))


def vote(
    reads: Sequence[PlateRead],
    cfg: PlateSettings,
    fold: Mapping[str, str] | None = None,
) -> VoteResult:
    """Voted text of one tracked plate; reads below ``cfg.min_confidence`` or ``cfg.min_chars`` do not vote.

    The voted text is then fitted to ``cfg.formats`` (look-alike swaps only where a format demands
    them); ``fold`` maps glyphs the region does not tell apart to one symbol (e.g. {"O": "0"}).
    """
    if not reads:
        raise ValueError("vote needs at least one read")
    texts = [normalize(r.text) for r in reads]
    histogram = dict(Counter(t for r, t in zip(reads, texts) if t and r.ocr))
    # Reads shorter than a plate saw part of it (a cut-off crop): they would vote every other slot empty.
    voters = [
        (r, t) for r, t in zip(reads, texts) if r.ocr and len(t) >= cfg.min_chars and r.confidence >= cfg.min_confidence
    ]
    # A plate half out of the frame is read short; whole views outvote it whenever there are any. Cut at
    # one side only, it still saw where the text starts (or ends) on the other.
    edges: list[tuple[PlateRead, str]] = []
    if any(not r.clipped for r, _ in voters):
        edges = [(r, t) for r, t in voters if r.clipped and r.cut_at]
        voters = [(r, t) for r, t in voters if not r.clipped]
    if not voters:
        best = max(reads, key=lambda r: (r.quality.score, r.confidence))
        return VoteResult(text="", confidence=0.0, histogram=histogram, best=best)
    weights = _quality_weights([r for r, _ in voters + edges])
    ballots = [
        _Ballot(
            text=fold_glyphs(t, fold or {}),
            weight=w,
            confidence=r.confidence,
            chars=tuple(w * c for c in _char_conf(r, t)),
        )
        for (r, t), w in zip(voters + edges, weights)
    ]
    edge_views = [(b, _WHOLE_END[r.cut_at]) for b, (r, _) in zip(ballots[len(voters) :], edges)]
    raw, share, sure, dropped = vote_texts(ballots[: len(voters)], edge_views)
    text = clean_text(raw, cfg.formats, sure, fold)
    char_conf = tuple(a * b for a, b in zip(share, sure))
    confidence = (sum(char_conf) + sum(dropped)) / (len(char_conf) + len(dropped)) if char_conf else 0.0
    if len(text) != len(raw):
        char_conf = ()  # a character was dropped to fit a format: the list no longer lines up
    return VoteResult(
        text=text,
        confidence=confidence,
        histogram=histogram,
        best=_best_read([r for r, _ in voters], text, fold or {}),
        char_confidences=char_conf,
        votes=len(voters),
        backing=backing(reads, raw, fold or {}),
    )


def backing(reads: Sequence[PlateRead], text: str, fold: Mapping[str, str]) -> int:
    """How many reads say ``text``: agree with it as two reads of one plate do (``texts_agree``).

    A vote over reads that each say something else still yields a text; on a real plate most
    reads agree. ``vote`` counts against its text before fitting it to a format, which may swap
    look-alikes that every read agreed on.
    """
    target = fold_glyphs(normalize(text), fold)
    return sum(1 for r in reads if r.ocr and texts_agree(fold_glyphs(normalize(r.text), fold), target))


def most_frequent(reads: Sequence[PlateRead]) -> str:
    """The baseline voting improves on: the most common whole string (ties: the most confident)."""
    counts = Counter(normalize(r.text) for r in reads)
    conf: dict[str, float] = defaultdict(float)
    for r in reads:
        conf[normalize(r.text)] = max(conf[normalize(r.text)], r.confidence)
    return max(counts, key=lambda t: (counts[t], conf[t])) if counts else ""
