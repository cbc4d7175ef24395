"""GPS and time: read any dashcam GPS source into ``GpsFix``, align it with the video, place frames.

One module per source format (``nmea``, ``blackvue``, ``gpx``, ``freegps``, ``gopro``, ``subtitle``), all
returning a ``GpsReadResult``; ``discover`` picks the source of a video, ``timing`` finds its
UTC start, ``track`` interpolates positions, ``movement`` tells how a plate moved, and
``align.load_gps_context`` puts it together for the heavy stage.
"""

from __future__ import annotations

from dashpipe.gps.align import GpsContext, load_gps_context
from dashpipe.gps.discover import find_gps, read_embedded, read_gps, sidecar_candidates
from dashpipe.gps.movement import relative_motion
from dashpipe.gps.result import GpsReadResult
from dashpipe.gps.timing import correct_rollover, name_time, video_start
from dashpipe.gps.track import bearing_deg, clean_track, haversine_m, position_at

__all__ = [
    "GpsContext",
    "GpsReadResult",
    "bearing_deg",
    "clean_track",
    "correct_rollover",
    "find_gps",
    "haversine_m",
    "load_gps_context",
    "name_time",
    "position_at",
    "read_embedded",
    "read_gps",
    "relative_motion",
    "sidecar_candidates",
    "video_start",
]
