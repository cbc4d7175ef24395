"""The machine a bench ran on, printed above its table.

Two machines sold as the same kind (2 cores, x86) gave speeds twice apart: one had AVX-512, the other
only AVX2, and the OCR networks and OpenCV run their inner loops on those units. A figure without its
machine cannot be compared with another, so every bench says what it ran on, with one reference speed
(a float32 matrix product, the bulk of the OCR networks' work) that tells two machines apart by itself.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

VECTOR_UNITS = ("avx512f", "avx512_vnni", "avx_vnni", "avx2", "neon", "asimd")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cores() -> int:
    """Cores this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def matmul_gflops(size: int = 512, repeats: int = 20) -> float:
    """float32 GFLOP/s of numpy's matrix product on all cores (best of a few rounds, to skip warm-up)."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            a @ a
        best = min(best, (time.perf_counter() - t) / repeats)
    return 2.0 * size**3 / best / 1e9


def describe() -> str:
    info = _cpuinfo()
    model = info.get("model name") or platform.processor() or platform.machine()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    units = [u for u in VECTOR_UNITS if u in flags]
    return (
        f"{model}, {cores()} cores, {platform.machine()}, vector units: {', '.join(units) or 'unknown'}; "
        f"float32 matrix product {matmul_gflops():.0f} GFLOP/s"
    )


if __name__ == "__main__":
    print(describe())
