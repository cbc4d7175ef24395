"""The Celery app. Its configuration is computed from the process's settings on first use."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup

from dashpipe.config import Settings
from dashpipe.runtime import get_runtime

QUEUES = ("jetson", "gpu", "archive")
ROUTES: dict[str, dict[str, str]] = {
    "dashpipe.preprocess": {"queue": "jetson"},
    "dashpipe.heavy": {"queue": "gpu"},
    "dashpipe.archive": {"queue": "archive"},
}


def celery_config(settings: Settings) -> dict[str, Any]:
    """Every Celery setting in one place; routing is by task name, decided once here."""
    c = settings.celery
    return {
        "broker_url": c.broker_url,
        "result_backend": c.result_backend or c.broker_url,
        "task_routes": ROUTES,
        "task_default_queue": "jetson",
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {"visibility_timeout": c.visibility_timeout_s},
        "result_backend_transport_options": {"visibility_timeout": c.visibility_timeout_s},
        "task_time_limit": c.task_time_limit_s,
        "task_track_started": True,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "result_extended": True,
        "result_expires": 7 * 24 * 3600,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
    }


app = Celery("dashpipe", include=["dashpipe.tasks.jobs"])
app.add_defaults(lambda: celery_config(get_runtime().settings))


def apply_settings(settings: Settings) -> None:
    """Re-point an already configured app at new settings (a client that switches brokers)."""
    if not app.configured:
        return
    app.close()  # drops the broker connection pool
    app.conf.update(celery_config(settings))
    if hasattr(app._local, "backend"):
        del app._local.backend  # the result backend is cached per thread


@celeryd_after_setup.connect
def _warm_models(sender: str, instance: Any, **_: Any) -> None:
    """Load the models of the queues this worker serves, so a missing file stops it at start."""
    queues = set(instance.app.amqp.queues.consume_from or {})
    get_runtime().warm(queues or set(QUEUES))
