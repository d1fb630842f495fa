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
message sent (in bulk, streams/bulk.py) to the district's *source partition* -- instead of through
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
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Iterator, Mapping, MutableMapping, Sequence

import faust
import orjson
from faust import stores as faust_stores
from faust.serializers import codecs
from faust.stores.memory import Store as MemoryStore

from ingestion.reference import load_districts
from junheng.layout import WarehouseLayout
from junheng.settings import KafkaSettings, catalogue_name
from junheng.compiled_engine import engine_kind
from rules import load_catalogue
from rules.facts import fact_key_str
from rules.state import APPLIED, DistrictState, Engine
from expectations.process_validator import ProcessValidator, ValidatorUnavailable
from streams.bulk import OutMessage, send_bulk
from streams.fast_delivery import deliver_without_tasks
from streams.landing import LandingWriter
from streams.processing import DEAD_LETTERED, OUTCOMES, BatchResult, Checked, DeadLetter, Processor, Record
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
    batch_seconds: float = 0.2             # cut by time when the stream is slow: the window is added
                                           # to latency (0.2 s: p99 0.57 s at 500 ev/s, docs/benchmarks.md)
    gx: bool = True                        # run the Great Expectations suites on every micro-batch
    gx_child: bool = True                  # ... in a child process, beside the event loop
    fast_delivery: bool = True             # Faust's hand-over without tasks when nothing waits (fast_delivery.py)
    worker_id: str = field(default_factory=lambda: default_worker_id())
    app_id: str | None = None              # default: "<topic prefix>-worker"
    replication_factor: int = 1
    log_every_s: float = 10.0
    counts_file: Path | None = None        # default: <warehouse>/worker-counts.json
    catalogue: str | None = None           # default: JUNHENG_CATALOGUE / qingdao-2021
    standby_replicas: int = 1
    session_timeout_s: float = 60.0        # a worker that died unannounced is replaced after this
    max_loaded_districts: int = 128        # district states kept in memory between batches (LRU)
    log_dead_letters: bool = False         # one INFO line per dead letter (origin, event id, reason)

    def resolved_counts_file(self) -> Path:
        return self.counts_file or WarehouseLayout(self.warehouse).worker_counts


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


# --------------------------------------------------------------------------- compact facts
# The memory:// store keeps every fact of every owned district. As decoded dicts a fact costs
# ~2.9 KB, as the changelog's JSON bytes ~0.7 KB, deflated with a preset dictionary ~0.35 KB
# (national scale, one year: 1.05 million facts; docs/benchmarks.md "Scale"). So the table keeps
# facts deflated: only in memory -- the changelog stays plain JSON, the format of
# docs/streaming.md -- and the codec below deflates what recovery reads from the changelog too.
_DEFLATED = b"\x00"      # first byte of a deflated value; JSON never starts with NUL
_ZDICT: bytes | None = None
_DEFLATE_PRIMED: Any = None   # a compressobj with the preset dictionary set, copied per fact


def _zdict() -> bytes:
    """The preset dictionary: one stored value per event type, built from the contract's
    examples, so the field names and fixed strings every fact repeats cost almost nothing. It
    only has to be the same within one process (deflated values never leave it)."""
    global _ZDICT
    if _ZDICT is None:
        from ingestion.contract.examples import EXAMPLES

        _ZDICT = b"".join(codecs.dumps("json", {"seq": 0, "event_id": e["event_id"], "seen": [], "event": e})
                          for e in EXAMPLES.values())[-8192:]
    return _ZDICT


def deflate_fact(raw: bytes) -> bytes:
    """A fact's JSON bytes as the table keeps them in memory."""
    global _DEFLATE_PRIMED
    if raw[:1] == _DEFLATED:
        return raw
    # Copying a compressor that already has the dictionary is about half the cost of a new
    # one (which hashes the whole dictionary every time); the output is byte for byte the same.
    if _DEFLATE_PRIMED is None:
        # an 8 KiB window (the dictionary's limit, _zdict) and memLevel 4 (facts are < 1 KiB):
        # the same sizes as 32 KiB / 8 and a quarter less time per fact, the copy being smaller;
        # inflate_fact's 32 KiB window reads either
        _DEFLATE_PRIMED = zlib.compressobj(6, zlib.DEFLATED, -13, 4, zlib.Z_DEFAULT_STRATEGY, _zdict())
    c = _DEFLATE_PRIMED.copy()
    return _DEFLATED + c.compress(raw) + c.flush()


