"""Reports as bureaus make them (issue #13, item 1): a GBK CSV with title rows, an XLSX with a
two-row title, merged header cells, a roster sheet and a notes sheet; loaded twice; corrected after
a run; bad cells named one per line. The events land through the real embedded driver."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ingestion.contract import check_event_dict
from ingestion.reports import ReportError, load
from streams.embedded import EmbeddedRunner

SCHOOL_A, SCHOOL_B, DISTRICT = "3702020001", "3702020002", "370202"
HEADER_ZH = [
    "学校标识码",
    "区县代码",
    "统计年度",
    "学段",
    "在校生数",
    "班级数",
    "各班人数",
    "专任教师数",
    "高于规定学历教师数",
    "县级以上骨干教师数",
    "体育艺术专任教师数",
    "持教师资格证教师数",
    "完成360学时培训教师数",
    "教学及辅助用房面积（平方米）",
    "体育运动场馆面积(平方米)",
    "教学仪器设备值（元）",
    "网络多媒体教室数",
    "音乐专用教室面积",
    "美术专用教室面积",
]
ROWS: list[list[Any]] = [
    [SCHOOL_A, DISTRICT, 2024, "小学", 90, 2, "45;45", 12, 5, 1, 1, 12, 12, 420.5, 700, 200000, 3, "96;96", "90"],
    [SCHOOL_A, DISTRICT, 2024, "初中", 100, 2, "50;50", 15, 6, 1, 1, 15, 15, 600, 1100, 260000, 3, "", ""],
    [SCHOOL_B, DISTRICT, 2024, "小学", 30, 1, "30", 4, 2, 0, 1, 4, 3, 140, 230, 61000, 1, "96", "90"],
]
ROSTER_HEADER = [
    "学校标识码",
    "学校名称",
    "学校类型",
    "城乡类型",
    "办学性质",
    "是否寄宿制学校",
    "区县代码",
    "统计年度",
    "建校年份",
]
ROSTER_ROWS = [
    [SCHOOL_A, "市南区实验学校", "九年一贯制学校", "城区", "公办", "否", DISTRICT, 2024, 1998],
    [SCHOOL_B, "市南区第二小学", "小学", "城区", "公办", "是", DISTRICT, 2024, 2005],
]


def _gbk_csv(path: Path, rows: list[list[Any]]) -> Path:
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(["青岛市2024年义务教育学校办学条件统计表"])  # a title row, as Excel exports have
    w.writerow(["填报单位：市南区教育和体育局", "", "单位：人、平方米、元"])
    w.writerow([])
    w.writerow(HEADER_ZH)
    w.writerows(rows)
    path.write_bytes(text.getvalue().encode("gbk"))
    return path


def _bureau_xlsx(path: Path, rows: list[list[Any]] = ROWS, roster: list[list[Any]] = ROSTER_ROWS) -> Path:
    """Two title rows merged across the table, a group header row with merged group titles, the
    first four headers merged down over both header rows; a roster sheet; a notes sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "办学条件"
    width = len(HEADER_ZH)
    ws.cell(1, 1, "青岛市2024年义务教育学校办学条件统计表")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(2, 1, "填报单位：市南区教育和体育局    填报日期：2025年3月")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    for col, name in enumerate(HEADER_ZH[:4], start=1):  # merged down over the two header rows
        ws.cell(3, col, name)
        ws.merge_cells(start_row=3, start_column=col, end_row=4, end_column=col)
    groups = [("学生情况", 5, 7), ("教师情况", 8, 13), ("办学条件", 14, width)]
    for title, first, last in groups:
        ws.cell(3, first, title)
        ws.merge_cells(start_row=3, start_column=first, end_row=3, end_column=last)
    for col, name in enumerate(HEADER_ZH[4:], start=5):
        ws.cell(4, col, name)
    for r in rows:
        ws.append(r)
    names = wb.create_sheet("学校名册")
    names.cell(1, 1, "学校名册（2024年）")
    names.append(ROSTER_HEADER)
    for r in roster:
        names.append(r)
    notes = wb.create_sheet("填表说明")
    notes.append(["1. 各班人数用分号分隔。"])
    wb.save(path)
    return path


def _run(warehouse: Path, events: list[dict[str, Any]], tmp: Path, name: str) -> dict[str, Any]:
    path = tmp / f"{name}.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return EmbeddedRunner(warehouse).run([path]).as_dict()


