"""`school_ratio`: a rule every school of the district must pass (EverySchoolKind, rules/kinds/base.py).

Q4 and the like: scale × numerator / denominator of a school's finance fact against a threshold.
Each school is judged by SectionEvaluator._ratios (rules/sections.py); the SQL macro judges it
from int_school_facts.
SQL: dbt_project/macros/kinds/school_ratio.sql.
"""

from __future__ import annotations

from typing import Final

from rules.kinds.base import EverySchoolKind

KIND: Final[EverySchoolKind] = EverySchoolKind("school_ratio")
