"""The processing core both drivers share: check, validate, apply, and say what happened.

Kafka and Faust (streams/app.py) or the embedded loop (streams/embedded.py) hand this module
micro-batches of raw records; it returns, for every record, exactly one outcome — applied,
duplicate, stale or dead-lettered with its reason — plus the rows the landing sink writes. It
imports no Kafka and no Faust, so both drivers run the very same steps:

1. the per-event contract check (size, JSON, schema, impossible and implausible values) and
   reference check (is the district known?);
2. the batch validator (Great Expectations suites) over the micro-batch's valid events;
3. the reference checks that need what was applied before: a school belongs to one district
   (:class:`SchoolOwners`), so a ``school.registered`` for a school another district registered
   is dead-lettered ``school_in_other_district`` (the marts key a school's sections by its id);
4. the rules engine: each district's state applies its events, in order, as one batch.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingestion.contract import check_event
from rules.state import APPLIED, DUPLICATE, REJECTED, STALE, DistrictState, Engine
from streams.gaps import GapRows, changed_years

DEAD_LETTERED = "dead_lettered"
OUTCOMES = (APPLIED, DUPLICATE, STALE, DEAD_LETTERED)
BatchValidator = Callable[[list[dict[str, Any]]], list[str | None]]
#: school_id -> the district that registered it: what the school-owner check reads and extends.
#: The embedded driver's is built from its district states; the worker's from its facts table.
SchoolOwners = MutableMapping[str, str]
SCHOOL_IN_OTHER_DISTRICT = "school_in_other_district"
UNKNOWN_DISTRICT = "unknown_district"


@dataclass(frozen=True)
class Record:
    """One message as read: its bytes and where it came from (topic/partition/offset, or file/line)."""

    raw: bytes
    origin: Mapping[str, Any]


#: the reason code of a record the processing core itself failed on (a bug, never bad input)
INTERNAL_ERROR = "internal_error"
#: the reason code of the Great Expectations micro-batch suites, whose reasons are paths
#: ``gx:<suite>:<expectation>:<column>`` (docs/data-quality.md)
GX = "gx"


def dead_letter_id(code: str, raw: bytes) -> str:
    """:attr:`DeadLetter.id`: 32 hex digits of SHA-256 over the code, a newline and the bytes."""
    return hashlib.sha256(code.encode("utf-8") + b"\n" + raw).hexdigest()[:32]


@dataclass(frozen=True)
class DeadLetter:
    """A record that changed nothing, why, and where it came from.

    The reason is two fields: ``code`` (one of the codes listed in docs/streaming.md, what counts
    and alerts group by) and ``message`` (for a person). They are joined into one string only where
    a string is written (:attr:`reason`: the landing's ``reason`` column, the Kafka header), so
    nobody has to split a reason to learn its code."""

    raw: bytes
    code: str
    message: str
    origin: Mapping[str, Any]

    @classmethod
    def of(cls, raw: bytes, reason: str, origin: Mapping[str, Any]) -> DeadLetter:
        """From a reason as the contract check, the rules engine and the GX suites give it:
        ``"<code>: <message>"`` (``"gx:<suite>:..."`` for the suites; a bare code is a code)."""
        code, _, message = reason.partition(":")
        return cls(raw, code.strip(), message[1:] if message.startswith(" ") else message, origin)

    @property
    def reason(self) -> str:
        """The reason as one string: ``"<code>: <message>"`` (a GX path keeps its own colons)."""
        if not self.message:
            return self.code
        return f"{self.code}:{self.message}" if self.code == GX else f"{self.code}: {self.message}"

    @property
    def id(self) -> str:
        """What identifies the dead letter whatever run, file or offset it was read from: a hash of
        its reason code and its bytes. The same bytes refused for the same reason again (a file run
        twice, a batch re-delivered) are the same dead letter, so a driver lands it once
        (:attr:`streams.pipeline.Pipeline.known_dead_letters`) and `junheng dlq` replays it once."""
        return dead_letter_id(self.code, self.raw)

    def to_row(self) -> dict[str, Any]:
        return {
            "dead_letter_id": self.id,
            "reason": self.reason,
            "reason_code": self.code,
            "origin": json.dumps(dict(self.origin), ensure_ascii=False, sort_keys=True),
            "raw": self.raw.decode("utf-8", errors="replace")[:65536],
        }


@dataclass
class BatchResult:
    """Everything one micro-batch produced."""

    counts: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    #: the engine's gap to pass per district-year and outlook per district (streams/gaps.py)
    district_gaps: list[dict[str, Any]] = field(default_factory=list)
    outlooks: list[dict[str, Any]] = field(default_factory=list)
    #: the events that came out stale (their ids are now in their facts' windows of seen ids)
    stale: list[dict[str, Any]] = field(default_factory=list)
    #: the districts whose states the batch read or changed (set by streams/pipeline.py)
    touched: set[str] = field(default_factory=set)
    #: records the processing core failed on, dead-lettered as internal_error (a bug)
    internal_errors: int = 0
    #: dead letters not landed because the same one (same code, same bytes) was landed before
    #: (set by :meth:`streams.pipeline.Pipeline.land`; still counted in ``dead_lettered``)
    dead_lettered_again: int = 0


@dataclass
class Checked:
    """A micro-batch after the per-event checks: its result so far (read count, dead letters)
    and the events still to validate and apply."""

    result: BatchResult
    valid: list[tuple[Record, dict[str, Any]]]
    validated: bool = False


class Processor:
    """Holds the engine and drives district states; `states` may be any mapping (a dict for
    the embedded driver, the worker's partition-local dict rebuilt from a Faust table)."""

    def __init__(
        self,
        engine: Engine,
        known_districts: Iterable[str],
        batch_validator: BatchValidator | None = None,
        states: MutableMapping[str, DistrictState] | None = None,
        school_owners: SchoolOwners | None = None,
    ) -> None:
        self.engine = engine
        self.known_districts = frozenset(known_districts)
        self.batch_validator = batch_validator
        self.states: MutableMapping[str, DistrictState] = {} if states is None else states
        #: which district registered each school (None: built from `states`, for callers that
        #: hold every state in memory)
        self.school_owners: SchoolOwners = school_owners if school_owners is not None else {}
        if school_owners is None:
            self.reset_school_owners()
        self.indicator_ids = engine.sections.indicator_ids
        self.gaps = GapRows(engine)

    def reset_school_owners(self) -> None:
        """Rebuild the school owners from the states in memory (after they were (re)loaded)."""
        self.school_owners.clear()
        for code, state in self.states.items():
            for school_id in state.schools:
                self.school_owners.setdefault(school_id, code)

    def state(self, code: str) -> DistrictState:
        s = self.states.get(code)
        if s is None:
            s = self.states[code] = self.engine.new_state(code)
        return s

    def process(self, records: Sequence[Record]) -> BatchResult:
        """Check, validate and apply one micro-batch: every record gets exactly one outcome."""
        return self.apply(self.check(records))

    def check(self, records: Sequence[Record]) -> Checked:
        """Step 1: the per-event contract and reference checks; failures are dead-lettered."""
        result = BatchResult()
        result.counts["read"] += len(records)
        valid: list[tuple[Record, dict[str, Any]]] = []
        for rec in records:
            verdict = check_event(rec.raw)
            if not verdict.ok:
                self._dead(result, rec, verdict.reason or "invalid")
            elif verdict.event["district_code"] not in self.known_districts:  # type: ignore[index]
                self._dead_as(
                    result,
                    rec,
                    UNKNOWN_DISTRICT,
                    f"{verdict.event['district_code']} is not a district "  # type: ignore[index]
                    "of this jurisdiction",
                )
            else:
                valid.append((rec, verdict.event))  # type: ignore[arg-type]
        return Checked(result, valid)

    def validate(self, parts: Sequence[Checked]) -> None:
        """Step 2: the batch validator, called once over the valid events of all `parts`.

        The Kafka worker checks each source partition separately (its facts go back to that
        partition) but validates them together: a Great Expectations call costs ~0.1 s of CPU
        whatever its size, so one call per partition multiplied that by the partition count.
        The suites judge rows, not batches, so the verdicts do not depend on the grouping."""
        events = self.to_validate(parts)
        reasons = self.batch_validator(events) if self.batch_validator is not None and events else None
        self.record_verdicts(parts, reasons)

    def to_validate(self, parts: Sequence[Checked]) -> list[dict[str, Any]]:
        """The events of `parts` the batch validator still has to judge, in order.

        :meth:`validate` is this, the validator call and :meth:`record_verdicts`; a driver that
        runs the validator elsewhere (the worker: in a child process, awaited) calls the two
        halves around its own call."""
        return [e for _, e in self.awaiting_validation(parts)]

    @staticmethod
    def awaiting_validation(parts: Sequence[Checked]) -> list[tuple[Record, dict[str, Any]]]:
        """:meth:`to_validate` with each event's record (whose raw bytes are cheaper to send to
        another process than the decoded event)."""
        return [pair for p in parts if not p.validated for pair in p.valid]

    def record_verdicts(self, parts: Sequence[Checked], reasons: Sequence[str | None] | None) -> None:
        """Dead-letter the events of `parts` the validator failed (`reasons` as returned for
        :meth:`to_validate`'s list; None: no validator) and mark the parts validated."""
        todo = [p for p in parts if not p.validated]
        if reasons is not None:
            expected = sum(len(p.valid) for p in todo)
            if len(reasons) != expected:
                raise ValueError(f"the batch validator returned {len(reasons)} verdicts for {expected} events")
            verdicts = iter(reasons)
            for part in todo:
                kept = []
                for (rec, event), reason in zip(part.valid, verdicts):
                    if reason is None:
                        kept.append((rec, event))
                    else:
                        self._dead(part.result, rec, reason)
                part.valid = kept
        for part in todo:
            part.validated = True

    def apply(self, checked: Checked) -> BatchResult:
        """Steps 3 and 4: the school-owner check, then each district's state applies its
        events, in order, as one batch."""
        if not checked.validated:
            self.validate([checked])
        result = checked.result
        by_district: dict[str, list[tuple[Record, dict[str, Any]]]] = {}
        claims: dict[str, str] = {}  # schools first registered in this batch -> district
        for rec, event in checked.valid:
            if event["event_type"] == "school.registered":
                school_id, code = event["school_id"], event["district_code"]
                owner = claims.get(school_id) or self.school_owners.get(school_id)
                if owner is None:
                    claims[school_id] = code
                elif owner != code:
                    self._dead_as(
                        result,
                        rec,
                        SCHOOL_IN_OTHER_DISTRICT,
                        f"{school_id} is registered in {owner}, not {code}; a school belongs to one district",
                    )
                    continue
            by_district.setdefault(event["district_code"], []).append((rec, event))
        for code, items in by_district.items():
            state = self.state(code)
            outcomes, changes = state.apply_batch([e for _, e in items])
            for (rec, event), outcome in zip(items, outcomes):
                if outcome.outcome == REJECTED:
                    self._dead(result, rec, outcome.reason or "rejected")
                else:
                    result.counts[outcome.outcome] += 1
                    if outcome.outcome == APPLIED:
                        result.applied.append(event)
                    elif outcome.outcome == STALE:
                        result.stale.append(event)
            seen: set[tuple[str, int]] = set()
            for school_id, year in changes.sections:
                if (school_id, year) not in seen:
                    seen.add((school_id, year))
                    result.sections += self.section_rows(state, school_id, year)
            for year, before, after in changes.status:
                result.statuses.append(self.status_row(code, year, after, before))
            applied = [e for (_, e), o in zip(items, outcomes) if o.outcome == APPLIED]
            years = changed_years(state, applied, changes)
            if years:
                result.district_gaps += self.gaps.district_rows(state, years)
                outlook = self.gaps.outlook_row(state)
                if outlook is not None:
                    result.outlooks.append(outlook)
        for school_id, code in claims.items():  # a registration the state refused claims nothing
            if school_id in self.state(code).schools:
                self.school_owners[school_id] = code
        return result

    @staticmethod
    def _dead(result: BatchResult, rec: Record, reason: str) -> None:
        """Dead-letter `rec` for a reason string of the contract check, the suites or the rules."""
        result.dead_letters.append(DeadLetter.of(rec.raw, reason, rec.origin))
        result.counts[DEAD_LETTERED] += 1

    @staticmethod
    def _dead_as(result: BatchResult, rec: Record, code: str, message: str) -> None:
        result.dead_letters.append(DeadLetter(rec.raw, code, message, rec.origin))
        result.counts[DEAD_LETTERED] += 1

    def section_rows(self, state: DistrictState, school_id: str, year: int) -> list[dict[str, Any]]:
        """The school's sections as the engine now judges them (an inactive school: no rows,
        and a row with `active` false so a reader knows it left)."""
        ev = state.schools[school_id].evals.get(year)
        if ev is None or not ev.active:
            return [
                {
                    "district_code": state.code,
                    "school_id": school_id,
                    "year": year,
                    "section": None,
                    "active": False,
                    "students": None,
                    "included": None,
                    "indicators_met": None,
                    "passed": None,
                    "reason": "school not active this year",
                    "values": "{}",
                    "met": "{}",
                    "gap_options": None,
                    "gap_catalogue_version": self.gaps.catalogue_version,
                }
            ]
        rows = []
        for level, s in ev.sections.items():
            rows.append(
                {
                    "district_code": state.code,
                    "school_id": school_id,
                    "year": year,
                    "section": level,
                    "active": True,
                    "students": s.students,
                    "included": s.included,
                    "indicators_met": s.indicators_met,
                    "passed": s.passed,
                    "reason": s.reason or s.excluded_reason,
                    "values": json.dumps(dict(zip(self.indicator_ids, s.values))),
                    "met": json.dumps(dict(zip(self.indicator_ids, s.met))),
                    "gap_options": self.gaps.section_options(state, school_id, year, level, s.passed),
                    "gap_catalogue_version": self.gaps.catalogue_version,
                }
            )
        return rows

    @staticmethod
    def status_row(code: str, year: int, summary: Any, before: Any = None) -> dict[str, Any]:
        row = {"district_code": code, "year": year}
        row.update(summary.to_dict())
        row["failed_items"] = json.dumps(row["failed_items"])
        row["undecided_items"] = json.dumps(row["undecided_items"])
        row["previous_attained"] = None if before is None else before.attained
        return row
