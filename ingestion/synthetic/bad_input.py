"""Bad input lines, each labelled with the reason the platform should dead-letter it for.

A bad line is made from a real event that was just emitted (so it looks like what a broken source
would really send: the same school, the same year) and then broken in exactly one way. Every bad
line carries a fresh event id, so it can never be mistaken for a duplicate of a good event. No bad
line contains a newline byte, so a JSONL file keeps one line per event.

Reasons (the labels the manifest counts):

* ``not_json`` — truncated, a CSV row, a Python repr, a trailing comma, or binary garbage.
* ``schema`` — valid JSON that breaks the contract: not an object, a missing or mistyped envelope
  field, an unknown event type, a malformed id or code, a payload without a required field, a
  value outside an enum, facilities with both ``school`` and ``sections``.
* ``impossible_value`` — well-formed but impossible: negative students, class sizes that do not add
  up, more qualified teachers than teachers, a negative area, training spend above the budget, a
  percentage above 100. (A JSON Schema with ``minimum`` bounds may already catch some of these; the
  label records the generator's intent.)
* ``unknown_school`` — a school event whose school_id was never registered (prefix ``8999``).
* ``unknown_district`` — a district event whose district_code is not a district (prefix ``88``).
* ``oversized`` — an otherwise valid event padded with whitespace beyond 64 KiB.
"""

from __future__ import annotations

import random
from typing import Any

from .events import clone, encode, new_event_id

REASONS: tuple[str, ...] = (
    "not_json",
    "schema",
    "impossible_value",
    "unknown_school",
    "unknown_district",
    "oversized",
)
_WEIGHTS: tuple[float, ...] = (0.22, 0.25, 0.2, 0.13, 0.12, 0.08)
#: Lines above this many bytes are refused (64 KiB).
MAX_LINE_BYTES: int = 64 * 1024
UNKNOWN_SCHOOL_PREFIX: str = "8999"
UNKNOWN_DISTRICT_PREFIX: str = "88"


