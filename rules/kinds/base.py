"""The contract of a district rule kind, and what several kinds share.

A kind is a `RuleKind` subclass in its own module (`rules/kinds/<kind>.py`), instantiated once as
the module's `KIND`. The district evaluator (rules/district.py) is the `Judge` every method gets:
it holds the catalogue and the registry, and memoises what is formatted per rule. Kinds read the
district only through `DistrictView` (running totals and the district's own facts), never
through its schools, which is what keeps updates incremental.

The classes are native classes under mypyc: a method call on a `RuleKind` is a call through a
vtable, as fast as the branches on `rule.kind` it replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from rules.loader import Catalogue
from rules.logic import compare, from_counts
from rules.model import Rule, RuleResult
from rules.moments import WeightedMoments

# Counters every kind may read (the schools add them in rules/contributions.py).
SCHOOLS: Final = "schools"  # active schools of the district-year
SECTIONS: Final = "sections:"  # + level: sections with students
SECTIONS_UNKNOWN: Final = "sections_unknown:"  # + level: sections whose students are unknown


@dataclass
class DistrictView:
    """What district rules may read for one district and year."""

    code: str
    year: int
    counters: Mapping[str, int]
    moments: Mapping[tuple[str, str], WeightedMoments]
    stats: Mapping[str, Any] | None = None
    stats_prev: Mapping[str, Any] | None = None
    inspections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    profile: Mapping[str, Any] | None = None
    history_cv: Callable[[int, str, str], tuple[float | None, bool]] | None = None
    # RA-CV verdicts per (level, indicator) kept current by the incremental state
    balance_parts: Mapping[tuple[str, str], bool | None] | None = None

    def count(self, key: str) -> int:
        return self.counters.get(key, 0)

    def levels_present(self, levels: tuple[str, ...]) -> list[str]:
        c = self.counters
        return [lv for lv in levels if c.get(SECTIONS + lv) or c.get(SECTIONS_UNKNOWN + lv)]


class Judge:
    """What a kind may consult besides the view: the catalogue, the registry of kinds (an alias
    judges its target through it) and per-rule memos. rules.district.DistrictEvaluator is one."""

    def __init__(self, catalogue: Catalogue, kinds: dict[str, RuleKind]) -> None:
        self.catalogue = catalogue
        self.settings: Mapping[str, Any] = catalogue.settings
        self.kinds = kinds  # a dict, not a Mapping: compiled, its lookup per verdict is a direct one
        # the catalogue's RA-CV rule: PRE-2 reads the comprehensive CV of its indicators
        self.balance: Rule | None = next(iter(catalogue.of_kind("balance")), None)
        # counter names a rule's fast verdict reads, formatted once per rule (see the kinds)
        self.keys: dict[str, Any] = {}

    def kind(self, rule: Rule) -> RuleKind:
        return self.kinds[rule.kind]

    def evaluate(self, rule: Rule, view: DistrictView) -> RuleResult:
        """The rule's result with its explanation."""
        return self.kinds[rule.kind].evaluate(self, rule, view)

    def verdict(self, rule: Rule, view: DistrictView) -> bool | None:
        """The rule's verdict alone, for the hot path: by construction the same `passed` as
        evaluate()'s, which the tests check rule by rule."""
        return self.kinds[rule.kind].verdict(self, rule, view)

    def target(self, rule: Rule) -> Rule:
        """The rule an alias stands for (the rule itself if it is no alias)."""
        while rule.kind == "alias":
            rule = self.catalogue.rule(rule.params["rule"])
        return rule


class RuleKind:
    """One kind of district rule. The defaults are the safe assumptions for a kind that says
    nothing more: it reads every counter, every district fact and every coefficient, so it is
    judged again whenever anything of its district-year moves. Each kind narrows them to what it
    reads, which is what keeps an event from judging every rule again."""

    def __init__(self, name: str) -> None:
        self.name = name

    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        """The rule's result with its inputs, value, threshold, clause and reason."""
        raise NotImplementedError(self.name)

    def verdict(self, judge: Judge, rule: Rule, view: DistrictView) -> bool | None:
        """evaluate()'s `passed` alone; kinds judged per school event override it to read
        their counters directly, without building an explanation."""
        return self.evaluate(judge, rule, view).passed

    def school_derived(self, judge: Judge, rule: Rule) -> bool:
        """Whether the verdict depends on school facts (the rule is judged again after a
        school event, when a counter it reads moved); false: on the district's facts alone."""
        return True

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        """Whether the verdict may read counter `key`: it must cover every counter the kind's
        evaluate() and verdict() read."""
        return True

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        """Whether the verdict may read the district fact `fact`: "statistics", "registered"
        or "inspection:<item>"."""
        return True

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        """Whether the verdict reads coefficients' moments themselves (asked of school-derived
        rules only; RA-CV reads the per-pair verdicts instead, see reads_pair_verdicts)."""
        return True

    def reads_pair_verdicts(self, judge: Judge, rule: Rule) -> bool:
        """Whether the verdict reads the per-(level, indicator) RA-CV verdicts the state keeps."""
        return False


