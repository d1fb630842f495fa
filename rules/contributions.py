"""What one school adds to its district's running totals for one year.

The district never re-reads its schools: it keeps counters and exact moment sums, and a
changed school retracts its previous contribution and adds the new one. A contribution is
plain data (a counter dict and a dict of moment terms) computed from the school's
evaluation, so the state keeps the evaluation and retracts exactly what it added.

`school_contribution` states what a school adds; `move_contribution` applies the difference
between two evaluations of one school directly, touching only the counters and terms of what
differs (an update changes one fact, and most of a school's contribution stays as it was).
The property tests hold the incremental totals equal to sums of school_contribution().

The counters' names belong to the rule kinds that read them (rules/kinds/): this module adds
what a school contributes under those names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.kinds import balance, compliance_improvement, district_metric, large_school_reduction, section_rule
from rules.kinds.base import SCHOOLS, SECTIONS, SECTIONS_UNKNOWN, check_keys
from rules.kinds.no_large_classes_or_schools import LARGE_CLASSES, LARGE_SCHOOLS, LARGE_UNDECIDED
from rules.moments import WeightedMoments
from rules.sections import STAFF_SUM_FIELDS, SchoolEval, SectionEval, SectionEvaluator

Pair = tuple[str, str]  # (level, indicator id)


@dataclass(slots=True)
class Contribution:
    counters: dict[str, int] = field(default_factory=dict)
    terms: dict[Pair, tuple[int, float]] = field(default_factory=dict)  # pair → (students, value)


class ContributionKeys:
    """Counter names, built once per evaluator instead of formatted per event."""

    def __init__(self, evaluator: SectionEvaluator) -> None:
        ras_id = evaluator.ras.id if evaluator.ras else "RA-S"
        self.level: dict[str, tuple[str, ...]] = {}
        for lv in evaluator.levels:
            ras_fail, ras_undecided = section_rule.level_keys(ras_id, lv)
            self.level[lv] = (
                f"excluded:{lv}",
                SECTIONS_UNKNOWN + lv,
                ras_undecided,
                f"sections_empty:{lv}",
                SECTIONS + lv,
                f"students:{lv}",
                ras_fail,
            )
        self.missing: dict[str, tuple[str, ...]] = {
            lv: tuple(balance.missing_key(lv, ind) for ind in evaluator.indicator_ids) for lv in evaluator.levels
        }
        self.pairs: dict[str, tuple[Pair, ...]] = {
            lv: tuple((lv, ind) for ind in evaluator.indicator_ids) for lv in evaluator.levels
        }
        # an indicator's missing-input counter → the (level, indicator) coefficient it undecides
        self.pair_of_missing: dict[str, Pair] = {
            key: pair for lv in evaluator.levels for key, pair in zip(self.missing[lv], self.pairs[lv])
        }
        self.sums = {name: district_metric.sum_key(name) for name in STAFF_SUM_FIELDS}


# per evaluator (kept with it, so that a recycled id() can never return another's keys)
_KEYS: dict[int, tuple[SectionEvaluator, ContributionKeys]] = {}


def contribution_keys(evaluator: SectionEvaluator) -> ContributionKeys:
    entry = _KEYS.get(id(evaluator))
    if entry is None or entry[0] is not evaluator:
        entry = _KEYS[id(evaluator)] = (evaluator, ContributionKeys(evaluator))
    return entry[1]


def school_contribution(evaluator: SectionEvaluator, ev: SchoolEval) -> Contribution:
    """Counters and moment terms of one evaluated school (nothing if it is not active).
    Zero counts are left out, so equal contributions compare equal."""
    return _contribution(contribution_keys(evaluator), ev)


def _contribution(keys: ContributionKeys, ev: SchoolEval) -> Contribution:
    out = Contribution()
    if not ev.active:
        return out
    c = out.counters
    c[SCHOOLS] = 1
    if ev.locale:
        c[district_metric.LOCALE + ev.locale] = 1
    for level, s in ev.sections.items():
        _section_contribution(keys, level, s, c, out.terms)
    for rule_id, ok in ev.checks.items():
        total, fail, undecided = check_keys(rule_id)
        c[total] = 1
        if ok is False:
            c[fail] = 1
        elif ok is None:
            c[undecided] = 1
    if ev.staff_sums is None:
        c[district_metric.SUM_MISSING] = 1
    else:
        for name, value in ev.staff_sums.items():
            if value:
                c[keys.sums[name]] = value
    if ev.large_classes:
        c[LARGE_CLASSES] = ev.large_classes
    if ev.large is None:
        c[LARGE_UNDECIDED] = 1
    elif ev.large:
        c[LARGE_SCHOOLS] = 1
    return out


def _section_contribution(
    keys: ContributionKeys, level: str, s: SectionEval, c: dict[str, int], terms: dict[Pair, tuple[int, float]]
) -> None:
    """What one section adds: its counts and, for each indicator with a value, the moment
    term (students, value) of its (level, indicator) coefficient."""
    excluded, unknown, ras_undecided, empty, sections, students, ras_fail = keys.level[level]
    if not s.included:
        c[excluded] = 1
        return
    if s.students is None:
        c[unknown] = 1
        c[ras_undecided] = 1
        return
    if s.students == 0:
        # no students: no weight and no per-student values; flagged, never divided by
        c[empty] = 1
        return
    c[sections] = 1
    c[students] = s.students
    if s.passed is False:
        c[ras_fail] = 1
    elif s.passed is None:
        c[ras_undecided] = 1
    missing_keys = keys.missing[level]
    pairs = keys.pairs[level]
    weight = s.students
    for i, value in enumerate(s.values):
        if value is None:
            c[missing_keys[i]] = 1
        else:
            terms[pairs[i]] = (weight, value)


# ---------------------------------------------------------------------- differences
class Totals:
    """The running totals a move applies to, and what it moved: the counters whose value
    changed and the (level, indicator) coefficients whose inputs changed."""

    __slots__ = ("counters", "moments", "moved", "pairs")

    def __init__(
        self, counters: dict[str, int], moments: dict[Pair, WeightedMoments], moved: set[str], pairs: set[Pair]
    ) -> None:
        self.counters, self.moments, self.moved, self.pairs = counters, moments, moved, pairs

    def bump(self, key: str, by: int) -> None:
        self.counters[key] = self.counters.get(key, 0) + by
        self.moved.add(key)

    def term(self, pair: Pair, weight: int, before: float | None, after: float | None) -> None:
        """Replace the pair's term (weight, before) by (weight, after); None: no term."""
        m = self.moments.get(pair)
        if m is None:
            m = self.moments[pair] = WeightedMoments()
        if before is not None:
            m.remove(weight, before)
        if after is not None:
            m.add(weight, after)
        self.pairs.add(pair)

    def swap(self, pair: Pair, before: tuple[int, float] | None, after: tuple[int, float] | None) -> None:
        """Replace the pair's term `before` by `after` (weights may differ); None: no term."""
        m = self.moments.get(pair)
        if m is None:
            m = self.moments[pair] = WeightedMoments()
        if before is not None:  # two arguments, not *before: mypyc compiles that as a generic call
            m.remove(before[0], before[1])
        if after is not None:
            m.add(after[0], after[1])
        self.pairs.add(pair)


