"""Plain-dict events for the GX tests, shaped as in docs/events.md (schema_version 1)."""

from __future__ import annotations

import copy
import itertools
import random
import uuid
from typing import Any

_ids = itertools.count(1)

SCHOOL = {"district_code": "370202", "school_id": "3702020001"}
DISTRICT = {"district_code": "370212"}


def event(event_type: str, payload: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    subject = DISTRICT if event_type.startswith("district.") else SCHOOL
    e: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=next(_ids), version=4)),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": "2024-09-15T08:30:00+08:00",
        "source": "tests",
        **subject,
        "year": 2024,
        "seq": 1,
        "payload": payload,
    }
    e.update(envelope)
    return e


def sizes(students: int, classes: int) -> list[int]:
    base, extra = divmod(students, classes) if classes else (0, 0)
    return [base + (1 if i < extra else 0) for i in range(classes)]


def enrolment(**sections: tuple[int, int]) -> dict[str, Any]:
    """enrolment(primary=(135, 3), junior=(98, 2)): (students, classes) per section."""
    sections = sections or {"primary": (135, 3), "junior": (98, 2)}
    return event(
        "school.enrolment",
        {
            "sections": {
                name: {"students": s, "classes": c, "class_sizes": sizes(s, c)} for name, (s, c) in sections.items()
            }
        },
    )


def staff_section(full_time: int = 12, **counts: int) -> dict[str, int]:
    section = {
        "full_time_teachers": full_time,
        "qualified_teachers": min(10, full_time),
        "backbone_teachers": min(2, full_time),
        "pe_arts_teachers": min(2, full_time),
        "certified_teachers": full_time,
        "trained_360h_teachers": min(11, full_time),
    }
    section.update(counts)
    return section


def staff(**sections: dict[str, int]) -> dict[str, Any]:
    return event("school.staff", {"sections": sections or {"primary": staff_section()}})


def facilities_values(**over: Any) -> dict[str, Any]:
    f = {
        "teaching_aux_area_m2": 1250.0,
        "sports_area_m2": 2100.5,
        "equipment_value_yuan": 520000.0,
        "multimedia_rooms": 6,
    }
    f.update(over)
    return f


def facilities(
    *, school: dict[str, Any] | None = None, sections: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"music_room_areas_m2": [96.0], "art_room_areas_m2": [90.5]}
    if sections is not None:
        payload["sections"] = sections
    else:
        payload["school"] = school if school is not None else facilities_values()
    return event("school.facilities", payload)


def finance(**over: Any) -> dict[str, Any]:
    p = {
        "public_funds_budget_yuan": 1800000.0,
        "teacher_training_yuan": 95000.0,
        "public_funds_per_student_yuan": 7725.3,
    }
    p.update(over)
    return event("school.finance", p)


def statistics(**over: Any) -> dict[str, Any]:
    p = {
        "rotation_eligible": 1200,
        "rotated": 150,
        "rotated_backbone": 35,
        "teacher_avg_pay_yuan": 128000.0,
        "civil_servant_avg_pay_yuan": 125000.0,
        "nearby_enrolment_urban_pct": 100,
        "junior_retention_pct": 99.2,
        "monitoring_difference_rate": 0.12,
        "satisfaction_pct": 93.5,
    }
    p.update(over)
    return event("district.statistics", {k: v for k, v in p.items() if v is not None})


def registered() -> dict[str, Any]:
    return event(
        "school.registered",
        {
            "name": "Qingdao Example Nine-Year School",
            "school_type": "nine_year",
            "locale": "urban",
            "ownership": "public",
            "boarding": False,
            "opened_year": 1998,
            "closed_year": None,
        },
    )


def project() -> dict[str, Any]:
    return event("school.project", {"kind": "expanded", "completed_on": "2024-08-30"})


def inspection() -> dict[str, Any]:
    return event("district.inspection", {"item": "G1", "result": "pass", "note": "ok", "inspector": "city"})


def _section(rng: random.Random, lo: int, hi: int) -> tuple[int, int]:
    students = rng.randint(lo, hi)
    return students, max(1, -(-students // rng.randint(30, 55)))


def mixed_batch(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """n valid events of every type, in a realistic mix (mostly school facts)."""
    rng = random.Random(seed)
    makers = [
        (lambda: enrolment(primary=_section(rng, 100, 2500), junior=_section(rng, 50, 1500))),
        (lambda: staff(primary=staff_section(rng.randint(20, 150)), junior=staff_section(rng.randint(15, 120)))),
        (
            lambda: facilities(
                school=facilities_values(
                    teaching_aux_area_m2=rng.uniform(500, 40000), multimedia_rooms=rng.randint(0, 80)
                )
            )
        ),
        (lambda: facilities(sections={"primary": facilities_values(), "junior": facilities_values()})),
        (lambda: finance(public_funds_per_student_yuan=rng.uniform(3000, 30000))),
        (lambda: statistics(satisfaction_pct=rng.uniform(60, 100))),
        registered,
        project,
        inspection,
    ]
    weights = [4, 4, 2, 1, 3, 1, 1, 1, 1]
    return [copy.deepcopy(rng.choices(makers, weights)[0]()) for _ in range(n)]
