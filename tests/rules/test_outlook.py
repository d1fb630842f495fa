"""Outlook (issue #13, item 3): trends, the year a failing item passes at that rate, the projected
year of attainment and the districts at risk before their declared year."""
from __future__ import annotations

from fractions import Fraction as F

import factories as f
from rules.outlook import district_outlook, projected_year, trend


def test_trend_and_crossing_by_hand() -> None:
    points = [(2021, F(3)), (2022, F(7, 2)), (2023, F(4))]
    assert trend(points) == (F(1, 2), F(3) - F(1, 2) * 2021)
    assert projected_year(points, ">=", F(9, 2), 2023) == 2024          # exactly 4.5 in 2024
    assert projected_year(points, ">", F(9, 2), 2023) == 2025           # strictly above: the year after
    assert projected_year(points, ">=", F(4), 2023) == 2024             # already there: next year at the earliest
    assert projected_year(points, "<=", F(1), 2023) is None             # moving away
    assert projected_year(points[:1], ">=", F(9, 2), 2023) is None      # one year: no trend
    assert projected_year([(2021, F(1)), (2022, F(1))], ">=", F(2), 2022) is None   # flat
    assert projected_year([(2021, F(0)), (2022, F(1, 1000))], ">=", F(100), 2022) is None   # beyond the horizon


def _district(engine, satisfaction: list[float], declared: int):
    state = engine.new_state(f.DISTRICT)
    for year, pct in zip((2021, 2022, 2023), satisfaction):
        for e in f.good_district(year):
            if e["event_type"] == "district.registered":
                e["payload"]["declared_creation_year"] = declared
            if e["event_type"] == "district.statistics":
                e["payload"]["satisfaction_pct"] = pct
            assert state.apply(e).outcome == "applied", e
    return state


def test_a_district_improving_fast_enough_is_not_at_risk(engine) -> None:
    out = district_outlook(_district(engine, [80, 82, 84], declared=2025))
    assert out is not None and out.latest_year == 2023 and out.attained is False
    [sr] = [i for i in out.items if i.item == "SR"]
    assert sr.slope == 2.0 and sr.projected_year == 2024 and sr.values == ((2021, 80.0), (2022, 82.0), (2023, 84.0))
    assert out.projected_year == 2024 and not out.at_risk and out.risk_items == []


def test_a_district_improving_too_slowly_is_at_risk_naming_the_item(engine) -> None:
    out = district_outlook(_district(engine, [80, 80.5, 81], declared=2025))
    [sr] = [i for i in out.items if i.item == "SR"]
    assert sr.projected_year == 2031                       # 81 + 0.5 a year reaches 85 in 2031
    assert out.projected_year == 2031 and out.at_risk and out.risk_items == ["SR"]


def test_past_its_declared_year_a_district_is_behind_not_at_risk(engine) -> None:
    out = district_outlook(_district(engine, [80, 80.5, 81], declared=2023))
    assert out.projected_year == 2031 and not out.at_risk   # DistrictBehind says so already


def test_an_attained_district_projects_its_latest_year(engine) -> None:
    out = district_outlook(_district(engine, [90, 90, 90], declared=2025))
    assert out.attained is True and out.projected_year == 2023 and not out.at_risk and out.items == []
