"""NMEA sentences carried in a video's text track (Thinkware and other tx3g/subtitle writers).

Some dashcams write one text cue per sample into a subtitle or timed-text track, e.g.
``gsensori,4,512,-133,038,-08;GPRMC,041646.00,A,...*54;CAR,...``: sentences may lack the
leading ``$`` and sit among vendor fields. Every RMC/GGA-looking run in the cues goes through
the ordinary NMEA decoder, so checksums, merging and counts work as for a sidecar.
"""

from __future__ import annotations

import re
from pathlib import Path

from dashpipe.gps.mp4 import open_video, read_movie
from dashpipe.gps.nmea import NmeaDecoder
from dashpipe.gps.result import GpsReadResult, empty_result

TEXT_HANDLERS = frozenset({"text", "sbtl", "subt", "tx3g"})
TEXT_FORMATS = frozenset({"tx3g", "text", "mp4s", "wvtt", "stpp"})
SENTENCE = re.compile(rb"\$?([A-Z]{2}(?:RMC|GGA|GLL|VTG|ZDA),[^$*;\x00-\x1f\x7f-\xff]*\*[0-9A-Fa-f]{2})")
MAX_TEXT_BYTES = 64 * 1024 * 1024  # a text track of telemetry is KBs per minute; more is not one


def _decode(cues: list[bytes], trust_bad_checksums: bool) -> NmeaDecoder:
    decoder = NmeaDecoder(trust_bad_checksums=trust_bad_checksums)
    for cue in cues:
        for m in SENTENCE.finditer(cue):
            decoder.feed_sentence("$" + m.group(1).decode("ascii"))
    return decoder


def parse_text_cues(cues: list[bytes], path: str | None = None) -> GpsReadResult:
    decoder = _decode(cues, trust_bad_checksums=False)
    if decoder.checksums_look_edited():
        decoder = _decode(cues, trust_bad_checksums=True)
    result = decoder.result(path, kind="subtitle-nmea")
    if not result.fixes and not result.no_fix and not result.skipped:
        return empty_result("none", path, "the video's text track holds no NMEA sentences")
    return result


def read_subtitle_nmea(path: Path) -> GpsReadResult:
    """NMEA from a video's text tracks; kind "none" when it has none."""
    with open_video(path) as (f, size):
        movie = read_movie(f, size)
        tracks = [t for t in (movie.tracks if movie else []) if t.handler in TEXT_HANDLERS or t.format in TEXT_FORMATS]
        if not tracks:
            return empty_result("none", str(path), "no text track")
        cues: list[bytes] = []
        total = 0
        for track in tracks:
            for _t, _d, data in track.samples(f):
                total += len(data)
                if total > MAX_TEXT_BYTES:
                    break
                cues.append(data)
    return parse_text_cues(cues, str(path))
