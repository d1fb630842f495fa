"""Property: any stream of updates, retractions, duplicates and stale versions leaves the
incremental state equal to a batch evaluation of the facts the stream leaves in force."""

from __future__ import annotations

import random

import factories as f
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.batch import evaluate_district

SCHOOL_TYPES = ["primary", "junior", "nine_year", "teaching_point", "twelve_year"]
YEARS = (2022, 2023)
LEVELS_OF = {
    "primary": ["primary"],
    "junior": ["junior"],
    "nine_year": ["primary", "junior"],
    "teaching_point": ["primary"],
    "twelve_year": ["primary", "junior", "senior"],
}


def _payload(rng: random.Random, etype: str, school_type: str) -> dict:
    levels = LEVELS_OF[school_type]
    if etype == "school.enrolment":
        sections = {}
        for lv in levels:
            students = rng.choice([0, rng.randint(1, 60), rng.randint(100, 2600)])
            classes = 0 if students == 0 else max(1, students // rng.randint(30, 60))
            sections[lv] = {"students": students, "classes": classes, "class_sizes": f.classes_of(students, classes)}
        return {"sections": sections}
    if etype == "school.staff":
        return {
            "sections": {
                lv: f.staff_section(
                    full_time=(ft := rng.randint(0, 200)),
                    qualified=rng.randint(0, ft),
                    backbone=rng.randint(0, ft),
                    pe_arts=rng.randint(0, ft),
                    certified=rng.randint(0, ft),
                    trained=rng.randint(0, ft),
                )
                for lv in levels
                if lv != "senior"
            }
        }
    if etype == "school.facilities":

        def fac():
            return f.facility(rng.uniform(0, 20000), rng.uniform(0, 30000), rng.uniform(0, 5e6), rng.randint(0, 80))

        payload = {
            "music_room_areas_m2": [rng.choice([90.0, 96.0, 120.5]) for _ in range(rng.randint(0, 4))],
            "art_room_areas_m2": [rng.choice([85.0, 90.0, 110.0]) for _ in range(rng.randint(0, 4))],
        }
        if rng.random() < 0.5:
            payload["school"] = fac()
        else:
            payload["sections"] = {lv: fac() for lv in levels if lv != "senior" and rng.random() < 0.9}
        return payload
    budget = rng.uniform(0, 2e6)
    return {
        "public_funds_budget_yuan": budget,
        "teacher_training_yuan": rng.uniform(0, budget),
        "public_funds_per_student_yuan": rng.uniform(500, 2000),
    }


def _stream(seed: int, schools: int, versions: int) -> list[dict]:
    """Several versions of every fact, shuffled, with re-sent duplicates and late old versions."""
    rng = random.Random(seed)
    events: list[dict] = []
    ids = [f"37020255{i:02d}" for i in range(schools)]
    types = {sid: rng.choice(SCHOOL_TYPES) for sid in ids}
    for year in YEARS:
        events.append(f.district_registered(year=year))
        stats = dict(f.GOOD_STATISTICS)
        stats["satisfaction_pct"] = rng.choice([80, 85, 90])
        events.append(f.statistics(year=year, **stats))
        events += [
            f.inspection(item, rng.choice(["pass", "pass", "fail"]), year=year)
            for item in f.INSPECTION_ITEMS + f.VETO_ITEMS
        ]
    registrations = []
    for sid in ids:
        registrations.append(f.registered(sid, types[sid], locale=rng.choice(["urban", "rural"]), year=YEARS[0]))
        if rng.random() < 0.3:  # a later change of type or a closure
            new_type = rng.choice(SCHOOL_TYPES)
            types[sid] = new_type
            reg = f.registered(sid, new_type, year=YEARS[0], seq=1)
            if rng.random() < 0.3:
                reg["payload"]["closed_year"] = YEARS[1]
            registrations.append(reg)
    facts = []
    for sid in ids:
        for year in YEARS:
            for etype in ("school.enrolment", "school.staff", "school.facilities", "school.finance"):
                for seq in rng.sample(range(10), k=rng.randint(1, versions)):
                    e = f.event(etype, _payload(rng, etype, types[sid]), year=year, seq=seq, school_id=sid)
                    facts.append(e)
    rng.shuffle(facts)
    rng.shuffle(registrations)
    stream = (
        events
        + registrations[: len(ids) // 2]
        + facts[: len(facts) // 3]
        + registrations[len(ids) // 2 :]
        + facts[len(facts) // 3 :]
    )
    for _ in range(len(stream) // 5):  # duplicates: exact re-sends anywhere later
        i = rng.randrange(len(stream))
        stream.insert(rng.randrange(i, len(stream) + 1), dict(stream[i]))
    return stream


def _assert_equal_to_batch(engine, stream):
    state = engine.new_state(f.DISTRICT)
    outcomes = [state.apply(e).outcome for e in stream]
    assert len(outcomes) == len(stream)
    batch = evaluate_district(engine, f.DISTRICT, stream)
    for year, ref in batch.items():
        assert state.summary(year) == ref.summary, year
        assert state.counters(year) == ref.counters, year
        for rid, res in state.results(year).items():
            assert res.passed is ref.results[rid].passed, (year, rid)
            assert state.years[year].verdicts[rid] is res.passed, (year, rid)
        for pair, res in state.balance(year).items():
            ref_cv = ref.cv.get(pair)
            if ref_cv is None:
                assert res.value is None
            else:
                assert res.value == pytest.approx(ref_cv, rel=1e-9, abs=1e-12), (year, pair)
            m = state.years[year].moments.get(pair)
            assert m is None or m.is_empty() or m.variance() >= 0
    return state, outcomes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), schools=st.integers(1, 7), versions=st.integers(1, 4))
def test_incremental_state_equals_batch_evaluation(engine, seed, schools, versions):
    _assert_equal_to_batch(engine, _stream(seed, schools, versions))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_the_state_is_the_same_whatever_the_batching(engine, seed):
    stream = _stream(seed, 5, 3)
    one_by_one, _ = _assert_equal_to_batch(engine, stream)
    batched = engine.new_state(f.DISTRICT)
    rng = random.Random(seed)
    i = 0
    while i < len(stream):
        n = rng.randint(1, 40)
        batched.apply_batch(stream[i : i + n])
        i += n
    for year in YEARS:
        assert batched.summary(year) == one_by_one.summary(year)
        assert batched.counters(year) == one_by_one.counters(year)


def test_every_event_is_accounted_for(engine):
    stream = _stream(11, 6, 4)
    state = engine.new_state(f.DISTRICT)
    counts: dict[str, int] = {}
    for e in stream:
        outcome = state.apply(e).outcome
        counts[outcome] = counts.get(outcome, 0) + 1
    assert sum(counts.values()) == len(stream)
    assert counts["duplicate"] > 0 and counts["stale"] > 0 and counts["applied"] > 0
