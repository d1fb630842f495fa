"""Small builders of contract events for tests: readable cases instead of JSON blobs."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

_ids = itertools.count(1)
DISTRICT = "370202"


def event(
    event_type: str,
    payload: dict[str, Any],
    *,
    year: int = 2023,
    seq: int = 0,
    district: str = DISTRICT,
    school_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "event_id": event_id or str(uuid.UUID(int=next(_ids), version=4)),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": f"{year}-10-01T08:00:00+08:00",
        "source": "tests",
        "district_code": district,
        "year": year,
        "seq": seq,
        "payload": payload,
    }
    if school_id is not None:
        e["school_id"] = school_id
    return e


def registered(
    school_id: str,
    school_type: str = "primary",
    *,
    locale: str = "urban",
    year: int = 2023,
    opened_year: int | None = 1990,
    **kw: Any,
) -> dict[str, Any]:
    return event(
        "school.registered",
        {
            "name": f"School {school_id}",
            "school_type": school_type,
            "locale": locale,
            "ownership": "public",
            "boarding": False,
            "opened_year": opened_year,
            "closed_year": None,
        },
        year=year,
        school_id=school_id,
        **kw,
    )


def classes_of(students: int, classes: int) -> list[int]:
    base, extra = divmod(students, classes) if classes else (0, 0)
    return [base + (1 if i < extra else 0) for i in range(classes)]


def enrolment(school_id: str, sections: dict[str, tuple[int, int]], **kw: Any) -> dict[str, Any]:
    """sections: level → (students, classes), class sizes spread evenly."""
    return event(
        "school.enrolment",
        {
            "sections": {
                lv: {"students": s, "classes": c, "class_sizes": classes_of(s, c)} for lv, (s, c) in sections.items()
            }
        },
        school_id=school_id,
        **kw,
    )


def staff_section(
    full_time: int = 60,
    qualified: int = 30,
    backbone: int = 10,
    pe_arts: int = 8,
    certified: int | None = None,
    trained: int | None = None,
) -> dict[str, int]:
    return {
        "full_time_teachers": full_time,
        "qualified_teachers": qualified,
        "backbone_teachers": backbone,
        "pe_arts_teachers": pe_arts,
        "certified_teachers": full_time if certified is None else certified,
        "trained_360h_teachers": full_time if trained is None else trained,
    }


def staff(school_id: str, sections: dict[str, dict[str, int]], **kw: Any) -> dict[str, Any]:
    return event("school.staff", {"sections": sections}, school_id=school_id, **kw)


def facility(aux: float, sports: float, equipment: float, rooms: int) -> dict[str, float]:
    return {
        "teaching_aux_area_m2": aux,
        "sports_area_m2": sports,
        "equipment_value_yuan": equipment,
        "multimedia_rooms": rooms,
    }


def facilities(
    school_id: str,
    *,
    school: dict[str, float] | None = None,
    sections: dict[str, dict[str, float]] | None = None,
    music: int = 3,
    art: int = 3,
    **kw: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"music_room_areas_m2": [100.0] * music, "art_room_areas_m2": [95.0] * art}
    if school is not None:
        payload["school"] = school
    else:
        payload["sections"] = sections
    return event("school.facilities", payload, school_id=school_id, **kw)


def finance(
    school_id: str, budget: float = 1_000_000, training: float = 60_000, per_student: float = 1000, **kw: Any
) -> dict[str, Any]:
    return event(
        "school.finance",
        {
            "public_funds_budget_yuan": budget,
            "teacher_training_yuan": training,
            "public_funds_per_student_yuan": per_student,
        },
        school_id=school_id,
        **kw,
    )


def district_registered(basic_balance_year: int = 2015, declared: int = 2023, **kw: Any) -> dict[str, Any]:
    return event(
        "district.registered",
        {"name": "市南区", "basic_balance_year": basic_balance_year, "declared_creation_year": declared},
        **kw,
    )


GOOD_STATISTICS: dict[str, Any] = {
    "rotation_eligible": 1000,
    "rotated": 120,
    "rotated_backbone": 30,
    "teacher_avg_pay_yuan": 120_000,
    "civil_servant_avg_pay_yuan": 110_000,
    "special_ed_funds_per_student_yuan": 7000,
    "nearby_enrolment_urban_pct": 100,
    "nearby_enrolment_town_pct": 97,
    "quality_hs_quota_pct": 55,
    "migrant_public_pct": 90,
    "junior_retention_pct": 98,
    "disabled_enrolment_pct": 96,
    "monitoring_level_iii_share_pct": 100,
    "monitoring_difference_rate": 0.1,
    "satisfaction_pct": 92,
    "education_spend_yuan": 5e9,
    "education_spend_per_student_yuan": 30000,
    "training_institutions": 40,
    "after_school_coverage_pct": 100,
    "it_competition_rural_share_pct": 35,
    "quality_groups": 4,
}
INSPECTION_ITEMS = ("G1", "G2", "G10", "Q3", "Q5", "Q6", "Q7", "Q8")
VETO_ITEMS = ("exam_admission", "illegal_school_choice", "key_schools", "falsified_data", "major_incident")


def statistics(**fields: Any) -> dict[str, Any]:
    year = fields.pop("year", 2023)
    seq = fields.pop("seq", 0)
    return event("district.statistics", fields, year=year, seq=seq)


def inspection(item: str, result: str = "pass", **kw: Any) -> dict[str, Any]:
    return event("district.inspection", {"item": item, "result": result, "note": "", "inspector": "督学"}, **kw)


def milestone(kind: str, on: str, **kw: Any) -> dict[str, Any]:
    return event("district.milestone", {"kind": kind, "on": on}, **kw)


def good_primary_school(school_id: str, students: int = 900, year: int = 2023) -> list[dict[str, Any]]:
    """A primary school meeting every indicator comfortably (R1 ≥ 4.2 … R7 ≥ 2.3 per 100)."""
    return [
        registered(school_id, "primary", year=year),
        enrolment(school_id, {"primary": (students, students // 40 + 1)}, year=year),
        staff(
            school_id,
            {
                "primary": staff_section(
                    full_time=students // 10,
                    qualified=students * 5 // 100,
                    backbone=students * 12 // 1000,
                    pe_arts=students // 100,
                )
            },
            year=year,
        ),
        facilities(
            school_id,
            school=facility(5.0 * students, 8.0 * students, 2500.0 * students, students * 3 // 100),
            year=year,
        ),
        finance(school_id, year=year),
    ]


def good_district(year: int = 2023, schools: int = 4) -> list[dict[str, Any]]:
    """A district that attains: good schools, good statistics, passed inspections, no veto."""
    events = [district_registered(year=year)]
    for i in range(schools):
        events += good_primary_school(f"37020200{i:02d}", students=800 + 50 * i, year=year)
    events.append(statistics(year=year, **GOOD_STATISTICS))
    events += [inspection(item, "pass", year=year) for item in INSPECTION_ITEMS + VETO_ITEMS]
    return events


def district_with_an_empty_first_year(years: tuple[int, ...] = (2021, 2022, 2023)) -> list[dict[str, Any]]:
    """good_district over ``years``, except that the first year's enrolments report only a primary
    section with no students (no level is judged then) and school 3702020000 has a single
    unqualified teacher in the later years (its section fails): a trend with a year to skip."""
    events = []
    for year in years:
        for e in good_district(year):
            if year == years[0] and e["event_type"] == "school.enrolment":
                e["payload"]["sections"] = {"primary": {"students": 0, "classes": 0, "class_sizes": []}}
            if year > years[0] and e["event_type"] == "school.staff" and e["school_id"] == "3702020000":
                e["payload"]["sections"]["primary"] = staff_section(full_time=1, qualified=0, backbone=0, pe_arts=0)
            events.append(e)
    return events
