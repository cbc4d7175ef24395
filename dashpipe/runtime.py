"""Per-process state: the settings, the store, the database and the models, each built once.

A worker process builds its models on first use (or at start, to fail early) and keeps them;
nothing here is created at import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from dashpipe.config import CpuProposerConfig, Settings, load_settings
from dashpipe.models.base import Detector, PlateReader, Proposer
from dashpipe.storage import Store

if TYPE_CHECKING:
    from dashpipe.models.text_presence import TextPresence


@dataclass
class Runtime:
    settings: Settings
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.store)

    @cached_property
    def engine(self) -> Engine:
        from dashpipe.db import connect

        return connect(self.settings.database_url)

    @cached_property
    def proposer(self) -> Proposer:
        """The preprocess's proposer. While burned-in text is looked for, a CPU proposer is asked for
        ``OVERLAY_SLOTS`` more regions than its limit: until the text is known it holds some of them,
        and the preprocess trims each frame to the limit once it has dropped those."""
        from dashpipe.models.registry import build_proposer
        from dashpipe.stages.preprocess import OVERLAY_SLOTS

        cfg = self.settings.proposer
        if self.settings.preprocess.find_overlays and isinstance(cfg, CpuProposerConfig):
            cfg = cfg.model_copy(update={"max_regions": cfg.max_regions + OVERLAY_SLOTS})
        with self._lock:
            return build_proposer(cfg)

    @property
    def region_limit(self) -> int | None:
        """The most regions a kept frame keeps (the CPU proposer's configured limit)."""
        cfg = self.settings.proposer
        return cfg.max_regions if isinstance(cfg, CpuProposerConfig) else None

    @cached_property
    def detector(self) -> Detector:
        from dashpipe.models.registry import build_detector

        with self._lock:
            return build_detector(self.settings.detector)

    @cached_property
    def reader(self) -> PlateReader:
        from dashpipe.models.registry import build_reader

        with self._lock:
            return build_reader(self.settings.ocr)

    @cached_property
    def verifier(self) -> TextPresence | None:
        if not self.settings.plates.verify_text:
            return None
        from dashpipe.models.text_presence import TextPresence

        with self._lock:
            return TextPresence()

    def warm(self, queues: set[str]) -> None:
        """Build what the served queues need now, so a missing model fails the start, not a job."""
        if "jetson" in queues:
            _ = self.proposer
        if "gpu" in queues:
            _ = self.detector
            _ = self.reader
            _ = self.verifier
        if "archive" in queues:
            _ = self.engine


_current: Runtime | None = None
_current_lock = threading.Lock()


def configure(settings: Settings) -> Runtime:
    """Make ``settings`` this process's settings (the CLI does this once, before any task runs)."""
    global _current
    with _current_lock:
        _current = Runtime(settings)
        return _current


def get_runtime() -> Runtime:
    global _current
    with _current_lock:
        if _current is None:
            _current = Runtime(load_settings())
        return _current
