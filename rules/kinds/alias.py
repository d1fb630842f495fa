"""`alias` (C7, C8, C9): a city target that is another rule (params.rule) under its own id; its
verdict, value and reason are the target's, and it reads what the target reads. An alias may not
point at an alias (the loader refuses it). SQL: dbt_project/macros/kinds/alias.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import DistrictView, Judge, RuleKind, result
from rules.model import Rule, RuleResult


class Alias(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        inner = judge.evaluate(judge.catalogue.rule(rule.params["rule"]), view)
        return result(
            rule,
            view,
            inner.passed,
            value=inner.value,
            threshold=inner.threshold,
            comparator=inner.comparator,
            inputs={**inner.inputs, "as": inner.rule_id},
            reason=inner.reason,
        )

    def verdict(self, judge: Judge, rule: Rule, view: DistrictView) -> bool | None:
        return judge.verdict(judge.catalogue.rule(rule.params["rule"]), view)

    def school_derived(self, judge: Judge, rule: Rule) -> bool:
        target = judge.target(rule)
        return judge.kind(target).school_derived(judge, target)

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        target = judge.target(rule)
        return judge.kind(target).reads_counter(judge, target, key)

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        target = judge.target(rule)
        return judge.kind(target).reads_fact(judge, target, fact)

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        target = judge.target(rule)
        return judge.kind(target).reads_moments(judge, target)

    def reads_pair_verdicts(self, judge: Judge, rule: Rule) -> bool:
        target = judge.target(rule)
        return judge.kind(target).reads_pair_verdicts(judge, target)


KIND: Final[Alias] = Alias("alias")
