"""Plausibility bounds (ingestion/contract/plausibility.yaml): storable but absurd values are
dead-lettered `implausible_value`; the bounds file is validated on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.contract import IMPLAUSIBLE_VALUE, check_event
from ingestion.contract.examples import example_event
from ingestion.contract.plausibility import BOUNDS_FILE, PlausibilityError, compile_checks, load_bounds
from ingestion.contract.registry import load_schema_sets


def _check(event: dict) -> tuple[str | None, str | None]:
    verdict = check_event(json.dumps(event, ensure_ascii=False).encode())
    return verdict.code, verdict.reason


#: fields a sanity check keeps below another one (rotated <= rotation_eligible, ...)
BOUNDED_BY_ANOTHER_FIELD = {"payload.rotated", "payload.rotated_backbone"}


def test_every_bound_of_the_file_is_enforced_at_its_edge() -> None:
    """Per event type, an event with every plainly-pathed field at its bound passes; one field a
    step beyond its bound is implausible, and the message names the field, the value and the bound."""
    bounds = load_bounds()
    assert {b.event_type for b in bounds} >= {
        "school.enrolment",
        "school.staff",
        "school.facilities",
        "school.finance",
        "district.statistics",
    }
    plain = [b for b in bounds if "*" not in b.segments and b.max is not None and len(b.segments) == 1]
    checked = 0
    for event_type in sorted({b.event_type for b in plain}):
        mine = [b for b in plain if b.event_type == event_type]
        at_bounds = example_event(event_type)
        for b in mine:
            at_bounds["payload"][b.segments[0]] = b.max
        code, reason = _check(at_bounds)
        assert code is None, (event_type, reason)
        for b in mine:
            beyond = json.loads(json.dumps(at_bounds))
            beyond["payload"][b.segments[0]] = b.max * 10
            code, reason = _check(beyond)
            if b.path in BOUNDED_BY_ANOTHER_FIELD and code == "impossible_value":
                continue  # the sanity check (a subset above its whole) speaks first
            assert code == IMPLAUSIBLE_VALUE, (b.path, reason)
            assert reason is not None and b.path in reason and "above the plausible maximum" in reason
            checked += 1
    assert checked >= 12


def test_wildcard_paths_reach_every_section_and_item() -> None:
    staff = example_event("school.staff")
    level = next(iter(staff["payload"]["sections"]))
    staff["payload"]["sections"][level]["full_time_teachers"] = 6000
    for f in staff["payload"]["sections"][level]:
        staff["payload"]["sections"][level][f] = min(staff["payload"]["sections"][level][f], 6000)
    code, reason = _check(staff)
    assert code == IMPLAUSIBLE_VALUE and f"payload.sections.{level}.full_time_teachers: 6,000" in reason

    fac = example_event("school.facilities")
    fac["payload"]["art_room_areas_m2"] = [90.0, 1e6]
    code, reason = _check(fac)
    assert code == IMPLAUSIBLE_VALUE and "payload.art_room_areas_m2[1]" in reason


def test_the_budget_that_flipped_c8_is_dead_lettered() -> None:
    """Issue #14: a budget of 10^30 was applied and flipped C8. Now: above the contract's bound
    (a schema break); 10^14, storable, is implausible."""
    fin = example_event("school.finance")
    fin["payload"]["public_funds_budget_yuan"] = 10**30
    assert _check(fin)[0] == "schema"
    fin["payload"]["public_funds_budget_yuan"] = 1e14
    code, reason = _check(fin)
    assert code == IMPLAUSIBLE_VALUE and "payload.public_funds_budget_yuan" in reason


def test_a_version_2_enrolment_is_bounded_on_the_students_it_derives() -> None:
    """v2 gives class sizes per grade; the upcast derives students. 400 classes of 100 in one
    section is 40,000 students: no single number is out of bounds, the derived one is."""
    from ingestion.synthetic.versions import to_v2

    event = to_v2(example_event("school.enrolment"))
    event["payload"] = {"grades": [{"grade": g, "class_sizes": [100] * 70} for g in range(1, 7)]}
    code, reason = _check(event)
    assert code == IMPLAUSIBLE_VALUE and "payload.sections.primary" in reason, reason


def _bounds_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bounds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, needle",
    [
        ("version: 2\nbounds: {}\n", "needs 'version: 1'"),
        (
            "version: 1\nbounds:\n  school.nothing:\n    payload.x: {max: 1}\n",
            "bounds.school.nothing: not an event type",
        ),
        ("version: 1\nbounds:\n  school.finance:\n    payload.no_such_field: {max: 1}\n", "names no number"),
        ("version: 1\nbounds:\n  school.registered:\n    payload.name: {max: 1}\n", "names no number"),
        ("version: 1\nbounds:\n  school.finance:\n    sections.x: {max: 1}\n", "starts with 'payload.'"),
        (
            "version: 1\nbounds:\n  school.finance:\n    payload.public_funds_budget_yuan: {min: 5, max: 5}\n",
            "min 5 is not below max 5",
        ),
        (
            "version: 1\nbounds:\n  school.finance:\n    payload.public_funds_budget_yuan: {max: .inf}\n",
            "finite number",
        ),
        (
            "version: 1\nbounds:\n  school.finance:\n    payload.public_funds_budget_yuan: {max: 1.0e+16}\n",
            "above the contract's maximum",
        ),
        (
            "version: 1\nbounds:\n  school.finance:\n    payload.public_funds_budget_yuan: {maximum: 5}\n",
            "expected {min",
        ),
    ],
)
def test_a_bad_bounds_file_fails_on_load_naming_the_entry(tmp_path: Path, text: str, needle: str) -> None:
    path = _bounds_file(tmp_path, text)
    with pytest.raises(PlausibilityError) as failure:
        load_bounds(path)
    assert str(path) in str(failure.value) and needle in str(failure.value)
    assert "\n" not in str(failure.value)


def test_a_bureau_can_tighten_a_bound_without_code(tmp_path: Path) -> None:
    path = _bounds_file(
        tmp_path,
        "version: 1\nbounds:\n  school.finance:\n    payload.public_funds_budget_yuan: {max: 500000, unit: yuan}\n",
    )
    check = compile_checks(load_bounds(path))["school.finance"]
    payload = example_event("school.finance")["payload"]
    payload["public_funds_budget_yuan"] = 600000.0
    assert check(payload) == ("payload.public_funds_budget_yuan: 600,000 above the plausible maximum 500,000 yuan")
    payload["public_funds_budget_yuan"] = 500000.0
    assert check(payload) is None


def test_the_shipped_file_is_the_one_the_contract_loads() -> None:
    assert BOUNDS_FILE.name == "plausibility.yaml" and BOUNDS_FILE.is_file()
    assert load_bounds(BOUNDS_FILE, load_schema_sets()[1].payloads)
