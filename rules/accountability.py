"""A district against the city plan: its declared creation year, the plan's district targets
and the calendar, with the reasons it has fallen behind.

Unlike attainment, this depends on the date it is judged at (a deadline is only missed once
it has passed), so it is evaluated on demand with an explicit `as_of`, never on the hot path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.model import Rule, RuleResult

TARGET_KINDS = frozenset(
    {
        "no_large_classes_or_schools",
        "large_school_reduction",
        "compliance_improvement",
        "district_metric",
        "alias",
        "year_over_year",
    }
)


@dataclass(frozen=True)
class Accountability:
    district_code: str
    year: int
    as_of: dt.date
    declared_creation_year: int | None
    attained: bool | None
    on_track: bool | None
    behind_reasons: tuple[str, ...]
    targets: Mapping[str, RuleResult] = field(default_factory=dict)
    deadlines: Mapping[str, RuleResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "district_code": self.district_code,
            "year": self.year,
            "as_of": self.as_of.isoformat(),
            "declared_creation_year": self.declared_creation_year,
            "attained": self.attained,
            "on_track": self.on_track,
            "behind_reasons": list(self.behind_reasons),
            "targets": {k: v.to_dict() for k, v in self.targets.items()},
            "deadlines": {k: v.to_dict() for k, v in self.deadlines.items()},
        }


def deadline_result(
    rule: Rule,
    district_code: str,
    year: int,
    milestones: Mapping[str, Mapping[str, Any]],
    attained: bool | None,
    as_of: dt.date,
) -> RuleResult:
    """D1–D3: the milestone for the statistical year, on or before its deadline."""
    p = rule.params
    due = dt.date(year + int(p["year_offset"]), int(p["month"]), int(p["day"]))
    inputs: dict[str, Any] = {"milestone": p["milestone"], "deadline": due.isoformat(), "as_of": as_of.isoformat()}

    def result(passed: bool | None, reason: str | None) -> RuleResult:
        return RuleResult(
            rule_id=rule.id,
            subject=district_code,
            year=year,
            passed=passed,
            inputs=inputs,
            clause=rule.clause.cite(),
            reason=reason,
            severity=rule.severity,
        )

    if p["only_if_attained"] and attained is not True:
        return result(
            None if attained is None else True,
            "attainment undecided" if attained is None else "not required: standard not met",
        )
    found = milestones.get(p["milestone"])
    if found is not None:
        on = dt.date.fromisoformat(str(found["on"]))
        inputs["on"] = on.isoformat()
        return result(on <= due, None if on <= due else f"{p['milestone']} on {on}, after the deadline {due}")
    if as_of > due:
        return result(False, f"no {p['milestone']} by the deadline {due}")
    return result(None, f"{p['milestone']} not yet due ({due})")


def assess(
    district_code: str,
    year: int,
    as_of: dt.date,
    *,
    profile: Mapping[str, Any] | None,
    attained: bool | None,
    targets: Mapping[str, RuleResult],
    deadline_rules: list[Rule],
    milestones: Mapping[str, Mapping[str, Any]],
    plan_deadline_year: int | None,
) -> Accountability:
    """Combine attainment, district targets and deadlines into on_track with reasons."""
    declared = int(profile["declared_creation_year"]) if profile and profile.get("declared_creation_year") else None
    deadlines = {
        r.id: deadline_result(r, district_code, year, milestones, attained, as_of)
        for r in deadline_rules
        if r.in_force(year)
    }
    reasons: list[str] = []
    if declared is not None and year >= declared and attained is False:
        reasons.append(f"DCY: not attained by its declared creation year {declared}")
    if declared is not None and plan_deadline_year is not None and declared > plan_deadline_year:
        reasons.append(f"C1: declared creation year {declared} is after the plan's {plan_deadline_year}")
    if plan_deadline_year is not None and year >= plan_deadline_year and attained is False:
        reasons.append(f"C1: not attained by the plan's deadline {plan_deadline_year}")
    for rid, res in targets.items():
        if res.passed is False and res.inputs.get("due", True):
            reasons.append(f"{rid}: {res.reason}")
    for rid, res in deadlines.items():
        if res.passed is False:
            reasons.append(f"{rid}: {res.reason}")
    if reasons:
        on_track: bool | None = False
    elif declared is None or (year >= declared and attained is None):
        on_track = None
    else:
        on_track = True
    return Accountability(
        district_code=district_code,
        year=year,
        as_of=as_of,
        declared_creation_year=declared,
        attained=attained,
        on_track=on_track,
        behind_reasons=tuple(reasons),
        targets=dict(targets),
        deadlines=deadlines,
    )
