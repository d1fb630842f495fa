"""`section_rule` (RA-S): every section of the district, level by level, meets enough of the
section indicators (each section is judged by SectionEvaluator._ras, rules/sections.py).

Counters: per level, the sections counted (base.SECTIONS, base.SECTIONS_UNKNOWN) and those failing
RA-S or undecided (level_keys()). A level without sections is not judged; no level at all is
undecided. SQL: dbt_project/macros/kinds/section_rule.sql.
"""

from __future__ import annotations

from typing import Any, Final

from rules.kinds.base import SECTIONS, SECTIONS_UNKNOWN, DistrictView, Judge, RuleKind, result
from rules.logic import all_of, from_counts
from rules.model import Rule, RuleResult


def level_keys(rule_id: str, level: str) -> tuple[str, str]:
    """The counters of the level's sections failing the rule and undecided by it."""
    return f"{rule_id}:{level}:fail", f"{rule_id}:{level}:undecided"


class SectionRule(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        verdicts, inputs = [], {}
        for lv in view.levels_present(rule.levels):
            fail_key, und_key = level_keys(rule.id, lv)
            fail = view.count(fail_key)
            und = view.count(und_key)
            total = view.count(SECTIONS + lv) + view.count(SECTIONS_UNKNOWN + lv)
            inputs[lv] = {"sections": total, "failed": fail, "undecided": und}
            verdicts.append(from_counts(fail, und, total))
        passed = all_of(verdicts) if verdicts else None
        failed = sum(v["failed"] for v in inputs.values())
        reason = (
            f"{failed} sections fail RA-S"
            if passed is False
            else "no sections reported"
            if not verdicts
            else "some sections undecided"
            if passed is None
            else None
        )
        # no level judged: no count to report (the SQL's value is null too), so no outlook draws a
        # trend through a year without sections as if none of them failed
        value = float(failed) if verdicts else None
        return result(rule, view, passed, value=value, threshold=0.0, comparator="<=", inputs=inputs, reason=reason)

    def verdict(self, judge: Judge, rule: Rule, view: DistrictView) -> bool | None:
        verdicts = []
        c = view.counters
        for sections, unknown, fail, undecided in _keys(judge, rule):
            total = c.get(sections, 0) + c.get(unknown, 0)
            if total:
                verdicts.append(from_counts(c.get(fail, 0), c.get(undecided, 0), total))
        return all_of(verdicts) if verdicts else None

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return False

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        return key.startswith((rule.id + ":", SECTIONS, SECTIONS_UNKNOWN))

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        return False


def _keys(judge: Judge, rule: Rule) -> Any:
    """Per level (sections, sections_unknown, fail, undecided), formatted once per rule."""
    keys = judge.keys.get(rule.id)
    if keys is None:
        keys = judge.keys[rule.id] = tuple(
            (SECTIONS + lv, SECTIONS_UNKNOWN + lv, *level_keys(rule.id, lv)) for lv in rule.levels
        )
    return keys


KIND: Final[SectionRule] = SectionRule("section_rule")
