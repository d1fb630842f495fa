"""The worker group's consumer lag, as Kafka's own tools compute it: per partition of the events
topic, the end offset minus the offset the group committed.

Read from the broker (an admin client: ListOffsets and OffsetFetch), not from Faust's in-memory
offsets, because it must be right when the worker is stuck or not running at all -- that is when
it matters: ``junheng status`` asks it without a worker, and the worker's metrics poll it on a
thread of their own (:class:`LagPoller`), so a stalled event loop still shows a growing lag.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from junheng.settings import KafkaSettings

log = logging.getLogger("streams.kafka_lag")


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    end: int  # the offset the next event will get
    committed: int | None  # None: the group never committed on this partition

    @property
    def lag(self) -> int:
        """Events not committed yet (a partition never committed counts from its start, 0)."""
        return max(0, self.end - (self.committed or 0))


def group_lag(settings: KafkaSettings, group: str, topic: str, admin: Any = None) -> list[PartitionLag] | None:
    """The lag of consumer group `group` on `topic`, per partition; None if the topic does not
    exist. Raises kafka-python's errors when the broker cannot be reached (the caller says so).
    `admin`: a KafkaAdminClient to reuse (one is made and closed otherwise)."""
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import OffsetSpec
    from kafka.errors import CoordinatorNotAvailableError, GroupIdNotFoundError

    from ingestion.producer import client_config

    own = admin is None
    if own:
        admin = KafkaAdminClient(**client_config(settings), client_id="junheng-lag", request_timeout_ms=10_000)
    try:
        partitions = admin.describe_topics([topic])[0].get("partitions") if topic in admin.list_topics() else None
        if not partitions:
            return None
        tps = [TopicPartition(topic, p["partition_index"]) for p in partitions]
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
        try:
            committed = admin.list_group_offsets({group: tps}).get(group, {})
        except (CoordinatorNotAvailableError, GroupIdNotFoundError):  # no group has committed yet
            committed = {}
        out = []
        for tp in sorted(tps, key=lambda t: t.partition):
            c = committed.get(tp)
            offset = getattr(c, "offset", None)
            out.append(
                PartitionLag(
                    tp.partition, int(ends[tp].offset), int(offset) if offset is not None and offset >= 0 else None
                )
            )
        return out
    finally:
        if own:
            admin.close()


class LagPoller:
    """:func:`group_lag` every `every_s` seconds on a daemon thread; :meth:`lag` is the latest
    answer (None until the first one, or while the broker does not answer)."""

    def __init__(self, settings: KafkaSettings, group: str, topic: str, every_s: float = 5.0) -> None:
        self.settings, self.group, self.topic, self.every_s = settings, group, topic, every_s
        self._latest: dict[tuple[str, int], int] | None = None
        self.updated_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kafka-lag", daemon=True)
        self._thread.start()

    def lag(self) -> dict[tuple[str, int], int] | None:
        return self._latest

    def total(self) -> int | None:
        latest = self._latest
        return None if latest is None else sum(latest.values())

    def _run(self) -> None:
        from kafka import KafkaAdminClient

        from ingestion.producer import client_config

        admin = None
        while not self._stop.is_set():
            try:
                if admin is None:
                    admin = KafkaAdminClient(
                        **client_config(self.settings), client_id="junheng-lag", request_timeout_ms=10_000
                    )
                lags = group_lag(self.settings, self.group, self.topic, admin=admin)
                self._latest = {} if lags is None else {(self.topic, p.partition): p.lag for p in lags}
                self.updated_at = time.time()
            except Exception as exc:  # noqa: BLE001 - the broker is away: unknown lag, try again later
                from ingestion.kafka_access import redact

                log.warning(
                    "consumer lag of %s unknown: %s: %s",
                    self.group,
                    type(exc).__name__,
                    redact(str(exc), self.settings),
                )
                self._latest = None
                if admin is not None:
                    try:
                        admin.close()
                    except Exception:  # noqa: BLE001
                        pass
                    admin = None
            self._stop.wait(self.every_s)
        if admin is not None:
            admin.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
