"""Bad input: every corpus file is rejected with its expected reason code.

The corpus is raw bytes under ``corpus/`` (rebuilt by ``make_corpus.py``), one defect per file.
Cases that would make unwieldy files (oversized, deeply nested) are generated here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.contract import MAX_EVENT_BYTES, REASON_CODES, check_event
from ingestion.contract.examples import example_event

CORPUS = Path(__file__).resolve().parent / "corpus"

# file -> (reason code, text the message must contain: usually the JSON path)
EXPECTED: dict[str, tuple[str, str]] = {
    # not JSON at all, or not the JSON the contract allows
    "not_json.bin": ("not_json", ""),
    "empty.bin": ("not_json", ""),
    "truncated_json.bin": ("not_json", "line"),
    "trailing_garbage.json": ("not_json", "Extra data"),
    "invalid_utf8.bin": ("not_json", "UTF-8"),
    "utf16.json": ("not_json", "UTF-8"),
    "nan_literal.json": ("not_json", "NaN"),
    "single_quotes.bin": ("not_json", ""),
    "top_level_array.json": ("not_object", "array"),
    "top_level_string.json": ("not_object", "string"),
    "top_level_null.json": ("not_object", "null"),
    # versions
    "unsupported_schema_version.json": (
        "unsupported_schema_version",
        "unsupported schema_version 3 (this build reads 1, 2)",
    ),
    "v1_body_labelled_version_2.json": ("schema", "subject: is required"),
    "schema_version_zero.json": ("unsupported_schema_version", "unsupported schema_version 0"),
    "missing_schema_version.json": ("schema", "schema_version: is required"),
    "schema_version_string.json": ("schema", "schema_version:"),
    # envelope schema
    "missing_event_id.json": ("schema", "event_id: is required"),
    "bad_uuid.json": ("schema", "event_id:"),
    "unknown_type.json": ("schema", "event_type:"),
    "unknown_envelope_field.json": ("schema", "priority: is not an allowed property"),
    "bad_district_code.json": ("schema", "district_code:"),
    "district_code_trailing_newline.json": ("schema", "district_code:"),
    "empty_source.json": ("schema", "source:"),
    "year_out_of_range.json": ("schema", "year: 1999 is less than the minimum of 2000"),
    "negative_seq.json": ("schema", "seq:"),
    "bad_occurred_at.json": ("schema", "occurred_at:"),
    "naive_occurred_at.json": ("schema", "occurred_at:"),
    "school_event_without_school_id.json": ("schema", "school_id: required for school.* events"),
    "school_event_null_school_id.json": ("schema", "school_id:"),
    "district_event_with_school_id.json": ("schema", "school_id: must be absent or null"),
    "payload_not_object.json": ("schema", "payload:"),
    # payload schema
    "negative_students.json": (
        "schema",
        "payload.sections.primary.students: -3 is less than the minimum of 0",
    ),
    "wrong_type_string_for_int.json": ("schema", "payload.sections.junior.classes:"),
    "boolean_as_int.json": ("schema", "payload.rotated: true is not of type integer"),
    "float_as_int.json": ("schema", "payload.sections.primary.full_time_teachers:"),
    "pct_over_100.json": (
        "schema",
        "payload.satisfaction_pct: 100.5 is greater than the maximum of 100",
    ),
    "null_statistic.json": ("schema", "payload.junior_retention_pct: null"),
    "unknown_statistic.json": ("schema", "payload.dropout_pct: is not an allowed property"),
    "empty_sections.json": ("schema", "payload.sections:"),
    "unknown_section.json": ("schema", "payload.sections.senior:"),
    "missing_staff_field.json": (
        "schema",
        "payload.sections.primary.certified_teachers: is required",
    ),
    "facilities_school_and_sections.json": ("schema", "exactly one of 'school' or 'sections'"),
    "facilities_neither.json": ("schema", "exactly one of 'school' or 'sections'"),
    "bad_enum.json": ("schema", "payload.school_type:"),
    "bad_completed_on.json": ("schema", "payload.completed_on:"),
    "basic_date_format.json": ("schema", "payload.on:"),
    "bad_inspection_item.json": ("schema", "payload.item:"),
    # impossible values
    "qualified_gt_full_time.json": (
        "impossible_value",
        "payload.sections.primary.qualified_teachers: 13 exceeds",
    ),
    "class_sizes_mismatch.json": (
        "impossible_value",
        "payload.sections.primary.class_sizes: sum 135",
    ),
    "class_count_mismatch.json": (
        "impossible_value",
        "payload.sections.junior.class_sizes: 2 entries",
    ),
    "training_gt_budget.json": ("impossible_value", "payload.teacher_training_yuan:"),
    "rotated_gt_eligible.json": (
        "impossible_value",
        "payload.rotated: 1201 exceeds rotation_eligible",
    ),
    "backbone_gt_rotated.json": ("impossible_value", "payload.rotated_backbone:"),
    "closed_before_opened.json": ("impossible_value", "payload.closed_year:"),
    # storable (below the contract's 10^15) but beyond plausibility.yaml's budget bound
    "budget_implausible.json": (
        "implausible_value",
        "payload.public_funds_budget_yuan: 100,000,000,000,000 above the plausible maximum",
    ),
    # 1e999 parses to inf: above every number's maximum (the warehouse's bounds), so a schema break
    "number_overflows_to_inf.json": ("schema", "payload.public_funds_budget_yuan: inf is greater than the maximum"),
    "lone_surrogate.json": ("impossible_value", "payload.note:"),
}


def test_every_corpus_file_has_an_expectation_and_vice_versa() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "code", "needle"), [(n, *e) for n, e in sorted(EXPECTED.items())])
def test_corpus_file_is_rejected_with_expected_reason(name: str, code: str, needle: str) -> None:
    verdict = check_event((CORPUS / name).read_bytes())
    assert not verdict.ok and verdict.event is None
    assert verdict.code == code, verdict.reason
    assert verdict.reason is not None and verdict.reason.startswith(f"{code}: ")
    assert needle in verdict.reason, verdict.reason


def test_corpus_covers_every_reason_code_but_oversized() -> None:
    assert {code for code, _ in EXPECTED.values()} == REASON_CODES - {"oversized"}


# --- generated cases -----------------------------------------------------------------------------


def test_oversized_is_rejected_before_parsing() -> None:
    event = example_event("district.inspection")
    event["payload"]["note"] = "x" * MAX_EVENT_BYTES
    verdict = check_event(json.dumps(event).encode())
    assert verdict.code == "oversized"
    assert str(MAX_EVENT_BYTES) in (verdict.reason or "")
    # Garbage that is too big is "oversized", not "not_json": size comes first.
    assert check_event(b"\xff" * (MAX_EVENT_BYTES + 1)).code == "oversized"


def test_deeply_nested_json_is_not_json_not_a_crash() -> None:
    assert check_event(b"[" * 60_000).code == "not_json"
    deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    assert len(deep) < MAX_EVENT_BYTES
    assert check_event(deep).code == "not_json"


def test_huge_integer_literal_is_not_json() -> None:
    assert check_event(b'{"seq": ' + b"9" * 5000 + b"}").code == "not_json"


def test_deep_payload_is_a_schema_error() -> None:
    payload: dict = {}
    node = payload
    for _ in range(500):
        node["sections"] = {}
        node = node["sections"]
    event = example_event("school.enrolment")
    event["payload"] = payload
    assert check_event(json.dumps(event).encode()).code == "schema"


def test_error_message_is_bounded() -> None:
    event = example_event("district.inspection", source=None)
    event["payload"]["item"] = "x" * 30_000
    verdict = check_event(json.dumps(event).encode())
    assert verdict.code == "schema" and len(verdict.reason or "") <= 320
