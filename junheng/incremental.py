"""What a build must recompute: the plan a build asks for before it runs dbt.

    plan = make_plan(layout, previous=<the state the last published build recorded, or None>)
    dbt build ... plan.dbt_args          (e.g. ["--full-refresh"] or ["--vars", ...])
    ... after a successful publish, record plan.state beside the published marts

This first version always plans a full rebuild; incremental builds (only the district-years
touched since the last published build) replace it (issue #11).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from junheng.layout import WarehouseLayout

__all__ = ["BuildPlan", "make_plan"]


@dataclass(frozen=True)
class BuildPlan:
    full_refresh: bool
    reason: str                                   # why this plan, for the build's summary
    dbt_args: list[str] = field(default_factory=list)   # appended to `dbt build` (not --vars as_of)
    dbt_vars: dict[str, Any] = field(default_factory=dict)   # merged into the build's --vars
    state: dict[str, Any] = field(default_factory=dict)      # to record once published


def make_plan(layout: WarehouseLayout, previous: Mapping[str, Any] | None) -> BuildPlan:
    """The build plan for `layout` given what the last published build recorded."""
    return BuildPlan(full_refresh=True, reason="every build is a full rebuild (no incremental plan yet)",
                     dbt_args=["--full-refresh"])
