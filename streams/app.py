"""The Kafka driver: a Faust app whose one agent feeds the events topic to the processing core.

    events topic ──► agent (micro-batches: noack_take(batch_size, within=batch_seconds))
                        │ split by source partition → Processor.process(records)   (streams/processing.py)
                        ├─► landing Parquet (LandingWriter, same rows as the embedded driver)
                        ├─► dead-letters topic       value = original bytes, reason/origin in headers
                        ├─► section-results topic    JSON row, key district_code
                        ├─► district-status topic    JSON row, key district_code
                        └─► "facts" table (changelog-backed): one entry per applied fact
                     then ack → Faust commits the offsets

District state. ``DistrictState`` objects are not put in the table (a district's state is
megabytes and changes with every event). The table holds the district's *facts*: key
``"<district>|<event_type>|<entity>|<year>|<sub>"`` (the district plus the rules' fact key),
value ``{"seq", "event_id", "seen", "event"}`` -- the applied event and its version record. The
worker's in-memory ``DistrictState`` of a district is rebuilt from those facts (replayed through
``apply_batch``, then the version records restored) the first time the district is needed after
start-up or a rebalance (:class:`TableStates`). Faust recovers the table from its compacted
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
message sent with the producer to the district's *source partition* -- instead of through
``table[key] = value``: Faust picks the changelog partition of a table write from the stream's
current event, which inside a batch is merely the batch's last event (faust-streaming#497), and
its per-message producer buffer made the flush the slowest step of a batch. The changelog stays
co-partitioned with the events topic, so recovery gives each worker exactly the facts of the
districts it owns. (Store: ``memory://``; RocksDB would need the same partition care.)
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import json
import logging
import os
import socket
import ssl
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Iterator, Mapping, MutableMapping, Sequence

import faust
from faust.serializers import codecs

from ingestion.reference import load_districts
from junheng.settings import KafkaSettings, catalogue_name
from rules import load_catalogue
from rules.facts import fact_key_str
from rules.state import APPLIED, DistrictState, Engine
from streams.landing import LandingWriter
from streams.processing import DEAD_LETTERED, OUTCOMES, BatchResult, DeadLetter, Processor, Record
from streams.sink import dead_letter_headers, json_bytes, land_result, merge_results

log = logging.getLogger("streams.app")

FACTS_TABLE = "facts"
COUNT_KEYS = ("read",) + OUTCOMES   # read, applied, duplicate, stale, dead_lettered
_FIRST = {"school.registered": 0, "district.registered": 1}


# --------------------------------------------------------------------------- configuration
@dataclass
class WorkerConfig:
    """Everything the worker needs besides the Kafka settings."""

    warehouse: Path
    partitions: int = 4                    # of the events topic; the table changelog gets as many
    batch_size: int = 5000                 # a GX call costs tens of ms whatever its size: big batches,
    batch_seconds: float = 1.0             # cut by time when the stream is slow
    gx: bool = True                        # run the Great Expectations suites on every micro-batch
    worker_id: str = field(default_factory=lambda: default_worker_id())
    app_id: str | None = None              # default: "<topic prefix>-worker"
    replication_factor: int = 1
    log_every_s: float = 10.0
    counts_file: Path | None = None        # default: <warehouse>/worker-counts.json
    catalogue: str | None = None           # default: JUNHENG_CATALOGUE / qingdao-2021
    standby_replicas: int = 1
    session_timeout_s: float = 60.0        # a worker that died unannounced is replaced after this

    def resolved_counts_file(self) -> Path:
        return self.counts_file or self.warehouse / "worker-counts.json"


def default_worker_id() -> str:
    host = "".join(c if c.isalnum() else "_" for c in socket.gethostname().split(".")[0])[:24] or "host"
    return f"{host}_{os.getpid()}"


def default_app_id(settings: KafkaSettings) -> str:
    return f"{settings.topic_prefix}-worker"


def broker_urls(settings: KafkaSettings) -> list[str]:
    return [f"kafka://{s.strip()}" for s in settings.bootstrap_servers.split(",") if s.strip()]


def broker_credentials(settings: KafkaSettings) -> Any:
    """Faust credentials from the JUNHENG_KAFKA_* settings (None for PLAINTEXT)."""
    protocol = settings.security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.ssl_cafile) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        if not settings.sasl_mechanism or not settings.sasl_username or settings.sasl_password is None:
            raise ValueError(f"{protocol} needs JUNHENG_KAFKA_SASL_MECHANISM, JUNHENG_KAFKA_SASL_USERNAME and "
                             "JUNHENG_KAFKA_SASL_PASSWORD in the environment")
        return faust.SASLCredentials(username=settings.sasl_username, password=settings.sasl_password,
                                     ssl_context=context, mechanism=settings.sasl_mechanism)
    raise ValueError(f"unsupported JUNHENG_KAFKA_SECURITY_PROTOCOL {settings.security_protocol!r}")


# --------------------------------------------------------------------------- the table
def table_key(district: str, fact_key: str) -> str:
    return f"{district}|{fact_key}"


class TableStates(MutableMapping[str, DistrictState]):
    """The Processor's district states, rebuilt on demand from the facts table.

    ``get(code)`` returns the loaded state, else replays the district's facts from the table
    into a new state (None when the table has none, so the Processor starts a fresh one).
    ``touched`` collects the districts read or written since it was last cleared.
    """

    def __init__(self, engine: Engine, table: Mapping[str, Any]) -> None:
        self.engine = engine
        self.table = table
        self._states: dict[str, DistrictState] = {}
        self.touched: set[str] = set()
        #: table key -> length of the "seen" list last written/read for it
        self.persisted_seen: dict[str, int] = {}
        self.rebuilds = 0
        self.rebuild_s = 0.0

    # MutableMapping
    def get(self, code: str, default: Any = None) -> Any:  # type: ignore[override]
        self.touched.add(code)
        state = self._states.get(code)
        if state is None:
            state = self._load(code)
            if state is not None:
                self._states[code] = state
        return default if state is None else state

    def __getitem__(self, code: str) -> DistrictState:
        state = self.get(code)
        if state is None:
            raise KeyError(code)
        return state  # type: ignore[no-any-return]

    def __setitem__(self, code: str, state: DistrictState) -> None:
        self.touched.add(code)
        self._states[code] = state

    def __delitem__(self, code: str) -> None:
        del self._states[code]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._states))

    def __len__(self) -> int:
        return len(self._states)

    def loaded(self, code: str) -> DistrictState | None:
        return self._states.get(code)

    def evict(self, codes: Sequence[str] | set[str] | None = None) -> None:
        """Forget in-memory states (all when `codes` is None); the next get() rebuilds them."""
        if codes is None:
            self._states.clear()
        else:
            for code in codes:
                self._states.pop(code, None)

    def _load(self, code: str) -> DistrictState | None:
        start = time.perf_counter()
        prefix = code + "|"
        facts = [(k, v) for k, v in self.table.items() if isinstance(k, str) and k.startswith(prefix)]
        if not facts:
            return None
        events = [v["event"] for _, v in facts]
        events.sort(key=lambda e: (_FIRST.get(e["event_type"], 2), int(e["year"])))
        state = self.engine.new_state(code)
        outcomes, _ = state.apply_batch(events)
        bad = [(e["event_id"], o.outcome, o.reason) for e, o in zip(events, outcomes) if o.outcome != APPLIED]
        if bad:
            log.error("district %s: %d of %d stored facts did not re-apply: %s", code, len(bad), len(events), bad[:5])
        for key, v in facts:
            fk = key[len(prefix):]
            state.versions[fk] = (int(v["seq"]), str(v["event_id"]), tuple(v.get("seen") or ()))
            self.persisted_seen[key] = len(v.get("seen") or [])
        self.rebuilds += 1
        elapsed = time.perf_counter() - start
        self.rebuild_s += elapsed
        log.info("district %s: state rebuilt from %d facts in %.2f s", code, len(facts), elapsed)
        return state


async def _delivered(futures: Sequence[Awaitable[Any]]) -> None:
    """Wait until the broker acknowledged every message; raise if one failed."""
    if futures:
        await asyncio.gather(*futures)


def _gx_validator() -> Any:
    """The second validation layer, built once per worker (importing GX takes seconds)."""
    from expectations import BatchValidator

    return BatchValidator().validate


# --------------------------------------------------------------------------- the runtime
class StreamRuntime:
    """The worker's per-process state and the batch handler the agent calls."""

    def __init__(self, app: faust.App, settings: KafkaSettings, config: WorkerConfig, table: Any,
                 engine: Engine | None = None) -> None:
        self.app = app
        self.settings = settings
        self.config = config
        self.table = table
        self.engine = engine or Engine(load_catalogue(config.catalogue or catalogue_name()))
        self.states = TableStates(self.engine, table)
        self.processor = Processor(self.engine, load_districts(), _gx_validator() if config.gx else None,
                                   self.states)
        self.landing = LandingWriter(config.warehouse / "landing", writer_id=config.worker_id)
        self.batch_no = self.landing.next_batch_number()
        self.counts: Counter[str] = Counter({k: 0 for k in COUNT_KEYS})
        self.reasons: Counter[str] = Counter()
        self.batches = 0
        self.internal_errors = 0
        self.assigned: list[str] = []
        self.last_offsets: dict[str, int] = {}
        self.district_partition: dict[str, int] = {}
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.status = "starting"
        self.process_s = 0.0
        self.timing: defaultdict[str, float] = defaultdict(float)
        self.dead_letter_topic = settings.topic("dead-letters")
        self.section_topic = settings.topic("section-results")
        self.status_topic = settings.topic("district-status")
        # stream alerts (a district losing attainment) go out off the hot path: fire-and-forget on
        # one thread; if it fails, the next `junheng alerts` rebuilds the same state from the landing
        from streams.alerting.run import StreamAlerter, env_alertmanager_url, env_webhook_url

        self.alerter = StreamAlerter(config.warehouse, alertmanager_url=env_alertmanager_url(),
                                     webhook_url=env_webhook_url(), kafka=True)
        self._alert_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts")

    def close_alerts(self) -> None:
        """Let a queued stream alert finish, then close its delivery channels."""
        self._alert_pool.shutdown(wait=True)
        self.alerter.close()

    # ---------------------------------------------------------------- rebalance
    def on_assignment_change(self, what: str, tps: Any) -> None:
        """Partitions moved: in-memory states may belong to another worker now, or be behind
        the changelog. Forget them all; each is rebuilt from the table when next needed."""
        self.states.evict()
        self.district_partition.clear()
        self.batch_no = max(self.batch_no, self.landing.next_batch_number())
        if what == "assigned":
            self.assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in tps
                                   if tp.topic == self.settings.topic("events"))
        log.info("partitions %s: %s; district states will be rebuilt from the facts table", what,
                 sorted(f"{tp.topic}:{tp.partition}" for tp in tps))
        self.write_counts()

    # ---------------------------------------------------------------- one batch
    async def handle(self, events: Sequence[Any]) -> None:
        """Process one micro-batch of Faust events (not yet acknowledged)."""
        t0 = time.perf_counter()
        groups: dict[int, list[Record]] = {}
        keys: dict[tuple[int, int], bytes] = {}
        for ev in events:
            msg = ev.message
            raw = msg.value if isinstance(msg.value, (bytes, bytearray)) else (b"" if msg.value is None else bytes(msg.value))
            groups.setdefault(msg.partition, []).append(
                Record(bytes(raw), {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset}))
            keys[(msg.partition, msg.offset)] = msg.key if isinstance(msg.key, bytes) else b"unknown"
        timing = self.timing
        t = time.perf_counter()
        per_partition: list[tuple[int, BatchResult, set[str]]] = []
        for partition, records in groups.items():
            result, touched = self._process_group(records)
            per_partition.append((partition, result, touched))
        merged = merge_results(r for _, r, _ in per_partition)
        timing["core_s"] += time.perf_counter() - t
        # 1. landing (atomic files); 2. output topics, delivered; 3. facts table, delivered.
        #    A crash between steps re-delivers the batch: outputs may repeat, never go missing.
        t = time.perf_counter()
        land_result(self.landing, merged, self.batch_no)
        self.batch_no += 1
        if merged.statuses:
            asyncio.get_running_loop().run_in_executor(self._alert_pool, self.alerter.on_statuses,
                                                        list(merged.statuses))
        timing["land_s"] += time.perf_counter() - t
        t = time.perf_counter()
        await _delivered(await self._send_outputs(merged, keys))
        timing["send_s"] += time.perf_counter() - t
        t = time.perf_counter()
        futures: list[Awaitable[Any]] = []
        for partition, result, touched in per_partition:
            futures += await self._write_facts(partition, result, touched)
        await _delivered(futures)
        timing["table_s"] += time.perf_counter() - t
        self.process_s += time.perf_counter() - t0
        self.batches += 1
        self.counts.update({k: merged.counts.get(k, 0) for k in COUNT_KEYS})
        self.reasons.update(d.reason.split(":", 1)[0] for d in merged.dead_letters)
        for ev in events:
            self.last_offsets[f"{ev.message.topic}:{ev.message.partition}"] = ev.message.offset
        self.write_counts()

    def _process_group(self, records: list[Record]) -> tuple[BatchResult, set[str]]:
        """Process one partition's records; an unexpected error (a bug, never bad input: bad
        input is dead-lettered by the Processor) falls back to one record at a time, and a
        record that still fails is dead-lettered as internal_error. Either way the worker
        goes on, and every record gets exactly one outcome."""
        self.states.touched = set()
        try:
            return self.processor.process(records), set(self.states.touched)
        except Exception:
            log.exception("processing a batch of %d records failed; retrying one record at a time", len(records))
        touched_all = set(self.states.touched)
        self.states.evict(touched_all)
        results: list[BatchResult] = []
        applied_by_district: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rec in records:
            self.states.touched = set()
            try:
                r = self.processor.process([rec])
            except Exception as exc:
                self.internal_errors += 1
                log.exception("record %s failed in the processing core; dead-lettered", dict(rec.origin))
                bad = set(self.states.touched)
                touched_all |= bad
                self.states.evict(bad)
                for code in bad:  # re-apply what this fallback already applied to the rebuilt state
                    if applied_by_district.get(code):
                        self.processor.state(code).apply_batch(applied_by_district[code])
                r = BatchResult()
                r.counts["read"] += 1
                r.counts[DEAD_LETTERED] += 1
                r.dead_letters.append(DeadLetter(rec.raw, f"internal_error: {type(exc).__name__}: {exc}"[:300],
                                                 rec.origin))
            else:
                touched_all |= self.states.touched
                for e in r.applied:
                    applied_by_district[e["district_code"]].append(e)
            results.append(r)
        return merge_results(results), touched_all

    async def _send_outputs(self, result: BatchResult,
                            keys: Mapping[tuple[int, int], bytes]) -> list[Awaitable[Any]]:
        """Hand every output message to the producer; the caller awaits their delivery."""
        send = self.app.producer.send
        futures = []
        for dl in result.dead_letters:
            key = keys.get((dl.origin.get("partition"), dl.origin.get("offset")), b"unknown")  # type: ignore[arg-type]
            futures.append(await send(self.dead_letter_topic, key, dl.raw, None, None, dead_letter_headers(dl)))
        for row in result.sections:
            futures.append(await send(self.section_topic, row["district_code"].encode(), json_bytes(row),
                                      None, None, None))
        for row in result.statuses:
            futures.append(await send(self.status_topic, row["district_code"].encode(), json_bytes(row),
                                      None, None, None))
        return futures

    async def _write_facts(self, partition: int, result: BatchResult, touched: set[str]) -> list[Awaitable[Any]]:
        """One table entry per fact whose version record changed in this batch: every applied
        fact, and (when stale events came) every fact whose list of seen event ids grew."""
        latest: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for event in result.applied:
            code = event["district_code"]
            fk = fact_key_str(event)
            latest[table_key(code, fk)] = (code, fk, event)
            owner = self.district_partition.setdefault(code, partition)
            if owner != partition:
                log.error("district %s arrives on partitions %d and %d: the producer must key events by "
                          "district_code", code, owner, partition)
        if result.counts.get("stale"):
            for code in touched:
                state = self.states.loaded(code)
                if state is None:
                    continue
                for fk, version in state.versions.items():
                    tk = table_key(code, fk)
                    if tk not in latest and len(version[2]) != self.states.persisted_seen.get(tk, 0):
                        stored = self.table.get(tk)
                        if stored is not None:
                            latest[tk] = (code, fk, stored["event"])
        futures = []
        for tk, (code, fk, event) in latest.items():
            state = self.states.loaded(code)
            version = state.versions[fk] if state is not None and fk in state.versions else \
                [event["seq"], event["event_id"], []]
            value = {"seq": int(version[0]), "event_id": str(version[1]), "seen": list(version[2]), "event": event}
            futures.append(await self._write_fact(partition, tk, value))
            self.states.persisted_seen[tk] = len(version[2])
        return futures

    async def _write_fact(self, partition: int, key: str, value: dict[str, Any]) -> Awaitable[Any]:
        """``table[key] = value`` with the changelog message sent to `partition`: the local
        store is updated now, the returned future resolves when the changelog has it."""
        self.table.data[key] = value
        return await self.app.producer.send(  # type: ignore[no-any-return]
            self.table.changelog_topic_name, codecs.dumps("json", key), codecs.dumps("json", value),
            partition, None, None)

    # ---------------------------------------------------------------- counts
    def snapshot(self) -> dict[str, Any]:
        c = self.counts
        return {
            "worker_id": self.config.worker_id, "pid": os.getpid(), "status": self.status,
            "started_at": self.started_at, "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **{k: c[k] for k in COUNT_KEYS},
            "balanced": c["read"] == sum(c[k] for k in OUTCOMES),
            "dead_letter_reasons": dict(sorted(self.reasons.items())),
            "internal_errors": self.internal_errors, "batches": self.batches,
            "next_landing_batch": self.batch_no, "assigned": self.assigned,
            "last_offsets": dict(sorted(self.last_offsets.items())),
            "districts_loaded": len(self.states), "state_rebuilds": self.states.rebuilds,
            "state_rebuild_s": round(self.states.rebuild_s, 3), "process_s": round(self.process_s, 3),
            "timing_s": {k: round(v, 3) for k, v in sorted(self.timing.items())},
            "topic": self.settings.topic("events"), "landing": str(self.landing.root),
        }

    def write_counts(self) -> None:
        path = self.config.resolved_counts_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.snapshot(), ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)

    def log_counts(self) -> None:
        c = self.counts
        log.info("counts: read %d = applied %d + duplicate %d + stale %d + dead_lettered %d (%d batches, %s)",
                 c["read"], c["applied"], c["duplicate"], c["stale"], c["dead_lettered"], self.batches,
                 "balanced" if c["read"] == sum(c[k] for k in OUTCOMES) else "NOT BALANCED")


