"""From one school's facts for one year to its sections' indicators and school-level checks.

A school is judged section by section (a nine-year school is a primary section and a junior
section, each against its own level's thresholds); whole-school facilities are apportioned to
sections by enrolment. This module is the only place that knows how raw facts become
indicator values, so the incremental state and the batch evaluation cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.facts import FACILITY_FIELDS, STAFF_FIELDS
from rules.loader import Catalogue
from rules.logic import all_of, bound, compare
from rules.model import Rule, RuleResult

STAFF_SUM_FIELDS = ("full_time_teachers", "trained_360h_teachers", "certified_teachers")


@dataclass(slots=True)
class Derived:
    """What one school-year's facts imply, kept between evaluations so that an event
    recomputes only what reads the fact it changed (SchoolFacts.set invalidates):

    - enrolment: everything here (students apportion facilities and divide every indicator);
    - facilities: the per-section facility shares, the rooms check (G3) and R4–R7;
    - staff: R1–R3 and the staff sums;
    - finance: nothing here (G6 and Q4 read it directly and are cheap).

    Cached sections are replaced, never mutated: an older SchoolEval sharing them stays as
    it was. The fields are flat (no tuples or small objects per school) because the state
    keeps one Derived per school and year: fewer objects for the garbage collector to walk."""

    school_type: str | None = None  # sections, whole-school figures and staff sums are for this type
    # enrolment: per level (students, classes, largest class, large classes), and the total
    enrol_known: bool = False
    enrol: dict[str, tuple[int, int, int, int]] | None = None
    total_students: int | None = None
    # facilities: each section's share, and the rooms check (G3)
    facilities_known: bool = False
    facilities: dict[str, Mapping[str, float] | None] | None = None
    rooms_ok: bool | None = None
    staff_sums_known: bool = False
    staff_sums: dict[str, int] | None = None
    sections: dict[str, SectionEval] | None = None
    stale_staff: bool = False  # cached sections' staff indicators need recomputing
    stale_facilities: bool = False  # … and their facility indicators
    # whole-school figures that read only the sections, for the sections dict `whole_for`
    whole_for: dict[str, SectionEval] | None = None
    students: int | None = None  # over the compulsory sections; unknown if one is
    large: bool | None = None  # above G4's size limit (None without a G4 rule)
    class_size_ok: bool | None = None  # G5
    large_classes: int = 0
    sections_noncompliant: bool | None = None  # C5's part from the sections

    def invalidate(self, name: str) -> None:
        if name == "enrolment":
            self.enrol_known = self.facilities_known = False
            self.sections = None
        elif name == "facilities":
            self.facilities_known = False
            self.stale_facilities = True
        elif name == "staff":
            self.staff_sums_known = False
            self.stale_staff = True

    def retype(self, school_type: str) -> None:
        """The school's type changed (a new registration): its sections are others."""
        self.school_type = school_type
        self.sections = None
        self.staff_sums_known = False


