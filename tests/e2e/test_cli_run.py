"""`dashpipe run` as a user runs it: a subprocess, the embedded default, the report contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashpipe.evaluate import score_report
from dashpipe.sample import load_truth

pytestmark = pytest.mark.e2e

CONTRACT_VIDEO = {
    "source",
    "video_id",
    "status",
    "error",
    "started_at",
    "duration_s",
    "fps",
    "frames_total",
    "frames_selected",
    "rejected",
    "plates",
}
CONTRACT_PLATE = {"text", "confidence", "first_seen_s", "last_seen_s", "frames", "lat", "lon", "best_crop", "reads"}


def dashpipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHPIPE_")}
    return subprocess.run(
        [sys.executable, "-m", "dashpipe.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def run_result(sample_clip, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("run")
    bad = cwd / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(20_000))
    readable = [p["text"] for p in load_truth(sample_clip.truth)["plates"] if p["readable"]]
    config = cwd / "watch.yaml"
    config.write_text(f"watchlist:\n  - {{plate: '{readable[0][:-1]}?', label: wanted}}\n")
    proc = dashpipe(
        "-c",
        str(config),
        "run",
        str(bad),
        str(sample_clip.video),
        "--gps",
        str(sample_clip.nmea),
        "--report",
        "out.json",
        cwd=cwd,
    )
    return cwd, proc


def test_report_follows_the_contract(run_result):
    cwd, _ = run_result
    doc = json.loads((cwd / "out.json").read_text())
    assert len(doc["videos"]) == 2
    for v in doc["videos"]:
        assert set(v) >= CONTRACT_VIDEO
        assert set(v["rejected"]) >= {"static", "dark", "blurry"}
        for p in v["plates"]:
            assert set(p) >= CONTRACT_PLATE
            assert p["first_seen_s"] <= p["last_seen_s"]
            assert p["frames"] >= 1 and sum(p["reads"].values()) >= 1  # frames seen; OCR reads made


def test_a_broken_video_fails_alone_and_the_exit_code_says_so(run_result):
    cwd, proc = run_result
    assert proc.returncode == 1, proc.stderr
    broken, good = json.loads((cwd / "out.json").read_text())["videos"]
    assert broken["status"] == "failed" and "broken.mp4" in broken["error"]
    assert good["status"] == "done"
    assert "FAILED" in proc.stdout


def test_plates_match_the_truth_and_are_geotagged(run_result, sample_clip):
    cwd, _ = run_result
    good = json.loads((cwd / "out.json").read_text())["videos"][1]
    score = score_report(good, load_truth(sample_clip.truth))
    assert score.readable_found >= 0.9 * score.readable_total, score
    assert score.false_plates == 0 and score.duplicates == 0, score
    assert score.located == score.matched, score  # every read plate has a position
    assert score.max_location_error_m <= 15.0, score
    assert good["frames_selected"] <= 0.15 * good["frames_total"]
    assert good["started_at"] is not None


def test_watchlist_hit_is_reported_and_logged(run_result, sample_clip):
    cwd, proc = run_result
    good = json.loads((cwd / "out.json").read_text())["videos"][1]
    wanted = next(p["text"] for p in load_truth(sample_clip.truth)["plates"] if p["readable"])
    assert [(a["plate"], a["matched"], a["kind"]) for a in good["alerts"]] == [(wanted, "wanted", "wildcard")]
    assert f"watchlist: {wanted} matches wanted" in proc.stderr
    assert "WATCHLIST" in proc.stdout


def test_archive_database_and_search(run_result):
    cwd, _ = run_result
    good = json.loads((cwd / "out.json").read_text())["videos"][1]
    archive = cwd / "dashpipe-data" / "archive" / good["video_id"]
    assert (archive / "video.mp4").is_file()
    assert (archive / "report.json").is_file()
    assert not (cwd / "dashpipe-data" / "work" / good["video_id"]).exists()
    status = dashpipe("status", cwd=cwd)
    assert good["video_id"] in status.stdout and "failed" in status.stdout
    first = good["plates"][0]["text"]
    found = dashpipe("search", first[:3] + "*", cwd=cwd)
    assert first in found.stdout
