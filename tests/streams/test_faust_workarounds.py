"""Regression tests for two Faust/aiokafka problems the fault suite (tests/faults) found.

1. Record loss: after a rebalance Faust drops records it had fetched but not handed to the
   agent and seeks back to the committed offsets, but aiokafka's seek_to_committed skips
   partitions whose committed offset is None or 0, so the dropped records of a never-committed
   partition were lost. streams.faust_patches.rewind_uncommitted rewinds such events partitions.
2. Worker crash: a rebalance landing while the previous recovery round starts its standbys made
   that round seek a new standby partition to offset None. streams.facts_table.FactsStore reports -1.
3. Record loss: recovery seeks the stream partitions while the fetcher keeps handing records
   to the agent. Records fetched before the seek arrive after it and move Faust's read offset
   past the seek, so the records fetched again are dropped, and the ones aiokafka discarded
   when it sought are never delivered. streams.faust_patches.hold_flow_while_seeking stops the flow for
   the seek.
4. Record loss: after that seek, recovery empties the agents' queues (``flow_control.resume()``)
   before it resumes the flow. hold_flow_while_seeking used to resume the flow at the end of the
   seek, so records handed over in between were thrown away with the queue. It now leaves the
   flow to recovery (with Faust's real ``Recovery.on_recovery_completed`` below; on a broker:
   tests/faults/test_recovery_seek.py).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aiokafka.structs import TopicPartition

from streams.facts_table import FACTS_STORE_URL, FactsStore
from streams.faust_patches import hold_flow_while_seeking, rewind_uncommitted

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
    committed = {
        TopicPartition(EVENTS, 0): None,
        TopicPartition(EVENTS, 1): 0,
        TopicPartition(EVENTS, 2): 17,
        TopicPartition("app-facts-changelog", 0): None,
    }
    consumer = _Consumer(committed)
    rewind_uncommitted(consumer, EVENTS)
    rewind_uncommitted(consumer, EVENTS)  # installed once, whatever the rebalances
    result = asyncio.run(consumer.seek_to_committed())
    assert result == committed  # Faust's bookkeeping sees what it always saw
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
        self.app = SimpleNamespace(
            consumer_generation_id=1, monitor=SimpleNamespace(track_tp_end_offset=lambda tp, hw: None)
        )
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
            handed.append((cast(int, record), consumer.sought))  # _to_message: the offset
            await asyncio.sleep(0)

    task = asyncio.ensure_future(fetcher())
    for _ in range(3):
        await asyncio.sleep(0)  # the fetcher has handed out a few records
    await consumer.perform_seek()  # recovery: "Seek stream partitions to committed offsets"
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
    hold_flow_while_seeking(consumer)  # installed once, whatever the rebalances
    handed = asyncio.run(_fetch_during_seek(consumer))
    assert handed and not any(after for _, after in handed), handed
    assert [offset for offset, _ in handed] == list(range(100, 100 + len(handed)))  # in order, then nothing
    assert consumer.seeks == 1 and consumer.sought
    assert not consumer.flow_active  # recovery resumes it, after emptying the queues


def test_holding_the_flow_leaves_it_to_recovery_to_resume_it_even_after_a_failed_seek() -> None:
    consumer = _Fetching()
    hold_flow_while_seeking(consumer)
    consumer.stop_flow()  # e.g. getmany seeking while a rebalance stopped it
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
    assert not failing.flow_active  # recovery resumes it whether the seek failed or not


class _Recovering:
    """The consumer as Faust's ``Recovery.on_recovery_completed`` (the real one, called below)
    uses it, with the flow running as recovery left it after reading the changelog. Its
    ``perform_seek`` is Faust's in short: a round trip, then the read offset reset to the commit."""

    def __init__(self) -> None:
        self.tp = TopicPartition(EVENTS, 0)
        self.flow_active = True
        self.sought = False
        self._read_offset: dict[TopicPartition, int | None] = {self.tp: 130}  # fetched before the rebalance

    def stop_flow(self) -> None:
        self.flow_active = False

    def resume_flow(self) -> None:
        self.flow_active = True

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    def resume_partitions(self, tps: Any) -> None:
        pass

    async def perform_seek(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        self._read_offset[self.tp] = 100  # the committed offset
        self.sought = True


async def _recover_while_fetching(consumer: _Recovering) -> tuple[int, list[str]]:
    """Faust's recovery completes while a fetcher hands the agent's channel the record at the
    committed offset as soon as the flow lets it (the worst case of a fetch returning then).
    Returns how many records the agent's queue holds afterwards, and the order of events."""
    from types import SimpleNamespace

    import faust
    from faust.tables.recovery import Recovery

    app = faust.App("workarounds", broker="kafka://127.0.0.1:1", web_enabled=False, autodiscover=False)
    channel = app.channel()  # its queue is emptied by app.flow_control.resume()
    app.flow_control.resume()  # recovery resumed it to read the changelog
    app.consumer = consumer  # type: ignore[assignment]
    steps: list[str] = []

    async def fetcher_started() -> None:
        steps.append("recovery done")

    app.__dict__["_fetcher"] = SimpleNamespace(maybe_start=fetcher_started)
    original_resume = app.flow_control.resume

    def resume() -> None:
        steps.append("queues emptied")
        original_resume()

    app.flow_control.resume = resume  # type: ignore[method-assign]
    recovery = Recovery(app, app.tables)

    async def fetcher() -> None:
        while not (consumer.flow_active and consumer.sought):
            await asyncio.sleep(0)
        await app.flow_control.acquire()  # as Faust's Conductor does before handing over
        channel.queue.put_nowait(object())
        consumer._read_offset[consumer.tp] = 100  # Faust sets the read offset of a record handed over
        steps.append("record handed over")

    task = asyncio.ensure_future(fetcher())
    await recovery.on_recovery_completed(app.consumer_generation_id)
    await task
    return channel.queue.qsize(), steps


def test_a_record_handed_over_right_after_recoverys_seek_reaches_the_agent() -> None:
    # the flow as the seek used to leave it (resumed at its end): the record is handed over
    # before recovery empties the queues, and is lost with them
    plain = _Recovering()
    original = plain.perform_seek

    async def resuming_seek() -> None:
        plain.stop_flow()
        await original()
        plain.resume_flow()

    plain.perform_seek = resuming_seek  # type: ignore[method-assign]
    queued, steps = asyncio.run(_recover_while_fetching(plain))
    assert steps.index("record handed over") < steps.index("queues emptied") and queued == 0, steps

    consumer = _Recovering()
    hold_flow_while_seeking(consumer)
    queued, steps = asyncio.run(_recover_while_fetching(consumer))
    # the flow stays stopped until recovery has emptied the queues; the record handed over
    # after that is the agent's
    assert steps.index("queues emptied") < steps.index("record handed over") and queued == 1, steps


def test_the_worker_counts_offsets_that_never_reached_its_agent(tmp_path: Any, caplog: Any) -> None:
    """The check that makes a hole visible (StreamRuntime._note_offsets, run on every batch the
    agent gets): within an assignment a partition's offsets may go back (a seek re-delivers) but
    never skip ahead, and the first record after an assignment is the committed one."""
    from types import SimpleNamespace

    from junheng.settings import KafkaSettings
    from streams.kafka_config import WorkerConfig
    from streams.worker_runtime import StreamRuntime

    tp0, tp1 = TopicPartition(EVENTS, 0), TopicPartition(EVENTS, 1)
    app = SimpleNamespace(_consumer=SimpleNamespace(_committed_offset={tp1: 40}))
    runtime = StreamRuntime(
        app, KafkaSettings(topic_prefix="unit"), WorkerConfig(warehouse=tmp_path, gx=False), table={}
    )  # type: ignore[arg-type]

    def batch(tp: TopicPartition, *offsets: int) -> list[Any]:
        return [
            SimpleNamespace(message=SimpleNamespace(topic=tp.topic, partition=tp.partition, tp=tp, offset=o))
            for o in offsets
        ]

    runtime._note_offsets(batch(tp0, 0, 1, 2) + batch(tp1, 40, 41))
    runtime._note_offsets(batch(tp0, 1, 2, 3, 4))  # a seek re-delivered 1..2: not a hole
    assert runtime.skipped_records == 0
    runtime._note_offsets(batch(tp0, 9, 10))  # 5..8 never reached the agent
    assert runtime.skipped_records == 4
    runtime.on_assignment_change("assigned", [tp0, tp1])  # a rebalance: tp1 starts at its commit
    runtime._note_offsets(batch(tp0, 3) + batch(tp1, 45))  # tp1: 40..44 skipped
    assert runtime.skipped_records == 9
    assert runtime.snapshot()["skipped_records"] == 9
    assert "offsets 5..8 never reached the agent" in caplog.text and "the committed offset is 40" in caplog.text
    runtime.close()
