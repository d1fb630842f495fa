"""Gap to pass, exact (issue #13, item 2): boundary cases computed by hand with fractions, and the
property that applying any listed option passes the section while removing any one change from it
does not -- checked exactly and by the rules engine itself."""

from __future__ import annotations

from fractions import Fraction as F
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.gap import GapModel, SectionInputs, exact, section_inputs
from rules.sections import SchoolFacts

# qingdao-2021 / national-2017 thresholds, primary: R1 4.2, R2 1.0, R3 0.9 per 100; R4 4.5 m², R5 7.5 m²,
# R6 2000 yuan per student; R7 2.3 rooms per 100 -- read from the catalogue, written here as checked
STAFF = (
    "full_time_teachers",
    "qualified_teachers",
    "backbone_teachers",
    "pe_arts_teachers",
    "certified_teachers",
    "trained_360h_teachers",
)


@pytest.fixture(scope="module")
def model(catalogue) -> GapModel:
    return GapModel(catalogue)


def _primary(students: int, **inputs: Any) -> SectionInputs:
    base: dict[str, Any] = {
        "full_time_teachers": 1000,
        "qualified_teachers": F(42, 1000) * students,
        "backbone_teachers": F(1, 100) * students,
        "pe_arts_teachers": F(9, 1000) * students,
        "certified_teachers": 1000,
        "trained_360h_teachers": 1000,
        "teaching_aux_area_m2": F(45, 10) * students,
        "sports_area_m2": F(75, 10) * students,
        "equipment_value_yuan": 2000 * students,
        "multimedia_rooms": F(23, 1000) * students,
    }
    base.update(inputs)
    return SectionInputs("primary", students, {k: exact(v) for k, v in base.items()}, {})


def test_thresholds_are_the_catalogues(model: GapModel) -> None:
    t = {i: model.thresholds[i]["primary"] for i in model.thresholds}
    assert t == {
        "R1": F(42, 10),
        "R2": F(1),
        "R3": F(9, 10),
        "R4": F(45, 10),
        "R5": F(75, 10),
        "R6": F(2000),
        "R7": F(23, 10),
    }
    assert model.allowed == 1 and model.floor == F(85, 100)


def test_exactly_at_every_threshold_passes_with_nothing_to_do(model: GapModel) -> None:
    s = _primary(1000)  # every indicator exactly at its threshold
    assert model.passes("primary", model.values(s)) and model.section_options(s) == []


def test_one_indicator_at_exactly_85_percent_passes(model: GapModel) -> None:
    s = _primary(1000, qualified_teachers=F(42, 1000) * 1000 * F(85, 100))  # 35.7: R1 at 3.57 = 85 %
    assert model.values(s)["R1"] == F(357, 100)
    assert model.section_options(s) == []
    below = _primary(1000, sports_area_m2=F(75, 10) * 1000 * F(85, 100) - F(1, 100))  # R5 a hair under 85 %
    [option] = model.section_options(below)
    [change] = option.changes
    # R5 to the 85 % floor is enough: 7.5 × 0.85 × 1000 students = 6375 m², the section has 6374.99
    assert (change.indicator, change.to_floor, change.target_value) == ("R5", True, F(6375, 1000))
    assert change.input == "sections.primary.sports_area_m2" and change.addition == F(1, 100)


def test_two_indicators_missing_give_two_options_each_raising_one_to_the_threshold(model: GapModel) -> None:
    # 900 students; R2 backbone 8 (0.889 per 100, 88.9 %: above the floor), R7 rooms 19 (2.11, 91.8 %)
    s = _primary(900, backbone_teachers=8, multimedia_rooms=19)
    options = model.section_options(s)
    got = sorted((c.indicator, c.target_value, c.addition, c.unit) for o in options for c in o.changes)
    # R2: 1.0 per 100 × 900 = 9 teachers, one more; R7: 2.3 × 9 = 20.7 rooms → 21, two more
    assert got == [("R2", F(1), F(1), "teachers"), ("R7", F(23, 10), F(2), "rooms")]
    assert all(len(o.changes) == 1 for o in options)


def test_two_missing_one_below_the_floor(model: GapModel) -> None:
    # R2 far below (0.5 per 100, 50 %), R6 at 1900 yuan (95 %): either raise R2 to its threshold
    # (R6 may miss), or raise R6 to its threshold and R2 to the floor
    s = _primary(1000, backbone_teachers=5, equipment_value_yuan=1_900_000)
    options = model.section_options(s)
    plans = [sorted((c.indicator, c.target_value, c.to_floor) for c in o.changes) for o in options]
    assert plans == [[("R2", F(1), False)], [("R2", F(85, 100), True), ("R6", F(2000), False)]]
    r6 = options[1].changes[1]
    assert r6.addition == F(100_000) and r6.unit == "yuan"


