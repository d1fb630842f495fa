"""Loaders for statistical reports (CSV or XLSX, one row per school section per year) that emit
events only for the facts that changed since the last load.

Bureaus fill the yearly education statistics in spreadsheets, often with Chinese headers. A row
is one school section in one year; the loader groups a school's rows into its enrolment, staff and
facilities facts, compares each with what it emitted last time (a fingerprint kept in a small JSON
state file), and emits a new version (seq + 1) only when the fact changed. Re-loading an unchanged
report emits nothing; correcting one cell emits one event.

Headers (either language; see docs/reports.md):
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from junheng.errors import UserError
from rules.facts import FACILITY_FIELDS, STAFF_FIELDS

# canonical column → accepted headers (English first)
COLUMNS: dict[str, tuple[str, ...]] = {
    "school_id": ("school_id", "学校标识码"),
    "district_code": ("district_code", "区县代码"),
    "year": ("year", "统计年度"),
    "section": ("section", "学段"),
    "students": ("students", "在校生数"),
    "classes": ("classes", "班级数"),
    "class_sizes": ("class_sizes", "各班人数"),
    "full_time_teachers": ("full_time_teachers", "专任教师数"),
    "qualified_teachers": ("qualified_teachers", "高于规定学历教师数"),
    "backbone_teachers": ("backbone_teachers", "县级以上骨干教师数"),
    "pe_arts_teachers": ("pe_arts_teachers", "体育艺术专任教师数"),
    "certified_teachers": ("certified_teachers", "持教师资格证教师数"),
    "trained_360h_teachers": ("trained_360h_teachers", "完成360学时培训教师数"),
    "teaching_aux_area_m2": ("teaching_aux_area_m2", "教学及辅助用房面积"),
    "sports_area_m2": ("sports_area_m2", "体育运动场馆面积"),
    "equipment_value_yuan": ("equipment_value_yuan", "教学仪器设备值"),
    "multimedia_rooms": ("multimedia_rooms", "网络多媒体教室数"),
    "music_room_areas_m2": ("music_room_areas_m2", "音乐专用教室面积"),
    "art_room_areas_m2": ("art_room_areas_m2", "美术专用教室面积"),
}
SECTION_NAMES = {"primary": "primary", "小学": "primary", "junior": "junior", "初中": "junior",
                 "senior": "senior", "高中": "senior"}
ENROLMENT = ("students", "classes", "class_sizes")
STAFF = STAFF_FIELDS
FACILITIES = FACILITY_FIELDS
__doc__ = (__doc__ or "") + "\n".join(f"- ``{k}``: {' / '.join(v)}" for k, v in COLUMNS.items())


class ReportError(UserError, ValueError):
    """A report that cannot be read; the message names the file, row and column."""


def _header_map(headers: Iterable[str], source: str) -> dict[str, int]:
    lookup = {alias.strip(): canon for canon, aliases in COLUMNS.items() for alias in aliases}
    mapping: dict[str, int] = {}
    for i, h in enumerate(headers):
        canon = lookup.get(str(h or "").strip())
        if canon:
            mapping[canon] = i
    missing = [c for c in ("school_id", "district_code", "year", "section", "students") if c not in mapping]
    if missing:
        raise ReportError(f"{source}: missing column(s) {missing}; accepted headers: "
                          + "; ".join(f"{c}: {'/'.join(COLUMNS[c])}" for c in missing))
    return mapping


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, canonical row) for every data row of a CSV or XLSX report."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        sheet = load_workbook(path, read_only=True, data_only=True).active
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        mapping = _header_map(header, str(path))
        for n, values in enumerate(rows, start=2):
            if values and any(v not in (None, "") for v in values):
                yield n, {c: values[i] if i < len(values) else None for c, i in mapping.items()}
        return
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        mapping = _header_map(header, str(path))
        for n, values in enumerate(reader, start=2):
            if any(v.strip() for v in values):
                yield n, {c: values[i] if i < len(values) else None for c, i in mapping.items()}


def _int(value: Any, where: str) -> int:
    try:
        f = float(str(value).strip())
    except (TypeError, ValueError):
        raise ReportError(f"{where}: {value!r} is not a number") from None
    if f != int(f):
        raise ReportError(f"{where}: {value!r} is not a whole number")
    return int(f)


def _num(value: Any, where: str) -> float:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        raise ReportError(f"{where}: {value!r} is not a number") from None


def _list(value: Any, where: str, kind: type) -> list[Any]:
    text = str(value).strip() if value is not None else ""
    if not text:
        return []
    parts = [p for p in text.replace("；", ";").replace(",", ";").split(";") if p.strip()]
    return [_int(p, where) if kind is int else _num(p, where) for p in parts]


def _present(row: Mapping[str, Any], cols: Iterable[str]) -> bool:
    return all(row.get(c) not in (None, "") for c in cols)


def facts_from_report(path: str | Path) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """The report's facts: (event_type, district_code, school_id, year) → payload."""
    schools: dict[tuple[str, str, int], dict[str, Any]] = {}
    for n, row in read_rows(path):
        where = f"{path}: row {n}"
        section = SECTION_NAMES.get(str(row.get("section") or "").strip())
        if section is None:
            raise ReportError(f"{where}: section {row.get('section')!r} is not one of {sorted(SECTION_NAMES)}")
        key = (str(row["district_code"]).strip(), str(row["school_id"]).strip(), _int(row["year"], where))
        school = schools.setdefault(key, {"enrolment": {}, "staff": {}, "facilities": {}, "music": None, "art": None})
        if _present(row, ("students",)):
            sizes = _list(row.get("class_sizes"), f"{where} class_sizes", int)
            classes = _int(row["classes"], f"{where} classes") if _present(row, ("classes",)) else len(sizes)
            school["enrolment"][section] = {"students": _int(row["students"], f"{where} students"),
                                            "classes": classes, "class_sizes": sizes}
        if section != "senior" and _present(row, STAFF):
            school["staff"][section] = {c: _int(row[c], f"{where} {c}") for c in STAFF}
        if section != "senior" and _present(row, FACILITIES):
            school["facilities"][section] = {c: (_int(row[c], f"{where} {c}") if c == "multimedia_rooms"
                                                 else _num(row[c], f"{where} {c}")) for c in FACILITIES}
        for col, slot in (("music_room_areas_m2", "music"), ("art_room_areas_m2", "art")):
            if row.get(col) not in (None, "") and school[slot] is None:
                school[slot] = _list(row[col], f"{where} {col}", float)
    facts: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for (district, school_id, year), s in schools.items():
        if s["enrolment"]:
            facts[("school.enrolment", district, school_id, year)] = {"sections": s["enrolment"]}
        if s["staff"]:
            facts[("school.staff", district, school_id, year)] = {"sections": s["staff"]}
        if s["facilities"]:
            facts[("school.facilities", district, school_id, year)] = {
                "music_room_areas_m2": s["music"] or [], "art_room_areas_m2": s["art"] or [],
                "sections": s["facilities"]}
    return facts


