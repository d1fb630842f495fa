"""Numbers in words an official reads: units in Chinese and English, money in 元 or 万元, grouped digits.

Why a module of its own: the engine and the marts speak in input names (`stat.teacher_avg_pay_yuan`,
`sports_area_m2`) and raw floats (`1.089e+05`); a printed report must say 10.89 万元, 3,300 元,
0.8 m², 2 人. The unit of an input follows from its name, the convention every input of the
contract keeps (`*_yuan`, `*_m2`, `*_pct`, teachers and rooms counted whole), so no table of
inputs has to be kept in step with the catalogue; the labels below are a nicety with a fallback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Unit", "unit_of", "input_label", "fmt_number", "fmt_amount", "UNITS", "PER_STUDENT"]


@dataclass(frozen=True)
class Unit:
    """How a quantity is written: `zh`/`en` after the number; `whole` when it counts people or things
    (a gap is rounded up to the next whole one); `points` when it is a percentage (a gap is in
    percentage points)."""

    key: str
    zh: str
    en: str
    whole: bool = False
    points: bool = False


UNITS: dict[str, Unit] = {
    "yuan": Unit("yuan", "元", "yuan"),
    "m2": Unit("m2", "m²", "m²"),
    "teachers": Unit("teachers", "人", "teachers", whole=True),
    "people": Unit("people", "人", "people", whole=True),
    "students": Unit("students", "人", "students", whole=True),
    "rooms": Unit("rooms", "间", "rooms", whole=True),
    "schools": Unit("schools", "所", "schools", whole=True),
    "groups": Unit("groups", "个", "groups", whole=True),
    "institutions": Unit("institutions", "个", "institutions", whole=True),
    "pct": Unit("pct", "%", "%", points=True),
    "years": Unit("years", "年", "years", whole=True),
    "none": Unit("none", "", ""),
}

#: the per-student units of the section indicators R1–R7 (their catalogue `params.unit`), in Chinese
PER_STUDENT = {
    "teachers per 100 students": ("人/百名学生", "teachers per 100 students"),
    "rooms per 100 students": ("间/百名学生", "rooms per 100 students"),
    "m² per student": ("m²/生", "m² per student"),
    "yuan per student": ("元/生", "yuan per student"),
}

# labels of the district statistics and school inputs the reasons name (zh, en)
_LABELS: dict[str, tuple[str, str]] = {
    "teacher_avg_pay_yuan": ("教师平均工资", "teachers' average pay"),
    "civil_servant_avg_pay_yuan": ("公务员平均工资", "civil servants' average pay"),
    "special_ed_funds_per_student_yuan": ("特殊教育生均公用经费", "special-education funds per student"),
    "education_spend_yuan": ("教育经费支出", "education spending"),
    "education_spend_per_student_yuan": ("生均教育经费", "education spending per student"),
    "public_funds_per_student_yuan": ("生均公用经费", "public funds per student"),
    "rotated": ("交流轮岗教师", "teachers rotated"),
    "rotation_eligible": ("符合交流条件教师", "teachers eligible to rotate"),
    "rotated_backbone": ("交流轮岗骨干教师", "backbone teachers rotated"),
    "nearby_enrolment_urban_pct": ("城区就近入学比例", "urban nearby enrolment"),
    "nearby_enrolment_town_pct": ("镇区就近入学比例", "town nearby enrolment"),
    "quality_hs_quota_pct": ("优质高中招生指标分配比例", "quality high-school quota allocated"),
    "migrant_public_pct": ("随迁子女公办学校就读比例", "migrant children in public schools"),
    "junior_retention_pct": ("初中三年巩固率", "junior secondary retention"),
    "disabled_enrolment_pct": ("残疾儿童少年入学率", "enrolment of disabled children"),
    "monitoring_level_iii_share_pct": ("质量监测达到Ⅲ级以上比例", "monitoring at level III or above"),
    "monitoring_difference_rate": ("质量监测校际差异率", "monitoring difference rate between schools"),
    "satisfaction_pct": ("社会认可度", "public satisfaction"),
    "quality_groups": ("优质教育集团", "quality education groups"),
    "training_institutions": ("教师培训机构", "teacher training institutions"),
    "qualified_teachers": ("高于规定学历教师", "teachers above the required qualification"),
    "backbone_teachers": ("县级以上骨干教师", "backbone teachers"),
    "pe_arts_teachers": ("体育、艺术专任教师", "PE and arts teachers"),
    "teaching_aux_area_m2": ("教学及辅助用房面积", "teaching and auxiliary room area"),
    "sports_area_m2": ("体育运动场馆面积", "sports ground and hall area"),
    "equipment_value_yuan": ("教学仪器设备值", "teaching equipment value"),
    "multimedia_rooms": ("网络多媒体教室", "multimedia classrooms"),
    "students": ("在校生", "students"),
}


def _bare(name: str) -> str:
    return name.split(".", 1)[1] if name.startswith(("stat.", "school.", "section.")) else name


def input_label(name: str) -> tuple[str, str]:
    """(zh, en) for an input name such as `stat.teacher_avg_pay_yuan`; the bare name when unknown."""
    bare = _bare(name)
    if bare in _LABELS:
        return _LABELS[bare]
    words = bare.replace("_", " ")
    return words, words


def unit_of(name: str) -> Unit:
    """The unit of an input from its name's convention (`*_yuan`, `*_m2`, `*_pct`, `*teachers`, …)."""
    bare = _bare(name).lower()
    if bare.endswith("_yuan") or bare == "yuan":
        return UNITS["yuan"]
    if bare.endswith("_m2"):
        return UNITS["m2"]
    if bare.endswith(("_pct", "_share", "percent")):
        return UNITS["pct"]
    if bare.endswith("teachers") or bare in ("rotated", "rotation_eligible", "rotated_backbone"):
        return UNITS["teachers"]
    if bare.endswith("rooms"):
        return UNITS["rooms"]
    if bare.endswith("students"):
        return UNITS["students"]
    if bare.endswith("groups"):
        return UNITS["groups"]
    if bare.endswith("institutions"):
        return UNITS["institutions"]
    if bare.endswith("schools"):
        return UNITS["schools"]
    return UNITS["none"]


