"""BatchValidator: each suite catches a planted bad row, passes good ones, and maps back to events."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
from gx_builders import (  # noqa: E402
    enrolment,
    event,
    facilities,
    facilities_values,
    finance,
    inspection,
    mixed_batch,
    project,
    registered,
    staff,
    staff_section,
    statistics,
)

BETWEEN = "expect_column_values_to_be_between"
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
IN_SET = "expect_column_values_to_be_in_set"
REGEX = "expect_column_values_to_match_regex"

STAFF_COUNTS = [
    "qualified_teachers",
    "backbone_teachers",
    "pe_arts_teachers",
    "certified_teachers",
    "trained_360h_teachers",
]
PCT_FIELDS = [
    "nearby_enrolment_urban_pct",
    "nearby_enrolment_town_pct",
    "quality_hs_quota_pct",
    "migrant_public_pct",
    "junior_retention_pct",
    "disabled_enrolment_pct",
    "monitoring_level_iii_share_pct",
    "satisfaction_pct",
    "after_school_coverage_pct",
    "it_competition_rural_share_pct",
]


def good_events():
    return [
        registered(),
        enrolment(),
        enrolment(primary=(5000, 100), junior=(0, 0), senior=(1200, 24)),  # at the bounds / 0 classes
        staff(),
        staff(
            primary=staff_section(500),
            junior=staff_section(
                0, qualified_teachers=0, backbone_teachers=0, pe_arts_teachers=0, trained_360h_teachers=0
            ),
        ),
        facilities(),
        facilities(sections={"primary": facilities_values(), "junior": facilities_values(multimedia_rooms=0)}),
        facilities(
            school=facilities_values(
                teaching_aux_area_m2=200000, sports_area_m2=500000, equipment_value_yuan=1e9, multimedia_rooms=1000
            )
        ),
        finance(),
        finance(teacher_training_yuan=1800000.0, public_funds_per_student_yuan=100000),  # equal is fine
        statistics(),
        statistics(**{f: 100 for f in PCT_FIELDS}, monitoring_difference_rate=1, rotated=1200, rotated_backbone=1200),
        statistics(**{f: 0 for f in PCT_FIELDS}, monitoring_difference_rate=0),
        project(),
        inspection(),
        event(
            "district.registered",
            {"name": "Laoshan", "basic_balance_year": 2014, "declared_creation_year": 2023},
            year=2000,
        ),
        event("district.milestone", {"kind": "recognised", "on": "2100-01-01"}, year=2100, district_code="110101"),
    ]


def test_good_events_pass(validator):
    events = good_events()
    assert validator.validate(events) == [None] * len(events)
    assert validator.last_batch_failures == []


def test_good_events_are_valid_contract_events():
    """The builders follow docs/events.md: the per-event contract accepts every good event."""
    import ingestion.contract as contract

    for e in good_events() + mixed_batch(60):
        verdict = contract.check_event_dict(e)
        assert verdict.ok, (e["event_type"], verdict.reason)


def test_empty_batch(validator):
    assert validator.validate([]) == []
    assert validator.last_batch_failures == []


def test_input_is_not_modified(validator):
    events = good_events() + [enrolment(primary=(9000, 100))]
    before = copy.deepcopy(events)
    validator.validate(events)
    assert events == before


def _planted(validator, bad):
    """Put ``bad`` in the middle of good events; return its reason and check nobody else failed."""
    events = good_events()
    middle = len(events) // 2
    batch = events[:middle] + [bad] + events[middle:]
    reasons = validator.validate(batch)
    others = reasons[:middle] + reasons[middle + 1 :]
    assert others == [None] * len(events), others
    return reasons[middle]


# --- envelope -------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [1999, 2101, -1, 10**6])
def test_envelope_year(validator, year):
    assert _planted(validator, finance() | {"year": year}) == f"gx:envelope:{BETWEEN}:year"


@pytest.mark.parametrize(
    "code",
    [
        "37020",
        "3702021",
        "abcdef",
        "37 202",
        "",
        "370202\n",
        "\u0663\u0667\u0660\u0662\u0660\u0662",
        "\uff13\uff17\uff10\uff12\uff10\uff12",
    ],
)
def test_envelope_district_code(validator, code):
    assert _planted(validator, inspection() | {"district_code": code}) == f"gx:envelope:{REGEX}:district_code"


@pytest.mark.parametrize("code", ["370202", "110101", "650102"])
def test_envelope_any_six_digit_code_passes(validator, code):
    assert _planted(validator, registered() | {"district_code": code}) is None


def test_duplicate_event_ids_are_not_a_gx_failure(validator):
    a = finance()
    assert validator.validate([a, copy.deepcopy(a), copy.deepcopy(a)]) == [None, None, None]


def test_envelope_applies_to_types_without_a_suite(validator):
    assert _planted(validator, project() | {"year": 1990}) == f"gx:envelope:{BETWEEN}:year"
    assert _planted(validator, event("something.new", {}, district_code="x")) == f"gx:envelope:{REGEX}:district_code"


# --- school.enrolment -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sections,column,expectation",
    [
        ({"primary": (5001, 120)}, "students", BETWEEN),
        ({"primary": (135, 3), "junior": (6000, 100)}, "students", BETWEEN),  # only one section bad
        ({"junior": (4840, 121)}, "classes", BETWEEN),
        ({"primary": (810, 10)}, "avg_class_size", BETWEEN),
        ({"primary": (81, 1)}, "avg_class_size", BETWEEN),
        ({"high": (100, 3)}, "section", IN_SET),
    ],
)
def test_enrolment(validator, sections, column, expectation):
    assert _planted(validator, enrolment(**sections)) == f"gx:school.enrolment:{expectation}:{column}"


def test_enrolment_negative_students(validator):
    e = enrolment()
    e["payload"]["sections"]["primary"]["students"] = -5
    assert _planted(validator, e) == f"gx:school.enrolment:{BETWEEN}:students"


# --- school.staff ---------------------------------------------------------------------------------


def test_staff_full_time_above_500(validator):
    assert _planted(validator, staff(junior=staff_section(501))) == f"gx:school.staff:{BETWEEN}:full_time_teachers"


@pytest.mark.parametrize("count", STAFF_COUNTS)
def test_staff_count_above_full_time_names_the_count(validator, count):
    bad = staff(primary=staff_section(12), junior=staff_section(20, **{count: 21}))
    assert _planted(validator, bad) == f"gx:school.staff:{PAIR}:{count}"


@pytest.mark.parametrize("count", STAFF_COUNTS)
def test_staff_negative_count_names_the_count(validator, count):
    assert _planted(validator, staff(primary=staff_section(12, **{count: -1}))) == f"gx:school.staff:{BETWEEN}:{count}"


def test_staff_count_equal_to_full_time_passes(validator):
    assert _planted(validator, staff(primary=staff_section(12, **{c: 12 for c in STAFF_COUNTS}))) is None


# --- school.facilities ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column,value",
    [
        ("teaching_aux_area_m2", 200000.5),
        ("sports_area_m2", 500001),
        ("equipment_value_yuan", 1.5e9),
        ("multimedia_rooms", 1001),
        ("teaching_aux_area_m2", -1.0),
        ("multimedia_rooms", -2),
    ],
)
@pytest.mark.parametrize("shape", ["school", "sections"])
def test_facilities(validator, column, value, shape):
    bad_values = facilities_values(**{column: value})
    if shape == "school":
        bad = facilities(school=bad_values)
    else:
        bad = facilities(sections={"primary": facilities_values(), "junior": bad_values})
    assert _planted(validator, bad) == f"gx:school.facilities:{BETWEEN}:{column}"


# --- school.finance -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "over,column,expectation",
    [
        ({"teacher_training_yuan": 1800000.01}, "teacher_training_yuan", PAIR),
        ({"public_funds_per_student_yuan": 100000.5}, "public_funds_per_student_yuan", BETWEEN),
        ({"public_funds_per_student_yuan": -1}, "public_funds_per_student_yuan", BETWEEN),
    ],
)
def test_finance(validator, over, column, expectation):
    assert _planted(validator, finance(**over)) == f"gx:school.finance:{expectation}:{column}"


# --- district.statistics --------------------------------------------------------------------------


@pytest.mark.parametrize("field", PCT_FIELDS)
@pytest.mark.parametrize("value", [100.01, -0.5])
def test_statistics_percentages_name_the_field(validator, field, value):
    assert _planted(validator, statistics(**{field: value})) == f"gx:district.statistics:{BETWEEN}:{field}"


@pytest.mark.parametrize(
    "over,column,expectation",
    [
        ({"monitoring_difference_rate": 1.2}, "monitoring_difference_rate", BETWEEN),
        ({"monitoring_difference_rate": -0.1}, "monitoring_difference_rate", BETWEEN),
        ({"rotated": 1201}, "rotated", PAIR),
        ({"rotated_backbone": 151}, "rotated_backbone", PAIR),
    ],
)
def test_statistics(validator, over, column, expectation):
    assert _planted(validator, statistics(**over)) == f"gx:district.statistics:{expectation}:{column}"


def test_statistics_absent_fields_are_unknown_not_failures(validator):
    # rotated_backbone > rotated would fail, but rotated is unknown here; likewise rotated/eligible.
    sparse = [
        event("district.statistics", {}),
        event("district.statistics", {"rotated_backbone": 99999}),
        event("district.statistics", {"rotated": 5000}),
        event("district.statistics", {"satisfaction_pct": 50}),
    ]
    assert validator.validate(sparse) == [None] * 4


# --- mapping back to events -----------------------------------------------------------------------


def test_mixed_batch_maps_failures_to_positions(validator):
    batch = mixed_batch(500, seed=11)
    planted = {
        3: (enrolment(primary=(7000, 140)), f"gx:school.enrolment:{BETWEEN}:students"),
        4: (staff(primary=staff_section(10, certified_teachers=11)), f"gx:school.staff:{PAIR}:certified_teachers"),
        77: (finance(teacher_training_yuan=2e6), f"gx:school.finance:{PAIR}:teacher_training_yuan"),
        78: (statistics(migrant_public_pct=120), f"gx:district.statistics:{BETWEEN}:migrant_public_pct"),
        250: (
            facilities(school=facilities_values(sports_area_m2=6e5)),
            f"gx:school.facilities:{BETWEEN}:sports_area_m2",
        ),
        251: (registered() | {"district_code": "3702"}, f"gx:envelope:{REGEX}:district_code"),
        400: (enrolment(primary=(900, 10)), f"gx:school.enrolment:{BETWEEN}:avg_class_size"),
        499: (statistics(rotated=1500), f"gx:district.statistics:{PAIR}:rotated"),
    }
    for pos, (bad, _) in planted.items():
        batch[pos] = bad
    expected = [planted[i][1] if i in planted else None for i in range(len(batch))]
    assert validator.validate(batch) == expected


def test_first_failure_wins_in_suite_order(validator):
    # Envelope before the type's suite; inside a suite, file order (students before avg_class_size).
    e = enrolment(primary=(9000, 100))  # students > 5000 and avg 90 > 80
    assert validator.validate([e]) == [f"gx:school.enrolment:{BETWEEN}:students"]
    e["year"] = 1990
    assert validator.validate([e]) == [f"gx:envelope:{BETWEEN}:year"]


def test_same_event_twice_in_a_batch_is_flagged_twice(validator):
    bad = finance(public_funds_per_student_yuan=2e5)
    assert validator.validate([bad, finance(), copy.deepcopy(bad)]) == [
        f"gx:school.finance:{BETWEEN}:public_funds_per_student_yuan",
        None,
        f"gx:school.finance:{BETWEEN}:public_funds_per_student_yuan",
    ]


def test_batch_of_types_without_suites(validator):
    batch = [registered(), project(), inspection()]
    assert validator.validate(batch) == [None, None, None]


# --- robustness -----------------------------------------------------------------------------------


def _strip(e, *path):
    target = e
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return e


@pytest.mark.parametrize(
    "make",
    [
        lambda: _strip(enrolment(), "payload", "sections", "primary", "students"),
        lambda: _strip(enrolment(), "payload", "sections"),
        lambda: _strip(enrolment(), "payload"),
        lambda: enrolment() | {"payload": None},
        lambda: enrolment() | {"payload": {"sections": None}},
        lambda: enrolment() | {"payload": {"sections": {"primary": None}}},
        lambda: enrolment() | {"payload": {"sections": {"primary": {}}}},
        lambda: enrolment() | {"payload": ["not", "an", "object"]},
        lambda: _strip(staff(), "payload", "sections", "primary", "full_time_teachers"),
        lambda: _strip(staff(), "payload", "sections", "primary", "qualified_teachers"),
        lambda: staff() | {"payload": {"sections": {"primary": {}}}},
        lambda: _strip(facilities(), "payload", "school"),
        lambda: _strip(facilities(), "payload", "school", "sports_area_m2"),
        lambda: _strip(finance(), "payload", "public_funds_budget_yuan"),
        lambda: finance() | {"payload": {}},
        lambda: statistics() | {"payload": {}},
        lambda: _strip(finance(), "year"),
        lambda: _strip(finance(), "district_code"),
        lambda: _strip(finance(), "event_type"),
        lambda: finance() | {"event_type": ["school.finance"]},
        lambda: {},
    ],
)
def test_missing_fields_are_null_and_pass(validator, make):
    assert _planted(validator, make()) is None


def test_non_events_in_the_list_pass_through(validator):
    assert validator.validate([None, "x", finance()]) == [None, None, None]


@pytest.mark.parametrize("value", ["many", True, [1], {"n": 1}])
def test_value_that_is_not_a_number_is_flagged_not_crashing(validator, value):
    e = enrolment()
    e["payload"]["sections"]["junior"]["students"] = value
    assert _planted(validator, e) == "gx:school.enrolment:not_a_number:students"
    s = statistics(satisfaction_pct=value)
    assert _planted(validator, s) == "gx:district.statistics:not_a_number:satisfaction_pct"
    t = staff(primary=staff_section(12, backbone_teachers=value))
    assert _planted(validator, t) == "gx:school.staff:not_a_number:backbone_teachers"


def test_huge_integer_is_out_of_range_not_an_overflow(validator):
    assert (
        _planted(validator, finance(public_funds_per_student_yuan=10**400))
        == f"gx:school.finance:{BETWEEN}:public_funds_per_student_yuan"
    )


def test_non_string_district_code_is_judged_by_the_regex(validator):
    assert _planted(validator, finance() | {"district_code": 370202}) is None  # str(370202) has 6 digits
    assert _planted(validator, finance() | {"district_code": 3702}) == f"gx:envelope:{REGEX}:district_code"


def test_a_later_gx_context_does_not_break_validation(validator):
    # GX 1.x keeps a process-wide "current" context (the last get_context()). Before 1.24 a batch
    # was validated through *that* context, so any later context without our data source made
    # validate() raise LookupError (GX issue #12209); this is why great-expectations is >= 1.24.1.
    import great_expectations as gx

    gx.get_context(mode="ephemeral")
    assert validator.validate([finance(), finance(teacher_training_yuan=9e9)]) == [
        None,
        f"gx:school.finance:{PAIR}:teacher_training_yuan",
    ]


def test_two_validators_do_not_interfere(validator):
    # GX 1.x keeps a process-wide "current" context; a second one must not break the first.
    from expectations import BatchValidator

    other = BatchValidator()
    bad = [finance(public_funds_per_student_yuan=2e5)]
    assert (
        other.validate(bad) == validator.validate(bad) == [f"gx:school.finance:{BETWEEN}:public_funds_per_student_yuan"]
    )


# --- mostly ---------------------------------------------------------------------------------------


def test_mostly_below_one_tolerates_a_few_then_flags_all(tmp_path):
    from expectations.validator import SUITES_DIR, BatchValidator

    d = tmp_path / "suites"
    shutil.copytree(SUITES_DIR, d)
    path = d / "school.finance.json"
    doc = json.loads(path.read_text())
    for e in doc["expectations"]:
        if e["kwargs"].get("column") == "public_funds_per_student_yuan":
            e["kwargs"]["mostly"] = 0.75
    path.write_text(json.dumps(doc))
    v = BatchValidator(d)
    bad, good = finance(public_funds_per_student_yuan=2e5), finance()
    reason = f"gx:school.finance:{BETWEEN}:public_funds_per_student_yuan"
    assert v.validate([good, good, good, bad]) == [None] * 4  # 75% in range: the suite passes
    assert v.validate([good, bad, good, bad]) == [None, reason, None, reason]
    assert v.last_batch_failures == []
