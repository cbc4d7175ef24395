"""GPS parsing speed: a day of 1 Hz NMEA, the gpsd receiver logs, and pynmea2 as the peer.

    python bench/gps.py            # 24 h log generated in a temp folder (~170k sentences)
    python bench/gps.py --hours 2  # a shorter one

Prints one table: items, wall and CPU seconds (best of 3), items per CPU second, fixes. Rows:
dashpipe on the generated day (target < 2 s); a pynmea2-based reader of the same file (parse,
then read the fields a track needs from each RMC and GGA, without merging them into fixes);
dashpipe on all gpsd logs in ../shared/data (skipped when absent); and 10,000 ``position_at``
look-ups on the day's track.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from dashpipe.gps.nmea import read_nmea, xor_checksum  # noqa: E402
from dashpipe.gps.track import clean_track, position_at  # noqa: E402

GPSD_LOGS = REPO.parent / "shared" / "data" / "gps" / "gpsd" / "logs"


def _nmea(body: str) -> str:
    return f"${body}*{xor_checksum(body):02X}"


def _ddmm(value: float, width: int) -> str:
    deg = int(abs(value))
    minutes = min((abs(value) - deg) * 60.0, 59.9999)
    return f"{deg:0{width}d}{minutes:07.4f}"


def generate_day(path: Path, hours: float) -> int:
    """A drive at ~50 km/h going round a 2 km circle, RMC + GGA each second."""
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    lines = []
    for i in range(int(hours * 3600)):
        t = start + timedelta(seconds=i)
        a = i / 150.0
        lat, lon = 52.0 + 0.009 * math.sin(a), 4.9 + 0.015 * math.cos(a)
        hms, dmy = t.strftime("%H%M%S.00"), t.strftime("%d%m%y")
        course = (math.degrees(-a) + 360.0) % 360.0
        lines.append(_nmea(f"GPRMC,{hms},A,{_ddmm(lat, 2)},N,{_ddmm(lon, 3)},E,27.0,{course:.1f},{dmy},,,A"))
        lines.append(_nmea(f"GPGGA,{hms},{_ddmm(lat, 2)},N,{_ddmm(lon, 3)},E,1,09,0.9,12.3,M,47.0,M,,"))
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def best_of(n: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best wall-clock and best CPU seconds of n runs (CPU time stays honest on a busy machine)."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu, out


def pynmea2_all(path: Path) -> int:
    """The peer: a reader on pynmea2 that takes what a track needs from each RMC and GGA (no merging)."""
    import pynmea2

    n = 0
    for line in path.read_text().splitlines():
        msg = pynmea2.parse(line, check=True)
        if isinstance(msg, pynmea2.types.talker.RMC):
            _ = (msg.datetime, msg.latitude, msg.longitude, msg.spd_over_grnd, msg.true_course)
        elif isinstance(msg, pynmea2.types.talker.GGA):
            _ = (msg.timestamp, msg.latitude, msg.longitude, msg.altitude, msg.gps_qual, msg.horizontal_dil)
        else:
            continue
        n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=24.0, help="length of the generated log")
    args = parser.parse_args()
    print(f"machine: {describe()}\n")
    rows: list[tuple[str, int, float, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        day = Path(tmp) / "day.nmea"
        sentences = generate_day(day, args.hours)
        wall, cpu, result = best_of(3, lambda: read_nmea(day))
        fixes = result.fixes
        rows.append((f"dashpipe, {args.hours:g} h generated", sentences, wall, cpu, len(fixes)))
        wall, cpu, n = best_of(1, lambda: pynmea2_all(day))
        rows.append(("pynmea2 reader, same file", sentences, wall, cpu, n))
        track, _ = clean_track(fixes)
        t0 = track[0].time
        span = (track[-1].time - t0).total_seconds()
        queries = [t0 + timedelta(seconds=span * k / 10_000) for k in range(10_000)]
        wall, cpu, _ = best_of(3, lambda: [position_at(track, q, 5.0) for q in queries])
        rows.append(("position_at look-ups", 10_000, wall, cpu, len(track)))
    if GPSD_LOGS.is_dir():
        logs = sorted(GPSD_LOGS.glob("*.log"))
        n_sent = sum(p.read_bytes().count(b"$") for p in logs)
        wall, cpu, results = best_of(3, lambda: [read_nmea(p) for p in logs])
        rows.append((f"dashpipe, {len(logs)} gpsd logs", n_sent, wall, cpu, sum(len(r.fixes) for r in results)))
    else:
        print(f"(gpsd logs not found at {GPSD_LOGS}: row skipped)")
    print(f"{'what':30s} {'items':>8s} {'wall s':>8s} {'cpu s':>8s} {'items/s (cpu)':>14s} {'fixes':>7s}")
    for name, n, wall, cpu, f in rows:
        print(f"{name:30s} {n:8d} {wall:8.3f} {cpu:8.3f} {n / cpu:14.0f} {f:7d}")


if __name__ == "__main__":
    main()
