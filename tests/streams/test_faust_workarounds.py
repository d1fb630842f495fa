"""Regression tests for two Faust/aiokafka problems the fault suite (tests/faults) found.

1. Record loss: after a rebalance Faust drops records it had fetched but not handed to the
   agent and seeks back to the committed offsets, but aiokafka's seek_to_committed skips
   partitions whose committed offset is None or 0, so the dropped records of a never-committed
   partition were lost. streams.app.rewind_uncommitted rewinds such events partitions.
2. Worker crash: a rebalance landing while the previous recovery round starts its standbys made
   that round seek a new standby partition to offset None. streams.app.FactsStore reports -1.
3. Record loss: recovery seeks the stream partitions while the fetcher keeps handing records
   to the agent. Records fetched before the seek arrive after it and move Faust's read offset
   past the seek, so the records fetched again are dropped, and the ones aiokafka discarded
   when it sought are never delivered. streams.app.hold_flow_while_seeking stops the flow for
   the seek.
"""
from __future__ import annotations

import asyncio
from typing import Any, cast

from aiokafka.structs import TopicPartition

from streams.app import FACTS_STORE_URL, FactsStore, hold_flow_while_seeking, rewind_uncommitted

EVENTS = "t.events"


class _Thread:
    def __init__(self) -> None:
        self.rewound: list[TopicPartition] = []

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.rewound += tps


class _Consumer:
    """The two members of Faust's aiokafka consumer that rewind_uncommitted uses."""

    def __init__(self, committed: dict[TopicPartition, Any]) -> None:
        self._thread = _Thread()
        self._committed = committed
        self.seeks = 0

    async def seek_to_committed(self) -> dict[TopicPartition, Any]:
        self.seeks += 1
        return dict(self._committed)


def test_never_committed_events_partitions_are_rewound_to_the_beginning() -> None:
    committed = {TopicPartition(EVENTS, 0): None, TopicPartition(EVENTS, 1): 0, TopicPartition(EVENTS, 2): 17,
                 TopicPartition("app-facts-changelog", 0): None}
    consumer = _Consumer(committed)
    rewind_uncommitted(consumer, EVENTS)
    rewind_uncommitted(consumer, EVENTS)          # installed once, whatever the rebalances
    result = asyncio.run(consumer.seek_to_committed())
    assert result == committed                   # Faust's bookkeeping sees what it always saw
    assert consumer.seeks == 1
    # partition 2 was committed (aiokafka seeks it); the changelog is Faust's own business
    assert sorted(consumer._thread.rewound) == [TopicPartition(EVENTS, 0), TopicPartition(EVENTS, 1)]


def test_nothing_is_rewound_once_everything_was_committed() -> None:
    consumer = _Consumer({TopicPartition(EVENTS, p): 5 + p for p in range(4)})
    rewind_uncommitted(consumer, EVENTS)
    asyncio.run(consumer.seek_to_committed())
    assert consumer._thread.rewound == []


def test_the_facts_store_makes_recovery_seek_standbys_from_the_start() -> None:
    """Recovery registers a standby partition with the store's persisted offset; with Faust's
    memory store that is None, and a standby seek before the offsets are built crashed the
    worker. FactsStore's -1 becomes offset 0: read the changelog partition from its start."""
    from collections import Counter
    from types import SimpleNamespace

    import faust.stores
    from faust.tables.recovery import Recovery

    assert faust.stores.by_url(FACTS_STORE_URL) is FactsStore
    store = object.__new__(FactsStore)
    tp = TopicPartition("app-facts-changelog", 3)
    assert store.persisted_offset(tp) == -1
    offsets: Counter[TopicPartition] = Counter()
    table = SimpleNamespace(persisted_offset=store.persisted_offset)
    Recovery._add(SimpleNamespace(tp_to_table={}), table, tp, offsets)  # type: ignore[arg-type]
    assert offsets[tp] == -1

    seeks: list[dict[TopicPartition, int]] = []

    class _SeekConsumer:
        async def seek_wait(self, partitions: dict[TopicPartition, int]) -> None:
            seeks.append(dict(partitions))

    asyncio.run(Recovery._seek_offsets(SimpleNamespace(), _SeekConsumer(), {tp}, offsets, "standby"))  # type: ignore[arg-type]
    assert seeks == [{tp: 0}]


