"""District-level rules: evaluated from the district's running totals and its own facts.

Each rule kind has one small evaluator that returns a RuleResult with its inputs, value,
threshold and clause, so every verdict can be explained. Evaluators read the district
through `DistrictView`, never through the schools, which is what keeps updates incremental.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import AbstractSet, Any, Callable, Mapping

from rules.loader import Catalogue
from rules.logic import all_of, compare, from_counts
from rules.model import Rule, RuleResult
from rules.moments import WeightedMoments

ATTAINMENT_DIMENSIONS = ("resource_allocation", "government_guarantee", "education_quality",
                         "social_recognition", "prerequisite", "veto")
# Rule kinds whose verdict depends on school facts (re-evaluated after a school event);
# every other attainment rule depends only on the district's own facts.
_EVERY_SCHOOL_KINDS = frozenset({"school_rooms", "school_size", "class_size", "small_school_funding", "school_ratio"})
SCHOOL_DERIVED_KINDS = frozenset({
    "section_rule", "balance", "school_rooms", "school_size", "class_size", "small_school_funding",
    "school_ratio", "no_large_classes_or_schools", "large_school_reduction", "compliance_improvement",
})


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
        return [lv for lv in levels if c.get("sections:" + lv) or c.get("sections_unknown:" + lv)]

    def resolve(self, name: str) -> tuple[float | None, str | None]:
        """An input by its namespaced name: stat.X from district.statistics, sum.X summed over
        the district's schools (unknown while any school lacks the fact)."""
        if name.startswith("stat."):
            if self.stats is None:
                return None, "no district.statistics for the year"
            v = self.stats.get(name[5:])
            return (None, f"{name[5:]} not reported") if v is None else (float(v), None)
        if name.startswith("sum."):
            c = self.counters
            if not c.get("schools"):
                return None, "no schools reported"
            missing = c.get("sum:missing", 0)
            if missing:
                return None, f"{missing} schools lack staff data"
            key = _SUM_KEYS.get(name)
            if key is None:
                key = _SUM_KEYS[name] = "sum:" + name[4:]
            return float(c.get(key, 0)), None
        raise KeyError(name)


_SUM_KEYS: dict[str, str] = {}  # "sum.X" → its counter "sum:X", formatted once


