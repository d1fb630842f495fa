"""Turn a micro-batch of events into one table of rows per suite.

Each suite in ``expectations/suites/<name>.json`` has a *flattener* here with the same name. A
flattener declares the columns it produces (so a suite that names a column nobody fills fails at
construction, not on the first batch) and turns one event into zero or more rows. Every row carries
``POS``, the event's position in the batch, which is how GX's row-level results are mapped back to
events.

Robustness rules (the per-event contract check has already run, but this layer must never crash on
a batch because one payload is odd):

- a missing field, or a payload / section that is not an object, is null: null passes every
  column-value expectation (absent = unknown, never zero);
- a value that is present but not a number where a number belongs (a string, a bool) cannot be
  compared by GX, so it is stored as null and reported separately as
  ``gx:<suite>:not_a_number:<column>`` (see :class:`Row`);
- a non-string where a string belongs (district_code, a section name) is stringified, so the
  regex / set expectation judges it.

Long tables. GX's cost grows with the number of expectations (about 10-40 ms each here), not with
rows, so fields that share one rule are *melted*: district percentages become one row per reported
percentage (``_field`` = its name, ``pct`` = its value) checked by a single expectation, and a staff
section becomes one row per subset count (``_field``, ``count``) beside its ``full_time_teachers``.
An expectation whose meta says ``"reason_column": "_field"`` names the row's field in its reason, so
the reason still reads ``gx:district.statistics:expect_column_values_to_be_between:satisfaction_pct``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rules.facts import FACILITY_FIELDS, STAFF_COUNT_FIELDS

__all__ = ["FIELD", "POS", "Flattener", "FLATTENERS", "Row"]

#: Name of the column holding the event's position in the batch (the GX unexpected_index column).
POS = "_pos"
#: In a *long* table (one row per field, see below), the name of the payload field of the row.
FIELD = "_field"

_STAFF_COUNTS = STAFF_COUNT_FIELDS
_FACILITIES = FACILITY_FIELDS
#: district.statistics numbers kept as columns of the one wide row per event.
_DISTRICT_WIDE = (
    "rotation_eligible",
    "rotated",
    "rotated_backbone",
    "training_institutions",
    "quality_groups",
    "teacher_avg_pay_yuan",
    "civil_servant_avg_pay_yuan",
    "special_ed_funds_per_student_yuan",
    "education_spend_yuan",
    "education_spend_per_student_yuan",
    "monitoring_difference_rate",
)
#: district.statistics percentages (0..100), melted into one row each.
_DISTRICT_PCT = (
    "nearby_enrolment_urban_pct",
    "nearby_enrolment_town_pct",
    "quality_hs_quota_pct",
    "migrant_public_pct",
    "junior_retention_pct",
    "disabled_enrolment_pct",
    "monitoring_level_iii_share_pct",
    "satisfaction_pct",
    "after_school_coverage_pct",
    "it_competition_rural_share_pct",
)


@dataclass
class Row:
    """One row of a suite's table, plus the columns whose value was present but not a number."""

    values: dict[str, Any]
    not_numbers: list[str] = field(default_factory=list)

    def num(self, column: str, value: Any) -> None:
        """Store a numeric column: int/float as float, missing as None, anything else flagged."""
        if value is None:
            self.values[column] = None
        elif type(value) is bool or not isinstance(value, (int, float)):
            self.values[column] = None
            self.not_numbers.append(column)
        else:
            try:
                number = float(value)
            except OverflowError:  # an int too large for a float is far above any maximum
                number = math.inf if value > 0 else -math.inf
            self.values[column] = None if math.isnan(number) else number

    def text(self, column: str, value: Any) -> None:
        self.values[column] = None if value is None else str(value)


@dataclass(frozen=True)
class Flattener:
    """How one suite sees an event: which events, which columns, and the rows of one event."""

    name: str
    applies_to: frozenset[str] | None  # event types, or None for every event
    numeric: tuple[str, ...]
    text: tuple[str, ...]
    rows: Callable[[dict[str, Any], int], Iterable[Row]]
    long: bool = False  # rows carry FIELD (see the module docstring)

    @property
    def index(self) -> tuple[str, ...]:
        """Columns GX reports for each failing row (``unexpected_index_column_names``)."""
        return (POS, FIELD) if self.long else (POS,)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.index, *self.text, *self.numeric)

    def applies(self, event_type: Any) -> bool:
        if self.applies_to is None:
            return True
        return isinstance(event_type, str) and event_type in self.applies_to


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _payload(event: dict[str, Any]) -> dict[str, Any]:
    return _obj(event.get("payload"))


