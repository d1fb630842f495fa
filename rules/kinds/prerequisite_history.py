"""`prerequisite_history` (PRE-2, where the catalogue's params.setting enables it): in each of
the `years` years before, the comprehensive CV of each level (the mean of the RA-CV rule's
coefficients) stayed within the level's threshold. Reads past years' coefficients through
DistrictView.history_cv; judged with the district's facts (it is not re-judged after a school
event of an earlier year). SQL: dbt_project/macros/kinds/prerequisite_history.sql.
"""

from __future__ import annotations

from typing import Any, Final

from rules.kinds.base import DistrictView, Judge, RuleKind, result
from rules.logic import all_of, compare
from rules.model import Rule, RuleResult


class PrerequisiteHistory(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        if not judge.settings.get(rule.params["setting"]):
            return result(rule, view, True, inputs={"enabled": False}, reason="not required here")
        if view.history_cv is None or judge.balance is None:
            return result(rule, view, None, reason="no history available")
        verdicts: list[bool | None] = []
        inputs: dict[str, Any] = {}
        indicators = judge.balance.params["indicators"]
        for back in range(1, int(rule.params["years"]) + 1):
            y = view.year - back
            for lv in rule.levels:
                cvs = [view.history_cv(y, lv, ind) for ind in indicators]
                present = [c for c, has in cvs if has]
                if not present:
                    continue
                known = [c for c in present if c is not None]
                if len(known) < len(present):
                    verdicts.append(None)
                    inputs[f"{y}/{lv}"] = None
                    continue
                comprehensive = sum(known) / len(known)
                inputs[f"{y}/{lv}"] = comprehensive
                verdicts.append(compare(comprehensive, rule.comparator or "<=", rule.thresholds[lv]))
        passed = all_of(verdicts) if verdicts else None
        return result(
            rule, view, passed, inputs=inputs, reason=None if passed else "comprehensive CV history not met or unknown"
        )

    def school_derived(self, judge: Judge, rule: Rule) -> bool:
        return False  # it reads every district fact (the default)


KIND: Final[PrerequisiteHistory] = PrerequisiteHistory("prerequisite_history")
