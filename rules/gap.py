"""Gap to pass, exactly: what a failing school section must get so that it passes RA-S.

A section passes RA-S when at most ``allowed`` of its indicators (R1–R7, each a per-student value:
``scale × input / students``) are below their threshold, and each of those is at least
``floor × threshold`` (85 %). For a section that fails, :func:`section_options` lists the
**options**: each a minimal set of indicator changes (no proper subset passes) that makes it pass,
holding enrolment and every other indicator as they are. Per change: the target (the threshold,
or the 85 % floor where that suffices for an indicator allowed to miss), and the **addition** in
the input's natural unit -- whole teachers and whole rooms rounded up, m² and yuan rounded up to
the hundredth -- with the input that grows (a section's own figure, or the whole school's when its
facilities are reported for the school and apportioned to sections by enrolment).

Everything is decided with exact arithmetic: thresholds, ratios and reported figures are
:class:`fractions.Fraction` of their decimal text, so no float decides a boundary (a section at
exactly its threshold, or exactly at 85 %, is exactly there). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from math import ceil
from typing import Any

from rules.facts import FACILITY_FIELDS, STAFF_FIELDS
from rules.loader import Catalogue

__all__ = ["Change", "GapModel", "Option", "SectionInputs", "section_inputs"]

_WHOLE = frozenset({"multimedia_rooms", *STAFF_FIELDS})  # counted in whole units; the rest to 0.01


def exact(value: Any) -> Fraction:
    """A reported or configured number as the exact decimal it was written as (0.1 is 1/10)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(Decimal(repr(float(value))) if isinstance(value, float) else Decimal(str(value)))


def _unit_step(field: str) -> Fraction:
    return Fraction(1) if field in _WHOLE else Fraction(1, 100)


def _round_up(value: Fraction, step: Fraction) -> Fraction:
    return ceil(value / step) * step


@dataclass(frozen=True)
class Indicator:
    id: str
    input: str  # the numerator field, e.g. qualified_teachers
    scale: Fraction  # 100 for "per 100 students"
    unit: str  # the indicator's unit, e.g. "teachers per 100 students"


@dataclass(frozen=True)
class SectionInputs:
    """A section's figures: students, and per indicator its input as the section sees it (a whole
    school's facility times the section's share) and, when apportioned, the share."""

    level: str
    students: int
    inputs: Mapping[str, Fraction | None]  # input field → the section's value (None: unknown)
    share: Mapping[str, Fraction]  # input field → section share of the school's figure


@dataclass(frozen=True)
class Change:
    indicator: str
    input: str  # what grows: "sections.<level>.<field>" or "school.<field>"
    unit: str  # the input's unit
    current_value: Fraction  # the indicator now
    target_value: Fraction  # the threshold, or the floor for the one allowed to miss
    current_input: Fraction  # the input now (the school's figure when apportioned)
    addition: Fraction  # in the input's unit, rounded up (whole or 0.01)
    to_floor: bool  # True when the target is the 85 % floor, not the threshold


@dataclass(frozen=True)
class Option:
    option_id: int
    changes: tuple[Change, ...]


