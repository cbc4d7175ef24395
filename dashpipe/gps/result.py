"""What every GPS reader returns: the fixes plus an account of what was not used and why.

Readers never raise on bad content (a broken log is data, not a crash): they return a
``GpsReadResult`` whose counts and notes let a user see why a track is short or empty.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from dashpipe.types import Frozen, GpsFix


class GpsReadResult(Frozen):
    """One GPS source read: fixes in source order (not yet sorted or de-duplicated)."""

    kind: str  # nmea, blackvue, gpx, freegps, gopro, subtitle-nmea; "none" when nothing was read
    path: str | None = None
    origin: str | None = None  # "explicit", "embedded" or "sidecar" once discovery has chosen it
    fixes: tuple[GpsFix, ...] = ()
    no_fix: int = 0  # sentences/samples that said "no fix"
    skipped: int = 0  # lines/records that could not be used (junk, bad checksum, truncated ...)
    skip_reasons: dict[str, int] = Field(default_factory=dict)  # skipped, by reason
    ignored: int = 0  # well-formed records of kinds that carry no position (GSV, GSA, proprietary ...)
    no_checksum: int = 0  # NMEA sentences accepted without a checksum (after strict field checks)
    checksum_ignored: int = 0  # NMEA sentences used despite a wrong checksum (an edited log)
    duplicates: int = 0  # fixes dropped because another fix had the same time
    undated: int = 0  # fixes with a time of day but no date (NMEA logs without RMC/ZDA)
    clock_offset_s: float | None = None  # camera clock minus UTC, measured from the source itself
    start_utc: datetime | None = None  # UTC of the video's first frame, when the source shares its clock
    rollover_weeks: int = 0  # GPS week-rollover correction applied to the dates (multiples of 1024)
    notes: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.fixes)

    def summary(self) -> str:
        """One line for logs and the CLI: what was read, how much, what was left out."""
        parts = [
            f"source={self.kind}",
            f"fixes={len(self.fixes)}",
            f"no_fix={self.no_fix}",
            f"skipped={self.skipped}",
        ]
        if self.origin:
            parts.append(f"origin={self.origin}")
        if self.duplicates:
            parts.append(f"duplicates={self.duplicates}")
        if self.no_checksum:
            parts.append(f"no_checksum={self.no_checksum}")
        if self.checksum_ignored:
            parts.append(f"checksum_ignored={self.checksum_ignored}")
        parts.append("clock_offset_s=" + ("none" if self.clock_offset_s is None else f"{self.clock_offset_s:g}"))
        if self.rollover_weeks:
            parts.append(f"rollover_weeks={self.rollover_weeks}")
        return " ".join(parts)


def empty_result(kind: str, path: str | None, *notes: str) -> GpsReadResult:
    return GpsReadResult(kind=kind, path=path, notes=tuple(notes))


def why_empty(kind: str, fixes: int, no_fix: int, skipped: int) -> str | None:
    """The note that explains an empty track, or None when there are fixes."""
    if fixes:
        return None
    if no_fix:
        return f"{kind}: no position fix in {no_fix} reports (receiver had no satellite lock)"
    if skipped:
        return f"{kind}: no usable record ({skipped} skipped as damaged or unreadable)"
    return f"{kind}: empty (no position records)"
