"""District-level facts: yearly statistics, inspections and calendar milestones.

A :class:`DistrictPlan` holds, for each district item (G6..SR, the assessed G/Q items, the city's
C6 and C13), the year it is first met, drawn like the schools' fix years: never after the attain
year, and beyond the generated years for a lagging district's ``lagging_items``. Money and counts
that the city plan watches year on year (education spending, training institutions, quality
groups) are kept as running series so that their trends are believable (spending never falls
except in a profile's ``spend_dip_year``, training institutions fall except in
``training_rise_year``).

The plan is used year by year in increasing order; it keeps the series' state between calls.
"""

from __future__ import annotations

import math
import random
from typing import Any

from .profiles import ASSESSED_ITEMS, CITY_ITEMS, STATISTIC_ITEMS, VETO_ITEMS, DistrictProfile
from .schools import FixYears, School
from .targets import SPECIAL_FUNDS_MIN, STORY_START
from .yearly import DistrictYear

_NOTES: dict[str, tuple[str, str]] = {
    "G1": ("学校布局规划合理,符合国家规定", "布局规划调整滞后,部分片区学位紧张"),
    "G2": ("城乡学校建设、编制、公用经费、装备标准统一", "城乡学校装备配置标准尚未统一"),
    "G10": ("教师编制岗位统筹调配到位", "部分学校编制岗位未按核定总量调配"),
    "Q3": ("学校章程健全,信息化管理规范", "部分学校章程修订滞后,信息化教学应用不足"),
    "Q5": ("教师信息技术应用熟练,设备使用率高", "部分农村学校多媒体设备使用率偏低"),
    "Q6": ("德育工作和校园文化建设均达到良好以上", "个别学校校园文化建设评价未达良好"),
    "Q7": ("课程开齐开足,教学秩序规范,实践活动有效", "部分学校艺术、科学课程未开足"),
    "Q8": ("学生课业负担合理", "部分学校作业总量超标,课业负担偏重"),
    "exam_admission": ("未发现以考试方式招生", "发现个别民办学校以测试方式选拔新生"),
    "illegal_school_choice": ("未发现违规择校", "发现违规跨片区择校"),
    "key_schools": ("未设置重点校、重点班", "发现个别学校变相设置重点班"),
    "falsified_data": ("未发现弄虚作假", "发现上报数据弄虚作假"),
    "major_incident": ("本年度未发生重大安全责任事故和严重违规事件", "发生重大安全责任事故"),
}
_INSPECTORS: tuple[str, ...] = (
    "王建国",
    "李秀英",
    "张伟",
    "刘洋",
    "陈静",
    "杨帆",
    "赵敏",
    "孙磊",
    "周婷",
    "吴强",
    "郑丽",
    "冯涛",
)
#: statistics fields the city plan tracks but attainment does not need: sometimes not reported
_OPTIONAL_FIELDS: tuple[str, ...] = (
    "training_institutions",
    "after_school_coverage_pct",
    "it_competition_rural_share_pct",
    "quality_groups",
)


def date(year: int, month: int, day: int) -> str:
    """``YYYY-MM-DD``."""
    return f"{year:04d}-{month:02d}-{day:02d}"


