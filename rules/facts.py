"""Fact identity: which events are versions of the same fact.

For the same (event_type, school or district, year) a higher seq supersedes a lower one.
Inspections, milestones and projects are several facts per district or school and year, so
their item or kind is part of the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FactKey = tuple[str, str, int, str]

# The payload fields the rules read, named once for the whole platform (the contract's schemas
# hold the same lists; tests/ingestion/contract checks they agree). A staff section's counts other than
# full_time_teachers can never exceed it.
STAFF_FIELDS = (
    "full_time_teachers",
    "qualified_teachers",
    "backbone_teachers",
    "pe_arts_teachers",
    "certified_teachers",
    "trained_360h_teachers",
)
STAFF_COUNT_FIELDS = STAFF_FIELDS[1:]
FACILITY_FIELDS = ("teaching_aux_area_m2", "sports_area_m2", "equipment_value_yuan", "multimedia_rooms")

_SUBKEY_FIELD = {"district.inspection": "item", "district.milestone": "kind", "school.project": "kind"}


def fact_key(event: Mapping[str, Any]) -> FactKey:
    etype = event["event_type"]
    entity = event.get("school_id") if etype.startswith("school.") else event["district_code"]
    sub = _SUBKEY_FIELD.get(etype)
    return (etype, str(entity), int(event["year"]), str(event["payload"][sub]) if sub else "")


def key_str(key: FactKey) -> str:
    return "|".join(str(k) for k in key)


def fact_key_str(event: Mapping[str, Any]) -> str:
    """fact_key() joined into one string: the hot path's dictionary key."""
    etype = event["event_type"]
    sub = _SUBKEY_FIELD.get(etype)
    entity = event.get("school_id") if etype[0] == "s" else event["district_code"]
    return f"{etype}|{entity}|{event['year']}|{event['payload'][sub] if sub else ''}"