@dataclass(slots=True)
class SchoolFacts:
    """The latest applied version of each fact about one school in one year, with what is
    derived from them cached until one of them changes (set facts through `set`)."""

    profile: Mapping[str, Any] | None = None
    enrolment: Mapping[str, Any] | None = None
    staff: Mapping[str, Any] | None = None
    facilities: Mapping[str, Any] | None = None
    finance: Mapping[str, Any] | None = None
    derived: Derived | None = None

    def set(self, name: str, payload: Mapping[str, Any]) -> None:
        setattr(self, name, payload)
        if self.derived is not None:
            self.derived.invalidate(name)


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
    locale: str | None = None  # urban, town or rural: some district checks apply only where such schools exist


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
        # The hot path's indicator specs, per level and per source (staff, facilities): position,
        # numerator, scale, whether the comparator is >=, the bound, the text when the source is missing.
        n = len(self.indicators)
        self._by_source: dict[str, tuple[tuple[_Spec, ...], tuple[_Spec, ...]]] = {}
        for lv in {lv for r in self.indicators for lv in r.thresholds}:
            if all(lv in r.thresholds for r in self.indicators):
                specs = [
                    (
                        i,
                        r.params["numerator"],
                        float(r.params["scale"]),
                        r.comparator == ">=",
                        bound(r.comparator or ">=", r.thresholds[lv]),
                        f"missing {r.params['numerator']}",
                    )
                    for i, r in enumerate(self.indicators)
                ]
                self._by_source[lv] = (
                    tuple(sp for sp in specs if sp[1] in STAFF_FIELDS),
                    tuple(sp for sp in specs if sp[1] not in STAFF_FIELDS),
                )
        self._unknown: tuple[None, ...] = (None,) * n
        self._no_students: tuple[str, ...] = ("missing students",) * n
        self._reasons: dict[tuple[str, tuple[int, ...]], str] = {}  # RA-S texts, built once per case
        ras = catalogue.of_kind("section_rule")
        self.ras: Rule | None = ras[0] if ras else None
        if self.ras is not None:
            self._ras_positions = tuple(self.indicator_ids.index(i) for i in self.ras.params["indicators"])
            self._ras_allowed_misses = len(self._ras_positions) - int(self.ras.params["min_met"])
            self._ras_min_ratio = float(self.ras.params["remainder_min_ratio"])
        self.rooms = _first(catalogue, "school_rooms")
        self._rooms_params = (
            (
                float(self.rooms.params["classes_per_room"]),
                float(self.rooms.params["music_room_min_m2"]),
                float(self.rooms.params["art_room_min_m2"]),
            )
            if self.rooms is not None
            else (1.0, 0.0, 0.0)
        )
        self.size = _first(catalogue, "school_size")
        self.class_size = _first(catalogue, "class_size")
        self.small_funding = _first(catalogue, "small_school_funding")
        self.school_ratio = catalogue.of_kind("school_ratio")
        # the rules' parameters converted once, not per evaluation
        self._ratio_params = tuple(
            (
                r.id,
                r.params["numerator"],
                r.params["denominator"],
                float(r.params["scale"]),
                r.comparator or ">=",
                float(r.threshold),  # type: ignore[arg-type]
            )
            for r in self.school_ratio
        )
        fp = self.small_funding.params if self.small_funding is not None else {}
        self._funding_params = (
            (fp["locales"], fp["school_types"], int(fp["below_students"]), float(fp["funded_as_students"]))
            if fp
            else ((), (), 0, 0.0)
        )
        self._class_size_bounds = (
            {lv: bound(self.class_size.comparator or "<=", t) for lv, t in self.class_size.thresholds.items()}
            if self.class_size
            else {}
        )
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
            derived = facts.derived = Derived()
        if derived.school_type != school_type:
            derived.retype(school_type)
        if not derived.enrol_known:
            self._derive_enrolment(derived, facts.enrolment)
        if not derived.facilities_known:
            self._derive_facilities(derived, facts.facilities)
        staff = facts.staff["sections"] if facts.staff is not None else None
        sections = self._sections(derived, levels, school_type, staff)
        if derived.whole_for is not sections:
            self._whole(derived, sections, school_type)
        if not derived.staff_sums_known:
            derived.staff_sums = self._staff_sums(staff, levels)
            derived.staff_sums_known = True
        checks: dict[str, bool | None] = {}
        if self.rooms is not None:
            checks[self.rooms.id] = derived.rooms_ok
        if self.size is not None:
            checks[self.size.id] = None if derived.large is None else not derived.large
        if self.class_size is not None:
            checks[self.class_size.id] = derived.class_size_ok
        if self.small_funding is not None:
            checks[self.small_funding.id] = self._funding_ok(profile, derived.students, facts.finance)
        if self._ratio_params:
            self._ratios(checks, facts.finance)
        result = SchoolEval(
            True,
            sections,
            checks,
            derived.large,
            None,
            derived.staff_sums,
            derived.large_classes,
            profile.get("locale"),
        )
        if self.compliance_positions:
            result.noncompliant = self._noncompliant(derived.sections_noncompliant, checks)
        return result

    def _whole(self, derived: Derived, sections: dict[str, SectionEval], school_type: str) -> None:
        """The whole-school figures that read only the sections (see Derived), in one pass."""
        students: int | None = 0
        class_size: list[bool | None] = []
        large_classes = 0
        for sec in sections.values():
            if sec.students is None:
                students = None
            elif students is not None:
                students += sec.students
            class_size.append(sec.class_size_ok)
            large_classes += sec.large_classes
        large = None
        if self.size is not None and students is not None:
            limit = self.size.params["max_students"]
            large = students > limit.get(school_type, limit["default"])
        derived.whole_for = sections
        derived.students = students
        derived.large = large
        derived.class_size_ok = all_of(class_size) if self.class_size is not None else None
        derived.large_classes = large_classes
        derived.sections_noncompliant = self._sections_noncompliant(sections) if self.compliance_positions else None

    @staticmethod
    def _staff_sums(staff: Mapping[str, Any] | None, levels: list[str]) -> dict[str, int] | None:
        """G9/G12's district sums need every section's staff; unknown while one is missing."""
        if staff is None:
            return None
        sums = dict.fromkeys(STAFF_SUM_FIELDS, 0)
        for lv in levels:
            section = staff.get(lv)
            if section is None:
                return None
            for f in STAFF_SUM_FIELDS:
                sums[f] += int(section[f])
        return sums

    def _sections_noncompliant(self, sections: dict[str, SectionEval]) -> bool | None:
        """C5's part from the sections: True if a section misses one of the listed
        indicators, None if none misses but one is unknown, else False."""
        unknown = False
        for s in sections.values():
            for i in self.compliance_positions:
                m = s.met[i]
                if m is False:
                    return True
                if m is None:
                    unknown = True
        return None if unknown else False

    def _noncompliant(self, sections_noncompliant: bool | None, checks: Mapping[str, bool | None]) -> bool | None:
        """C5: a school is not compliant while any section misses one of the listed
        indicators or the rooms rule fails; unknown if nothing fails but something is unknown."""
        if sections_noncompliant is True:
            return True
        rooms = checks.get(self.compliance_rooms_rule) if self.compliance_rooms_rule else True
        if rooms is False:
            return True
        return None if sections_noncompliant is None or rooms is None else False

    def _derive_enrolment(self, derived: Derived, enrolment: Mapping[str, Any] | None) -> None:
        """Per level: students, classes, largest class, large classes; and the total."""
        per_level: dict[str, tuple[int, int, int, int]] | None = None
        total = None
        if enrolment is not None:
            per_level, total = {}, 0
            for level, e in enrolment["sections"].items():
                sizes = e.get("class_sizes") or []
                large = sum(1 for c in sizes if c >= self.large_class_min) if self.large_class_min is not None else 0
                per_level[level] = (int(e["students"]), int(e["classes"]), max(sizes) if sizes else 0, large)
                total += int(e["students"])
        derived.enrol, derived.total_students, derived.enrol_known = per_level, total, True

    def _derive_facilities(self, derived: Derived, facilities: Mapping[str, Any] | None) -> None:
        """Each section's share of the facilities, and the rooms check (G3); after enrolment."""
        per_level, total = derived.enrol, derived.total_students
        fac: dict[str, Mapping[str, float] | None] = {}
        if per_level is not None:
            for level, e in per_level.items():
                fac[level] = _apportioned_facilities(facilities, level, e[0], total)
        elif facilities is not None and "sections" in facilities:
            fac = dict(facilities["sections"])
        derived.facilities, derived.rooms_ok = fac, self._rooms_ok(per_level, facilities)
        derived.facilities_known = True

    # ------------------------------------------------------------------ section
    def _sections(
        self, derived: Derived, levels: list[str], school_type: str, staff: Mapping[str, Any] | None
    ) -> dict[str, SectionEval]:
        """Every section of the school: the cached one while none of its facts changed,
        else recomputed, from the cached one's indicators when only staff or only
        facilities changed (a finance event thus recomputes no indicator at all)."""
        redo_staff, redo_fac = derived.stale_staff, derived.stale_facilities
        if derived.sections is not None and not (redo_staff or redo_fac):
            return derived.sections  # no fact of any section changed: the very same dict
        cached = derived.sections or {}
        enrol, fac = derived.enrol, derived.facilities or {}
        out: dict[str, SectionEval] = {}
        for level in levels:
            prev = cached.get(level)
            if prev is None or redo_staff or redo_fac:
                prev = self._section(
                    level,
                    school_type,
                    enrol,
                    fac.get(level),
                    staff.get(level) if staff is not None else None,
                    prev,
                    redo_staff,
                    redo_fac,
                )
            out[level] = prev
        derived.sections = out
        derived.stale_staff = derived.stale_facilities = False
        return out

    def _section(
        self,
        level: str,
        school_type: str,
        enrol: Mapping[str, tuple[int, int, int, int]] | None,
        fac: Mapping[str, float] | None,
        staff: Mapping[str, Any] | None,
        prev: SectionEval | None = None,
        redo_staff: bool = True,
        redo_fac: bool = True,
    ) -> SectionEval:
        """One section. With `prev` (the same section under the same enrolment), only the
        indicators of the sources flagged redo_* are computed; the others are copied."""
        e = enrol.get(level) if enrol is not None else None
        students = e[0] if e is not None else None
        values: tuple[float | None, ...]
        met: tuple[bool | None, ...]
        missing: tuple[str | None, ...]
        if students is None:
            values, met, missing = self._unknown, self._unknown, self._no_students
        else:
            if prev is None:
                vals: list[Any] = list(self._unknown)
                oks: list[Any] = list(self._unknown)
                whys: list[Any] = list(self._unknown)
                redo_staff = redo_fac = True
            else:
                vals, oks, whys = list(prev.values), list(prev.met), list(prev.missing)
            staff_specs, fac_specs = self._by_source[level]
            if redo_staff:
                _indicators(staff_specs, staff, students, vals, oks, whys)
            if redo_fac:
                _indicators(fac_specs, fac, students, vals, oks, whys)
            values, met, missing = tuple(vals), tuple(oks), tuple(whys)
        included, excluded_reason = True, None
        if (
            school_type == "teaching_point"
            and self.teaching_point_min is not None
            and students is not None
            and students < self.teaching_point_min
        ):
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
            level=level,
            students=students,
            included=included,
            excluded_reason=excluded_reason,
            values=values,
            met=met,
            missing=missing,
            indicators_met=met.count(True),
            passed=passed,
            reason=reason,
            max_class_size=max_size,
            class_size_ok=size_ok,
            large_classes=large_classes,
        )

    def _ras(
        self, level: str, values: tuple[float | None, ...], met: tuple[bool | None, ...]
    ) -> tuple[bool | None, str | None]:
        """RA-S: at most `allowed` indicators miss, and each miss is ≥ the minimum ratio."""
        if self.ras is None:
            return None, "no RA-S rule in the catalogue"
        misses, unknown = [], []
        for i in self._ras_positions:
            m = met[i]
            if m is None:
                unknown.append(i)
            elif not m:
                misses.append(i)
        if len(misses) > self._ras_allowed_misses:
            return False, self._reason("below", misses)
        for i in misses:
            threshold = self._spec[i][4][level]
            ratio = values[i] / threshold  # type: ignore[operator]
            if not compare(ratio, ">=", self._ras_min_ratio):
                return (
                    False,
                    f"{self.indicator_ids[i]} at {ratio:.1%} of its threshold, below {self._ras_min_ratio:.0%}",
                )
        if unknown:
            return None, self._reason("undecided", unknown)
        return True, None

    def _reason(self, kind: str, positions: list[int]) -> str:
        """RA-S's text for indicators at these positions; there are few distinct cases, so
        each text is built once rather than on every evaluation."""
        key = (kind, tuple(positions))
        text = self._reasons.get(key)
        if text is None:
            names = ", ".join(self.indicator_ids[i] for i in positions)
            text = (
                f"{len(positions)} indicators below threshold: {names}"
                if kind == "below"
                else f"undecided: {names} lack inputs"
            )
            self._reasons[key] = text
        return text

    def _rooms_ok(
        self, enrol: Mapping[str, tuple[int, int, int, int]] | None, facilities: Mapping[str, Any] | None
    ) -> bool | None:
        rule = self.rooms
        if rule is None:
            return True
        if enrol is None or facilities is None:
            return None
        classes = sum(e[1] for lv, e in enrol.items() if lv in self.levels)
        per_room, music_min, art_min = self._rooms_params
        needed = max(1, math.ceil(classes / per_room))
        music = facilities.get("music_room_areas_m2") or []
        art = facilities.get("art_room_areas_m2") or []
        # every room meets its minimum area iff the smallest does (compare() is monotonic in
        # the value for a non-negative threshold); needed ≥ 1, so neither list is empty here
        return (
            len(music) >= needed
            and len(art) >= needed
            and compare(min(music), ">=", music_min)
            and compare(min(art), ">=", art_min)
        )

    def _funding_ok(
        self, profile: Mapping[str, Any], students: int | None, finance: Mapping[str, Any] | None
    ) -> bool | None:
        locales, school_types, below, funded_as = self._funding_params
        applies = profile.get("locale") in locales or profile["school_type"] in school_types
        if not applies:
            return True
        if students is None:
            return None
        if students >= below:
            return True
        if finance is None:
            return None
        floor = funded_as * float(finance["public_funds_per_student_yuan"])
        return compare(float(finance["public_funds_budget_yuan"]), ">=", floor)

    def _ratios(self, checks: dict[str, bool | None], finance: Mapping[str, Any] | None) -> None:
        """The school_ratio checks (Q4 …): scale × numerator / denominator of the finance fact."""
        for rule_id, numerator, denominator, scale, comparator, threshold in self._ratio_params:
            if finance is None:
                checks[rule_id] = None
                continue
            den = float(finance[denominator])
            checks[rule_id] = (
                None if den == 0 else compare(scale * float(finance[numerator]) / den, comparator, threshold)
            )

    # ------------------------------------------------------------------ explanations
    def explain_section(self, subject: str, year: int, ev: SectionEval) -> list[RuleResult]:
        """The section's indicator results and RA-S as explainable RuleResults (off the hot path)."""
        out = []
        for i, rule in enumerate(self.indicators):
            out.append(
                RuleResult(
                    rule_id=rule.id,
                    subject=subject,
                    year=year,
                    passed=ev.met[i],
                    value=ev.values[i],
                    threshold=rule.thresholds[ev.level],
                    comparator=rule.comparator,
                    inputs={"level": ev.level, "students": ev.students, "numerator": rule.params["numerator"]},
                    clause=rule.clause.cite(),
                    reason=ev.missing[i],
                    severity=rule.severity,
                )
            )
        if self.ras is not None:
            out.append(
                RuleResult(
                    rule_id=self.ras.id,
                    subject=subject,
                    year=year,
                    passed=ev.passed,
                    value=ev.indicators_met,
                    threshold=float(self.ras.params["min_met"]),
                    comparator=">=",
                    inputs={"level": ev.level, "met": dict(zip(self.indicator_ids, ev.met))},
                    clause=self.ras.clause.cite(),
                    reason=ev.reason,
                    severity=self.ras.severity,
                )
            )
        return out


