"""`balance` (RA-CV): for each level the district has and each listed indicator, the
enrolment-weighted coefficient of variation across the district's sections within the level's
threshold.

The schools add to each (level, indicator) coefficient a moment term (rules/contributions.py) and,
when a section lacks the indicator's input, the counter missing_key(): the coefficient is then
undecided. The incremental state keeps each pair's verdict (pair_verdict(), in
DistrictView.balance_parts), and the rule's fast verdict reads only those. SQL:
dbt_project/macros/kinds/balance.sql (the coefficients themselves: int_district_balance.sql).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from rules.kinds.base import SECTIONS, SECTIONS_UNKNOWN, DistrictView, Judge, RuleKind, result
from rules.logic import all_of, compare
from rules.model import Rule, RuleResult

_MISSING_KEYS: dict[tuple[str, str], str] = {}


def missing_key(level: str, indicator: str) -> str:
    """The counter of the level's sections lacking the indicator's input."""
    pair = (level, indicator)
    key = _MISSING_KEYS.get(pair)
    if key is None:
        key = _MISSING_KEYS[pair] = f"{indicator}:{level}:missing"
    return key


def pair_verdict(rule: Rule, view: DistrictView, level: str, indicator: str) -> bool | None:
    """RA-CV for one pair, without building its explanation."""
    m = view.moments.get((level, indicator))
    if m is None or m.count == 0:
        return None
    if view.counters.get(missing_key(level, indicator)):
        return None
    cv = m.cv()
    return None if cv is None else compare(cv, rule.comparator or "<=", rule.thresholds[level])


def pair_result(rule: Rule, view: DistrictView, level: str, indicator: str) -> RuleResult:
    """RA-CV for one level and indicator: the enrolment-weighted CV against its threshold."""
    m = view.moments.get((level, indicator))
    missing = view.count(missing_key(level, indicator))
    threshold = rule.thresholds[level]
    inputs = {
        "level": level,
        "indicator": indicator,
        "sections": m.count if m else 0,
        "students": m.weight if m else 0,
        "weighted_mean": m.mean() if m else None,
        "sections_missing_input": missing,
    }
    cv = m.cv() if m is not None and not m.is_empty() else None
    passed = pair_verdict(rule, view, level, indicator)
    reason: str | None
    if cv is None:
        reason = "no section with students and inputs" if not m or m.is_empty() else "weighted mean is zero"
        passed = None
    elif missing:
        reason = f"{missing} sections lack inputs"
    else:
        reason = None if passed else f"CV {cv:.3f} above {threshold}"
    return RuleResult(
        rule_id=rule.id,
        subject=f"{view.code}/{level}/{indicator}",
        year=view.year,
        passed=passed,
        value=cv,
        threshold=threshold,
        comparator=rule.comparator,
        inputs=inputs,
        clause=rule.clause.cite(),
        reason=reason,
        severity=rule.severity,
    )


class Balance(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        parts = [
            pair_result(rule, view, lv, ind)
            for lv in view.levels_present(rule.levels)
            for ind in rule.params["indicators"]
        ]
        passed = all_of(p.passed for p in parts) if parts else None
        failing = [p.subject.split("/", 1)[1] for p in parts if p.passed is False]
        reason = (
            "coefficients above threshold: " + ", ".join(failing)
            if failing
            else "no sections reported"
            if not parts
            else "some coefficients undecided"
            if passed is None
            else None
        )
        return result(
            rule,
            view,
            passed,
            value=float(len(failing)) if parts else None,  # no level: no count (the SQL's is null too)
            threshold=0.0,
            comparator="<=",
            inputs={p.subject.split("/", 1)[1]: p.value for p in parts},
            reason=reason,
        )

    def verdict(self, judge: Judge, rule: Rule, view: DistrictView) -> bool | None:
        parts = view.balance_parts
        if parts is None:  # a view without the state's per-pair verdicts (rules/batch.py)
            return self.evaluate(judge, rule, view).passed
        return _from_parts(judge, rule, view, parts)

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return False

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        # levels_present(); its coefficients arrive as dirty pairs
        return key.startswith((SECTIONS, SECTIONS_UNKNOWN))

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        return False

    def reads_pair_verdicts(self, judge: Judge, rule: Rule) -> bool:
        return True


def _from_parts(
    judge: Judge, rule: Rule, view: DistrictView, parts: Mapping[tuple[str, str], bool | None]
) -> bool | None:
    """RA-CV from its per-pair verdicts over the levels present (levels_present()), as
    all_of() but with the membership tests done in C on a list."""
    c = view.counters
    verdicts: list[bool | None] = []
    for sections, unknown, pairs in _keys(judge, rule):
        if c.get(sections) or c.get(unknown):
            verdicts += map(parts.get, pairs)
    if not verdicts:
        return None
    # verdicts hold only True, False and None, so `in` (identity, then ==) is all_of's test
    return False if False in verdicts else None if None in verdicts else True


def _keys(judge: Judge, rule: Rule) -> Any:
    """Per level (sections, sections_unknown, its (level, indicator) pairs), once per rule."""
    keys = judge.keys.get(rule.id)
    if keys is None:
        keys = judge.keys[rule.id] = tuple(
            (SECTIONS + lv, SECTIONS_UNKNOWN + lv, tuple((lv, ind) for ind in rule.params["indicators"]))
            for lv in rule.levels
        )
    return keys


KIND: Final[Balance] = Balance("balance")