def _fingerprint(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


class ChangeTracker:
    """What was emitted last time, per fact: its fingerprint and seq (a JSON file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.known: dict[str, list[Any]] = (json.loads(self.path.read_text(encoding="utf-8"))
                                            if self.path.exists() else {})

    def changed_events(self, facts: Mapping[tuple[str, str, str, int], dict[str, Any]], source: str,
                       now: dt.datetime | None = None) -> list[dict[str, Any]]:
        now = now or dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
        events = []
        for (etype, district, school_id, year), payload in sorted(facts.items()):
            key = f"{etype}|{school_id}|{year}"
            fp = _fingerprint(payload)
            previous = self.known.get(key)
            if previous is not None and previous[0] == fp:
                continue
            seq = 0 if previous is None else int(previous[1]) + 1
            events.append({"event_id": str(uuid.uuid4()), "event_type": etype, "schema_version": 1,
                           "occurred_at": now.isoformat(timespec="seconds"), "source": source,
                           "district_code": district, "school_id": school_id, "year": year, "seq": seq,
                           "payload": payload})
            self.known[key] = [fp, seq]
        return events

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.known, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)


def load_report(path: str | Path, state: str | Path) -> list[dict[str, Any]]:
    """Events for the facts of `path` that changed since the last load recorded in `state`.
    The state is saved only after the report was read completely (a bad row changes nothing)."""
    tracker = ChangeTracker(state)
    events = tracker.changed_events(facts_from_report(path), source=f"report/{Path(path).name}")
    tracker.save()
    return events
