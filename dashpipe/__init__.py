"""dashpipe: dashcam videos to geotagged plate sightings, over Celery queues or in one process.

``import dashpipe`` stays light: the Celery app and the API load on first use, so
``celery -A dashpipe worker`` finds ``dashpipe.app`` and a script can call
``dashpipe.submit(...)`` or ``dashpipe.run(...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from celery import Celery

    from dashpipe.api import run, submit

    app: Celery

__all__ = ["__version__", "app", "run", "submit"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from dashpipe.tasks.app import app

        return app
    if name in ("run", "submit"):
        from dashpipe import api

        return getattr(api, name)
    raise AttributeError(f"module 'dashpipe' has no attribute {name!r}")
