"""Gap to pass for a district (issue #13, item 2): RA-CV plans and failing items."""

from __future__ import annotations

import json
from fractions import Fraction as F

import factories as f
import pytest

from rules.gap_district import _cv2, _cv_plan, district_gaps
from rules.state import DistrictState


def test_the_coefficient_and_the_greedy_plan_by_hand() -> None:
    # three schools of 100, 100, 200 students with values 1, 3, 2: mean 2, variance (100+100)/400 = 1/2,
    # CV² = (1/2)/4 = 1/8 (CV 0.354 > 0.30)
    points = {"a": (100, F(1)), "b": (100, F(3)), "c": (200, F(2))}
    assert _cv2(points) == (F(2), F(1, 8))
    plan = _cv_plan("primary", "R1", points, 0.30)
    assert plan is not None and plan.reduction_needed == pytest.approx(0.125**0.5 - 0.30)
    assert [s for s, _ in plan.contributors] == ["a", "b", "c"] and plan.contributors[0][1] == pytest.approx(0.5)
    # the low school first: a to 2 → values 2, 3, 2 (mean 2.25, CV² = (100·0.5625+300·0.0625)/400/5.0625)
    [step] = plan.steps
    assert (step.school_id, step.value_before, step.value_after) == ("a", 1.0, 2.0)
    assert plan.passes and plan.resulting_cv == pytest.approx(((100 * 0.5625 + 300 * 0.0625) / 400) ** 0.5 / 2.25)
    assert _cv_plan("primary", "R1", points, 0.40) is None  # already within the threshold


def _check_plans(state: DistrictState, year: int) -> int:
    gaps = district_gaps(state, year)
    balance = state.balance(year)
    for plan in gaps.balance:
        result = balance[(plan.level, plan.indicator)]
        assert result.passed is False and plan.cv == pytest.approx(result.value, rel=1e-9)
        assert plan.passes and plan.resulting_cv <= plan.threshold + 1e-12
        assert all(s.cv_after > plan.threshold for s in plan.steps[:-1])  # each step was needed
        shares = [s for _, s in plan.contributors]
        assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1 + 1e-12
    failing = [k for k, r in balance.items() if r.passed is False]
    assert sorted((p.level, p.indicator) for p in gaps.balance) == sorted(failing)
    return len(gaps.balance)


def test_an_unbalanced_district_gets_a_plan_for_each_failing_coefficient(engine) -> None:
    state = engine.new_state(f.DISTRICT)
    for e in f.good_district(schools=3):
        state.apply(e)
    # one school of three with no qualified teachers at all: R1's CV goes above 0.50
    state.apply(f.staff("3702020000", {"primary": f.staff_section(full_time=80, qualified=0)}, seq=3))
    assert _check_plans(state, 2023) >= 1
    [plan] = [p for p in district_gaps(state, 2023).balance if p.indicator == "R1"]
    assert plan.contributors[0][0] == "3702020000" and plan.steps[0].school_id == "3702020000"


def test_a_city_district_s_plans_pass_and_need_their_last_step(engine) -> None:
    from ingestion.synthetic import generate_city

    events = [json.loads(line) for line in generate_city(seed=2021, schools=300).lines]
    states: dict[str, DistrictState] = {}
    for e in sorted(events, key=lambda e: (e["event_type"] != "school.registered", e["year"])):
        states.setdefault(e["district_code"], engine.new_state(e["district_code"])).apply(e)
    items = 0
    for state in states.values():
        for year in (2023, 2024, 2025):
            _check_plans(state, year)
            gaps = district_gaps(state, year)
            for item in gaps.items:
                items += 1
                assert item.distance > 0
                r = state.results(year)[item.rule_id]
                assert r.passed is False and item.value == r.value and item.threshold == r.threshold
    assert items > 0


def test_a_failing_item_names_its_distance(engine) -> None:
    state = engine.new_state(f.DISTRICT)
    for e in f.good_district():
        state.apply(e)
    low = dict(f.GOOD_STATISTICS, teacher_avg_pay_yuan=100_000, civil_servant_avg_pay_yuan=110_000)
    state.apply(f.statistics(year=2023, seq=1, **low))
    gaps = district_gaps(state, 2023)
    failing = {g.rule_id: g for g in gaps.items}
    assert failing, gaps
    for g in failing.values():
        assert g.distance == pytest.approx(abs(g.threshold - g.value))


@pytest.mark.parametrize(
    ("stats", "rule_id", "value", "threshold", "comparator", "distance"),
    [
        # the first check met (100 >= 100), the second not: the item is the second check's
        ({"monitoring_difference_rate": 1.0}, "Q9", 1.0, 0.15, "<", 0.85),
        ({"rotated_backbone": 0}, "G11", 0.0, 20.0, ">=", 20.0),
    ],
)
def test_a_rule_failing_on_a_later_check_names_that_check_and_a_positive_distance(
    engine, stats, rule_id, value, threshold, comparator, distance
) -> None:
    """A rule of several checks failing on one after the first used to show the first (met) check:
    "100 >= 100" and a distance of 0, which stopped `dbt build` (assert_district_gaps_match_sql:
    distance <= 0) on schema-valid statistics (tests/streams/test_hostile_values.py)."""
    state = engine.new_state(f.DISTRICT)
    for e in f.good_district():
        state.apply(e)
    assert state.apply(f.statistics(year=2023, seq=1, **dict(f.GOOD_STATISTICS, **stats))).outcome == "applied"
    r = state.results(2023)[rule_id]
    assert (r.passed, r.value, r.threshold, r.comparator) == (False, value, threshold, comparator)
    [item] = [g for g in district_gaps(state, 2023).items if g.rule_id == rule_id]
    assert (item.value, item.threshold, item.comparator) == (value, threshold, comparator)
    assert item.distance == pytest.approx(distance) and item.distance > 0


def test_a_value_at_a_strict_threshold_is_a_positive_distance_from_it(engine) -> None:
    """Q9's difference rate must be below 0.15: at exactly 0.15 it fails, and the gap is the
    smallest move the engine counts (its relative tolerance), not 0."""
    state = engine.new_state(f.DISTRICT)
    for e in f.good_district():
        state.apply(e)
    state.apply(f.statistics(year=2023, seq=1, **dict(f.GOOD_STATISTICS, monitoring_difference_rate=0.15)))
    [item] = [g for g in district_gaps(state, 2023).items if g.rule_id == "Q9"]
    assert (item.value, item.comparator) == (0.15, "<") and 0 < item.distance <= 1e-12