def move_contribution(keys: ContributionKeys, totals: Totals, old: SchoolEval | None, new: SchoolEval) -> None:
    """totals += contribution(new) − contribution(old), touching only what differs.

    `old` must be the evaluation whose contribution the totals hold, unchanged since: the
    state keeps each school-year's last evaluation as the record of what it added (the
    evaluator never mutates an evaluation or a section it has returned)."""
    if old is None or not old.active or not new.active:
        _diff(keys, totals, _contribution(keys, old) if old is not None else Contribution(), _contribution(keys, new))
        return
    _move_school(keys, totals, old, new)
    if old.sections is new.sections:  # the evaluator reused them: no section changed
        return
    for level, s in new.sections.items():
        before = old.sections.get(level)
        if before is not s:
            _move_section(keys, totals, level, before, s)
    for level, before in old.sections.items():
        if level not in new.sections:
            _move_section(keys, totals, level, before, None)


def _diff(keys: ContributionKeys, totals: Totals, before: Contribution, after: Contribution) -> None:
    """totals += after − before, for two whole contributions."""
    old_c, new_c = before.counters, after.counters
    if not old_c and not before.terms:  # a school-year's first evaluation: everything is new
        for k, v in new_c.items():
            if v:
                _bump_counter(keys, totals, k, v)
        for pair, term in after.terms.items():
            totals.swap(pair, None, term)
        return
    for k, v in new_c.items():
        d = v - old_c.get(k, 0)
        if d:
            _bump_counter(keys, totals, k, d)
    for k, v in old_c.items():
        if k not in new_c:
            _bump_counter(keys, totals, k, -v)
    old_t, new_t = before.terms, after.terms
    for pair, term in new_t.items():
        prev = old_t.get(pair)
        if prev != term:
            totals.swap(pair, prev, term)
    for pair, prev in old_t.items():
        if pair not in new_t:
            totals.swap(pair, prev, None)