def fmt_number(x: float, digits: int = 2) -> str:
    """Grouped digits, at most `digits` decimals, no trailing zeros: 7,500 · 0.8 · 1,234.57."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "?"
    s = f"{x:,.{digits}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def fmt_amount(x: float, unit: Unit, *, gap: bool = False) -> tuple[str, str]:
    """(zh, en) for an amount in `unit`. Money of ten thousand yuan or more is in 万元 in Chinese
    (10.89 万元) and grouped in English (108,900 yuan); whole units are rounded up when `gap` (a
    gap of 1.2 teachers is 2 teachers to hire); percentages of a gap are percentage points."""
    if unit.whole and gap:
        x = math.ceil(x - 1e-9)
    digits = 0 if unit.whole else (2 if unit.key != "yuan" or abs(x) < 100 else 0)
    if unit.key == "yuan":
        en = f"{fmt_number(x, digits)} yuan"
        zh = f"{fmt_number(x / 10000, 2)} 万元" if abs(x) >= 10000 else f"{fmt_number(x, digits)} 元"
        return zh, en
    if unit.points:
        if gap:
            return f"{fmt_number(x, 1)} 个百分点", f"{fmt_number(x, 1)} percentage points"
        return f"{fmt_number(x, 1)}%", f"{fmt_number(x, 1)}%"
    number = fmt_number(x, digits)
    if not unit.zh:
        return number, number
    en_unit = unit.en[:-1] if number == "1" and unit.whole and unit.en.endswith("s") else unit.en
    return f"{number} {unit.zh}", f"{number} {en_unit}"
