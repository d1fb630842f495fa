"""`large_school_reduction` (C3): of the district's schools that were large-scale last year, at
least min_resolved_pct % are no longer, and no school became large-scale.

Counters (school_counters(), added per school-year by the state and the batch evaluation):
PREV_LARGE, RESOLVED, UNDECIDED and NEW_LARGE; a school new this year counts as not large last
year. SQL: dbt_project/macros/kinds/large_school_reduction.sql (per school:
int_school_year_over_year.sql).
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import DistrictView, Judge, RuleKind, rate_result
from rules.model import Rule, RuleResult
from rules.sections import SchoolEval

PREV_LARGE: Final = "C3:prev_large"  # large-scale last year
RESOLVED: Final = "C3:resolved"  # … and no longer
UNDECIDED: Final = "C3:undecided"  # last year's or this year's size unknown
NEW_LARGE: Final = "C3:new_large"  # not large-scale last year, large-scale now


def school_counters(now: SchoolEval, before: SchoolEval | None, opened_now: bool, into: dict[str, int]) -> None:
    """What an active school adds for C3 this year, from this year's and last year's evaluations."""
    prev_large = None if before is None or not before.active else before.large
    if prev_large is None and opened_now:
        prev_large = False
    if prev_large is None or now.large is None:
        into[UNDECIDED] = into.get(UNDECIDED, 0) + 1
    elif prev_large:
        into[PREV_LARGE] = into.get(PREV_LARGE, 0) + 1
        if not now.large:
            into[RESOLVED] = into.get(RESOLVED, 0) + 1
    elif now.large:
        into[NEW_LARGE] = into.get(NEW_LARGE, 0) + 1


class LargeSchoolReduction(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        return rate_result(
            rule,
            view,
            PREV_LARGE,
            RESOLVED,
            UNDECIDED,
            float(rule.params["min_resolved_pct"]),
            extra_fail_key=NEW_LARGE,
            what="large-scale schools resolved",
        )

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return False

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        return key.startswith("C3:")

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        return False


KIND: Final[LargeSchoolReduction] = LargeSchoolReduction("large_school_reduction")