def _bump_counter(keys: ContributionKeys, totals: Totals, key: str, by: int) -> None:
    totals.bump(key, by)
    pair = keys.pair_of_missing.get(key)
    if pair is not None:  # a missing-input count moves its coefficient's verdict
        totals.pairs.add(pair)


_ABSENT = object()  # a check the other evaluation does not have


def _move_school(keys: ContributionKeys, totals: Totals, old: SchoolEval, new: SchoolEval) -> None:
    """The school-level counters (checks, staff sums, large classes and schools) of two
    evaluations of an active school; each comparison of equal fields is one step in C."""
    if old.locale != new.locale:
        if old.locale:
            totals.bump(district_metric.LOCALE + old.locale, -1)
        if new.locale:
            totals.bump(district_metric.LOCALE + new.locale, 1)
    if old.checks != new.checks:
        for rule_id, ok in new.checks.items():
            before = old.checks.get(rule_id, _ABSENT)
            if before is not ok:
                total, fail, undecided = check_keys(rule_id)
                if before is _ABSENT:
                    totals.bump(total, 1)
                elif before is not True:
                    totals.bump(fail if before is False else undecided, -1)
                if ok is not True:
                    totals.bump(fail if ok is False else undecided, 1)
        for rule_id, before in old.checks.items():
            if rule_id not in new.checks:
                total, fail, undecided = check_keys(rule_id)
                totals.bump(total, -1)
                if before is not True:
                    totals.bump(fail if before is False else undecided, -1)
    if old.staff_sums != new.staff_sums:
        if old.staff_sums is None:
            totals.bump(district_metric.SUM_MISSING, -1)
        if new.staff_sums is None:
            totals.bump(district_metric.SUM_MISSING, 1)
        was, now = old.staff_sums or {}, new.staff_sums or {}
        for name, key in keys.sums.items():
            d = now.get(name, 0) - was.get(name, 0)
            if d:
                totals.bump(key, d)
    if old.large_classes != new.large_classes:
        totals.bump(LARGE_CLASSES, new.large_classes - old.large_classes)
    if old.large is not new.large:
        if old.large is not False:
            totals.bump(LARGE_UNDECIDED if old.large is None else LARGE_SCHOOLS, -1)
        if new.large is not False:
            totals.bump(LARGE_UNDECIDED if new.large is None else LARGE_SCHOOLS, 1)


def _move_section(
    keys: ContributionKeys, totals: Totals, level: str, old: SectionEval | None, new: SectionEval | None
) -> None:
    if (
        old is not None
        and new is not None
        and old.included
        and new.included
        and old.students == new.students
        and old.students
    ):
        _move_indicators(keys, totals, level, old, new)
        return
    # students or inclusion changed (so has every term's weight): compare whole parts
    before, after = Contribution(), Contribution()
    if old is not None:
        _section_contribution(keys, level, old, before.counters, before.terms)
    if new is not None:
        _section_contribution(keys, level, new, after.counters, after.terms)
    _diff(keys, totals, before, after)


def _move_indicators(keys: ContributionKeys, totals: Totals, level: str, old: SectionEval, new: SectionEval) -> None:
    """Two evaluations of a counted section with the same students: only RA-S and the
    indicators whose value changed move (a staff update, say, moves R1–R3 alone)."""
    if old.passed is not new.passed:
        _, _, ras_undecided, _, _, _, ras_fail = keys.level[level]
        if old.passed is not True:
            totals.bump(ras_fail if old.passed is False else ras_undecided, -1)
        if new.passed is not True:
            totals.bump(ras_fail if new.passed is False else ras_undecided, 1)
    weight = old.students
    assert weight is not None
    missing_keys, pairs = keys.missing[level], keys.pairs[level]
    for i, (before, after) in enumerate(zip(old.values, new.values)):
        if before == after:  # the same value, or None twice
            continue
        if before is None:
            totals.bump(missing_keys[i], -1)
        elif after is None:
            totals.bump(missing_keys[i], 1)
        totals.term(pairs[i], weight, before, after)


def year_over_year_contribution(now: SchoolEval, before: SchoolEval | None, opened_now: bool) -> dict[str, int]:
    """The school's part in the rules comparing a year with the one before: C3 (large schools
    resolved, none new) and C5 (non-compliant schools brought to compliance)."""
    c: dict[str, int] = {}
    if not now.active:
        return c
    large_school_reduction.school_counters(now, before, opened_now, c)
    compliance_improvement.school_counters(now, before, opened_now, c)
    return c
