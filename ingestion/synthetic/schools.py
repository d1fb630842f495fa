"""School skeletons: the static facts of each school and its hidden "defects".

A skeleton is what does not change from year to year (type, locale, name, typical enrolment) plus
the levers the yearly model pulls:

* ``quality`` — per assessed level, seven multipliers of the R1..R7 thresholds that the section
  reaches once it is compliant (1.0 = exactly at the threshold).
* ``defects`` — sparse map from a defect key to ``(fix_year, start_level)``. Before ``fix_year``
  the value starts at ``start_level`` × threshold in 2021 and climbs towards the threshold (the
  city's yearly improvement); from ``fix_year`` on it is compliant. Keys are ``"R4:junior"`` style
  for section indicators and ``class_size``, ``school_size``, ``rooms``, ``cert``, ``train360``,
  ``training_budget`` for school-level requirements (G5, G4, G3, G12, G9, Q4).

Fix years never exceed the district's ``attain_year``, which is how the district-level story
(who attains when) follows from school-level data without the generator evaluating any rule.
Skeletons use ``__slots__`` because a national benchmark holds 200,000 of them at once.
"""

from __future__ import annotations

import math
import random

from .profiles import SCHOOL_TYPES, DistrictProfile
from .targets import (
    INDICATORS,
    SCHOOL_LIMIT_COMBINED,
    SCHOOL_LIMIT_SINGLE,
    STORY_START,
)

#: Enrolment sections per school type (senior is reported but never assessed).
TYPE_LEVELS: dict[str, tuple[str, ...]] = {
    "primary": ("primary",),
    "junior": ("junior",),
    "nine_year": ("primary", "junior"),
    "twelve_year": ("primary", "junior", "senior"),
    "complete_secondary": ("junior", "senior"),
    "teaching_point": ("primary",),
    "special": ("primary",),
}

#: Typical students per section by (type, level) for (urban, town, rural).
_TYPICAL: dict[tuple[str, str], tuple[float, float, float]] = {
    ("primary", "primary"): (1500, 1050, 420),
    ("junior", "junior"): (1350, 1150, 600),
    ("nine_year", "primary"): (1100, 750, 380),
    ("nine_year", "junior"): (650, 480, 260),
    ("twelve_year", "primary"): (900, 700, 600),
    ("twelve_year", "junior"): (700, 550, 450),
    ("twelve_year", "senior"): (800, 700, 600),
    ("complete_secondary", "junior"): (800, 700, 500),
    ("complete_secondary", "senior"): (1500, 1200, 900),
}
_LOCALE_INDEX: dict[str, int] = {"urban": 0, "town": 1, "rural": 2}

#: Average class size of a compliant school by level for (urban, town, rural).
_CLASS_AVG: dict[str, tuple[float, float, float]] = {
    "primary": (42.0, 40.0, 32.0),
    "junior": (46.5, 44.0, 38.0),
    "senior": (47.0, 45.0, 42.0),
}
#: Full-time teachers per 100 students by level for (urban, town, rural).
_FT_RATIO: dict[str, tuple[float, float, float]] = {
    "primary": (5.3, 5.7, 6.8),
    "junior": (7.6, 8.0, 9.0),
}
#: Upper end of the compliant multiplier per indicator (lower end is 1.0).
_QUALITY_HI: tuple[float, ...] = (1.22, 2.2, 1.7, 1.5, 1.8, 1.6, 1.5)

_PLACES = "海宁安和平兴华丰泰康明德正阳新春东西南北中山河湖泉林石桥台庄埠岭泊湾港昌盛福顺嘉瑞"
_NAME_TEMPLATES: dict[str, tuple[str, ...]] = {
    "primary": ("{p}路小学", "{p}小学", "实验小学{p}校区", "{p}镇中心小学"),
    "junior": ("{p}中学", "{p}初级中学", "{p}镇中学"),
    "nine_year": ("{p}学校", "{p}九年一贯制学校"),
    "twelve_year": ("{p}外国语学校", "{p}十二年一贯制学校"),
    "complete_secondary": ("{p}中学", "第{n}中学"),
    "teaching_point": ("{p}村教学点", "{p}庄教学点"),
    "special": ("特殊教育学校", "{p}启智学校"),
}


