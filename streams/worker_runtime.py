"""The worker's batch handler: Faust events in, the pipeline, then outputs, table writes and counts.

Per micro-batch, in two stages one batch apart (the agent in streams/app.py runs them side by side):

- :meth:`StreamRuntime.prepare` -- cut the batch into parts of at most ``max_loaded_districts``
  districts, group each by source partition, run the per-event checks, and start the GX suites on
  the whole batch's valid events (in the GX child, on the other core);
- :meth:`StreamRuntime.finish` -- await the verdicts; then, part by part: the pipeline applies each
  partition's records (streams/pipeline.py, with its per-record fallback), the part is landed,
  its output messages sent and awaited, its facts written to the table and awaited, and it is
  counted. The agent acknowledges the batch only after this returns, so a crash re-delivers it.

The runtime also keeps the counts file (``<warehouse>/worker-counts.json``) and checks that the
agent gets every partition's records without a hole.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from expectations.process_validator import ProcessValidator, ValidatorUnavailable
from ingestion.reference import load_districts
from junheng.compiled_engine import engine_kind
from junheng.layout import WarehouseLayout
from junheng.metrics import Metrics
from junheng.settings import KafkaSettings, catalogue_name
from rules import load_catalogue
from rules.state import Engine
from streams.bulk import OutMessage, send_bulk
from streams.facts_table import TableSchoolOwners
from streams.kafka_config import WorkerConfig
from streams.landing import LandingWriter
from streams.pipeline import Counts, Pipeline, StatusHook
from streams.processing import BatchResult, Checked, Record
from streams.sink import merge_results
from streams.table_states import TableStates
from streams.worker_batches import (
    OutputTopics,
    PreparedBatch,
    PreparedPart,
    delivered,
    event_id_of,
    group_records,
    output_messages,
    split_by_districts,
)

log = logging.getLogger("streams.worker_runtime")


def gx_validators(config: WorkerConfig) -> tuple[ProcessValidator | None, Any]:
    """The second validation layer, built once per worker (importing GX takes seconds): (the
    GX child, its ``validate``) by default; (None, an in-process ``validate``) with
    ``--gx-in-process``; (None, None) with ``--no-gx``."""
    if not config.gx:
        return None, None
    if config.gx_child:
        child = ProcessValidator()
        return child, child.validate
    from expectations import BatchValidator

    return None, BatchValidator().validate


class StreamRuntime:
    """The worker's per-process state and the batch handler the agent calls."""

    def __init__(
        self,
        app: Any,
        settings: KafkaSettings,
        config: WorkerConfig,
        table: Any,
        engine: Engine | None = None,
        on_statuses: StatusHook | None = None,
    ) -> None:
        """`table`: the facts table (a Faust table; a dict in tests). `on_statuses`: the stream
        alerts' hook, handed every landed batch's status changes; it must not block (the worker
        entry, junheng/worker.py, runs the alerts on a thread of their own)."""
        self.app = app
        self.settings = settings
        self.config = config
        self.table = table
        self.engine = engine or Engine(load_catalogue(config.catalogue or catalogue_name()))
        self.school_owners = TableSchoolOwners(table)
        self.states = TableStates(self.engine, table, config.max_loaded_districts, self.school_owners)
        self.gx_child, validate = gx_validators(config)
        log.info(
            "GX micro-batch suites: %s",
            "off (--no-gx)"
            if validate is None
            else f"in child process {self.gx_child.pid}"
            if self.gx_child is not None
            else "in this process",
        )
        self.landing = LandingWriter(WarehouseLayout(config.warehouse).landing, writer_id=config.worker_id)
        self.pipeline = Pipeline(
            self.engine,
            load_districts(),
            self.states,
            self.landing,
            batch_validator=validate,
            school_owners=self.school_owners,
            on_statuses=on_statuses,
        )
        self.batch_no = self.landing.next_batch_number()
        self.counts = Counts()
        self.assigned: list[str] = []
        self.last_offsets: dict[str, int] = {}
        self._next_offset: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset expected
        self.skipped_records = 0
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.status = "starting"
        self.process_s = 0.0
        self.timing: defaultdict[str, float] = defaultdict(float)
        # wall-clock ends of the first and the latest batch, and what the first one read: the
        # throughput between them (benchmarks/pipeline.py) needs no clock shared with the reader
        self.first_batch_done_at: float | None = None
        self.first_batch_read = 0
        self.last_batch_done_at: float | None = None
        self.first_batch_cpu_s = self.last_batch_cpu_s = 0.0  # process CPU time (all threads) then
        self.first_batch_gx_cpu_s = self.last_batch_gx_cpu_s = 0.0  # ... and the GX child's
        self.topics = OutputTopics(
            settings.topic("dead-letters"), settings.topic("section-results"), settings.topic("district-status")
        )
        self.metrics: Metrics | None = None  # set by create_app when the worker serves metrics
        self.monitor: Any = None  # ... and Faust's Prometheus sensor (streams/worker_metrics.py)
        self.heartbeat = time.monotonic()  # the event loop's, for /healthz (streams/app.py's timer)

    def _gx_cpu_s(self) -> float:
        """CPU seconds of the GX child so far (0 without one): part of the worker's cost."""
        usage = self.gx_child.usage() if self.gx_child is not None else {}
        return float(usage.get("cpu_s") or 0.0)

    def close(self) -> None:
        """At exit: the GX child process."""
        if self.gx_child is not None:
            self.gx_child.close()

    # ---------------------------------------------------------------- rebalance
    def on_assignment_change(self, what: str, tps: Any) -> None:
        """Partitions moved: in-memory states may belong to another worker now, or be behind
        the changelog. Forget them all; each is rebuilt from the table when next needed."""
        self.states.evict()
        self._next_offset.clear()
        self.batch_no = max(self.batch_no, self.landing.next_batch_number())
        if what == "assigned":
            self.assigned = sorted(
                f"{tp.topic}:{tp.partition}" for tp in tps if tp.topic == self.settings.topic("events")
            )
        log.info(
            "partitions %s: %s; district states will be rebuilt from the facts table",
            what,
            sorted(f"{tp.topic}:{tp.partition}" for tp in tps),
        )
        self.write_counts()

    def _note_offsets(self, events: Sequence[Any]) -> None:
        """Check that the agent gets every partition's records without a hole: within one
        assignment the offsets it gets may go back (a seek re-delivers) but never skip ahead,
        and the first record after an assignment is the committed one. A hole means Faust lost
        records on their way to the agent (docs/reliability.md, "Bugs the suite found"): the
        records after it are judged without the ones before (an event whose school registration
        was skipped is dead-lettered ``unknown_school``), and the commit cannot pass the hole, so
        they come again only after the next rebalance. Logged and counted (``skipped_records``
        in the counts file), so a run that hit one says so; the kill and broker-restart fault tests
        assert none."""
        nxt = self._next_offset
        # Faust's view of the committed offsets, set by its seek (no entry: never committed)
        committed = getattr(getattr(self.app, "_consumer", None), "_committed_offset", None) or {}
        for ev in events:
            m = ev.message
            key = (m.topic, m.partition)
            want = nxt.get(key)
            first = want is None
            if first:
                want = committed.get(m.tp)
            if want is not None and m.offset > want:
                self.skipped_records += m.offset - want
                log.error(
                    "records skipped: %s:%d offsets %d..%d never reached the agent, which got %d next%s",
                    m.topic,
                    m.partition,
                    want,
                    m.offset - 1,
                    m.offset,
                    f" (the first record after the assignment; the committed offset is {want})" if first else "",
                )
            nxt[key] = m.offset + 1

    # ---------------------------------------------------------------- one batch
    async def handle(self, events: Sequence[Any]) -> None:
        """Process one micro-batch of Faust events (not yet acknowledged): :meth:`prepare` then
        :meth:`finish`. The agent runs the two halves of consecutive batches side by side."""
        await self.finish(self.prepare(events))

    def prepare(self, events: Sequence[Any]) -> PreparedBatch:
        """The half of a batch that needs no district state: split it into parts of at most
        ``max_loaded_districts`` districts (:func:`split_by_districts`), run the per-event
        checks, and start the GX suites on every part's valid events -- one call for the batch,
        in the GX child, so they run on the other core while the event loop goes on (the agent
        meanwhile finishes the previous batch and collects the next). Without the child the
        suites run here, in-process."""
        t = time.perf_counter()
        self._note_offsets(events)
        parts = []
        for part_events in split_by_districts(events, self.config.max_loaded_districts):
            groups, keys = group_records(part_events)
            parts.append(PreparedPart(part_events, groups, keys, self._check_groups(groups)))
        batch = PreparedBatch(events, parts)
        pending = batch.checked_parts()
        try:
            if self.gx_child is not None:
                to_validate = self.pipeline.awaiting_validation(pending)
                if to_validate:
                    batch.verdicts = asyncio.ensure_future(
                        self.gx_child.validate_raw_async([rec.raw for rec, _ in to_validate])
                    )
                    if self.metrics is not None:
                        batch.verdicts.add_done_callback(self._gx_timer(time.perf_counter()))
                else:
                    self.pipeline.record_verdicts(pending, None)
            else:
                t_gx = time.perf_counter()
                self.pipeline.validate(pending)
                if self.metrics is not None and self.config.gx:
                    self.metrics.gx_seconds.observe(time.perf_counter() - t_gx)
        except Exception:
            log.exception("validating a batch of %d events failed; processing its partitions one by one", len(events))
            batch.fall_back()
        self.timing["core_s"] += time.perf_counter() - t
        return batch

    def _gx_timer(self, started: float) -> Any:
        """A done-callback observing the GX child's time on a batch (submitted at `started`)."""

        def observe(future: Any) -> None:
            if self.metrics is not None and not future.cancelled() and future.exception() is None:
                self.metrics.gx_seconds.observe(time.perf_counter() - started)

        return observe

    def _check_groups(self, groups: Mapping[int, list[Record]]) -> dict[int, Checked] | None:
        """Every partition's records through the per-event checks; validation follows once for
        the whole batch (Great Expectations costs ~0.1 s of CPU per call whatever its size: one
        call per partition multiplied that by the partition count, see docs/benchmarks.md).
        None if that raised (a bug): the partitions are then processed one by one, with their
        fallback."""
        try:
            return {partition: self.pipeline.check(records) for partition, records in groups.items()}
        except Exception:
            log.exception("checking a batch of %d partitions failed; processing them one by one", len(groups))
            return None

    async def finish(self, batch: PreparedBatch) -> None:
        """The half that applies: wait for the batch's GX verdicts, then each part in turn is
        applied, landed, sent and written to the table before the next -- every district a part
        touches stays loaded until its facts are in the table, so a batch spread over thousands
        of districts (a national stream's corrections and calendar events) would otherwise load
        them all at once (measured at national scale: 0.8 → 1.9 GB). The agent acknowledges the
        batch after this returns, so a crash re-delivers what each part left as it does for a
        batch. A GX child that cannot be restarted propagates (the worker stops uncommitted)."""
        if batch.verdicts is not None:
            t = time.perf_counter()
            try:
                reasons = await batch.verdicts
            except ValidatorUnavailable:
                raise
            except Exception:
                log.exception(
                    "validating a batch of %d events failed; processing its partitions one by one", len(batch.events)
                )
                batch.fall_back()
            else:
                self.pipeline.record_verdicts(batch.checked_parts(), reasons)
            self.timing["gx_wait_s"] += time.perf_counter() - t
        t = time.perf_counter()
        for part in batch.parts:
            await self._finish_part(part)
        if self.metrics is not None:
            self.metrics.batch_seconds.observe(time.perf_counter() - t)

    async def _finish_part(self, part: PreparedPart) -> None:
        t0 = time.perf_counter()
        timing = self.timing
        t = time.perf_counter()
        per_partition: list[tuple[int, BatchResult]] = []
        for partition, records in part.groups.items():
            checked = part.checked.get(partition) if part.checked is not None else None
            per_partition.append((partition, self.pipeline.process(records, checked)))
        merged = merge_results(r for _, r in per_partition)
        timing["core_s"] += time.perf_counter() - t
        # 1. landing (atomic files); 2. output topics, delivered; 3. facts table, delivered.
        #    A crash between steps re-delivers the batch: outputs may repeat, never go missing.
        t = time.perf_counter()
        self.pipeline.land(merged, self.batch_no)
        self.batch_no += 1
        timing["land_s"] += time.perf_counter() - t
        t = time.perf_counter()
        await delivered(await send_bulk(self.app.producer, output_messages(merged, part.keys, self.topics)))
        timing["send_s"] += time.perf_counter() - t
        t = time.perf_counter()
        changelog: list[OutMessage] = []
        for partition, result in per_partition:
            changelog += self.states.write_facts(partition, result)
        await delivered(await send_bulk(self.app.producer, changelog))
        self.states.trim()  # every applied fact is in the table now: cold states can go
        timing["table_s"] += time.perf_counter() - t
        self.process_s += time.perf_counter() - t0
        self.counts.add(merged)
        if self.config.log_dead_letters:
            for d in merged.dead_letters:
                log.info(
                    "dead letter %s:%s (landing batch %d) event %s: %s",
                    d.origin.get("partition"),
                    d.origin.get("offset"),
                    self.batch_no - 1,
                    event_id_of(d.raw),
                    d.reason,
                )
        for ev in part.events:
            self.last_offsets[f"{ev.message.topic}:{ev.message.partition}"] = ev.message.offset
        self.last_batch_done_at, self.last_batch_cpu_s = time.time(), time.process_time()
        self.last_batch_gx_cpu_s = self._gx_cpu_s()
        if self.first_batch_done_at is None:
            self.first_batch_done_at, self.first_batch_read = self.last_batch_done_at, self.counts.read
            self.first_batch_cpu_s, self.first_batch_gx_cpu_s = self.last_batch_cpu_s, self.last_batch_gx_cpu_s
        self.write_counts()

    # ---------------------------------------------------------------- counts
    def snapshot(self) -> dict[str, Any]:
        return {
            "worker_id": self.config.worker_id,
            "pid": os.getpid(),
            "status": self.status,
            "engine": engine_kind(),
            "catalogue": self.engine.catalogue.name,
            "started_at": self.started_at,
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **self.counts.as_dict(),
            "skipped_records": self.skipped_records,
            "next_landing_batch": self.batch_no,
            "assigned": self.assigned,
            "last_offsets": dict(sorted(self.last_offsets.items())),
            "districts_loaded": len(self.states),
            "state_rebuilds": self.states.rebuilds,
            "state_evictions": self.states.evictions,
            "state_rebuild_s": round(self.states.rebuild_s, 3),
            "process_s": round(self.process_s, 3),
            "timing_s": {k: round(v, 3) for k, v in sorted(self.timing.items())},
            "first_batch_done_at": self.first_batch_done_at,
            "first_batch_read": self.first_batch_read,
            "last_batch_done_at": self.last_batch_done_at,
            "first_batch_cpu_s": round(self.first_batch_cpu_s, 3),
            "last_batch_cpu_s": round(self.last_batch_cpu_s, 3),
            "first_batch_gx_cpu_s": round(self.first_batch_gx_cpu_s, 3),
            "last_batch_gx_cpu_s": round(self.last_batch_gx_cpu_s, 3),
            "gx": "off" if not self.config.gx else "child" if self.gx_child is not None else "in-process",
            "gx_child": self.gx_child.usage() if self.gx_child is not None else None,
            "fast_delivery": self.config.fast_delivery,
            "topic": self.settings.topic("events"),
            "landing": str(self.landing.root),
        }

    def write_counts(self) -> None:
        path = self.config.resolved_counts_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.snapshot(), ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)

    def log_counts(self) -> None:
        c = self.counts
        log.info(
            "counts: read %d = applied %d + duplicate %d + stale %d + dead_lettered %d (%d batches, %s)",
            c.read,
            c.applied,
            c.duplicate,
            c.stale,
            c.dead_lettered,
            c.batches,
            "balanced" if c.balanced() else "NOT BALANCED",
        )
