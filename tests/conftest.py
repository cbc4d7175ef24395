"""Shared fixtures: the real data folder, a rendered sample clip, a private redis-server, real workers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:
    import numpy as np

    from dashpipe.types import BBox

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Seeds the tests render; benchmarks and acceptance runs use other seeds.
SAMPLE_SEED = 7
SAMPLE_SECONDS = 10.0


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_clip(tmp_path_factory: pytest.TempPathFactory):
    """One rendered sample (video + NMEA + truth) shared by the tests that need footage."""
    from dashpipe.sample import render_sample

    out = tmp_path_factory.mktemp("sample")
    return render_sample(out, seconds=SAMPLE_SECONDS, seed=SAMPLE_SEED)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"redis-server did not answer on port {port}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port (never the machine's shared one)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (scripts/test.sh installs it)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_config(path: Path, root: Path, **extra: object) -> Path:
    data: dict[str, object] = {
        "store": {"data_dir": str(root)},
        "database_url": f"sqlite:///{root / 'dashpipe.db'}",
    }
    data.update(extra)
    path.write_text(yaml.safe_dump(data))
    return path


class Workers:
    """Real ``celery worker`` processes, one per queue, each its own OS process."""

    def __init__(self, config: Path, logdir: Path) -> None:
        self.config = config
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, queue: str) -> None:
        env = dict(os.environ, DASHPIPE_CONFIG=str(self.config), PYTHONUNBUFFERED="1")
        log = (self.logdir / f"{queue}.log").open("wb")
        self.procs[queue] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dashpipe",
                "worker",
                "-Q",
                queue,
                "-P",
                "solo",
                "-n",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_flower(self, port: int) -> None:
        env = dict(os.environ, DASHPIPE_CONFIG=str(self.config), FLOWER_UNAUTHENTICATED_API="true")
        log = (self.logdir / "flower.log").open("wb")
        self.procs["flower"] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dashpipe", "flower", f"--port={port}", "--address=127.0.0.1"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def log(self, queue: str) -> str:
        return (self.logdir / f"{queue}.log").read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.procs) - {"flower"}
        while pending and time.monotonic() < deadline:
            for q in list(pending):
                if self.procs[q].poll() is not None:
                    raise RuntimeError(f"worker {q} exited:\n{self.log(q)}")
                if " ready." in self.log(q):
                    pending.discard(q)
            time.sleep(0.2)
        if pending:
            raise RuntimeError(f"workers not ready: {sorted(pending)}")

    def alive(self, queue: str) -> bool:
        return self.procs[queue].poll() is None

    def stop(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def labelled_photos(n: int, start: int = 0) -> list[tuple[np.ndarray, BBox]]:
    """``n`` real photos of openalpr-us spread over the set, each with its labelled plate box."""
    import cv2

    from dashpipe.types import BBox

    plates = SHARED_DATA / "plates" / "openalpr-us"
    if not plates.is_dir():
        pytest.skip(f"real plate photos not found at {plates}")
    out = []
    for label in sorted(plates.glob("*.txt"))[start :: max(1, 222 // n)][:n]:
        name, x, y, w, h = label.read_text(encoding="utf-8").split("\t")[:5]
        image = cv2.imread(str(plates / name))
        assert image is not None
        out.append((image, BBox.from_xywh(float(x), float(y), float(w), float(h))))
    return out
