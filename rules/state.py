"""The per-district state machine: apply one event, learn what changed.

One `DistrictState` holds everything about one district (the unit of the coefficient of
variation), which is why Kafka keys events by district_code. `apply` is idempotent (a
repeated event_id changes nothing), keeps the highest seq per fact (a late lower seq is
stale), and updates the district by retracting the changed school's old contribution and
adding its new one: no ordinary update re-reads the district's other schools.

Event ids. Per fact the state keeps the applied version's id and a bounded window of the last
``Engine.seen_window`` other ids it saw (superseded and stale versions), newest last: a
re-delivered recent version is then a duplicate, an older one comes out stale -- either way it
changes nothing. The window keeps a flood of stale versions linear in time and constant in
memory (every stale id used to stay, copied and scanned on each event). An index of those ids
(``event_ids``) dead-letters an id reused on *another* fact (``event_id_conflict``): ids are
unique per event, so a second fact under a known id is a producer's bug, never a new version.

The state serialises to plain data as its facts and their versions; derived totals are
rebuilt from the facts on load, so a restored state is exactly a replayed one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rules.accountability import Accountability, assess
from rules.city import DistrictYear
from rules.contributions import Totals, contribution_keys, move_contribution, year_over_year_contribution
from rules.district import AttainmentSummary, DistrictEvaluator, DistrictView, SummaryTally
from rules.facts import fact_key_str
from rules.loader import Catalogue
from rules.model import RuleResult
from rules.moments import WeightedMoments
from rules.sections import SchoolEval, SchoolFacts, SectionEvaluator

APPLIED, DUPLICATE, STALE, REJECTED = "applied", "duplicate", "stale", "rejected"
EVENT_ID_CONFLICT = "event_id_conflict"
#: other event ids remembered per fact (superseded and stale versions), newest last
SEEN_WINDOW = 16
_SCHOOL_FACT_FIELD = {
    "school.enrolment": "enrolment",
    "school.staff": "staff",
    "school.facilities": "facilities",
    "school.finance": "finance",
}


class Engine:
    """A catalogue with its evaluators, built once and shared by every district state."""

    def __init__(self, catalogue: Catalogue, seen_window: int = SEEN_WINDOW) -> None:
        self.catalogue = catalogue
        self.seen_window = seen_window
        self.sections = SectionEvaluator(catalogue)
        self.keys = contribution_keys(self.sections)
        self.district = DistrictEvaluator(catalogue)
        self.dimension_of = {r.id: r.dimension for r in self.district.attainment_rules}
        self.balance_rule = self.district.balance

    def new_state(self, district_code: str) -> DistrictState:
        return DistrictState(self, district_code)


@dataclass
class Changes:
    """What one applied event changed. Sections and balances are named, not materialised,
    so the hot path builds no output the caller does not read."""

    sections: list[tuple[str, int]] = field(default_factory=list)  # (school_id, year)
    balances: list[tuple[int, str, str]] = field(default_factory=list)  # (year, level, indicator)
    status: list[tuple[int, AttainmentSummary | None, AttainmentSummary]] = field(default_factory=list)


@dataclass
class ApplyResult:
    outcome: str
    reason: str | None = None
    changes: Changes | None = None


#: the result of every event applied within apply_batch (shared: results are never mutated)
_APPLIED_IN_BATCH = ApplyResult(APPLIED)
_DUPLICATE = ApplyResult(DUPLICATE)


@dataclass
class _School:
    profiles: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    facts: dict[int, SchoolFacts] = field(default_factory=dict)
    evals: dict[int, SchoolEval] = field(default_factory=dict)
    yoy: dict[int, dict[str, int]] = field(default_factory=dict)

    def profile_for(self, year: int) -> Mapping[str, Any] | None:
        """The registration in force in a year: the latest one not after it, else the first."""
        if len(self.profiles) <= 1:  # the usual case: one registration, in force every year
            return next(iter(self.profiles.values()), None)
        years = [y for y in self.profiles if y <= year]
        return self.profiles[max(years) if years else min(self.profiles)]


@dataclass
class _Year:
    tally: SummaryTally  # the summary of `verdicts`, kept current verdict by verdict
    counters: dict[str, int] = field(default_factory=dict)
    moments: dict[tuple[str, str], WeightedMoments] = field(default_factory=dict)
    verdicts: dict[str, bool | None] = field(default_factory=dict)
    dirty_pairs: set[tuple[str, str]] = field(default_factory=set)
    dirty_keys: set[str] = field(default_factory=set)  # counters moved by school events
    dirty_facts: set[str] = field(default_factory=set)  # district facts changed (see rules_reading_facts)
    balance: dict[tuple[str, str], bool | None] = field(default_factory=dict)
    summary: AttainmentSummary | None = None
    view: DistrictView | None = None


class DistrictState:
    def __init__(self, engine: Engine, district_code: str) -> None:
        self.engine = engine
        self.code = district_code
        # fact key → (seq, event_id, the last seen_window other ids seen, newest last). Tuples,
        # replaced on change, because a district holds one per fact and the garbage collector
        # soon stops tracking tuples of numbers and strings, while it walks every list on each
        # full collection. Change them only through _remember, which keeps event_ids current.
        self.versions: dict[str, Sequence[Any]] = {}
        #: every event id held in `versions` → its fact key (the event_id_conflict check)
        self.event_ids: dict[str, str] = {}
        self.schools: dict[str, _School] = {}
        self.profiles: dict[int, Mapping[str, Any]] = {}
        self.stats: dict[int, Mapping[str, Any]] = {}
        self.inspections: dict[int, dict[str, Mapping[str, Any]]] = {}
        self.milestones: dict[int, dict[str, Mapping[str, Any]]] = {}
        self.projects: dict[int, dict[str, Mapping[str, Any]]] = {}
        self.years: dict[int, _Year] = {}
        self._dirty_years: set[int] = set()
        self._batch_changes: Changes | None = None  # set while apply_batch runs
        self._pending: dict[tuple[str, int], None] = {}  # school-years to re-evaluate at flush (batches)

    # ------------------------------------------------------------------ apply
    def apply(self, event: Mapping[str, Any]) -> ApplyResult:
        """Apply one validated event. Rejects (without changing anything) an event for
        another district or for a school never registered here."""
        if event["district_code"] != self.code:
            return ApplyResult(REJECTED, f"wrong_district: event for {event['district_code']} sent to {self.code}")
        etype = event["event_type"]
        school_id = event.get("school_id")
        if etype.startswith("school.") and etype != "school.registered" and school_id not in self.schools:
            return ApplyResult(REJECTED, f"unknown_school: {school_id} is not registered in {self.code}")
        key = fact_key_str(event)
        # UUIDs compare case-insensitively (the contract accepts either case)
        seq, event_id = int(event["seq"]), str(event["event_id"]).lower()
        version = self.versions.get(key)
        if version is not None:
            applied_seq, applied_id, seen = version[0], version[1], version[2]
            if event_id == applied_id or event_id in seen:
                return _DUPLICATE
        other = self.event_ids.get(event_id)
        if other is not None:
            return ApplyResult(
                REJECTED,
                f"{EVENT_ID_CONFLICT}: event {event_id} was already used for {other}, "
                f"not {key}; an event id names one event",
            )
        if version is not None:
            if seq < applied_seq:
                self._remember(key, applied_seq, applied_id, seen, event_id)
                return ApplyResult(STALE, f"seq {seq} older than applied {applied_seq}")
            if seq == applied_seq:
                return ApplyResult(
                    REJECTED, f"seq_conflict: seq {seq} of {key} already applied from event {applied_id}"
                )
            self._remember(key, seq, event_id, seen, applied_id)
        else:
            self.versions[key] = (seq, event_id, ())
            self.event_ids[event_id] = key
        batch = self._batch_changes
        if batch is not None:  # in a batch: the batch's changes collect it; judged at flush()
            self._store(etype, school_id, int(event["year"]), event["payload"], batch)
            return _APPLIED_IN_BATCH
        changes = Changes()
        self._store(etype, school_id, int(event["year"]), event["payload"], changes)
        self.flush(changes)
        return ApplyResult(APPLIED, None, changes)

    def _remember(self, key: str, seq: int, applied_id: str, seen: Sequence[str], new_seen: str) -> None:
        """Set a fact's version: `applied_id` at `seq`, and `new_seen` added to the window of
        other ids (the oldest forgotten beyond ``seen_window``); `event_ids` follows."""
        window = self.engine.seen_window
        kept = (*seen, new_seen)
        if len(kept) > window:
            for old in kept[: len(kept) - window]:
                if self.event_ids.get(old) == key:
                    del self.event_ids[old]
            kept = kept[len(kept) - window :] if window > 0 else ()
        self.versions[key] = (seq, applied_id, kept)
        self.event_ids[applied_id] = key
        if new_seen in kept:
            self.event_ids[new_seen] = key

    def restore_version(self, key: str, seq: int, applied_id: str, seen: Iterable[str]) -> None:
        """Set a fact's version record as stored (a restore from files or a facts table): its
        window trimmed to ``seen_window``, `event_ids` kept current."""
        old = self.versions.get(key)
        if old is not None:
            for i in (old[1], *old[2]):
                if self.event_ids.get(i) == key:
                    del self.event_ids[i]
        window = self.engine.seen_window
        ids = tuple(str(i).lower() for i in seen)
        kept = ids[-window:] if window > 0 else ()
        applied = str(applied_id).lower()
        self.versions[key] = (int(seq), applied, kept)
        for i in (applied, *kept):
            self.event_ids[i] = key

    def apply_batch(self, events: Iterable[Mapping[str, Any]]) -> tuple[list[ApplyResult], Changes]:
        """Apply several events and judge the district once at the end: the outcome of each
        event, and every change of the batch together (the per-event results carry only the
        outcome and reason, no changes of their own: a batch builds one Changes, not one per
        event). Sections and coefficients are as exact as with apply(); status changes are
        reported once per batch, not per event."""
        changes = self._batch_changes = Changes()
        try:
            results = [self.apply(e) for e in events]
        finally:
            self._batch_changes = None
        self.flush(changes)
        return results, changes

    def flush(self, changes: Changes) -> None:
        """Re-judge what the applied events made dirty: the schools a batch changed, then
        changed coefficients, the school-derived and district-derived rules, and the
        summary if a verdict moved."""
        if self._pending:
            pending, self._pending = self._pending, {}
            for school_id, year in pending:
                self._recompute_school(school_id, self.schools[school_id], year)
        for year in sorted(self._dirty_years):
            agg = self.years[year]
            verdicts_moved = self._judge_pairs(year, agg, changes)
            rules = self._rules_to_judge(agg, verdicts_moved)
            agg.dirty_pairs = set()
            agg.dirty_keys = set()
            agg.dirty_facts = set()
            self._set_verdicts(year, agg, rules, changes)
        self._dirty_years.clear()

    def _judge_pairs(self, year: int, agg: _Year, changes: Changes) -> bool:
        """RA-CV of each (level, indicator) whose inputs moved; whether a verdict changed."""
        rule = self.engine.balance_rule
        if rule is None or not agg.dirty_pairs:
            return False
        ev, view, parts = self.engine.district, agg.view, agg.balance
        moved = False
        for pair in agg.dirty_pairs:
            v = ev.balance_verdict(rule, view, *pair)  # type: ignore[arg-type]
            if pair not in parts or parts[pair] is not v:
                parts[pair] = v
                moved = True
            changes.balances.append((year, *pair))
        return moved

    def _rules_to_judge(self, agg: _Year, pair_verdicts_moved: bool) -> tuple[Any, ...]:
        """Only the rules whose inputs moved: those reading a changed counter, coefficient
        or per-pair verdict, or a changed district fact. A finance update that flips no
        check, for instance, judges nothing; an inspection judges the rules of its item;
        a moved coefficient whose verdict stays judges nothing more."""
        ev = self.engine.district
        moments_moved = bool(agg.dirty_pairs and ev.moment_readers)
        rules: tuple[Any, ...] = ()
        if agg.dirty_keys or moments_moved or pair_verdicts_moved:
            rules = ev.rules_to_judge(agg.dirty_keys, moments_moved, pair_verdicts_moved)
        if agg.dirty_facts:
            rules = tuple({r.id: r for r in rules + ev.rules_reading_facts(agg.dirty_facts)}.values())
        return rules

    def _store(
        self, etype: str, school_id: str | None, year: int, payload: Mapping[str, Any], changes: Changes
    ) -> None:
        if etype in _SCHOOL_FACT_FIELD:
            school = self.schools[school_id]  # type: ignore[index]
            facts = school.facts.get(year)
            if facts is None:
                facts = school.facts[year] = SchoolFacts()
            facts.set(_SCHOOL_FACT_FIELD[etype], payload)
            self._school_changed(school_id, school, year, changes)  # type: ignore[arg-type]
        elif etype == "school.registered":
            school = self.schools.setdefault(school_id, _School())  # type: ignore[arg-type]
            school.profiles[year] = payload
            for y in sorted(set(school.facts) | {year}):
                self._school_changed(school_id, school, y, changes)  # type: ignore[arg-type]
        elif etype == "school.project":
            self.projects.setdefault(year, {})[f"{school_id}|{payload['kind']}"] = payload
        elif etype == "district.registered":
            self.profiles[year] = payload
            for y in list(self.years):
                self._refresh_district_rules(y, "registered")
        elif etype == "district.statistics":
            self.stats[year] = payload
            self._refresh_district_rules(year, "statistics")
        elif etype == "district.inspection":
            self.inspections.setdefault(year, {})[payload["item"]] = payload
            self._refresh_district_rules(year, "inspection:" + payload["item"])
        elif etype == "district.milestone":
            self.milestones.setdefault(year, {})[payload["kind"]] = payload

    # ------------------------------------------------------------------ incremental core
    def _year(self, year: int) -> _Year:
        y = self.years.get(year)
        if y is None:
            y = self.years[year] = _Year(tally=SummaryTally(self.engine.dimension_of))
            y.view = self._new_view(year, y)
        return y

    def _school_changed(self, school_id: str, school: _School, year: int, changes: Changes) -> None:
        """A fact of the school-year changed: re-evaluate it now, or in a batch once at
        flush(), however many of its facts the batch changes (within a 500-event batch of a
        city's stream, fewer than half of the school events are to distinct school-years)."""
        changes.sections.append((school_id, year))
        if self._batch_changes is not None:
            self._pending[(school_id, year)] = None
        else:
            self._recompute_school(school_id, school, year)

    def _recompute_school(self, school_id: str, school: _School, year: int) -> None:
        """Re-evaluate one school-year and move the district's totals by the difference
        between its old and new contribution; only what differs is touched."""
        engine = self.engine
        facts = school.facts.get(year) or SchoolFacts()
        facts.profile = school.profile_for(year)
        new_eval = engine.sections.evaluate(facts, year)
        old_eval = school.evals.get(year)
        agg = self._year(year)
        pairs: set[tuple[str, str]] = set()
        move_contribution(engine.keys, Totals(agg.counters, agg.moments, agg.dirty_keys, pairs), old_eval, new_eval)
        school.evals[year] = new_eval
        if old_eval is None or _yoy_inputs(old_eval) != _yoy_inputs(new_eval):
            self._refresh_yoy(school, year)
            if year + 1 in school.evals:
                self._refresh_yoy(school, year + 1)
        if pairs:
            agg.dirty_pairs |= pairs
        if agg.dirty_keys or pairs:  # dirty_keys is emptied only by flush(), with _dirty_years
            self._dirty_years.add(year)

    def _refresh_yoy(self, school: _School, year: int) -> None:
        profile = school.profile_for(year)
        opened_now = bool(profile) and profile.get("opened_year") == year  # type: ignore[union-attr]
        new = year_over_year_contribution(school.evals[year], school.evals.get(year - 1), opened_now)
        old = school.yoy.get(year)
        school.yoy[year] = new
        if (old or {}) == new:
            return
        agg = self._year(year)
        if old:
            _add_counters(agg.counters, old, -1)
        _add_counters(agg.counters, new, 1)
        # C3/C5 counters: rules reading them (none among the attainment rules today) are re-judged
        agg.dirty_keys.update(old or ())
        agg.dirty_keys.update(new)
        self._dirty_years.add(year)

    def _new_view(self, year: int, agg: _Year) -> DistrictView:
        return DistrictView(
            code=self.code,
            year=year,
            counters=agg.counters,
            moments=agg.moments,
            stats=self.stats.get(year),
            stats_prev=self.stats.get(year - 1),
            inspections=self.inspections.get(year, {}),
            profile=self._profile_for(year),
            history_cv=self._history_cv,
            balance_parts=agg.balance,
        )

    def _view(self, year: int) -> DistrictView:
        agg = self._year(year)
        return agg.view  # type: ignore[return-value]

    def _history_cv(self, year: int, level: str, indicator: str) -> tuple[float | None, bool]:
        agg = self.years.get(year)
        m = agg.moments.get((level, indicator)) if agg else None
        if m is None or m.is_empty():
            return None, False
        return m.cv(), True

    def _profile_for(self, year: int) -> Mapping[str, Any] | None:
        if not self.profiles:
            return None
        years = [y for y in self.profiles if y <= year]
        return self.profiles[max(years) if years else min(self.profiles)]

    def _refresh_district_rules(self, year: int, fact: str = "*") -> None:
        """A district fact of the year changed ("*": any may have): point the year's view at
        the current facts and have the rules reading that fact judged again."""
        agg = self._year(year)
        agg.view = self._new_view(year, agg)
        agg.dirty_facts.add(fact)
        self._dirty_years.add(year)
        nxt = self.years.get(year + 1)
        if nxt is not None:  # year-over-year rules of the next year read this year's facts
            nxt.view = self._new_view(year + 1, nxt)
            nxt.dirty_facts.add(fact)
            self._dirty_years.add(year + 1)

    def _set_verdicts(self, year: int, agg: _Year, rules: Iterable[Any], changes: Changes) -> None:
        ev = self.engine.district
        view = agg.view
        verdicts = agg.verdicts
        tally = agg.tally
        moved = len(verdicts) < len(self.engine.dimension_of)
        if moved:  # first sight of this year: every rule gets a verdict
            rules = ev.attainment_rules
        for r in rules:
            v = ev.verdict(r, view)  # type: ignore[arg-type]
            if r.id not in verdicts:
                verdicts[r.id] = v
                tally.judged(r.id, v)
                moved = True
            elif verdicts[r.id] is not v:
                tally.moved(r.id, verdicts[r.id], v)
                verdicts[r.id] = v
                moved = True
        if moved:
            summary = tally.summary()
            if summary != agg.summary:
                changes.status.append((year, agg.summary, summary))
                agg.summary = summary

    # ------------------------------------------------------------------ reading
    def summary(self, year: int) -> AttainmentSummary | None:
        agg = self.years.get(year)
        return agg.summary if agg else None

    def results(self, year: int) -> dict[str, RuleResult]:
        """Every attainment rule's result for the year with its explanation."""
        view = self._view(year)
        return {r.id: self.engine.district.evaluate(r, view) for r in self.engine.district.attainment_rules}

    def balance(self, year: int) -> dict[tuple[str, str], RuleResult]:
        """RA-CV per (level, indicator) for the levels the district has, explained."""
        rule = self.engine.balance_rule
        agg = self.years.get(year)
        if rule is None or agg is None:
            return {}
        view = self._view(year)
        return {
            (lv, ind): self.engine.district.balance_result(rule, view, lv, ind)
            for lv in view.levels_present(rule.levels)
            for ind in rule.params["indicators"]
        }

    def section_evals(self, year: int) -> Iterable[tuple[str, SchoolEval]]:
        for school_id, school in self.schools.items():
            ev = school.evals.get(year)
            if ev is not None and ev.active:
                yield school_id, ev

    def counters(self, year: int) -> Mapping[str, int]:
        agg = self.years.get(year)
        return {k: v for k, v in agg.counters.items() if v} if agg else {}

    def evaluate_rule(self, rule_id: str, year: int) -> RuleResult:
        """Any district-scoped rule (including city-plan targets) for a year."""
        return self.engine.district.evaluate(self.engine.catalogue.rule(rule_id), self._view(year))

    def accountability(self, year: int, as_of: dt.date) -> Accountability:
        """The district against the city plan for a statistical year, judged on `as_of`."""
        catalogue = self.engine.catalogue
        view = self._view(year)
        targets = {
            r.id: self.engine.district.evaluate(r, view)
            for r in catalogue.rules.values()
            if r.dimension == "city_target" and r.scope == "district" and r.in_force(year)
        }
        summary = self.summary(year)
        return assess(
            self.code,
            year,
            as_of,
            profile=self._profile_for(year),
            attained=summary.attained if summary else None,
            targets=targets,
            deadline_rules=catalogue.of_kind("deadline"),
            milestones=self.milestones.get(year, {}),
            plan_deadline_year=catalogue.settings.get("plan_deadline_year"),
        )

    def city_input(self, year: int) -> DistrictYear:
        summary = self.summary(year)
        return DistrictYear(
            district_code=self.code,
            attained=summary.attained if summary else None,
            projects=len(self.projects.get(year, {})),
            stats=dict(self.stats.get(year) or {}),
        )

    # ------------------------------------------------------------------ serialisation
    def to_state(self) -> dict[str, Any]:
        """Facts and versions only: derived totals are rebuilt on load."""
        return {
            "code": self.code,
            "versions": self.versions,
            "schools": {
                sid: {
                    "profiles": {str(y): p for y, p in s.profiles.items()},
                    "facts": {
                        str(y): {
                            f: getattr(facts, f) for f in _SCHOOL_FACT_FIELD.values() if getattr(facts, f) is not None
                        }
                        for y, facts in s.facts.items()
                    },
                }
                for sid, s in self.schools.items()
            },
            "profiles": {str(y): p for y, p in self.profiles.items()},
            "stats": {str(y): p for y, p in self.stats.items()},
            "inspections": {str(y): v for y, v in self.inspections.items()},
            "milestones": {str(y): v for y, v in self.milestones.items()},
            "projects": {str(y): v for y, v in self.projects.items()},
            # the years judged so far: a year the district was registered for before any school
            # event is not judged until that event, which lands its first status (from_state keeps it)
            "judged": sorted(y for y, agg in self.years.items() if agg.verdicts),
        }

    @classmethod
    def from_state(cls, engine: Engine, state: Mapping[str, Any]) -> DistrictState:
        self = cls(engine, state["code"])
        for k, v in state["versions"].items():
            self.restore_version(k, v[0], v[1], v[2])
        self.profiles = {int(y): p for y, p in state["profiles"].items()}
        self.stats = {int(y): p for y, p in state["stats"].items()}
        self.inspections = {int(y): dict(v) for y, v in state["inspections"].items()}
        self.milestones = {int(y): dict(v) for y, v in state["milestones"].items()}
        self.projects = {int(y): dict(v) for y, v in state["projects"].items()}
        sink = Changes()
        for sid, raw in state["schools"].items():
            school = self.schools[sid] = _School()
            school.profiles = {int(y): p for y, p in raw["profiles"].items()}
            for y, facts in raw["facts"].items():
                school.facts[int(y)] = SchoolFacts(**facts)
        for sid, school in self.schools.items():
            for y in sorted(set(school.facts) | set(school.profiles)):
                self._recompute_school(sid, school, y)
        judged = state.get("judged")
        if judged is None:  # a state saved before the judged years were recorded
            years = set(self.stats) | set(self.inspections) | set(self.profiles)
        else:
            years = {int(y) for y in judged}
        for y in sorted(years):
            self._refresh_district_rules(y)
        if judged is not None:
            # the years the saved state had not judged stay unjudged: judged here, their first
            # status would go into the throwaway sink and never land (a stream cut into two runs
            # lost it). Their dirty marks stay: the year's next event judges them all.
            self._dirty_years &= years
        self.flush(sink)
        return self


def _yoy_inputs(ev: SchoolEval) -> tuple[bool, bool | None, bool | None]:
    return ev.active, ev.large, ev.noncompliant


def _add_counters(into: dict[str, int], delta: Mapping[str, int], sign: int) -> None:
    for k, v in delta.items():
        into[k] = into.get(k, 0) + sign * v
