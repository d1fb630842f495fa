"""`small_school_funding`: a rule every school of the district must pass (EverySchoolKind, rules/kinds/base.py).

G6: a small rural school or teaching point is budgeted as if it had funded_as_students students.
Each school is judged by SectionEvaluator._funding_ok (rules/sections.py), in SQL by
int_school_checks.small_funding_ok.
SQL: dbt_project/macros/kinds/small_school_funding.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import EverySchoolKind

KIND: Final[EverySchoolKind] = EverySchoolKind("small_school_funding")
