"""read_ahead: same items in order, the producer's error on the caller's side, a clean early stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from dashpipe.read_ahead import read_ahead


def test_items_arrive_in_order_and_complete() -> None:
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))


def test_producer_error_is_raised_to_the_caller_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken tail")

    seen: list[int] = []
    with pytest.raises(ValueError, match="broken tail"):
        for x in read_ahead(items()):
            seen.append(x)
    assert seen == [1, 2]


def test_stopping_early_closes_the_source_on_the_producer_thread() -> None:
    closed_on: list[str] = []

    def items() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed_on.append(threading.current_thread().name)

    stream = read_ahead(items(), depth=2, name="producer")
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    assert closed_on == ["producer"]
    assert not any(t.name == "producer" for t in threading.enumerate())
