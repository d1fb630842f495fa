"""MicroBatcher: cut a stream of items into micro-batches bounded by size and by age.

Plain Python, no GX and no threads: the caller owns the clock and the loop. Typical use::

    batcher = MicroBatcher(max_events=500, max_seconds=1.0)
    for message in consumer:                      # poll with a timeout so idle time is seen
        if message is not None:
            batch = batcher.add(message)
            if batch: handle(batch)
        batch = batcher.flush_due(time.monotonic())
        if batch: handle(batch)
    handle(batcher.drain())                       # at shutdown / rebalance

The age of a batch is measured from its *first* item, so no item waits longer than ``max_seconds``
(plus the caller's polling interval) before its batch is handed out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["MicroBatcher"]

T = TypeVar("T")


class MicroBatcher(Generic[T]):
    """Collect items; hand out a batch when it is full or when its first item is old enough.

    ``clock`` (default :func:`time.monotonic`) is read by :meth:`add` to stamp the first item of
    a batch; tests inject a fake one. :meth:`flush_due` takes ``now`` explicitly from the same
    clock.
    """

    def __init__(
        self,
        max_events: int = 500,
        max_seconds: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(max_events, int) or isinstance(max_events, bool) or max_events < 1:
            raise ValueError(f"max_events must be an int >= 1, not {max_events!r}")
        if not isinstance(max_seconds, (int, float)) or math.isnan(max_seconds) or max_seconds < 0:
            raise ValueError(f"max_seconds must be a number >= 0, not {max_seconds!r}")
        self.max_events = max_events
        self.max_seconds = float(max_seconds)
        self._clock = clock
        self._items: list[T] = []
        self._started: float | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def started_at(self) -> float | None:
        """Clock reading when the pending batch got its first item (None when empty)."""
        return self._started

    def deadline(self) -> float | None:
        """When the pending batch becomes due (None when empty): a poll timeout for the caller."""
        return None if self._started is None else self._started + self.max_seconds

    def add(self, item: T) -> list[T] | None:
        """Add one item; return the full batch (and start a new one) when it reaches max_events."""
        if not self._items:
            self._started = self._clock()
        self._items.append(item)
        if len(self._items) >= self.max_events:
            return self._take()
        return None

    def flush_due(self, now: float) -> list[T] | None:
        """Return the pending batch if its first item is at least max_seconds old at ``now``."""
        if self._started is not None and now - self._started >= self.max_seconds:
            return self._take()
        return None

    def drain(self) -> list[T]:
        """Return whatever is pending (possibly ``[]``) and start empty."""
        return self._take()

    def _take(self) -> list[T]:
        items, self._items, self._started = self._items, [], None
        return items
