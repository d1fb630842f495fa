"""From one school's facts for one year to its sections' indicators and school-level checks.

A school is judged section by section (a nine-year school is a primary section and a junior
section, each against its own level's thresholds); whole-school facilities are apportioned to
sections by enrolment. This module is the only place that knows how raw facts become
indicator values, so the incremental state and the batch evaluation cannot disagree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from rules.loader import Catalogue
from rules.logic import all_of, bound, compare
from rules.model import Rule, RuleResult

FACILITY_FIELDS = ("teaching_aux_area_m2", "sports_area_m2", "equipment_value_yuan", "multimedia_rooms")
STAFF_FIELDS = ("full_time_teachers", "qualified_teachers", "backbone_teachers", "pe_arts_teachers",
                "certified_teachers", "trained_360h_teachers")
STAFF_SUM_FIELDS = ("full_time_teachers", "trained_360h_teachers", "certified_teachers")


@dataclass(slots=True)
class SchoolFacts:
    """The latest applied version of each fact about one school in one year, with what is
    derived from them cached until one of them changes (set facts through `set`)."""

    profile: Mapping[str, Any] | None = None
    enrolment: Mapping[str, Any] | None = None
    staff: Mapping[str, Any] | None = None
    facilities: Mapping[str, Any] | None = None
    finance: Mapping[str, Any] | None = None
    derived: dict[str, Any] | None = None

    def set(self, name: str, payload: Mapping[str, Any]) -> None:
        setattr(self, name, payload)
        if name in ("enrolment", "facilities"):
            self.derived = None


@dataclass(slots=True)
class SectionEval:
    """One section's seven indicators and its RA-S verdict."""

    level: str
    students: int | None
    included: bool
    excluded_reason: str | None
    values: tuple[float | None, ...]
    met: tuple[bool | None, ...]
    missing: tuple[str | None, ...]
    indicators_met: int
    passed: bool | None
    reason: str | None
    max_class_size: int | None
    class_size_ok: bool | None
    large_classes: int


@dataclass(slots=True)
class SchoolEval:
    """Everything one school contributes to its district for one year."""

    active: bool
    sections: dict[str, SectionEval] = field(default_factory=dict)
    checks: dict[str, bool | None] = field(default_factory=dict)  # G3, G4, G5, G6, Q4 …
    large: bool | None = None
    noncompliant: bool | None = None
    staff_sums: dict[str, int] | None = None
    large_classes: int = 0


