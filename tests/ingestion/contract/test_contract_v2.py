"""schema_version 2: read next to version 1, upcast to version 1's shape, bad events rejected by field.

Version 2 carries the subject as an object and school.enrolment per grade (docs/events.md,
"Schema version 2"). The platform must accept both versions and hand the engine one shape, so the
tests here hold three things: every version 2 event states the same facts as the version 1 event
it was written from (round trip), whatever version 2 accepts becomes a valid version 1 event (so
the engine can never see a shape it does not know), and a bad version 2 event is dead-lettered with
a reason that names the version 2 field.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import fast_ok, mutated

from ingestion.contract import (
    KNOWN_EVENT_TYPES,
    SUPPORTED_SCHEMA_VERSIONS,
    check_event,
    check_event_dict,
    decode_accepted,
    fact_key,
)
from ingestion.contract.examples import EXAMPLES, example_event
from ingestion.contract.registry import load_schema_sets
from ingestion.contract.upcast import section_of_grade, upcast_v2
from ingestion.producer import key_for
from ingestion.synthetic.versions import mix_versions, to_v2, to_v2_line

TYPES = sorted(KNOWN_EVENT_TYPES)
V2 = load_schema_sets()[2]


def _enc(event: Any) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def test_this_build_reads_versions_1_and_2() -> None:
    assert SUPPORTED_SCHEMA_VERSIONS == (1, 2)
    assert V2.event_types == KNOWN_EVENT_TYPES


@pytest.mark.parametrize("event_type", TYPES)
def test_every_type_round_trips_v1_to_v2_and_back(event_type: str) -> None:
    v1 = example_event(event_type)
    v2 = to_v2(v1)
    assert v2["schema_version"] == 2 and "district_code" not in v2 and "school_id" not in v2
    assert v2["subject"]["district_code"] == v1["district_code"]
    assert upcast_v2(v2) == v1  # the pure upcaster gives the version 1 event back, exactly
    verdict = check_event(_enc(v2))
    assert verdict.ok, verdict.reason
    # the check hands on version 1's shape and keeps the version the producer used
    assert verdict.event == {**v1, "schema_version": 2}
    assert fact_key(verdict.event) == fact_key(v1)  # so a v2 event supersedes a v1 one and back


@pytest.mark.parametrize("event_type", TYPES)
def test_upcast_result_is_a_valid_version_1_event(event_type: str) -> None:
    verdict = check_event_dict(to_v2(example_event(event_type)))
    assert verdict.ok and verdict.event is not None
    as_v1 = check_event_dict({**verdict.event, "schema_version": 1})
    assert as_v1.ok, as_v1.reason


def test_check_of_a_v2_event_does_not_modify_it() -> None:
    v2 = to_v2(example_event("school.enrolment"))
    before = copy.deepcopy(v2)
    verdict = check_event_dict(v2)
    assert verdict.ok and v2 == before and verdict.event is not v2


def test_version_1_event_is_still_returned_as_is() -> None:
    v1 = example_event("school.enrolment")
    assert check_event_dict(v1).event is v1


def test_enrolment_grades_roll_up_to_sections() -> None:
    event = to_v2(example_event("school.enrolment"))
    event["payload"] = {
        "grades": [
            {"grade": 8, "class_sizes": [50]},  # any order: grades are sorted
            {"grade": 1, "class_sizes": [45, 46]},
            {"grade": 7, "class_sizes": [48]},
            {"grade": 6, "class_sizes": [44]},
            {"grade": 10, "class_sizes": []},  # listed with no class: the section exists, empty
        ]
    }
    sections = check_event_dict(event).event["payload"]["sections"]  # type: ignore[index]
    assert sections == {
        "primary": {"students": 135, "classes": 3, "class_sizes": [45, 46, 44]},
        "junior": {"students": 98, "classes": 2, "class_sizes": [48, 50]},
        "senior": {"students": 0, "classes": 0, "class_sizes": []},
    }


def test_five_four_school_system_puts_grade_6_in_junior() -> None:
    event = to_v2(example_event("school.enrolment"))
    event["payload"] = {
        "school_system": "5-4",
        "grades": [{"grade": 5, "class_sizes": [40]}, {"grade": 6, "class_sizes": [42, 41]}],
    }
    sections = check_event_dict(event).event["payload"]["sections"]  # type: ignore[index]
    assert sections == {
        "primary": {"students": 40, "classes": 1, "class_sizes": [40]},
        "junior": {"students": 83, "classes": 2, "class_sizes": [42, 41]},
    }
    assert section_of_grade(6, "6-3") == "primary" and section_of_grade(6, "5-4") == "junior"
    assert section_of_grade(10, "5-4") == "senior"


def test_district_event_null_school_id_survives_the_round_trip() -> None:
    v1 = example_event("district.statistics", school_id=None)
    v2 = to_v2(v1)
    assert v2["subject"] == {"district_code": "370212", "school_id": None}
    assert check_event_dict(v2).event == {**v1, "schema_version": 2}


def test_generated_city_round_trips_line_by_line() -> None:
    """Every valid line of a generated city (all types, real enrolment shapes): v1 -> v2 -> the
    check gives the same event, and the Kafka key is the same district."""
    from ingestion.synthetic import generate_city

    city = generate_city(seed=7, schools=40, bad_fraction=0.0, duplicate_fraction=0.0, stale_fraction=0.0)
    checked = 0
    for line in city.lines:
        v1 = check_event(line)
        assert v1.ok, v1.reason
        v2_line = to_v2_line(line)
        v2 = check_event(v2_line)
        assert v2.ok, (v2.reason, v2_line)
        assert v2.event == {**v1.event, "schema_version": 2}  # type: ignore[dict-item]
        assert key_for(v2_line) == key_for(line) == v1.event["district_code"].encode()  # type: ignore[index]
        checked += 1
    assert checked > 500


def test_mix_versions_rewrites_only_valid_lines_about_half() -> None:
    lines = [_enc(example_event(t)) for t in TYPES] * 20 + [b"not json", _enc({"schema_version": 1})]
    mixed, converted = mix_versions(lines, fraction=0.5, seed=3)
    assert len(mixed) == len(lines) and mixed[-2:] == lines[-2:]
    assert 0.3 * len(lines) < len(converted) < 0.7 * len(lines)
    for i, (old, new) in enumerate(zip(lines[:-2], mixed)):
        assert (json.loads(new)["schema_version"] == 2) == (i in converted)
        if i in converted:
            assert check_event(new).event == {**check_event(old).event, "schema_version": 2}  # type: ignore[dict-item]
    assert mix_versions(lines, fraction=0.5, seed=3) == (mixed, converted)


def test_decode_accepted_gives_the_event_the_check_accepted() -> None:
    """What the GX child decodes from an accepted message (decode_accepted, no second check) is
    the event the worker's check accepted: both versions, every type, real enrolment shapes, and
    the same events spelt with escapes, spaces and unusual numbers."""
    from ingestion.synthetic import generate_city

    city = generate_city(seed=11, schools=40, bad_fraction=0.05, duplicate_fraction=0.0, stale_fraction=0.0)
    mixed, converted = mix_versions(city.lines, fraction=0.5, seed=5)
    good = [line for line in mixed if check_event(line).ok][:200]
    variants = [
        json.dumps({**json.loads(line), "source": '试点 \u00e9 "q" \\ /'}, ensure_ascii=ascii, indent=indent).encode()
        for line, ascii, indent in zip(good, [True, False] * 100, [None, 2, None, None] * 50)
    ]
    accepted = 0
    for line in mixed + variants:
        verdict = check_event(line)
        if verdict.ok:
            assert decode_accepted(line) == verdict.event
            accepted += 1
    assert converted and len(variants) == 200 and accepted > 1000


# --- rejections --------------------------------------------------------------------------------


def _v2(event_type: str) -> dict[str, Any]:
    return to_v2(example_event(event_type))


def _case(event_type: str, change: Any) -> dict[str, Any]:
    event = _v2(event_type)
    change(event)
    return event


BAD_V2: dict[str, tuple[dict[str, Any], str, str]] = {
    "missing subject": (_case("school.staff", lambda e: e.pop("subject")), "schema", "subject: is required"),
    "v1 district_code at top level": (
        _case("school.staff", lambda e: e.update(district_code="370202")),
        "schema",
        "district_code: is not an allowed property",
    ),
    "bad subject.district_code": (
        _case("district.milestone", lambda e: e["subject"].update(district_code="37020")),
        "schema",
        "subject.district_code:",
    ),
    "school event without subject.school_id": (
        _case("school.enrolment", lambda e: e["subject"].pop("school_id")),
        "schema",
        "subject.school_id: required for school.* events",
    ),
    "district event with subject.school_id": (
        _case("district.milestone", lambda e: e["subject"].update(school_id="3702020001")),
        "schema",
        "subject.school_id: must be absent or null",
    ),
    "unknown field in subject": (
        _case("school.staff", lambda e: e["subject"].update(street="x")),
        "schema",
        "subject.street: is not an allowed property",
    ),
    "v1 enrolment sections": (
        _case("school.enrolment", lambda e: e.update(payload=example_event("school.enrolment")["payload"])),
        "schema",
        "payload",
    ),
    "grade 13": (
        _case("school.enrolment", lambda e: e["payload"]["grades"][0].update(grade=13)),
        "schema",
        "payload.grades[0].grade: 13 is greater than the maximum of 12",
    ),
    "negative class size": (
        _case("school.enrolment", lambda e: e["payload"]["grades"][1]["class_sizes"].__setitem__(0, -1)),
        "schema",
        "payload.grades[1].class_sizes[0]: -1 is less than the minimum of 0",
    ),
    "no grades": (_case("school.enrolment", lambda e: e["payload"].update(grades=[])), "schema", "payload.grades:"),
    "unknown school_system": (
        _case("school.enrolment", lambda e: e["payload"].update(school_system="4-5")),
        "schema",
        "payload.school_system:",
    ),
    "grade listed twice": (
        _case("school.enrolment", lambda e: e["payload"]["grades"].append({"grade": 2, "class_sizes": [3]})),
        "impossible_value",
        "payload.grades[5].grade: grade 2 is listed more than once",
    ),
    "unchanged payload, impossible value": (
        _case("school.staff", lambda e: e["payload"]["sections"]["primary"].update(qualified_teachers=99)),
        "impossible_value",
        "payload.sections.primary.qualified_teachers: 99 exceeds full_time_teachers 12",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_V2))
def test_invalid_v2_is_rejected_with_a_reason_naming_the_field(name: str) -> None:
    event, code, needle = BAD_V2[name]
    for verdict in (check_event_dict(event), check_event(_enc(event))):
        assert not verdict.ok and verdict.event is None
        assert verdict.code == code, verdict.reason
        assert needle in (verdict.reason or ""), verdict.reason


@pytest.mark.parametrize(
    ("version", "code", "needle"),
    [
        (3, "unsupported_schema_version", "unsupported schema_version 3 (this build reads 1, 2)"),
        (0, "unsupported_schema_version", "unsupported schema_version 0 (this build reads 1, 2)"),
        (-1, "unsupported_schema_version", "unsupported schema_version -1"),
        ("1", "schema", 'schema_version: "1" is not of type integer'),
        ("2", "schema", 'schema_version: "2" is not of type integer'),
        (2.0, "schema", "schema_version: 2.0 is not of type integer"),
        (True, "schema", "schema_version: true is not of type integer"),
        (None, "schema", "schema_version: null is not of type integer"),
    ],
)
def test_unknown_versions_still_dead_letter_with_a_clear_reason(version: Any, code: str, needle: str) -> None:
    for body in (example_event("school.staff"), _v2("school.staff")):
        body["schema_version"] = version
        verdict = check_event(_enc(body))
        assert verdict.code == code and needle in (verdict.reason or ""), verdict.reason


def test_missing_schema_version_names_it() -> None:
    event = _v2("school.staff")
    del event["schema_version"]
    assert check_event_dict(event).reason == "schema: schema_version: is required"


# --- properties ---------------------------------------------------------------------------------

_VALUES = st.one_of(
    st.integers(min_value=-2, max_value=14),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    st.sampled_from(["370202", "3702020001", "6-3", "5-4", "primary", "junior", "2024-09-15"]),
    st.lists(st.integers(min_value=-1, max_value=60), max_size=4),
    st.fixed_dictionaries({"grade": st.integers(0, 13), "class_sizes": st.lists(st.integers(0, 60), max_size=3)}),
)


def mutated_v2() -> st.SearchStrategy[dict[str, Any]]:
    return mutated(
        st.sampled_from([to_v2(EXAMPLES[t]) for t in TYPES]),
        _VALUES,
        ["school_id", "district_code", "school_system", "grades", "extra"],
        min_edits=0,
        max_edits=3,
    )


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_v2())
def test_v2_fast_and_reference_validators_agree(event: dict[str, Any]) -> None:
    assert fast_ok(V2.fast_envelope, event) == V2.ref_envelope.is_valid(event), event
    payload = event.get("payload")
    for event_type in V2.event_types:
        assert fast_ok(V2.fast_payloads[event_type], payload) == V2.ref_payloads[event_type].is_valid(payload)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_v2())
def test_whatever_v2_accepts_the_engine_can_read(event: dict[str, Any]) -> None:
    """An accepted version 2 event, upcast, is a valid version 1 event: the engine only ever
    sees the one shape it knows. A rejected one has a reason and no event."""
    verdict = check_event_dict(event)
    if verdict.ok:
        assert verdict.event is not None and verdict.event["schema_version"] == 2
        as_v1 = check_event_dict({**verdict.event, "schema_version": 1})
        assert as_v1.ok, (as_v1.reason, event)
    else:
        assert verdict.event is None and verdict.reason


def test_kafka_key_is_the_district_in_either_version() -> None:
    """All of a district's events must share a partition while producers move from v1 to v2."""
    v1 = example_event("school.staff")
    assert key_for(_enc(v1)) == key_for(_enc(to_v2(v1))) == b"370202"
    assert key_for(_enc({"subject": "370202"})) == b"unknown"
    assert key_for(_enc({"subject": {"district_code": 370202}})) == b"unknown"
    assert key_for(_enc([to_v2(v1)])) == b"unknown"
