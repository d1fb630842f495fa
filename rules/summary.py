"""Readable summaries of a run: per-district attainment by year and the city against its plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from rules.city import DistrictYear, city_progress
from rules.loader import Catalogue
from rules.outlook import Outlook, district_outlook
from rules.state import DistrictState


def district_rows(
    states: Mapping[str, DistrictState], names: Mapping[str, str], years: list[int], as_of: dt.date
) -> list[dict[str, Any]]:
    rows = []
    for code in sorted(states):
        state = states[code]
        last = years[-1]
        summary = state.summary(last)
        acc = state.accountability(last, as_of)
        rows.append(
            {
                "district_code": code,
                "name": names.get(code, code),
                "declared_creation_year": acc.declared_creation_year,
                "attained": {y: (s.attained if (s := state.summary(y)) else None) for y in years},
                "failed_items": list(summary.failed_items) if summary else [],
                "undecided_items": list(summary.undecided_items) if summary else [],
                "on_track": acc.on_track,
                "behind_reasons": list(acc.behind_reasons),
                "why_not_on_track": why_not_on_track(
                    acc.on_track,
                    list(acc.behind_reasons),
                    list(summary.failed_items) if summary else [],
                    district_outlook(state, [y for y in years if y <= last]),
                ),
            }
        )
    return rows


def why_not_on_track(
    on_track: bool | None, behind_reasons: list[str], failed_items: list[str], outlook: Outlook | None
) -> str:
    """Why a district is not on track, in a line a table cell holds: what it is behind on, then
    what its outlook says, e.g. ``behind: C8, RA-S; projected 2027 > declared 2025``.

    "Behind on" names the city targets and deadlines it misses (C2–C13, D1–D3) and, when it has not
    attained by its declared year or the plan's deadline, the items it fails; the outlook adds the
    year it would attain at its rate (rules/outlook.py) against the year it must, or that it would
    not at this rate and which items say so. A district on track today whose outlook is at risk
    says so (``at risk: projected 2031 > declared 2025``). '' when it is on track and not at risk;
    with its declared year unknown: 'declared year unknown'."""
    parts: list[str] = []
    if on_track is not True:
        behind: list[str] = []
        for reason in behind_reasons:
            rule_id = reason.split(":", 1)[0]
            if rule_id in ("DCY", "C1") and "not attained" in reason:
                behind += failed_items
            else:
                behind.append(rule_id)
        named = list(dict.fromkeys(behind))
        if named:
            parts.append(f"behind: {', '.join(named[:5])}{' …' if len(named) > 5 else ''}")
        elif on_track is None:
            parts.append("declared year unknown")
    if outlook is not None and outlook.attained is False and (on_track is not True or outlook.at_risk):
        targets = [(y, "declared") for y in (outlook.declared_creation_year,) if y is not None]
        targets += [(y, "plan") for y in (outlook.plan_deadline_year,) if y is not None]
        target = min(targets) if targets else None
        prefix = "at risk: " if on_track is True else ""
        if outlook.projected_year is None:
            never = [i.item for i in outlook.items if i.projected_year is None] + outlook.unprojectable
            parts.append(
                f"{prefix}not at this rate"
                + (f" ({', '.join(never[:3])}{' …' if len(never) > 3 else ''})" if never else "")
            )
        elif target is not None and outlook.projected_year > target[0]:
            parts.append(f"{prefix}projected {outlook.projected_year} > {target[1]} {target[0]}")
        else:
            parts.append(f"projected {outlook.projected_year}")
    return "; ".join(parts)


def city_rows(states: Mapping[str, DistrictState], years: list[int]) -> list[dict[str, Any]]:
    if not states:
        return []
    engine = next(iter(states.values())).engine
    rows = []
    for y in years:
        projects = {yy: sum(len(s.projects.get(yy, {})) for s in states.values()) for yy in years}
        progress = city_progress(engine.catalogue, y, [s.city_input(y) for s in states.values()], projects)
        rows.append(progress.to_dict())
    return rows


def years_of(states: Mapping[str, DistrictState]) -> list[int]:
    return sorted({y for s in states.values() for y, agg in s.years.items() if agg.summary is not None})


StatesReader = Callable[[AbstractSet[str] | None], Iterable[DistrictState]]


def report_rows(
    read: StatesReader, catalogue: Catalogue, names: Mapping[str, str], as_of: dt.date
) -> tuple[list[int], list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`years_of`, :func:`district_rows` and :func:`city_rows` of a warehouse whose states
    do not fit in memory together: ``read(codes)`` yields the states of `codes` (all: None) one at
    a time, and only what the rows need is kept of each. The accountability of a district is
    judged for the last year of *all* districts, known only at the end: a district that lacks that
    year is read a second time (rare: every district reports every year)."""
    digests: dict[str, dict[str, Any]] = {}
    for state in read(None):
        own = sorted(y for y, agg in state.years.items() if agg.summary is not None)
        known = set(state.years) | set(state.projects) | set(state.stats)
        digests[state.code] = {
            "summary": {y: state.summary(y) for y in known},
            "city": {y: state.city_input(y) for y in known},
            "acc": (own[-1], state.accountability(own[-1], as_of)) if own else None,
            "outlook": district_outlook(state),
        }
    years = sorted({y for d in digests.values() for y, s in d["summary"].items() if s is not None})
    if not years:
        return [], [], []
    last = years[-1]
    again = {code for code, d in digests.items() if d["acc"] is None or d["acc"][0] != last}
    for state in read(again) if again else ():
        digests[state.code]["acc"] = (last, state.accountability(last, as_of))
    rows = []
    for code in sorted(digests):
        d = digests[code]
        summary, acc = d["summary"].get(last), d["acc"][1]
        rows.append(
            {
                "district_code": code,
                "name": names.get(code, code),
                "declared_creation_year": acc.declared_creation_year,
                "attained": {y: (s.attained if (s := d["summary"].get(y)) else None) for y in years},
                "failed_items": list(summary.failed_items) if summary else [],
                "undecided_items": list(summary.undecided_items) if summary else [],
                "on_track": acc.on_track,
                "behind_reasons": list(acc.behind_reasons),
                "why_not_on_track": why_not_on_track(
                    acc.on_track, list(acc.behind_reasons), list(summary.failed_items) if summary else [], d["outlook"]
                ),
            }
        )
    city = []
    for y in years:
        inputs = [
            d["city"].get(y) or DistrictYear(district_code=code, attained=None, projects=0, stats={})
            for code, d in sorted(digests.items())
        ]
        projects = {yy: sum(d["city"][yy].projects for d in digests.values() if yy in d["city"]) for yy in years}
        city.append(city_progress(catalogue, y, inputs, projects).to_dict())
    return years, rows, city