def test_apportioned_facilities_grow_the_schools_figure(model: GapModel, catalogue: Any) -> None:
    """A nine-year school reports its area for the whole school: the primary section (600 of 1000
    students) sees 60 % of it; raising R4 of primary means adding area / 0.6 to the school."""
    facts = SchoolFacts(
        profile={"school_type": "nine_year"},
        enrolment={
            "sections": {
                "primary": {"students": 600, "classes": 12, "class_sizes": [50] * 12},
                "junior": {"students": 400, "classes": 8, "class_sizes": [50] * 8},
            }
        },
        staff={"sections": {lv: {f: 100 for f in STAFF} for lv in ("primary", "junior")}},
        facilities={
            "music_room_areas_m2": [],
            "art_room_areas_m2": [],
            "school": {
                "teaching_aux_area_m2": 2000,
                "sports_area_m2": 20000,
                "equipment_value_yuan": 5_000_000,
                "multimedia_rooms": 60,
            },
        },
    )
    s = section_inputs(facts, "primary")
    assert s.share["teaching_aux_area_m2"] == F(3, 5) and s.inputs["teaching_aux_area_m2"] == 1200
    options = model.section_options(s)  # R4 primary: 2.0 m² per student, 44 %
    [option] = options  # R4 is the only miss: up to its 85 % floor
    [change] = option.changes
    assert change.input == "school.teaching_aux_area_m2" and change.current_input == 2000
    assert change.to_floor and change.target_value == F(45, 10) * F(85, 100)
    # 3.825 m² × 600 students = 2295 m² for the section = 2295 / 0.6 = 3825 m² for the school: 1825 more
    assert change.addition == F(1825)


# ------------------------------------------------------------------ the property
FIELDS = (
    "qualified_teachers",
    "backbone_teachers",
    "pe_arts_teachers",
    "teaching_aux_area_m2",
    "sports_area_m2",
    "equipment_value_yuan",
    "multimedia_rooms",
)


@st.composite
def failing_sections(draw: st.DrawFn, model: GapModel) -> SectionInputs:
    students = draw(st.integers(1, 3000))
    level = draw(st.sampled_from(["primary", "junior"]))
    inputs: dict[str, Any] = {
        "full_time_teachers": 10_000,
        "certified_teachers": 10_000,
        "trained_360h_teachers": 10_000,
    }
    for ind in model.indicators:
        thr = model.thresholds[ind.id][level]
        ratio = draw(
            st.sampled_from([F(0), F(1, 2), F(84, 100), F(85, 100), F(9, 10), F(1), F(11, 10)])
            | st.fractions(0, 2, max_denominator=1000)
        )
        value = thr * ratio * students / ind.scale
        step = F(1) if ind.input in ("multimedia_rooms",) or ind.input.endswith("_teachers") else F(1, 100)
        inputs[ind.input] = (value // step) * step
    return SectionInputs(level, students, {k: exact(v) for k, v in inputs.items()}, {})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_option_passes_and_none_has_a_change_to_spare(model: GapModel, data: st.DataObject) -> None:
    s = data.draw(failing_sections(model))
    options = model.section_options(s)
    assert options is not None
    if model.passes(s.level, model.values(s)):
        assert options == []
        return
    assert options, "a failing section always has at least one option"
    for option in options:
        assert model.passes(s.level, model.values(model.apply(s, option.changes)))
        for drop in range(len(option.changes)):
            rest = option.changes[:drop] + option.changes[drop + 1 :]
            assert not model.passes(s.level, model.values(model.apply(s, rest))), (option, drop)
        for c in option.changes:
            assert c.addition > 0 and c.target_value > c.current_value


def test_the_engine_agrees_that_an_option_passes(model: GapModel, engine: Any) -> None:
    """The additions made to the school's facts, the rules engine's own RA-S passes the section."""
    facts = SchoolFacts(
        profile={"school_type": "primary"},
        enrolment={"sections": {"primary": {"students": 900, "classes": 20, "class_sizes": [45] * 20}}},
        staff={
            "sections": {
                "primary": {
                    "full_time_teachers": 100,
                    "qualified_teachers": 30,
                    "backbone_teachers": 5,
                    "pe_arts_teachers": 9,
                    "certified_teachers": 100,
                    "trained_360h_teachers": 100,
                }
            }
        },
        facilities={
            "music_room_areas_m2": [],
            "art_room_areas_m2": [],
            "sections": {
                "primary": {
                    "teaching_aux_area_m2": 4050.0,
                    "sports_area_m2": 6750.0,
                    "equipment_value_yuan": 1_800_000.0,
                    "multimedia_rooms": 21,
                }
            },
        },
    )
    before = engine.sections.evaluate(facts, 2024).sections["primary"]
    assert before.passed is False
    for option in model.section_options(section_inputs(facts, "primary")):
        staff = dict(facts.staff["sections"]["primary"])
        fac = dict(facts.facilities["sections"]["primary"])
        for c in option.changes:
            field = c.input.rsplit(".", 1)[1]
            grown = c.current_input + c.addition
            if field in staff:
                staff[field] = int(grown)
            else:
                fac[field] = int(grown) if field == "multimedia_rooms" else float(grown)
        fixed = SchoolFacts(
            profile=facts.profile,
            enrolment=facts.enrolment,
            staff={"sections": {"primary": staff}},
            facilities={**facts.facilities, "sections": {"primary": fac}},
        )
        assert engine.sections.evaluate(fixed, 2024).sections["primary"].passed is True, option
