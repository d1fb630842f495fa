"""A report's rows as the facts they state: per school and year its enrolment, staff and
facilities (sections sheets) and its registration (roster sheets).

Every bad cell is a :class:`Problem` naming file, sheet, row and column and what was expected; a
row with one is left out (whether the load then goes on is the caller's choice: ``--skip-bad-rows``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingestion.reports.columns import VALUES
from ingestion.reports.reading import Problem, Table
from rules.facts import FACILITY_FIELDS, STAFF_FIELDS

__all__ = ["FactKey", "ReportFacts", "facts_of"]

FactKey = tuple[str, str, str, int]  # (event_type, district_code, school_id, year)


class _Bad(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass
class ReportFacts:
    facts: dict[FactKey, dict[str, Any]] = field(default_factory=dict)
    rows: dict[FactKey, list[tuple[Table, int]]] = field(default_factory=dict)  # where each fact came from
    problems: list[Problem] = field(default_factory=list)
    skipped_rows: list[tuple[Table, int]] = field(default_factory=list)

    def where(self, key: FactKey) -> str:
        first = self.rows.get(key, [])
        return "; ".join(_place(t, n) for t, n in first[:3]) or "?"


def _place(table: Table, row: int) -> str:
    return f"{table.file}{f', sheet {table.sheet}' if table.sheet else ''}, row {row}"


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() if value is not None else ""


def _int(value: Any, column: str) -> int:
    text = _text(value)
    try:
        f = float(text)
    except ValueError:
        raise _Bad(column, f"{value!r} is not a number") from None
    if f != int(f):
        raise _Bad(column, f"{value!r} is not a whole number")
    return int(f)


def _num(value: Any, column: str) -> float:
    try:
        return float(_text(value).replace(",", ""))
    except ValueError:
        raise _Bad(column, f"{value!r} is not a number") from None


def _list(value: Any, column: str, whole: bool) -> list[Any]:
    text = _text(value)
    parts = [p for p in text.replace("；", ";").replace("，", ";").replace(",", ";").split(";") if p.strip()]
    return [_int(p, column) if whole else _num(p, column) for p in parts]


def _code(value: Any, column: str, digits: int) -> str:
    text = _text(value)
    if not (text.isdigit() and len(text) == digits):
        raise _Bad(column, f"{value!r} is not a {digits}-digit code")
    return text


def _choice(value: Any, column: str) -> Any:
    options = VALUES[column]
    text = _text(value)
    found = options.get(text, options.get(text.casefold()))
    if found is None:
        raise _Bad(column, f"{value!r} is not one of {', '.join(sorted(options))}")
    return found


def _present(row: Mapping[str, Any], cols: Iterable[str]) -> bool:
    return all(_text(row.get(c)) != "" for c in cols)


def facts_of(tables: list[Table], problems: list[Problem] | None = None) -> ReportFacts:
    out = ReportFacts(problems=list(problems or []))
    schools: dict[tuple[str, str, int], dict[str, Any]] = {}
    for table in tables:
        for n, row in table.rows:
            try:
                if table.kind == "roster":
                    _roster_row(out, table, n, row)
                else:
                    _sections_row(schools, table, n, row)
            except _Bad as bad:
                out.problems.append(
                    Problem(table.file, str(bad), table.sheet, n, table.headers.get(bad.column, bad.column))
                )
                out.skipped_rows.append((table, n))
    for (district, school_id, year), s in schools.items():
        for etype, payload in (
            ("school.enrolment", {"sections": s["enrolment"]} if s["enrolment"] else None),
            ("school.staff", {"sections": s["staff"]} if s["staff"] else None),
            (
                "school.facilities",
                {
                    "music_room_areas_m2": s["music"] or [],
                    "art_room_areas_m2": s["art"] or [],
                    "sections": s["facilities"],
                }
                if s["facilities"]
                else None,
            ),
        ):
            if payload is not None:
                key = (etype, district, school_id, year)
                out.facts[key] = payload
                out.rows[key] = s["rows"]
    return out


def _keys(row: Mapping[str, Any]) -> tuple[str, str, int]:
    school_id = _code(row.get("school_id"), "school_id", 10)
    district = _code(row.get("district_code"), "district_code", 6)
    year = _int(row.get("year"), "year")
    if not 2000 <= year <= 2100:
        raise _Bad("year", f"{year} is not a statistical year (2000-2100)")
    return district, school_id, year


def _sections_row(
    schools: dict[tuple[str, str, int], dict[str, Any]], table: Table, n: int, row: Mapping[str, Any]
) -> None:
    key = _keys(row)
    section = _choice(row.get("section"), "section")
    enrolment = staff = facilities = None
    if _present(row, ("students",)):
        sizes = _list(row.get("class_sizes"), "class_sizes", whole=True)
        classes = _int(row["classes"], "classes") if _present(row, ("classes",)) else len(sizes)
        enrolment = {"students": _int(row["students"], "students"), "classes": classes, "class_sizes": sizes}
    if section != "senior" and _present(row, STAFF_FIELDS):
        staff = {c: _int(row[c], c) for c in STAFF_FIELDS}
    if section != "senior" and _present(row, FACILITY_FIELDS):
        facilities = {c: (_int(row[c], c) if c == "multimedia_rooms" else _num(row[c], c)) for c in FACILITY_FIELDS}
    rooms = {
        slot: _list(row[col], col, whole=False)
        for col, slot in (("music_room_areas_m2", "music"), ("art_room_areas_m2", "art"))
        if _present(row, (col,))
    }
    # the row is good: only now does it change the school's facts
    school = schools.setdefault(
        key, {"enrolment": {}, "staff": {}, "facilities": {}, "music": None, "art": None, "rows": []}
    )
    school["rows"].append((table, n))
    if enrolment is not None:
        school["enrolment"][section] = enrolment
    if staff is not None:
        school["staff"][section] = staff
    if facilities is not None:
        school["facilities"][section] = facilities
    for slot, areas in rooms.items():
        if school[slot] is None:
            school[slot] = areas


def _roster_row(out: ReportFacts, table: Table, n: int, row: Mapping[str, Any]) -> None:
    district, school_id, year = _keys(row)
    name = _text(row.get("name"))
    if not name:
        raise _Bad("name", "the school's name is empty")
    payload = {
        "name": name,
        "school_type": _choice(row.get("school_type"), "school_type"),
        "locale": _choice(row.get("locale"), "locale"),
        "ownership": _choice(row.get("ownership"), "ownership"),
        "boarding": _choice(row.get("boarding"), "boarding") if _present(row, ("boarding",)) else False,
        "opened_year": _int(row["opened_year"], "opened_year") if _present(row, ("opened_year",)) else None,
        "closed_year": _int(row["closed_year"], "closed_year") if _present(row, ("closed_year",)) else None,
    }
    key = ("school.registered", district, school_id, year)
    if key in out.facts and out.facts[key] != payload:
        raise _Bad(
            "school_id", f"{school_id} is listed twice for {year} with different details (first at {out.where(key)})"
        )
    out.facts[key] = payload
    out.rows[key] = [(table, n)]


def now_cst() -> dt.datetime:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
