"""Cutting a micro-batch into runs of few districts, so that the states one run needs fit the
district-state bound (``max_loaded_districts``) whatever the batch holds.

Both drivers keep at most ``max_loaded_districts`` states in memory *between* batches; inside a
batch every district it touches is in memory at once. A batch that names every district (the end
of a national stream: 2,800 districts' statistics in the last batches) would hold every state.
Cut into consecutive runs of at most that many districts, each processed and landed as its own
batch, the states in memory stay within about twice the bound (the run's, and the bound kept
from before it). The order of the events is kept; a district whose events fall into two runs is
judged after each, so it may land one more intermediate status row than an uncut batch would,
never a different final state.

The worker keys by the Kafka message key (the producer's district code,
streams/worker_batches.py); the embedded driver reads the district code from the raw line
(:func:`district_of_raw`) -- a line without one (malformed: dead-lettered anyway) is a key of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")
__all__ = ["district_of_raw", "split_runs"]

_DISTRICT = re.compile(rb'"district_code"\s*:\s*"([^"\\]{0,64})"')


def split_runs(items: Sequence[T], key: Callable[[T], Hashable], limit: int | None) -> list[Sequence[T]]:
    """`items` cut, in order, into runs of at most `limit` distinct keys; one run when `limit`
    is None (or 0) or the batch has no more."""
    if not limit:
        return [items]
    parts: list[Sequence[T]] = []
    seen: set[Hashable] = set()
    start = 0
    for i, item in enumerate(items):
        k = key(item)
        if k not in seen:
            if len(seen) >= limit:
                parts.append(items[start:i])
                start, seen = i, set()
            seen.add(k)
    parts.append(items[start:])
    return parts


def district_of_raw(raw: bytes) -> bytes | None:
    """The first ``"district_code"`` value of an event's raw JSON (None if it has none): a
    cheap key for :func:`split_runs` before the line is parsed. Only the run sizes depend on it,
    never an outcome."""
    match = _DISTRICT.search(raw)
    return None if match is None else match.group(1)
