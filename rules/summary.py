"""Readable summaries of a run: per-district attainment by year and the city against its plan."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from rules.city import city_progress
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
