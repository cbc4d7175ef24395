"""NMEA 0183 text (any talker: GP, GN, GL, GA, GB, BD ...) -> one ``GpsFix`` per epoch.

Sentences are dispatched on their type (RMC, GGA, GLL, VTG, ZDA), never on the talker, so a
``$GNRMC`` from a multi-constellation receiver counts like a ``$GPRMC``. RMC, GGA, GLL and VTG
reports of the same epoch (same time of day) are merged into one fix even when they are not
adjacent (BlackVue writes the GGA of second N+1 next to the RMC of second N).

Real logs are dirty: NUL bytes, sentences spliced into one another when a buffer overflows,
truncated lines, bad checksums, vendor text. Each line is cut at every ``$`` so a sentence
glued after another still stands on its own, and anything unusable is counted by reason
rather than raised. Sentences without a checksum (some old receivers never send one) are
accepted only after the strict field checks below.

The decoder is hand-written for speed (a day of 1 Hz logging is ~170k sentences, parsed in
about a second); the tests hold it to pynmea2's reading of every sentence of the gpsd logs.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from dashpipe.gps.result import GpsReadResult, why_empty
from dashpipe.types import GpsFix

KNOTS_TO_MPS = 1852.0 / 3600.0
KMH_TO_MPS = 1.0 / 3.6
HALF_DAY_S = 43200.0
MIN_EDITED = 3  # checksums_look_edited: at least this many sentences ...
EDITED_SHARE = 0.9  # ... and this share of all decodable ones have a wrong checksum
USED_TYPES = frozenset({"RMC", "GGA", "GLL", "VTG", "ZDA"})
UTC = timezone.utc
# GGA quality 1-6 are positions (6 = dead reckoning, useful in tunnels); 7 manual, 8 simulator.
REAL_GGA_QUALITIES = frozenset({1, 2, 3, 4, 5, 6})
# RMC/GLL mode indicator (NMEA 2.3+): N not valid, M manual input, S simulator.
NOT_REAL_MODES = frozenset({"N", "M", "S"})


class BadSentence(ValueError):
    """A sentence that cannot be used; ``reason`` is the counter it is filed under."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(slots=True)
class Sentence:
    """The position-related content of one decoded sentence."""

    kind: str  # RMC, GGA, GLL, VTG, ZDA
    tod_s: float | None = None  # UTC seconds of the day
    valid: bool = False  # reports a position fix
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    quality: int | None = None
    hdop: float | None = None
    day: date | None = None
    checksum: bool = True  # False when the sentence had none


# ---------------------------------------------------------------- field decoders


def xor_checksum(body: str) -> int:
    """XOR of the bytes between '$' and '*'.

    Folds the bytes as one big integer (about 5x faster than a byte loop, which matters at
    ~170k sentences a day): after xoring with itself shifted by 64, 32, ... 1 bytes, the low
    byte holds the XOR of the first 128 bytes; longer bodies fold 128-byte blocks first.
    """
    raw = body.encode("latin-1")
    v = int.from_bytes(raw, "little")
    if len(raw) > 128:
        acc = 0
        while v:
            acc ^= v & _MASK_128
            v >>= 1024
        v = acc
    v ^= v >> 512
    v ^= v >> 256
    v ^= v >> 128
    v ^= v >> 64
    v ^= v >> 32
    v ^= v >> 16
    v ^= v >> 8
    return v & 0xFF


_MASK_128 = (1 << 1024) - 1


def _tod(value: str) -> float:
    if len(value) < 6 or not value[:6].isdigit():
        raise BadSentence("malformed", f"time {value!r}")
    h, m = int(value[0:2]), int(value[2:4])
    s = float(value[4:])
    if h > 23 or m > 59 or s >= 61.0:
        raise BadSentence("malformed", f"time {value!r}")
    return h * 3600.0 + m * 60.0 + s


