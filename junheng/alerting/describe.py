"""The words of an alert: rule names, clauses and severities from the rules catalogue, and for
each rule what a district (or the city) has to do about it.

Severity and clause come from the catalogue (``rules/catalogue/*.yaml``, the same data as the dbt
seed ``catalogue.rules``), so a bureau that re-grades a rule re-grades its alerts. Two conditions
are not catalogue rules and are graded here: ``DCY`` (not attained by the district's own declared
creation year: critical, like the plan's C1), ``ATTAINMENT`` (attainment lost: major) and ``OUTLOOK``
(at risk of missing the declared year at the current rate: major).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: pseudo rule ids
DCY = "DCY"
ATTAINMENT = "ATTAINMENT"
OUTLOOK = "OUTLOOK"


@dataclass(frozen=True)
class RuleText:
    rule_id: str
    name_en: str
    name_zh: str
    clause: str
    severity: str


_PSEUDO = {
    DCY: RuleText(
        DCY,
        "Attained by the district's declared creation year",
        "按申报创建年度达到优质均衡",
        "青教通字〔2021〕137号 二、工作目标 (创建年度)",
        "critical",
    ),
    ATTAINMENT: RuleText(
        ATTAINMENT, "District attains high-quality balance", "达到优质均衡", "教督〔2017〕6号 第十条", "major"
    ),
    OUTLOOK: RuleText(
        OUTLOOK,
        "On course to attain by the district's declared year and the plan's deadline",
        "按期达到优质均衡的趋势",
        "青教通字〔2021〕137号 二、工作目标",
        "major",
    ),
}

# What to do about each rule (standard.md §5–§6). {…} fields are filled from the alert's data.
FIX: dict[str, str] = {
    DCY: "Attain the standard: fix the failing items {failed}{undecided}; or agree a later creation year "
    "with the city (district.registered declared_creation_year).",
    ATTAINMENT: "Attainment was lost: fix the failing items {failed}{undecided} (see mart_district_attainment "
    "and intermediate.int_district_rule_verdicts for each rule's reason).",
    OUTLOOK: "At the rate it is going the district attains after {target}: speed up {items} (mart_district_outlook "
    "gives each item's trend, mart_district_gap_to_pass and mart_school_gap_to_pass what it takes to pass).",
    "C1": "The plan wants every district attained by its deadline: fix the failing items {failed}{undecided}; "
    "a declared creation year after the plan's deadline must be brought forward.",
    "C2": "Remove every large class (≥ 56 students) and every large-scale school (above the G4 limits).",
    "C3": "Resolve at least 25% of the district's large-scale schools this year and open no new one.",
    "C5": "Bring at least 25% of the not-yet-compliant schools to compliance this year (teaching and auxiliary "
    "room area, sports area, multimedia classrooms, music/art/practice rooms).",
    "C6": "Rural teachers must be at least 30% of the entrants to the city's IT-integrated lesson competition.",
    "C7": "Rotate at least 10% of eligible teachers, backbone teachers at least 20% of those rotated (as G11).",
    "C8": "Every school spends at least 5% of its annual public-funds budget on teacher training (as Q4).",
    "C9": "Raise teachers' average pay to at least the local civil servants' average (as G8).",
    "C11": "Reduce the number of subject-type off-campus training institutions below last year's.",
    "C12": "General public budget spending on education must not fall year on year, in total and per student.",
    "C13": "Provide after-school services in every compulsory school (100%).",
    "D1": "Complete the district's self-assessment on the latest statistics by 31 December and record it "
    "(district.milestone kind self_assessment).",
    "D2": "The city's assessment of the district is due by 31 March of the next year; record it "
    "(district.milestone kind city_assessment).",
    "D3": "A district that meets the standard applies for recognition by 31 May of the next year; record it "
    "(district.milestone kind recognition_application).",
    "V": "A veto fails attainment whatever else passes: stop the violation ({name}) and have the inspection "
    "record it as cleared (district.inspection, result pass).",
    "CITY-C1": "Bring more districts to attainment — {attained} of {total} attained ({share}), the plan wants "
    "{target}. Not yet attained: {laggards}.",
    "C4": "Build, rebuild or expand at least {threshold:g} schools per year on average since 2021 (now {value:g}).",
    "C10": "Reach at least {threshold:g} quality education groups by the plan's deadline (now {value:g}).",
}


class RuleBook:
    """Rule names, clauses and severities by rule id."""

    def __init__(self, rules: Mapping[str, RuleText]) -> None:
        self.rules = dict(_PSEUDO)
        self.rules.update(rules)

    @classmethod
    def from_catalogue(cls, catalogue: Any = None) -> RuleBook:
        if catalogue is None:
            from junheng.settings import catalogue_name
            from rules import load_catalogue

            catalogue = load_catalogue(catalogue_name())
        return cls(
            {
                rid: RuleText(rid, r.name_en, r.name_zh, r.clause.cite(), r.severity)
                for rid, r in catalogue.rules.items()
            }
        )

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> RuleBook:
        """From the dbt seed ``catalogue.rules`` (rule_id, name_en, name_zh, clause, severity)."""
        return cls(
            {
                r["rule_id"]: RuleText(
                    r["rule_id"],
                    r["name_en"] or r["rule_id"],
                    r["name_zh"] or "",
                    r["clause"] or "",
                    r["severity"] or "major",
                )
                for r in rows
            }
        )

    def get(self, rule_id: str) -> RuleText:
        found = self.rules.get(rule_id)
        return found if found is not None else RuleText(rule_id, rule_id, "", "", "major")

    def severity(self, rule_id: str, default: str = "major") -> str:
        found = self.rules.get(rule_id)
        return found.severity if found is not None else default


def items_text(failed: Iterable[str] | None, undecided: Iterable[str] | None = None) -> tuple[str, str]:
    f = ", ".join(sorted(failed or [])) or "none recorded"
    u = ", ".join(sorted(undecided or []))
    return f, (f" (undecided: {u})" if u else "")


def fix_text(rule_id: str, **data: Any) -> str:
    key = "V" if rule_id.startswith("V") and rule_id[1:].isdigit() else rule_id
    template = FIX.get(key)
    if template is None:
        return ""
    try:
        return template.format(**data)
    except (KeyError, ValueError, IndexError):
        return template


def district_label(name: str | None, code: str | None) -> str:
    if code is None:
        return "Qingdao (city)"
    return f"{name} ({code})" if name and name != code else code
