"""`district_metric` (G7–G15, Q1, Q2, Q9, SR, C6, C13 …): checks of district inputs, each an
input (or a ratio of two) against a threshold or another input; the rule passes when all do.

Inputs are `stat.X` (the year's district.statistics) or `sum.X` (a staff field summed over the
district's schools: the counters sum_key(X), unknown while SUM_MISSING counts a school without
staff data). A check with `applies_to_locale` applies only where the district has schools of that
locale (the counters LOCALE + locale), else it is met as not applicable. A rule reading a sum or
a locale depends on school facts; one reading only statistics on the district's facts.
SQL: dbt_project/macros/kinds/district_metric.sql (the checks come from the district_checks seed).
"""

from __future__ import annotations

from typing import Any, Final

from rules.kinds.base import SCHOOLS, DistrictView, Judge, RuleKind, result
from rules.logic import all_of, compare
from rules.model import Check, Rule, RuleResult

SUM: Final = "sum:"  # + staff field: its sum over the district's schools
SUM_MISSING: Final = "sum:missing"  # schools without staff data (every sum is then unknown)
LOCALE: Final = "locale:"  # + urban, town or rural: the district's schools of the locale

_SUM_KEYS: dict[str, str] = {}  # "sum.X" → its counter "sum:X", formatted once


def sum_key(field_name: str) -> str:
    """The counter holding a staff field summed over the district's schools."""
    return SUM + field_name


def resolve(view: DistrictView, name: str) -> tuple[float | None, str | None]:
    """An input by its namespaced name: stat.X from district.statistics, sum.X summed over
    the district's schools (unknown while any school lacks the fact)."""
    if name.startswith("stat."):
        if view.stats is None:
            return None, "no district.statistics for the year"
        v = view.stats.get(name[5:])
        return (None, f"{name[5:]} not reported") if v is None else (float(v), None)
    if name.startswith("sum."):
        c = view.counters
        if not c.get(SCHOOLS):
            return None, "no schools reported"
        missing = c.get(SUM_MISSING, 0)
        if missing:
            return None, f"{missing} schools lack staff data"
        key = _SUM_KEYS.get(name)
        if key is None:
            key = _SUM_KEYS[name] = sum_key(name[4:])
        return float(c.get(key, 0)), None
    raise KeyError(name)


def check(
    c: Check, view: DistrictView, inputs: dict[str, Any] | None
) -> tuple[bool | None, float | None, float | None, str | None]:
    """One check's verdict, value, threshold and why it is undecided; the inputs read are
    recorded into `inputs` when the caller wants an explanation."""
    value: float | None
    threshold: float | None
    if c.applies_to_locale is not None:
        schools = view.count(LOCALE + c.applies_to_locale)
        if inputs is not None:
            inputs[f"{c.applies_to_locale}_schools"] = schools
        if schools == 0:
            if view.count(SCHOOLS) == 0:
                return None, None, None, "no schools reported"
            return True, None, None, f"not applicable: no {c.applies_to_locale} schools"
    if c.ratio:
        num, why_n = resolve(view, c.ratio[0])
        den, why_d = resolve(view, c.ratio[1])
        if inputs is not None:
            inputs.update({c.ratio[0]: num, c.ratio[1]: den})
        if num is None or den is None:
            return None, None, None, why_n or why_d
        if den == 0:
            return None, None, None, f"{c.ratio[1]} is zero"
        value = c.scale * num / den
    else:
        value, why = resolve(view, c.input)  # type: ignore[arg-type]
        if inputs is not None:
            inputs[c.input] = value  # type: ignore[index]
        if value is None:
            return None, None, None, why
    threshold = c.threshold
    if c.threshold_input:
        threshold, why = resolve(view, c.threshold_input)
        if inputs is not None:
            inputs[c.threshold_input] = threshold
        if threshold is None:
            return None, value, None, why
    return compare(value, c.comparator, float(threshold)), value, float(threshold), None  # type: ignore[arg-type]


class DistrictMetric(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        verdicts: list[bool | None] = []
        inputs: dict[str, Any] = {}
        reasons: list[str] = []
        # the figure shown is the first failing check's (the one the rule fails on), else the first
        # known one; its comparator goes with it. The first check's value beside a verdict decided
        # by another check would read "100 >= 100, failed" (and a gap to pass of 0: rules/gap_district.py)
        value = threshold = None
        comparator = rule.checks[0].comparator
        failing = False
        for c in rule.checks:
            ok, v, t, why = check(c, view, inputs)
            verdicts.append(ok)
            if ok is False and not failing:
                value, threshold, comparator, failing = v, t, c.comparator, True
            elif value is None and not failing and v is not None:
                value, threshold, comparator = v, t, c.comparator
            if why:
                reasons.append(why)
            elif ok is False:
                label = c.input or "/".join(c.ratio or ())
                reasons.append(f"{label} = {v:.4g}, needs {c.comparator} {t:.4g}")
        passed = all_of(verdicts)
        return result(
            rule,
            view,
            passed,
            value=value,
            threshold=threshold,
            comparator=comparator,
            inputs=inputs,
            reason="; ".join(reasons) if passed is not True and reasons else None,
        )

    def verdict(self, judge: Judge, rule: Rule, view: DistrictView) -> bool | None:
        checks = rule.checks
        if len(checks) == 1:  # the usual case: all_of() of one verdict is that verdict
            return check(checks[0], view, None)[0]
        return all_of([check(c, view, None)[0] for c in checks])

    def school_derived(self, judge: Judge, rule: Rule) -> bool:
        return any(n.startswith("sum.") for c in rule.checks for n in c.inputs()) or any(
            c.applies_to_locale for c in rule.checks
        )

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        # resolve() of sum.* inputs, locale counts; stat.* are district facts
        return key == SCHOOLS or key.startswith((SUM, LOCALE))

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return fact == "statistics" and any(n.startswith("stat.") for c in rule.checks for n in c.inputs())

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        return False


KIND: Final[DistrictMetric] = DistrictMetric("district_metric")
