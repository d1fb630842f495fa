"""The national and city numbers the synthetic story is shaped around, read from the rules
catalogue (never restated here).

The generator has to put each value on a known side of a line: a school section that is meant to
pass R4 in 2024 must hold at least 4.5 m² per student after rounding, a class that is meant to be
compliant must hold at most 45 pupils. It takes those lines from the same catalogue the engine
judges with (Qingdao's plan on the national standard), so a changed threshold moves the story too.
"""

from __future__ import annotations

from rules import load_catalogue

_CATALOGUE = load_catalogue("qingdao-2021")


def _rule(kind: str):  # type: ignore[no-untyped-def]
    return _CATALOGUE.of_kind(kind)[0]


#: Assessed levels of a school section, in payload order.
LEVELS: tuple[str, str] = ("primary", "junior")

#: R1–R7 per level: (primary, junior). Indices 0..6 are used throughout the generator.
INDICATORS: tuple[str, ...] = tuple(r.id for r in _CATALOGUE.section_indicators())
THRESHOLDS: dict[str, tuple[float, float]] = {
    r.id: (float(r.thresholds["primary"]), float(r.thresholds["junior"])) for r in _CATALOGUE.section_indicators()
}


def threshold(indicator: str, level: str) -> float:
    """Threshold of one indicator for ``level`` ("primary" or "junior")."""
    primary, junior = THRESHOLDS[indicator]
    return primary if level == "primary" else junior


#: RA-S: the one indicator allowed to miss must still reach this share of its threshold.
SECTION_SLACK: float = float(_rule("section_rule").params["remainder_min_ratio"])

_G5 = _rule("class_size").thresholds
#: G5 class-size limits; seniors are not assessed (the junior limit shapes their classes).
CLASS_LIMIT: dict[str, int] = {
    "primary": int(_G5["primary"]),
    "junior": int(_G5["junior"]),
    "senior": int(_G5["junior"]),
}
#: C2: a class of this size or more is a "large class" (大班额).
LARGE_CLASS: int = int(_rule("no_large_classes_or_schools").params["large_class_min_students"])

_G4 = _rule("school_size").params["max_students"]
#: G4: students in the compulsory part of one school.
SCHOOL_LIMIT_SINGLE: int = int(_G4["default"])
SCHOOL_LIMIT_COMBINED: int = int(_G4["nine_year"])  # nine-year and twelve-year schools

_G3 = _rule("school_rooms").params
#: G3: rooms per 12 classes, minimum areas.
CLASSES_PER_ROOM: int = int(_G3["classes_per_room"])
MUSIC_ROOM_MIN_M2: float = float(_G3["music_room_min_m2"])
ART_ROOM_MIN_M2: float = float(_G3["art_room_min_m2"])

#: G6: small village schools are funded as if they had this many students.
SMALL_SCHOOL_FUNDED_AS: int = int(_rule("small_school_funding").params["funded_as_students"])
#: G7: special-education public funds per student.
SPECIAL_FUNDS_MIN: float = float(_CATALOGUE.rule("G7").checks[0].threshold or 0)
#: Q4 / C8: share of the public-funds budget spent on teacher training.
TRAINING_SHARE_MIN: float = float(_rule("school_ratio").threshold or 0) / float(_rule("school_ratio").params["scale"])

#: First year of the city plan (青教通字〔2021〕137号); the story's clock starts here.
STORY_START: int = int(_CATALOGUE.rule("C1").in_force_from)
