"""District rules G, Q, SR, PRE and vetoes at their boundaries, on a district that otherwise attains."""

from __future__ import annotations

import factories as f
import pytest

from rules.state import APPLIED

YEAR = 2023


def _district(engine, extra=(), stats=None, drop_inspection=None, **kw):
    state = engine.new_state(f.DISTRICT)
    events = f.good_district(**kw)
    events = [
        e for e in events if not (e["event_type"] == "district.inspection" and e["payload"]["item"] == drop_inspection)
    ]
    if stats is not None:
        events = [e for e in events if e["event_type"] != "district.statistics"]
        events.append(f.statistics(year=YEAR, **stats))
    for e in list(events) + list(extra):
        assert state.apply(e).outcome == APPLIED, e
    return state


def _stats(**changes):
    s = dict(f.GOOD_STATISTICS)
    for k, v in changes.items():
        if v is None:
            s.pop(k)
        else:
            s[k] = v
    return s


def _verdict(state, rule_id):
    """The rule's explained result, checked against the hot path's verdict and summary."""
    result = state.results(YEAR)[rule_id]
    summary = state.summary(YEAR)
    assert (rule_id in summary.failed_items) == (result.passed is False)
    assert (rule_id in summary.undecided_items) == (result.passed is None)
    assert result.clause and result.rule_id == rule_id
    return result.passed


def test_the_good_district_attains(engine):
    state = _district(engine)
    summary = state.summary(YEAR)
    assert summary.attained is True and summary.failed_items == () and summary.vetoed is False


@pytest.mark.parametrize(
    "rule_id,changes,expected",
    [
        ("G7", {"special_ed_funds_per_student_yuan": 6000}, True),
        ("G7", {"special_ed_funds_per_student_yuan": 5999.99}, False),
        ("G7", {"special_ed_funds_per_student_yuan": None}, None),
        ("G8", {"teacher_avg_pay_yuan": 110_000, "civil_servant_avg_pay_yuan": 110_000}, True),
        ("G8", {"teacher_avg_pay_yuan": 109_999}, False),
        ("G8", {"civil_servant_avg_pay_yuan": None}, None),
        ("G11", {"rotation_eligible": 1000, "rotated": 100, "rotated_backbone": 20}, True),
        ("G11", {"rotation_eligible": 1000, "rotated": 99, "rotated_backbone": 50}, False),
        ("G11", {"rotation_eligible": 1000, "rotated": 100, "rotated_backbone": 19}, False),
        ("G11", {"rotated_backbone": None}, None),
        ("G13", {"nearby_enrolment_urban_pct": 100, "nearby_enrolment_town_pct": 95}, True),
        ("G13", {"nearby_enrolment_urban_pct": 99.9}, False),
        ("G13", {"nearby_enrolment_town_pct": 94.9}, True),  # no town schools here: not applicable
        ("G13", {"nearby_enrolment_town_pct": None}, True),
        ("G14", {"quality_hs_quota_pct": 50}, True),
        ("G14", {"quality_hs_quota_pct": 49.9}, False),
        ("G15", {"migrant_public_pct": 85}, True),
        ("G15", {"migrant_public_pct": 84.9}, False),
        ("Q1", {"junior_retention_pct": 95}, True),
        ("Q1", {"junior_retention_pct": 94.99}, False),
        ("Q2", {"disabled_enrolment_pct": 95}, True),
        ("Q2", {"disabled_enrolment_pct": 94}, False),
        ("Q9", {"monitoring_difference_rate": 0.149}, True),
        ("Q9", {"monitoring_difference_rate": 0.15}, False),  # strictly below 0.15
        ("Q9", {"monitoring_level_iii_share_pct": 99}, False),
        ("Q9", {"monitoring_level_iii_share_pct": None}, None),
        ("SR", {"satisfaction_pct": 85}, True),
        ("SR", {"satisfaction_pct": 84.9}, False),
        ("SR", {"satisfaction_pct": None}, None),
    ],
)
def test_statistics_rules(engine, rule_id, changes, expected):
    state = _district(engine, stats=_stats(**changes))
    assert _verdict(state, rule_id) is expected
    assert state.summary(YEAR).attained is expected