def changelog_json(obj: Any) -> bytes:
    """A JSON-native value (the table's keys and values) as the changelog's compact JSON, which
    Faust's ``json`` codec reads back. orjson writes it (UTF-8, ~4x faster than ``json``: the
    encoding of every applied fact was a tenth of the worker's CPU); what orjson refuses (an
    integer beyond 64 bits, nesting deeper than 254) goes through ``json`` as before. NaN and
    Infinity, which orjson would turn into null, never get here: the contract check rejects them."""
    try:
        return orjson.dumps(obj)
    except TypeError:   # orjson.JSONEncodeError
        return json.dumps(obj, separators=(",", ":")).encode()


def inflate_fact(value: bytes) -> bytes:
    """The JSON bytes of a table value (deflated or not)."""
    if value[:1] != _DEFLATED:
        return value
    d = zlib.decompressobj(-15, _zdict())
    return d.decompress(value[1:]) + d.flush()


def decode_fact(value: Any) -> dict[str, Any]:
    """A table value (deflated bytes, JSON bytes or, from older callers, a dict) as a dict."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return json.loads(inflate_fact(bytes(value)))  # type: ignore[no-any-return]
    if isinstance(value, str):
        return json.loads(value)  # type: ignore[no-any-return]
    return value  # type: ignore[no-any-return]


class CompactFactCodec(codecs.Codec):
    """The facts table's value serializer: on the wire (changelog) plain JSON, in the store
    deflated. ``loads`` is what Faust applies to every changelog message it recovers or keeps as
    a standby; ``dumps`` gives back the JSON (the worker sends its own writes, see _write_fact)."""

    def _loads(self, s: bytes) -> Any:
        return deflate_fact(bytes(s))

    def _dumps(self, obj: Any) -> bytes:
        if isinstance(obj, (bytes, bytearray)):
            return inflate_fact(bytes(obj))
        return codecs.dumps("json", obj)  # type: ignore[no-any-return]


FACT_CODEC = "junheng_facts"
codecs.register(FACT_CODEC, CompactFactCodec())


def split_by_districts(events: Sequence[Any], limit: int | None) -> list[Sequence[Any]]:
    """`events` cut, in order, into runs of at most `limit` distinct message keys (the district
    codes the producer keys by); one run when `limit` is None or the batch has no more."""
    if not limit:
        return [events]
    parts: list[Sequence[Any]] = []
    seen: set[Any] = set()
    start = 0
    for i, ev in enumerate(events):
        key = ev.message.key
        if key not in seen:
            if len(seen) >= limit:
                parts.append(events[start:i])
                start, seen = i, set()
            seen.add(key)
    parts.append(events[start:])
    return parts


class TableStates(MutableMapping[str, DistrictState]):
    """The Processor's district states, rebuilt on demand from the facts table.

    ``get(code)`` returns the loaded state, else replays the district's facts from the table
    into a new state (None when the table has none, so the Processor starts a fresh one).
    ``touched`` collects the districts read or written since it was last cleared.

    Memory: a state holds its district's schools' facts and derived values (~8 KB per school and
    year of data), so a worker owning thousands of districts cannot keep them all. ``trim()``,
    called after a batch's facts are in the table, forgets the least recently used states beyond
    ``max_loaded``; a forgotten district is rebuilt from the table when it is next needed (tens of
    milliseconds). School data arrive in bursts per district (a bureau's report), so rebuilds are
    rare. The keys of each district are indexed (built in one pass over the table the first time
    after start-up or a rebalance, then kept current by ``note_key``) so a rebuild never scans
    the whole table.
    """

    def __init__(self, engine: Engine, table: Mapping[str, Any], max_loaded: int | None = None) -> None:
        self.engine = engine
        self.table = table
        self.max_loaded = max_loaded
        self._states: dict[str, DistrictState] = {}   # insertion order = least recently used first
        self.touched: set[str] = set()
        #: table key -> the newest id of the "seen" window last written/read for it (only when
        #: not empty): a fact whose window gained an id since must be written again
        self.persisted_seen: dict[str, str] = {}
        self._index: dict[str, list[str]] | None = None
        self.rebuilds = 0
        self.rebuild_s = 0.0
        self.evictions = 0

    # MutableMapping
    def get(self, code: str, default: Any = None) -> Any:  # type: ignore[override]
        self.touched.add(code)
        state = self._states.pop(code, None)
        if state is not None:
            self._states[code] = state   # most recently used last
        else:
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
        """Forget in-memory states (all when `codes` is None: after a rebalance, when the table
        is being recovered, so the key index is dropped too); the next get() rebuilds them."""
        if codes is None:
            self._states.clear()
            self._index = None
        else:
            for code in codes:
                self._states.pop(code, None)

    def trim(self) -> int:
        """Forget the least recently used states beyond ``max_loaded``, never one touched since
        ``touched`` was last cleared. Call only when every applied fact is in the table."""
        if self.max_loaded is None or len(self._states) <= self.max_loaded:
            return 0
        doomed = [c for c in self._states if c not in self.touched][:len(self._states) - self.max_loaded]
        for code in doomed:
            del self._states[code]
        self.evictions += len(doomed)
        return len(doomed)

    def note_key(self, code: str, key: str) -> None:
        """A key is about to be written to the table: keep the district's key index current."""
        if self._index is not None and key not in self.table:
            self._index.setdefault(code, []).append(key)

    def _keys_of(self, code: str) -> list[str]:
        if self._index is None:
            index: dict[str, list[str]] = {}
            for k in self.table.keys():
                if isinstance(k, str) and "|" in k:
                    index.setdefault(k.split("|", 1)[0], []).append(k)
            self._index = index
        return self._index.get(code, [])

    def _load(self, code: str) -> DistrictState | None:
        start = time.perf_counter()
        prefix = code + "|"
        facts = [(k, decode_fact(v)) for k in self._keys_of(code) if (v := self.table.get(k)) is not None]
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
            state.restore_version(fk, int(v["seq"]), str(v["event_id"]), v.get("seen") or ())
            if v.get("seen"):
                self.persisted_seen[key] = str(v["seen"][-1]).lower()
        self.rebuilds += 1
        elapsed = time.perf_counter() - start
        self.rebuild_s += elapsed
        log.info("district %s: state rebuilt from %d facts in %.2f s", code, len(facts), elapsed)
        return state


def _event_id_of(raw: bytes) -> str:
    """The event id of a dead letter's bytes, for the log ("?" when they are not such JSON)."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "?"
    return str(value.get("event_id", "?")) if isinstance(value, dict) else "?"


async def _delivered(futures: Sequence[Awaitable[Any]]) -> None:
    """Wait until the broker acknowledged every message; raise if one failed."""
    if futures:
        await asyncio.gather(*futures)


def _gx_validators(config: WorkerConfig) -> tuple[ProcessValidator | None, Any]:
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


# --------------------------------------------------------------------------- prepared batches
@dataclass
class PreparedPart:
    """A part of a micro-batch (at most ``max_loaded_districts`` districts) after the per-event
    checks: its Faust events, records per source partition, message keys, and the checked
    records per partition (None: the checks raised, the fallback processes it record by record)."""

    events: Sequence[Any]
    groups: dict[int, list[Record]]
    keys: dict[tuple[int, int], bytes]
    checked: dict[int, Checked] | None


@dataclass
class PreparedBatch:
    """A micro-batch between :meth:`StreamRuntime.prepare` and :meth:`StreamRuntime.finish`:
    its parts and, while the GX child validates it, the future of its verdicts."""

    events: Sequence[Any]
    parts: list[PreparedPart]
    verdicts: "asyncio.Future[list[str | None]] | None" = None

    def checked_parts(self) -> list[Checked]:
        """Every part's checked partitions, in order (the order of the verdicts)."""
        return [c for part in self.parts if part.checked is not None for c in part.checked.values()]

    def fall_back(self) -> None:
        """Validation raised (a bug): process every part record by record (its own fallback)."""
        for part in self.parts:
            part.checked = None


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
        self.states = TableStates(self.engine, table, config.max_loaded_districts)
        self.gx_child, validate = _gx_validators(config)
        log.info("GX micro-batch suites: %s", "off (--no-gx)" if validate is None else
                 f"in child process {self.gx_child.pid}" if self.gx_child is not None else "in this process")
        self.school_owners = TableSchoolOwners(table)
        self.processor = Processor(self.engine, load_districts(), validate, self.states,
                                   school_owners=self.school_owners)
        self.landing = LandingWriter(WarehouseLayout(config.warehouse).landing, writer_id=config.worker_id)
        self.batch_no = self.landing.next_batch_number()
        self.counts: Counter[str] = Counter({k: 0 for k in COUNT_KEYS})
        self.reasons: Counter[str] = Counter()
        self.batches = 0
        self.internal_errors = 0
        self.assigned: list[str] = []
        self.last_offsets: dict[str, int] = {}
        self.district_partition: dict[str, int] = {}
        self._next_offset: dict[tuple[str, int], int] = {}   # (topic, partition) -> next offset expected
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
        self.first_batch_cpu_s = self.last_batch_cpu_s = 0.0   # process CPU time (all threads) then
        self.first_batch_gx_cpu_s = self.last_batch_gx_cpu_s = 0.0   # ... and the GX child's
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

    def _gx_cpu_s(self) -> float:
        """CPU seconds of the GX child so far (0 without one): part of the worker's cost."""
        usage = self.gx_child.usage() if self.gx_child is not None else {}
        return float(usage.get("cpu_s") or 0.0)

    def close(self) -> None:
        """At exit: the alert channels and the GX child process."""
        self.close_alerts()
        if self.gx_child is not None:
            self.gx_child.close()

    # ---------------------------------------------------------------- rebalance
    def on_assignment_change(self, what: str, tps: Any) -> None:
        """Partitions moved: in-memory states may belong to another worker now, or be behind
        the changelog. Forget them all; each is rebuilt from the table when next needed."""
        self.states.evict()
        self._next_offset.clear()
        self.district_partition.clear()
        self.batch_no = max(self.batch_no, self.landing.next_batch_number())
        if what == "assigned":
            self.assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in tps
                                   if tp.topic == self.settings.topic("events"))
        log.info("partitions %s: %s; district states will be rebuilt from the facts table", what,
                 sorted(f"{tp.topic}:{tp.partition}" for tp in tps))
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
                log.error("records skipped: %s:%d offsets %d..%d never reached the agent, which got %d next%s",
                          m.topic, m.partition, want, m.offset - 1, m.offset,
                          " (the first record after the assignment; the committed offset is %d)" % want
                          if first else "")
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
            groups, keys = self._group(part_events)
            parts.append(PreparedPart(part_events, groups, keys, self._check_groups(groups)))
        batch = PreparedBatch(events, parts)
        pending = batch.checked_parts()
        try:
            if self.gx_child is not None:
                to_validate = self.processor.awaiting_validation(pending)
                if to_validate:
                    batch.verdicts = asyncio.ensure_future(
                        self.gx_child.validate_raw_async([rec.raw for rec, _ in to_validate]))
                else:
                    self.processor.record_verdicts(pending, None)
            else:
                self.processor.validate(pending)
        except Exception:
            log.exception("validating a batch of %d events failed; processing its partitions one by one",
                          len(events))
            batch.fall_back()
        self.timing["core_s"] += time.perf_counter() - t
        return batch

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
                log.exception("validating a batch of %d events failed; processing its partitions one by one",
                              len(batch.events))
                batch.fall_back()
            else:
                self.processor.record_verdicts(batch.checked_parts(), reasons)
            self.timing["gx_wait_s"] += time.perf_counter() - t
        for part in batch.parts:
            await self._finish_part(part)

    @staticmethod
    def _group(events: Sequence[Any]) -> tuple[dict[int, list[Record]], dict[tuple[int, int], bytes]]:
        """Records per source partition, and each message's key (dead letters keep it)."""
        groups: dict[int, list[Record]] = {}
        keys: dict[tuple[int, int], bytes] = {}
        for ev in events:
            msg = ev.message
            raw = msg.value if isinstance(msg.value, (bytes, bytearray)) else (b"" if msg.value is None else bytes(msg.value))
            groups.setdefault(msg.partition, []).append(
                Record(bytes(raw), {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset}))
            keys[(msg.partition, msg.offset)] = msg.key if isinstance(msg.key, bytes) else b"unknown"
        return groups, keys

    async def _finish_part(self, part: PreparedPart) -> None:
        t0 = time.perf_counter()
        timing = self.timing
        t = time.perf_counter()
        per_partition: list[tuple[int, BatchResult, set[str]]] = []
        for partition, records in part.groups.items():
            checked = part.checked.get(partition) if part.checked is not None else None
            result, touched = self._process_group(records, checked)
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
        await _delivered(await send_bulk(self.app.producer, self._output_messages(merged, part.keys)))
        timing["send_s"] += time.perf_counter() - t
        t = time.perf_counter()
        changelog: list[OutMessage] = []
        for partition, result, touched in per_partition:
            changelog += self._write_facts(partition, result, touched)
        await _delivered(await send_bulk(self.app.producer, changelog))
        self.states.trim()   # every applied fact is in the table now: cold states can go
        timing["table_s"] += time.perf_counter() - t
        self.process_s += time.perf_counter() - t0
        self.batches += 1
        self.counts.update({k: merged.counts.get(k, 0) for k in COUNT_KEYS})
        self.reasons.update(d.reason.split(":", 1)[0] for d in merged.dead_letters)
        if self.config.log_dead_letters:
            for d in merged.dead_letters:
                log.info("dead letter %s:%s (landing batch %d) event %s: %s", d.origin.get("partition"),
                         d.origin.get("offset"), self.batch_no - 1, _event_id_of(d.raw), d.reason)
        for ev in part.events:
            self.last_offsets[f"{ev.message.topic}:{ev.message.partition}"] = ev.message.offset
        self.last_batch_done_at, self.last_batch_cpu_s = time.time(), time.process_time()
        self.last_batch_gx_cpu_s = self._gx_cpu_s()
        if self.first_batch_done_at is None:
            self.first_batch_done_at, self.first_batch_read = self.last_batch_done_at, self.counts["read"]
            self.first_batch_cpu_s, self.first_batch_gx_cpu_s = self.last_batch_cpu_s, self.last_batch_gx_cpu_s
        self.write_counts()

    def _check_groups(self, groups: Mapping[int, list[Record]]) -> dict[int, Checked] | None:
        """Every partition's records through the per-event checks; validation follows once for
        the whole batch (Great Expectations costs ~0.1 s of CPU per call whatever its size: one
        call per partition multiplied that by the partition count, see docs/benchmarks.md).
        None if that raised (a bug): the partitions are then processed one by one, with their
        fallback."""
        try:
            return {partition: self.processor.check(records) for partition, records in groups.items()}
        except Exception:
            log.exception("checking a batch of %d partitions failed; processing them one by one", len(groups))
            return None

    def _process_group(self, records: list[Record], checked: Checked | None = None) -> tuple[BatchResult, set[str]]:
        """Process one partition's records; an unexpected error (a bug, never bad input: bad
        input is dead-lettered by the Processor) falls back to one record at a time, and a
        record that still fails is dead-lettered as internal_error. Either way the worker
        goes on, and every record gets exactly one outcome."""
        self.states.touched = set()
        try:
            result = self.processor.process(records) if checked is None else self.processor.apply(checked)
            return result, set(self.states.touched)
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

    def _output_messages(self, result: BatchResult, keys: Mapping[tuple[int, int], bytes]) -> list[OutMessage]:
        """Every output message of a batch (dead letters, section results, status changes), for
        :func:`streams.bulk.send_bulk`: one producer call per record batch, not per message."""
        out: list[OutMessage] = []
        for dl in result.dead_letters:
            key = keys.get((dl.origin.get("partition"), dl.origin.get("offset")), b"unknown")  # type: ignore[arg-type]
            out.append((self.dead_letter_topic, None, key, dl.raw, dead_letter_headers(dl)))
        for row in result.sections:
            out.append((self.section_topic, None, row["district_code"].encode(), json_bytes(row), None))
        for row in result.statuses:
            out.append((self.status_topic, None, row["district_code"].encode(), json_bytes(row), None))
        return out

    def _write_facts(self, partition: int, result: BatchResult, touched: set[str]) -> list[OutMessage]:
        """One table entry per fact whose version record changed in this batch: every applied
        fact, and (when stale events came) every fact whose list of seen event ids grew. The
        local store is written now; the changelog messages are returned for the caller to send
        in bulk (:func:`streams.bulk.send_bulk`) and await before the batch is acknowledged."""
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
                    if tk not in latest and version[2] and version[2][-1] != self.states.persisted_seen.get(tk):
                        stored = self.table.get(tk)
                        if stored is not None:
                            latest[tk] = (code, fk, decode_fact(stored)["event"])
        messages: list[OutMessage] = []
        for tk, (code, fk, event) in latest.items():
            state = self.states.loaded(code)
            version = state.versions[fk] if state is not None and fk in state.versions else \
                [event["seq"], event["event_id"], []]
            value = {"seq": int(version[0]), "event_id": str(version[1]), "seen": list(version[2]), "event": event}
            self.states.note_key(code, tk)
            messages.append(self._write_fact(partition, tk, value))
            if version[2]:
                self.states.persisted_seen[tk] = version[2][-1]
            else:
                self.states.persisted_seen.pop(tk, None)
        return messages

    def _write_fact(self, partition: int, key: str, value: dict[str, Any]) -> OutMessage:
        """``table[key] = value`` with the changelog message for `partition`: the local store is
        updated now (with the message's JSON bytes, deflated: :func:`deflate_fact`); the returned
        changelog message is the caller's to send (in bulk) and await."""
        raw = changelog_json(value)
        self.table.data[key] = deflate_fact(raw)
        self.school_owners.note_key(key)
        return (self.table.changelog_topic_name, partition, changelog_json(key), raw, None)

    # ---------------------------------------------------------------- counts
    def snapshot(self) -> dict[str, Any]:
        c = self.counts
        return {
            "worker_id": self.config.worker_id, "pid": os.getpid(), "status": self.status,
            "engine": engine_kind(), "started_at": self.started_at, "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **{k: c[k] for k in COUNT_KEYS},
            "balanced": c["read"] == sum(c[k] for k in OUTCOMES),
            "dead_letter_reasons": dict(sorted(self.reasons.items())),
            "internal_errors": self.internal_errors, "skipped_records": self.skipped_records,
            "batches": self.batches,
            "next_landing_batch": self.batch_no, "assigned": self.assigned,
            "last_offsets": dict(sorted(self.last_offsets.items())),
            "districts_loaded": len(self.states), "state_rebuilds": self.states.rebuilds,
            "state_evictions": self.states.evictions,
            "state_rebuild_s": round(self.states.rebuild_s, 3), "process_s": round(self.process_s, 3),
            "timing_s": {k: round(v, 3) for k, v in sorted(self.timing.items())},
            "first_batch_done_at": self.first_batch_done_at, "first_batch_read": self.first_batch_read,
            "last_batch_done_at": self.last_batch_done_at, "first_batch_cpu_s": round(self.first_batch_cpu_s, 3),
            "last_batch_cpu_s": round(self.last_batch_cpu_s, 3),
            "first_batch_gx_cpu_s": round(self.first_batch_gx_cpu_s, 3),
            "last_batch_gx_cpu_s": round(self.last_batch_gx_cpu_s, 3),
            "gx": "off" if not self.config.gx else "child" if self.gx_child is not None else "in-process",
            "gx_child": self.gx_child.usage() if self.gx_child is not None else None,
            "fast_delivery": self.config.fast_delivery,
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
            log.info("no committed offset for %s: from the beginning", sorted(f"{tp.topic}:{tp.partition}" for tp in fresh))
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
        consumer.stop_flow()           # getmany hands out no more records fetched before the seek
        for _ in range(3):             # let the fetcher finish the record it is delivering
            await asyncio.sleep(0)
        await original()               # seeks, then resets the read offsets to the committed ones

    consumer.perform_seek = perform_seek
    consumer._junheng_holds_flow = True


class FactsStore(MemoryStore):
    """Faust's memory store, except that it reports the offset it persisted as -1 ("nothing:
    read the changelog from its beginning", what Faust's recovery makes of None anyway) instead
    of None. Recovery registers a newly assigned standby partition with that value; when a
    rebalance lands while the previous round of recovery is still starting its standbys, that
    round seeks the new partition with None and the worker crashes ("ValueError: Offset must be
    a positive integer" -- found by tests/faults, two workers SIGKILLed in turn)."""

    def persisted_offset(self, tp: Any) -> int:
        return -1

    def __post_init__(self) -> None:
        super().__post_init__()
        #: school id -> district, for every school registration this process has seen in the
        #: table: recovered, received as a standby, or written by this worker. Never pruned (a
        #: school's district does not change when a partition moves away).
        self.school_owners: dict[str, str] = {}

    def _create_batch_iterator(self, mark_as_delete: Any, to_key: Any, to_value: Any, batch: Any) -> Any:
        for key, value in super()._create_batch_iterator(mark_as_delete, to_key, to_value, batch):
            note_registration(self.school_owners, key)
            yield key, value


def note_registration(owners: dict[str, str], key: Any) -> None:
    """If `key` is a facts-table key of a school registration ("<district>|school.registered|
    <school_id>|<year>|"), remember the school's district (the first one seen wins)."""
    if isinstance(key, str) and "|school.registered|" in key:
        district, _, school_id = key.split("|", 3)[:3]
        owners.setdefault(school_id, district)


class TableSchoolOwners(MutableMapping[str, str]):
    """The Processor's school owners (streams/processing.py) on the worker: the registrations of
    the facts table, as the store indexes them (:class:`FactsStore`). What the worker sees: its
    own partitions, and the others' it holds as a standby (with two workers and the default one
    standby replica, every partition). Two registrations of one school in districts owned by
    two workers that hold no standby of each other, within the same moment, can both apply;
    `junheng build` then fails its unique test on stg_section_results, naming the school
    (docs/streaming.md, "What one worker cannot see")."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._own: dict[str, str] = {}   # for a table whose store keeps no index (tests' plain dicts)

    def _owners(self) -> dict[str, str]:
        owners = getattr(getattr(self.table, "data", None), "school_owners", None)
        return self._own if owners is None else owners  # type: ignore[no-any-return]

    def note_key(self, key: Any) -> None:
        """A facts-table key the worker writes: a registration claims its school."""
        note_registration(self._owners(), key)

    def __getitem__(self, school_id: str) -> str:
        return self._owners()[school_id]

    def __setitem__(self, school_id: str, district: str) -> None:
        self._owners().setdefault(school_id, district)

    def __delitem__(self, school_id: str) -> None:
        del self._owners()[school_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._owners())

    def __len__(self) -> int:
        return len(self._owners())


FACTS_STORE_URL = "junheng-memory://"
faust_stores.STORES.aliases.setdefault("junheng-memory", "streams.app:FactsStore")


def _quiet_clients() -> None:
    """kafka-python logs every connection at INFO; keep the worker's log about the worker."""
    for name in ("kafka", "aiokafka"):
        logging.getLogger(name).setLevel(logging.WARNING)


def create_app(settings: KafkaSettings, config: WorkerConfig,
               engine: Engine | None = None) -> tuple[faust.App, StreamRuntime]:
    """A configured Faust app with the events agent, the facts table and the runtime behind them."""
    _quiet_clients()
    app_id = config.app_id or default_app_id(settings)
    datadir = WarehouseLayout(config.warehouse).worker_data.resolve()
    app = faust.App(
        app_id,
        broker=broker_urls(settings),
        broker_credentials=broker_credentials(settings),
        processing_guarantee="at_least_once",
        store=FACTS_STORE_URL,             # memory:// (FactsStore): rebuilt from the changelog at start
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
    table = app.Table(FACTS_TABLE, default=None, partitions=config.partitions,
                      # values stay deflated JSON in memory (decode_fact); the changelog is plain JSON
                      schema=faust.Schema(key_type=str, key_serializer="json", value_serializer=FACT_CODEC),
                      help="applied facts per district: <district>|<fact key> -> {seq, event_id, seen, event}")
    runtime = StreamRuntime(app, settings, config, table, engine)  # type: ignore[arg-type]
    events_topic = app.topic(settings.topic("events"), key_type=bytes, value_type=bytes,
                             key_serializer="raw", value_serializer="raw")

    def stop_uncommitted(exc: BaseException) -> None:
        """Kafka, the disk or the GX child failed: leave the batch unacked and stop the process."""
        log.critical("batch failed outside the processing core (%s: %s); stopping without committing it, "
                     "it will be re-delivered", type(exc).__name__, exc, exc_info=exc)
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
                if finishing.done():   # only if it crashed or was cancelled: never wait on a dead stage
                    finishing.result()
                await prepared.put(batch)
        finally:
            finishing.cancel()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode-streaming's receiver type
    def on_revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        runtime.on_assignment_change("revoked", args[0] if args else kwargs.get("revoked", ()))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    def on_assigned(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        rewind_uncommitted(app.consumer, settings.topic("events"))   # before recovery seeks
        hold_flow_while_seeking(app.consumer)
        if config.fast_delivery:
            deliver_without_tasks(app.consumer)
        runtime.on_assignment_change("assigned", args[0] if args else kwargs.get("assigned", ()))

    @app.timer(config.log_every_s)
    async def report() -> None:
        runtime.log_counts()
        runtime.write_counts()

    app.junheng_runtime = runtime  # type: ignore[attr-defined]
    return app, runtime