def _sections(payload: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    return [(name, _obj(body)) for name, body in _obj(payload.get("sections")).items()]


def _envelope_rows(event: dict[str, Any], pos: int) -> Iterable[Row]:
    row = Row({POS: pos})
    row.text("district_code", event.get("district_code"))
    row.num("year", event.get("year"))
    yield row


def _enrolment_rows(event: dict[str, Any], pos: int) -> Iterable[Row]:
    for name, s in _sections(_payload(event)):
        row = Row({POS: pos})
        row.text("section", name)
        row.num("students", s.get("students"))
        row.num("classes", s.get("classes"))
        students, classes = row.values["students"], row.values["classes"]
        # Average class size is only defined with at least one class; 0 classes is the contract's
        # business (class_sizes must match), not a plausibility question.
        avg = students / classes if students is not None and classes else None
        row.values["avg_class_size"] = avg
        yield row


def _staff_rows(event: dict[str, Any], pos: int) -> Iterable[Row]:
    # Long: one row per (section, subset count), each beside the section's full_time_teachers. A
    # section that reports none of the counts still gets one row (FIELD null) for its own checks.
    for name, s in _sections(_payload(event)):
        fields: list[str | None] = [c for c in _STAFF_COUNTS if s.get(c) is not None] or [None]
        for field_name in fields:
            row = Row({POS: pos, FIELD: field_name})
            row.text("section", name)
            row.num("full_time_teachers", s.get("full_time_teachers"))
            row.num("count", None if field_name is None else s.get(field_name))
            if row.not_numbers and field_name is not None:
                row.not_numbers = [field_name if c == "count" else c for c in row.not_numbers]
            yield row


def _facilities_rows(event: dict[str, Any], pos: int) -> Iterable[Row]:
    # One row for the whole school (scope "school") or one per section (scope = section name); the
    # schema allows exactly one of the two, but both are flattened if both are there.
    p = _payload(event)
    scopes: list[tuple[Any, dict[str, Any]]] = []
    if "school" in p:
        scopes.append(("school", _obj(p.get("school"))))
    scopes.extend(_sections(p))
    for scope, f in scopes:
        row = Row({POS: pos})
        row.text("scope", scope)
        for column in _FACILITIES:
            row.num(column, f.get(column))
        yield row


def _finance_rows(event: dict[str, Any], pos: int) -> Iterable[Row]:
    p = _payload(event)
    row = Row({POS: pos})
    for column in ("public_funds_budget_yuan", "teacher_training_yuan", "public_funds_per_student_yuan"):
        row.num(column, p.get(column))
    yield row


def _district_statistics_rows(event: dict[str, Any], pos: int) -> Iterable[Row]:
    # One wide row for the other numbers, then one long row per reported percentage.
    p = _payload(event)
    row = Row({POS: pos, FIELD: None})
    for column in _DISTRICT_WIDE:
        row.num(column, p.get(column))
    yield row
    for field_name in _DISTRICT_PCT:
        value = p.get(field_name)
        if value is None:
            continue
        pct = Row({POS: pos, FIELD: field_name})
        pct.num("pct", value)
        pct.not_numbers = [field_name for _ in pct.not_numbers]
        yield pct


def _make(*flatteners: Flattener) -> Mapping[str, Flattener]:
    return MappingProxyType({f.name: f for f in flatteners})


#: suite name -> flattener. Every suite JSON must have one, and every flattener a suite.
FLATTENERS: Mapping[str, Flattener] = _make(
    Flattener("envelope", None, ("year",), ("district_code",), _envelope_rows),
    Flattener(
        "school.enrolment",
        frozenset({"school.enrolment"}),
        ("students", "classes", "avg_class_size"),
        ("section",),
        _enrolment_rows,
    ),
    Flattener(
        "school.staff",
        frozenset({"school.staff"}),
        ("full_time_teachers", "count"),
        ("section",),
        _staff_rows,
        long=True,
    ),
    Flattener("school.facilities", frozenset({"school.facilities"}), _FACILITIES, ("scope",), _facilities_rows),
    Flattener(
        "school.finance",
        frozenset({"school.finance"}),
        ("public_funds_budget_yuan", "teacher_training_yuan", "public_funds_per_student_yuan"),
        (),
        _finance_rows,
    ),
    Flattener(
        "district.statistics",
        frozenset({"district.statistics"}),
        (*_DISTRICT_WIDE, "pct"),
        (),
        _district_statistics_rows,
        long=True,
    ),
)
