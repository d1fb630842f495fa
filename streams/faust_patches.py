"""Workarounds for Faust/aiokafka problems the fault suite found (docs/reliability.md, "Bugs the
suite found"), installed on Faust's consumer by the worker's assignment handler (streams/app.py).

Each exists for a reason proven by a test: tests/streams/test_faust_workarounds.py (no broker) and
tests/faults (test_recovery_seek.py, the kill and broker-restart tests). The fourth workaround, the
memory store's persisted offset, is ``streams.facts_table.FactsStore``; Faust's per-record
hand-over without tasks is streams/fast_delivery.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("streams.faust_patches")


def rewind_uncommitted(consumer: Any, topic: str) -> None:
    """Make `consumer.seek_to_committed` also rewind `topic`'s partitions that have no committed
    offset (none, or 0) to their beginning -- what ``auto_offset_reset="earliest"`` promises.

    After a rebalance Faust drops the records it had fetched but not yet handed to the agent
    (generation changed, flow stopped, partition paused for recovery) and relies on seeking back
    to the committed offsets; aiokafka's ``seek_to_committed`` seeks only where the committed
    offset is > 0, so on a partition nothing was ever committed for, the dropped records were
    skipped for good (found by tests/faults: a second worker joining while the first consumed a
    fresh topic lost the first events of a partition). Idempotent; Faust's consumer only."""
    if getattr(consumer, "_junheng_rewinds", False):
        return
    original = consumer.seek_to_committed

    async def seek_to_committed() -> Mapping[Any, Any]:
        committed = await original()
        fresh = [tp for tp, offset in committed.items() if tp.topic == topic and (offset is None or offset <= 0)]
        if fresh:
            log.info(
                "no committed offset for %s: from the beginning", sorted(f"{tp.topic}:{tp.partition}" for tp in fresh)
            )
            await consumer._thread.seek_to_beginning(*fresh)
        return committed  # type: ignore[no-any-return]

    consumer.seek_to_committed = seek_to_committed
    consumer._junheng_rewinds = True


def hold_flow_while_seeking(consumer: Any) -> None:
    """Make `consumer.perform_seek` stop the flow of records to the agents for the seek, and
    leave it stopped: Faust resumes it when its recovery is done.

    Faust's recovery resumes the stream partitions and lets the fetcher run *before* it seeks
    them to their committed offsets (``Recovery.on_recovery_completed``). The fetcher goes on
    handing records to the agent while the seek waits on the broker, and then records fetched
    before the seek go on arriving after it. Each one sets Faust's read offset for its
    partition. Faust drops any record below that read offset as already seen ("DROPPED MESSAGE
    ROFF"), so when the seek re-fetches from the committed offset, those records are dropped.
    The records that aiokafka threw away from its buffer when it sought are never delivered at
    all. tests/faults found this: a worker restarted after a crash skipped 20 records per
    partition, about 80 in all, after offset 100, without an error (the restart began with
    ``rewind_uncommitted``'s seek, which waits for a ListOffsets round trip, so the window was
    wide). Stopping the flow first means nothing fetched before the seek reaches the agent after
    it. The read offsets are reset by the seek, and every record from the committed offset on
    is delivered again. Records already delivered come again as duplicates, which is
    at-least-once.

    Why the flow is not resumed here: after the seek, recovery calls ``app.flow_control.resume()``,
    which empties the agents' queues, and only then ``consumer.resume_flow()``. Resuming the flow
    at the end of the seek (as this wrapper first did) let the fetcher hand the agent records in
    the few event-loop turns between the two. Their read offsets were set, the queue was emptied,
    and the agent got the partition from a later offset on: the first records after the commit
    were skipped until the next rebalance re-delivered them, and an event whose school's
    registration was among them was dead-lettered ``unknown_school`` (tests/faults, a kill test
    on a loaded machine; forced in tests/faults/test_recovery_seek.py). Every caller of
    ``perform_seek`` resumes the flow itself afterwards (recovery, twice) or had it stopped
    already (``getmany``, seeking because the flow was stopped). Idempotent; Faust's consumer only."""
    if getattr(consumer, "_junheng_holds_flow", False):
        return
    original = consumer.perform_seek

    async def perform_seek() -> None:
        consumer.stop_flow()  # getmany hands out no more records fetched before the seek
        for _ in range(3):  # let the fetcher finish the record it is delivering
            await asyncio.sleep(0)
        await original()  # seeks, then resets the read offsets to the committed ones

    consumer.perform_seek = perform_seek
    consumer._junheng_holds_flow = True
