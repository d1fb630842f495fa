"""`school_rooms`: a rule every school of the district must pass (EverySchoolKind, rules/kinds/base.py).

G3: every school has at least ⌈classes / classes_per_room⌉ music rooms and as many art rooms, each
at its minimum area. Each school is judged by SectionEvaluator._rooms_ok (rules/sections.py), in
SQL by int_school_checks.rooms_ok.
SQL: dbt_project/macros/kinds/school_rooms.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import EverySchoolKind

KIND: Final[EverySchoolKind] = EverySchoolKind("school_rooms")
