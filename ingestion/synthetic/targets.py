"""The national and city numbers the synthetic story is shaped around.

The generator has to put each value on a known side of a line: a school section that is meant to
pass R4 in 2024 must hold at least 4.5 m² per student after rounding, a class that is meant to be
compliant must hold at most 45 pupils. So it needs the thresholds of docs/spec `standard.md`.

These constants shape *test data* only. The rules engine reads its thresholds from its own
catalogue (where a province may tighten them); nothing outside `ingestion.synthetic` should import
this module as a source of truth.
"""

from __future__ import annotations

#: Assessed levels of a school section, in payload order.
LEVELS: tuple[str, str] = ("primary", "junior")

#: R1–R7 per level: (primary, junior). Indices 0..6 are used throughout the generator.
INDICATORS: tuple[str, ...] = ("R1", "R2", "R3", "R4", "R5", "R6", "R7")
THRESHOLDS: dict[str, tuple[float, float]] = {
    "R1": (4.2, 5.3),  # qualified teachers per 100 students
    "R2": (1.0, 1.0),  # backbone teachers per 100 students
    "R3": (0.9, 0.9),  # PE/arts teachers per 100 students
    "R4": (4.5, 5.8),  # teaching and auxiliary area, m² per student
    "R5": (7.5, 10.2),  # sports ground and hall area, m² per student
    "R6": (2000.0, 2500.0),  # equipment value, yuan per student
    "R7": (2.3, 2.4),  # networked multimedia classrooms per 100 students
}


def threshold(indicator: str, level: str) -> float:
    """Threshold of one indicator for ``level`` ("primary" or "junior")."""
    primary, junior = THRESHOLDS[indicator]
    return primary if level == "primary" else junior


#: RA-S: the one indicator allowed to miss must still reach this share of its threshold.
SECTION_SLACK: float = 0.85

#: G5 class-size limits; seniors are not assessed but the city's C2 (no class ≥ 56) covers them.
CLASS_LIMIT: dict[str, int] = {"primary": 45, "junior": 50, "senior": 50}
#: C2: a class of this size or more is a "large class" (大班额).
LARGE_CLASS: int = 56

#: G4: students in the compulsory part of one school.
SCHOOL_LIMIT_SINGLE: int = 2000
SCHOOL_LIMIT_COMBINED: int = 2500  # nine-year and twelve-year schools

#: G3: rooms per 12 classes, minimum areas.
CLASSES_PER_ROOM: int = 12
MUSIC_ROOM_MIN_M2: float = 96.0
ART_ROOM_MIN_M2: float = 90.0

#: G6: small village schools are funded as if they had this many students.
SMALL_SCHOOL_FUNDED_AS: int = 100
#: G7: special-education public funds per student.
SPECIAL_FUNDS_MIN: float = 6000.0
#: Q4 / C8: share of the public-funds budget spent on teacher training.
TRAINING_SHARE_MIN: float = 0.05

#: First year of the city plan (青教通字〔2021〕137号); the story's clock starts here.
STORY_START: int = 2021