class DistrictEvaluator:
    """Evaluates a catalogue's district-scoped rules; built once per catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.settings = catalogue.settings
        # Section indicators reach the district through RA-S and RA-CV, not on their own.
        self.attainment_rules: list[Rule] = [r for r in catalogue.rules.values()
                                             if r.dimension in ATTAINMENT_DIMENSIONS and r.kind != "section_indicator"]
        self.school_derived = [r for r in self.attainment_rules if self._school_derived(r)]
        self.district_derived = [r for r in self.attainment_rules if not self._school_derived(r)]
        # school-derived rules that read coefficients: RA-CV (and its aliases) reads only the
        # per-pair verdicts; a kind not known here may read the moments themselves
        self.pair_verdict_readers = tuple(r for r in self.school_derived if self._target(r).kind == "balance")
        self.moment_readers = tuple(r for r in self.school_derived if self._reads_moments(r))
        self._readers: dict[str, tuple[Rule, ...]] = {}
        self._fact_readers: dict[str, tuple[Rule, ...]] = {}
        self._readers_of_sets: dict[tuple[frozenset[str], bool, bool], tuple[Rule, ...]] = {}
        # counter names the verdicts read, formatted once per rule rather than per event
        self._keys: dict[str, Any] = {}
        self._missing_keys: dict[tuple[str, str], str] = {}
        self.balance = next(iter(catalogue.of_kind("balance")), None)
        self._dispatch: dict[str, Callable[[Rule, DistrictView], RuleResult]] = {
            "section_rule": self._section_rule,
            "balance": self._balance,
            "school_rooms": self._every_school,
            "school_size": self._every_school,
            "class_size": self._every_school,
            "small_school_funding": self._every_school,
            "school_ratio": self._every_school,
            "district_metric": self._metric,
            "inspection": self._inspection,
            "veto": self._veto,
            "prerequisite": self._prerequisite,
            "prerequisite_history": self._prerequisite_history,
            "alias": self._alias,
            "year_over_year": self._year_over_year,
            "no_large_classes_or_schools": self._no_large,
            "large_school_reduction": self._large_reduction,
            "compliance_improvement": self._compliance,
        }

    def _school_derived(self, rule: Rule) -> bool:
        if rule.kind == "alias":
            return self._school_derived(self.catalogue.rule(rule.params["rule"]))
        if rule.kind == "district_metric":
            return any(n.startswith("sum.") for c in rule.checks for n in c.inputs()) or any(
                c.applies_to_locale for c in rule.checks)
        return rule.kind in SCHOOL_DERIVED_KINDS

    # ------------------------------------------------------------------ what a verdict reads
    def rules_reading(self, key: str) -> tuple[Rule, ...]:
        """The school-derived rules whose verdict reads the counter `key`: after a school
        event only these need judging again. Memoised, as a district has ~100 counter names."""
        found = self._readers.get(key)
        if found is None:
            found = self._readers[key] = tuple(r for r in self.school_derived if self._reads_counter(r, key))
        return found

    def rules_to_judge(self, keys: AbstractSet[str], moments_moved: bool, pair_verdicts_moved: bool) -> tuple[Rule, ...]:
        """The school-derived rules reading any of the counters `keys` (rules_reading()),
        any coefficient's moments when `moments_moved`, any per-pair RA-CV verdict when
        `pair_verdicts_moved`. Memoised by the set of keys, because events of one kind move
        the same few sets of counters again and again; the memo is emptied when large, as
        batches form many different unions."""
        memo_key = (frozenset(keys), moments_moved, pair_verdicts_moved)
        found = self._readers_of_sets.get(memo_key)
        if found is None:
            if len(self._readers_of_sets) >= 4096:
                self._readers_of_sets.clear()
            rules = {r.id: r for key in memo_key[0] for r in self.rules_reading(key)}
            if moments_moved:
                rules.update((r.id, r) for r in self.moment_readers)
            if pair_verdicts_moved:
                rules.update((r.id, r) for r in self.pair_verdict_readers)
            found = self._readers_of_sets[memo_key] = tuple(rules.values())
        return found

    def rules_reading_facts(self, facts: AbstractSet[str]) -> tuple[Rule, ...]:
        """The attainment rules reading any of the district facts named in `facts`:
        "statistics", "registered", "inspection:<item>", or "*" for all of them."""
        found: dict[str, Rule] = {}
        for fact in facts:
            rules = self._fact_readers.get(fact)
            if rules is None:
                rules = self._fact_readers[fact] = tuple(
                    r for r in self.attainment_rules if self._reads_fact(r, fact))
            found.update((r.id, r) for r in rules)
        return tuple(found.values())

    def _reads_fact(self, rule: Rule, fact: str) -> bool:
        """Whether the rule's verdict may read the district fact; every district-derived
        kind not listed here (e.g. prerequisite_history) is assumed to read them all."""
        if fact == "*":
            return rule in self.district_derived or self._reads_fact(rule, "statistics")
        rule = self._target(rule)
        kind = rule.kind
        if kind in ("inspection", "veto"):
            return fact == "inspection:" + rule.params["item"]
        if kind == "district_metric":
            return fact == "statistics" and any(n.startswith("stat.") for c in rule.checks for n in c.inputs())
        if kind == "year_over_year":  # this year's and last year's statistics
            return fact == "statistics"
        if kind == "prerequisite":
            return fact == "registered"
        return kind not in SCHOOL_DERIVED_KINDS

    def _target(self, rule: Rule) -> Rule:
        while rule.kind == "alias":
            rule = self.catalogue.rule(rule.params["rule"])
        return rule

    def _reads_counter(self, rule: Rule, key: str) -> bool:
        """Whether verdict(rule) may read counter `key`; it must cover every counter the
        kind's evaluator reads (a kind not listed here is assumed to read them all)."""
        rule = self._target(rule)
        kind = rule.kind
        if kind in _EVERY_SCHOOL_KINDS:
            return key.startswith(rule.id + ":")
        if kind == "section_rule":
            return key.startswith((rule.id + ":", "sections:", "sections_unknown:"))
        if kind == "balance":  # levels_present(); its coefficients arrive as dirty pairs
            return key.startswith(("sections:", "sections_unknown:"))
        if kind == "district_metric":  # resolve() of sum.* inputs, locale counts; stat.* are district facts
            return key == "schools" or key.startswith(("sum:", "locale:"))
        if kind == "no_large_classes_or_schools":
            return key in ("large_classes", "large_schools", "large:undecided", "schools")
        if kind == "large_school_reduction":
            return key.startswith("C3:")
        if kind == "compliance_improvement":
            return key.startswith("C5:")
        return True

    def _reads_moments(self, rule: Rule) -> bool:
        """Whether the rule may read coefficients' moments themselves (not through the
        per-pair verdicts): no kind known here does, an unknown one is assumed to."""
        return self._target(rule).kind not in SCHOOL_DERIVED_KINDS | {"district_metric"}

    def evaluate(self, rule: Rule, view: DistrictView) -> RuleResult:
        """The rule's result with its explanation."""
        return self._dispatch[rule.kind](rule, view)

    def verdict(self, rule: Rule, view: DistrictView) -> bool | None:
        """The rule's verdict alone, for the hot path. Kinds that run per school event read
        counters directly; the verdict is by construction the same `passed` as evaluate()'s,
        which the tests check rule by rule."""
        kind = rule.kind
        if kind in _EVERY_SCHOOL_KINDS:
            c = view.counters
            fail, undecided, total = self._counter_keys(rule)
            return from_counts(c.get(fail, 0), c.get(undecided, 0), c.get(total, 0))
        if kind == "section_rule":
            return self._section_rule_verdict(rule, view)
        if kind == "district_metric":
            checks = rule.checks
            if len(checks) == 1:  # the usual case: all_of() of one verdict is that verdict
                return self._check(checks[0], view, None)[0]
            return all_of([self._check(check, view, None)[0] for check in checks])
        if kind == "balance" and view.balance_parts is not None:
            return self._balance_verdict(rule, view, view.balance_parts)
        return self._dispatch[kind](rule, view).passed

    def _counter_keys(self, rule: Rule) -> Any:
        """The counter names a rule's fast verdict reads: (fail, undecided, total) for an
        every-school rule; per level (sections, sections_unknown, fail, undecided) for RA-S;
        per level (sections, sections_unknown, its (level, indicator) pairs) for RA-CV."""
        keys = self._keys.get(rule.id)
        if keys is None:
            if rule.kind == "section_rule":
                keys = tuple((f"sections:{lv}", f"sections_unknown:{lv}", f"{rule.id}:{lv}:fail",
                              f"{rule.id}:{lv}:undecided") for lv in rule.levels)
            elif rule.kind == "balance":
                keys = tuple((f"sections:{lv}", f"sections_unknown:{lv}",
                              tuple((lv, ind) for ind in rule.params["indicators"])) for lv in rule.levels)
            else:
                keys = (f"{rule.id}:fail", f"{rule.id}:undecided", f"{rule.id}:total")
            self._keys[rule.id] = keys
        return keys

    def _section_rule_verdict(self, rule: Rule, view: DistrictView) -> bool | None:
        verdicts = []
        c = view.counters
        for sections, unknown, fail, undecided in self._counter_keys(rule):
            total = c.get(sections, 0) + c.get(unknown, 0)
            if total:
                verdicts.append(from_counts(c.get(fail, 0), c.get(undecided, 0), total))
        return all_of(verdicts) if verdicts else None

    def _balance_verdict(self, rule: Rule, view: DistrictView,
                         parts: Mapping[tuple[str, str], bool | None]) -> bool | None:
        """RA-CV from its per-pair verdicts over the levels present (levels_present()), as
        all_of() but with the membership tests done in C on a list."""
        c = view.counters
        verdicts: list[bool | None] = []
        for sections, unknown, pairs in self._counter_keys(rule):
            if c.get(sections) or c.get(unknown):
                verdicts += map(parts.get, pairs)
        if not verdicts:
            return None
        # verdicts hold only True, False and None, so `in` (identity, then ==) is all_of's test
        return False if False in verdicts else None if None in verdicts else True

    def balance_verdict(self, rule: Rule, view: DistrictView, level: str, indicator: str) -> bool | None:
        """RA-CV for one pair, without building its explanation."""
        pair = (level, indicator)
        m = view.moments.get(pair)
        if m is None or m.count == 0:
            return None
        missing = self._missing_keys.get(pair) or self._missing_key(pair)
        if view.counters.get(missing):
            return None
        cv = m.cv()
        return None if cv is None else compare(cv, rule.comparator or "<=", rule.thresholds[level])

    def _missing_key(self, pair: tuple[str, str]) -> str:
        key = self._missing_keys.get(pair)
        if key is None:
            key = self._missing_keys[pair] = f"{pair[1]}:{pair[0]}:missing"
        return key

    def _result(self, rule: Rule, view: DistrictView, passed: bool | None, **kw: Any) -> RuleResult:
        return RuleResult(rule_id=rule.id, subject=view.code, year=view.year, passed=passed,
                          clause=rule.clause.cite(), severity=rule.severity, **kw)

    # ------------------------------------------------------------------ resource allocation
    def _section_rule(self, rule: Rule, view: DistrictView) -> RuleResult:
        verdicts, inputs = [], {}
        for lv in view.levels_present(rule.levels):
            fail = view.count(f"{rule.id}:{lv}:fail")
            und = view.count(f"{rule.id}:{lv}:undecided")
            total = view.count(f"sections:{lv}") + view.count(f"sections_unknown:{lv}")
            inputs[lv] = {"sections": total, "failed": fail, "undecided": und}
            verdicts.append(from_counts(fail, und, total))
        passed = all_of(verdicts) if verdicts else None
        failed = sum(v["failed"] for v in inputs.values())
        reason = (f"{failed} sections fail RA-S" if passed is False else
                  "no sections reported" if not verdicts else
                  "some sections undecided" if passed is None else None)
        return self._result(rule, view, passed, value=float(failed), threshold=0.0, comparator="<=",
                            inputs=inputs, reason=reason)

    def balance_result(self, rule: Rule, view: DistrictView, level: str, indicator: str) -> RuleResult:
        """RA-CV for one level and indicator: the enrolment-weighted CV against its threshold."""
        m = view.moments.get((level, indicator))
        missing = view.count(f"{indicator}:{level}:missing")
        threshold = rule.thresholds[level]
        inputs = {"level": level, "indicator": indicator,
                  "sections": m.count if m else 0, "students": m.weight if m else 0,
                  "weighted_mean": m.mean() if m else None, "sections_missing_input": missing}
        cv = m.cv() if m is not None and not m.is_empty() else None
        passed = self.balance_verdict(rule, view, level, indicator)
        reason: str | None
        if cv is None:
            reason = "no section with students and inputs" if not m or m.is_empty() else "weighted mean is zero"
            passed = None
        elif missing:
            reason = f"{missing} sections lack inputs"
        else:
            reason = None if passed else f"CV {cv:.3f} above {threshold}"
        return RuleResult(rule_id=rule.id, subject=f"{view.code}/{level}/{indicator}", year=view.year,
                          passed=passed, value=cv, threshold=threshold, comparator=rule.comparator,
                          inputs=inputs, clause=rule.clause.cite(), reason=reason, severity=rule.severity)

    def _balance(self, rule: Rule, view: DistrictView) -> RuleResult:
        parts = [self.balance_result(rule, view, lv, ind)
                 for lv in view.levels_present(rule.levels) for ind in rule.params["indicators"]]
        passed = all_of(p.passed for p in parts) if parts else None
        failing = [p.subject.split("/", 1)[1] for p in parts if p.passed is False]
        reason = ("coefficients above threshold: " + ", ".join(failing) if failing else
                  "no sections reported" if not parts else
                  "some coefficients undecided" if passed is None else None)
        return self._result(rule, view, passed, value=float(len(failing)), threshold=0.0, comparator="<=",
                            inputs={p.subject.split("/", 1)[1]: p.value for p in parts}, reason=reason)

    def _every_school(self, rule: Rule, view: DistrictView) -> RuleResult:
        fail, und, total = (view.count(f"{rule.id}:fail"), view.count(f"{rule.id}:undecided"),
                            view.count(f"{rule.id}:total"))
        passed = from_counts(fail, und, total)
        reason = (f"{fail} of {total} schools fail" if fail else f"{und} schools lack inputs" if und else
                  "no schools reported" if total == 0 else None)
        return self._result(rule, view, passed, value=float(fail), threshold=0.0, comparator="<=",
                            inputs={"schools": total, "failed": fail, "undecided": und}, reason=reason)

    # ------------------------------------------------------------------ district facts
    def _check(self, check: Any, view: DistrictView,
               inputs: dict[str, Any] | None) -> tuple[bool | None, float | None, float | None, str | None]:
        """One check's verdict, value, threshold and why it is undecided; the inputs read are
        recorded into `inputs` when the caller wants an explanation."""
        if check.applies_to_locale is not None:
            schools = view.count("locale:" + check.applies_to_locale)
            if inputs is not None:
                inputs[f"{check.applies_to_locale}_schools"] = schools
            if schools == 0:
                if view.count("schools") == 0:
                    return None, None, None, "no schools reported"
                return True, None, None, f"not applicable: no {check.applies_to_locale} schools"
        if check.ratio:
            num, why_n = view.resolve(check.ratio[0])
            den, why_d = view.resolve(check.ratio[1])
            if inputs is not None:
                inputs.update({check.ratio[0]: num, check.ratio[1]: den})
            if num is None or den is None:
                return None, None, None, why_n or why_d
            if den == 0:
                return None, None, None, f"{check.ratio[1]} is zero"
            value = check.scale * num / den
        else:
            value, why = view.resolve(check.input)
            if inputs is not None:
                inputs[check.input] = value
            if value is None:
                return None, None, None, why
        threshold = check.threshold
        if check.threshold_input:
            threshold, why = view.resolve(check.threshold_input)
            if inputs is not None:
                inputs[check.threshold_input] = threshold
            if threshold is None:
                return None, value, None, why
        return compare(value, check.comparator, float(threshold)), value, float(threshold), None

    def _metric(self, rule: Rule, view: DistrictView) -> RuleResult:
        verdicts: list[bool | None] = []
        inputs: dict[str, Any] = {}
        reasons: list[str] = []
        value = threshold = None
        for check in rule.checks:
            ok, v, t, why = self._check(check, view, inputs)
            verdicts.append(ok)
            if value is None:
                value, threshold = v, t
            if why:
                reasons.append(why)
            elif ok is False:
                label = check.input or "/".join(check.ratio or ())
                reasons.append(f"{label} = {v:.4g}, needs {check.comparator} {t:.4g}")
        passed = all_of(verdicts)
        return self._result(rule, view, passed, value=value, threshold=threshold,
                            comparator=rule.checks[0].comparator, inputs=inputs,
                            reason="; ".join(reasons) if passed is not True and reasons else None)

    def _inspection(self, rule: Rule, view: DistrictView) -> RuleResult:
        item = rule.params["item"]
        found = view.inspections.get(item)
        if found is None:
            return self._result(rule, view, None, inputs={"item": item}, reason=f"no inspection of {item}")
        passed = found["result"] == "pass"
        return self._result(rule, view, passed, inputs={"item": item, "result": found["result"],
                                                        "inspector": found.get("inspector")},
                            reason=None if passed else f"inspection failed: {found.get('note', '')}")

    def _veto(self, rule: Rule, view: DistrictView) -> RuleResult:
        """passed=False means the veto is raised."""
        item = rule.params["item"]
        found = view.inspections.get(item)
        if found is None:
            if self.settings.get("veto_without_inspection") == "clear":
                return self._result(rule, view, True, inputs={"item": item}, reason=None)
            return self._result(rule, view, None, inputs={"item": item}, reason=f"no inspection of {item}")
        raised = found["result"] == "fail"
        return self._result(rule, view, not raised, inputs={"item": item, "result": found["result"]},
                            reason=f"veto raised: {found.get('note', '')}" if raised else None)

    def _prerequisite(self, rule: Rule, view: DistrictView) -> RuleResult:
        need = int(rule.params["min_years_since_basic_balance"])
        year = view.profile.get("basic_balance_year") if view.profile else None
        if year is None:
            return self._result(rule, view, None, inputs={"basic_balance_year": None},
                                reason="basic-balance year unknown")
        gap = view.year - int(year)
        passed = gap >= need
        return self._result(rule, view, passed, value=float(gap), threshold=float(need), comparator=">=",
                            inputs={"basic_balance_year": year},
                            reason=None if passed else f"basic balance only {gap} years before")

    def _prerequisite_history(self, rule: Rule, view: DistrictView) -> RuleResult:
        if not self.settings.get(rule.params["setting"]):
            return self._result(rule, view, True, inputs={"enabled": False}, reason="not required here")
        if view.history_cv is None or self.balance is None:
            return self._result(rule, view, None, reason="no history available")
        verdicts: list[bool | None] = []
        inputs: dict[str, Any] = {}
        indicators = self.balance.params["indicators"]
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
        return self._result(rule, view, passed, inputs=inputs,
                            reason=None if passed else "comprehensive CV history not met or unknown")

    def _alias(self, rule: Rule, view: DistrictView) -> RuleResult:
        inner = self.evaluate(self.catalogue.rule(rule.params["rule"]), view)
        return self._result(rule, view, inner.passed, value=inner.value, threshold=inner.threshold,
                            comparator=inner.comparator, inputs={**inner.inputs, "as": inner.rule_id},
                            reason=inner.reason)

    def _year_over_year(self, rule: Rule, view: DistrictView) -> RuleResult:
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
        return self._result(rule, view, passed, inputs=inputs, reason="; ".join(reasons) or None)

    def _no_large(self, rule: Rule, view: DistrictView) -> RuleResult:
        classes, schools, und = view.count("large_classes"), view.count("large_schools"), view.count("large:undecided")
        deadline = int(rule.params["deadline_year"])
        inputs = {"large_classes": classes, "large_schools": schools, "deadline_year": deadline,
                  "due": view.year >= deadline}
        if classes or schools:
            return self._result(rule, view, False, value=float(classes + schools), threshold=0.0,
                                comparator="<=", inputs=inputs,
                                reason=f"{classes} large classes and {schools} large-scale schools remain")
        passed = None if und or view.count("schools") == 0 else True
        return self._result(rule, view, passed, value=0.0, threshold=0.0, comparator="<=", inputs=inputs,
                            reason=f"{und} schools lack enrolment" if passed is None else None)

    def _rate(self, rule: Rule, view: DistrictView, base_key: str, done_key: str, und_key: str,
              min_pct: float, extra_fail: int = 0, what: str = "") -> RuleResult:
        base, done, und = view.count(base_key), view.count(done_key), view.count(und_key)
        inputs = {base_key: base, done_key: done, und_key: und}
        if extra_fail:
            inputs["C3:new_large"] = extra_fail
            return self._result(rule, view, False, inputs=inputs, reason=f"{extra_fail} new large-scale schools")
        if und:
            return self._result(rule, view, None, inputs=inputs, reason=f"{und} schools lack last year's or this year's data")
        if base == 0:
            return self._result(rule, view, True, value=100.0, threshold=min_pct, comparator=">=",
                                inputs=inputs, reason=None)
        pct = 100.0 * done / base
        passed = compare(pct, ">=", min_pct)
        return self._result(rule, view, passed, value=pct, threshold=min_pct, comparator=">=", inputs=inputs,
                            reason=None if passed else f"only {done} of {base} {what} ({pct:.0f}%)")

    def _large_reduction(self, rule: Rule, view: DistrictView) -> RuleResult:
        return self._rate(rule, view, "C3:prev_large", "C3:resolved", "C3:undecided",
                          float(rule.params["min_resolved_pct"]), extra_fail=view.count("C3:new_large"),
                          what="large-scale schools resolved")

    def _compliance(self, rule: Rule, view: DistrictView) -> RuleResult:
        return self._rate(rule, view, "C5:prev_noncompliant", "C5:fixed", "C5:undecided",
                          float(rule.params["min_fixed_pct"]), what="non-compliant schools brought to compliance")


