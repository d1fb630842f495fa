"""Outlook (issue #13, item 3): trends, the year a failing item passes at that rate, the projected
year of attainment and the districts at risk before their declared year."""

from __future__ import annotations

from fractions import Fraction as F

import factories as f

from rules.outlook import district_outlook, projected_year, trend


def test_trend_and_crossing_by_hand() -> None:
    points = [(2021, F(3)), (2022, F(7, 2)), (2023, F(4))]
    assert trend(points) == (F(1, 2), F(3) - F(1, 2) * 2021)
    assert projected_year(points, ">=", F(9, 2), 2023) == 2024  # exactly 4.5 in 2024
    assert projected_year(points, ">", F(9, 2), 2023) == 2025  # strictly above: the year after
    assert projected_year(points, ">=", F(4), 2023) == 2024  # already there: next year at the earliest
    assert projected_year(points, "<=", F(1), 2023) is None  # moving away
    assert projected_year(points[:1], ">=", F(9, 2), 2023) is None  # one year: no trend
    assert projected_year([(2021, F(1)), (2022, F(1))], ">=", F(2), 2022) is None  # flat
    assert projected_year([(2021, F(0)), (2022, F(1, 1000))], ">=", F(100), 2022) is None  # beyond the horizon


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
    assert sr.projected_year == 2031  # 81 + 0.5 a year reaches 85 in 2031
    assert out.projected_year == 2031 and out.at_risk and out.risk_items == ["SR"]


def test_past_its_declared_year_a_district_is_behind_not_at_risk(engine) -> None:
    out = district_outlook(_district(engine, [80, 80.5, 81], declared=2023))
    assert out.projected_year == 2031 and not out.at_risk  # DistrictBehind says so already


def test_an_attained_district_projects_its_latest_year(engine) -> None:
    out = district_outlook(_district(engine, [90, 90, 90], declared=2025))
    assert out.attained is True and out.projected_year == 2023 and not out.at_risk and out.items == []


def _why(engine, satisfaction: list[float], declared: int, institutions: list[int] | None = None) -> str:
    """The attainment table's why-not-on-track cell for a district of _district's making; with
    `institutions`, the off-campus training institutions of each year (C11 wants fewer each year)."""
    import datetime as dt

    from rules.summary import district_rows

    state = _district(engine, satisfaction, declared)
    for year, n in zip((2021, 2022, 2023), institutions or []):
        [stats] = [e for e in f.good_district(year) if e["event_type"] == "district.statistics"]
        stats["payload"].update(satisfaction_pct=satisfaction[year - 2021], training_institutions=n)
        stats["seq"] = 9
        assert state.apply(stats).outcome == "applied"
    [row] = district_rows({f.DISTRICT: state}, {}, [2021, 2022, 2023], dt.date(2023, 12, 1))
    return row["why_not_on_track"]


def test_the_cli_table_says_why_a_district_is_not_on_track(engine) -> None:
    """Issue #13: the attainment table's 'on track' cell names what a district is behind on and what
    its outlook says, not a bare ✗."""
    # behind its declared year (2023) on SR, and on C11 (as many training institutions as last year);
    # at its rate SR passes in 2031
    assert _why(engine, [80, 80.5, 81], declared=2023) == "behind: SR, C11; projected 2031 > declared 2023"
    assert _why(engine, [80, 80.5, 81], declared=2025) == "behind: C11; projected 2031 > declared 2025"
    # on track today (2025 is still to come, C11 met) but too slow: at risk
    assert (
        _why(engine, [80, 80.5, 81], declared=2025, institutions=[40, 38, 36])
        == "at risk: projected 2031 > declared 2025"
    )
    # fast enough: nothing to say
    assert _why(engine, [80, 82, 84], declared=2025, institutions=[40, 38, 36]) == ""
    # not moving at all: it never gets there at this rate, and the item says why
    assert _why(engine, [80, 80, 80], declared=2023) == "behind: SR, C11; not at this rate (SR)"


def test_a_year_without_sections_gives_the_section_rules_no_value_to_trend(engine) -> None:
    """A year whose sections all have no students judges no level of RA-S or RA-CV: no value then,
    as in the SQL (null), so the trend skips the year instead of reading it as "no section fails".
    Found by tests/streams/test_hostile_values.py: a version of an enrolment with zero students made
    the engine's RA-S slope 0.1 against the SQL's regr_slope 0.0 (assert_outlook_matches_sql)."""
    state = engine.new_state(f.DISTRICT)
    for e in f.district_with_an_empty_first_year():
        assert state.apply(e).outcome == "applied", e
    for rule_id in ("RA-S", "RA-CV"):
        r = state.results(2021)[rule_id]
        assert (r.passed, r.value, r.reason) == (None, None, "no sections reported"), rule_id
    assert state.results(2023)["RA-S"].value == 1.0
    out = district_outlook(state)
    assert out is not None
    [ras] = [i for i in out.items if i.item == "RA-S"]
    assert ras.values == ((2022, 1.0), (2023, 1.0)) and ras.slope == 0.0  # not 0 → 1 → 1, a slope of 0.5
