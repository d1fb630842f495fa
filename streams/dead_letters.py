"""Dead letters after the fact: read them back, replay them through the pipeline, discard them.

What `junheng dlq` (junheng/dlq.py) runs; docs/operations.md, "Dead letters", is the runbook.

A dead letter is identified by its reason code and its bytes (:attr:`DeadLetter.id`), and the
embedded driver lands each one once whatever the runs (streams/pipeline.py: known dead letters).
What was done to one is a row of the landing table ``dead_letter_actions`` (append-only, like every
landing table): ``replayed`` with its outcome, or ``discarded`` with the operator's reason. Its
status is what its latest action says:

* ``open`` -- no action yet, or the last replay dead-lettered it again for the same reason;
* ``replayed`` -- a replay applied it, or found it duplicate or stale (already applied by a later
  run), or it was refused again for another reason (then that is a new dead letter, open, whose
  origin names the one it came from: ``replay_of``);
* ``discarded`` -- an operator decided it will never apply; the note says why.

A replay is an embedded run (:meth:`EmbeddedRunner.run_records`) over the open dead letters' bytes:
the same checks, suites, rules engine, state files and landing as ``junheng run``, all or nothing,
and each batch lands the replay's actions with its events, so a replayed record that now applies
is landed once and is never listed as open again (a second replay would find it duplicate anyway).
On a warehouse fed by the Kafka worker the states are the worker's: :func:`replay_to_kafka` produces
the bytes to the events topic again instead, and the worker judges them.

The landing keeps a dead letter's text, cut at 64 KiB and decoded as UTF-8: an ``oversized`` one,
or one whose bytes were not UTF-8, cannot be replayed as it was read and is left open for a
discard.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from junheng.layout import LandingFile, WarehouseLayout
from rules.state import APPLIED, DUPLICATE, STALE
from streams.embedded import WRITER_ID, EmbeddedRunner, RunSummary
from streams.landing import LandingWriter
from streams.processing import BatchResult, Record, dead_letter_id
from streams.sink import LANDED_TABLES

OPEN, REPLAYED, DISCARDED = "open", "replayed", "discarded"
STATUSES = (OPEN, REPLAYED, DISCARDED)
ACTIONS = "dead_letter_actions"
#: the writer of discards' landing files (a replay's actions are the embedded run's own batches)
DLQ_WRITER = "dlq"
#: codes whose stored text is not the bytes that were read (cut at 64 KiB): never replayed
NOT_REPLAYABLE = frozenset({"oversized"})
#: the outcome of a replay through Kafka: ``produced:<topic>:<partition>:<offset>``
PRODUCED = "produced:"


def _position(outcome: str) -> dict[str, Any]:
    """The events-topic position a Kafka replay produced to, as the worker's origin names it."""
    topic, partition, offset = outcome[len(PRODUCED) :].rsplit(":", 2)
    return {"topic": topic, "partition": int(partition), "offset": int(offset)}


@dataclass(frozen=True)
class Action:
    """One thing done to a dead letter, as landed."""

    action: str
    outcome: str | None
    resolved: bool
    note: str | None
    at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "outcome": self.outcome,
            "resolved": self.resolved,
            "note": self.note,
            "at": self.at,
        }


@dataclass
class StoredDeadLetter:
    """A dead letter as the landing holds it: its first landing, how often it was landed (the
    worker lands a re-delivered one again) and what was done to it since."""

    id: str
    code: str
    reason: str
    origin: dict[str, Any]
    raw: str
    landed_at: str
    landings: int = 1
    actions: list[Action] = field(default_factory=list)
    #: every origin it was landed from (the worker lands a re-delivered or re-produced one again)
    origins: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.actions:
            return OPEN
        last = self.actions[-1]
        if last.action == DISCARDED:
            return DISCARDED
        if last.resolved and (last.outcome or "").startswith(PRODUCED):  # replayed through Kafka:
            position = _position(last.outcome or "")  # refused again there?
            if any(o == position for o in self.origins):
                return OPEN
        return REPLAYED if last.resolved else OPEN

    @property
    def event(self) -> dict[str, Any] | None:
        """The record as JSON, when it is a JSON object (a district and an event id to show)."""
        try:
            value = json.loads(self.raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @property
    def district(self) -> str | None:
        value = (self.event or {}).get("district_code")
        return value if isinstance(value, str) else None

    @property
    def replayable(self) -> bool:
        """Whether the stored text is the record as read (module docstring)."""
        return self.code not in NOT_REPLAYABLE and "\ufffd" not in self.raw

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        event = self.event or {}
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "reason_code": self.code,
            "reason": self.reason,
            "district_code": self.district,
            "event_id": event.get("event_id"),
            "event_type": event.get("event_type"),
            "origin": self.origin,
            "landed_at": self.landed_at,
        }
        if full:
            out.update(
                raw=self.raw,
                landings=self.landings,
                replayable=self.replayable,
                actions=[a.to_dict() for a in self.actions],
            )
        return out


