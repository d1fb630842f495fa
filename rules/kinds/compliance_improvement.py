"""`compliance_improvement` (C5): of the district's schools that were not compliant last year (a
section missing one of the listed indicators, or the rooms rule failing), at least min_fixed_pct %
are compliant now.

Counters (school_counters(), added per school-year by the state and the batch evaluation):
PREV_NONCOMPLIANT, FIXED and UNDECIDED; a school new this year counts as not previously
non-compliant. Each school's compliance is judged by SectionEvaluator._noncompliant
(rules/sections.py). SQL: dbt_project/macros/kinds/compliance_improvement.sql (per school:
int_school_year_over_year.sql).
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import DistrictView, Judge, RuleKind, rate_result
from rules.model import Rule, RuleResult
from rules.sections import SchoolEval

PREV_NONCOMPLIANT: Final = "C5:prev_noncompliant"  # not compliant last year
FIXED: Final = "C5:fixed"  # … and compliant now
UNDECIDED: Final = "C5:undecided"  # last year's or this year's compliance unknown


def school_counters(now: SchoolEval, before: SchoolEval | None, opened_now: bool, into: dict[str, int]) -> None:
    """What an active school adds for C5 this year, from this year's and last year's evaluations."""
    prev_nc = None if before is None or not before.active else before.noncompliant
    if prev_nc is None:
        if not opened_now:
            into[UNDECIDED] = into.get(UNDECIDED, 0) + 1
    elif prev_nc:
        if now.noncompliant is None:
            into[UNDECIDED] = into.get(UNDECIDED, 0) + 1
        else:
            into[PREV_NONCOMPLIANT] = into.get(PREV_NONCOMPLIANT, 0) + 1
            if not now.noncompliant:
                into[FIXED] = into.get(FIXED, 0) + 1


class ComplianceImprovement(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        return rate_result(
            rule,
            view,
            PREV_NONCOMPLIANT,
            FIXED,
            UNDECIDED,
            float(rule.params["min_fixed_pct"]),
            what="non-compliant schools brought to compliance",
        )

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return False

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        return key.startswith("C5:")

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        return False


KIND: Final[ComplianceImprovement] = ComplianceImprovement("compliance_improvement")
