"""Gap to pass and outlook as landing rows: how the engine's answers to "what must each school get,
and will this district make its year" reach dbt, the same way its verdicts do.

The pipeline (streams/processing.py) calls these after each district's batch, so both drivers land
identical rows (streams/sink.py):

- ``section_results.gap_options`` -- beside each section row, the options that make a failing
  section pass (rules/gap.py), as JSON: ``[{"option_id": 1, "changes": [{indicator, input, unit,
  current_value, target_value, current_input, addition, share, to_floor}]}]``; ``[]`` when the
  section passes, null when it cannot be judged. ``share`` is the section's share of the school's
  figure when facilities are reported for the whole school (null: the section's own figure), so the
  SQL can re-derive the indicator after the addition (mart_school_gap_to_pass's tests).
- ``district_gaps`` -- one row per district-year the batch may have changed: the balance plans and
  failing items (rules/gap_district.py) as JSON.
- ``district_outlook`` -- one row per district the batch changed: its outlook over every year it
  holds (rules/outlook.py) as JSON. The outlook reads every year, so it is keyed by district; its
  ``year`` is the latest year of data.

Additions, targets and values are written as JSON numbers (doubles); the engine decided them
exactly, and every addition is a whole number or a multiple of 0.01, which a double carries to the
cent. The cost is on the hot path: about 1 ms per failing section (exact fractions, every option
checked for minimality) and a few ms per changed district (plans, outlook). The 1,000-school demo
city's embedded run (pure Python, no GX) takes ~7.8 s instead of 4.5 s; a correction touching a
few sections costs a few ms more.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from rules.gap import GapModel, section_inputs
from rules.gap_district import district_gaps
from rules.outlook import district_outlook
from rules.state import DistrictState, Engine

__all__ = ["GapRows", "changed_years"]


class GapRows:
    """The engine's gap-to-pass and outlook for the landing; `model` is None for a catalogue
    without a section rule (no section has options then)."""

    def __init__(self, engine: Engine) -> None:
        #: the catalogue the rows are judged by, landed with them: a build with another catalogue's
        #: seeds tells the engine's figures from its own (the marts' engine_catalogue_version)
        self.catalogue_version = str(engine.catalogue.version)
        try:
            self.model: GapModel | None = GapModel(engine.catalogue)
        except (ValueError, KeyError):
            self.model = None

    def section_options(
        self, state: DistrictState, school_id: str, year: int, level: str, passed: bool | None
    ) -> str | None:
        """The JSON of a section's options ("[]" when it passes; None when it cannot be judged)."""
        if passed is None or self.model is None:
            return None
        if passed:
            return "[]"
        school = state.schools[school_id]
        facts = school.facts.get(year)
        if facts is None:
            return None
        inputs = section_inputs(facts, level)
        options = self.model.section_options(inputs) if inputs is not None else None
        if options is None:
            return None
        out = []
        for option in options:
            changes = []
            for c in option.changes:
                field = c.input.rsplit(".", 1)[1]
                share = inputs.share.get(field) if inputs is not None and c.input.startswith("school.") else None
                changes.append(
                    {
                        "indicator": c.indicator,
                        "input": c.input,
                        "unit": c.unit,
                        "current_value": float(c.current_value),
                        "target_value": float(c.target_value),
                        "current_input": float(c.current_input),
                        "addition": float(c.addition),
                        "share": float(share) if share is not None else None,
                        "to_floor": c.to_floor,
                    }
                )
            out.append({"option_id": option.option_id, "changes": changes})
        return json.dumps(out, ensure_ascii=False)

    def district_rows(self, state: DistrictState, years: Iterable[int]) -> list[dict[str, Any]]:
        """One ``district_gaps`` row per judged year of `years`."""
        rows = []
        for year in sorted(years):
            if state.summary(year) is None:
                continue
            gaps = district_gaps(state, year)
            rows.append(
                {
                    "district_code": state.code,
                    "year": year,
                    "balance": json.dumps([asdict(p) for p in gaps.balance], ensure_ascii=False),
                    "items": json.dumps([asdict(i) for i in gaps.items], ensure_ascii=False),
                    "catalogue_version": self.catalogue_version,
                }
            )
        return rows

    def outlook_row(self, state: DistrictState) -> dict[str, Any] | None:
        """The district's ``district_outlook`` row (None before it has a judged year)."""
        out = district_outlook(state)
        if out is None:
            return None
        return {
            "district_code": state.code,
            "year": out.latest_year,
            "declared_creation_year": out.declared_creation_year,
            "plan_deadline_year": out.plan_deadline_year,
            "attained": out.attained,
            "projected_year": out.projected_year,
            "at_risk": out.at_risk,
            "risk_items": json.dumps(out.risk_items, ensure_ascii=False),
            "unprojectable": json.dumps(out.unprojectable, ensure_ascii=False),
            "items": json.dumps([asdict(i) for i in out.items], ensure_ascii=False),
            "catalogue_version": self.catalogue_version,
        }


def changed_years(state: DistrictState, events: Iterable[dict[str, Any]], changes: Any) -> list[int]:
    """The years of `state` a batch may have changed the gaps of: from the earliest year an applied
    event, a section, a coefficient or a status names (a year's rules also read the years before it;
    a registration may change every year), every later year the district holds."""
    named = [int(e["year"]) for e in events]
    named += [y for _, y in changes.sections] + [y for y, _, _ in changes.status] + [y for y, _, _ in changes.balances]
    if any(e["event_type"] in ("school.registered", "district.registered") for e in events):
        named.append(min(state.years, default=0))
    if not named:
        return []
    first = min(named)
    return sorted(y for y in state.years if y >= first)
