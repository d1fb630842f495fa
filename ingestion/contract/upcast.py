"""Upcasters: a checked event of an older or newer contract version, in the shape the engine reads.

The platform reads every version listed in ``SUPPORTED_SCHEMA_VERSIONS`` but the rules engine,
the Great Expectations suites, the facts table and the landing all read **one** shape: version 1's.
So an event that passed its own version's schemas and sanity checks is upcast once, in the
contract check, and everything downstream stays version-agnostic. Keeping the engine on a single
shape is the point: a new contract version costs a schema directory and one pure function here,
not a change to every reader.

Version 2 differs from version 1 in two places (docs/events.md, "Schema version 2"):

- the envelope carries the subject as one object, ``subject: {district_code, school_id}``, instead
  of the top-level ``district_code`` and ``school_id``;
- ``school.enrolment`` lists classes **per grade** (``grades: [{grade, class_sizes}]``, with an
  optional ``school_system`` of ``"6-3"`` or ``"5-4"``) instead of per section with
  ``students``/``classes``/``class_sizes``. The upcaster rolls grades up to sections and derives
  ``students`` (the sum) and ``classes`` (the count), which is everything the rules read.

:func:`upcast_v2` returns a valid version 1 event (``schema_version`` 1); the contract check then
puts the version the producer used back into ``schema_version``, so the landing keeps it for
lineage while the shape stays version 1's. Upcasters never validate: they run only on events that
already passed their own version's checks, which is why they may index without guarding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["UPCASTERS", "upcast_v2", "section_of_grade", "FIRST_JUNIOR_GRADE"]

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: school_system -> the first grade that is junior secondary (grades 10-12 are senior in both).
FIRST_JUNIOR_GRADE: Mapping[str, int] = {"6-3": 7, "5-4": 6}
_DEFAULT_SYSTEM = "6-3"
_SECTION_ORDER = ("primary", "junior", "senior")


def section_of_grade(grade: int, school_system: str = _DEFAULT_SYSTEM) -> str:
    """The section a grade belongs to: primary, junior or senior."""
    if grade >= 10:
        return "senior"
    return "junior" if grade >= FIRST_JUNIOR_GRADE[school_system] else "primary"


def _enrolment_sections(payload: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """v2 ``grades`` rolled up to v1 ``sections``.

    Grades are taken in ascending order, so each section's ``class_sizes`` is its grades' class
    sizes in grade order. A section exists when at least one of its grades is listed, even with no
    class (v1's ``{"students": 0, "classes": 0, "class_sizes": []}``), and only then, so "this school
    reports no junior section" survives the conversion.
    """
    first_junior = FIRST_JUNIOR_GRADE[payload.get("school_system", _DEFAULT_SYSTEM)]
    sizes: dict[str, list[int]] = {}
    for entry in sorted(payload["grades"], key=lambda g: g["grade"]):
        grade = entry["grade"]
        name = "senior" if grade >= 10 else "junior" if grade >= first_junior else "primary"
        sizes.setdefault(name, []).extend(entry["class_sizes"])
    return {
        name: {"students": sum(sizes[name]), "classes": len(sizes[name]), "class_sizes": sizes[name]}
        for name in _SECTION_ORDER
        if name in sizes
    }


def upcast_v2(event: Mapping[str, Any]) -> dict[str, Any]:
    """A checked version 2 event as a version 1 event (a new dict; the input is not modified).

    Envelope: ``subject.district_code`` and ``subject.school_id`` become the top-level fields
    (``school_id`` only when the subject has one, absent or null exactly as sent). Payload:
    ``school.enrolment`` is rolled up to sections; every other type's payload is the same in both
    versions and is shared, not copied (the check never modifies an event).
    """
    subject = event["subject"]
    out: dict[str, Any] = {
        "event_id": event["event_id"],
        "event_type": event["event_type"],
        "schema_version": 1,
        "occurred_at": event["occurred_at"],
        "source": event["source"],
        "district_code": subject["district_code"],
    }
    if "school_id" in subject:
        out["school_id"] = subject["school_id"]
    out["year"] = event["year"]
    out["seq"] = event["seq"]
    payload = event["payload"]
    if event["event_type"] == "school.enrolment":
        payload = {"sections": _enrolment_sections(payload)}
    out["payload"] = payload
    return out


#: schema_version -> the function turning a checked event of that version into version 1's shape.
#: Version 1 has none (it is the shape). A version without an entry fails at import of the
#: validator, like a version without sanity checks.
UPCASTERS: Mapping[int, Upcaster] = {2: upcast_v2}