class SectionEvaluator:
    """Evaluates schools against a catalogue. Built once per catalogue: the hot path reads
    precomputed tuples rather than walking the catalogue per event."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        settings = catalogue.settings
        self.school_sections: Mapping[str, list[str]] = settings["school_sections"]
        self.teaching_point_min: int | None = settings.get("teaching_point_min_students")
        self.indicators: list[Rule] = catalogue.section_indicators()
        self.indicator_ids: tuple[str, ...] = tuple(r.id for r in self.indicators)
        self.levels = tuple(settings["levels"])
        self._spec = tuple(
            (r.params["numerator"], r.params["denominator"], float(r.params["scale"]), r.comparator, dict(r.thresholds))
            for r in self.indicators
        )
        for r in self.indicators:
            if r.params["denominator"] != "students" or r.comparator not in (">=", "<="):
                raise ValueError(f"rule {r.id}: section indicators are per-student values compared with >= or <=")
            if r.params["numerator"] not in STAFF_FIELDS + FACILITY_FIELDS:
                raise ValueError(f"rule {r.id}: numerator {r.params['numerator']!r} is not a staff or facilities field")
        # per indicator: numerator, whether it is a staff field, scale, comparator, bound per level
        self._fast = tuple(
            (r.params["numerator"], r.params["numerator"] in STAFF_FIELDS, float(r.params["scale"]), r.comparator,
             {lv: bound(r.comparator or ">=", t) for lv, t in r.thresholds.items()})
            for r in self.indicators
        )
        ras = catalogue.of_kind("section_rule")
        self.ras: Rule | None = ras[0] if ras else None
        if self.ras is not None:
            self._ras_positions = tuple(self.indicator_ids.index(i) for i in self.ras.params["indicators"])
            self._ras_allowed_misses = len(self._ras_positions) - int(self.ras.params["min_met"])
            self._ras_min_ratio = float(self.ras.params["remainder_min_ratio"])
        self.rooms = _first(catalogue, "school_rooms")
        self.size = _first(catalogue, "school_size")
        self.class_size = _first(catalogue, "class_size")
        self.small_funding = _first(catalogue, "small_school_funding")
        self.school_ratio = catalogue.of_kind("school_ratio")
        self._class_size_bounds = (
            {lv: bound(self.class_size.comparator or "<=", t) for lv, t in self.class_size.thresholds.items()}
            if self.class_size else {})
        c2 = _first(catalogue, "no_large_classes_or_schools")
        self.large_class_min: int | None = int(c2.params["large_class_min_students"]) if c2 else None
        c5 = _first(catalogue, "compliance_improvement")
        self.compliance_positions: tuple[int, ...] = (
            tuple(self.indicator_ids.index(i) for i in c5.params["indicators"]) if c5 else ()
        )
        self.compliance_rooms_rule: str | None = c5.params["rooms_rule"] if c5 else None

    # ------------------------------------------------------------------ school
    def evaluate(self, facts: SchoolFacts, year: int) -> SchoolEval:
        profile = facts.profile
        if profile is None or not _open_in(profile, year):
            return SchoolEval(active=False)
        school_type = profile["school_type"]
        levels = self.school_sections.get(school_type)
        if not levels:
            return SchoolEval(active=False)
        derived = facts.derived
        if derived is None:
            derived = facts.derived = self._derive(facts)
        staff = facts.staff["sections"] if facts.staff is not None else None
        result = SchoolEval(active=True)
        sections = result.sections
        compulsory_students: int | None = 0
        for level in levels:
            sec = self._section(level, school_type, derived, staff)
            sections[level] = sec
            if sec.students is None:
                compulsory_students = None
            elif compulsory_students is not None:
                compulsory_students += sec.students
        checks = result.checks
        if self.rooms is not None:
            checks[self.rooms.id] = derived["rooms_ok"]
        if self.size is not None:
            limit = self.size.params["max_students"]
            cap = limit.get(school_type, limit["default"])
            large = None if compulsory_students is None else compulsory_students > cap
            checks[self.size.id] = None if large is None else not large
            result.large = large
        if self.class_size is not None:
            checks[self.class_size.id] = all_of(s.class_size_ok for s in sections.values())
        if self.small_funding is not None:
            checks[self.small_funding.id] = self._funding_ok(profile, compulsory_students, facts.finance)
        for rule in self.school_ratio:
            checks[rule.id] = self._ratio_ok(rule, facts.finance)
        result.large_classes = sum(s.large_classes for s in sections.values())
        if staff is not None and all(lv in staff for lv in levels):
            result.staff_sums = {f: sum(int(staff[lv][f]) for lv in levels) for f in STAFF_SUM_FIELDS}
        if self.compliance_positions:
            result.noncompliant = self._noncompliant(result)
        return result

    def _noncompliant(self, result: SchoolEval) -> bool | None:
        """C5: a school is not compliant while any section misses one of the listed
        indicators or the rooms rule fails; unknown if nothing fails but something is unknown."""
        unknown = False
        for s in result.sections.values():
            for i in self.compliance_positions:
                m = s.met[i]
                if m is False:
                    return True
                if m is None:
                    unknown = True
        rooms = result.checks.get(self.compliance_rooms_rule) if self.compliance_rooms_rule else True
        if rooms is False:
            return True
        return None if unknown or rooms is None else False

    def _derive(self, facts: SchoolFacts) -> dict[str, Any]:
        """What enrolment and facilities imply, computed once per version of either."""
        enrol = facts.enrolment["sections"] if facts.enrolment is not None else None
        facilities = facts.facilities
        per_level: dict[str, tuple[int, int, int, int]] = {}
        total = None
        if enrol is not None:
            total = 0
            for level, e in enrol.items():
                sizes = e.get("class_sizes") or []
                large = sum(1 for c in sizes if c >= self.large_class_min) if self.large_class_min is not None else 0
                per_level[level] = (int(e["students"]), int(e["classes"]), max(sizes) if sizes else 0, large)
                total += int(e["students"])
        fac: dict[str, dict[str, float] | None] = {}
        for level in per_level or {}:
            fac[level] = _apportioned_facilities(facilities, level, per_level[level][0], total)
        if enrol is None and facilities is not None and "sections" in facilities:
            fac = dict(facilities["sections"])
        return {"enrol": per_level if enrol is not None else None, "fac": fac,
                "rooms_ok": self._rooms_ok(per_level if enrol is not None else None, facilities)}

    # ------------------------------------------------------------------ section
    def _section(self, level: str, school_type: str, derived: dict[str, Any],
                 staff: Mapping[str, Any] | None) -> SectionEval:
        enrol = derived["enrol"]
        e = enrol.get(level) if enrol is not None else None
        students = e[0] if e is not None else None
        staff_sec = staff.get(level) if staff is not None else None
        fac = derived["fac"].get(level)
        values: list[float | None] = []
        met: list[bool | None] = []
        missing: list[str | None] = []
        for num, from_staff, scale, op, bounds in self._fast:
            src = staff_sec if from_staff else fac
            if students is None:
                values.append(None)
                met.append(None)
                missing.append("missing students")
            elif src is None:
                values.append(None)
                met.append(None)
                missing.append(f"missing {num}")
            elif students == 0:
                values.append(None)
                met.append(None)
                missing.append("students is zero")
            else:
                v = scale * src[num] / students
                values.append(v)
                met.append(v >= bounds[level] if op == ">=" else v <= bounds[level])
                missing.append(None)
        included, excluded_reason = True, None
        if (school_type == "teaching_point" and self.teaching_point_min is not None
                and students is not None and students < self.teaching_point_min):
            included, excluded_reason = False, f"teaching point under {self.teaching_point_min} students"
        passed, reason = self._ras(level, values, met)
        max_size = None
        size_ok: bool | None = None
        large_classes = 0
        if e is not None:
            max_size, large_classes = e[2], e[3]
            if self.class_size is not None:
                size_ok = max_size <= self._class_size_bounds[level]
        return SectionEval(
            level=level, students=students, included=included, excluded_reason=excluded_reason,
            values=tuple(values), met=tuple(met), missing=tuple(missing),
            indicators_met=met.count(True), passed=passed, reason=reason,
            max_class_size=max_size, class_size_ok=size_ok, large_classes=large_classes,
        )

    def _ras(self, level: str, values: list[float | None], met: list[bool | None]) -> tuple[bool | None, str | None]:
        """RA-S: at most `allowed` indicators miss, and each miss is ≥ the minimum ratio."""
        if self.ras is None:
            return None, "no RA-S rule in the catalogue"
        misses, unknown = [], []
        for i in self._ras_positions:
            if met[i] is None:
                unknown.append(self.indicator_ids[i])
            elif not met[i]:
                misses.append(i)
        if len(misses) > self._ras_allowed_misses:
            return False, f"{len(misses)} indicators below threshold: " + ", ".join(self.indicator_ids[i] for i in misses)
        for i in misses:
            threshold = self._spec[i][4][level]
            ratio = values[i] / threshold  # type: ignore[operator]
            if not compare(ratio, ">=", self._ras_min_ratio):
                return False, f"{self.indicator_ids[i]} at {ratio:.1%} of its threshold, below {self._ras_min_ratio:.0%}"
        if unknown:
            return None, "undecided: " + ", ".join(unknown) + " lack inputs"
        return True, None

    def _rooms_ok(self, enrol: Mapping[str, tuple[int, int, int, int]] | None,
                  facilities: Mapping[str, Any] | None) -> bool | None:
        rule = self.rooms
        if rule is None:
            return True
        if enrol is None or facilities is None:
            return None
        classes = sum(e[1] for lv, e in enrol.items() if lv in self.levels)
        needed = max(1, math.ceil(classes / float(rule.params["classes_per_room"])))
        music = facilities.get("music_room_areas_m2") or []
        art = facilities.get("art_room_areas_m2") or []
        return (len(music) >= needed and len(art) >= needed
                and all(compare(a, ">=", float(rule.params["music_room_min_m2"])) for a in music)
                and all(compare(a, ">=", float(rule.params["art_room_min_m2"])) for a in art))

    def _funding_ok(self, profile: Mapping[str, Any], students: int | None,
                    finance: Mapping[str, Any] | None) -> bool | None:
        rule = self.small_funding
        assert rule is not None
        p = rule.params
        applies = profile.get("locale") in p["locales"] or profile["school_type"] in p["school_types"]
        if not applies:
            return True
        if students is None:
            return None
        if students >= int(p["below_students"]):
            return True
        if finance is None:
            return None
        floor = float(p["funded_as_students"]) * float(finance["public_funds_per_student_yuan"])
        return compare(float(finance["public_funds_budget_yuan"]), ">=", floor)

    @staticmethod
    def _ratio_ok(rule: Rule, finance: Mapping[str, Any] | None) -> bool | None:
        if finance is None:
            return None
        den = float(finance[rule.params["denominator"]])
        if den == 0:
            return None
        value = float(rule.params["scale"]) * float(finance[rule.params["numerator"]]) / den
        return compare(value, rule.comparator or ">=", float(rule.threshold))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ explanations
    def explain_section(self, subject: str, year: int, ev: SectionEval) -> list[RuleResult]:
        """The section's indicator results and RA-S as explainable RuleResults (off the hot path)."""
        out = []
        for i, rule in enumerate(self.indicators):
            out.append(RuleResult(
                rule_id=rule.id, subject=subject, year=year, passed=ev.met[i], value=ev.values[i],
                threshold=rule.thresholds[ev.level], comparator=rule.comparator,
                inputs={"level": ev.level, "students": ev.students, "numerator": rule.params["numerator"]},
                clause=rule.clause.cite(), reason=ev.missing[i], severity=rule.severity))
        if self.ras is not None:
            out.append(RuleResult(
                rule_id=self.ras.id, subject=subject, year=year, passed=ev.passed, value=ev.indicators_met,
                threshold=float(self.ras.params["min_met"]), comparator=">=",
                inputs={"level": ev.level, "met": dict(zip(self.indicator_ids, ev.met))},
                clause=self.ras.clause.cite(), reason=ev.reason, severity=self.ras.severity))
        return out


def _first(catalogue: Catalogue, kind: str) -> Rule | None:
    rules = catalogue.of_kind(kind)
    return rules[0] if rules else None


def _open_in(profile: Mapping[str, Any], year: int) -> bool:
    opened, closed = profile.get("opened_year"), profile.get("closed_year")
    return (opened is None or opened <= year) and (closed is None or year < closed)


def _apportioned_facilities(facilities: Mapping[str, Any] | None, level: str, students: int | None,
                            total_students: int | None) -> dict[str, float] | None:
    """A section's share of the facilities: as reported per section, or the whole school's
    split by enrolment (the only fair key the standard offers)."""
    if facilities is None:
        return None
    if "sections" in facilities:
        return facilities["sections"].get(level)
    whole = facilities.get("school")
    if whole is None or students is None or not total_students:
        return None
    share = students / total_students
    return {f: whole[f] * share for f in FACILITY_FIELDS}
