"""District profiles: who is crowded, who is rural, who attains the standard when.

The story lives here rather than in the number-crunching modules so that it can be read and changed
in one place. An *archetype* says what kind of place a district is (urban core, mostly rural...) and
therefore what its schools look like; a *profile* is one district: its real code and name, its
archetype, its share of the city's schools and its calendar (basic-balance year, declared creation
year and the year its data actually first meet every requirement).

``attain_year`` is the pivot of the whole generator: every school defect and every failing district
item of a district is repaired by that year at the latest, and at least one is still open in each
earlier year. A district with ``attain_year=None`` keeps a few defects beyond the generated years,
so that the platform can show a district that misses its declared year.

Beyond Qingdao's ten districts, :func:`synthetic_profiles` makes any number of fake districts (codes
``9xxxxx``, never real GB/T 2260 codes) for national-scale benchmarks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SCHOOL_TYPES: tuple[str, ...] = (
    "primary",
    "junior",
    "nine_year",
    "twelve_year",
    "complete_secondary",
    "teaching_point",
    "special",
)
LOCALES: tuple[str, str, str] = ("urban", "town", "rural")

#: District items judged from district.statistics (national G/Q items and social recognition).
STATISTIC_ITEMS: tuple[str, ...] = (
    "G6",
    "G7",
    "G8",
    "G11",
    "G13",
    "G14",
    "G15",
    "Q1",
    "Q2",
    "Q9",
    "SR",
)
#: City-plan targets reported in district.statistics that do not decide attainment.
CITY_ITEMS: tuple[str, ...] = ("C6", "C13")
#: Items that arrive as inspections with pass/fail.
ASSESSED_ITEMS: tuple[str, ...] = ("G1", "G2", "G10", "Q3", "Q5", "Q6", "Q7", "Q8")
VETO_ITEMS: tuple[str, ...] = (
    "exam_admission",
    "illegal_school_choice",
    "key_schools",
    "falsified_data",
    "major_incident",
)


@dataclass(frozen=True, slots=True)
class Archetype:
    """What kind of place a district is, as probabilities and multipliers for its schools."""

    name: str
    #: share of (non teaching-point, non special) schools that are urban, town, rural
    locale_mix: tuple[float, float, float]
    #: share of schools per type (normalised when used)
    type_mix: dict[str, float]
    #: multiplier on typical enrolment per section
    size: float
    #: added to the typical average class size (crowded places pack classes fuller)
    class_bias: float
    #: probability a school has large classes (over the G5 limit) until its fix year
    crowding: float
    #: probability a primary/junior/nine-year school is large-scale (over the G4 limit)
    big_school: float
    #: probability a section's sports area stays at 86–99 % of R5 for good (urban cores)
    grounds_short: float
    #: probability per section of starting below the threshold, R1..R7
    weakness: tuple[float, float, float, float, float, float, float]
    #: probabilities of school-level defects: rooms (G3), certificate (G12), 360 h training (G9),
    #: training budget (Q4)
    school_defects: dict[str, float]
    #: probability that a district item (G6..SR, G1..Q8, C6, C13) fails at the start
    item_defect: float
    #: pay and spending multiplier
    richness: float
    #: yearly enrolment growth
    growth: float
    #: share of the district's schools that open during the generated years
    new_school_rate: float
    #: share of teaching points merged away (closed) during the generated years
    closure_rate: float


ARCHETYPES: dict[str, Archetype] = {
    a.name: a
    for a in (
        Archetype(
            name="urban_core",
            locale_mix=(1.0, 0.0, 0.0),
            type_mix={
                "primary": 0.62,
                "junior": 0.26,
                "nine_year": 0.07,
                "twelve_year": 0.02,
                "complete_secondary": 0.0,
                "teaching_point": 0.0,
                "special": 0.025,
            },
            size=1.2,
            class_bias=2.0,
            crowding=0.40,
            big_school=0.30,
            grounds_short=0.55,
            weakness=(0.05, 0.05, 0.10, 0.30, 0.20, 0.05, 0.05),
            school_defects={"rooms": 0.25, "cert": 0.05, "train360": 0.10, "training_budget": 0.08},
            item_defect=0.25,
            richness=1.15,
            growth=-0.01,
            new_school_rate=0.0,
            closure_rate=0.0,
        ),
        Archetype(
            name="urban",
            locale_mix=(0.9, 0.1, 0.0),
            type_mix={
                "primary": 0.60,
                "junior": 0.24,
                "nine_year": 0.12,
                "twelve_year": 0.01,
                "complete_secondary": 0.01,
                "teaching_point": 0.0,
                "special": 0.02,
            },
            size=1.05,
            class_bias=1.0,
            crowding=0.20,
            big_school=0.12,
            grounds_short=0.15,
            weakness=(0.10, 0.10, 0.15, 0.20, 0.20, 0.10, 0.10),
            school_defects={"rooms": 0.20, "cert": 0.08, "train360": 0.12, "training_budget": 0.10},
            item_defect=0.25,
            richness=1.0,
            growth=0.01,
            new_school_rate=0.02,
            closure_rate=0.0,
        ),
        Archetype(
            name="urban_town",
            locale_mix=(0.55, 0.40, 0.05),
            type_mix={
                "primary": 0.57,
                "junior": 0.22,
                "nine_year": 0.15,
                "twelve_year": 0.012,
                "complete_secondary": 0.01,
                "teaching_point": 0.01,
                "special": 0.015,
            },
            size=1.0,
            class_bias=0.5,
            crowding=0.18,
            big_school=0.08,
            grounds_short=0.05,
            weakness=(0.15, 0.15, 0.20, 0.15, 0.10, 0.15, 0.15),
            school_defects={"rooms": 0.20, "cert": 0.10, "train360": 0.15, "training_budget": 0.10},
            item_defect=0.30,
            richness=1.0,
            growth=0.03,
            new_school_rate=0.03,
            closure_rate=0.0,
        ),
        Archetype(
            name="urban_rural",
            locale_mix=(0.45, 0.30, 0.25),
            type_mix={
                "primary": 0.55,
                "junior": 0.20,
                "nine_year": 0.14,
                "twelve_year": 0.015,
                "complete_secondary": 0.01,
                "teaching_point": 0.05,
                "special": 0.01,
            },
            size=1.0,
            class_bias=0.0,
            crowding=0.12,
            big_school=0.05,
            grounds_short=0.03,
            weakness=(0.20, 0.20, 0.25, 0.15, 0.10, 0.20, 0.20),
            school_defects={"rooms": 0.25, "cert": 0.10, "train360": 0.15, "training_budget": 0.12},
            item_defect=0.30,
            richness=1.0,
            growth=0.02,
            new_school_rate=0.025,
            closure_rate=0.10,
        ),
        Archetype(
            name="town_rural",
            locale_mix=(0.20, 0.45, 0.35),
            type_mix={
                "primary": 0.52,
                "junior": 0.18,
                "nine_year": 0.14,
                "twelve_year": 0.0,
                "complete_secondary": 0.02,
                "teaching_point": 0.12,
                "special": 0.01,
            },
            size=0.95,
            class_bias=-1.0,
            crowding=0.08,
            big_school=0.02,
            grounds_short=0.0,
            weakness=(0.30, 0.35, 0.30, 0.20, 0.10, 0.35, 0.30),
            school_defects={"rooms": 0.30, "cert": 0.12, "train360": 0.20, "training_budget": 0.15},
            item_defect=0.35,
            richness=0.92,
            growth=-0.005,
            new_school_rate=0.0,
            closure_rate=0.12,
        ),
        Archetype(
            name="rural",
            locale_mix=(0.12, 0.38, 0.50),
            type_mix={
                "primary": 0.48,
                "junior": 0.16,
                "nine_year": 0.15,
                "twelve_year": 0.0,
                "complete_secondary": 0.02,
                "teaching_point": 0.18,
                "special": 0.01,
            },
            size=0.9,
            class_bias=-2.0,
            crowding=0.06,
            big_school=0.0,
            grounds_short=0.0,
            weakness=(0.40, 0.45, 0.40, 0.25, 0.10, 0.45, 0.40),
            school_defects={"rooms": 0.35, "cert": 0.15, "train360": 0.25, "training_budget": 0.20},
            item_defect=0.40,
            richness=0.85,
            growth=-0.02,
            new_school_rate=0.0,
            closure_rate=0.15,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class DistrictProfile:
    """One district: identity, archetype, share of schools and its creation calendar."""

    code: str
    name_zh: str
    name_en: str
    archetype: Archetype
    #: relative share of the city's schools
    weight: float
    basic_balance_year: int
    declared_creation_year: int
    #: first year the data meet every requirement; None = not within the generated years
    attain_year: int | None
    #: pay/spending multiplier (overrides the archetype's when set)
    richness: float | None = None
    #: district items that stay failing beyond the generated years (only with attain_year None)
    lagging_items: tuple[str, ...] = ()
    #: (year, veto item) raised before the attain year
    vetoes: tuple[tuple[int, str], ...] = ()
    #: (year, milestone kind, "late" | "missing")
    slips: tuple[tuple[int, str, str], ...] = ()
    #: a year in which education spending per student falls (a C12 breach)
    spend_dip_year: int | None = None
    #: a year in which the number of training institutions rises (a C11 breach)
    training_rise_year: int | None = None
    #: the source label written in the envelope
    source: str = "synthetic/qingdao-edu-stats"

    @property
    def wealth(self) -> float:
        """Pay and spending multiplier of this district."""
        return self.richness if self.richness is not None else self.archetype.richness


def _p(
    code: str, zh: str, en: str, arch: str, weight: float, bb: int, declared: int, attain: int | None, **kw: object
) -> DistrictProfile:
    return DistrictProfile(code, zh, en, ARCHETYPES[arch], weight, bb, declared, attain, **kw)  # type: ignore[arg-type]


#: Qingdao's ten districts (codes and names as in ingestion/reference/districts.csv, the default list).
#: Story: Shinan and Laoshan attain in 2022, Huangdao in 2023 (3 of 10 = 30 % by 2023, the city's
#: C1 target); Shibei (crowded) and Jimo miss their declared year by one; Pingdu and Laixi (mostly
#: rural) still miss in 2025, so "most but not all" districts attain by the end.
QINGDAO: tuple[DistrictProfile, ...] = (
    _p("370202", "市南区", "Shinan District", "urban_core", 4, 2014, 2022, 2022, richness=1.25),
    _p(
        "370203",
        "市北区",
        "Shibei District",
        "urban_core",
        7,
        2014,
        2023,
        2024,
        richness=1.05,
        slips=((2022, "city_assessment", "late"),),
    ),
    _p(
        "370211", "黄岛区", "Huangdao District (West Coast New Area)", "urban_rural", 18, 2015, 2023, 2023, richness=1.1
    ),
    _p("370212", "崂山区", "Laoshan District", "urban_rural", 5, 2015, 2022, 2022, richness=1.2),
    _p("370213", "李沧区", "Licang District", "urban", 5, 2016, 2024, 2024, vetoes=((2022, "illegal_school_choice"),)),
    _p("370214", "城阳区", "Chengyang District", "urban_town", 9, 2016, 2024, 2024),
    _p(
        "370215",
        "即墨区",
        "Jimo District",
        "urban_rural",
        14,
        2017,
        2024,
        2025,
        richness=0.95,
        slips=((2025, "recognition_application", "late"),),
        training_rise_year=2022,
    ),
    _p("370281", "胶州市", "Jiaozhou City", "town_rural", 11, 2017, 2025, 2025),
    _p(
        "370283",
        "平度市",
        "Pingdu City",
        "rural",
        16,
        2018,
        2025,
        None,
        lagging_items=("G8", "Q9"),
        vetoes=((2023, "key_schools"),),
        slips=((2023, "self_assessment", "missing"),),
    ),
    _p(
        "370285",
        "莱西市",
        "Laixi City",
        "rural",
        11,
        2019,
        2025,
        None,
        lagging_items=("G11", "SR"),
        slips=((2024, "self_assessment", "late"),),
        spend_dip_year=2023,
    ),
)

_FAKE_ARCHETYPES: tuple[tuple[str, float], ...] = (
    ("urban_core", 0.05),
    ("urban", 0.15),
    ("urban_town", 0.15),
    ("urban_rural", 0.25),
    ("town_rural", 0.2),
    ("rural", 0.2),
)
_FAKE_SUFFIX: dict[str, str] = {
    "urban_core": "区",
    "urban": "区",
    "urban_town": "区",
    "urban_rural": "区",
    "town_rural": "市",
    "rural": "县",
}

#: Fake district codes are FAKE_CODE_BASE + index: 6 digits starting with 9, never a real code.
FAKE_CODE_BASE: int = 900000
MAX_DISTRICTS: int = len(QINGDAO) + 99_999


def synthetic_profiles(count: int, seed: int) -> list[DistrictProfile]:
    """Qingdao's districts first, then ``count - 10`` fake ones, deterministic in ``seed``.

    Fake districts draw an archetype and a calendar: about a third attain by 2023, most by 2025,
    the rest later, mirroring the national picture the benchmark is meant to stress.
    """
    if count < 1:
        raise ValueError("districts must be at least 1")
    if count > MAX_DISTRICTS:
        raise ValueError(f"districts must be at most {MAX_DISTRICTS}")
    if count <= len(QINGDAO):
        return list(QINGDAO[:count])
    rng = random.Random(f"{seed}:fake-districts")
    names = [a for a, _ in _FAKE_ARCHETYPES]
    weights = [w for _, w in _FAKE_ARCHETYPES]
    out = list(QINGDAO)
    for i in range(count - len(QINGDAO)):
        arch = rng.choices(names, weights)[0]
        attain: int | None = rng.choices([2021, 2022, 2023, 2024, 2025, None], [0.05, 0.12, 0.15, 0.25, 0.23, 0.20])[0]
        declared = rng.randint(2022, 2025)
        if attain is not None and rng.random() < 0.7:
            declared = max(2022, attain)
        lagging: tuple[str, ...] = ()
        if attain is None:
            lagging = tuple(rng.sample(STATISTIC_ITEMS, 1))
        vetoes: tuple[tuple[int, str], ...] = ()
        if attain is not None and attain > 2022 and rng.random() < 0.05:
            vetoes = ((rng.randint(2021, attain - 1), rng.choice(VETO_ITEMS)),)
        slips: tuple[tuple[int, str, str], ...] = ()
        if rng.random() < 0.08:
            slips = (
                (
                    rng.randint(2021, 2025),
                    rng.choice(("self_assessment", "city_assessment")),
                    rng.choice(("late", "missing")),
                ),
            )
        out.append(
            DistrictProfile(
                code=str(FAKE_CODE_BASE + i),
                name_zh=f"合成{i:05d}{_FAKE_SUFFIX[arch]}",
                name_en=f"Synthetic district {i:05d}",
                archetype=ARCHETYPES[arch],
                weight=rng.uniform(0.5, 1.5),
                # PRE: basic balance at least three years before the application
                basic_balance_year=rng.randint(2012, min(2019, (attain or 2025) - 3)),
                declared_creation_year=declared,
                attain_year=attain,
                richness=round(ARCHETYPES[arch].richness * rng.uniform(0.9, 1.1), 3),
                lagging_items=lagging,
                vetoes=vetoes,
                slips=slips,
                source="synthetic/national-edu-stats",
            )
        )
    return out
