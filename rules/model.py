"""The catalogue's data model and the shape of every result the engine returns.

Everything here is plain data: the engine's results must travel through Faust tables,
Kafka topics and Parquet files unchanged, so they serialise to dicts of JSON scalars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEVELS: tuple[str, ...] = ("primary", "junior")
COMPARATORS: frozenset[str] = frozenset({">=", ">", "<=", "<", "=="})
SEVERITIES: frozenset[str] = frozenset({"critical", "major", "minor"})
SCOPES: frozenset[str] = frozenset({"section", "school", "district", "city"})


@dataclass(frozen=True, slots=True)
class Clause:
    """Where a rule comes from, so a reader can check it against the published text."""

    document: str
    ref: str
    item: str

    def cite(self) -> str:
        return f"{self.ref} {self.item}"


@dataclass(frozen=True, slots=True)
class Check:
    """One comparison inside a district rule: an input (or a ratio of two) against a number
    or against another input. A rule with several checks passes when all of them do."""

    comparator: str
    input: str | None = None
    ratio: tuple[str, str] | None = None
    scale: float = 1.0
    threshold: float | None = None
    threshold_input: str | None = None
    # the check applies only where the district has schools of this locale (G13's town
    # figure means nothing in an all-urban district); otherwise it is met as not applicable
    applies_to_locale: str | None = None

    def inputs(self) -> tuple[str, ...]:
        names = self.ratio if self.ratio else (self.input,)
        extra = (self.threshold_input,) if self.threshold_input else ()
        return tuple(n for n in names + extra if n)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the standard or of a city plan, exactly as the catalogue states it."""

    id: str
    name_zh: str
    name_en: str
    dimension: str
    scope: str
    kind: str
    clause: Clause
    severity: str
    in_force_from: int
    in_force_to: int | None
    levels: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    comparator: str | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    threshold: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    source: str = ""

    def in_force(self, year: int) -> bool:
        return self.in_force_from <= year and (self.in_force_to is None or year <= self.in_force_to)

    def threshold_for(self, level: str) -> float:
        return self.thresholds[level]


@dataclass(frozen=True, slots=True)
class RuleResult:
    """A decided or undecided rule outcome with everything needed to explain it.

    `passed` is three-valued: True, False, or None when an input is missing; `reason`
    then says which. `subject` names what was judged (a section, a district, the city).
    """

    rule_id: str
    subject: str
    year: int
    passed: bool | None
    value: float | None = None
    threshold: float | None = None
    comparator: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    clause: str = ""
    reason: str | None = None
    severity: str = "major"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "subject": self.subject,
            "year": self.year,
            "passed": self.passed,
            "value": self.value,
            "threshold": self.threshold,
            "comparator": self.comparator,
            "inputs": dict(self.inputs),
            "clause": self.clause,
            "reason": self.reason,
            "severity": self.severity,
        }