def _rows(folder: Path, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """The rows of a landing table's files, in landing order (file names sort by batch)."""
    for path in sorted(folder.glob("part-*.parquet")):
        names = pq.read_schema(path).names
        wanted = None if columns is None else [c for c in columns if c in names]
        yield from sorted(pq.read_table(path, columns=wanted).to_pylist(), key=lambda r: r.get("landed_pos") or 0)


def read_dead_letters(warehouse: str | Path) -> list[StoredDeadLetter]:
    """Every dead letter of the warehouse, once each, in the order they were first landed."""
    layout = WarehouseLayout(warehouse)
    found: dict[str, StoredDeadLetter] = {}
    for row in _rows(layout.landing_table("dead_letters")):
        ident = row.get("dead_letter_id") or dead_letter_id(row["reason_code"], (row["raw"] or "").encode("utf-8"))
        try:
            origin = json.loads(row["origin"] or "{}")
        except ValueError:
            origin = {"origin": row["origin"]}
        if ident in found:
            found[ident].landings += 1
            found[ident].origins.append(origin)
            continue
        found[ident] = StoredDeadLetter(
            ident, row["reason_code"], row["reason"], origin, row["raw"] or "", row["landed_at"] or "", origins=[origin]
        )
    for row in _rows(layout.landing_table(ACTIONS)):
        dl = found.get(row["dead_letter_id"])
        if dl is not None:
            dl.actions.append(
                Action(row["action"], row["outcome"], bool(row["resolved"]), row["note"], row["landed_at"] or "")
            )
    return list(found.values())


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command is about: ids (or unique prefixes of at least 6 characters),
    reason codes, a district, a landing time window (``since``/``until``: ISO dates or times,
    compared with ``landed_at``) and statuses (None: any)."""

    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    district: str | None = None
    since: str | None = None
    until: str | None = None
    statuses: tuple[str, ...] | None = (OPEN,)

    def apply(self, letters: Iterable[StoredDeadLetter]) -> list[StoredDeadLetter]:
        out = []
        for dl in letters:
            if self.ids and not any(dl.id.startswith(i) for i in self.ids):
                continue
            if self.codes and dl.code not in self.codes:
                continue
            if self.district and dl.district != self.district:
                continue
            if self.since and dl.landed_at < self.since:
                continue
            if self.until and dl.landed_at[: len(self.until)] > self.until:
                continue
            if self.statuses is not None and dl.status not in self.statuses:
                continue
            out.append(dl)
        return out


def find(letters: Sequence[StoredDeadLetter], prefix: str) -> StoredDeadLetter | None | list[StoredDeadLetter]:
    """The dead letter whose id starts with `prefix`; None when none does, the candidates when
    several do."""
    hits = [dl for dl in letters if dl.id.startswith(prefix)]
    return hits[0] if len(hits) == 1 else (None if not hits else hits)


def fed_by_a_worker(warehouse: str | Path) -> list[str]:
    """The writers other than the embedded driver that landed here (Kafka workers): their
    district states live in the worker's table, so an embedded replay would judge against others."""
    writers = set()
    layout = WarehouseLayout(warehouse)
    for table in LANDED_TABLES:  # the stream's tables (a worker that only dead-lettered landed no events)
        for path in layout.landing_table(table).glob("part-*.parquet"):
            landed = LandingFile.parse(path.name)
            if landed is not None and landed.writer != WRITER_ID:
                writers.add(landed.writer)
    return sorted(writers)


def discard(warehouse: str | Path, letters: Sequence[StoredDeadLetter], note: str) -> list[Path]:
    """Record that `letters` are discarded because of `note`, as one landing batch. Call while
    holding the warehouse's lock."""
    if not letters:
        return []
    writer = LandingWriter(WarehouseLayout(warehouse).landing, writer_id=DLQ_WRITER)
    rows = [
        {"dead_letter_id": dl.id, "action": DISCARDED, "outcome": None, "resolved": True, "note": note}
        for dl in letters
    ]
    return writer.write_batch({ACTIONS: rows}, writer.next_batch_number())


@dataclass
class Replay:
    """What a replay did: the run's counts (read = applied + duplicate + stale + dead_lettered),
    each replayed dead letter's outcome -- ``applied``, ``duplicate``, ``stale``,
    ``dead_lettered:<code>`` (refused again for the same reason: still open) or
    ``dead_lettered_as:<new id> (<code>)`` (refused for another reason: the new dead letter is the
    open one) -- and the ones left alone (not replayable)."""

    summary: RunSummary
    outcomes: dict[str, str]
    skipped: list[str]

    @property
    def still_dead(self) -> int:
        """Replayed dead letters that stay open: refused again for the same reason."""
        return sum(1 for o in self.outcomes.values() if o.startswith("dead_lettered:"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "replayed": len(self.outcomes),
            "outcomes": dict(Counter(o.split(":")[0] for o in self.outcomes.values())),
            "still_open": self.still_dead,
            "not_replayable": self.skipped,
            "counts": self.summary.as_dict(),
        }


def _outcomes(records: Sequence[Record], result: BatchResult) -> dict[str, tuple[str, bool]]:
    """Each replayed record's outcome (and whether it resolves its dead letter), from the batch's
    result: dead letters carry their record's origin; applied and stale events are matched by
    event id, in order (the engine applies the first of equal ids), and the rest were duplicates."""
    dead = {str(d.origin["replay_of"]): d for d in result.dead_letters if "replay_of" in d.origin}
    applied = Counter(str(e["event_id"]) for e in result.applied)
    stale = Counter(str(e["event_id"]) for e in result.stale)
    out: dict[str, tuple[str, bool]] = {}
    for rec in records:
        ident = str(rec.origin["replay_of"])
        if ident in dead:
            d = dead[ident]
            if d.id == ident:  # refused again as before: still open (and not landed again)
                out[ident] = (f"dead_lettered:{d.code}", False)
            else:  # refused for another reason: that new dead letter is the open one
                out[ident] = (f"dead_lettered_as:{d.id} ({d.code})", True)
            continue
        event_id = str(json.loads(rec.raw)["event_id"])
        for name, pool in ((APPLIED, applied), (STALE, stale)):
            if pool[event_id] > 0:
                pool[event_id] -= 1
                out[ident] = (name, True)
                break
        else:
            out[ident] = (DUPLICATE, True)
    return out


def replay(
    runner: EmbeddedRunner, letters: Sequence[StoredDeadLetter], note: str | None = None, wait_s: float = 0.0
) -> Replay:
    """Replay `letters` through `runner` (an embedded run; module docstring). Call while holding
    the warehouse's lock (the runner takes it again: it is re-entrant within a process)."""
    todo = [dl for dl in letters if dl.replayable]
    skipped = [dl.id for dl in letters if not dl.replayable]
    outcomes: dict[str, str] = {}

    def annotate(records: Sequence[Record], result: BatchResult) -> dict[str, list[dict[str, Any]]]:
        rows = []
        for ident, (outcome, resolved) in _outcomes(records, result).items():
            outcomes[ident] = outcome
            rows.append(
                {"dead_letter_id": ident, "action": REPLAYED, "outcome": outcome, "resolved": resolved, "note": note}
            )
        return {ACTIONS: rows}

    records = (Record(dl.raw.encode("utf-8"), {**dl.origin, "replay_of": dl.id}) for dl in todo)
    summary = runner.run_records(records, annotate, wait_s=wait_s)
    return Replay(summary, outcomes, skipped)


def replay_to_kafka(
    warehouse: str | Path, letters: Sequence[StoredDeadLetter], settings: Any, note: str | None = None
) -> dict[str, Any]:
    """Replay `letters` on a warehouse fed by the Kafka worker: produce each one's bytes to the
    events topic again (keyed by district, as `junheng produce` does), and land a ``replayed``
    action naming the position it was produced to. The worker judges it against its own states and
    counts it once; if it refuses it again for the same reason, its new landing comes from that
    position, and the dead letter is open again (:attr:`StoredDeadLetter.status`). Call while
    holding the warehouse's lock (against other `junheng dlq` commands; the worker takes none)."""
    from ingestion.producer import describe_topic, key_for, make_producer

    todo = [dl for dl in letters if dl.replayable]
    topic = settings.topic("events")
    out: dict[str, Any] = {
        "topic": topic,
        "produced": 0,
        "failed": [],
        "not_replayable": [dl.id for dl in letters if not dl.replayable],
    }
    if not todo:
        return out
    if describe_topic(settings, topic).partitions is None:
        raise RuntimeError(f"topic {topic} does not exist (is JUNHENG_TOPIC_PREFIX the worker's?)")
    producer = make_producer(settings, client_id="junheng-dlq")
    rows = []
    try:
        sent = [
            (dl, producer.send(topic, key=key_for(dl.raw.encode("utf-8")), value=dl.raw.encode("utf-8"))) for dl in todo
        ]
        producer.flush()
        for dl, future in sent:
            try:
                md = future.get(timeout=60)
            except Exception as exc:  # KafkaError, timeouts: reported, the dead letter stays open
                out["failed"].append(f"{dl.id}: {type(exc).__name__}: {exc}")
                continue
            rows.append(
                {
                    "dead_letter_id": dl.id,
                    "action": REPLAYED,
                    "resolved": True,
                    "note": note,
                    "outcome": f"{PRODUCED}{md.topic}:{md.partition}:{md.offset}",
                }
            )
    finally:
        producer.close(timeout=30)
    if rows:
        writer = LandingWriter(WarehouseLayout(warehouse).landing, writer_id=DLQ_WRITER)
        writer.write_batch({ACTIONS: rows}, writer.next_batch_number())
    out["produced"] = len(rows)
    return out
