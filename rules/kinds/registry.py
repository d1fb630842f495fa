"""The district rule kinds the engine knows, built from their modules: the dispatch of
rules/district.py is this mapping, and nothing else names the kinds.

Adding a kind: docs/rules.md, "Adding a rule kind". tests/rules/test_kinds.py checks that every
kind a catalogue uses is here (with its SQL macro) or in ELSEWHERE, and that every module of
rules/kinds/ and macro of dbt_project/macros/kinds/ is a kind.
"""

from __future__ import annotations

from typing import Final

from rules.kinds import (
    alias,
    balance,
    class_size,
    compliance_improvement,
    district_metric,
    inspection,
    large_school_reduction,
    no_large_classes_or_schools,
    prerequisite,
    prerequisite_history,
    school_ratio,
    school_rooms,
    school_size,
    section_rule,
    small_school_funding,
    veto,
    year_over_year,
)
from rules.kinds.base import RuleKind

#: kind name → its evaluator, one per module of rules/kinds/
KINDS: Final[dict[str, RuleKind]] = {
    k.name: k
    for k in (
        section_rule.KIND,
        balance.KIND,
        school_rooms.KIND,
        school_size.KIND,
        class_size.KIND,
        small_school_funding.KIND,
        school_ratio.KIND,
        district_metric.KIND,
        inspection.KIND,
        veto.KIND,
        prerequisite.KIND,
        prerequisite_history.KIND,
        alias.KIND,
        year_over_year.KIND,
        no_large_classes_or_schools.KIND,
        large_school_reduction.KIND,
        compliance_improvement.KIND,
    )
}

#: kinds of the catalogue that are not district rules, and where each is judged (Python; SQL)
ELSEWHERE: Final[dict[str, tuple[str, str]]] = {
    "section_indicator": ("rules/sections.py", "dbt_project/models/intermediate/int_section_indicators.sql"),
    "city_attainment_share": ("rules/city.py", "dbt_project/models/marts/mart_city_progress.sql"),
    "city_projects": ("rules/city.py", "dbt_project/models/marts/mart_city_progress.sql"),
    "city_sum": ("rules/city.py", "dbt_project/models/marts/mart_city_progress.sql"),
    "deadline": ("rules/accountability.py", "dbt_project/models/intermediate/int_district_deadlines.sql"),
}