def result(rule: Rule, view: DistrictView, passed: bool | None, **kw: Any) -> RuleResult:
    """A rule's result for the view's district and year, with the rule's clause and severity."""
    return RuleResult(
        rule_id=rule.id,
        subject=view.code,
        year=view.year,
        passed=passed,
        clause=rule.clause.cite(),
        severity=rule.severity,
        **kw,
    )


# ---------------------------------------------------------------------- every school passes
_CHECK_KEYS: dict[str, tuple[str, str, str]] = {}


def check_keys(rule_id: str) -> tuple[str, str, str]:
    """The counters of a per-school check (total, fail, undecided): the schools it judged, and
    those failing it or lacking its inputs. Formatted once per rule id."""
    keys = _CHECK_KEYS.get(rule_id)
    if keys is None:
        keys = _CHECK_KEYS[rule_id] = (f"{rule_id}:total", f"{rule_id}:fail", f"{rule_id}:undecided")
    return keys


class EverySchoolKind(RuleKind):
    """A rule every school of the district must pass (G3, G4, G5, G6, Q4): the section evaluator
    judges each school (SchoolEval.checks, rules/sections.py) and the district reads the counts
    of check_keys(). No school at all is undecided."""

    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        total_key, fail_key, und_key = check_keys(rule.id)
        fail, und, total = view.count(fail_key), view.count(und_key), view.count(total_key)
        passed = from_counts(fail, und, total)
        reason = (
            f"{fail} of {total} schools fail"
            if fail
            else f"{und} schools lack inputs"
            if und
            else "no schools reported"
            if total == 0
            else None
        )
        return result(
            rule,
            view,
            passed,
            value=float(fail),
            threshold=0.0,
            comparator="<=",
            inputs={"schools": total, "failed": fail, "undecided": und},
            reason=reason,
        )

    def verdict(self, judge: Judge, rule: Rule, view: DistrictView) -> bool | None:
        c = view.counters
        total, fail, undecided = check_keys(rule.id)
        return from_counts(c.get(fail, 0), c.get(undecided, 0), c.get(total, 0))

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        return key.startswith(rule.id + ":")

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return False

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        return False


# ---------------------------------------------------------------------- rates of a base
def rate_result(
    rule: Rule,
    view: DistrictView,
    base_key: str,
    done_key: str,
    und_key: str,
    min_pct: float,
    extra_fail_key: str | None = None,
    what: str = "",
) -> RuleResult:
    """A share of a base counted by the schools (C3, C5): done / base at least min_pct %, with
    no school undecided; an empty base meets it. `extra_fail_key` counts schools that fail the
    rule outright (C3: a school newly large)."""
    base, done, und = view.count(base_key), view.count(done_key), view.count(und_key)
    inputs: dict[str, Any] = {base_key: base, done_key: done, und_key: und}
    extra_fail = view.count(extra_fail_key) if extra_fail_key is not None else 0
    if extra_fail:
        inputs[extra_fail_key] = extra_fail  # type: ignore[index]
        return result(rule, view, False, inputs=inputs, reason=f"{extra_fail} new large-scale schools")
    if und:
        return result(rule, view, None, inputs=inputs, reason=f"{und} schools lack last year's or this year's data")
    if base == 0:
        return result(rule, view, True, value=100.0, threshold=min_pct, comparator=">=", inputs=inputs, reason=None)
    pct = 100.0 * done / base
    passed = compare(pct, ">=", min_pct)
    return result(
        rule,
        view,
        passed,
        value=pct,
        threshold=min_pct,
        comparator=">=",
        inputs=inputs,
        reason=None if passed else f"only {done} of {base} {what} ({pct:.0f}%)",
    )