class DistrictPlan:
    """One district's item calendar and running series; produces its district.* payloads."""

    def __init__(self, profile: DistrictProfile, schools: list[School], years: range, rng: random.Random) -> None:
        self.profile = profile
        self.last_year = years[-1] if len(years) else STORY_START
        fix = FixYears(profile, self.last_year)
        self.item_fix: dict[str, int] = {}
        p = profile.archetype.item_defect
        for item in STATISTIC_ITEMS + ASSESSED_ITEMS + CITY_ITEMS:
            if fix.any_defects and rng.random() < p:
                self.item_fix[item] = fix.draw(rng)
        if profile.attain_year is None:
            for item in profile.lagging_items:
                self.item_fix[item] = fix.beyond
        self.has_town = any(s.locale == "town" for s in schools)
        self.has_rural = any(s.locale == "rural" for s in schools)
        w = profile.wealth
        self._civil_pay = 115_000.0 * w
        self._spend_pp = 21_000.0 * w * rng.uniform(0.95, 1.05)
        self._spend_total = 0
        self._training: int | None = None
        self._groups: int | None = None
        self._special = rng.uniform(6_200.0, 8_000.0) * w
        self._quota = {"primary": 900.0 * w, "junior": 1_150.0 * w, "senior": 1_400.0 * w}

    def failing(self, item: str, year: int) -> bool:
        """True when ``item`` is not met in ``year``."""
        f = self.item_fix.get(item)
        return f is not None and year < f

    def context(self, year: int) -> DistrictYear:
        """The district-wide settings its schools are funded under in ``year``."""
        g = 1.04 ** (year - STORY_START)
        special = max(self._special * g, SPECIAL_FUNDS_MIN * 1.02)
        if self.failing("G7", year):  # below the national floor only while G7 is open
            special = min(special, SPECIAL_FUNDS_MIN * 0.9)
        return DistrictYear(
            year=year,
            quota={lv: round(q * g) for lv, q in self._quota.items()},
            special_funds=float(math.ceil(special)),
            g6_applied=not self.failing("G6", year),
        )

    def registered(self) -> dict[str, Any]:
        """district.registered payload."""
        p = self.profile
        return {
            "name": p.name_zh,
            "basic_balance_year": p.basic_balance_year,
            "declared_creation_year": p.declared_creation_year,
        }

    def statistics(
        self, year: int, students: int, teachers: int, special_funds: float, rng: random.Random
    ) -> dict[str, Any]:
        """district.statistics payload; ``students``/``teachers`` are the year's compulsory totals."""
        u = rng.uniform
        bad = self.failing
        students = max(1, students)
        eligible = max(10, round(teachers * u(0.15, 0.22)))
        if bad("G11", year):
            rotated = math.floor(eligible * u(0.06, 0.098))
            backbone = math.floor(rotated * u(0.10, 0.19))
        else:
            rotated = math.ceil(eligible * u(0.105, 0.15))
            backbone = math.ceil(rotated * u(0.21, 0.30))
        civil = round(self._civil_pay * 1.035 ** (year - STORY_START))
        pay = math.floor(civil * u(0.93, 0.99)) if bad("G8", year) else math.ceil(civil * u(1.0, 1.05))
        # C12: spending never falls, in total and per student, except in a dip year
        if year == self.profile.spend_dip_year:
            self._spend_pp *= u(0.96, 0.985)
            total = round(self._spend_pp * students)
        else:
            self._spend_pp *= u(1.03, 1.07)
            total = round(self._spend_pp * students)
            if total < self._spend_total * 1.01:
                total = math.ceil(self._spend_total * 1.01)
                self._spend_pp = total / students
        self._spend_total = total
        # C11: subject-type training institutions fall every year, except in a rise year
        if self._training is None:
            self._training = max(3, round(students / u(1_200.0, 2_000.0)))
        elif year == self.profile.training_rise_year:
            self._training = self._training + max(1, round(self._training * u(0.02, 0.08)))
        else:
            self._training = max(0, min(self._training - 1, math.floor(self._training * u(0.7, 0.9))))
        if self._groups is None:
            self._groups = max(1, round(students / 40_000 * u(0.8, 1.5)))
        elif rng.random() < 0.6:
            self._groups += 1
        out: dict[str, Any] = {
            "rotation_eligible": eligible,
            "rotated": rotated,
            "rotated_backbone": backbone,
            "teacher_avg_pay_yuan": pay,
            "civil_servant_avg_pay_yuan": civil,
            "special_ed_funds_per_student_yuan": special_funds,
            "nearby_enrolment_urban_pct": round(u(97.0, 99.8), 1) if bad("G13", year) else 100.0,
            "nearby_enrolment_town_pct": round(u(90.0, 94.8) if bad("G13", year) else u(95.1, 99.9), 1),
            "quality_hs_quota_pct": round(u(38.0, 49.5) if bad("G14", year) else u(50.5, 62.0), 1),
            "migrant_public_pct": round(u(76.0, 84.5) if bad("G15", year) else u(85.5, 98.0), 1),
            "junior_retention_pct": round(u(92.0, 94.8) if bad("Q1", year) else u(95.2, 99.8), 1),
            "disabled_enrolment_pct": round(u(88.0, 94.8) if bad("Q2", year) else u(95.2, 99.5), 1),
            # share of monitored subjects at level III or above (the catalogue asks for all);
            # a lagging district has one or two subjects below level III
            "monitoring_level_iii_share_pct": _level_iii_share(
                u(64.0, 79.5) if bad("Q9", year) else u(82.0, 95.0), bad("Q9", year)
            ),
            "monitoring_difference_rate": round(u(0.155, 0.24) if bad("Q9", year) else u(0.06, 0.14), 3),
            "satisfaction_pct": round(u(79.0, 84.6) if bad("SR", year) else u(86.0, 96.0), 1),
            "education_spend_yuan": total,
            "education_spend_per_student_yuan": round(total / students, 2),
            "training_institutions": self._training,
            "after_school_coverage_pct": round(u(92.0, 99.5), 1) if bad("C13", year) else 100.0,
            "it_competition_rural_share_pct": round(u(18.0, 29.5) if bad("C6", year) else u(30.5, 45.0), 1),
            "quality_groups": self._groups,
        }
        if not self.has_town:
            del out["nearby_enrolment_town_pct"]  # no town schools: nothing to report
        if not self.has_rural:
            del out["it_competition_rural_share_pct"]
        for f in _OPTIONAL_FIELDS:
            if f in out and rng.random() < 0.05:
                del out[f]  # not reported this year: absent means unknown
        return out

    def inspections(self, year: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
        """(date, district.inspection payload) for each of the 13 items, in date order."""
        vetoes = {item for y, item in self.profile.vetoes if y == year}
        inspector_org = "青岛市人民政府教育督导室" if self.profile.code.startswith("3702") else "省人民政府教育督导室"
        out = []
        day_of_year = 5
        for item in ASSESSED_ITEMS + VETO_ITEMS:
            fail = (item in vetoes) if item in VETO_ITEMS else self.failing(item, year)
            day_of_year += 1 + int(rng.random() * 5)
            month, day = 1 + (day_of_year - 1) // 28, 1 + (day_of_year - 1) % 28
            name = _INSPECTORS[int(rng.random() * len(_INSPECTORS))]
            out.append(
                (
                    date(year + 1, month, day),
                    {
                        "item": item,
                        "result": "fail" if fail else "pass",
                        "note": _NOTES[item][1 if fail else 0],
                        "inspector": f"{inspector_org} 督学{name}",
                    },
                )
            )
        return out

    def milestones(self, year: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
        """(date, district.milestone payload) of the D1–D3 calendar for ``year``, in date order.

        Every district self-assesses (D1, 31 Dec) and is assessed by the city (D2, 31 Mar); a
        district applies (D3, 31 May) in the year its data first meet the standard and is
        recognised in the autumn after, if that autumn is inside the generated years.
        """
        slips = {kind: how for y, kind, how in self.profile.slips if y == year}

        def day(lo: int, hi: int) -> int:
            return lo + int(rng.random() * (hi - lo + 1))

        plan: list[tuple[str, tuple[int, int, int], tuple[int, int, int]]] = [
            ("self_assessment", (year, 12, day(5, 28)), (year + 1, 1, day(5, 25))),
            ("city_assessment", (year + 1, 3, day(18, 28)), (year + 1, 4, day(5, 25))),
        ]
        if year == self.profile.attain_year:
            plan.append(("recognition_application", (year + 1, 5, day(5, 28)), (year + 1, 6, day(5, 25))))
            if year + 1 <= self.last_year:
                plan.append(("recognised", (year + 1, 11, day(1, 28)), (year + 1, 12, day(1, 28))))
        out = []
        for kind, on_time, late in plan:
            how = slips.get(kind)
            if how == "missing":
                continue
            y, m, d = late if how == "late" else on_time
            out.append((date(y, m, d), {"kind": kind, "on": date(y, m, d)}))
        return out


def _level_iii_share(draw: float, lagging: bool) -> float:
    """Map a draw to a share of subjects (of 4 or 6 monitored) at level III or above: 100 unless
    lagging. The draw is kept so the random stream, and every other value, stays the same."""
    if not lagging:
        return 100.0
    return 75.0 if draw >= 72.0 else 66.7
