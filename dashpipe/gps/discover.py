"""Which GPS belongs to a video, and reading any GPS file whatever its format.

Order: an explicit file (``--gps``) first; else GPS embedded in the video (GoPro GPMF, Novatek
freeGPS, NMEA in a text track); else a sidecar next to it, matched by name: the same stem with a GPS extension
(any case), ``clip.mp4.gpx``, and brand conventions where the log is shared by several
clips (BlackVue ``20190101_120000_NF.mp4`` + ``20190101_120000_N.gps``; front/rear pairs
such as MiVue ``FILE..F.MP4`` / ``FILE..R.MP4`` sharing the front camera's log).
A candidate that yields no fix does not stop the search; its notes are kept.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime
from pathlib import Path

from dashpipe.gps.blackvue import looks_like_blackvue, parse_blackvue_text
from dashpipe.gps.freegps import read_freegps
from dashpipe.gps.gopro import read_gopro
from dashpipe.gps.gpx import parse_gpx_text
from dashpipe.gps.mp4 import is_mp4
from dashpipe.gps.nmea import parse_nmea_lines
from dashpipe.gps.result import GpsReadResult, empty_result
from dashpipe.gps.subtitle import read_subtitle_nmea

SIDECAR_EXTENSIONS = (".nmea", ".gps", ".gpx", ".txt", ".log")
NMEA_HINT = re.compile(r"\$[A-Z]{2}(RMC|GGA|GLL|VTG|ZDA),")
BLACKVUE_STEM = re.compile(r"^(\d{8}_\d{6}_[A-Z])[FRI]$", re.I)
CHANNEL_STEM = re.compile(r"^(.*\d)([FR])$", re.I)


def _open_error(path: Path) -> FileNotFoundError:
    return FileNotFoundError(f"GPS file not found: {path} (check the path given with --gps)")


# What a parser may raise on bytes it was not built for; caught at the reader boundary so one
# damaged file is a note on its job, never a crashed worker.
DATA_ERRORS = (ValueError, OverflowError, IndexError, KeyError, struct.error, EOFError)


def read_gps(path: Path, reference: datetime | None = None) -> GpsReadResult:
    """Any supported GPS file or video, by content: NMEA, BlackVue .gps, GPX, GoPro, freeGPS.

    ``reference`` (the video's time) dates NMEA logs that carry only times of day. Never
    raises on bad content; a missing file raises FileNotFoundError.
    """
    if not path.is_file():
        raise _open_error(path)
    try:
        return _read_gps(path, reference)
    except DATA_ERRORS as exc:
        return empty_result("none", str(path), f"{path.name}: unreadable GPS data ({type(exc).__name__}: {exc})")


def _read_gps(path: Path, reference: datetime | None) -> GpsReadResult:
    with path.open("rb") as f:
        head = f.read(65536)
    if is_mp4(head):
        return read_embedded(path)
    raw = path.read_bytes()
    if not raw.strip():
        return empty_result("none", str(path), f"{path.name}: empty file")
    text = raw.decode("latin-1")
    sniff = text[:65536]
    if "<gpx" in sniff:
        return parse_gpx_text(raw.decode("utf-8", errors="replace"), str(path))
    if looks_like_blackvue(sniff):
        return parse_blackvue_text(text, str(path))
    if NMEA_HINT.search(sniff) or path.suffix.lower() in (".nmea", ".nma"):
        return parse_nmea_lines(text.splitlines(), path=str(path), reference=reference)
    return empty_result(
        "none", str(path), f"{path.name}: unknown GPS format (expected NMEA, BlackVue .gps, GPX or an MP4)"
    )


def read_embedded(video: Path) -> GpsReadResult:
    """GPS inside an MP4/MOV: GoPro GPMF, Novatek freeGPS or NMEA in a text track; kind "none" if none."""
    if not video.is_file():
        raise FileNotFoundError(f"video not found: {video}")
    problems: list[str] = []
    for reader in (read_gopro, read_freegps, read_subtitle_nmea):
        try:
            got = reader(video)
        except DATA_ERRORS as exc:
            problems.append(f"{video.name}: unreadable telemetry ({type(exc).__name__}: {exc})")
            continue
        if got.kind != "none":
            return got
    looked = "looked for GoPro GPMF, Novatek freeGPS and NMEA in text tracks"
    return empty_result("none", str(video), *problems, f"no GPS inside the video ({looked})")


def sidecar_candidates(video: Path) -> list[Path]:
    """Existing files next to ``video`` that may be its GPS log, best match first."""
    folder = video.parent
    try:
        by_name = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    except OSError:
        return []
    stems = [video.stem, video.name]
    m = BLACKVUE_STEM.match(video.stem)
    if m:
        stems.append(m.group(1))
    c = CHANNEL_STEM.match(video.stem)
    if c:
        stems += [c.group(1) + "F", c.group(1)]
    out: list[Path] = []
    for stem in stems:
        for ext in SIDECAR_EXTENSIONS:
            hit = by_name.get((stem + ext).lower())
            if hit is not None and hit != video and hit not in out:
                out.append(hit)
    return out


def find_gps(video: Path, explicit: Path | None = None, reference: datetime | None = None) -> GpsReadResult:
    """The GPS of ``video``: explicit file, else embedded, else a sidecar; ``origin`` says which.

    When nothing has a fix the result with the most to say is returned (kind "none" when no
    source exists at all), its notes listing what was tried.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise _open_error(explicit)
        return read_gps(explicit, reference).model_copy(update={"origin": "explicit"})
    tried: list[GpsReadResult] = []
    if video.is_file():
        embedded = read_embedded(video)
        if embedded.fixes:
            return embedded.model_copy(update={"origin": "embedded"})
        tried.append(embedded.model_copy(update={"origin": "embedded"}))
    for path in sidecar_candidates(video):
        got = read_gps(path, reference).model_copy(update={"origin": "sidecar"})
        if got.fixes:
            return got
        tried.append(got)
    real = [r for r in tried if r.kind != "none"]
    notes = tuple(n for r in tried for n in r.notes)
    if real:
        best = real[0]
        return best.model_copy(update={"notes": tuple(dict.fromkeys((*best.notes, *notes)))})
    looked = ", ".join(SIDECAR_EXTENSIONS)
    return empty_result(
        "none", None, *notes, f"no GPS for {video.name}: nothing embedded and no sidecar named like it ({looked})"
    )