def test_absent_statistics_leave_every_statistics_rule_undecided(engine):
    state = engine.new_state(f.DISTRICT)
    for e in f.good_district():
        if e["event_type"] != "district.statistics":
            state.apply(e)
    for rid in ("G7", "G8", "G11", "G13", "G14", "G15", "Q1", "Q2", "Q9", "SR"):
        assert _verdict(state, rid) is None
    result = state.results(YEAR)["SR"]
    assert result.reason == "no district.statistics for the year"
    assert state.summary(YEAR).attained is None


@pytest.mark.parametrize("item", ["G1", "G2", "G10", "Q3", "Q5", "Q6", "Q7", "Q8"])
def test_assessed_items_follow_the_inspection(engine, item):
    assert _verdict(_district(engine, extra=[f.inspection(item, "fail", year=YEAR, seq=1)]), item) is False
    assert _verdict(_district(engine, drop_inspection=item), item) is None


@pytest.mark.parametrize(
    "rule_id,item",
    [
        ("V1", "exam_admission"),
        ("V2", "illegal_school_choice"),
        ("V3", "key_schools"),
        ("V4", "falsified_data"),
        ("V5", "major_incident"),
    ],
)
def test_a_raised_veto_fails_attainment_whatever_else_passes(engine, rule_id, item):
    state = _district(engine, extra=[f.inspection(item, "fail", year=YEAR, seq=1)])
    summary = state.summary(YEAR)
    assert summary.vetoed is True and summary.attained is False
    assert summary.failed_items == (rule_id,)
    assert summary.resource_passed and summary.government_passed and summary.quality_passed


def test_a_veto_never_inspected_is_undecided(engine):
    state = _district(engine, drop_inspection="key_schools")
    assert state.summary(YEAR).vetoed is None and state.summary(YEAR).attained is None


@pytest.mark.parametrize("basic_balance_year,expected", [(2020, True), (2021, False), (2010, True)])
def test_prerequisite_three_years_of_basic_balance(engine, basic_balance_year, expected):
    state = engine.new_state(f.DISTRICT)
    for e in f.good_district():
        if e["event_type"] == "district.registered":
            e = f.district_registered(basic_balance_year=basic_balance_year, year=YEAR)
        state.apply(e)
    assert _verdict(state, "PRE") is expected


SCHOOL = "3702029999"


