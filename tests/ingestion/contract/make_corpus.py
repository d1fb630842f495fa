"""Regenerate the bad-input corpus: ``python3 tests/ingestion/contract/make_corpus.py``.

Each case is one file of raw bytes in ``corpus/``, built from the valid examples with one defect,
so a reader can open a file and see exactly what is wrong. The expected reason code of every file is
in ``test_contract_corpus.py``; cases too large or too deep for a data file are generated there.
Not a test module (no ``test_`` prefix); kept so the corpus can be rebuilt after a contract change.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from ingestion.contract.examples import example_event  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus"


def dumps(event: Any) -> bytes:
    return json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def edit(event_type: str, change: Callable[[dict[str, Any]], None], **envelope: Any) -> bytes:
    event = example_event(event_type, **envelope)
    change(event)
    return dumps(event)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a dotted path (``payload.sections.primary.students``) to ``value``."""

    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = event
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _del(path: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = event
        for key in parents:
            node = node[key]
        del node[last]

    return change


def cases() -> dict[str, bytes]:
    valid = dumps(example_event("school.enrolment"))
    facilities = example_event("school.facilities")
    return {
        # not_json
        "not_json.bin": b"this is not json\n",
        "empty.bin": b"",
        "truncated_json.bin": valid[: len(valid) // 2],
        "trailing_garbage.json": valid + b"}\n",
        "invalid_utf8.bin": valid.replace(b'"examples"', b'"ex\xffamples"'),
        "utf16.json": json.dumps(example_event("school.enrolment")).encode("utf-16"),
        "nan_literal.json": edit("district.statistics", _set("payload.satisfaction_pct", 0.5)).replace(b"0.5", b"NaN"),
        "single_quotes.bin": b"{'event_id': 'x'}",
        # not_object
        "top_level_array.json": b"[" + valid + b"]",
        "top_level_string.json": b'"school.enrolment"',
        "top_level_null.json": b"null",
        # unsupported_schema_version
        "unsupported_schema_version.json": edit("school.staff", lambda e: None, schema_version=3),
        "schema_version_zero.json": edit("school.staff", lambda e: None, schema_version=0),
        # schema: envelope
        "missing_event_id.json": edit("school.staff", _del("event_id")),
        "bad_uuid.json": edit("school.staff", _set("event_id", "0b6f3c1e-6a4d-4f0e-9c2a-00000000000Z")),
        "unknown_type.json": edit("school.staff", _set("event_type", "school.transferred")),
        "unknown_envelope_field.json": edit("school.staff", _set("priority", "high")),
        "missing_schema_version.json": edit("school.staff", _del("schema_version")),
        # a version 1 body labelled 2: version 2 wants the subject object (schemas/v2)
        "v1_body_labelled_version_2.json": edit("school.staff", lambda e: None, schema_version=2),
        "schema_version_string.json": edit("school.staff", lambda e: None, schema_version="1"),
        "bad_district_code.json": edit("district.milestone", _set("district_code", "37020")),
        "district_code_trailing_newline.json": edit("district.milestone", _set("district_code", "370202\n")),
        "empty_source.json": edit("district.milestone", _set("source", "")),
        "year_out_of_range.json": edit("district.milestone", _set("year", 1999)),
        "negative_seq.json": edit("district.milestone", _set("seq", -1)),
        "bad_occurred_at.json": edit("school.staff", _set("occurred_at", "2024-02-30T08:00:00+08:00")),
        "naive_occurred_at.json": edit("school.staff", _set("occurred_at", "2024-09-15T08:30:00")),
        "school_event_without_school_id.json": edit("school.enrolment", _del("school_id")),
        "school_event_null_school_id.json": edit("school.enrolment", _set("school_id", None)),
        "district_event_with_school_id.json": edit("district.statistics", _set("school_id", "3702020001")),
        "payload_not_object.json": edit("school.project", _set("payload", ["expanded", "2024-08-30"])),
        # schema: payload
        "negative_students.json": edit("school.enrolment", _set("payload.sections.primary.students", -3)),
        "wrong_type_string_for_int.json": edit("school.enrolment", _set("payload.sections.junior.classes", "2")),
        "boolean_as_int.json": edit("district.statistics", _set("payload.rotated", True)),
        "float_as_int.json": edit("school.staff", _set("payload.sections.primary.full_time_teachers", 12.0)),
        "pct_over_100.json": edit("district.statistics", _set("payload.satisfaction_pct", 100.5)),
        "null_statistic.json": edit("district.statistics", _set("payload.junior_retention_pct", None)),
        "unknown_statistic.json": edit("district.statistics", _set("payload.dropout_pct", 0.2)),
        "empty_sections.json": edit("school.enrolment", _set("payload.sections", {})),
        "unknown_section.json": edit("school.staff", _set("payload.sections.senior", {})),
        "missing_staff_field.json": edit("school.staff", _del("payload.sections.primary.certified_teachers")),
        "facilities_school_and_sections.json": edit(
            "school.facilities",
            _set("payload.sections", {"junior": facilities["payload"]["school"]}),
        ),
        "facilities_neither.json": edit("school.facilities", _del("payload.school")),
        "bad_enum.json": edit("school.registered", _set("payload.school_type", "kindergarten")),
        "bad_completed_on.json": edit("school.project", _set("payload.completed_on", "2024-08-32")),
        "basic_date_format.json": edit("district.milestone", _set("payload.on", "20241220")),
        "bad_inspection_item.json": edit("district.inspection", _set("payload.item", "Q4")),
        # impossible_value
        "qualified_gt_full_time.json": edit("school.staff", _set("payload.sections.primary.qualified_teachers", 13)),
        "class_sizes_mismatch.json": edit("school.enrolment", _set("payload.sections.primary.students", 140)),
        "class_count_mismatch.json": edit("school.enrolment", _set("payload.sections.junior.classes", 3)),
        "training_gt_budget.json": edit("school.finance", _set("payload.teacher_training_yuan", 2000000.0)),
        "rotated_gt_eligible.json": edit("district.statistics", _set("payload.rotated", 1201)),
        "backbone_gt_rotated.json": edit("district.statistics", _set("payload.rotated_backbone", 151)),
        "closed_before_opened.json": edit("school.registered", _set("payload.closed_year", 1990)),
        "budget_implausible.json": edit("school.finance", _set("payload.public_funds_budget_yuan", 1e14)),
        "number_overflows_to_inf.json": edit("school.finance", _set("payload.public_funds_budget_yuan", 7.0)).replace(
            b"7.0", b"1e999"
        ),
        "lone_surrogate.json": edit("district.inspection", _set("payload.note", "PLACEHOLDER")).replace(
            b"PLACEHOLDER", b"\\ud800"
        ),
    }


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()
    for name, data in sorted(cases().items()):
        (CORPUS / name).write_bytes(data)
    print(f"wrote {len(cases())} files to {CORPUS}")


if __name__ == "__main__":
    main()
