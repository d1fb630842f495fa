"""The same facts under schema_version 2: a downcaster for tests and the generator.

The platform never downcasts: it reads version 1 and version 2 and upcasts version 2
(:mod:`ingestion.contract.upcast`). To prove that, tests need version 2 events that state exactly
the facts of known version 1 events; :func:`to_v2` writes them, and
``upcast_v2(to_v2(e)) == e`` for every valid version 1 event ``e`` (tests/ingestion/contract/test_contract_v2.py).

``school.enrolment`` is the one payload that changes shape: version 1 has per-section class sizes,
version 2 per-grade ones. Version 1 does not say which class is in which grade, so :func:`to_v2`
deals a section's classes out over the section's grades (6-3 system) in order, as evenly as
possible; any split that keeps the order rolls back up to the same section, which is all the rules
read. A section with no class is written as its first grade with no class, so it stays present.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from typing import Any

from ingestion.synthetic.events import encode

__all__ = ["to_v2", "to_v2_line", "mix_versions", "SECTION_GRADES"]

#: Grades of each section in the 6-3 system, which is what to_v2 writes (school_system omitted).
SECTION_GRADES: Mapping[str, tuple[int, ...]] = {
    "primary": (1, 2, 3, 4, 5, 6),
    "junior": (7, 8, 9),
    "senior": (10, 11, 12),
}


def _grades(sections: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in ("primary", "junior", "senior"):
        section = sections.get(name)
        if section is None:
            continue
        sizes = list(section["class_sizes"])
        grades = SECTION_GRADES[name]
        if not sizes:
            out.append({"grade": grades[0], "class_sizes": []})
            continue
        per, extra = divmod(len(sizes), len(grades))
        start = 0
        for i, grade in enumerate(grades):
            n = per + (1 if i < extra else 0)
            if n:
                out.append({"grade": grade, "class_sizes": sizes[start : start + n]})
                start += n
    return out


def to_v2(event: Mapping[str, Any]) -> dict[str, Any]:
    """A valid version 1 event written as version 2 (a new dict; same event_id, same facts)."""
    subject: dict[str, Any] = {"district_code": event["district_code"]}
    if "school_id" in event:
        subject["school_id"] = event["school_id"]
    payload = event["payload"]
    if event["event_type"] == "school.enrolment":
        payload = {"grades": _grades(payload["sections"])}
    return {
        "event_id": event["event_id"],
        "event_type": event["event_type"],
        "schema_version": 2,
        "occurred_at": event["occurred_at"],
        "source": event["source"],
        "subject": subject,
        "year": event["year"],
        "seq": event["seq"],
        "payload": payload,
    }


def to_v2_line(line: bytes) -> bytes:
    """One JSONL line (a valid version 1 event) as a version 2 line, serialised like the generator."""
    return encode(to_v2(json.loads(line)))


def mix_versions(lines: Iterable[bytes], fraction: float = 0.5, seed: int = 0) -> tuple[list[bytes], list[int]]:
    """The lines with a random ``fraction`` of the valid version 1 events rewritten as version 2.

    Lines that do not pass the version 1 contract (the generator's bad lines) are left byte for
    byte, so they are dead-lettered for the same reason as before. Returns the new lines and the
    indices that were rewritten. Deterministic for a seed.
    """
    from ingestion.contract import check_event

    rng = random.Random(seed)
    out: list[bytes] = []
    converted: list[int] = []
    for i, line in enumerate(lines):
        if rng.random() < fraction:
            verdict = check_event(line)
            if verdict.ok and verdict.event is not None and verdict.event["schema_version"] == 1:
                out.append(to_v2_line(line))
                converted.append(i)
                continue
        out.append(line)
    return out, converted
