"""streams.fast_delivery: Faust's per-record hand-over without tasks when it does not wait, and
exactly Faust's own behaviour when it does.

The consumer here is a real mode ``Service`` (what Faust's consumer is) with the members the fetcher
uses: ``suspend_flow`` (a mode Event, as in Faust) and the service's own ``wait_first``. The
hand-over is an ``asyncio.Queue.put``, like Faust's channel queues, and every call is made the way
``Consumer._drain_messages`` makes it: ``wait_first(callback(message), self.suspend_flow.wait())``.
The Kafka path itself runs through it in tests/kafka and tests/faults.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mode import Service
from mode.utils.locks import Event

from streams.fast_delivery import deliver_without_tasks


class _Consumer(Service):
    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = Event()
        self.original_calls = 0

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:  # type: ignore[override]
        self.original_calls += 1
        return await super().wait_first(*coros, timeout=timeout)


async def _fetcher_call(consumer: _Consumer, queue: asyncio.Queue[int], item: int) -> Any:
    async def callback() -> str:
        await queue.put(item)
        return f"delivered {item}"

    return await consumer.wait_first(callback(), consumer.suspend_flow.wait())


def _run(test: Any) -> None:
    async def main() -> None:
        consumer = _Consumer()
        deliver_without_tasks(consumer)
        deliver_without_tasks(consumer)  # installed once, whatever the rebalances
        await test(consumer)

    asyncio.run(main())


def test_a_hand_over_that_does_not_wait_makes_no_task() -> None:
    async def test(consumer: _Consumer) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=10)
        tasks_before = len(asyncio.all_tasks())
        results = [await _fetcher_call(consumer, queue, i) for i in range(5)]
        assert [r.results for r in results] == [[f"delivered {i}"] for i in range(5)]
        assert not any(r.stopped for r in results)
        assert [queue.get_nowait() for _ in range(5)] == list(range(5))
        assert consumer.original_calls == 0 and len(asyncio.all_tasks()) == tasks_before

    _run(test)


def test_a_hand_over_that_waits_finishes_when_the_queue_has_room() -> None:
    async def test(consumer: _Consumer) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        await _fetcher_call(consumer, queue, 1)
        pending = asyncio.ensure_future(_fetcher_call(consumer, queue, 2))  # the queue is full
        await asyncio.sleep(0.05)
        assert not pending.done() and consumer.original_calls == 1  # waiting, as in Faust
        assert queue.get_nowait() == 1
        result = await asyncio.wait_for(pending, 1)
        assert result.results == ["delivered 2"] and queue.get_nowait() == 2

    _run(test)


def test_a_waiting_hand_over_is_abandoned_when_the_flow_is_suspended() -> None:
    async def test(consumer: _Consumer) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        await _fetcher_call(consumer, queue, 1)
        pending = asyncio.ensure_future(_fetcher_call(consumer, queue, 2))
        await asyncio.sleep(0.05)
        consumer.suspend_flow.set()  # a rebalance: Faust gives the record up
        result = await asyncio.wait_for(pending, 1)
        assert result.results == [True]  # the flow event won, the hand-over was cancelled
        assert queue.get_nowait() == 1
        await asyncio.sleep(0.05)
        assert queue.empty()  # record 2 never reached the queue

    _run(test)


def test_a_suspended_flow_takes_faust_s_own_path() -> None:
    async def test(consumer: _Consumer) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=10)
        consumer.suspend_flow.set()
        await _fetcher_call(consumer, queue, 1)
        assert consumer.original_calls == 1

    _run(test)


def test_other_calls_pass_through_and_errors_propagate() -> None:
    async def test(consumer: _Consumer) -> None:
        other = asyncio.Event()
        other.set()
        await consumer.wait_first(other.wait(), timeout=1)
        assert consumer.original_calls == 1

        async def broken() -> None:
            raise ValueError("bad record")

        with pytest.raises(ValueError, match="bad record"):
            await consumer.wait_first(broken(), consumer.suspend_flow.wait())
        assert consumer.original_calls == 1  # raised on the fast path, before any task

    _run(test)
