"""Gap to pass for a district: its balance coefficients above their threshold, and its failing
government, quality and social items.

- **Balance (RA-CV).** For each (level, indicator) whose enrolment-weighted coefficient of
  variation is above its threshold: the reduction needed, the schools contributing most to the
  spread (contribution = students × (value − weighted mean)², as a share of the total), and a
  greedy plan -- bring the worst contributor to the weighted mean, recompute, repeat until the
  coefficient passes -- with each step's school, its value before and after, and the coefficient
  the plan ends at. Schools below the mean are brought up first (what a bureau can do: build,
  hire, equip); one above the mean is only moved when raising every low school is not enough.
  Exact: the test is CV² ≤ threshold² on fractions of the section values.
- **Items.** For every failing rule of the government guarantee, education quality and social
  recognition dimensions that states a value and a threshold: the distance to the threshold, in the
  rule's unit.

Pure: reads a :class:`rules.state.DistrictState`, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from rules.logic import RELATIVE_TOLERANCE

__all__ = ["CvPlan", "CvStep", "DistrictGaps", "ItemGap", "district_gaps"]

ITEM_DIMENSIONS = ("government_guarantee", "education_quality", "social_recognition")
TOP_CONTRIBUTORS = 5


@dataclass(frozen=True)
class CvStep:
    school_id: str
    students: int
    value_before: float
    value_after: float
    cv_after: float


@dataclass(frozen=True)
class CvPlan:
    level: str
    indicator: str
    cv: float
    threshold: float
    reduction_needed: float  # cv − threshold
    contributors: tuple[tuple[str, float], ...]  # (school_id, share of the spread), largest first
    steps: tuple[CvStep, ...]
    resulting_cv: float
    passes: bool


@dataclass(frozen=True)
class ItemGap:
    rule_id: str
    dimension: str
    value: float
    threshold: float
    comparator: str
    distance: float  # how far the value must move to reach the threshold (positive)
    unit: str


@dataclass
class DistrictGaps:
    district_code: str
    year: int
    balance: list[CvPlan] = field(default_factory=list)
    items: list[ItemGap] = field(default_factory=list)


def _cv2(points: dict[str, tuple[int, Fraction]]) -> tuple[Fraction, Fraction] | None:
    """(weighted mean, CV²) of school → (students, value); None with no weight or a zero mean."""
    weight = sum(p for p, _ in points.values())
    if weight <= 0:
        return None
    mean = sum((p * x for p, x in points.values()), Fraction(0)) / weight
    if mean == 0:
        return None
    var = sum((p * (x - mean) ** 2 for p, x in points.values()), Fraction(0)) / weight
    return mean, var / (mean * mean)


def _cv_plan(level: str, indicator: str, points: dict[str, tuple[int, Fraction]], threshold: float) -> CvPlan | None:
    start = _cv2(points)
    t2 = Fraction(threshold) ** 2
    if start is None or start[1] <= t2:
        return None
    mean, cv2 = start
    spread = {s: p * (x - mean) ** 2 for s, (p, x) in points.items()}
    total = sum(spread.values())
    contributors = tuple(
        (s, float(c / total)) for s, c in sorted(spread.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CONTRIBUTORS]
    )
    current = dict(points)
    steps: list[CvStep] = []
    moved: set[str] = set()
    while cv2 > t2 and len(moved) < len(current):
        left = [s for s in current if s not in moved]
        low = [s for s in left if current[s][1] < mean]
        pool = low or left
        worst = max(pool, key=lambda s: (current[s][0] * (current[s][1] - mean) ** 2, s))
        p, x = current[worst]
        current[worst] = (p, mean)
        moved.add(worst)
        now = _cv2(current)
        assert now is not None
        mean, cv2 = now
        steps.append(CvStep(worst, p, float(x), float(current[worst][1]), float(cv2) ** 0.5))
    cv = float(start[1]) ** 0.5
    return CvPlan(
        level, indicator, cv, threshold, cv - threshold, contributors, tuple(steps), float(cv2) ** 0.5, cv2 <= t2
    )


def district_gaps(state: Any, year: int) -> DistrictGaps:
    """The district's balance plans and failing items for `year` (a rules.state.DistrictState)."""
    engine = state.engine
    out = DistrictGaps(state.code, year)
    rule = engine.balance_rule
    if rule is not None:
        ids = engine.sections.indicator_ids
        for (level, indicator), result in sorted(state.balance(year).items()):
            if result.passed is not False:
                continue
            pos = ids.index(indicator)
            points = {
                sid: (int(sec.students), Fraction(sec.values[pos]))
                for sid, ev in state.section_evals(year)
                for lv, sec in ev.sections.items()
                if lv == level and sec.included and sec.students and sec.values[pos] is not None
            }
            plan = _cv_plan(level, indicator, points, float(rule.thresholds[level]))
            if plan is not None:
                out.balance.append(plan)
    by_id = engine.catalogue.rules
    for rule_id, r in sorted(state.results(year).items()):
        rule_def = by_id[rule_id]
        if r.passed is not False or rule_def.dimension not in ITEM_DIMENSIONS:
            continue
        if r.value is None or r.threshold is None or r.comparator not in (">=", ">", "<=", "<"):
            continue
        distance = (r.threshold - r.value) if r.comparator in (">=", ">") else (r.value - r.threshold)
        if r.comparator in (">", "<"):
            # a value at a strict threshold fails by no distance at all: any move that the engine
            # counts as one (rules.logic.compare's tolerance) is the gap, never 0 or -0.0
            distance = max(distance, RELATIVE_TOLERANCE * max(abs(r.value), abs(r.threshold)))
        out.items.append(
            ItemGap(
                rule_id,
                rule_def.dimension,
                float(r.value),
                float(r.threshold),
                r.comparator,
                float(distance),
                str(rule_def.params.get("unit", "")),
            )
        )
    return out
