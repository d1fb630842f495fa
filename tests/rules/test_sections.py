"""Section indicators R1–R7 at their boundaries, RA-S, apportionment and undecided inputs."""

from __future__ import annotations

import pytest
from factories import facility, staff_section

from rules.sections import SchoolFacts

STUDENTS = 1000


def _facts(
    level="primary", school_type="primary", students=STUDENTS, staff=None, fac=None, sections=None, rooms=(100.0,) * 3
):
    profile = {"school_type": school_type, "locale": "urban", "opened_year": 1990, "closed_year": None}
    enrol = sections or {
        level: {"students": students, "classes": max(1, students // 40), "class_sizes": [40] * max(1, students // 40)}
    }
    return SchoolFacts(
        profile=profile,
        enrolment={"sections": enrol},
        staff=None if staff is None else {"sections": {level: staff}},
        facilities=None
        if fac is None
        else {"school": fac, "music_room_areas_m2": list(rooms), "art_room_areas_m2": list(rooms)},
        finance={"public_funds_budget_yuan": 1e6, "teacher_training_yuan": 5e4, "public_funds_per_student_yuan": 900},
    )


def _good_inputs(level):
    """Every indicator 20% above its threshold for 1000 students."""
    t = {"primary": (4.2, 1.0, 0.9, 4.5, 7.5, 2000, 2.3), "junior": (5.3, 1.0, 0.9, 5.8, 10.2, 2500, 2.4)}[level]
    st = staff_section(full_time=200, qualified=round(t[0] * 12), backbone=round(t[1] * 12), pe_arts=round(t[2] * 12))
    fac = facility(t[3] * 1.2 * STUDENTS, t[4] * 1.2 * STUDENTS, t[5] * 1.2 * STUDENTS, round(t[6] * 12))
    return st, fac


# (rule, level, field, value exactly at threshold for 1000 students, value just below)
BOUNDARIES = [
    ("R1", "primary", "qualified_teachers", 42, 41),
    ("R1", "junior", "qualified_teachers", 53, 52),
    ("R2", "primary", "backbone_teachers", 10, 9),
    ("R2", "junior", "backbone_teachers", 10, 9),
    ("R3", "primary", "pe_arts_teachers", 9, 8),
    ("R3", "junior", "pe_arts_teachers", 9, 8),
    ("R4", "primary", "teaching_aux_area_m2", 4500.0, 4499.9),
    ("R4", "junior", "teaching_aux_area_m2", 5800.0, 5799.9),
    ("R5", "primary", "sports_area_m2", 7500.0, 7499.9),
    ("R5", "junior", "sports_area_m2", 10200.0, 10199.9),
    ("R6", "primary", "equipment_value_yuan", 2_000_000.0, 1_999_999.0),
    ("R6", "junior", "equipment_value_yuan", 2_500_000.0, 2_499_999.0),
    ("R7", "primary", "multimedia_rooms", 23, 22),
    ("R7", "junior", "multimedia_rooms", 24, 23),
]


@pytest.mark.parametrize("rule_id,level,field,at,below", BOUNDARIES)
def test_indicator_exactly_at_threshold_meets_it(engine, rule_id, level, field, at, below):
    ev = engine.sections
    i = ev.indicator_ids.index(rule_id)
    for value, expected in ((at, True), (below, False)):
        st, fac = _good_inputs(level)
        (st if field in st else fac)[field] = value
        school = ev.evaluate(_facts(level, level, staff=st, fac=fac), 2023)
        section = school.sections[level]
        assert section.met[i] is expected, (rule_id, level, value, section.values[i])
        threshold = engine.catalogue.rule(rule_id).thresholds[level]
        assert section.values[i] == pytest.approx(
            threshold if expected else value / (STUDENTS / (100 if rule_id in ("R1", "R2", "R3", "R7") else 1))
        )


def _with_ratios(engine, level, ratios):
    """A section whose indicators sit at the given fractions of their thresholds."""
    st, fac = _good_inputs(level)
    fields = [
        "qualified_teachers",
        "backbone_teachers",
        "pe_arts_teachers",
        "teaching_aux_area_m2",
        "sports_area_m2",
        "equipment_value_yuan",
        "multimedia_rooms",
    ]
    for rid, field, ratio in zip(engine.sections.indicator_ids, fields, ratios):
        rule = engine.catalogue.rule(rid)
        scale = rule.params["scale"]
        value = ratio * rule.thresholds[level] * STUDENTS / scale
        (st if field in st else fac)[field] = value
    return engine.sections.evaluate(_facts(level, level, staff=st, fac=fac), 2023).sections[level]


@pytest.mark.parametrize(
    "ratios,passed",
    [
        ((1.0,) * 7, True),  # all seven met
        ((1.0,) * 6 + (0.86,), True),  # six met, last at 86%
        ((1.0,) * 6 + (0.85,), True),  # six met, last exactly at 85%
        ((1.0,) * 6 + (0.84,), False),  # six met, last at 84%
        ((1.0,) * 5 + (0.99, 0.99), False),  # five met
        ((0.5,) + (1.0,) * 6, False),  # the one miss is far below
    ],
)
@pytest.mark.parametrize("level", ["primary", "junior"])
def test_ra_s(engine, level, ratios, passed):
    section = _with_ratios(engine, level, ratios)
    assert section.passed is passed, section.reason
    assert section.indicators_met == sum(1 for r in ratios if r >= 1.0)


def test_missing_staff_leaves_teacher_indicators_and_ra_s_undecided(engine):
    _, fac = _good_inputs("primary")
    section = engine.sections.evaluate(_facts(staff=None, fac=fac), 2023).sections["primary"]
    assert section.values[:3] == (None, None, None)
    assert section.met[:3] == (None, None, None)
    assert section.missing[0] == "missing qualified_teachers"
    assert all(section.met[3:])
    assert section.passed is None and "undecided" in section.reason


def test_two_known_misses_decide_ra_s_even_with_missing_inputs(engine):
    st, fac = _good_inputs("primary")
    fac["teaching_aux_area_m2"] = 1.0
    fac["sports_area_m2"] = 1.0
    section = engine.sections.evaluate(_facts(staff=None, fac=fac), 2023).sections["primary"]
    assert section.passed is False


def test_no_students_is_flagged_never_divided(engine):
    st, fac = _good_inputs("primary")
    section = engine.sections.evaluate(
        _facts(students=0, staff=st, fac=fac, sections={"primary": {"students": 0, "classes": 0, "class_sizes": []}}),
        2023,
    ).sections["primary"]
    assert section.values == (None,) * 7
    assert section.missing[0] == "students is zero"
    assert section.passed is None


def test_nine_year_school_is_two_sections_with_facilities_apportioned_by_enrolment(engine):
    profile = {"school_type": "nine_year", "locale": "urban", "opened_year": 2000, "closed_year": None}
    facts = SchoolFacts(
        profile=profile,
        enrolment={
            "sections": {
                "primary": {"students": 600, "classes": 15, "class_sizes": [40] * 15},
                "junior": {"students": 400, "classes": 10, "class_sizes": [40] * 10},
            }
        },
        facilities={
            "school": facility(5000.0, 9000.0, 2_200_000.0, 30),
            "music_room_areas_m2": [96.0, 96.0, 96.0],
            "art_room_areas_m2": [90.0, 90.0, 90.0],
        },
    )
    school = engine.sections.evaluate(facts, 2023)
    assert set(school.sections) == {"primary", "junior"}
    r4 = engine.sections.indicator_ids.index("R4")
    # both sections get 5000 m² × their share of 1000 students, i.e. 5.0 m² per student
    assert school.sections["primary"].values[r4] == pytest.approx(5.0)
    assert school.sections["junior"].values[r4] == pytest.approx(5.0)
    assert school.sections["primary"].met[r4] is True  # ≥ 4.5
    assert school.sections["junior"].met[r4] is False  # < 5.8
    assert school.checks["G3"] is True  # 25 classes need 3 rooms of each, all at minimum area


def test_twelve_year_school_apportions_facilities_over_its_senior_part_too(engine):
    profile = {"school_type": "twelve_year", "locale": "urban", "opened_year": 2000, "closed_year": None}
    facts = SchoolFacts(
        profile=profile,
        enrolment={
            "sections": {
                "primary": {"students": 500, "classes": 10, "class_sizes": [50] * 10},
                "junior": {"students": 250, "classes": 5, "class_sizes": [50] * 5},
                "senior": {"students": 250, "classes": 5, "class_sizes": [50] * 5},
            }
        },
        facilities={"school": facility(10000.0, 0.0, 0.0, 0), "music_room_areas_m2": [], "art_room_areas_m2": []},
    )
    school = engine.sections.evaluate(facts, 2023)
    assert set(school.sections) == {"primary", "junior"}
    assert school.sections["primary"].values[3] == pytest.approx(10.0)  # 5000 m² / 500
    assert school.checks["G3"] is False


def test_special_schools_are_outside_resource_allocation(engine):
    facts = _facts(school_type="special")
    assert engine.sections.evaluate(facts, 2023).active is False


def test_closed_and_not_yet_opened_schools_are_inactive(engine):
    facts = _facts()
    facts.profile = dict(facts.profile, closed_year=2022)
    assert engine.sections.evaluate(facts, 2023).active is False
    facts.profile = dict(facts.profile, closed_year=None, opened_year=2024)
    assert engine.sections.evaluate(facts, 2023).active is False