def _coord(value: str, hemi: str, pos: str, neg: str, limit: float) -> float | None:
    """ddmm.mmmm / dddmm.mmmm + hemisphere -> signed degrees; None when the field is empty."""
    if not value:
        return None
    x = float(value)
    if x < 0.0:
        raise BadSentence("malformed", f"coordinate {value!r}")
    deg = int(x // 100.0)
    minutes = x - deg * 100.0
    if minutes >= 60.0:
        raise BadSentence("malformed", f"coordinate {value!r}")
    v = deg + minutes / 60.0
    if v > limit:
        raise BadSentence("malformed", f"coordinate {value!r}")
    if hemi == neg:
        return -v if v else 0.0
    if hemi != pos:
        raise BadSentence("malformed", f"hemisphere {hemi!r}")
    return v


def _float(value: str) -> float | None:
    return float(value) if value else None


@functools.lru_cache(maxsize=256)
def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


@functools.lru_cache(maxsize=256)  # a log repeats the same date thousands of times
def _ddmmyy(value: str) -> date | None:
    """RMC date. Two-digit years pivot at 80 (1980-2079), as receivers and gpsd do."""
    if len(value) != 6 or not value.isdigit():
        return None
    d, m, y = int(value[0:2]), int(value[2:4]), int(value[4:6])
    try:
        return date(2000 + y if y < 80 else 1900 + y, m, d)
    except ValueError:
        return None


def _field(f: list[str], i: int) -> str:
    return f[i] if i < len(f) else ""


def _position(s: Sentence, f: list[str], at: int) -> None:
    """Decode the four lat/hemi/lon/hemi fields at ``at``; a no-fix report may hold any junk there."""
    try:
        lat = _coord(f[at], f[at + 1], "N", "S", 90.0)
        lon = _coord(f[at + 2], f[at + 3], "E", "W", 180.0)
    except (BadSentence, ValueError, IndexError):
        if s.valid:
            raise
        return
    if s.valid and (lat is None or lon is None):
        raise BadSentence("malformed", "fix without a position")
    if lat is not None and lon is not None:
        s.lat, s.lon = lat, lon


def _rmc(f: list[str]) -> Sentence:
    if len(f) < 10:
        raise BadSentence("malformed", "short RMC")
    s = Sentence("RMC", tod_s=_tod(f[1]) if f[1] else None)
    status = f[2]
    mode = _field(f, 12)
    if status not in ("A", "V"):
        raise BadSentence("malformed", f"RMC status {status!r}")
    s.valid = status == "A" and mode not in NOT_REAL_MODES
    _position(s, f, 3)
    knots = _float(f[7])
    s.speed_mps = knots * KNOTS_TO_MPS if knots is not None else None
    s.course_deg = _float(f[8])
    s.day = _ddmmyy(f[9])
    return s


def _gga(f: list[str]) -> Sentence:
    if len(f) < 10:
        raise BadSentence("malformed", "short GGA")
    s = Sentence("GGA", tod_s=_tod(f[1]) if f[1] else None)
    if f[6] and not f[6].isdigit():
        raise BadSentence("malformed", f"GGA fix quality {f[6]!r}")
    # An empty quality field is not a fix: such receivers flag the same epoch void in RMC.
    s.quality = int(f[6]) if f[6] else None
    s.valid = s.quality in REAL_GGA_QUALITIES
    _position(s, f, 2)
    s.hdop = _float(f[8])
    s.alt_m = _float(f[9])
    return s


def _gll(f: list[str]) -> Sentence:
    if len(f) < 7:
        raise BadSentence("malformed", "short GLL (no time)")
    s = Sentence("GLL", tod_s=_tod(f[5]) if f[5] else None)
    if f[6] not in ("A", "V"):
        raise BadSentence("malformed", f"GLL status {f[6]!r}")
    s.valid = f[6] == "A" and _field(f, 7) not in NOT_REAL_MODES
    _position(s, f, 1)
    return s


def _vtg(f: list[str]) -> Sentence:
    s = Sentence("VTG")
    if _field(f, 2) == "T" or _field(f, 4) == "M" or _field(f, 6) == "N":
        # NMEA 2.3+: course,T,course,M,knots,N,kmh,K[,mode]
        s.course_deg = _float(_field(f, 1))
        knots, kmh = _float(_field(f, 5)), _float(_field(f, 7))
        s.valid = _field(f, 9) != "N"
    else:
        # NMEA 1.x/2.0 without unit letters: course,course_mag,knots,kmh
        s.course_deg = _float(_field(f, 1))
        knots, kmh = _float(_field(f, 3)), _float(_field(f, 4))
        s.valid = True
    if knots is not None:
        s.speed_mps = knots * KNOTS_TO_MPS
    elif kmh is not None:
        s.speed_mps = kmh * KMH_TO_MPS
    return s


def _zda(f: list[str]) -> Sentence:
    if len(f) < 5:
        raise BadSentence("malformed", "short ZDA")
    s = Sentence("ZDA", tod_s=_tod(f[1]) if f[1] else None)
    try:
        s.day = date(int(f[4]), int(f[3]), int(f[2]))
    except ValueError:
        s.day = None
    return s


_DECODERS = {"RMC": _rmc, "GGA": _gga, "GLL": _gll, "VTG": _vtg, "ZDA": _zda}


def _validate(s: Sentence) -> None:
    """Ranges a decoded sentence must respect, whichever decoder produced it."""
    if s.lat is not None and not (-90.0 <= s.lat <= 90.0):
        raise BadSentence("malformed", "latitude out of range")
    if s.lon is not None and not (-180.0 <= s.lon <= 180.0):
        raise BadSentence("malformed", "longitude out of range")
    if s.course_deg is not None and not (0.0 <= s.course_deg <= 360.0):
        raise BadSentence("malformed", "course out of range")
    if s.speed_mps is not None and s.speed_mps < 0.0:
        raise BadSentence("malformed", "negative speed")


def decode_sentence(text: str, verify: bool = True) -> Sentence | None:
    """One '$...' sentence -> its position content; None for sentence types without one.

    Raises ``BadSentence`` (reason: "bad checksum", "malformed", "not NMEA") for unusable ones;
    ``verify=False`` reads a sentence whose checksum is wrong (see ``checksums_look_edited``).
    """
    if "\x00" in text:
        raise BadSentence("malformed", "NUL bytes")
    star = text.find("*")
    has_checksum = star >= 0
    if has_checksum:
        given = text[star + 1 :]
        if len(given) != 2:
            given = given.rstrip()
            if len(given) != 2:
                raise BadSentence("malformed", "text after the checksum")
        try:
            expected = int(given, 16)
        except ValueError:
            raise BadSentence("malformed", f"checksum {given!r}") from None
        body = text[1:star]
        if verify and xor_checksum(body) != expected:
            raise BadSentence("bad checksum")
    else:
        body = text[1:].rstrip()
    f = body.split(",")
    head = f[0]
    if head[:1] == "P":
        return None  # proprietary ($PGRMx, $PSTI, $PSRFTXT, $PLCS ...)
    if len(head) < 3 or not head.isalnum():
        raise BadSentence("not NMEA", head[:12])
    if len(head) != 5:
        return None  # well-formed vendor sentence ($LOG108 ...): nothing to take from it
    kind = head[2:]
    decoder = _DECODERS.get(kind)
    if decoder is None:
        return None
    try:
        s = decoder(f)
    except BadSentence:
        raise
    except (ValueError, IndexError) as exc:
        raise BadSentence("malformed", f"{kind}: {exc}") from None
    _validate(s)
    s.checksum = has_checksum
    return s


# ---------------------------------------------------------------- epochs -> fixes


@dataclass(slots=True)
class _Epoch:
    day_index: int
    tod_s: float
    day: date | None = None
    day_from_fix: bool = False
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    quality: int | None = None
    hdop: float | None = None
    pos_rank: int = 99  # which sentence gave the position (RMC 0, GGA 1, GLL 2)


_POS_RANK = {"RMC": 0, "GGA": 1, "GLL": 2}


@dataclass
class NmeaDecoder:
    """Feeds lines in, keeps counts, merges sentences of one epoch, gives fixes at the end."""

    no_fix: int = 0
    ignored: int = 0
    no_checksum: int = 0
    trust_bad_checksums: bool = False
    checksum_ignored: int = 0  # sentences used despite a wrong checksum (trust_bad_checksums)
    bad_checksum_decodable: int = 0
    verified_decodable: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)
    epochs: dict[tuple[int, int], _Epoch] = field(default_factory=dict)
    _day_index: int = 0
    _last_tod: float | None = None
    _current: _Epoch | None = None

    @property
    def skipped(self) -> int:
        return sum(self.skip_reasons.values())

    def feed_line(self, line: str) -> list[tuple[Sentence, _Epoch | None]]:
        """One text line (may hold several spliced sentences); returns what it decoded."""
        line = line.strip()
        if not line:
            return []
        if line[0] == "#":  # comment headers (gpsd test logs, some loggers)
            return []
        if line[0] == "!":  # AIS and other encapsulated sentences: valid, no position
            self.ignored += 1
            return []
        if line[0] == "$" and line.find("$", 1) < 0:  # the common case: one clean sentence
            got = self.feed_sentence(line)
            return [got] if got is not None else []
        pieces = line.split("$")
        if pieces[0].strip():
            self.skip_reasons["not NMEA"] += 1
        out: list[tuple[Sentence, _Epoch | None]] = []
        for piece in pieces[1:]:
            got = self.feed_sentence("$" + piece)
            if got is not None:
                out.append(got)
        return out

    def feed_sentence(self, text: str) -> tuple[Sentence, _Epoch | None] | None:
        try:
            s = decode_sentence(text)
        except BadSentence as bad:
            unverified = _position_unverified(text) if bad.reason == "bad checksum" else None
            if unverified is not None:
                if self.trust_bad_checksums:
                    self.checksum_ignored += 1
                    return unverified, self._merge(unverified)
                self.bad_checksum_decodable += 1
            self.skip_reasons[bad.reason] += 1
            return None
        if s is None:
            self.ignored += 1
            return None
        if s.lat is not None:
            self.verified_decodable += 1
        if not s.checksum:
            self.no_checksum += 1
        return s, self._merge(s)

    def checksums_look_edited(self) -> bool:
        """Nearly every sentence with a position has a wrong checksum, yet decodes cleanly.

        That is the signature of a log edited by a tool that did not update the checksums
        (coordinates rounded or shifted for privacy, say), not of line noise: noise garbles
        the fields too, and leaves most sentences intact.
        """
        bad = self.bad_checksum_decodable
        return bad >= MIN_EDITED and bad >= EDITED_SHARE * (bad + self.verified_decodable)

    def _epoch_for(self, tod: float) -> _Epoch:
        if self._last_tod is not None:
            if tod < self._last_tod - HALF_DAY_S:
                self._day_index += 1
            elif tod > self._last_tod + HALF_DAY_S:
                self._day_index -= 1
        self._last_tod = tod
        key = (self._day_index, round(tod * 1000.0))
        epoch = self.epochs.get(key)
        if epoch is None:
            epoch = _Epoch(self._day_index, tod)
            self.epochs[key] = epoch
        self._current = epoch
        return epoch

    def _merge(self, s: Sentence) -> _Epoch | None:
        if s.kind in _POS_RANK and not s.valid:
            self.no_fix += 1
        if s.kind == "VTG":
            if not s.valid:
                self.no_fix += 1
            epoch = self._current
        elif s.tod_s is None:
            return None
        else:
            epoch = self._epoch_for(s.tod_s)
        if epoch is None:
            return None
        if s.day is not None and (epoch.day is None or (s.kind == "RMC" and s.valid)):
            epoch.day = s.day
            epoch.day_from_fix = epoch.day_from_fix or s.valid or s.kind == "ZDA"
        if s.valid and s.lat is not None and s.lon is not None:
            rank = _POS_RANK.get(s.kind, 99)
            if rank < epoch.pos_rank:
                epoch.lat, epoch.lon, epoch.pos_rank = s.lat, s.lon, rank
        if s.kind == "GGA":
            if s.valid:
                epoch.alt_m = s.alt_m if s.alt_m is not None else epoch.alt_m
                epoch.hdop = s.hdop if s.hdop is not None else epoch.hdop
            epoch.quality = s.quality if epoch.quality is None or s.valid else epoch.quality
        if s.valid:
            if s.speed_mps is not None and (epoch.speed_mps is None or s.kind == "RMC"):
                epoch.speed_mps = s.speed_mps
            if s.course_deg is not None and (epoch.course_deg is None or s.kind == "RMC"):
                epoch.course_deg = s.course_deg
        return epoch

    # -------------------------------------------------------------- dates

    def _day_dates(self) -> dict[int, date]:
        """The calendar date of each day index, from the dated epochs in it (majority vote)."""
        votes: dict[int, Counter[date]] = {}
        for e in self.epochs.values():
            if e.day is not None:
                weight = 3 if e.day_from_fix else 1
                votes.setdefault(e.day_index, Counter())[e.day] += weight
        return {i: c.most_common(1)[0][0] for i, c in votes.items()}

    def epoch_times(self, reference: datetime | None = None) -> tuple[dict[int, datetime], list[str]]:
        """UTC time of every epoch (by ``id``), with notes on how dates were filled in."""
        notes: list[str] = []
        day_dates = self._day_dates()
        base: tuple[int, date] | None = None
        if day_dates:
            first = min(day_dates)
            base = (first, day_dates[first])
        elif reference is not None and self.epochs:
            ref = reference.astimezone(UTC)
            e0 = next(iter(self.epochs.values()))
            candidates = [ref.date() + timedelta(days=k) for k in (-1, 0, 1)]
            best = min(
                candidates,
                key=lambda d: abs(datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(seconds=e0.tod_s) - ref),
            )
            base = (e0.day_index, best)
            notes.append(f"nmea: no date in the log (no RMC/ZDA); dates taken from the reference {ref:%Y-%m-%d}")
        times: dict[int, datetime] = {}
        for e in self.epochs.values():
            d = e.day
            if d is None:
                known = day_dates.get(e.day_index)
                if known is not None:
                    d = known
                elif base is not None:
                    d = base[1] + timedelta(days=e.day_index - base[0])
            if d is None:
                continue
            times[id(e)] = _midnight(d) + timedelta(seconds=e.tod_s)
        return times, notes

    def result(self, path: str | None = None, reference: datetime | None = None, kind: str = "nmea") -> GpsReadResult:
        times, notes = self.epoch_times(reference)
        fixes: list[GpsFix] = []
        undated = 0
        for e in self.epochs.values():
            if e.lat is None or e.lon is None:
                continue
            t = times.get(id(e))
            if t is None:
                undated += 1
                continue
            fixes.append(
                GpsFix(
                    time=t,
                    lat=e.lat,
                    lon=e.lon,
                    alt_m=e.alt_m,
                    speed_mps=e.speed_mps,
                    course_deg=e.course_deg,
                    fix_quality=e.quality,
                    hdop=e.hdop,
                )
            )
        if self.checksum_ignored:
            notes.append(
                f"{kind}: {self.checksum_ignored} sentences used despite a wrong checksum: nearly all of the "
                "file's sentences have one yet decode cleanly (a log edited without updating checksums)"
            )
        if undated:
            notes.append(
                f"{kind}: {undated} fixes have a time of day but no date (no RMC/ZDA in the log); "
                "give a reference time (the video start) to date them"
            )
        empty = why_empty(kind, len(fixes), self.no_fix, self.skipped) if not undated else None
        if empty:
            notes.append(empty)
        return GpsReadResult(
            kind=kind,
            path=path,
            fixes=tuple(fixes),
            no_fix=self.no_fix,
            skipped=self.skipped,
            skip_reasons=dict(self.skip_reasons),
            ignored=self.ignored,
            no_checksum=self.no_checksum,
            checksum_ignored=self.checksum_ignored,
            undated=undated,
            notes=tuple(notes),
        )


def _position_unverified(text: str) -> Sentence | None:
    """The sentence read without its checksum, when it then decodes cleanly and has a position."""
    try:
        s = decode_sentence(text, verify=False)
    except BadSentence:
        return None
    return s if s is not None and s.lat is not None else None


def parse_nmea_lines(
    lines: Sequence[str], *, path: str | None = None, reference: datetime | None = None
) -> GpsReadResult:
    """NMEA text lines -> fixes; ``reference`` dates logs that carry only times of day."""
    decoder = NmeaDecoder()
    for line in lines:
        decoder.feed_line(line)
    if decoder.checksums_look_edited():
        decoder = NmeaDecoder(trust_bad_checksums=True)
        for line in lines:
            decoder.feed_line(line)
    return decoder.result(path, reference)


def read_text(path: Path) -> str:
    """The whole file as text; latin-1 never fails, and junk bytes then fail the checksum."""
    try:
        return path.read_bytes().decode("latin-1")
    except FileNotFoundError:
        raise FileNotFoundError(f"GPS file not found: {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"GPS path is a folder, not a file: {path}") from None


def read_nmea(path: Path, reference: datetime | None = None) -> GpsReadResult:
    return parse_nmea_lines(read_text(path).splitlines(), path=str(path), reference=reference)
