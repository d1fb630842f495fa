"""Statistical reports (CSV/XLSX, Chinese or English headers) become events, and only what changed
since the last load is emitted again."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingestion.contract import check_event_dict
from ingestion.reports import COLUMNS, ReportError, load_report

ZH = [aliases[1] for aliases in COLUMNS.values()]
ROWS = [
    # school_id, district, year, section, students, classes, sizes, ft, qual, backbone, pe, cert, trained,
    # aux, sports, equipment, mm rooms, music, art
    ["3702020001", "370202", 2024, "小学", 90, 2, "45;45", 12, 5, 1, 1, 12, 12, 420.5, 700, 200000, 3, "96;96", "90"],
    ["3702020001", "370202", 2024, "初中", 100, 2, "50;50", 15, 6, 1, 1, 15, 15, 600, 1100, 260000, 3, "", ""],
    ["3702020002", "370202", 2024, "primary", 30, 1, "30", 4, 2, 0, 1, 4, 3, 140, 230, 61000, 1, "96", "90"],
]


def _write_csv(path: Path, rows, headers=ZH) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(headers)
        w.writerows(rows)
    return path


def test_a_report_becomes_contract_valid_events(tmp_path):
    events = load_report(_write_csv(tmp_path / "2024.csv", ROWS), tmp_path / "state.json")
    kinds = sorted((e["event_type"], e["school_id"]) for e in events)
    assert kinds == [
        ("school.enrolment", "3702020001"),
        ("school.enrolment", "3702020002"),
        ("school.facilities", "3702020001"),
        ("school.facilities", "3702020002"),
        ("school.staff", "3702020001"),
        ("school.staff", "3702020002"),
    ]
    for e in events:
        verdict = check_event_dict(e)
        assert verdict.ok, verdict.reason
        assert e["seq"] == 0
    enrol = next(e for e in events if e["event_type"] == "school.enrolment" and e["school_id"] == "3702020001")
    assert enrol["payload"]["sections"]["junior"] == {"students": 100, "classes": 2, "class_sizes": [50, 50]}
    fac = next(e for e in events if e["event_type"] == "school.facilities" and e["school_id"] == "3702020001")
    assert fac["payload"]["music_room_areas_m2"] == [96.0, 96.0]
    assert fac["payload"]["sections"]["primary"]["teaching_aux_area_m2"] == 420.5


def test_only_changed_facts_are_emitted_again(tmp_path):
    state = tmp_path / "state.json"
    load_report(_write_csv(tmp_path / "a.csv", ROWS), state)
    assert load_report(_write_csv(tmp_path / "b.csv", ROWS), state) == []
    changed = [list(r) for r in ROWS]
    changed[2][8] = 3  # one school's qualified teachers corrected
    events = load_report(_write_csv(tmp_path / "c.csv", changed), state)
    assert [(e["event_type"], e["school_id"], e["seq"]) for e in events] == [("school.staff", "3702020002", 1)]


def test_english_headers_and_xlsx(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(list(COLUMNS))
    for r in ROWS:
        ws.append(r)
    path = tmp_path / "2024.xlsx"
    wb.save(path)
    events = load_report(path, tmp_path / "state.json")
    assert len(events) == 6 and all(check_event_dict(e).ok for e in events)


def test_a_bad_cell_names_file_row_and_column_and_changes_nothing(tmp_path):
    bad = [list(r) for r in ROWS]
    bad[1][4] = "一百"
    state = tmp_path / "state.json"
    with pytest.raises(ReportError, match=r"bad.csv, row 3, column 在校生数: '一百' is not a number"):
        load_report(_write_csv(tmp_path / "bad.csv", bad), state)
    assert not state.exists()


def test_missing_required_columns_are_named(tmp_path):
    with pytest.raises(ReportError, match=r"no header row: a sections sheet needs the column\(s\) district_code"):
        load_report(_write_csv(tmp_path / "x.csv", [["1"]], headers=["学校标识码"]), tmp_path / "s.json")
