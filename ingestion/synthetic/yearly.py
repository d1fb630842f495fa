"""One school's facts for one statistical year: enrolment, staff, facilities, finance.

Values are produced from the skeleton's multipliers (see :mod:`.schools`): a compliant indicator
is rounded *up* (so it stays on the right side of the threshold after rounding) and a failing one
is rounded *down*. Everything a consumer checks for consistency holds by construction:
``len(class_sizes) == classes``, ``sum(class_sizes) == students``, every teacher count ≤
full-time teachers, training spend ≤ budget.

Payload notes the contract leaves open and this generator fixes:

* ``public_funds_per_student_yuan`` is the per-student base quota (生均公用经费基准定额) the school
  is funded at, weighted over its levels. The budget is quota × students, and for a small village
  school or teaching point whose district applies G6, quota × 100 — so G6 reads as
  ``budget >= 100 * public_funds_per_student_yuan``.
* Whole-school facilities (``school``) are sized on the strictest level's threshold so that
  apportioning by enrolment keeps every compliant section compliant.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from .schools import School
from .targets import (
    ART_ROOM_MIN_M2,
    CLASS_LIMIT,
    CLASSES_PER_ROOM,
    INDICATORS,
    LARGE_CLASS,
    MUSIC_ROOM_MIN_M2,
    SMALL_SCHOOL_FUNDED_AS,
    STORY_START,
    THRESHOLDS,
    TRAINING_SHARE_MIN,
)

#: Yearly improvement of a compliant value, per indicator (equipment and IT move fastest).
_DRIFT: tuple[float, ...] = (0.01, 0.02, 0.015, 0.01, 0.01, 0.03, 0.02)
_KEYS: dict[str, tuple[str, ...]] = {lv: tuple(f"{ind}:{lv}" for ind in INDICATORS) for lv in ("primary", "junior")}
_THR: dict[str, tuple[float, ...]] = {
    "primary": tuple(THRESHOLDS[i][0] for i in INDICATORS),
    "junior": tuple(THRESHOLDS[i][1] for i in INDICATORS),
}


@dataclass(slots=True)
class DistrictYear:
    """What a district decides for all its schools in one year."""

    year: int
    #: per-student public funds base quota by level, yuan (one quota for town and country: G2)
    quota: dict[str, float]
    #: per-student public funds of special schools (G7)
    special_funds: float
    #: small village schools funded as if they had 100 students (G6)
    g6_applied: bool


@dataclass(slots=True)
class SchoolYear:
    """The four fact payloads of a school-year, plus totals the district statistics need."""

    enrolment: dict[str, Any]
    staff: dict[str, Any]
    facilities: dict[str, Any]
    finance: dict[str, Any]
    students: int
    teachers: int


def _progress(year: int, fix_year: int) -> float:
    return (max(year, STORY_START) - STORY_START) / (fix_year - STORY_START)


def multiplier(school: School, level: str, k: int, year: int) -> tuple[float, bool]:
    """Indicator ``k`` of a section as a multiple of its threshold, and whether it passes."""
    q = school.quality[level][k]
    if school.defects is not None:
        d = school.defects.get(_KEYS[level][k])
        if d is not None and year < d[0]:
            return d[1] + (0.97 - d[1]) * _progress(year, d[0]), False
    if q >= 1.0:
        return q * (1.0 + _DRIFT[k] * max(0, year - STORY_START)), True
    return q, False  # sports grounds just short of R5 for good (urban cores)


def _students(school: School, year: int, rng: random.Random) -> dict[str, int]:
    growth = (1.0 + school.growth) ** (year - STORY_START)
    opened = school.opened_year
    new = opened is not None and opened > STORY_START
    out: dict[str, int] = {}
    for lv in school.levels:
        b = school.base[lv] * growth
        if new:
            b *= min(1.0, (year - opened + 1) / (6 if lv == "primary" else 3))  # type: ignore[operator]
        out[lv] = max(3, int(round(b * (1.0 + rng.gauss(0.0, 0.02)))))
    limit = school.compulsory_limit
    d = school.defects.get("school_size") if school.defects is not None else None
    if d is None or year >= d[0]:
        cap = limit * (d[1] if d is not None else 0.97)
        compulsory = sum(out[lv] for lv in school.assessed)
        if compulsory > cap:
            for lv in school.assessed:
                out[lv] = max(3, int(out[lv] * cap / compulsory))
    return out


def split_classes(students: int, classes: int, cap: int, jitter: int, rng: random.Random) -> list[int]:
    """``classes`` sizes summing to ``students``, none above ``cap``, some unevenness.

    Starts even and moves a few pupils between random pairs of classes; one 32-bit draw per move
    (two 10-bit class indices and a step) keeps this, the hottest loop of the generator, cheap.
    """
    base, rem = divmod(students, classes)
    sizes = [base + 1] * rem + [base] * (classes - rem)
    if classes > 1 and jitter:
        bits = rng.getrandbits
        wide = classes > 1024
        for _ in range(classes):
            b = bits(32)
            if wide:
                i, j = b % classes, (b >> 11) % classes
            else:
                i, j = (b & 0x3FF) % classes, ((b >> 10) & 0x3FF) % classes
            d = 1 + (b >> 24) % jitter
            if i != j and sizes[i] - d >= 1 and sizes[j] + d <= cap:
                sizes[i] -= d
                sizes[j] += d
    return sizes


def _class_sizes(school: School, level: str, students: int, year: int, rng: random.Random) -> list[int]:
    st = school.school_type
    limit = CLASS_LIMIT[level]
    if st == "teaching_point":  # multi-grade classes, one to six
        return split_classes(students, min(students, 6, max(1, round(students / 9))), limit, 1, rng)
    if st == "special":
        return split_classes(students, max(1, math.ceil(students / 10)), 12, 1, rng)
    d = school.defect("class_size", year)
    if d is None:
        avg, cap, jitter = school.class_avg[level], limit, 2
    else:
        a0 = school.crowd_avg[level]
        avg = a0 + (limit - 0.5 - a0) * _progress(year, d[0])
        cap, jitter = LARGE_CLASS + 8, 4
    # one seat of headroom below the cap leaves room for uneven classes
    classes = max(1, math.ceil(students / (cap - 1)), round(students / avg))
    sizes = split_classes(students, classes, cap, jitter, rng)
    if d is not None and classes > 1 and max(sizes) <= limit:
        # still crowded: at least one class over the G5 limit until the fix year
        k = limit + 1 - sizes[0]
        if sizes[1] - k >= 1:
            sizes[0] += k
            sizes[1] -= k
    return sizes


def _count(m: float, thr: float, students: int, passing: bool) -> int:
    need = m * thr * students / 100.0
    return math.ceil(need) if passing else math.floor(need)


def _amount(x: float, passing: bool, scale: int = 10) -> float:
    return (math.ceil(x * scale) if passing else math.floor(x * scale)) / scale


def _staff_section(
    school: School, level: str, students: int, classes: int, year: int, rng: random.Random
) -> dict[str, int]:
    thr = _THR[level]
    counts = []
    for k in range(3):
        m, ok = multiplier(school, level, k, year)
        counts.append(_count(m, thr[k], students, ok))
    qualified, backbone, pe_arts = counts
    ft = max(1, math.ceil(school.ft_ratio[level] * students / 100.0), math.ceil(qualified / 0.95), backbone, pe_arts)
    if school.school_type == "teaching_point":
        ft = max(ft, classes)
    certified = ft
    if school.defect("cert", year) is not None:
        certified = ft - max(1, round(ft * rng.uniform(0.01, 0.05)))
    trained = ft
    if school.defect("train360", year) is not None:
        trained = ft - max(1, round(ft * rng.uniform(0.03, 0.12)))
    return {
        "full_time_teachers": ft,
        "qualified_teachers": qualified,
        "backbone_teachers": backbone,
        "pe_arts_teachers": pe_arts,
        "certified_teachers": max(0, certified),
        "trained_360h_teachers": max(0, trained),
    }


def _facility_block(ms: list[tuple[float, bool]], thr: list[float], students: int) -> dict[str, float | int]:
    (m4, ok4), (m5, ok5), (m6, ok6), (m7, ok7) = ms
    return {
        "teaching_aux_area_m2": _amount(m4 * thr[0] * students, ok4),
        "sports_area_m2": _amount(m5 * thr[1] * students, ok5),
        "equipment_value_yuan": (math.ceil if ok6 else math.floor)(m6 * thr[2] * students),
        "multimedia_rooms": _count(m7, thr[3], students, ok7),
    }


def _rooms(school: School, classes: int, year: int, rng: random.Random) -> tuple[list[float], list[float]]:
    need = 1 if school.school_type == "special" else max(1, math.ceil(classes / CLASSES_PER_ROOM))
    rnd = rng.random
    if school.defect("rooms", year) is None:
        n = need + (1 if rnd() < 0.25 else 0)
        music = [math.ceil((MUSIC_ROOM_MIN_M2 + 54.0 * rnd()) * 10) / 10 for _ in range(n)]
        art = [math.ceil((ART_ROOM_MIN_M2 + 50.0 * rnd()) * 10) / 10 for _ in range(n)]
        return music, art
    # G3 not met yet: too few rooms, or a converted classroom that is too small
    if need >= 2 and rnd() < 0.5:
        n = need - 1
        music = [round(MUSIC_ROOM_MIN_M2 + 40.0 * rnd(), 1) for _ in range(n)]
        art = [round(ART_ROOM_MIN_M2 + 40.0 * rnd(), 1) for _ in range(n if rnd() < 0.5 else need)]
        return music, art
    music = [round(MUSIC_ROOM_MIN_M2 + 40.0 * rnd(), 1) for _ in range(need)]
    art = [round(ART_ROOM_MIN_M2 + 40.0 * rnd(), 1) for _ in range(need)]
    if rnd() < 0.5:
        music[0] = round(58.0 + 37.0 * rnd(), 1)
    else:
        art[0] = round(56.0 + 33.0 * rnd(), 1)
    return music, art


def school_year(school: School, ctx: DistrictYear, rng: random.Random) -> SchoolYear:
    """All four fact payloads of ``school`` for ``ctx.year``."""
    year = ctx.year
    students = _students(school, year, rng)
    sections: dict[str, dict[str, Any]] = {}
    classes_by_level: dict[str, int] = {}
    for lv in school.levels:
        sizes = _class_sizes(school, lv, students[lv], year, rng)
        sections[lv] = {"students": students[lv], "classes": len(sizes), "class_sizes": sizes}
        classes_by_level[lv] = len(sizes)
    staff = {lv: _staff_section(school, lv, students[lv], classes_by_level[lv], year, rng) for lv in school.assessed}
    total = sum(students.values())
    facilities: dict[str, Any] = {}
    music, art = _rooms(school, sum(classes_by_level.values()), year, rng)
    facilities["music_room_areas_m2"] = music
    facilities["art_room_areas_m2"] = art
    if school.whole_school:
        ms = []
        thr = []
        for k in range(3, 7):
            per = [multiplier(school, lv, k, year) for lv in school.assessed]
            m = min(p[0] for p in per)
            ms.append((m, all(p[1] for p in per) and m >= 1.0))
            thr.append(max(_THR[lv][k] for lv in school.assessed))
        facilities["school"] = _facility_block(ms, thr, total)
    else:
        facilities["sections"] = {
            lv: _facility_block(
                [multiplier(school, lv, k, year) for k in range(3, 7)], list(_THR[lv][3:7]), students[lv]
            )
            for lv in school.assessed
        }
    if school.school_type == "special":
        per_student = ctx.special_funds
    else:
        per_student = round(sum(ctx.quota[lv] * n for lv, n in students.items()) / total, 2)
    funded = total
    if ctx.g6_applied and total < SMALL_SCHOOL_FUNDED_AS and school.locale == "rural":
        funded = SMALL_SCHOOL_FUNDED_AS
    budget = math.ceil(per_student * funded)
    if school.defect("training_budget", year) is None:
        training = math.ceil(budget * rng.uniform(TRAINING_SHARE_MIN, 0.085))
    else:
        training = math.floor(budget * rng.uniform(0.02, TRAINING_SHARE_MIN - 0.002))
    finance = {
        "public_funds_budget_yuan": budget,
        "teacher_training_yuan": min(training, budget),
        "public_funds_per_student_yuan": per_student,
    }
    return SchoolYear(
        enrolment={"sections": sections},
        staff={"sections": staff},
        facilities=facilities,
        finance=finance,
        students=sum(students[lv] for lv in school.assessed),
        teachers=sum(s["full_time_teachers"] for s in staff.values()),
    )