@dataclass(frozen=True)
class AttainmentSummary:
    """A district's verdict for one year, by dimension, with the rule ids that fail it."""

    resource_passed: bool | None
    government_passed: bool | None
    quality_passed: bool | None
    social_passed: bool | None
    prerequisite_passed: bool | None
    vetoed: bool | None
    attained: bool | None
    failed_items: tuple[str, ...]
    undecided_items: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource_passed": self.resource_passed, "government_passed": self.government_passed,
            "quality_passed": self.quality_passed, "social_passed": self.social_passed,
            "prerequisite_passed": self.prerequisite_passed, "vetoed": self.vetoed,
            "attained": self.attained, "failed_items": list(self.failed_items),
            "undecided_items": list(self.undecided_items),
        }


class SummaryTally:
    """summarise() kept current one verdict at a time: per dimension, how many rules are
    judged and how many of them are False or None, and the failed and undecided rule ids.
    A moved verdict then costs O(1), and summary() O(failed + undecided), not O(rules)."""

    def __init__(self, dimension_of: Mapping[str, str]) -> None:
        self._dimension_of = dimension_of
        self._judged = dict.fromkeys(ATTAINMENT_DIMENSIONS, 0)
        self._false = dict.fromkeys(ATTAINMENT_DIMENSIONS, 0)
        self._none = dict.fromkeys(ATTAINMENT_DIMENSIONS, 0)
        self._failed: set[str] = set()
        self._undecided: set[str] = set()

    def judged(self, rule_id: str, passed: bool | None) -> None:
        """A rule judged for the first time."""
        self._judged[self._dimension_of[rule_id]] += 1
        self._count(rule_id, passed, 1)

    def moved(self, rule_id: str, before: bool | None, after: bool | None) -> None:
        self._count(rule_id, before, -1)
        self._count(rule_id, after, 1)

    def _count(self, rule_id: str, passed: bool | None, by: int) -> None:
        """Count a verdict in (by=1) or out (by=-1); a True verdict only counts as judged."""
        if passed is True:
            return
        counts, ids = (self._false, self._failed) if passed is False else (self._none, self._undecided)
        counts[self._dimension_of[rule_id]] += by
        if by > 0:
            ids.add(rule_id)
        else:
            ids.discard(rule_id)

    def _dimension(self, d: str, if_empty: bool | None) -> bool | None:
        """all_of() over the dimension's verdicts, from its counts."""
        if not self._judged[d]:
            return if_empty
        return False if self._false[d] else None if self._none[d] else True

    def summary(self) -> AttainmentSummary:
        veto_clear = self._dimension("veto", True)
        resource, government, quality, social, prerequisite = (
            self._dimension(d, None) for d in ATTAINMENT_DIMENSIONS[:5])
        return AttainmentSummary(
            resource_passed=resource, government_passed=government, quality_passed=quality,
            social_passed=social, prerequisite_passed=prerequisite,
            vetoed=None if veto_clear is None else not veto_clear,
            attained=all_of([resource, government, quality, social, prerequisite, veto_clear]),
            failed_items=tuple(sorted(self._failed)), undecided_items=tuple(sorted(self._undecided)))


def summarise(verdicts: Mapping[str, bool | None], dimension_of: Mapping[str, str]) -> AttainmentSummary:
    """Combine rule verdicts into the attainment verdict (Kleene AND per dimension)."""
    by_dim: dict[str, list[bool | None]] = {d: [] for d in ATTAINMENT_DIMENSIONS}
    for rid, passed in verdicts.items():
        by_dim[dimension_of[rid]].append(passed)
    veto_clear = all_of(by_dim["veto"])
    vetoed = None if veto_clear is None else not veto_clear
    resource, government, quality, social, prerequisite = (
        all_of(by_dim[d]) if by_dim[d] else None for d in ATTAINMENT_DIMENSIONS[:5])
    attained = all_of([resource, government, quality, social, prerequisite, veto_clear])
    failed = tuple(sorted(rid for rid, p in verdicts.items() if p is False))
    undecided = tuple(sorted(rid for rid, p in verdicts.items() if p is None))
    return AttainmentSummary(resource_passed=resource, government_passed=government, quality_passed=quality,
                             social_passed=social, prerequisite_passed=prerequisite, vetoed=vetoed, attained=attained, failed_items=failed,
                             undecided_items=undecided)
