"""RA-CV: the enrolment-weighted coefficient of variation, the published example, the
threshold boundary, and the exactness of the incremental sums."""

from __future__ import annotations

import math
import random

import factories as f
import pytest

from rules.moments import WeightedMoments, weighted_cv

# The published example: five primary schools, students and library books.
STUDENTS = [45, 37, 89, 76, 55]
BOOKS = [279, 137, 935, 160, 402]


def test_published_worked_example():
    m = WeightedMoments()
    for p, b in zip(STUDENTS, BOOKS):
        m.add(p, b / p)
    assert m.mean() == pytest.approx(6.334, abs=5e-4)
    assert m.variance() == pytest.approx(10.653, abs=5e-4)
    assert math.sqrt(m.variance()) == pytest.approx(3.264, abs=5e-4)
    assert m.cv() == pytest.approx(0.515, abs=5e-4)
    assert round(m.cv(), 2) == 0.52
    assert m.cv() == pytest.approx(weighted_cv([(p, b / p) for p, b in zip(STUDENTS, BOOKS)]), rel=1e-15)


def test_worked_example_through_the_district_state(engine):
    """The same numbers as R7 (multimedia rooms per 100 students) in five primary sections."""
    state = engine.new_state(f.DISTRICT)
    state.apply(f.district_registered())
    for i, (p, b) in enumerate(zip(STUDENTS, BOOKS)):
        sid = f"37020210{i:02d}"
        state.apply(f.registered(sid, "primary"))
        state.apply(f.enrolment(sid, {"primary": (p, 2)}))
        # multimedia_rooms = books / 100 gives R7 = 100 × rooms / students = books / students
        state.apply(f.facilities(sid, school=f.facility(1.0, 1.0, 1.0, b / 100)))
    result = state.balance(2023)[("primary", "R7")]
    assert result.value == pytest.approx(0.5153, abs=1e-4)
    assert result.passed is False and result.threshold == 0.5
    assert result.inputs["weighted_mean"] == pytest.approx(6.334, abs=5e-4)
    assert result.inputs["students"] == sum(STUDENTS) and result.inputs["sections"] == 5


@pytest.mark.parametrize("level,expected", [("primary", True), ("junior", False)])
def test_cv_exactly_at_threshold(engine, level, expected):
    """Two equal sections at 3.0 and 1.0: CV = 0.5 exactly; primary's limit is 0.50, junior's 0.45."""
    state = engine.new_state(f.DISTRICT)
    for sid, area in (("3702020001", 300.0), ("3702020002", 100.0)):
        state.apply(f.registered(sid, level))
        state.apply(f.enrolment(sid, {level: (100, 3)}))
        state.apply(f.facilities(sid, school=f.facility(area, 1.0, 1.0, 1)))
    result = state.balance(2023)[(level, "R4")]
    assert result.value == 0.5
    assert result.passed is expected


def test_sections_without_students_carry_no_weight(engine):
    state = engine.new_state(f.DISTRICT)
    for sid, students in (("3702020001", 100), ("3702020002", 100), ("3702020003", 0)):
        state.apply(f.registered(sid, "primary"))
        state.apply(f.enrolment(sid, {"primary": (students, 3 if students else 0)}))
        state.apply(f.facilities(sid, school=f.facility(450.0, 1.0, 1.0, 1)))
    result = state.balance(2023)[("primary", "R4")]
    assert result.value == 0.0 and result.inputs["sections"] == 2
    assert state.counters(2023)["sections_empty:primary"] == 1


def test_missing_inputs_leave_the_coefficient_undecided(engine):
    state = engine.new_state(f.DISTRICT)
    for sid in ("3702020001", "3702020002"):
        state.apply(f.registered(sid, "primary"))
        state.apply(f.enrolment(sid, {"primary": (100, 3)}))
    state.apply(f.facilities("3702020001", school=f.facility(450.0, 1.0, 1.0, 1)))
    result = state.balance(2023)[("primary", "R4")]
    assert result.passed is None and result.reason == "1 sections lack inputs"


def test_exact_sums_survive_a_long_stream_of_retractions():
    """Values that would cancel catastrophically in naive float sums."""
    rng = random.Random(7)
    m = WeightedMoments()
    live: list[tuple[int, float]] = []
    for step in range(20000):
        if live and rng.random() < 0.45:
            w, x = live.pop(rng.randrange(len(live)))
            m.remove(w, x)
        else:
            w, x = rng.randint(1, 3000), 1e6 + rng.random() * 1e-3 * rng.choice([1, 1e-6, 1e3])
            live.append((w, x))
            m.add(w, x)
        if step % 997 == 0 and live:
            ref = weighted_cv(live)
            assert m.variance() >= 0
            assert m.cv() == pytest.approx(ref, rel=1e-12, abs=1e-300)


def test_identical_values_give_zero_never_negative():
    m = WeightedMoments()
    for w in (3, 5, 7):
        m.add(w, 4.2)
    m.add(11, 9.9)
    m.remove(11, 9.9)
    assert m.variance() == 0.0 and m.cv() == 0.0


def test_round_trip_of_moment_state():
    m = WeightedMoments()
    for w, x in ((3, 0.1), (5, 2.5e-7), (7, 123.456)):
        m.add(w, x)
    n = WeightedMoments.from_state(m.to_state())
    assert n.cv() == m.cv() and n.mean() == m.mean()
