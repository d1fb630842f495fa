"""What one school adds to its district's running totals for one year.

The district never re-reads its schools: it keeps counters and exact moment sums, and a
changed school retracts its previous contribution and adds the new one. A contribution is
therefore plain data (a counter dict and a list of moment terms), remembered per school and
year so that the retraction subtracts exactly what was added.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rules.sections import STAFF_SUM_FIELDS, SchoolEval, SectionEvaluator

Pair = tuple[str, str]  # (level, indicator id)


@dataclass(slots=True)
class Contribution:
    counters: dict[str, int] = field(default_factory=dict)
    terms: dict[Pair, tuple[int, float]] = field(default_factory=dict)  # pair → (students, value)


def _bump(counters: dict[str, int], key: str, by: int = 1) -> None:
    counters[key] = counters.get(key, 0) + by


class _Keys:
    """Counter names, built once per evaluator instead of formatted per event."""

    def __init__(self, evaluator: SectionEvaluator) -> None:
        ras_id = evaluator.ras.id if evaluator.ras else "RA-S"
        self.level: dict[str, tuple[str, ...]] = {
            lv: (f"excluded:{lv}", f"sections_unknown:{lv}", f"{ras_id}:{lv}:undecided", f"sections_empty:{lv}",
                 f"sections:{lv}", f"students:{lv}", f"{ras_id}:{lv}:fail")
            for lv in evaluator.levels}
        self.missing: dict[str, tuple[str, ...]] = {
            lv: tuple(f"{ind}:{lv}:missing" for ind in evaluator.indicator_ids) for lv in evaluator.levels}
        self.pairs: dict[str, tuple[Pair, ...]] = {
            lv: tuple((lv, ind) for ind in evaluator.indicator_ids) for lv in evaluator.levels}
        self.checks: dict[str, tuple[str, str, str]] = {}
        self.sums = {name: f"sum:{name}" for name in STAFF_SUM_FIELDS}

    def check(self, rule_id: str) -> tuple[str, str, str]:
        keys = self.checks.get(rule_id)
        if keys is None:
            keys = self.checks[rule_id] = (f"{rule_id}:total", f"{rule_id}:fail", f"{rule_id}:undecided")
        return keys


_KEYS: dict[int, _Keys] = {}


def school_contribution(evaluator: SectionEvaluator, ev: SchoolEval) -> Contribution:
    """Counters and moment terms of one evaluated school (nothing if it is not active).
    Zero counts are left out, so equal contributions compare equal."""
    out = Contribution()
    if not ev.active:
        return out
    keys = _KEYS.get(id(evaluator))
    if keys is None:
        keys = _KEYS[id(evaluator)] = _Keys(evaluator)
    c = out.counters
    terms = out.terms
    c["schools"] = 1
    for level, s in ev.sections.items():
        excluded, unknown, ras_undecided, empty, sections, students, ras_fail = keys.level[level]
        if not s.included:
            c[excluded] = 1
            continue
        if s.students is None:
            c[unknown] = 1
            c[ras_undecided] = 1
            continue
        if s.students == 0:
            # no students: no weight and no per-student values; flagged, never divided by
            c[empty] = 1
            continue
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
    for rule_id, ok in ev.checks.items():
        total, fail, undecided = keys.check(rule_id)
        c[total] = 1
        if ok is False:
            c[fail] = 1
        elif ok is None:
            c[undecided] = 1
    if ev.staff_sums is None:
        c["sum:missing"] = 1
    else:
        for name, value in ev.staff_sums.items():
            if value:
                c[keys.sums[name]] = value
    if ev.large_classes:
        c["large_classes"] = ev.large_classes
    if ev.large is None:
        c["large:undecided"] = 1
    elif ev.large:
        c["large_schools"] = 1
    return out


def year_over_year_contribution(now: SchoolEval, before: SchoolEval | None, opened_now: bool) -> dict[str, int]:
    """The school's part in C3 (large schools resolved, none new) and C5 (non-compliant
    schools brought to compliance), which compare a year with the one before."""
    c: dict[str, int] = {}
    if not now.active:
        return c
    prev_large = None if before is None or not before.active else before.large
    if prev_large is None and opened_now:
        prev_large = False
    if prev_large is None or now.large is None:
        _bump(c, "C3:undecided")
    elif prev_large:
        _bump(c, "C3:prev_large")
        if not now.large:
            _bump(c, "C3:resolved")
    elif now.large:
        _bump(c, "C3:new_large")
    prev_nc = None if before is None or not before.active else before.noncompliant
    if prev_nc is None:
        if not opened_now:
            _bump(c, "C5:undecided")
    elif prev_nc:
        if now.noncompliant is None:
            _bump(c, "C5:undecided")
        else:
            _bump(c, "C5:prev_noncompliant")
            if not now.noncompliant:
                _bump(c, "C5:fixed")
    return c
