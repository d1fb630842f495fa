"""Gap to pass and outlook marts against the rules engine (issue #13, items 2 and 3): what dbt built
from the landed rows equals what rules/gap.py, rules/gap_district.py and rules/outlook.py say of
the very states, row for row. Used by test_dbt_build.py and test_incremental.py."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rules.gap import GapModel, section_inputs
from rules.gap_district import district_gaps
from rules.outlook import district_outlook


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_school_gaps(con: Any, states: Mapping[str, Any]) -> int:
    """Every failing section's options (and no other section's) are in mart_school_gap_to_pass,
    each change with the engine's exact addition and target; returns the options compared."""
    rows: dict[tuple[Any, ...], dict[int, dict[str, dict[str, Any]]]] = {}
    for r in _rows(con, "select * from main.mart_school_gap_to_pass"):
        rows.setdefault((r["school_id"], r["year"], r["section"]), {}).setdefault(r["option_id"], {})[
            r["indicator"]
        ] = r
    model = GapModel(next(iter(states.values())).engine.catalogue)
    seen, options = set(), 0
    for state in states.values():
        for year in state.years:
            for school_id, ev in state.section_evals(year):
                for level, s in ev.sections.items():
                    if s.passed is not False:
                        continue
                    key = (school_id, year, level)
                    want = model.section_options(section_inputs(state.schools[school_id].facts[year], level))
                    assert want, key
                    got = rows.get(key, {})
                    assert sorted(got) == [o.option_id for o in want], key
                    for o in want:
                        assert sorted(got[o.option_id]) == sorted(c.indicator for c in o.changes), (key, o)
                        for c in o.changes:
                            row = got[o.option_id][c.indicator]
                            assert row["addition"] == float(c.addition) and row["input"] == c.input, (key, c, row)
                            assert _close(row["target_value"], float(c.target_value)) and row["to_floor"] == c.to_floor
                            assert _close(row["current_value"], float(c.current_value)) and row["unit"] == c.unit
                        options += 1
                    seen.add(key)
    assert seen == set(rows), "options in the mart for sections the engine does not fail, or the reverse"
    return options


def check_district_gaps(con: Any, states: Mapping[str, Any]) -> int:
    """mart_district_gap_to_pass holds the engine's plans and item distances; returns the rows."""
    rows = {
        (r["district_code"], r["year"], r["item"]): r
        for r in _rows(con, "select * from main.mart_district_gap_to_pass")
    }
    keys = set()
    for code, state in states.items():
        for year in state.years:
            if state.summary(year) is None:
                continue
            gaps = district_gaps(state, year)
            for p in gaps.balance:
                key = (code, year, f"RA-CV {p.level} {p.indicator}")
                row = rows[key]
                assert _close(row["value"], p.cv) and _close(row["distance"], p.reduction_needed), key
                assert row["plan_steps"] == len(p.steps) and row["plan_passes"] == p.passes, key
                assert _close(row["plan_resulting_value"], p.resulting_cv), key
                keys.add(key)
            for i in gaps.items:
                key = (code, year, i.rule_id)
                row = rows[key]
                assert _close(row["value"], i.value) and _close(row["distance"], i.distance), key
                assert row["unit"] == i.unit and row["comparator"] == i.comparator, key
                keys.add(key)
    assert keys == set(rows)
    return len(rows)


def check_outlooks(con: Any, states: Mapping[str, Any]) -> int:
    """mart_district_outlook holds each district's engine outlook; returns the districts compared."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for r in _rows(con, "select * from main.mart_district_outlook"):
        rows.setdefault(r["district_code"], []).append(r)
    n = 0
    for code, state in states.items():
        out = district_outlook(state)
        if out is None:
            assert code not in rows
            continue
        got = rows[code]
        for r in got:
            assert (
                r["year"],
                r["declared_creation_year"],
                r["plan_deadline_year"],
                r["attained"],
                r["district_projected_year"],
                r["at_risk"],
                list(r["risk_items"]),
            ) == (
                out.latest_year,
                out.declared_creation_year,
                out.plan_deadline_year,
                out.attained,
                out.projected_year,
                out.at_risk,
                out.risk_items,
            ), code
        items = {r["item"]: r for r in got}
        assert set(items) == ({i.item for i in out.items} | set(out.unprojectable) or {None}), code
        for i in out.items:
            row = items[i.item]
            assert row["item_projected_year"] == i.projected_year and _close(row["item_slope"], i.slope), (code, i)
            assert row["item_drives_risk"] == (i.item in out.risk_items)
        n += 1
    assert n == len(rows)
    return n


def check_gaps(con: Any, states: Mapping[str, Any], engine_landed: bool = True) -> None:
    """All three; the school options and district rows are not vacuous. `engine_landed` false: the
    states' catalogue is not the one the landed rows were judged by (a catalogue change rebuilds
    the marts, not the landing), so there is nothing to compare."""
    if not engine_landed:
        return
    assert check_school_gaps(con, states) > 0
    assert check_district_gaps(con, states) > 0
    assert check_outlooks(con, states) > 0
