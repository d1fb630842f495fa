"""``DistrictAtRisk``: a district that will miss its year at the rate it is going, flagged while
there is still time to act (issue #13, item 3).

It fires from ``mart_district_outlook`` (the rules engine's outlook, rules/outlook.py): for a
district whose ``at_risk`` is true -- its projected year of attainment (the latest year any failing
item reaches its threshold at its trend, or never) is after the earlier of its declared creation
year and the plan's deadline, and that year has not come in its data -- as long as the target year
has not passed on ``as_of`` either (after it, ``DistrictBehind`` says the district missed it). One
alert per district, about the latest statistical year the outlook projects from; the summary and
the ``risk_items`` annotation name the items driving the risk, each with the year it would pass.

Marts built before the outlook existed have no ``mart_district_outlook``: no alert, and a warning
that says to rebuild them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from junheng.alerting.describe import OUTLOOK, RuleBook, district_label, fix_text
from junheng.alerting.model import DISTRICT_AT_RISK, MARTS, Alert

__all__ = ["at_risk_conditions"]


def at_risk_conditions(
    con: Any, *, as_of: dt.date, years: Sequence[int] | None, rulebook: RuleBook
) -> tuple[list[Alert], int, list[str]]:
    """The DistrictAtRisk conditions of the marts on `as_of` (an explicit `years` list: only
    outlooks projected from those years); returns (alerts, rows read, warnings)."""
    import duckdb

    try:
        cur = con.execute("""
            select district_code, district_name, year, declared_creation_year, plan_deadline_year, target_year,
                   district_projected_year, item, item_projected_year, item_latest_value, item_threshold,
                   item_drives_risk, risk_items
            from main.mart_district_outlook where at_risk order by district_code, item""")
    except duckdb.Error:
        return (
            [],
            0,
            [
                "the marts have no mart_district_outlook (built before the outlook existed): "
                "DistrictAtRisk is not evaluated until they are rebuilt (junheng build)"
            ],
        )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    by_district: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_district[r["district_code"]].append(r)
    rule = rulebook.get(OUTLOOK)
    alerts = []
    for code, items in sorted(by_district.items()):
        first = items[0]
        year, target = first["year"], first["target_year"]
        if target is None or year > as_of.year or as_of.year > target or (years and year not in years):
            continue
        label = district_label(first["district_name"], code)
        which = "declared creation year" if target == first["declared_creation_year"] else "plan's deadline"
        projected = first["district_projected_year"]
        at = {r["item"]: r["item_projected_year"] for r in items if r["item"] is not None}
        drivers = [
            f"{i} ({'passes in ' + str(at[i]) if at.get(i) else 'not at this rate'})"
            for i in (first["risk_items"] or [])
        ]
        driving = ", ".join(drivers) or "none named"
        summary = (
            f"{label} is at risk of missing its {which} {target}: at its rate it attains "
            f"{projected if projected is not None else 'not at all'}; driven by {driving}"
        )
        why = f"projected {projected if projected is not None else 'never'} > {target}; {driving}"
        fix = fix_text(OUTLOOK, target=target, items=", ".join(first["risk_items"] or []) or "the failing items")
        description = (
            f"Rule {OUTLOOK}: {rule.name_en} ({rule.name_zh}); clause {rule.clause}. District: {label}, "
            f"outlook from statistical year {year}. Why: {why}. What to fix: {fix}"
        )
        alerts.append(
            Alert(
                alertname=DISTRICT_AT_RISK,
                district_code=code,
                rule_id=OUTLOOK,
                year=year,
                severity=rulebook.severity(OUTLOOK, "major"),
                summary=summary,
                description=description,
                clause=rule.clause,
                fix=fix,
                reason=why,
                district_name=first["district_name"],
                source=MARTS,
                extra_annotations={
                    "risk_items": ", ".join(first["risk_items"] or []),
                    "projected_year": str(projected) if projected is not None else "not at this rate",
                    "target_year": str(target),
                },
            )
        )
    return alerts, len(rows), []
