"""The city against its plan: the share of districts attaining (C1) and the city-wide
targets (C4 projects, C10 education groups), from per-district summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rules.loader import Catalogue
from rules.logic import compare
from rules.model import RuleResult


@dataclass(frozen=True)
class DistrictYear:
    """What the city needs from one district for one year."""

    district_code: str
    attained: bool | None
    projects: int = 0
    stats: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CityProgress:
    year: int
    districts_total: int
    districts_attained: int
    districts_undecided: int
    attained_share: float | None
    target_share: float
    on_track: bool | None
    targets: Mapping[str, RuleResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "districts_total": self.districts_total,
            "districts_attained": self.districts_attained,
            "districts_undecided": self.districts_undecided,
            "attained_share": self.attained_share,
            "target_share": self.target_share,
            "on_track": self.on_track,
            "targets": {k: v.to_dict() for k, v in self.targets.items()},
        }


def target_share(milestones: Mapping[Any, Any], year: int) -> float:
    """The share the plan asks for by `year`: the latest milestone not after it (0 before any)."""
    due = [(int(y), float(pct)) for y, pct in milestones.items() if int(y) <= year]
    return max(due)[1] / 100.0 if due else 0.0


def city_progress(
    catalogue: Catalogue,
    year: int,
    districts: Sequence[DistrictYear],
    projects_by_year: Mapping[int, int] | None = None,
) -> CityProgress:
    """C1 on_track plus every other city-scoped target in force for the year."""
    total = len(districts)
    attained = sum(1 for d in districts if d.attained is True)
    undecided = sum(1 for d in districts if d.attained is None)
    share = attained / total if total else None
    targets: dict[str, RuleResult] = {}
    wanted = 0.0
    on_track: bool | None = None
    for rule in catalogue.rules.values():
        if rule.scope != "city" or not rule.in_force(year):
            continue
        p = rule.params
        if rule.kind == "city_attainment_share":
            wanted = target_share(p["milestones"], year)
            best_case = (attained + undecided) / total if total else None
            if share is None:
                passed = None
            elif compare(share, ">=", wanted):
                passed = True
            elif best_case is not None and compare(best_case, ">=", wanted):
                passed = None  # the undecided districts could still carry it
            else:
                passed = False
            on_track = passed
            targets[rule.id] = RuleResult(
                rule_id=rule.id,
                subject="city",
                year=year,
                passed=passed,
                value=share,
                threshold=wanted,
                comparator=">=",
                inputs={"districts_total": total, "districts_attained": attained, "districts_undecided": undecided},
                clause=rule.clause.cite(),
                severity=rule.severity,
                reason=None if passed else f"{attained} of {total} districts attained, plan wants {wanted:.0%}",
            )
        elif rule.kind == "city_projects":
            first, last = int(p["from_year"]), min(int(p["to_year"]), year)
            counts = {y: (projects_by_year or {}).get(y, 0) for y in range(first, last + 1)}
            avg = sum(counts.values()) / len(counts) if counts else None
            passed = None if avg is None else compare(avg, ">=", float(p["min_per_year_avg"]))
            targets[rule.id] = RuleResult(
                rule_id=rule.id,
                subject="city",
                year=year,
                passed=passed,
                value=avg,
                threshold=float(p["min_per_year_avg"]),
                comparator=">=",
                inputs={"projects_by_year": counts},
                clause=rule.clause.cite(),
                severity=rule.severity,
                reason=None if passed else f"{avg} schools built/rebuilt/expanded per year on average",
            )
        elif rule.kind == "city_sum":
            field_name = str(p["input"]).split(".", 1)[1]
            known = [d.stats[field_name] for d in districts if d.stats.get(field_name) is not None]
            value = float(sum(known)) if known else None
            due = year >= int(p["deadline_year"])
            if value is None:
                passed = None
            elif compare(value, ">=", float(p["min_total"])):
                passed = True
            else:
                passed = False if due else None
            targets[rule.id] = RuleResult(
                rule_id=rule.id,
                subject="city",
                year=year,
                passed=passed,
                value=value,
                threshold=float(p["min_total"]),
                comparator=">=",
                inputs={"districts_reporting": len(known), "deadline_year": int(p["deadline_year"]), "due": due},
                clause=rule.clause.cite(),
                severity=rule.severity,
                reason=None if passed else (f"{value} so far, {p['min_total']} needed by {p['deadline_year']}"),
            )
    return CityProgress(
        year=year,
        districts_total=total,
        districts_attained=attained,
        districts_undecided=undecided,
        attained_share=share,
        target_share=wanted,
        on_track=on_track,
        targets=targets,
    )
