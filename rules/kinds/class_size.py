"""`class_size`: a rule every school of the district must pass (EverySchoolKind, rules/kinds/base.py).

G5: no class above its level's size limit (thresholds per level). Each section is judged by
SectionEvaluator._section, a school as all of its sections (rules/sections.py); in SQL
int_school_checks.class_size_ok.
SQL: dbt_project/macros/kinds/class_size.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import EverySchoolKind

KIND: Final[EverySchoolKind] = EverySchoolKind("class_size")
