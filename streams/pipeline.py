"""The one pipeline both drivers run: check → validate → apply → land, and what happened.

The embedded driver (streams/embedded.py: event files, state files) and the Kafka worker
(streams/worker_runtime.py: a Faust stream, the facts table) differ only in where records come
from and where district states are kept. Both hand micro-batches of :class:`Record` to a
:class:`Pipeline` and get a :class:`BatchResult` back: every record with exactly one outcome,
the rows to land, and the districts the batch touched. The steps themselves are the
:class:`Processor`'s (streams/processing.py); this module owns their order, the per-record
fallback, the landing and the counts:

1. :meth:`Pipeline.check` -- the per-event contract and reference checks;
2. validation by the Great Expectations suites (:meth:`Pipeline.validate`, or the worker's GX
   child between :meth:`Pipeline.awaiting_validation` and :meth:`Pipeline.record_verdicts`);
3. :meth:`Pipeline.process` -- the school-owner check and the rules engine; if the core raises
   (a bug: bad input is dead-lettered, never raised), the batch's districts are put back to their
   last persisted state and its records are processed one at a time; one that still fails is
   dead-lettered ``internal_error`` and the run goes on;
4. :meth:`Pipeline.land` -- the landing Parquet files, all or nothing, then the ``on_statuses``
   hook (the worker's stream alerts) with the batch's status changes.

District states live in a :class:`StateStore`: a mapping of district code to ``DistrictState``
that also records which districts were read or written (``touched``) and can forget districts
(``evict``), after which it gives them back as last persisted. The embedded driver's is
``streams.file_states.FileStates``, the worker's ``streams.table_states.TableStates``.
"""

from __future__ import annotations

import abc
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rules.state import DistrictState, Engine
from streams.landing import LandingWriter
from streams.processing import (
    DEAD_LETTERED,
    INTERNAL_ERROR,
    OUTCOMES,
    BatchResult,
    BatchValidator,
    Checked,
    DeadLetter,
    Processor,
    Record,
    SchoolOwners,
)
from streams.sink import land_result, merge_results

log = logging.getLogger("streams.pipeline")

COUNT_KEYS = ("read",) + OUTCOMES  # read, applied, duplicate, stale, dead_lettered
#: an internal_error dead letter's reason is cut to this many characters (the exception's text can be long)
INTERNAL_ERROR_REASON_CHARS = 300
#: the stream alerts' hook: a landed batch's district status rows and the events it applied (whose
#: ``occurred_at`` say when a district fell behind: junheng/alerting/behind.py)
StatusHook = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Any]


class StateStore(MutableMapping[str, DistrictState], abc.ABC):
    """Where a driver keeps its district states.

    ``touched`` -- the districts read or written since it was last reset (the pipeline resets it
    for every batch and hands it on as ``BatchResult.touched``). ``evict(codes)`` -- forget the
    in-memory states of `codes` (all when None); the store then gives each back as it was last
    persisted (state files plus what this run already landed; the facts table), which is what the
    per-record fallback relies on after the core failed half-way through a batch."""

    touched: set[str]

    @abc.abstractmethod
    def evict(self, codes: Iterable[str] | None = None) -> None: ...


@dataclass
class Counts:
    """What a driver read and did, over all its batches: ``read = applied + duplicate + stale +
    dead_lettered`` (:meth:`balanced`), the dead letters by reason code, the records the core
    failed on (``internal_errors``, also among the dead letters) and the batches. The embedded
    run's summary (``junheng run --json``) and the worker's counts file are :meth:`as_dict`."""

    read: int = 0
    applied: int = 0
    duplicate: int = 0
    stale: int = 0
    dead_lettered: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    internal_errors: int = 0
    batches: int = 0
    #: dead letters not landed again: the same code and bytes were landed before (a re-run)
    dead_lettered_again: int = 0

    def add(self, result: BatchResult) -> None:
        """Count one landed batch."""
        for key in COUNT_KEYS:
            setattr(self, key, getattr(self, key) + int(result.counts.get(key, 0)))
        self.reasons.update(d.code for d in result.dead_letters)
        self.internal_errors += result.internal_errors
        self.dead_lettered_again += result.dead_lettered_again
        self.batches += 1

    def __getitem__(self, key: str) -> int:
        if key not in COUNT_KEYS:
            raise KeyError(key)
        return int(getattr(self, key))

    def get(self, key: str, default: int | None = None) -> int | None:
        return self[key] if key in COUNT_KEYS else default

    def balanced(self) -> bool:
        return self.read == self.applied + self.duplicate + self.stale + self.dead_lettered

    def as_dict(self) -> dict[str, Any]:
        return {
            **{k: self[k] for k in COUNT_KEYS},
            "balanced": self.balanced(),
            "dead_letter_reasons": dict(sorted(self.reasons.items())),
            "internal_errors": self.internal_errors,
            "dead_lettered_again": self.dead_lettered_again,
            "batches": self.batches,
        }


