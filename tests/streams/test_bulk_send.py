"""streams.bulk.send_bulk: a micro-batch's outgoing messages as record batches per partition.

The fake producer below has the members send_bulk uses (Faust's ``_ensure_producer`` and
``key_partition``, aiokafka's ``partitions_for``, ``create_batch`` and ``send_batch``) and builds
real aiokafka record batches, so the test reads back exactly the records a broker would get.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from faust.types import TP

from streams.bulk import OutMessage, send_bulk


class _Aio:
    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.sent: list[tuple[str, int, BatchBuilder]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.sent.append((topic, partition, batch))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class _Producer:
    def __init__(self, batch_size: int = 16384) -> None:
        self.aio = _Aio(batch_size)

    def _ensure_producer(self) -> _Aio:
        return self.aio

    def key_partition(self, topic: str, key: bytes) -> TP:
        return TP(topic, int(key) % 4)


def _records(batch: BatchBuilder) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    batch.close()
    return [(r.key, r.value, list(r.headers)) for r in DefaultRecordBatch(bytes(batch._builder.build()))]


def test_messages_are_grouped_by_partition_in_order() -> None:
    producer = _Producer()
    messages: list[OutMessage] = [("out", None, str(i % 3).encode(), f"v{i}".encode(), None) for i in range(9)]
    messages += [("log", 2, b'"k"', b"fact", None), ("dead", None, b"5", b"raw", [("reason", b"bad")])]
    futures = asyncio.run(send_bulk(producer, messages))
    assert len(futures) == len(producer.aio.sent) == 5  # one batch per topic-partition
    got = {(t, p): _records(b) for t, p, b in producer.aio.sent}
    assert got[("out", 0)] == [(b"0", f"v{i}".encode(), []) for i in (0, 3, 6)]
    assert got[("out", 1)] == [(b"1", f"v{i}".encode(), []) for i in (1, 4, 7)]
    assert got[("out", 2)] == [(b"2", f"v{i}".encode(), []) for i in (2, 5, 8)]
    assert got[("log", 2)] == [(b'"k"', b"fact", [])]  # an explicit partition is kept
    assert got[("dead", 1)] == [(b"5", b"raw", [("reason", b"bad")])]


def test_a_full_batch_continues_in_the_next_and_nothing_is_lost() -> None:
    producer = _Producer(batch_size=1000)
    messages: list[OutMessage] = [("out", 0, b"k", bytes([65 + i % 26]) * 300, None) for i in range(10)]
    messages += [("other", 1, b"k", b"x" * 300, None) for _ in range(4)]
    asyncio.run(send_bulk(producer, messages))
    sent = producer.aio.sent
    assert len(sent) > 2
    # round-robin: every partition's first batch goes out before any partition's second one
    assert [(t, p) for t, p, _ in sent[:2]] == [("out", 0), ("other", 1)]
    values = [v for t, p, b in sent if (t, p) == ("out", 0) for _, v, _ in _records(b)]
    assert values == [m[3] for m in messages[:10]]


def test_nothing_to_send() -> None:
    assert asyncio.run(send_bulk(_Producer(), [])) == []
