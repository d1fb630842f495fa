"""The suite files: valid GX 1.x suites, one per flattener, naming only columns that exist."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from expectations.flatten import FIELD, FLATTENERS, POS  # noqa: E402
from expectations.validator import SUITES_DIR, BatchValidator, SuiteError, load_suite_specs  # noqa: E402

REQUIRED = {
    "envelope",
    "school.enrolment",
    "school.staff",
    "school.facilities",
    "school.finance",
    "district.statistics",
}


def test_every_required_suite_is_there_and_envelope_runs_first():
    specs = load_suite_specs()
    assert {s.name for s in specs} == REQUIRED == set(FLATTENERS)
    assert specs[0].name == "envelope"


def test_suites_are_registered_whole_in_the_gx_context(validator):
    for spec in load_suite_specs():
        suite = validator.suite(spec.name)
        assert suite.name == spec.name
        assert len(suite.expectations) == len(spec.expectations)
        assert validator.context.suites.get(spec.name).name == spec.name


def _expectations(name):
    return json.loads((SUITES_DIR / f"{name}.json").read_text())["expectations"]


def _find(name, type_, column):
    hits = [
        e
        for e in _expectations(name)
        if e["type"] == type_ and column in (e["kwargs"].get("column"), e["kwargs"].get("column_B"))
    ]
    assert len(hits) == 1, (name, type_, column)
    return hits[0]["kwargs"]


@pytest.mark.parametrize(
    "suite,column,lo,hi",
    [
        ("envelope", "year", 2000, 2100),
        ("school.enrolment", "students", 0, 5000),
        ("school.enrolment", "classes", 0, 120),
        ("school.enrolment", "avg_class_size", 0, 80),
        ("school.staff", "full_time_teachers", 0, 500),
        ("school.facilities", "teaching_aux_area_m2", 0, 200000),
        ("school.facilities", "sports_area_m2", 0, 500000),
        ("school.facilities", "equipment_value_yuan", 0, 1e9),
        ("school.facilities", "multimedia_rooms", 0, 1000),
        ("school.finance", "public_funds_per_student_yuan", 0, 100000),
        ("district.statistics", "pct", 0, 100),
        ("district.statistics", "monitoring_difference_rate", 0, 1),
    ],
)
def test_bounds_are_the_agreed_ones(suite, column, lo, hi):
    kw = _find(suite, "expect_column_values_to_be_between", column)
    assert (kw["min_value"], kw["max_value"]) == (lo, hi)
    assert kw.get("mostly", 1.0) == 1.0


def test_district_code_is_six_digits_not_shandong_only():
    kw = _find("envelope", "expect_column_values_to_match_regex", "district_code")
    # six digits, not ^37; [0-9] and \Z instead of \d and $ (Python re: see the suite's notes)
    assert kw["regex"] == r"^[0-9]{6}\Z"


def test_no_event_id_uniqueness_expectation():
    for spec in load_suite_specs():
        for e in spec.expectations:
            assert "unique" not in e["type"], (spec.name, e["type"])


def test_pair_expectations_allow_equality_and_skip_unknowns():
    for spec in load_suite_specs():
        for e in spec.expectations:
            if e["type"] == "expect_column_pair_values_a_to_be_greater_than_b":
                assert e["kwargs"]["or_equal"] is True
                assert e["kwargs"]["ignore_row_if"] == "either_value_is_missing"


def test_payload_columns_exist_in_the_contract_schemas():
    """Every payload field a flattener reads is a real field of the v1 payload schema."""
    schemas = Path(__file__).resolve().parents[2] / "ingestion" / "contract" / "schemas" / "v1"
    assert schemas.is_dir(), "contract schemas not present"
    from expectations import flatten

    def props(event_type):
        s = json.loads((schemas / f"{event_type}.schema.json").read_text())
        defs = s.get("$defs", {})
        names = set(s["properties"])
        for d in defs.values():
            names |= set(d.get("properties", {}))
        return names

    assert set(flatten._DISTRICT_WIDE) | set(flatten._DISTRICT_PCT) == props("district.statistics")
    assert set(flatten._STAFF_COUNTS) | {"full_time_teachers"} <= props("school.staff")
    assert set(flatten._FACILITIES) <= props("school.facilities")
    assert {"students", "classes"} <= props("school.enrolment")
    finance = FLATTENERS["school.finance"].numeric
    assert set(finance) == props("school.finance")
    assert all(name.endswith("_pct") for name in flatten._DISTRICT_PCT)


def _copy_suites(tmp_path):
    d = tmp_path / "suites"
    shutil.copytree(SUITES_DIR, d)
    return d


def _edit(d, name, fn):
    path = d / f"{name}.json"
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def test_unknown_column_fails_at_load(tmp_path):
    d = _copy_suites(tmp_path)
    _edit(
        d,
        "school.finance",
        lambda doc: doc["expectations"].append(
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "budget", "max_value": 1}}
        ),
    )
    with pytest.raises(SuiteError, match="budget"):
        load_suite_specs(d)


def test_invalid_expectation_is_not_silently_dropped(tmp_path):
    # GX's ExpectationSuite() logs and drops an invalid expectation; BatchValidator must refuse.
    d = _copy_suites(tmp_path)
    _edit(
        d,
        "school.finance",
        lambda doc: doc["expectations"].append(
            {"type": "expect_column_values_to_be_betwixt", "kwargs": {"column": "teacher_training_yuan"}}
        ),
    )
    with pytest.raises(SuiteError, match="school.finance"):
        BatchValidator(d)


def test_missing_suite_file_fails(tmp_path):
    d = _copy_suites(tmp_path)
    (d / "school.staff.json").unlink()
    with pytest.raises(SuiteError, match="school.staff"):
        load_suite_specs(d)


def test_file_name_must_match_suite_name(tmp_path):
    d = _copy_suites(tmp_path)
    (d / "school.staff.json").rename(d / "staff.json")
    with pytest.raises(SuiteError, match="staff.json"):
        load_suite_specs(d)


def test_reason_column_must_be_an_index_column(tmp_path):
    d = _copy_suites(tmp_path)

    def edit(doc):
        doc["expectations"][0]["meta"] = {"reason_column": "section"}

    _edit(d, "school.enrolment", edit)
    with pytest.raises(SuiteError, match="reason"):
        load_suite_specs(d)


def test_index_columns():
    assert FLATTENERS["school.staff"].index == (POS, FIELD)
    assert FLATTENERS["school.enrolment"].index == (POS,)
