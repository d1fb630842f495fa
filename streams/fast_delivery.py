"""Faust's per-message hand-over without four asyncio tasks per message, when nothing waits.

Faust's fetcher (``Consumer._drain_messages``) hands every record to the agents' queues with::

    await self.wait_first(callback(message), self.suspend_flow.wait())

so that a hand-over blocked on a full queue is abandoned when the flow is suspended (a
rebalance). ``Service.wait_first`` wraps each of the two coroutines, and the consumer's ``stopped``
and ``crashed`` events, in a task, waits for the first, and cancels the other three: four tasks,
an ``asyncio.wait`` and three cancellations per message. In a py-spy profile of the pipeline
benchmark that was 10-12 % of the worker's CPU -- its largest single item after the processing
itself -- although almost every hand-over finishes at once (the queue has room).

:func:`deliver_without_tasks` makes the consumer's ``wait_first`` run that call's first coroutine
one step itself when the flow is not suspended and the consumer neither stopped nor crashed. If
it finishes in that step (it did not wait), the result is what ``wait_first`` would have
returned, and no task was made. If it waits (a full queue, a lock), the rest of it goes to the
original ``wait_first`` with the flow event, as before -- the suspension still abandons it. Any
other call of ``wait_first`` is passed through untouched.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine, Generator
from typing import Any

from mode.services import WaitResults

__all__ = ["deliver_without_tasks"]


class _Rest:
    """The rest of a coroutine whose first step already ran and yielded `yielded`: awaiting
    this (or making it a task) continues the coroutine exactly where it stopped."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self._coro, self._yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation (or other error) thrown in by the task
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def _is_flow_wait(consumer: Any, coro: Any) -> bool:
    """Whether `coro` is an unstarted ``consumer.suspend_flow.wait()`` -- the fetcher's call."""
    if not isinstance(coro, Coroutine) or inspect.getcoroutinestate(coro) != inspect.CORO_CREATED:
        return False
    return coro.cr_frame.f_locals.get("self") is consumer.suspend_flow  # type: ignore[attr-defined]


def deliver_without_tasks(consumer: Any) -> None:
    """Give `consumer` (Faust's) the task-free fast path of its per-message ``wait_first``
    described in the module docstring. Idempotent."""
    if getattr(consumer, "_junheng_fast_delivery", False):
        return
    original = consumer.wait_first
    suspended = consumer.suspend_flow.is_set
    stopped = consumer._stopped.is_set
    crashed = consumer._crashed.is_set

    async def wait_first(*coros: Any, timeout: Any = None) -> WaitResults:
        if (
            len(coros) != 2
            or timeout is not None
            or suspended()
            or stopped()
            or crashed()
            or not isinstance(coros[0], Coroutine)
            or not _is_flow_wait(consumer, coros[1])
        ):
            results: WaitResults = await original(*coros, timeout=timeout)
            return results
        hand_over, flow_wait = coros
        try:
            yielded = hand_over.send(None)
        except StopIteration as done:
            flow_wait.close()  # never started: closing it spares the "never awaited" warning
            return WaitResults([hand_over], [done.value], False)
        except BaseException:
            flow_wait.close()
            raise
        return await original(_Rest(hand_over, yielded), flow_wait)  # type: ignore[no-any-return]

    consumer.wait_first = wait_first
    consumer._junheng_fast_delivery = True
