"""The Kafka driver: a Faust app whose one agent feeds the events topic to the pipeline.

    events topic ──► agent (micro-batches: noack_take(batch_size, within=batch_seconds))
                        │ split by source partition → Pipeline.process(records)   (streams/pipeline.py)
                        ├─► landing Parquet (LandingWriter, same rows as the embedded driver)
                        ├─► dead-letters topic       value = original bytes, reason/origin in headers
                        ├─► section-results topic    JSON row, key district_code
                        ├─► district-status topic    JSON row, key district_code
                        └─► "facts" table (changelog-backed): one entry per applied fact
                     then ack → Faust commits the offsets

Modules. This one wires the app: the Faust app, the facts table, the agent and its two stages,
the assignment handlers and the counts timer. The rest is elsewhere, one job each:
streams/kafka_config.py (WorkerConfig, broker URLs and credentials), streams/facts_table.py (the
table's keys, codec and store), streams/table_states.py (district states rebuilt from the table,
table writes), streams/worker_runtime.py (the batch handler and counts), streams/worker_batches.py
(parts, partition groups, output messages), streams/faust_patches.py and streams/fast_delivery.py
(workarounds installed on Faust's consumer), streams/bulk.py (bulk sends).

District state. ``DistrictState`` objects are not put in the table (a district's state is
megabytes and changes with every event). The table holds the district's *facts*: key
``"<district>|<event_type>|<entity>|<year>|<sub>"`` (the district plus the rules' fact key),
value ``{"seq", "event_id", "seen", "event"}`` -- the applied event and its version record. The
worker's in-memory ``DistrictState`` of a district is rebuilt from those facts (replayed through
``apply_batch``, then the version records restored) the first time the district is needed after
start-up or a rebalance (``TableStates``). Faust recovers the table from its compacted
changelog topic before it hands the agent any event of the partition, so the replay always sees
every fact the previous owner wrote.

At least once. Events are acknowledged only after their batch was landed, its output messages
were delivered and its table writes were delivered; a crash before that re-delivers them, and
``apply`` is idempotent (a re-delivered event is a duplicate, or is re-applied to the same
result if its table write was lost with the crash). Outputs (Parquet rows, topic messages) may
then appear twice; they never go missing. ``noack_take`` is used instead of ``take`` /
``take_events``: those acknowledge the batch in a ``finally`` -- also when processing raised or
was cancelled by a shutdown -- which would commit events that were never processed.

Table writes. The worker writes the table itself -- the local store, plus the changelog
message sent (in bulk, streams/bulk.py) to the district's *source partition* -- instead of through
``table[key] = value``: Faust picks the changelog partition of a table write from the stream's
current event, which inside a batch is merely the batch's last event (faust-streaming#497), and
its per-message producer buffer made the flush the slowest step of a batch. The changelog stays
co-partitioned with the events topic, so recovery gives each worker exactly the facts of the
districts it owns. (Store: ``memory://``; RocksDB would need the same partition care.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import faust

from junheng.layout import WarehouseLayout
from junheng.metrics import Metrics
from junheng.settings import KafkaSettings
from rules.state import Engine
from streams.facts_table import FACT_CODEC, FACTS_STORE_URL, FACTS_TABLE
from streams.fast_delivery import deliver_without_tasks

# the fault plugin (tests/plugins/faults.py) wraps hold_flow_while_seeking by its name here: the
# assignment handler looks it up in this module when it runs
from streams.faust_patches import hold_flow_while_seeking, rewind_uncommitted
from streams.kafka_config import WorkerConfig, broker_credentials, broker_urls, default_app_id, quiet_clients
from streams.pipeline import StatusHook
from streams.worker_batches import PreparedBatch
from streams.worker_runtime import StreamRuntime

log = logging.getLogger("streams.app")

__all__ = [
    "FACTS_TABLE",
    "StreamRuntime",
    "WorkerConfig",
    "create_app",
    "hold_flow_while_seeking",
    "rewind_uncommitted",
]


def create_app(
    settings: KafkaSettings,
    config: WorkerConfig,
    engine: Engine | None = None,
    on_statuses: StatusHook | None = None,
    metrics: Metrics | None = None,
) -> tuple[faust.App, StreamRuntime]:
    """A configured Faust app with the events agent, the facts table and the runtime behind them.
    `on_statuses`: the stream alerts' hook (junheng/worker.py wires it; None: no stream alerts).
    `metrics`: the worker's metrics (junheng/metrics.py); Faust's Prometheus sensor is then the
    app's monitor (streams/worker_metrics.py) and the runtime times batches and GX."""
    quiet_clients()
    app_id = config.app_id or default_app_id(settings)
    datadir = WarehouseLayout(config.warehouse).worker_data.resolve()
    app = faust.App(
        app_id,
        broker=broker_urls(settings),
        broker_credentials=broker_credentials(settings),
        processing_guarantee="at_least_once",
        store=FACTS_STORE_URL,  # memory:// (FactsStore): rebuilt from the changelog at start
        datadir=str(datadir),
        web_enabled=False,
        web_bind="127.0.0.1",
        autodiscover=False,
        topic_partitions=config.partitions,
        topic_replication_factor=config.replication_factor,
        table_standby_replicas=config.standby_replicas,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # record batches of up to 512 KiB (default 16 KiB): a micro-batch's ~5 MB of output and
        # changelog messages then go out as a few batches per partition (streams/bulk.py) instead
        # of hundreds, each one a produce round trip (aiokafka sends one batch per partition per
        # request); under the broker's 1 MiB max.message.bytes
        producer_max_batch_size=512 * 1024,
        stream_wait_empty=True,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 4),
        worker_redirect_stdouts=False,
    )
    table = app.Table(
        FACTS_TABLE,
        default=None,
        partitions=config.partitions,
        # values stay deflated JSON in memory (decode_fact); the changelog is plain JSON
        schema=faust.Schema(key_type=str, key_serializer="json", value_serializer=FACT_CODEC),
        help="applied facts per district: <district>|<fact key> -> {seq, event_id, seen, event}",
    )
    runtime = StreamRuntime(app, settings, config, table, engine, on_statuses)
    if metrics is not None:
        from streams.worker_metrics import install_monitor

        runtime.metrics = metrics
        runtime.monitor = install_monitor(app, metrics)
    events_topic = app.topic(
        settings.topic("events"), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    def stop_uncommitted(exc: BaseException) -> None:
        """Kafka, the disk or the GX child failed: leave the batch unacked and stop the process."""
        log.critical(
            "batch failed outside the processing core (%s: %s); stopping without committing it, "
            "it will be re-delivered",
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        runtime.status = "crashed"
        try:  # the disk that just failed may hold the counts file too: exit 70 regardless
            runtime.write_counts()
        except OSError:
            log.exception("could not write the counts file")
        logging.shutdown()
        os._exit(70)

    @app.agent(events_topic, name="apply-events")
    async def apply_events(stream: Any) -> None:
        """Two stages, one batch apart: this loop collects a batch and prepares it (checks, GX
        started in the child), a finisher task applies, lands, sends and acknowledges the
        batches in order. So Faust's per-message delivery of batch N+1, the suites on N+1 and
        the rules on N overlap, instead of taking turns. At most one prepared batch waits (the
        queue's size), so memory stays bounded; on a rebalance Faust waits until every event
        taken is acknowledged (``stream_wait_empty``), i.e. until the finisher has drained."""
        runtime.status = "running"
        prepared: asyncio.Queue[PreparedBatch] = asyncio.Queue(maxsize=1)

        async def finisher() -> None:
            while True:
                batch = await prepared.get()
                try:
                    await runtime.finish(batch)
                except asyncio.CancelledError:
                    raise  # shutdown mid-batch: not acked, so re-delivered
                except Exception as exc:
                    stop_uncommitted(exc)
                for ev in batch.events:
                    await stream.ack(ev)

        finishing = asyncio.ensure_future(finisher())
        try:
            async for events in stream.noack_take(config.batch_size, within=config.batch_seconds):
                try:
                    batch = runtime.prepare(events)
                except Exception as exc:
                    stop_uncommitted(exc)
                if finishing.done():  # only if it crashed or was cancelled: never wait on a dead stage
                    finishing.result()
                await prepared.put(batch)
        finally:
            finishing.cancel()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode-streaming's receiver type
    def on_revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        runtime.on_assignment_change("revoked", args[0] if args else kwargs.get("revoked", ()))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    def on_assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        rewind_uncommitted(app.consumer, settings.topic("events"))  # before recovery seeks
        hold_flow_while_seeking(app.consumer)
        if config.fast_delivery:
            deliver_without_tasks(app.consumer)
        runtime.on_assignment_change("assigned", args[0] if args else kwargs.get("assigned", ()))

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def heartbeat() -> None:
        """The event loop turns: /healthz (streams/worker_metrics.py) says alive."""
        runtime.heartbeat = time.monotonic()

    @app.timer(config.log_every_s)  # type: ignore[untyped-decorator]
    async def report() -> None:
        runtime.log_counts()
        runtime.write_counts()

    app.junheng_runtime = runtime  # type: ignore[attr-defined]
    return app, runtime
