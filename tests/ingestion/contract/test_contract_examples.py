"""Valid events pass on every path, and the public API behaves as documented."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from ingestion.contract import (
    KNOWN_EVENT_TYPES,
    MAX_EVENT_BYTES,
    REASON_CODES,
    SUPPORTED_SCHEMA_VERSIONS,
    Verdict,
    check_event,
    check_event_dict,
    fact_key,
)
from ingestion.contract.examples import EXAMPLES, example_event

ALL_TYPES = {
    "school.registered",
    "school.enrolment",
    "school.staff",
    "school.facilities",
    "school.finance",
    "school.project",
    "district.registered",
    "district.statistics",
    "district.inspection",
    "district.milestone",
}


def test_known_event_types_are_the_ten_contract_types() -> None:
    assert KNOWN_EVENT_TYPES == ALL_TYPES
    assert set(EXAMPLES) == ALL_TYPES
    assert SUPPORTED_SCHEMA_VERSIONS == (1, 2)


@pytest.mark.parametrize("event_type", sorted(ALL_TYPES))
def test_example_passes_as_bytes_and_as_dict(event_type: str) -> None:
    event = example_event(event_type)
    raw = json.dumps(event).encode()
    verdict = check_event(raw)
    assert verdict == Verdict(True, event, None)
    assert verdict.code is None

    as_dict = check_event_dict(event)
    assert as_dict.ok and as_dict.event is event  # no copy


@pytest.mark.parametrize("event_type", sorted(ALL_TYPES))
def test_check_does_not_mutate_the_event(event_type: str) -> None:
    event = example_event(event_type)
    before = copy.deepcopy(event)
    check_event_dict(event)
    assert event == before


def test_verdict_is_frozen() -> None:
    verdict = check_event(b"[]")
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.ok = True  # type: ignore[misc]
    assert verdict.code == "not_object" and verdict.code in REASON_CODES


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(EXAMPLES["school.staff"]).encode(),
        bytearray(json.dumps(EXAMPLES["school.staff"]).encode()),
        memoryview(json.dumps(EXAMPLES["school.staff"]).encode()),
        json.dumps(EXAMPLES["school.staff"]),
    ],
    ids=["bytes", "bytearray", "memoryview", "str"],
)
def test_check_event_accepts_bytes_like_and_str(raw: object) -> None:
    assert check_event(raw).ok  # type: ignore[arg-type]


def test_kafka_tombstone_is_not_json_rather_than_an_exception() -> None:
    assert check_event(None).code == "not_json"


def test_check_event_dict_rejects_non_dicts() -> None:
    assert check_event_dict([]).code == "not_object"  # type: ignore[arg-type]
    assert check_event_dict(None).code == "not_object"  # type: ignore[arg-type]


# --- valid edge cases: things that must NOT be rejected -------------------------------------------


def _ok(event: dict) -> None:
    verdict = check_event(json.dumps(event, ensure_ascii=False).encode())
    assert verdict.ok, verdict.reason
    assert check_event_dict(event).ok


def test_district_event_may_carry_null_school_id() -> None:
    _ok(example_event("district.statistics", school_id=None))


def test_statistics_may_be_empty_absent_means_unknown() -> None:
    _ok(example_event("district.statistics", payload={}))


def test_statistics_rotation_checks_only_when_both_sides_known() -> None:
    _ok(example_event("district.statistics", payload={"rotated": 50}))
    _ok(example_event("district.statistics", payload={"rotated_backbone": 50, "rotation_eligible": 10}))


def test_every_statistics_field_at_its_bounds() -> None:
    from ingestion.contract.registry import load_schema_sets

    props = load_schema_sets()[1].payloads["district.statistics"]["properties"]
    low = {name: 0 for name in props}
    high = {name: spec["maximum"] for name, spec in props.items()}
    _ok(example_event("district.statistics", payload=low))
    # the contract's maxima are what the warehouse's types hold; within them a value may still be
    # implausible (ingestion/contract/plausibility.yaml), but it is never a schema break
    at_max = check_event(json.dumps(example_event("district.statistics", payload=high)).encode())
    assert at_max.code != "schema", at_max.reason
    for name, spec in props.items():
        above = spec["maximum"] + (1 if spec["type"] == "integer" else spec["maximum"])
        verdict = check_event(json.dumps(example_event("district.statistics", payload={name: above})).encode())
        assert verdict.code == "schema" and "greater than the maximum" in (verdict.reason or ""), (name, verdict)


def test_enrolment_with_only_senior_and_empty_section() -> None:
    _ok(
        example_event(
            "school.enrolment",
            payload={"sections": {"senior": {"students": 0, "classes": 0, "class_sizes": []}}},
        )
    )


def test_facilities_per_section() -> None:
    event = example_event("school.facilities")
    event["payload"]["sections"] = {"junior": event["payload"].pop("school")}
    event["payload"]["music_room_areas_m2"] = []
    _ok(event)


def test_staff_counts_equal_to_full_time_are_fine() -> None:
    event = example_event("school.staff")
    section = event["payload"]["sections"]["primary"]
    for key in section:
        section[key] = section["full_time_teachers"]
    _ok(event)


def test_training_equal_to_budget_and_open_school_with_unknown_opening() -> None:
    finance = example_event("school.finance")
    finance["payload"]["teacher_training_yuan"] = finance["payload"]["public_funds_budget_yuan"]
    _ok(finance)
    school = example_event("school.registered")
    school["payload"].update(opened_year=None, closed_year=2020)
    _ok(school)
    school["payload"].update(opened_year=2020, closed_year=2020)
    _ok(school)


def test_integers_are_fine_where_numbers_are_expected() -> None:
    _ok(
        example_event(
            "school.finance",
            payload={
                "public_funds_budget_yuan": 100,
                "teacher_training_yuan": 5,
                "public_funds_per_student_yuan": 0,
            },
        )
    )


@pytest.mark.parametrize(
    "occurred_at",
    ["2024-09-15T00:30:00Z", "2024-09-15T08:30:00.123456789+08:00", "2024-02-29T23:59:59-05:30"],
)
def test_occurred_at_variants(occurred_at: str) -> None:
    _ok(example_event("school.project", occurred_at=occurred_at))


def test_upper_case_uuid_and_non_ascii_text() -> None:
    event = example_event("district.inspection", event_id="0B6F3C1E-6A4D-4F0E-9C2A-00000000000A")
    event["payload"]["note"] = "布局规划合理，符合国家规定。"
    _ok(event)


def test_event_exactly_at_the_size_limit_passes() -> None:
    event = example_event("district.inspection")
    event["payload"]["note"] = ""
    base = len(json.dumps(event).encode())
    event["payload"]["note"] = "x" * (MAX_EVENT_BYTES - base)
    raw = json.dumps(event).encode()
    assert len(raw) == MAX_EVENT_BYTES
    assert check_event(raw).ok
    assert check_event(raw + b" ").code == "oversized"


# --- fact_key -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("school.registered", ("school.registered", "3702020001", 2024, "")),
        ("school.enrolment", ("school.enrolment", "3702020001", 2024, "")),
        ("school.staff", ("school.staff", "3702020001", 2024, "")),
        ("school.facilities", ("school.facilities", "3702020001", 2024, "")),
        ("school.finance", ("school.finance", "3702020001", 2024, "")),
        ("school.project", ("school.project", "3702020001", 2024, "expanded")),
        ("district.registered", ("district.registered", "370212", 2024, "")),
        ("district.statistics", ("district.statistics", "370212", 2024, "")),
        ("district.inspection", ("district.inspection", "370212", 2024, "G1")),
        ("district.milestone", ("district.milestone", "370212", 2024, "self_assessment")),
    ],
)
def test_fact_key(event_type: str, expected: tuple) -> None:
    assert fact_key(EXAMPLES[event_type]) == expected


def test_fact_key_ignores_seq_event_id_and_content() -> None:
    a = example_event("school.staff", seq=1)
    b = example_event("school.staff", seq=9, event_id="11111111-2222-3333-4444-555555555555")
    b["payload"]["sections"]["primary"]["full_time_teachers"] = 40
    assert fact_key(a) == fact_key(b)
    assert fact_key(a) != fact_key(example_event("school.staff", year=2025))
    assert fact_key(a) != fact_key(example_event("school.staff", school_id="3702020002"))


def test_fact_key_separates_inspection_items_and_milestone_kinds() -> None:
    g1 = example_event("district.inspection")
    veto = example_event("district.inspection")
    veto["payload"]["item"] = "falsified_data"
    assert fact_key(g1) != fact_key(veto)
    done = example_event("district.milestone")
    done["payload"]["kind"] = "recognised"
    assert fact_key(done) != fact_key(EXAMPLES["district.milestone"])


def test_fact_key_of_district_event_with_null_school_id_uses_district() -> None:
    assert fact_key(example_event("district.statistics", school_id=None))[1] == "370212"
