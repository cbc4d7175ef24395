"""Producing the next items of an iterator on a thread while the caller works on the current one."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")


def read_ahead(items: Iterator[T], depth: int = 8, name: str = "read-ahead") -> Generator[T, None, None]:
    """``items`` in order, produced up to ``depth`` ahead on a thread of their own.

    Why: a multi-threaded decoder only decodes while someone asks it for frames, so whatever the
    caller does with a frame leaves the decoder's threads idle unless the asking happens
    elsewhere. Decoding and OpenCV release the GIL, so the two really overlap. The producer's
    exception is raised here; stopping early (``close``) ends the producer and closes ``items``
    on its own thread.
    """
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                slots.put((True, item))
                if stop.is_set():
                    return
            slots.put((False, None))
        except BaseException as exc:  # raised again on the caller's thread
            slots.put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            ok, value = slots.get()
            if ok:
                yield value  # type: ignore[misc]
            elif value is None:
                return
            else:
                assert isinstance(value, BaseException)
                raise value
    finally:
        stop.set()
        while worker.is_alive():  # make room so a blocked producer sees the stop
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        worker.join()