def _school_events(
    students=900,
    classes=None,
    sizes=None,
    music=None,
    art=None,
    school_type="primary",
    locale="urban",
    budget=1_000_000,
    training=60_000,
    per_student=1000,
    certified=None,
    trained=None,
):
    classes = classes or max(1, students // 40)
    sizes = sizes or f.classes_of(students, classes)
    level = "junior" if school_type == "junior" else "primary"
    enrol = {level: {"students": students, "classes": classes, "class_sizes": sizes}}
    events = [
        f.registered(SCHOOL, school_type, locale=locale, year=YEAR),
        f.event("school.enrolment", {"sections": enrol}, school_id=SCHOOL, year=YEAR),
    ]
    full_time = max(10, students // 10)
    events.append(
        f.staff(
            SCHOOL,
            {
                level: f.staff_section(
                    full_time=full_time,
                    qualified=students * 6 // 100,
                    backbone=students * 12 // 1000 + 1,
                    pe_arts=students // 100 + 1,
                    certified=certified,
                    trained=trained,
                )
            },
            year=YEAR,
        )
    )
    fac = f.facilities(
        SCHOOL,
        school=f.facility(6.0 * students, 11.0 * students, 2600.0 * students, students * 3 // 100 + 1),
        year=YEAR,
    )
    if music is not None:
        fac["payload"]["music_room_areas_m2"] = music
    if art is not None:
        fac["payload"]["art_room_areas_m2"] = art
    events.append(fac)
    events.append(f.finance(SCHOOL, budget=budget, training=training, per_student=per_student, year=YEAR))
    return events


@pytest.mark.parametrize(
    "kw,rule_id,expected",
    [
        ({"students": 480, "classes": 12, "music": [96.0], "art": [90.0]}, "G3", True),  # 12 classes: 1 room each
        ({"students": 520, "classes": 13, "music": [96.0], "art": [90.0, 90.0]}, "G3", False),  # 13 need 2
        ({"students": 480, "classes": 12, "music": [95.9], "art": [90.0]}, "G3", False),
        ({"students": 480, "classes": 12, "music": [96.0], "art": [89.0]}, "G3", False),
        ({"students": 2000, "classes": 50}, "G4", True),
        ({"students": 2001, "classes": 50}, "G4", False),
        ({"students": 450, "classes": 10, "sizes": [45] * 10}, "G5", True),
        ({"students": 451, "classes": 10, "sizes": [45] * 9 + [46]}, "G5", False),
        ({"students": 500, "classes": 10, "sizes": [50] * 10, "school_type": "junior"}, "G5", True),
        ({"students": 501, "classes": 10, "sizes": [50] * 9 + [51], "school_type": "junior"}, "G5", False),
        ({"students": 80, "classes": 4, "locale": "rural", "budget": 100_000, "per_student": 1000}, "G6", True),
        ({"students": 80, "classes": 4, "locale": "rural", "budget": 99_999, "per_student": 1000}, "G6", False),
        ({"students": 80, "classes": 4, "locale": "urban", "budget": 80_000, "per_student": 1000}, "G6", True),
        ({"budget": 1_000_000, "training": 50_000}, "Q4", True),
        ({"budget": 1_000_000, "training": 49_999}, "Q4", False),
        ({"certified": 85}, "G12", False),
        ({"trained": 85}, "G9", False),
    ],
)
def test_school_level_rules(engine, kw, rule_id, expected):
    state = _district(engine, extra=_school_events(**kw))
    assert _verdict(state, rule_id) is expected


def test_g4_allows_2500_in_a_nine_year_school(engine):
    events = _school_events(students=1500, classes=34)
    events[0] = f.registered(SCHOOL, "nine_year", year=YEAR)
    events[1] = f.enrolment(SCHOOL, {"primary": (1500, 34), "junior": (1000, 20)}, year=YEAR)
    events[2] = f.staff(
        SCHOOL,
        {
            "primary": f.staff_section(full_time=150, qualified=90, backbone=20, pe_arts=20),
            "junior": f.staff_section(full_time=100, qualified=60, backbone=12, pe_arts=10),
        },
        year=YEAR,
    )
    assert _verdict(_district(engine, extra=events), "G4") is True
    events[1] = f.enrolment(SCHOOL, {"primary": (1500, 34), "junior": (1001, 21)}, year=YEAR, seq=1)
    assert _verdict(_district(engine, extra=events), "G4") is False


def test_fast_verdicts_equal_explained_results_for_every_rule(engine):
    state = _district(
        engine,
        extra=_school_events(students=2100, classes=40, certified=80),
        stats=_stats(satisfaction_pct=None, rotated=50),
    )
    verdicts = state.years[YEAR].verdicts
    for rid, result in state.results(YEAR).items():
        assert verdicts[rid] is result.passed, rid


@pytest.mark.parametrize("town_pct,expected", [(95, True), (94.9, False), (None, None)])
def test_g13_town_figure_counts_where_the_district_has_town_schools(engine, town_pct, expected):
    stats = _stats(nearby_enrolment_town_pct=town_pct)
    town_school = [
        f.registered("3702028888", "primary", locale="town", year=YEAR),
        *f.good_primary_school("3702028888", year=YEAR)[1:],
    ]
    state = _district(engine, extra=town_school, stats=stats)
    assert _verdict(state, "G13") is expected
    without = _district(engine, stats=stats)
    assert _verdict(without, "G13") is True
    assert without.results(YEAR)["G13"].inputs["town_schools"] == 0
