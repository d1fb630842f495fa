"""`veto` (V1–V5): raised (passed = False) when the district's latest inspection of params.item
failed. No inspection on file is undecided, or clear where the catalogue sets
`veto_without_inspection: clear`. Reads the district fact "inspection:<item>".
SQL: dbt_project/macros/kinds/veto.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import DistrictView, Judge, RuleKind, result
from rules.model import Rule, RuleResult


class Veto(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        """passed=False means the veto is raised."""
        item = rule.params["item"]
        found = view.inspections.get(item)
        if found is None:
            if judge.settings.get("veto_without_inspection") == "clear":
                return result(rule, view, True, inputs={"item": item}, reason=None)
            return result(rule, view, None, inputs={"item": item}, reason=f"no inspection of {item}")
        raised = found["result"] == "fail"
        return result(
            rule,
            view,
            not raised,
            inputs={"item": item, "result": found["result"]},
            reason=f"veto raised: {found.get('note', '')}" if raised else None,
        )

    def school_derived(self, judge: Judge, rule: Rule) -> bool:
        return False

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return bool(fact == "inspection:" + rule.params["item"])


KIND: Final[Veto] = Veto("veto")
