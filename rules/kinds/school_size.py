"""`school_size`: a rule every school of the district must pass (EverySchoolKind, rules/kinds/base.py).

G4: no school above its type's size limit (params.max_students). Each school is judged by
SectionEvaluator._whole (SchoolEval.large, rules/sections.py), in SQL by int_school_checks.large.
SQL: dbt_project/macros/kinds/school_size.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import EverySchoolKind

KIND: Final[EverySchoolKind] = EverySchoolKind("school_size")
