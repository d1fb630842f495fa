"""`prerequisite` (PRE): the district attained basic balance at least
min_years_since_basic_balance years before the year judged (district.registered's
basic_balance_year; unknown is undecided). Reads the district fact "registered".
SQL: dbt_project/macros/kinds/prerequisite.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import DistrictView, Judge, RuleKind, result
from rules.model import Rule, RuleResult


class Prerequisite(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        need = int(rule.params["min_years_since_basic_balance"])
        year = view.profile.get("basic_balance_year") if view.profile else None
        if year is None:
            return result(rule, view, None, inputs={"basic_balance_year": None}, reason="basic-balance year unknown")
        gap = view.year - int(year)
        passed = gap >= need
        return result(
            rule,
            view,
            passed,
            value=float(gap),
            threshold=float(need),
            comparator=">=",
            inputs={"basic_balance_year": year},
            reason=None if passed else f"basic balance only {gap} years before",
        )

    def school_derived(self, judge: Judge, rule: Rule) -> bool:
        return False

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return fact == "registered"


KIND: Final[Prerequisite] = Prerequisite("prerequisite")
