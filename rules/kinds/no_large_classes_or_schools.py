"""`no_large_classes_or_schools` (C2): no class of large_class_min_students or more and no
large-scale school remains in the district (counted from deadline_year; before it a failure is
progress to watch, not a reason to be behind).

Counters: LARGE_CLASSES (the schools' large classes, counted per section by
SectionEvaluator._derive_enrolment, rules/sections.py), LARGE_SCHOOLS and LARGE_UNDECIDED (the
school_size_rule's judgement of each school). SQL:
dbt_project/macros/kinds/no_large_classes_or_schools.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import SCHOOLS, DistrictView, Judge, RuleKind, result
from rules.model import Rule, RuleResult

LARGE_CLASSES: Final = "large_classes"
LARGE_SCHOOLS: Final = "large_schools"
LARGE_UNDECIDED: Final = "large:undecided"  # schools whose size is unknown


class NoLargeClassesOrSchools(RuleKind):
    def evaluate(self, judge: Judge, rule: Rule, view: DistrictView) -> RuleResult:
        classes, schools, und = view.count(LARGE_CLASSES), view.count(LARGE_SCHOOLS), view.count(LARGE_UNDECIDED)
        deadline = int(rule.params["deadline_year"])
        inputs = {
            "large_classes": classes,
            "large_schools": schools,
            "deadline_year": deadline,
            "due": view.year >= deadline,
        }
        if classes or schools:
            return result(
                rule,
                view,
                False,
                value=float(classes + schools),
                threshold=0.0,
                comparator="<=",
                inputs=inputs,
                reason=f"{classes} large classes and {schools} large-scale schools remain",
            )
        passed = None if und or view.count(SCHOOLS) == 0 else True
        return result(
            rule,
            view,
            passed,
            value=0.0,
            threshold=0.0,
            comparator="<=",
            inputs=inputs,
            reason=f"{und} schools lack enrolment" if passed is None else None,
        )

    def reads_fact(self, judge: Judge, rule: Rule, fact: str) -> bool:
        return False

    def reads_counter(self, judge: Judge, rule: Rule, key: str) -> bool:
        return key in (LARGE_CLASSES, LARGE_SCHOOLS, LARGE_UNDECIDED, SCHOOLS)

    def reads_moments(self, judge: Judge, rule: Rule) -> bool:
        return False


KIND: Final[NoLargeClassesOrSchools] = NoLargeClassesOrSchools("no_large_classes_or_schools")