class _Fetching:
    """What Faust's ``Consumer.getmany`` (the real one, called below) reads from its consumer.
    One fetch is in hand, offsets 100-119 of one events partition, as when recovery seeks."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        self.flow_active = True
        self.should_stop = False
        self._buffered_partitions: set[TopicPartition] = set()
        self.tp = TopicPartition(EVENTS, 0)
        self.app = SimpleNamespace(consumer_generation_id=1,
                                   monitor=SimpleNamespace(track_tp_end_offset=lambda tp, hw: None))
        self.scheduler = SimpleNamespace(iterate=lambda records: ((t, r) for t, rs in records.items() for r in rs))
        self.log = SimpleNamespace(dev=lambda *a, **k: None, warning=lambda *a, **k: None)
        self.sought = False
        self.seeks = 0

    async def _wait_next_records(self, timeout: float) -> tuple[dict[TopicPartition, list[int]], set[TopicPartition]]:
        return {self.tp: list(range(100, 120))}, {self.tp}

    def highwater(self, tp: TopicPartition) -> int:
        return 120

    def _to_message(self, tp: TopicPartition, record: int) -> int:
        return record

    def stop_flow(self) -> None:
        self.flow_active = False

    def resume_flow(self) -> None:
        self.flow_active = True

    async def perform_seek(self) -> None:
        """Faust's: ask the broker for the committed offsets (a round trip), seek, reset the
        read offsets."""
        self.seeks += 1
        for _ in range(5):
            await asyncio.sleep(0)
        self.sought = True


async def _fetch_during_seek(consumer: _Fetching) -> list[tuple[int, bool]]:
    """Run Faust's getmany as its fetcher does (one record, then the loop's turn) while
    recovery seeks; (offset, handed out after the seek was done) for every record."""
    from faust.transport.consumer import Consumer as FaustConsumer

    handed: list[tuple[int, bool]] = []

    async def fetcher() -> None:
        async for _, record in FaustConsumer.getmany(consumer, timeout=1.0):  # type: ignore[arg-type]
            handed.append((cast(int, record), consumer.sought))   # _to_message: the offset
            await asyncio.sleep(0)

    task = asyncio.ensure_future(fetcher())
    for _ in range(3):
        await asyncio.sleep(0)       # the fetcher has handed out a few records
    await consumer.perform_seek()    # recovery: "Seek stream partitions to committed offsets"
    await task
    return handed


def test_records_fetched_before_a_seek_never_reach_the_agent_after_it() -> None:
    # Faust alone: the fetch in hand keeps flowing during and after the seek. Those records
    # set the read offset past the seek, and the records fetched again are dropped
    plain = _Fetching()
    handed = asyncio.run(_fetch_during_seek(plain))
    assert any(after for _, after in handed), handed

    consumer = _Fetching()
    hold_flow_while_seeking(consumer)
    hold_flow_while_seeking(consumer)             # installed once, whatever the rebalances
    handed = asyncio.run(_fetch_during_seek(consumer))
    assert handed and not any(after for _, after in handed), handed
    assert [offset for offset, _ in handed] == list(range(100, 100 + len(handed)))  # in order, then nothing
    assert consumer.seeks == 1 and consumer.sought
    assert consumer.flow_active                   # resumed: the records come again from the seek


def test_holding_the_flow_leaves_a_stopped_flow_stopped_and_survives_a_failed_seek() -> None:
    consumer = _Fetching()
    hold_flow_while_seeking(consumer)
    consumer.stop_flow()                          # e.g. getmany seeking while a rebalance stopped it
    asyncio.run(consumer.perform_seek())
    assert not consumer.flow_active

    failing = _Fetching()

    async def broken() -> None:
        raise RuntimeError("broker gone")

    failing.perform_seek = broken  # type: ignore[method-assign]
    hold_flow_while_seeking(failing)
    try:
        asyncio.run(failing.perform_seek())
    except RuntimeError:
        pass
    assert failing.flow_active