class GapModel:
    """The catalogue's section indicators and RA-S rule, as exact numbers."""

    def __init__(self, catalogue: Catalogue) -> None:
        ras = catalogue.of_kind("section_rule")
        if not ras:
            raise ValueError("the catalogue has no section rule (RA-S): no gap to pass")
        rule = ras[0]
        by_id = {r.id: r for r in catalogue.section_indicators()}
        self.indicators = tuple(
            Indicator(
                i, by_id[i].params["numerator"], exact(by_id[i].params["scale"]), str(by_id[i].params.get("unit", ""))
            )
            for i in rule.params["indicators"]
        )
        for i in self.indicators:
            if by_id[i.id].comparator != ">=":
                raise ValueError(f"{i.id}: gap to pass handles indicators judged with >= only")
        self.thresholds = {i.id: {lv: exact(t) for lv, t in by_id[i.id].thresholds.items()} for i in self.indicators}
        self.allowed = len(self.indicators) - int(rule.params["min_met"])
        self.floor = exact(rule.params["remainder_min_ratio"])
        #: level → indicator → (threshold, floor × threshold), for passes() on the hot path
        levels = {lv for t in self.thresholds.values() for lv in t}
        self._bounds = {
            lv: {i: (t[lv], self.floor * t[lv]) for i, t in self.thresholds.items() if lv in t} for lv in levels
        }
        self.rule_id = rule.id

    # ---------------------------------------------------------------- judging, exactly
    def values(self, s: SectionInputs) -> dict[str, Fraction] | None:
        """Each indicator's exact value (None when an input is unknown or there are no students)."""
        if s.students <= 0:
            return None
        out = {}
        for i in self.indicators:
            x = s.inputs.get(i.input)
            if x is None:
                return None
            out[i.id] = i.scale * x / s.students
        return out

    def passes(self, level: str, values: Mapping[str, Fraction]) -> bool:
        bounds = self._bounds[level]
        misses = 0
        for i, v in values.items():
            threshold, floor = bounds[i]
            if v < threshold:
                misses += 1
                if misses > self.allowed or v < floor:
                    return False
        return True

    # ---------------------------------------------------------------- the options
    def section_options(self, s: SectionInputs) -> list[Option] | None:
        """The options that make a failing section pass ([] when it passes; None when it cannot
        be judged: an input unknown, no students)."""
        values = self.values(s)
        if values is None:
            return None
        level = s.level
        if self.passes(level, values):
            return []
        thr = {i: self.thresholds[i][level] for i in values}
        misses = [i for i in values if values[i] < thr[i]]
        plans: list[dict[str, tuple[Fraction, bool]]] = []
        for k in range(min(self.allowed, len(misses)), -1, -1):
            for allowed_to_miss in combinations(misses, k):
                plan = {i: (thr[i], False) for i in misses if i not in allowed_to_miss}
                plan.update(
                    {i: (self.floor * thr[i], True) for i in allowed_to_miss if values[i] < self.floor * thr[i]}
                )
                plans.append(plan)
        # each plan's changes in whole units; rounding up may carry an indicator allowed to miss
        # past its threshold, which can make another change of the plan unnecessary: keep only the
        # options none of whose changes can be dropped (passing is monotone in every indicator, so
        # that is "no proper subset passes"), and none that asks more than another option
        options: list[tuple[Change, ...]] = []
        made: dict[tuple[str, Fraction, bool], Change] = {}  # plans share changes: each is made once
        for plan in plans:
            changes = tuple(
                made.setdefault((i, target, to_floor), self._change(s, i, values[i], target, to_floor))
                for i, (target, to_floor) in sorted(plan.items(), key=lambda kv: self._order(kv[0]))
            )
            if self.passes(level, self._values_after(s, values, changes)) and all(
                not self.passes(level, self._values_after(s, values, changes[:n] + changes[n + 1 :]))
                for n in range(len(changes))
            ):
                options.append(changes)
        kept: list[tuple[Change, ...]] = []
        for changes in options:
            asks = {c.input: c.addition for c in changes}
            if any(_asks_no_more(other, asks) for other in options if other is not changes) or any(
                {c.input: c.addition for c in k} == asks for k in kept
            ):
                continue
            kept.append(changes)
        kept.sort(key=lambda cs: (len(cs), [self._order(c.indicator) for c in cs]))
        return [Option(n, changes) for n, changes in enumerate(kept, start=1)]

    def _order(self, indicator: str) -> int:
        return [i.id for i in self.indicators].index(indicator)

    def _change(self, s: SectionInputs, indicator: str, value: Fraction, target: Fraction, to_floor: bool) -> Change:
        ind = next(i for i in self.indicators if i.id == indicator)
        field = ind.input
        step = _unit_step(field)
        needed_section = target * s.students / ind.scale  # the section's input at the target
        share = s.share.get(field)
        current_section = s.inputs[field]
        assert current_section is not None
        if share is None:  # the section's own figure grows
            needed = _round_up(needed_section, step)
            current = current_section
            where = f"sections.{s.level}.{field}"
        else:  # the school's, apportioned by enrolment
            current = current_section / share
            needed = _round_up(needed_section / share, step)
            where = f"school.{field}"
        return Change(indicator, where, _input_unit(field), value, target, current, needed - current, to_floor)

    def _values_after(
        self, s: SectionInputs, values: Mapping[str, Fraction], changes: Sequence[Change]
    ) -> dict[str, Fraction]:
        """``self.values(self.apply(s, changes))`` without recomputing the indicators whose input
        the changes leave alone (the hot path: every option is checked with each change left out)."""
        grown: dict[str, Fraction] = {}
        for c in changes:
            field = c.input.rsplit(".", 1)[1]
            share = s.share.get(field)
            after = c.current_input + c.addition
            grown[field] = after if share is None else after * share
        out = dict(values)
        for i in self.indicators:
            if i.input in grown:
                out[i.id] = i.scale * grown[i.input] / s.students
        return out

    def apply(self, s: SectionInputs, changes: Sequence[Change]) -> SectionInputs:
        """The section's inputs with these changes' additions made (for checking an option)."""
        inputs = dict(s.inputs)
        for c in changes:
            field = c.input.rsplit(".", 1)[1]
            share = s.share.get(field)
            grown = c.current_input + c.addition
            inputs[field] = grown if share is None else grown * share
        return SectionInputs(s.level, s.students, inputs, s.share)


def _asks_no_more(other: Sequence[Change], asks: Mapping[str, Fraction]) -> bool:
    """`other` asks strictly less than `asks`: each of its additions is asked there too, at least as
    large, and the two differ."""
    mine = {c.input: c.addition for c in other}
    return mine != asks and all(i in asks and a <= asks[i] for i, a in mine.items())


def _input_unit(field: str) -> str:
    if field.endswith("_teachers"):
        return "teachers"
    if field == "multimedia_rooms":
        return "rooms"
    if field.endswith("_m2"):
        return "m²"
    if field.endswith("_yuan"):
        return "yuan"
    return ""


def section_inputs(facts: Any, level: str) -> SectionInputs | None:
    """A section's exact inputs from a school's facts (rules.sections.SchoolFacts); None when its
    enrolment is unknown."""
    enrolment = facts.enrolment["sections"] if facts.enrolment is not None else None
    if not enrolment or level not in enrolment:
        return None
    students = int(enrolment[level]["students"])
    total = sum(int(e["students"]) for e in enrolment.values())
    inputs: dict[str, Fraction | None] = {}
    share: dict[str, Fraction] = {}
    staff = (facts.staff or {}).get("sections", {}).get(level) if facts.staff is not None else None
    for f in STAFF_FIELDS:
        inputs[f] = exact(staff[f]) if staff is not None and f in staff else None
    fac = facts.facilities
    for f in FACILITY_FIELDS:
        if fac is None:
            inputs[f] = None
        elif "sections" in fac:
            sec = fac["sections"].get(level)
            inputs[f] = exact(sec[f]) if sec is not None and f in sec else None
        elif "school" in fac and total > 0:
            share[f] = Fraction(students, total)
            inputs[f] = exact(fac["school"][f]) * share[f]
        else:
            inputs[f] = None
    return SectionInputs(level, students, inputs, share)
