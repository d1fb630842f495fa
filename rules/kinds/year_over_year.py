"""`year_over_year` (C11, C12): each checked district statistic compares with the comparator to
its own value last year (district.statistics of this year and the year before; either unknown is
undecided). Reads the district fact "statistics" (of this year and, through the state, of the
year before). SQL: dbt_project/macros/kinds/year_over_year.sql.
"""

from __future__ import annotations

from typing import Any, Final

from rules.kinds.base import DistrictView, Judge, RuleKind, result
from rules.logic import all_of, compare
from rules.model import Rule, RuleResult


class YearOverYear(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        verdicts: list[bool | None] = []
        inputs: dict[str, Any] = {}
        reasons: list[str] = []
        for check in rule.checks:
            name = (check.input or "")[5:]
            now = view.stats.get(name) if view.stats else None
            before = view.stats_prev.get(name) if view.stats_prev else None
            inputs[name] = {"year": now, "previous_year": before}
            if now is None or before is None:
                verdicts.append(None)
                reasons.append(f"{name} unknown for {view.year if now is None else view.year - 1}")
                continue
            ok = compare(float(now), check.comparator, float(before))
            verdicts.append(ok)
            if not ok:
                reasons.append(f"{name} {now} not {check.comparator} last year's {before}")
        passed = all_of(verdicts)
        return result(rule, view, passed, inputs=inputs, reason="; ".join(reasons) or None)

    def school_derived(self, judge: Judge, rule: Rule) -> bool:
        return False

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return fact == "statistics"  # this year's and last year's statistics


KIND: Final[YearOverYear] = YearOverYear("year_over_year")