def _kinds(events: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return sorted((e["event_type"], e["school_id"], e["seq"]) for e in events)


def test_a_gbk_csv_with_title_rows_reads_as_its_utf8_twin(tmp_path: Path) -> None:
    gbk = load(_gbk_csv(tmp_path / "2024.csv", ROWS), tmp_path / "s1.json").events
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes(_gbk_csv(tmp_path / "x.csv", ROWS).read_bytes().decode("gbk").encode("utf-8-sig"))
    again = load(utf8, tmp_path / "s2.json").events
    assert _kinds(gbk) == _kinds(again) and len(gbk) == 6
    assert [e["payload"] for e in sorted(gbk, key=lambda e: (e["event_type"], e["school_id"]))] == [
        e["payload"] for e in sorted(again, key=lambda e: (e["event_type"], e["school_id"]))
    ]
    assert all(check_event_dict(e).ok for e in gbk)
    forced = load(tmp_path / "2024.csv", tmp_path / "s3.json", encoding="gb18030").events
    assert len(forced) == 6
    with pytest.raises(ReportError, match="cannot be read as utf-8"):
        load(tmp_path / "2024.csv", tmp_path / "s4.json", encoding="utf-8")


def test_a_bureau_workbook_registers_its_schools_and_lands_in_a_fresh_warehouse(tmp_path: Path) -> None:
    """Nothing was registered: the roster sheet registers the schools, so the facts apply
    (before: every fact was unknown_school)."""
    result = load(_bureau_xlsx(tmp_path / "2024.xlsx"), warehouse=tmp_path / "wh")
    events = result.events
    assert [e["event_type"] for e in events[:2]] == ["school.registered"] * 2  # registrations first
    assert _kinds(events) == sorted(
        [
            ("school.registered", SCHOOL_A, 0),
            ("school.registered", SCHOOL_B, 0),
            ("school.enrolment", SCHOOL_A, 0),
            ("school.enrolment", SCHOOL_B, 0),
            ("school.staff", SCHOOL_A, 0),
            ("school.staff", SCHOOL_B, 0),
            ("school.facilities", SCHOOL_A, 0),
            ("school.facilities", SCHOOL_B, 0),
        ]
    )
    reg = next(e for e in events if e["event_type"] == "school.registered" and e["school_id"] == SCHOOL_A)
    assert reg["payload"] == {
        "name": "市南区实验学校",
        "school_type": "nine_year",
        "locale": "urban",
        "ownership": "public",
        "boarding": False,
        "opened_year": 1998,
        "closed_year": None,
    }
    fac = next(e for e in events if e["event_type"] == "school.facilities" and e["school_id"] == SCHOOL_A)
    assert fac["payload"]["sections"]["primary"]["teaching_aux_area_m2"] == 420.5  # "(平方米)" headers read
    counts = _run(tmp_path / "wh", events, tmp_path, "first")
    assert counts["applied"] == len(events) and counts["dead_lettered"] == 0


def test_loaded_twice_emits_nothing_and_a_correction_supersedes_what_the_warehouse_holds(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    first = load(_bureau_xlsx(tmp_path / "a.xlsx"), warehouse=wh).events
    _run(wh, first, tmp_path, "first")
    again = load(_bureau_xlsx(tmp_path / "b.xlsx"), warehouse=wh)
    assert again.events == [] and again.unchanged == len(first)

    # the warehouse already holds a later version from elsewhere (seq 5) of school B's staff
    staff_b = next(e for e in first if e["event_type"] == "school.staff" and e["school_id"] == SCHOOL_B)
    other = dict(staff_b, event_id="5a0b9f7e-0000-4000-8000-000000000005", seq=5, source="elsewhere")
    assert _run(wh, [other], tmp_path, "other")["applied"] == 1
    corrected = [list(r) for r in ROWS]
    corrected[2][8] = 3  # school B's qualified teachers corrected
    events = load(_bureau_xlsx(tmp_path / "c.xlsx", corrected), warehouse=wh).events
    assert [(e["event_type"], e["school_id"], e["seq"]) for e in events] == [("school.staff", SCHOOL_B, 6)]
    counts = _run(wh, events, tmp_path, "corrected")
    assert counts["applied"] == 1 and counts["stale"] == 0 and counts["dead_lettered"] == 0


def test_a_retry_after_a_failure_is_safe(tmp_path: Path) -> None:
    """The first load's events never arrived (a failed produce): loading again emits them again,
    above what the load state says is in flight, and they apply."""
    wh, state = tmp_path / "wh", tmp_path / "state.json"
    lost = load(_bureau_xlsx(tmp_path / "a.xlsx"), state, warehouse=wh).events
    retry = load(_bureau_xlsx(tmp_path / "b.xlsx"), state, warehouse=wh).events
    assert len(retry) == len(lost) and all(r["seq"] == 1 for r in retry)
    assert _run(wh, retry, tmp_path, "retry")["applied"] == len(retry)
    assert _run(wh, lost, tmp_path, "late")["stale"] == len(lost)  # the lost ones, arriving late, change nothing


def test_every_bad_cell_is_named_and_nothing_is_emitted_unless_bad_rows_are_skipped(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[0][4] = "九十"  # not a number
    rows[2][3] = "大学"  # not a section
    roster = [list(r) for r in ROSTER_ROWS]
    roster[1][3] = "郊区"  # not a locale
    path = _bureau_xlsx(tmp_path / "bad.xlsx", rows, roster)
    state = tmp_path / "state.json"
    with pytest.raises(ReportError) as caught:
        load(path, state)
    problems = caught.value.problems
    assert problems == [
        f"{path}, sheet 办学条件, row 5, column 在校生数: '九十' is not a number",
        f"{path}, sheet 办学条件, row 7, column 学段: '大学' is not one of junior, primary, senior, 初中, 小学, 高中",
        f"{path}, sheet 学校名册, row 4, column 城乡类型: '郊区' is not one of rural, town, urban, 乡村, 城区, 镇区",
    ]
    assert not state.exists()
    result = load(path, state, skip_bad_rows=True)
    assert result.skipped == problems
    assert _kinds(result.events) == [
        ("school.enrolment", SCHOOL_A, 0),
        ("school.facilities", SCHOOL_A, 0),
        ("school.registered", SCHOOL_A, 0),
        ("school.staff", SCHOOL_A, 0),
    ]
    enrolment = next(e for e in result.events if e["event_type"] == "school.enrolment")
    assert enrolment["payload"]["sections"] == {"junior": {"students": 100, "classes": 2, "class_sizes": [50, 50]}}


def test_a_file_that_is_not_a_report_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "report.xlsx"
    fake.write_bytes(b"not a zip")
    with pytest.raises(ReportError, match="is not a readable XLSX workbook") as caught:
        load(fake, tmp_path / "s.json")
    assert len(caught.value.problems) == 1
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    with pytest.raises(ReportError, match="unknown report format .pdf"):
        load(pdf, tmp_path / "s.json")