class Pipeline:
    """Check, validate, apply and land micro-batches against one state store."""

    def __init__(
        self,
        engine: Engine,
        known_districts: Iterable[str],
        states: StateStore,
        landing: LandingWriter,
        *,
        batch_validator: BatchValidator | None = None,
        school_owners: SchoolOwners | None = None,
        on_statuses: StatusHook | None = None,
    ) -> None:
        """`school_owners`: which district registered each school (None: built from `states`, for
        a store that holds every state in memory). `on_statuses`: called after a batch is landed
        with its district-status rows and its applied events, when there are status rows; it must not block (the worker hands
        them to its stream alerts on another thread) and nothing of the pipeline waits for it."""
        self.states = states
        self.landing = landing
        self.on_statuses = on_statuses
        #: the ids of the dead letters landed so far (:attr:`DeadLetter.id`), when the driver
        #: knows them all (the embedded driver reads them from the landing): a dead letter among
        #: them is counted but not landed again, so running a file twice lands its dead letters
        #: once. None (the worker): every dead letter is landed and staging keeps one per record.
        self.known_dead_letters: set[str] | None = None
        self.processor = Processor(engine, known_districts, batch_validator, states, school_owners=school_owners)

    # ---------------------------------------------------------------- steps 1 and 2
    def check(self, records: Sequence[Record]) -> Checked:
        """The per-event checks (step 1); failures are dead-lettered."""
        return self.processor.check(records)

    def validate(self, parts: Sequence[Checked]) -> None:
        """The batch validator, once over the valid events of all `parts` (step 2)."""
        self.processor.validate(parts)

    def awaiting_validation(self, parts: Sequence[Checked]) -> list[tuple[Record, dict[str, Any]]]:
        """The records and events of `parts` still to validate, for a validator run elsewhere."""
        return self.processor.awaiting_validation(parts)

    def record_verdicts(self, parts: Sequence[Checked], reasons: Sequence[str | None] | None) -> None:
        """Dead-letter what that validator failed (None: no validator) and mark `parts` validated."""
        self.processor.record_verdicts(parts, reasons)

    # ---------------------------------------------------------------- step 3
    def process(self, records: Sequence[Record], checked: Checked | None = None) -> BatchResult:
        """Steps 1-3 for `records` (`checked`: step 1, and maybe 2, already done for them).

        If the core raises -- a bug, never bad input -- the districts the attempt touched are
        evicted (the store gives them back as last persisted) and the records are processed one at
        a time; a record that still raises is dead-lettered ``internal_error`` and its districts are
        put back to where the records before it left them. Either way every record gets exactly one
        outcome, and the result's ``touched`` names every district the batch read or changed."""
        self.states.touched = set()
        try:
            result = self.processor.process(records) if checked is None else self.processor.apply(checked)
        except Exception:
            log.exception("processing a batch of %d records failed; retrying one record at a time", len(records))
        else:
            result.touched = set(self.states.touched)
            return result
        return self._one_at_a_time(records)

    def _one_at_a_time(self, records: Sequence[Record]) -> BatchResult:
        touched_all = set(self.states.touched)
        self.states.evict(touched_all)
        results: list[BatchResult] = []
        applied_by_district: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for rec in records:
            self.states.touched = set()
            try:
                r = self.processor.process([rec])
            except Exception as exc:
                log.exception("record %s failed in the processing core; dead-lettered", dict(rec.origin))
                bad = set(self.states.touched)
                touched_all |= bad
                self.states.evict(bad)
                for code in bad:  # re-apply what this fallback already applied to the rebuilt state
                    if applied_by_district.get(code):
                        self.processor.state(code).apply_batch(applied_by_district[code])
                r = internal_error(rec, exc)
            else:
                touched_all |= self.states.touched
                for e in r.applied:
                    applied_by_district[e["district_code"]].append(e)
            results.append(r)
        merged = merge_results(results)
        merged.touched = touched_all
        return merged

    # ---------------------------------------------------------------- step 4
    def land(self, result: BatchResult, batch: int, extra: dict[str, list[dict[str, Any]]] | None = None) -> list[Path]:
        """Land `result` as landing batch `batch` (all or nothing; streams/sink.py) with the rows
        of `extra` tables, then hand its status changes to the ``on_statuses`` hook. Returns the
        files landed. Dead letters already landed (``known_dead_letters``) are not landed again:
        ``result.dead_lettered_again`` says how many."""
        known = self.known_dead_letters
        fresh = None
        if known is not None:
            fresh, ids = [], set()
            for d in result.dead_letters:
                if d.id not in known and d.id not in ids:
                    ids.add(d.id)
                    fresh.append(d)
            result.dead_lettered_again = len(result.dead_letters) - len(fresh)
        paths = land_result(self.landing, result, batch, dead_letters=fresh, extra=extra)
        if known is not None and fresh:
            known.update(d.id for d in fresh)
        if result.statuses and self.on_statuses is not None:
            self.on_statuses(list(result.statuses), list(result.applied))
        return paths


def internal_error(rec: Record, exc: BaseException) -> BatchResult:
    """The result of a record the core failed on: read, dead-lettered ``internal_error``."""
    message = f"{type(exc).__name__}: {exc}"[: INTERNAL_ERROR_REASON_CHARS - len(INTERNAL_ERROR) - 2]
    r = BatchResult(internal_errors=1)
    r.counts["read"] += 1
    r.counts[DEAD_LETTERED] += 1
    r.dead_letters.append(DeadLetter(rec.raw, INTERNAL_ERROR, message, rec.origin))
    return r
