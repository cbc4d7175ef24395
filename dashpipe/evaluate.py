"""Scoring a report against a sample's ground truth: used by the tests and the benchmarks alike.

A report plate is *matched* when its text equals a truth plate's text exactly; anything else is a
false plate (a misread counts as false: a user would be told a wrong plate). A plate's location is
right when it lies near where the camera car was while the plate was on screen.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dashpipe.gps.track import haversine_m


class Score(BaseModel):
    readable_total: int
    readable_found: int
    matched: int
    false_plates: int
    false_texts: list[str]
    duplicates: int
    located: int
    max_location_error_m: float

    @property
    def recall(self) -> float:
        return self.readable_found / self.readable_total if self.readable_total else 1.0


def score_report(entry: dict[str, Any], truth: dict[str, Any]) -> Score:
    plates = truth["plates"]
    by_text = {p["text"]: p for p in plates}
    ego = truth.get("ego", [])
    counts: dict[str, int] = {}
    false_texts: list[str] = []
    located = 0
    worst = 0.0
    for rp in entry["plates"]:
        tp = by_text.get(rp["text"])
        if tp is None:
            false_texts.append(rp["text"])
            continue
        counts[rp["text"]] = counts.get(rp["text"], 0) + 1
        if rp.get("lat") is None or rp.get("lon") is None or not ego:
            continue
        located += 1
        t0, t1 = tp["visible"]
        near = [e for e in ego if t0 - 0.5 <= e["t_s"] <= t1 + 0.5] or ego
        worst = max(worst, min(haversine_m(rp["lat"], rp["lon"], e["lat"], e["lon"]) for e in near))
    readable = [p for p in plates if p.get("readable")]
    return Score(
        readable_total=len(readable),
        readable_found=sum(1 for p in readable if p["text"] in counts),
        matched=sum(counts.values()),
        false_plates=len(false_texts),
        false_texts=false_texts,
        duplicates=sum(n - 1 for n in counts.values()),
        located=located,
        max_location_error_m=round(worst, 2),
    )
