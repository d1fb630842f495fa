"""The columns a statistical report may carry, with the headers bureaus give them (English first).

Two kinds of sheet: a *sections* sheet (one row per school section per year: enrolment, teachers,
rooms and grounds) and a *roster* sheet (one row per school: who it is, which district it belongs
to). A sheet's kind is told by its header row, which is found by these names (see reading.py).
Headers are compared after :func:`normal`: spaces and line breaks removed, a unit in brackets
dropped (``教学及辅助用房面积（平方米）``), case folded.
"""

from __future__ import annotations

import re

__all__ = ["ROSTER", "ROSTER_REQUIRED", "SECTIONS", "SECTIONS_REQUIRED", "VALUES", "lookup", "normal"]

#: sections sheets: canonical column → accepted headers
SECTIONS: dict[str, tuple[str, ...]] = {
    "school_id": ("school_id", "学校标识码", "学校代码"),
    "district_code": ("district_code", "区县代码", "行政区划代码"),
    "year": ("year", "统计年度", "年度"),
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
SECTIONS_REQUIRED = ("school_id", "district_code", "year", "section", "students")

#: roster sheets (school.registered): canonical column → accepted headers
ROSTER: dict[str, tuple[str, ...]] = {
    "school_id": SECTIONS["school_id"],
    "district_code": SECTIONS["district_code"],
    "year": SECTIONS["year"],
    "name": ("name", "school_name", "学校名称"),
    "school_type": ("school_type", "学校类型", "办学类型"),
    "locale": ("locale", "城乡类型", "城乡分类"),
    "ownership": ("ownership", "举办者", "办学性质"),
    "boarding": ("boarding", "是否寄宿制学校", "寄宿制"),
    "opened_year": ("opened_year", "建校年份"),
    "closed_year": ("closed_year", "撤销年份", "停办年份"),
}
ROSTER_REQUIRED = ("school_id", "district_code", "year", "name", "school_type", "locale", "ownership")

#: cell values in either language → the contract's value, per column
VALUES: dict[str, dict[str, object]] = {
    "section": {
        "primary": "primary",
        "小学": "primary",
        "junior": "junior",
        "初中": "junior",
        "senior": "senior",
        "高中": "senior",
    },
    "school_type": {
        "primary": "primary",
        "小学": "primary",
        "junior": "junior",
        "初级中学": "junior",
        "初中": "junior",
        "nine_year": "nine_year",
        "九年一贯制学校": "nine_year",
        "九年一贯制": "nine_year",
        "twelve_year": "twelve_year",
        "十二年一贯制学校": "twelve_year",
        "十二年一贯制": "twelve_year",
        "complete_secondary": "complete_secondary",
        "完全中学": "complete_secondary",
        "teaching_point": "teaching_point",
        "教学点": "teaching_point",
        "special": "special",
        "特殊教育学校": "special",
    },
    "locale": {"urban": "urban", "城区": "urban", "town": "town", "镇区": "town", "rural": "rural", "乡村": "rural"},
    "ownership": {"public": "public", "公办": "public", "private": "private", "民办": "private"},
    "boarding": {
        "true": True,
        "yes": True,
        "是": True,
        "1": True,
        "false": False,
        "no": False,
        "否": False,
        "0": False,
    },
}

_UNIT = re.compile(r"[（(][^）)]*[）)]$")
_SPACE = re.compile(r"\s+")


def normal(header: object) -> str:
    """A header as compared: no spaces or line breaks, no trailing unit in brackets, case folded."""
    text = _SPACE.sub("", str(header or ""))
    return _UNIT.sub("", text).casefold()


def lookup(columns: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """normal(header) → canonical column."""
    return {normal(alias): canon for canon, aliases in columns.items() for alias in aliases}