_Spec = tuple[int, str, float, bool, float, str]


def _indicators(
    specs: tuple[_Spec, ...],
    src: Mapping[str, Any] | None,
    students: int,
    values: list[Any],
    met: list[Any],
    missing: list[Any],
) -> None:
    """Fill in one source's indicators of a section with known students. A missing source
    is reported before zero students, as the explanation names the absent input first."""
    if src is None:
        for pos, _, _, _, _, text in specs:
            values[pos] = met[pos] = None
            missing[pos] = text
    elif students == 0:  # no students: flagged, never divided by
        for spec in specs:
            pos = spec[0]
            values[pos] = met[pos] = None
            missing[pos] = "students is zero"
    else:
        for pos, num, scale, at_least, limit, _ in specs:
            v = scale * src[num] / students
            values[pos] = v
            met[pos] = v >= limit if at_least else v <= limit
            missing[pos] = None


def _first(catalogue: Catalogue, kind: str) -> Rule | None:
    rules = catalogue.of_kind(kind)
    return rules[0] if rules else None


def _open_in(profile: Mapping[str, Any], year: int) -> bool:
    opened, closed = profile.get("opened_year"), profile.get("closed_year")
    return (opened is None or opened <= year) and (closed is None or year < closed)


def _apportioned_facilities(
    facilities: Mapping[str, Any] | None, level: str, students: int | None, total_students: int | None
) -> dict[str, float] | None:
    """A section's share of the facilities: as reported per section, or the whole school's
    split by enrolment (the only fair key the standard offers)."""
    if facilities is None:
        return None
    if "sections" in facilities:
        reported: dict[str, float] | None = facilities["sections"].get(level)
        return reported
    whole = facilities.get("school")
    if whole is None or students is None or not total_students:
        return None
    share = students / total_students
    return {f: whole[f] * share for f in FACILITY_FIELDS}
