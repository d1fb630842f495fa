"""Payload shapes and internal consistency of the valid events."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import _synthetic_checker as chk

SECTIONS = {
    "primary": {"primary"},
    "junior": {"junior"},
    "nine_year": {"primary", "junior"},
    "twelve_year": {"primary", "junior", "senior"},
    "complete_secondary": {"junior", "senior"},
    "teaching_point": {"primary"},
    "special": {"primary"},
}


def _latest():  # type: ignore[no-untyped-def]
    return chk.read()[1]


def _types(latest) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {sid: e["payload"]["school_type"] for (et, sid, _, _), e in latest.items() if et == "school.registered"}


def test_class_sizes_add_up() -> None:
    n = 0
    for (et, _, _, _), e in _latest().items():
        if et != "school.enrolment":
            continue
        for s in e["payload"]["sections"].values():
            assert len(s["class_sizes"]) == s["classes"] >= 1
            assert sum(s["class_sizes"]) == s["students"] > 0
            assert min(s["class_sizes"]) >= 1
            n += 1
    assert n > 5000


def test_sections_follow_the_school_type() -> None:
    latest = _latest()
    types = _types(latest)
    for (et, sid, _, _), e in latest.items():
        if et == "school.enrolment":
            assert set(e["payload"]["sections"]) == SECTIONS[types[sid]]
        elif et == "school.staff":
            assert set(e["payload"]["sections"]) == SECTIONS[types[sid]] - {"senior"}


def test_teaching_points_are_small() -> None:
    latest = _latest()
    types = _types(latest)
    sizes = [
        e["payload"]["sections"]["primary"]
        for (et, sid, _, _), e in latest.items()
        if et == "school.enrolment" and types[sid] == "teaching_point"
    ]
    assert sizes
    assert all(1 <= s["classes"] <= 6 for s in sizes)
    assert sum(s["students"] < 50 for s in sizes) > len(sizes) / 2


def test_staff_counts_never_exceed_full_time_teachers() -> None:
    for (et, _, _, _), e in _latest().items():
        if et == "school.staff":
            for s in e["payload"]["sections"].values():
                ft = s["full_time_teachers"]
                assert ft >= 1
                assert all(0 <= s[f] <= ft for f in chk.STAFF_FIELDS)


def test_facilities_use_both_forms() -> None:
    forms: Counter[str] = Counter()
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    latest = _latest()
    types = _types(latest)
    for (et, sid, _, _), e in latest.items():
        if et == "school.facilities":
            p = e["payload"]
            form = "school" if "school" in p else "sections"
            assert ("school" in p) != ("sections" in p)
            forms[form] += 1
            by_type[types[sid]][form] += 1
            assert p["music_room_areas_m2"] and p["art_room_areas_m2"]
    assert forms["school"] > 0 and forms["sections"] > 0
    assert by_type["nine_year"]["school"] > by_type["nine_year"]["sections"] > 0


def test_finance_is_consistent() -> None:
    for (et, _, _, _), e in _latest().items():
        if et == "school.finance":
            p = e["payload"]
            assert 0 <= p["teacher_training_yuan"] <= p["public_funds_budget_yuan"]
            assert p["public_funds_per_student_yuan"] > 0


def test_district_statistics_are_percentages_and_sometimes_incomplete() -> None:
    stats = [e["payload"] for (et, _, _, _), e in _latest().items() if et == "district.statistics"]
    assert len(stats) == 50
    for p in stats:
        assert set(p) <= chk.STAT_FIELDS
        for k, v in p.items():
            assert v >= 0
            if k.endswith("_pct"):
                assert v <= 100
    assert any(set(p) != chk.STAT_FIELDS for p in stats), "some field should be absent somewhere"


def test_one_inspection_per_item_per_district_year() -> None:
    city = chk.city()
    seen: Counter[tuple[str, int, str]] = Counter()
    for line in city.lines:
        e = json.loads(line)
        if e["event_type"] == "district.inspection":
            seen[(e["district_code"], e["year"], e["payload"]["item"])] += 1
    assert len(seen) == 10 * 5 * 13
    assert set(seen.values()) == {1}


def test_closed_schools_stop_reporting_and_new_ones_start() -> None:
    latest = _latest()
    closed = {
        sid: e["payload"]["closed_year"]
        for (et, sid, _, _), e in latest.items()
        if et == "school.registered" and e["payload"]["closed_year"] is not None
    }
    opened = {
        sid: e["payload"]["opened_year"]
        for (et, sid, y, _), e in latest.items()
        if et == "school.registered" and y > 2021 and e["payload"]["closed_year"] is None
    }
    assert closed and opened
    years: dict[str, set[int]] = defaultdict(set)
    for (et, sid, y, _), _e in latest.items():
        if et == "school.enrolment":
            years[sid].add(y)
    for sid, cy in closed.items():
        assert max(years[sid]) == cy - 1
    for sid, oy in opened.items():
        assert min(years[sid]) == oy
    for ys in years.values():  # every open school reports every year it is open
        assert ys == set(range(min(ys), max(ys) + 1))


def test_every_open_school_reports_all_four_facts_each_year() -> None:
    latest = _latest()
    facts: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for (et, sid, y, _), _e in latest.items():
        if et in ("school.enrolment", "school.staff", "school.facilities", "school.finance"):
            facts[et].add((sid, y))
    assert facts["school.enrolment"] == facts["school.staff"] == facts["school.facilities"] == facts["school.finance"]
    per_year = Counter(y for _, y in facts["school.enrolment"])
    assert all(950 <= n <= 1000 for n in per_year.values()), per_year
