"""The report's sections an official acts on, on small hand-made warehouses (no dbt, no browser).

- a district behind: its reasons in words with units and the gap, its failed rules by name, its
  failing schools by name with what each missed indicator lacks;
- the rule names printed (not only in tooltips), alerts Chinese first with "since" to the minute;
- the gap-to-pass and outlook marts: their sections appear exactly when the tables exist. The tables
  are made here with the columns the gap-to-pass helper's marts have (at least those issue #13 names),
  because those marts are not on this branch; without them the sections are left out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from _dom import parse

from junheng.report import write_report

AS_OF = dt.date(2026, 6, 30)
CODE, NAME = "370283", "平度市"
SCHOOL = "平度市泊中路小学"

SCHOOL_GAP_COLUMNS = {  # mart_school_gap_to_pass: the columns issue #13 requires, and option_changes
    "district_code": "varchar",
    "school_id": "varchar",
    "school_name": "varchar",
    "section": "varchar",
    "year": "integer",
    "option_id": "integer",
    "option_changes": "integer",
    "indicator": "varchar",
    "current_value": "double",
    "target_value": "double",
    "addition": "double",
    "input": "varchar",
    "unit": "varchar",
}
DISTRICT_GAP_COLUMNS = {
    "district_code": "varchar",
    "year": "integer",
    "item": "varchar",
    "kind": "varchar",
    "rule_id": "varchar",
    "value": "double",
    "threshold": "double",
    "comparator": "varchar",
    "distance": "double",
    "unit": "varchar",
    "plan_text": "varchar",
    "plan_resulting_value": "double",
    "plan_passes": "boolean",
}
OUTLOOK_COLUMNS = {
    "district_code": "varchar",
    "year": "integer",
    "declared_creation_year": "integer",
    "plan_deadline_year": "integer",
    "attained": "boolean",
    "district_projected_year": "integer",
    "at_risk": "boolean",
    "risk_items": "varchar[]",
    "item": "varchar",
    "item_projected_year": "integer",
}


def _city() -> dict:
    return {
        "mart_city_progress": [
            {
                "year": 2025,
                "districts_total": 2,
                "districts_attained": 1,
                "districts_undecided": 0,
                "attained_share": 0.5,
                "target_share": 1.0,
                "on_track": False,
                "c1_passed": False,
                "c4_value": 3.8,
                "c4_threshold": 20.0,
                "c4_passed": False,
                "catalogue": "qingdao-2021",
            }
        ],
        "mart_district_attainment": [
            {
                "district_code": CODE,
                "district_name": NAME,
                "district_name_en": "Pingdu City",
                "year": 2025,
                "attained": False,
                "failed_items": ["G8", "RA-S"],
                "undecided_items": [],
                "catalogue": "qingdao-2021",
            },
            {
                "district_code": "370202",
                "district_name": "市南区",
                "district_name_en": "Shinan District",
                "year": 2025,
                "attained": True,
                "failed_items": [],
                "undecided_items": [],
            },
        ],
        "mart_district_accountability": [
            {
                "district_code": CODE,
                "district_name": NAME,
                "year": 2025,
                "declared_creation_year": 2025,
                "attained": False,
                "on_track": False,
                "as_of": AS_OF,
                "behind_reasons": ["C9: stat.teacher_avg_pay_yuan = 1.089e+05, needs >= 1.122e+05"],
            },
            {
                "district_code": "370202",
                "district_name": "市南区",
                "year": 2025,
                "declared_creation_year": 2022,
                "attained": True,
                "on_track": True,
                "behind_reasons": [],
                "as_of": AS_OF,
            },
        ],
        "mart_school_section_status": [
            {
                "district_code": CODE,
                "school_id": "3702000168",
                "school_name": SCHOOL,
                "section": "primary",
                "year": 2025,
                "students": 15,
                "indicators_met": 5,
                "indicators_missed": 2,
                "passed": False,
                "included": True,
                "reason": "2 indicators below threshold: R1, R6",
                "rule_id": "RA-S",
            }
        ],
        "mart_school_section_indicators": [
            {
                "district_code": CODE,
                "school_id": "3702000168",
                "school_name": SCHOOL,
                "section": "primary",
                "year": 2025,
                "indicator": "R6",
                "value": 2000.0,
                "threshold": 2500.0,
                "met": False,
                "unit": "yuan per student",
                "students": 15,
                "scale": 1.0,
                "numerator": "equipment_value_yuan",
                "indicator_name_zh": "生均教学仪器设备值",
                "indicator_name_en": "Equipment value per student",
                "included": True,
            }
        ],
        "mart_alerts": [
            {
                "alert_id": "a1",
                "district_code": CODE,
                "district_name": NAME,
                "rule_id": "C9",
                "severity": "major",
                "state": "firing",
                "year": 2025,
                "starts_at": dt.datetime(2026, 6, 3, 9, 41, 27, 123456),
                "changed_at": dt.datetime(2026, 6, 3, 9, 41, 27, 123456),
                "as_of": AS_OF,
                "event_id": "e1",
                "summary": "平度市 (370283) is behind the plan in 2025 on C9",
            }
        ],
    }


def _add(wh: Path, table: str, columns: dict[str, str], rows: list[dict]) -> None:
    con = duckdb.connect(str(wh / "junheng.duckdb"))
    try:
        con.execute(f"create or replace table main.{table} (" + ", ".join(f"{n} {t}" for n, t in columns.items()) + ")")
        for row in rows:
            con.execute(
                f"insert into main.{table} values ({', '.join('?' for _ in columns)})", [row.get(n) for n in columns]
            )
    finally:
        con.close()


def _drop_optional(wh: Path) -> None:
    con = duckdb.connect(str(wh / "junheng.duckdb"))
    try:
        for table in ("mart_school_gap_to_pass", "mart_district_gap_to_pass", "mart_district_outlook"):
            con.execute(f"drop table if exists main.{table}")
    finally:
        con.close()


@pytest.fixture
def plain_city(mart_db) -> Path:
    wh = mart_db(**_city())
    _drop_optional(wh)  # once those marts are on main, the contract fixture makes them (empty)
    return wh


def test_a_district_behind_reads_in_words_with_units_and_gaps(plain_city):
    doc = parse(write_report(plain_city, as_of=AS_OF).read_text(encoding="utf-8"))
    card = doc.by_id(f"district-{CODE}")
    assert card is not None, "the district to act on has no card"
    text = card.text()
    assert "教师平均工资 10.89 万元，需 ≥ 11.22 万元，差 3,300 元" in text
    assert "short of 3,300 yuan" in text
    # the rules it fails, by name, printed
    assert "教师平均工资收入水平不低于当地公务员平均工资收入水平" in text  # G8
    assert "每所学校至少6项指标达到要求" in text  # RA-S
    # its failing school by name, with what the missed indicator lacks, in yuan
    school = card.find_all("tr", data_school="3702000168")[0]
    assert SCHOOL in school.text()
    assert "差 7,500 元（15 名学生）" in school.text() and "short of 7,500 yuan" in school.text()
    # the district with nothing to act on is named in one line, without a card
    assert doc.by_id("district-370202") is None and "市南区" in doc.by_id("districts-fine").text()
    # nothing of the optional marts
    assert doc.by_id("outlook") is None and "达标方案" not in text and "District gap to pass" not in text


def test_rule_names_are_printed_beside_the_matrix(plain_city):
    doc = parse(write_report(plain_city, as_of=AS_OF).read_text(encoding="utf-8"))
    legend = doc.by_id("matrix-rules")
    assert legend is not None
    assert "G8" in legend.text() and "Teachers' average pay at least local civil servants'" in legend.text()


def test_alerts_are_chinese_first_with_the_rule_named_and_since_to_the_minute(plain_city):
    doc = parse(write_report(plain_city, as_of=AS_OF).read_text(encoding="utf-8"))
    row = doc.find_all("tr", data_alert="a1")[0]
    cells = row.find_all("td")
    assert "教师平均工资收入水平不低于当地公务员平均工资收入水平" in cells[1].text()  # C9 by name
    assert cells[2].text() == "2026-06-03 09:41 UTC"  # no seconds, no µs
    summary = cells[3]
    zh, en = summary.find_all("div")
    assert zh.text().startswith("平度市 2025 年未达到 C9") and "差 3,300 元" in zh.text()
    assert en.text() == (
        "Pingdu City (2025) misses C9: teachers' average pay 108,900 yuan, needs ≥ 112,200 yuan: short of 3,300 yuan"
    )
    assert "重要 major" in cells[0].text()


def test_since_prefers_the_time_the_district_fell_behind_when_the_mart_has_it():
    from junheng.report.alertstate import since

    fired = dt.datetime(2026, 12, 5, 8, 5, 43, 256000)
    assert since({"starts_at": fired}) == "2026-12-05 08:05 UTC"
    assert since({"starts_at": fired, "fell_behind_at": dt.datetime(2026, 3, 2, 14, 7, 59)}) == "2026-03-02 14:07 UTC"
    assert since({"starts_at": fired, "fell_behind_at": None}) == "2026-12-05 08:05 UTC"  # unknown: when it fired
    assert since({"starts_at": None}) == "—"


def test_gap_to_pass_and_outlook_sections_appear_when_their_marts_exist(plain_city):
    wh = plain_city
    base = {"district_code": CODE, "school_id": "3702000168", "school_name": SCHOOL, "section": "primary", "year": 2025}
    _add(
        wh,
        "mart_school_gap_to_pass",
        SCHOOL_GAP_COLUMNS,
        [
            {
                **base,
                "option_id": 1,
                "option_changes": 1,
                "indicator": "R6",
                "current_value": 2000.0,
                "target_value": 2500.0,
                "addition": 7500.0,
                "input": "sections.primary.equipment_value_yuan",
                "unit": "yuan",
            },
            {
                **base,
                "option_id": 2,
                "option_changes": 2,
                "indicator": "R1",
                "current_value": 3.55,
                "target_value": 4.2,
                "addition": 1.0,
                "input": "sections.primary.qualified_teachers",
                "unit": "teachers",
            },
            {
                **base,
                "option_id": 2,
                "option_changes": 2,
                "indicator": "R6",
                "current_value": 2000.0,
                "target_value": 2125.0,
                "addition": 1875.0,
                "input": "sections.primary.equipment_value_yuan",
                "unit": "yuan",
            },
        ],
    )
    _add(
        wh,
        "mart_district_gap_to_pass",
        DISTRICT_GAP_COLUMNS,
        [
            {
                "district_code": CODE,
                "year": 2025,
                "item": "G8",
                "kind": "item",
                "rule_id": "G8",
                "value": 108900.0,
                "threshold": 112200.0,
                "comparator": ">=",
                "distance": 3300.0,
                "unit": "yuan",
            }
        ],
    )
    _add(
        wh,
        "mart_district_outlook",
        OUTLOOK_COLUMNS,
        [
            {
                "district_code": CODE,
                "year": 2025,
                "declared_creation_year": 2025,
                "plan_deadline_year": 2025,
                "attained": False,
                "district_projected_year": 2028,
                "at_risk": True,
                "risk_items": ["G8"],
                "item": "G8",
                "item_projected_year": 2028,
            },
            {
                "district_code": "370202",
                "year": 2025,
                "declared_creation_year": 2022,
                "plan_deadline_year": 2025,
                "attained": True,
                "district_projected_year": 2025,
                "at_risk": False,
                "risk_items": [],
                "item": None,
            },
        ],
    )
    doc = parse(write_report(wh, as_of=AS_OF).read_text(encoding="utf-8"))
    card = doc.by_id(f"district-{CODE}")
    school = card.find_all("tr", data_school="3702000168")[0]
    options = school.find_all("li", data_option="1") + school.find_all("li", data_option="2")
    assert len(options) == 2
    assert "方案 1：R6 生均教学仪器设备值 增加 7,500 元（2,000 → 2,500）" in options[0].text()
    assert "增加 1 人" in options[1].text() and "option 2: R1 +1 teacher" in options[1].text()
    assert "差 3,300 元" in card.find_all("li", data_item="G8")[0].text()
    assert "预计达标 projected 2028" in card.text() and "有风险 at risk" in card.text()
    assert "预计 2028 年达到" in card.text()
    chart = doc.by_id("chart-outlook")
    assert chart is not None and chart.tag == "svg" and chart.attrs["role"] == "img"
    desc = doc.by_id("chart-outlook-desc").text()
    assert "平度市: declared 2025, projected 2028, at risk" in desc and "市南区: declared 2022, projected 2025" in desc


def test_empty_optional_marts_say_so_instead_of_vanishing(plain_city):
    _add(plain_city, "mart_district_outlook", OUTLOOK_COLUMNS, [])
    doc = parse(write_report(plain_city, as_of=AS_OF).read_text(encoding="utf-8"))
    assert "No outlook yet" in doc.by_id("districts").text()
