"""Outlook: will a district make its declared year at the rate it is going?

For every attainment rule a district fails in its latest year of data, and that states a value
and a threshold (including each failing balance coefficient), the **trend** is the least-squares
slope of the rule's value over the years the district has data for, and the **projected year** is
the first year after the latest in which the value, moving at that slope, reaches the threshold --
or none, "not at this rate", when it does not move towards it (or has a single year). A failing
item with no value to project (an inspection, a veto) projects to none too: nothing says when it
will pass. The district's **projected year of attainment** is the latest projected year of its
failing items (none when one of them has none); the district is **at risk** when that is after its
declared creation year or the plan's deadline, whichever is earlier (or none), while that year has
not come yet -- the time to act -- and the items driving the risk are the ones projected after it
or never.

Exact where it decides: the slope and intercept are fractions of the values, and the crossing year
is the smallest whole year where the projected value satisfies the comparator. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil, floor
from typing import Any

__all__ = ["ItemOutlook", "Outlook", "district_outlook", "projected_year", "trend"]

HORIZON = 50  # years beyond the latest: a crossing later than this is "not at this rate"


@dataclass(frozen=True)
class ItemOutlook:
    item: str  # a rule id, or "RA-CV primary R4" for a balance coefficient
    comparator: str
    threshold: float
    values: tuple[tuple[int, float], ...]  # (year, value) the trend is drawn through
    slope: float | None  # per year; None with fewer than two years
    projected_year: int | None  # None: not at this rate


@dataclass
class Outlook:
    district_code: str
    latest_year: int
    declared_creation_year: int | None
    plan_deadline_year: int | None
    attained: bool | None
    items: list[ItemOutlook] = field(default_factory=list)
    unprojectable: list[str] = field(default_factory=list)  # failing items with no value to project
    projected_year: int | None = None
    at_risk: bool = False
    risk_items: list[str] = field(default_factory=list)


def trend(points: Sequence[tuple[int, Fraction]]) -> tuple[Fraction, Fraction] | None:
    """(slope, intercept) of the least-squares line through (year, value); None below two years."""
    n = len(points)
    if n < 2:
        return None
    zero = Fraction(0)
    sx = sum((Fraction(x) for x, _ in points), zero)
    sy = sum((y for _, y in points), zero)
    sxx = sum((Fraction(x) * x for x, _ in points), zero)
    sxy = sum((Fraction(x) * y for x, y in points), zero)
    den = n * sxx - sx * sx
    if den == 0:
        return None
    slope = (n * sxy - sx * sy) / den
    return slope, (sy - slope * sx) / n


def projected_year(
    points: Sequence[tuple[int, Fraction]], comparator: str, threshold: Fraction, latest: int
) -> int | None:
    """The first whole year after `latest` where the trend's value meets the threshold; None when
    it never does at this rate (within HORIZON years)."""
    line = trend(points)
    if line is None:
        return None
    slope, intercept = line
    if slope == 0:
        return None
    crossing = (threshold - intercept) / slope  # the year the line reaches the threshold
    up = comparator in (">=", ">")
    if (slope > 0) != up:
        return None  # moving away from the threshold
    strict = comparator in (">", "<")
    year = floor(crossing) + 1 if strict and crossing == int(crossing) else ceil(crossing)
    year = max(year, latest + 1)
    return year if year <= latest + HORIZON else None


def _series(state: Any, years: Sequence[int], pick: Any) -> list[tuple[int, Fraction]]:
    out = []
    for y in years:
        r = pick(y)
        if r is not None and r.value is not None:
            out.append((y, Fraction(r.value)))
    return out


def district_outlook(state: Any, years: Sequence[int] | None = None) -> Outlook | None:
    """The outlook of a rules.state.DistrictState over `years` (default: every year it holds);
    None without a judged year."""
    judged = sorted(y for y in (years if years is not None else state.years) if state.summary(y) is not None)
    if not judged:
        return None
    latest = judged[-1]
    summary = state.summary(latest)
    profile = state._profile_for(latest)
    declared = int(profile["declared_creation_year"]) if profile and profile.get("declared_creation_year") else None
    deadline = state.engine.catalogue.settings.get("plan_deadline_year")
    out = Outlook(state.code, latest, declared, int(deadline) if deadline else None, summary.attained)
    if summary.attained:
        out.projected_year = latest
        return out
    for rule_id, r in sorted(state.results(latest).items()):
        if r.passed is not False:
            continue
        if rule_id == getattr(state.engine.balance_rule, "id", None):
            for (level, indicator), b in sorted(state.balance(latest).items()):
                if b.passed is False and b.value is not None and b.threshold is not None:
                    points = _series(state, judged, lambda y, k=(level, indicator): state.balance(y).get(k))
                    out.items.append(_item(f"{rule_id} {level} {indicator}", "<=", b.threshold, points, latest))
            continue
        if r.value is None or r.threshold is None or r.comparator not in (">=", ">", "<=", "<"):
            out.unprojectable.append(rule_id)
            continue
        points = _series(state, judged, lambda y, rid=rule_id: state.results(y).get(rid))
        out.items.append(_item(rule_id, r.comparator, r.threshold, points, latest))
    years_needed = [i.projected_year for i in out.items]
    if out.unprojectable or any(y is None for y in years_needed) or not years_needed:
        out.projected_year = None
    else:
        out.projected_year = max(y for y in years_needed if y is not None)
    targets = [t for t in (declared, out.plan_deadline_year) if t is not None]
    target = min(targets) if targets else None  # the earlier of the declared year and the plan's deadline
    if target is not None and latest < target:
        late = [i.item for i in out.items if i.projected_year is None or i.projected_year > target]
        out.risk_items = late + out.unprojectable
        out.at_risk = bool(out.risk_items)
    return out


def _item(name: str, comparator: str, threshold: float, points: list[tuple[int, Fraction]], latest: int) -> ItemOutlook:
    line = trend(points)
    return ItemOutlook(
        name,
        comparator,
        float(threshold),
        tuple((y, float(v)) for y, v in points),
        float(line[0]) if line else None,
        projected_year(points, comparator, Fraction(threshold), latest),
    )
