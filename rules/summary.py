"""Readable summaries of a run: per-district attainment by year and the city against its plan."""
from __future__ import annotations

import datetime as dt
from collections.abc import Set as AbstractSet
from typing import Any, Callable, Iterable, Mapping

from rules.city import DistrictYear, city_progress
from rules.loader import Catalogue
from rules.state import DistrictState


def district_rows(states: Mapping[str, DistrictState], names: Mapping[str, str], years: list[int],
                  as_of: dt.date) -> list[dict[str, Any]]:
    rows = []
    for code in sorted(states):
        state = states[code]
        last = years[-1]
        summary = state.summary(last)
        acc = state.accountability(last, as_of)
        rows.append({
            "district_code": code, "name": names.get(code, code),
            "declared_creation_year": acc.declared_creation_year,
            "attained": {y: (s.attained if (s := state.summary(y)) else None) for y in years},
            "failed_items": list(summary.failed_items) if summary else [],
            "undecided_items": list(summary.undecided_items) if summary else [],
            "on_track": acc.on_track, "behind_reasons": list(acc.behind_reasons),
        })
    return rows


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


def report_rows(read: StatesReader, catalogue: Catalogue, names: Mapping[str, str],
                as_of: dt.date) -> tuple[list[int], list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`years_of`, :func:`district_rows` and :func:`city_rows` of a warehouse whose states
    do not fit in memory together: ``read(codes)`` yields the states of `codes` (all: None) one at
    a time, and only what the rows need is kept of each. The accountability of a district is
    judged for the last year of *all* districts, known only at the end: a district that lacks that
    year is read a second time (rare: every district reports every year)."""
    digests: dict[str, dict[str, Any]] = {}
    for state in read(None):
        own = sorted(y for y, agg in state.years.items() if agg.summary is not None)
        known = set(state.years) | set(state.projects) | set(state.stats)
        digests[state.code] = {"summary": {y: state.summary(y) for y in known},
                               "city": {y: state.city_input(y) for y in known},
                               "acc": (own[-1], state.accountability(own[-1], as_of)) if own else None}
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
        rows.append({
            "district_code": code, "name": names.get(code, code),
            "declared_creation_year": acc.declared_creation_year,
            "attained": {y: (s.attained if (s := d["summary"].get(y)) else None) for y in years},
            "failed_items": list(summary.failed_items) if summary else [],
            "undecided_items": list(summary.undecided_items) if summary else [],
            "on_track": acc.on_track, "behind_reasons": list(acc.behind_reasons),
        })
    city = []
    for y in years:
        inputs = [d["city"].get(y) or DistrictYear(district_code=code, attained=None, projects=0, stats={})
                  for code, d in sorted(digests.items())]
        projects = {yy: sum(d["city"][yy].projects for d in digests.values() if yy in d["city"]) for yy in years}
        city.append(city_progress(catalogue, y, inputs, projects).to_dict())
    return years, rows, city