class BadInputMaker:
    """Turns a good event into a labelled bad line."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def make(self, template: dict[str, Any]) -> tuple[str, str, bytes]:
        """(reason, detail, raw line) for a line broken from ``template``."""
        reason = self.rng.choices(REASONS, _WEIGHTS)[0]
        event = clone(template)
        event["event_id"] = new_event_id(self.rng)
        detail, line = getattr(self, f"_{reason}")(event)
        assert b"\n" not in line and b"\r" not in line
        return reason, detail, line

    def _pick(self, n: int) -> int:
        return int(self.rng.random() * n)

    # -- not JSON ---------------------------------------------------------------------------
    def _not_json(self, event: dict[str, Any]) -> tuple[str, bytes]:
        raw = encode(event)
        k = self._pick(5)
        if k == 0:
            return "truncated", raw[: 10 + self._pick(max(1, len(raw) - 20))]
        if k == 1:
            ident = event.get("school_id", event["district_code"])
            return "csv row", f"{ident},{event['year']},{event['event_type']},1234".encode()
        if k == 2:
            return "python repr", repr(event).encode("utf-8")
        if k == 3:
            return "trailing comma", raw[:-1] + b",}"
        junk = bytes(b for b in self.rng.randbytes(40) if b not in (10, 13))
        return "binary garbage", b"\xff\xfe\x00" + junk

    # -- schema -----------------------------------------------------------------------------
    def _schema(self, event: dict[str, Any]) -> tuple[str, bytes]:
        k = self._pick(10)
        et = event["event_type"]
        p = event["payload"]
        if k == 0:
            field = ("event_id", "event_type", "occurred_at", "year", "payload", "district_code")[self._pick(6)]
            del event[field]
            return f"missing {field}", encode(event)
        if k == 1:
            event["year"] = str(event["year"])
            return "year is a string", encode(event)
        if k == 2:
            event["event_type"] = "school.teleported"
            return "unknown event_type", encode(event)
        if k == 3:
            event["event_id"] = f"evt-{self._pick(10**6):06d}"
            return "event_id is not a UUID", encode(event)
        if k == 4:
            event["occurred_at"] = "yesterday afternoon"
            return "occurred_at is not RFC 3339", encode(event)
        if k == 5:
            event["district_code"] = event["district_code"][:5]
            return "district_code has 5 digits", encode(event)
        if k == 6:
            return "not an object", encode([event])
        if k == 7 and "school_id" in event:
            del event["school_id"]
            return "school event without school_id", encode(event)
        if k == 8:
            event["seq"] = -1
            return "negative seq", encode(event)
        # payload-specific breaks
        if et == "school.enrolment":
            sec = next(iter(p["sections"].values()))
            del sec["class_sizes"]
            return "section without class_sizes", encode(event)
        if et == "school.staff":
            del next(iter(p["sections"].values()))["full_time_teachers"]
            return "section without full_time_teachers", encode(event)
        if et == "school.facilities":
            if "school" in p:
                p["sections"] = {"primary": p["school"]}
            else:
                p["school"] = next(iter(p["sections"].values()))
            return "both school and sections", encode(event)
        if et == "school.finance":
            del p["public_funds_budget_yuan"]
            return "finance without budget", encode(event)
        if et == "school.registered":
            p["school_type"] = "university"
            return "school_type outside enum", encode(event)
        if et == "school.project":
            p["kind"] = "demolished"
            return "project kind outside enum", encode(event)
        if et == "district.statistics":
            p["satisfaction_pct"] = "high"
            return "satisfaction_pct is a string", encode(event)
        if et == "district.inspection":
            p["result"] = "maybe"
            return "inspection result outside enum", encode(event)
        if et == "district.milestone":
            p["kind"] = "celebration"
            return "milestone kind outside enum", encode(event)
        if et == "district.registered":
            p["declared_creation_year"] = "soon"
            return "declared_creation_year is a string", encode(event)
        raise AssertionError(et)

    # -- impossible values ------------------------------------------------------------------
    def _impossible_value(self, event: dict[str, Any]) -> tuple[str, bytes]:
        et = event["event_type"]
        p = event["payload"]
        if et == "school.staff":
            sec = next(iter(p["sections"].values()))
            sec["qualified_teachers"] = sec["full_time_teachers"] + 1 + self._pick(5)
            return "qualified_teachers above full_time_teachers", encode(event)
        if et == "school.facilities":
            block = p["school"] if "school" in p else next(iter(p["sections"].values()))
            block["sports_area_m2"] = -abs(block["sports_area_m2"]) - 1.0
            return "negative sports_area_m2", encode(event)
        if et == "school.finance":
            p["teacher_training_yuan"] = p["public_funds_budget_yuan"] + 1 + self._pick(10_000)
            return "training spend above budget", encode(event)
        if et == "school.enrolment" and self._pick(2) == 0:
            sec = next(iter(p["sections"].values()))
            sec["students"] += 7
            return "class_sizes do not add up to students", encode(event)
        if et.startswith("school."):
            # any other school event: a negative enrolment for the same school
            event["event_type"] = "school.enrolment"
            event["payload"] = {
                "sections": {"primary": {"students": -120, "classes": 3, "class_sizes": [-40, -40, -40]}}
            }
            return "negative students", encode(event)
        event["event_type"] = "district.statistics"
        field = ("satisfaction_pct", "junior_retention_pct", "migrant_public_pct")[self._pick(3)]
        event["payload"] = {field: round(100.5 + 20 * self.rng.random(), 1)}
        return f"{field} above 100", encode(event)

    # -- unknown ids --------------------------------------------------------------------------
    def _unknown_school(self, event: dict[str, Any]) -> tuple[str, bytes]:
        unknown = f"{UNKNOWN_SCHOOL_PREFIX}{self._pick(10**6):06d}"
        if "school_id" not in event or event["event_type"] == "school.registered":
            # a registration would register the unknown school: send a fact about it instead
            event.pop("school_id", None)
            event["event_type"] = "school.finance"
            event["payload"] = {
                "public_funds_budget_yuan": 480_000,
                "teacher_training_yuan": 30_000,
                "public_funds_per_student_yuan": 1_000.0,
            }
            event["seq"] = 0
            # the envelope order must stay canonical: rebuild with school_id before year
            event = {
                k: event[k]
                for k in ("event_id", "event_type", "schema_version", "occurred_at", "source", "district_code")
            } | {"school_id": unknown, "year": event["year"], "seq": 0, "payload": event["payload"]}
        else:
            event["school_id"] = unknown
        return "school_id never registered", encode(event)

    def _unknown_district(self, event: dict[str, Any]) -> tuple[str, bytes]:
        code = f"{UNKNOWN_DISTRICT_PREFIX}{self._pick(10**4):04d}"
        if "school_id" in event:
            del event["school_id"]
            event["event_type"] = "district.inspection"
            event["payload"] = {
                "item": "G1",
                "result": "pass",
                "note": "学校布局规划合理",
                "inspector": "教育督导室 督学张伟",
            }
        event["district_code"] = code
        return "district_code not a district", encode(event)

    # -- oversized ---------------------------------------------------------------------------
    def _oversized(self, event: dict[str, Any]) -> tuple[str, bytes]:
        raw = encode(event)
        pad = MAX_LINE_BYTES + 1 + self._pick(4096) - len(raw)
        return "padded beyond 64 KiB", raw[:1] + b" " * max(1, pad) + raw[1:]
