"""Store layout and file writes.

Every path is a function of the job id, so a task retried on another machine finds (or
re-creates) exactly the same files, and every write is atomic (temporary file + ``os.replace``)
so a task killed mid-write never leaves a half file that a retry would trust.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from dashpipe.config import StoreSettings

_CHUNK = 64 * 1024
_SAMPLES = 16


def video_id_for(path: Path) -> str:
    """A content id that is cheap for multi-GB files: size plus 16 evenly spaced 64 KiB chunks.

    Renaming or moving a video keeps its id; re-encoding or editing it does not.
    """
    size = path.stat().st_size
    h = hashlib.blake2b(digest_size=10)
    h.update(str(size).encode())
    with path.open("rb") as fh:
        if size <= _CHUNK * _SAMPLES:
            h.update(fh.read())
        else:
            step = (size - _CHUNK) // (_SAMPLES - 1)
            for i in range(_SAMPLES):
                fh.seek(i * step)
                h.update(fh.read(_CHUNK))
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def move_file(src: Path, dst: Path) -> Path:
    """Move across file systems too (work and archive may be different NAS shares)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dst)
    except OSError:
        tmp = dst.with_name(f".{dst.name}.part")
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
        src.unlink()
    return dst


class Store:
    """Deterministic paths of one installation's folders."""

    def __init__(self, settings: StoreSettings) -> None:
        self.incoming = settings.resolved("incoming").resolve()
        self.work = settings.resolved("work").resolve()
        self.archive = settings.resolved("archive").resolve()

    def job_dir(self, video_id: str) -> Path:
        return self.work / video_id

    def preprocess_json(self, video_id: str) -> Path:
        return self.job_dir(video_id) / "preprocess.json"

    def heavy_json(self, video_id: str) -> Path:
        return self.job_dir(video_id) / "heavy.json"

    def work_crops(self, video_id: str) -> Path:
        return self.job_dir(video_id) / "crops"

    def work_video(self, video_id: str) -> Path:
        return self.job_dir(video_id) / "video.mp4"

    def thumbnails(self, video_id: str) -> Path:
        return self.job_dir(video_id) / "thumbs"

    def archive_dir(self, video_id: str) -> Path:
        return self.archive / video_id

    def report(self, video_id: str) -> Path:
        return self.archive_dir(video_id) / "report.json"

    def remove_work(self, video_id: str) -> None:
        shutil.rmtree(self.job_dir(video_id), ignore_errors=True)
