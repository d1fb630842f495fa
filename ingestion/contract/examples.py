"""One valid example event per type (schema_version 1).

Shared by the contract tests, docs/events.md and anyone who needs a known-good event to start from
(stream and driver tests, producer smoke tests). :func:`example_event` returns a fresh deep copy so
callers can mutate it freely.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["EXAMPLES", "example_event"]

_SCHOOL = {"district_code": "370202", "school_id": "3702020001"}
_DISTRICT = {"district_code": "370212"}


def _event(n: int, event_type: str, subject: dict[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": f"0b6f3c1e-6a4d-4f0e-9c2a-{n:012d}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": "2024-09-15T08:30:00+08:00",
        "source": "examples",
        **subject,
        "year": 2024,
        "seq": 1,
        "payload": payload,
    }


_LIST = [
    _event(
        1,
        "school.registered",
        _SCHOOL,
        {
            "name": "Qingdao Example Nine-Year School",
            "school_type": "nine_year",
            "locale": "urban",
            "ownership": "public",
            "boarding": False,
            "opened_year": 1998,
            "closed_year": None,
        },
    ),
    _event(
        2,
        "school.enrolment",
        _SCHOOL,
        {
            "sections": {
                "primary": {"students": 135, "classes": 3, "class_sizes": [45, 46, 44]},
                "junior": {"students": 98, "classes": 2, "class_sizes": [50, 48]},
            }
        },
    ),
    _event(
        3,
        "school.staff",
        _SCHOOL,
        {
            "sections": {
                "primary": {
                    "full_time_teachers": 12,
                    "qualified_teachers": 10,
                    "backbone_teachers": 2,
                    "pe_arts_teachers": 2,
                    "certified_teachers": 12,
                    "trained_360h_teachers": 11,
                }
            }
        },
    ),
    _event(
        4,
        "school.facilities",
        _SCHOOL,
        {
            "music_room_areas_m2": [96.0],
            "art_room_areas_m2": [90.5],
            "school": {
                "teaching_aux_area_m2": 1250.0,
                "sports_area_m2": 2100.5,
                "equipment_value_yuan": 520000.0,
                "multimedia_rooms": 6,
            },
        },
    ),
    _event(
        5,
        "school.finance",
        _SCHOOL,
        {
            "public_funds_budget_yuan": 1800000.0,
            "teacher_training_yuan": 95000.0,
            "public_funds_per_student_yuan": 7725.3,
        },
    ),
    _event(6, "school.project", _SCHOOL, {"kind": "expanded", "completed_on": "2024-08-30"}),
    _event(
        7,
        "district.registered",
        _DISTRICT,
        {
            "name": "Laoshan District",
            "basic_balance_year": 2014,
            "declared_creation_year": 2023,
        },
    ),
    _event(
        8,
        "district.statistics",
        _DISTRICT,
        {
            "rotation_eligible": 1200,
            "rotated": 150,
            "rotated_backbone": 35,
            "teacher_avg_pay_yuan": 128000.0,
            "civil_servant_avg_pay_yuan": 125000.0,
            "nearby_enrolment_urban_pct": 100,
            "junior_retention_pct": 99.2,
            "monitoring_difference_rate": 0.12,
            "satisfaction_pct": 93.5,
        },
    ),
    _event(
        9,
        "district.inspection",
        _DISTRICT,
        {
            "item": "G1",
            "result": "pass",
            "note": "Layout plan 2021-2025 approved and followed.",
            "inspector": "city supervision office",
        },
    ),
    _event(10, "district.milestone", _DISTRICT, {"kind": "self_assessment", "on": "2024-12-20"}),
]

#: event_type -> a valid example event. Treat as read-only; use example_event() for a copy.
EXAMPLES: dict[str, dict[str, Any]] = {e["event_type"]: e for e in _LIST}


def example_event(event_type: str, /, **envelope_overrides: Any) -> dict[str, Any]:
    """A deep copy of the example for ``event_type``, with envelope fields replaced as given.

    ``example_event("school.staff", seq=7)``; pass ``payload=...`` to replace the payload.
    """
    event = copy.deepcopy(EXAMPLES[event_type])
    event.update(copy.deepcopy(envelope_overrides))
    return event
