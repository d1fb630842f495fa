"""Impossible values that JSON Schema cannot express: cross-field rules within one event.

These run only after the event has passed its envelope and payload schemas, so every check may
rely on the shape (required keys present, counts are non-negative ints, and so on). Each check
returns ``None`` when the event is fine, or ``"<json path>: <what is wrong>"`` for the first
problem found; :mod:`ingestion.contract.validate` turns that into an ``impossible_value`` verdict.

Checks are registered per schema_version in :data:`CHECKS`. A new schema version must register its
own table (it may simply reuse version 1's), which the validator enforces at import: a version
whose impossible values nobody has thought about should not go live by accident.

Rules that need state (unknown district or school, a school's sections matching its type, seq
ordering, duplicates) do not belong here; they live with the district state in ``rules/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from rules.facts import STAFF_COUNT_FIELDS

__all__ = ["Check", "CHECKS", "scan_values"]

Check = Callable[[dict[str, Any]], "str | None"]

_STAFF_COUNTS = STAFF_COUNT_FIELDS


def _no_check(_event: dict[str, Any]) -> str | None:
    return None


def _school_registered(event: dict[str, Any]) -> str | None:
    p = event["payload"]
    opened, closed = p["opened_year"], p["closed_year"]
    if opened is not None and closed is not None and closed < opened:
        return f"payload.closed_year: {closed} is before opened_year {opened}"
    return None


def _school_enrolment(event: dict[str, Any]) -> str | None:
    # class_sizes is the only source for G5 (class size limits) and C2 (large classes); if it does
    # not add up to the headcount, one of the two numbers is wrong and neither can be trusted.
    for name, s in event["payload"]["sections"].items():
        sizes = s["class_sizes"]
        if len(sizes) != s["classes"]:
            where = f"payload.sections.{name}.class_sizes"
            return f"{where}: {len(sizes)} entries but classes is {s['classes']}"
        total = sum(sizes)
        if total != s["students"]:
            where = f"payload.sections.{name}.class_sizes"
            return f"{where}: sum {total} differs from students {s['students']}"
    return None


def _school_staff(event: dict[str, Any]) -> str | None:
    # Every other count is a subset of the full-time teachers; a larger subset is a data error,
    # and would otherwise inflate R1-R3 silently.
    for name, t in event["payload"]["sections"].items():
        full = t["full_time_teachers"]
        for field in _STAFF_COUNTS:
            if t[field] > full:
                return f"payload.sections.{name}.{field}: {t[field]} exceeds full_time_teachers {full}"
    return None


def _school_finance(event: dict[str, Any]) -> str | None:
    p = event["payload"]
    if p["teacher_training_yuan"] > p["public_funds_budget_yuan"]:
        return (
            f"payload.teacher_training_yuan: {p['teacher_training_yuan']} exceeds "
            f"public_funds_budget_yuan {p['public_funds_budget_yuan']}"
        )
    return None


def _district_statistics(event: dict[str, Any]) -> str | None:
    # Fields are optional (absent = unknown): compare only when both sides are reported.
    p = event["payload"]
    eligible, rotated, backbone = (
        p.get("rotation_eligible"),
        p.get("rotated"),
        p.get("rotated_backbone"),
    )
    if eligible is not None and rotated is not None and rotated > eligible:
        return f"payload.rotated: {rotated} exceeds rotation_eligible {eligible}"
    if rotated is not None and backbone is not None and backbone > rotated:
        return f"payload.rotated_backbone: {backbone} exceeds rotated {rotated}"
    return None


_V1: Mapping[str, Check] = MappingProxyType(
    {
        "school.registered": _school_registered,
        "school.enrolment": _school_enrolment,
        "school.staff": _school_staff,
        "school.facilities": _no_check,
        "school.finance": _school_finance,
        "school.project": _no_check,
        "district.registered": _no_check,
        "district.statistics": _district_statistics,
        "district.inspection": _no_check,
        "district.milestone": _no_check,
    }
)


def _school_enrolment_v2(event: dict[str, Any]) -> str | None:
    # Version 2 derives students and classes from the class sizes, so they cannot disagree; what
    # is left is a grade listed twice, which JSON Schema cannot say (uniqueItems compares whole
    # items) and which would silently add one grade's classes to another's.
    seen: set[int] = set()
    for i, entry in enumerate(event["payload"]["grades"]):
        grade = entry["grade"]
        if grade in seen:
            return f"payload.grades[{i}].grade: grade {grade} is listed more than once"
        seen.add(grade)
    return None


# Version 2 changed only the envelope's subject and school.enrolment's payload; the other payloads,
# and so their checks and JSON paths, are version 1's.
_V2: Mapping[str, Check] = MappingProxyType({**_V1, "school.enrolment": _school_enrolment_v2})

#: schema_version -> event_type -> check. Every event type of a version must have an entry.
CHECKS: Mapping[int, Mapping[str, Check]] = MappingProxyType({1: _V1, 2: _V2})


def scan_values(value: Any, path: str) -> str | None:
    """Find a value no schema keyword rejects but the platform cannot store.

    - Non-finite floats: ``1e999`` is valid JSON that Python parses to ``inf``, and ``minimum: 0``
      lets ``inf`` (and, from hand-built dicts, ``nan``) through.
    - Strings with lone surrogates: ``"\\ud800"`` is valid JSON syntax but not Unicode; it would
      pass validation and then fail when the event is written out as UTF-8 (Parquet, Kafka).

    Walks dicts, lists and tuples; returns ``"<path>: <problem>"`` for the first offender or
    ``None``. The path is only built on failure, because this runs on every valid event. Only called
    on schema-valid data, so the depth is bounded by the schema.
    """
    trail = _scan(value)
    if trail is None:
        return None
    message = trail[0]
    return path + "".join(reversed(trail[1:])) + ": " + message


_LEAF_OK = (int, bool, type(None))


def _scan(value: Any) -> list[str] | None:
    """Return ``[message, innermost segment, ..., outermost segment]`` or None when all is fine."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            return [f"{value} is not a finite number"]
    elif kind is str:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return ["string is not valid Unicode (lone surrogate)"]
    elif kind is dict:
        for k, v in value.items():
            if type(v) in _LEAF_OK:
                continue
            trail = _scan(v)
            if trail is not None:
                trail.append(f".{k}")
                return trail
    elif kind is list or kind is tuple:
        for i, v in enumerate(value):
            if type(v) in _LEAF_OK:
                continue
            trail = _scan(v)
            if trail is not None:
                trail.append(f"[{i}]")
                return trail
    return None
