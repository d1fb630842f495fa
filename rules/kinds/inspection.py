"""`inspection` (G1, G2, G10, Q3, Q5–Q8): the district's latest inspection of params.item passed;
no inspection on file is undecided. Reads the district fact "inspection:<item>".
SQL: dbt_project/macros/kinds/inspection.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import DistrictView, Judge, RuleKind, result
from rules.model import Rule, RuleResult


class Inspection(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        item = rule.params["item"]
        found = view.inspections.get(item)
        if found is None:
            return result(rule, view, None, inputs={"item": item}, reason=f"no inspection of {item}")
        passed = found["result"] == "pass"
        return result(
            rule,
            view,
            passed,
            inputs={"item": item, "result": found["result"], "inspector": found.get("inspector")},
            reason=None if passed else f"inspection failed: {found.get('note', '')}",
        )

    def school_derived(self, judge: Judge, rule: Rule) -> bool:
        return False

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return bool(fact == "inspection:" + rule.params["item"])


KIND: Final[Inspection] = Inspection("inspection")