class School:
    """Static facts of one school plus the hidden levers of its yearly values."""

    __slots__ = (
        "school_id",
        "district_code",
        "school_type",
        "locale",
        "ownership",
        "boarding",
        "opened_year",
        "closed_year",
        "name",
        "levels",
        "assessed",
        "base",
        "quality",
        "defects",
        "ft_ratio",
        "class_avg",
        "crowd_avg",
        "whole_school",
        "growth",
    )

    def __init__(self, school_id: str, district_code: str, school_type: str, locale: str) -> None:
        self.school_id = school_id
        self.district_code = district_code
        self.school_type = school_type
        self.locale = locale
        self.ownership = "public"
        self.boarding = False
        self.opened_year: int | None = None
        self.closed_year: int | None = None
        self.name = ""
        self.levels: tuple[str, ...] = TYPE_LEVELS[school_type]
        self.assessed: tuple[str, ...] = tuple(lv for lv in self.levels if lv != "senior")
        self.base: dict[str, int] = {}
        self.quality: dict[str, list[float]] = {}
        self.defects: dict[str, tuple[int, float]] | None = None
        self.ft_ratio: dict[str, float] = {}
        self.class_avg: dict[str, float] = {}
        self.crowd_avg: dict[str, float] = {}
        self.whole_school = True
        self.growth = 0.0

    @property
    def compulsory_limit(self) -> int:
        """G4 limit on the compulsory part of this school."""
        if self.school_type in ("nine_year", "twelve_year"):
            return SCHOOL_LIMIT_COMBINED
        return SCHOOL_LIMIT_SINGLE

    def is_open(self, year: int) -> bool:
        """True when the school reports facts for ``year``."""
        if self.opened_year is not None and year < self.opened_year:
            return False
        return self.closed_year is None or year < self.closed_year

    def add_defect(self, key: str, fix_year: int, start: float) -> None:
        """Record that ``key`` is below its requirement until ``fix_year``."""
        if self.defects is None:
            self.defects = {}
        self.defects[key] = (fix_year, start)

    def defect(self, key: str, year: int) -> tuple[int, float] | None:
        """The defect ``key`` if it is still open in ``year``, else None."""
        if self.defects is None:
            return None
        d = self.defects.get(key)
        if d is None or year >= d[0]:
            return None
        return d


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder).

    Deterministic and exact, so a test can rely on the number of schools per district and type.
    """
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    raw = [total * w / s for w in weights]
    parts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


class FixYears:
    """Draws fix years for a district: never after its attain year, some beyond the horizon."""

    def __init__(self, profile: DistrictProfile, last_year: int) -> None:
        self.attain = profile.attain_year
        self.last_year = last_year
        #: a district that does not attain keeps some defects until after the generated years
        self.beyond = max(last_year, 2025) + 2
        self.high = self.attain if self.attain is not None else self.beyond

    @property
    def any_defects(self) -> bool:
        """False for districts that already met the standard when the story starts."""
        return self.high > STORY_START

    def draw(self, rng: random.Random) -> int:
        """A fix year in (STORY_START, high].

        A lagging district fixes most things within the generated years too (it is slow, not
        stuck): only about one defect in six lasts beyond them.
        """
        if self.attain is None and rng.random() < 0.83:
            return rng.randint(STORY_START + 1, max(STORY_START + 1, self.last_year))
        return rng.randint(STORY_START + 1, self.high)


def _name(profile: DistrictProfile, school_type: str, locale: str, rng: random.Random, number: int) -> str:
    templates = _NAME_TEMPLATES[school_type]
    if school_type == "primary" and locale == "urban":
        templates = templates[:3]
    tpl = templates[int(rng.random() * len(templates))]
    place = _PLACES[int(rng.random() * len(_PLACES))] + _PLACES[int(rng.random() * len(_PLACES))]
    return profile.name_zh + tpl.format(p=place, n=number % 90 + 2)


def _locale(profile: DistrictProfile, school_type: str, rng: random.Random) -> str:
    if school_type == "teaching_point":
        return "rural"
    mix = profile.archetype.locale_mix
    if school_type in ("special", "twelve_year"):
        mix = (mix[0] + mix[2], mix[1], 0.0)  # special and twelve-year schools sit in towns
    r = rng.random() * sum(mix)
    if r < mix[0]:
        return "urban"
    if r < mix[0] + mix[1]:
        return "town"
    return "rural"


def _enrolment_base(school: School, profile: DistrictProfile, rng: random.Random) -> None:
    st = school.school_type
    if st == "teaching_point":
        school.base["primary"] = max(8, min(120, int(math.exp(rng.gauss(math.log(36), 0.5)))))
        return
    if st == "special":
        school.base["primary"] = rng.randint(60, 260)
        return
    li = _LOCALE_INDEX[school.locale]
    size = profile.archetype.size
    for level in school.levels:
        mean = _TYPICAL[(st, level)][li] * size
        school.base[level] = max(40, int(mean * math.exp(rng.gauss(0.0, 0.3) - 0.045)))


def _school_level_defects(school: School, profile: DistrictProfile, fix: FixYears, rng: random.Random) -> None:
    arch = profile.archetype
    limit = school.compulsory_limit
    compulsory = sum(school.base.get(lv, 0) for lv in school.assessed)
    big_candidate = school.school_type in ("primary", "junior", "nine_year") and (compulsory > 0.55 * limit)
    if fix.any_defects and big_candidate and rng.random() < arch.big_school:
        # a large-scale school (G4, C3): over the limit until it is split or relieved
        target = rng.uniform(1.03, 1.4) * limit
        scale = target / compulsory
        for lv in school.assessed:
            school.base[lv] = int(school.base[lv] * scale)
        school.add_defect("school_size", fix.draw(rng), rng.uniform(0.86, 0.98))
    if fix.any_defects and school.school_type not in ("teaching_point", "special"):
        if rng.random() < arch.crowding or "school_size" in (school.defects or {}):
            school.add_defect("class_size", fix.draw(rng), 0.0)
        for key, p in arch.school_defects.items():
            if rng.random() < p:
                school.add_defect(key, fix.draw(rng), 0.0)


def _section_quality(school: School, profile: DistrictProfile, fix: FixYears, rng: random.Random) -> None:
    arch = profile.archetype
    tiny = school.school_type == "teaching_point"
    wealth = min(1.2, max(0.8, profile.wealth))
    for level in school.assessed:
        q = []
        for k in range(len(INDICATORS)):
            hi = _QUALITY_HI[k]
            if tiny and k in (3, 4):  # small schools have room to spare
                q.append(rng.uniform(1.4, 2.6))
            else:
                q.append(1.0 + (hi - 1.0) * rng.random() * wealth)
        if school.school_type != "special" and rng.random() < arch.grounds_short:
            q[4] = rng.uniform(0.86, 0.99)  # RA-S lets one indicator sit at >= 85 %
        school.quality[level] = q
        if not fix.any_defects or school.school_type == "special":
            continue
        for k, p in enumerate(arch.weakness):
            if rng.random() < p:
                school.add_defect(f"{INDICATORS[k]}:{level}", fix.draw(rng), rng.uniform(0.55, 0.92))


def _shape(school: School, profile: DistrictProfile, rng: random.Random) -> None:
    li = _LOCALE_INDEX[school.locale]
    bias = profile.archetype.class_bias
    for level in school.levels:
        if level in _FT_RATIO:
            school.ft_ratio[level] = _FT_RATIO[level][li] * rng.uniform(0.92, 1.08)
        limit = 45 if level == "primary" else 50
        avg = _CLASS_AVG[level][li] + bias + rng.gauss(0.0, 1.5)
        school.class_avg[level] = min(limit - 1.5, max(20.0, avg))
        # the average class size of a crowded school in 2021 (large classes, some >= 56)
        school.crowd_avg[level] = limit + rng.uniform(4.0, 8.0)
    if school.school_type == "special":
        school.ft_ratio["primary"] = rng.uniform(24.0, 32.0)


def build_district_schools(
    profile: DistrictProfile, count: int, first_number: int, years: range, rng: random.Random
) -> list[School]:
    """Skeletons of ``count`` schools of one district, numbered from ``first_number``.

    A few schools (growing districts) open during the years and a few rural teaching points are
    merged away, so ``count`` is the number of schools ever registered, not the number open in a
    given year. The order of the list is the registration order.
    """
    arch = profile.archetype
    fix = FixYears(profile, years[-1] if len(years) else STORY_START)
    opening_years = [y for y in years if y > STORY_START]
    n_new = round(count * arch.new_school_rate) if opening_years else 0
    if count - n_new < 1:
        n_new = 0
    type_counts = allocate(count - n_new, [arch.type_mix[t] for t in SCHOOL_TYPES])
    types: list[str] = []
    for t, c in zip(SCHOOL_TYPES, type_counts):
        types.extend([t] * c)
    rng.shuffle(types)
    prefix = profile.code[:4]
    schools: list[School] = []
    number = first_number
    for st in types:
        school = School(f"{prefix}{number:06d}", profile.code, st, _locale(profile, st, rng))
        if rng.random() < 0.7:
            school.opened_year = int(1950 + 69 * rng.random() ** 0.7)
        schools.append(school)
        number += 1
    for i in range(n_new):
        st = ("primary", "primary", "junior", "nine_year")[int(rng.random() * 4)]
        locale = "urban" if rng.random() < arch.locale_mix[0] else "town"
        school = School(f"{prefix}{number:06d}", profile.code, st, locale)
        school.opened_year = opening_years[i % len(opening_years)]
        schools.append(school)
        number += 1
    for school in schools:
        st = school.school_type
        school.name = _name(profile, st, school.locale, rng, int(school.school_id[-6:]))
        if st not in ("teaching_point", "special"):
            p_private = {"urban": 0.10, "town": 0.06, "rural": 0.02}[school.locale]
            school.ownership = "private" if rng.random() < p_private else "public"
        if st == "special" or st == "twelve_year":
            school.boarding = rng.random() < 0.5
        elif st != "teaching_point":
            p_board = {"urban": 0.03, "town": 0.2, "rural": 0.4}[school.locale]
            if st == "primary":
                p_board /= 5
            school.boarding = rng.random() < p_board
        school.whole_school = st in ("teaching_point", "special") or rng.random() < {
            "nine_year": 0.7,
            "twelve_year": 0.5,
            "complete_secondary": 0.5,
        }.get(st, 0.75)
        school.growth = arch.growth + rng.gauss(0.0, 0.01)
        _enrolment_base(school, profile, rng)
        _shape(school, profile, rng)
        _section_quality(school, profile, fix, rng)
        new = school.opened_year is not None and school.opened_year > STORY_START
        if not new:  # new schools are built to the standard
            _school_level_defects(school, profile, fix, rng)
    _guarantee_story(schools, fix, rng)
    teaching_points = [s for s in schools if s.school_type == "teaching_point"]
    n_close = round(len(teaching_points) * arch.closure_rate) if opening_years else 0
    for i, school in enumerate(rng.sample(teaching_points, n_close)):
        school.closed_year = opening_years[i % len(opening_years)]
    return schools


def _guarantee_story(schools: list[School], fix: FixYears, rng: random.Random) -> None:
    """Make the district's pre-attainment years fail for certain, and laggards miss the horizon.

    Random defects alone could all be fixed early by chance; one ordinary school keeps two clear
    R-indicator defects until the attain year (so each earlier year fails RA-S), and a district
    without an attain year keeps equipment gaps in a few schools beyond the generated years.
    """
    if not fix.any_defects:
        return
    regular = [
        s
        for s in schools
        if s.school_type not in ("teaching_point", "special")
        and (s.opened_year is None or s.opened_year <= STORY_START)
    ]
    if not regular:
        return
    if fix.attain is not None:
        s = regular[int(rng.random() * len(regular))]
        level = s.assessed[0]
        s.add_defect(f"R4:{level}", fix.attain, 0.7)
        s.add_defect(f"R6:{level}", fix.attain, 0.65)
        return
    n = max(1, len(regular) // 30)
    for s in rng.sample(regular, n):
        level = s.assessed[-1]
        s.add_defect(f"R6:{level}", fix.beyond, rng.uniform(0.55, 0.7))
        s.add_defect(f"R1:{level}", fix.beyond, rng.uniform(0.6, 0.75))