# --------------------------------------------------------------------------- the app
def _quiet_clients() -> None:
    """kafka-python logs every connection at INFO; keep the worker's log about the worker."""
    for name in ("kafka", "aiokafka"):
        logging.getLogger(name).setLevel(logging.WARNING)


def create_app(settings: KafkaSettings, config: WorkerConfig,
               engine: Engine | None = None) -> tuple[faust.App, StreamRuntime]:
    """A configured Faust app with the events agent, the facts table and the runtime behind them."""
    _quiet_clients()
    app_id = config.app_id or default_app_id(settings)
    datadir = (config.warehouse / "worker-data").resolve()
    app = faust.App(
        app_id,
        broker=broker_urls(settings),
        broker_credentials=broker_credentials(settings),
        processing_guarantee="at_least_once",
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        web_bind="127.0.0.1",
        autodiscover=False,
        topic_partitions=config.partitions,
        topic_replication_factor=config.replication_factor,
        table_standby_replicas=config.standby_replicas,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        stream_wait_empty=True,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 4),
        worker_redirect_stdouts=False,
    )
    table = app.Table(FACTS_TABLE, default=None, partitions=config.partitions,
                      schema=faust.Schema(key_type=str, key_serializer="json", value_serializer="json"),
                      help="applied facts per district: <district>|<fact key> -> {seq, event_id, seen, event}")
    runtime = StreamRuntime(app, settings, config, table, engine)  # type: ignore[arg-type]
    events_topic = app.topic(settings.topic("events"), key_type=bytes, value_type=bytes,
                             key_serializer="raw", value_serializer="raw")

    @app.agent(events_topic, name="apply-events")
    async def apply_events(stream: Any) -> None:
        runtime.status = "running"
        async for events in stream.noack_take(config.batch_size, within=config.batch_seconds):
            try:
                await runtime.handle(events)
            except asyncio.CancelledError:
                raise  # shutdown or rebalance mid-batch: not acked, so re-delivered
            except Exception as exc:  # Kafka or disk failed: leave unacked and stop the process
                log.critical("batch failed outside the processing core (%s: %s); stopping without "
                             "committing it, it will be re-delivered", type(exc).__name__, exc, exc_info=True)
                runtime.status = "crashed"
                runtime.write_counts()
                logging.shutdown()
                os._exit(70)
            for ev in events:
                await stream.ack(ev)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode-streaming's receiver type
    def on_revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        runtime.on_assignment_change("revoked", args[0] if args else kwargs.get("revoked", ()))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    def on_assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        runtime.on_assignment_change("assigned", args[0] if args else kwargs.get("assigned", ()))

    @app.timer(config.log_every_s)
    async def report() -> None:
        runtime.log_counts()
        runtime.write_counts()

    app.junheng_runtime = runtime  # type: ignore[attr-defined]
    return app, runtime
