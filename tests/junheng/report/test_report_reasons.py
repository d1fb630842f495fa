"""Reasons in words with units and gaps (junheng/report/reasons.py, units.py), against the real catalogue.

Each reason string below is one the engine writes (rules/kinds/*.py, rules/accountability.py,
rules/city.py, rules/sections.py); the expected words are what a bureau reads in the report.
"""

from __future__ import annotations

import pytest

from junheng.report.reasons import explain_item, split_item
from junheng.report.rulebook import RuleBook, load_rulebook
from junheng.report.sections.gaps import indicator_gap
from junheng.report.units import UNITS, fmt_amount, fmt_number, unit_of


@pytest.fixture(scope="module")
def book() -> RuleBook:
    book = load_rulebook("qingdao-2021")
    assert book.rules, "the project's catalogue did not load"
    return book


def one(text: str, book: RuleBook):
    rule_id, reasons = explain_item(text, book)
    assert len(reasons) == 1
    return rule_id, reasons[0]


def test_money_in_wan_yuan_and_the_gap_in_yuan(book):
    rule_id, r = one("C9: stat.teacher_avg_pay_yuan = 1.089e+05, needs >= 1.122e+05", book)
    assert rule_id == "C9"
    assert r.zh == "教师平均工资 10.89 万元，需 ≥ 11.22 万元，差 3,300 元"
    assert r.en == "teachers' average pay 108,900 yuan, needs ≥ 112,200 yuan: short of 3,300 yuan"
    assert (r.gap_zh, r.gap_en) == ("差 3,300 元", "short of 3,300 yuan")


def test_a_ratio_of_the_catalogue_scaled_by_100_is_a_percentage_with_a_gap_in_points(book):
    rule_id, reasons = explain_item(
        "C7: stat.rotated/stat.rotation_eligible = 5.594, needs >= 10; "
        "stat.rotated_backbone/stat.rotated = 12.5, needs >= 20",
        book,
    )
    assert rule_id == "C7" and len(reasons) == 2  # C7 is an alias of G11: its checks are G11's
    assert reasons[0].zh == "交流轮岗教师占符合交流条件教师的比例 5.6%，需 ≥ 10%，差 4.4 个百分点"
    assert reasons[1].gap_en == "short of 7.5 percentage points"


def test_an_upper_bound_is_over_by(book):
    _, r = one("Q9: stat.monitoring_difference_rate = 0.2, needs < 0.15", book)
    assert r.gap_zh == "超出 0.05" and "over by 0.05" in r.en


def test_a_rate_of_schools_gives_the_schools_short(book):
    _, r = one("C5: only 0 of 5 (0%)", book)  # C5 wants 25 %: ceil(5 × 25 %) = 2 schools
    assert r.zh == "仅 0/5 所（0%），需 ≥ 25%，差 2 所"
    assert r.gap_en == "short of 2 schools"


@pytest.mark.parametrize(
    "text, zh",
    [
        ("D3: no recognition_application by the deadline 2026-05-31", "截至期限 2026-05-31 未提交认定申请"),
        (
            "D3: recognition_application on 2026-06-15, after the deadline 2026-05-31",
            "认定申请于 2026-06-15 提交，晚于期限 2026-05-31（逾期 15 天）",
        ),
        ("DCY: not attained by its declared creation year 2025", "未在申报的创建年度 2025 年达标"),
        ("C1: not attained by the plan's deadline 2025", "未在规划期限 2025 年前达标"),
        ("C8: 1 of 21 schools fail", "21 所学校中 1 所未达标"),
        ("RA-CV: CV 0.517 above 0.45", "差异系数 0.517，需 ≤ 0.45，超出 0.067"),
        ("C10: 29 so far, 30 needed by 2025", "目前 29 个，2025 年前需 30 个，差 1 个"),
        ("C1: 8 of 10 districts attained, plan wants 100%", "10 个区（市）中 8 个达标，规划要求 100%，差 2 个区（市）"),
        (
            "C4: 3.8 schools built/rebuilt/expanded per year on average",
            "年均新建、改扩建学校 3.8 所，需 ≥ 20 所，差 16.2 所/年",
        ),
    ],
)
def test_every_known_shape_reads_in_chinese(book, text, zh):
    assert one(text, book)[1].zh == zh


def test_a_reason_no_pattern_knows_is_kept_as_written(book):
    rule_id, r = one("G99: something new the engine says", book)
    assert rule_id == "G99" and r.zh == r.en == "something new the engine says"


def test_split_item_and_names():
    assert split_item("RA-S: 3 sections fail") == ("RA-S", "3 sections fail")
    assert split_item("plain words") == (None, "plain words")
    book = load_rulebook("qingdao-2021")
    assert book.names("G8")[0] == "教师平均工资收入水平不低于当地公务员平均工资收入水平"
    assert load_rulebook("no-such-catalogue").rules == {}  # names are a nicety, never an error


def test_units_follow_the_inputs_naming_convention():
    assert unit_of("stat.teacher_avg_pay_yuan") is UNITS["yuan"]
    assert unit_of("sports_area_m2") is UNITS["m2"]
    assert unit_of("stat.satisfaction_pct").points
    assert unit_of("qualified_teachers").whole and unit_of("multimedia_rooms").zh == "间"
    assert fmt_amount(7500, UNITS["yuan"]) == ("7,500 元", "7,500 yuan")
    assert fmt_amount(231129.5, UNITS["yuan"]) == ("23.11 万元", "231,130 yuan")
    assert fmt_amount(1.2, UNITS["teachers"], gap=True) == ("2 人", "2 teachers")
    assert fmt_number(4.50) == "4.5" and fmt_number(-0.0) == "0"


def test_a_missed_section_indicator_says_what_its_input_lacks():
    row = {
        "indicator": "R6",
        "indicator_name_zh": "生均教学仪器设备值",
        "indicator_name_en": "Equipment value per student",
        "value": 2000.0,
        "threshold": 2500.0,
        "unit": "yuan per student",
        "students": 15,
        "scale": 1.0,
    }
    zh, en = indicator_gap(row)
    assert zh == "R6 生均教学仪器设备值 2,000 元/生，需 ≥ 2,500 元/生，差 7,500 元（15 名学生）"
    assert en.endswith("short of 7,500 yuan (15 students)")
    teachers = {
        "indicator": "R1",
        "value": 3.55,
        "threshold": 4.2,
        "unit": "teachers per 100 students",
        "students": 845,
        "scale": 100.0,
    }
    assert "差 6 人" in indicator_gap(teachers)[0]  # 5.49 teachers: six to hire
