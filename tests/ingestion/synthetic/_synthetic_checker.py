"""An independent reader of the synthetic stream, for the tests only.

It classifies every line the way the platform is meant to (bad by reason, duplicate, stale,
applied), keeps the latest version of each fact, and evaluates a *rough* version of the standard
(RA-S, RA-CV, G3–G15, Q1–Q9, SR, PRE, vetoes) so the tests can check that the generated story holds.
It deliberately shares no code with the generator: it is written from the brief and standard.md.
It is not the rules engine; the catalogue there is the authority.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

from ingestion.synthetic import generate_city

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_BYTES = 64 * 1024

SCHOOL_TYPES = {"primary", "junior", "nine_year", "twelve_year", "complete_secondary", "teaching_point", "special"}
STAFF_FIELDS = (
    "full_time_teachers",
    "qualified_teachers",
    "backbone_teachers",
    "pe_arts_teachers",
    "certified_teachers",
    "trained_360h_teachers",
)
FACILITY_FIELDS = ("teaching_aux_area_m2", "sports_area_m2", "equipment_value_yuan", "multimedia_rooms")
STAT_FIELDS = {
    "rotation_eligible",
    "rotated",
    "rotated_backbone",
    "teacher_avg_pay_yuan",
    "civil_servant_avg_pay_yuan",
    "special_ed_funds_per_student_yuan",
    "nearby_enrolment_urban_pct",
    "nearby_enrolment_town_pct",
    "quality_hs_quota_pct",
    "migrant_public_pct",
    "junior_retention_pct",
    "disabled_enrolment_pct",
    "monitoring_level_iii_share_pct",
    "monitoring_difference_rate",
    "satisfaction_pct",
    "education_spend_yuan",
    "education_spend_per_student_yuan",
    "training_institutions",
    "after_school_coverage_pct",
    "it_competition_rural_share_pct",
    "quality_groups",
}
ASSESSED = ("G1", "G2", "G10", "Q3", "Q5", "Q6", "Q7", "Q8")
VETOES = ("exam_admission", "illegal_school_choice", "key_schools", "falsified_data", "major_incident")
MILESTONES = {"self_assessment", "city_assessment", "recognition_application", "recognised"}

THR = {  # (primary, junior)
    "R1": (4.2, 5.3),
    "R2": (1.0, 1.0),
    "R3": (0.9, 0.9),
    "R4": (4.5, 5.8),
    "R5": (7.5, 10.2),
    "R6": (2000, 2500),
    "R7": (2.3, 2.4),
}


class SchemaError(Exception):
    pass


class Impossible(Exception):
    pass


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise SchemaError(msg)


def _keys(obj: Any, required: set[str], optional: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    _need(isinstance(obj, dict), "not an object")
    _need(required <= obj.keys() <= required | optional, f"keys {sorted(obj)}")


def check_schema(e: Any) -> None:
    """Raise SchemaError if ``e`` breaks the contract's shape (types, keys, enums)."""
    _need(isinstance(e, dict), "event is not an object")
    et = e.get("event_type")
    school = isinstance(et, str) and et.startswith("school.")
    env = {
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "source",
        "district_code",
        "year",
        "seq",
        "payload",
    }
    _keys(e, env | ({"school_id"} if school else set()))
    _need(isinstance(e["event_id"], str) and bool(UUID_RE.match(e["event_id"])), "event_id")
    _need(e["schema_version"] == 1 and _int(e["schema_version"]), "schema_version")
    _need(isinstance(e["occurred_at"], str) and bool(TIME_RE.match(e["occurred_at"])), "time")
    _need(isinstance(e["source"], str) and e["source"] != "", "source")
    _need(isinstance(e["district_code"], str) and bool(re.fullmatch(r"\d{6}", e["district_code"])), "district_code")
    if school:
        _need(isinstance(e["school_id"], str) and bool(re.fullmatch(r"\d{10}", e["school_id"])), "school_id")
    _need(_int(e["year"]), "year")
    _need(_int(e["seq"]) and e["seq"] >= 0, "seq")
    p = e["payload"]
    if et == "school.registered":
        _keys(p, {"name", "school_type", "locale", "ownership", "boarding", "opened_year", "closed_year"})
        _need(isinstance(p["name"], str), "name")
        _need(p["school_type"] in SCHOOL_TYPES, "school_type")
        _need(p["locale"] in ("urban", "town", "rural"), "locale")
        _need(p["ownership"] in ("public", "private"), "ownership")
        _need(isinstance(p["boarding"], bool), "boarding")
        _need(p["opened_year"] is None or _int(p["opened_year"]), "opened_year")
        _need(p["closed_year"] is None or _int(p["closed_year"]), "closed_year")
    elif et == "school.enrolment":
        _keys(p, {"sections"})
        _need(isinstance(p["sections"], dict) and bool(p["sections"]), "sections")
        _need(set(p["sections"]) <= {"primary", "junior", "senior"}, "levels")
        for s in p["sections"].values():
            _keys(s, {"students", "classes", "class_sizes"})
            _need(_int(s["students"]) and _int(s["classes"]), "ints")
            _need(isinstance(s["class_sizes"], list) and all(_int(x) for x in s["class_sizes"]), "class_sizes")
    elif et == "school.staff":
        _keys(p, {"sections"})
        _need(isinstance(p["sections"], dict) and bool(p["sections"]), "sections")
        _need(set(p["sections"]) <= {"primary", "junior"}, "levels")
        for s in p["sections"].values():
            _keys(s, set(STAFF_FIELDS))
            _need(all(_int(s[f]) for f in STAFF_FIELDS), "ints")
    elif et == "school.facilities":
        _need(isinstance(p, dict) and (("school" in p) != ("sections" in p)), "school xor sections")
        _keys(p, {"music_room_areas_m2", "art_room_areas_m2"}, {"school", "sections"})
        for f in ("music_room_areas_m2", "art_room_areas_m2"):
            _need(isinstance(p[f], list) and all(_num(x) for x in p[f]), f)
        blocks = [p["school"]] if "school" in p else list(p["sections"].values())
        if "sections" in p:
            _need(set(p["sections"]) <= {"primary", "junior"} and bool(p["sections"]), "levels")
        for b in blocks:
            _keys(b, set(FACILITY_FIELDS))
            _need(all(_num(b[f]) for f in FACILITY_FIELDS) and _int(b["multimedia_rooms"]), "F")
    elif et == "school.finance":
        _keys(p, {"public_funds_budget_yuan", "teacher_training_yuan", "public_funds_per_student_yuan"})
        _need(all(_num(v) for v in p.values()), "numbers")
    elif et == "school.project":
        _keys(p, {"kind", "completed_on"})
        _need(p["kind"] in ("new", "rebuilt", "expanded"), "kind")
        _need(isinstance(p["completed_on"], str) and bool(DATE_RE.match(p["completed_on"])), "date")
    elif et == "district.registered":
        _keys(p, {"name", "basic_balance_year", "declared_creation_year"})
        _need(isinstance(p["name"], str), "name")
        _need(_int(p["basic_balance_year"]) and _int(p["declared_creation_year"]), "years")
    elif et == "district.statistics":
        _keys(p, set(), STAT_FIELDS)
        _need(all(_num(v) for v in p.values()), "numbers")
    elif et == "district.inspection":
        _keys(p, {"item", "result", "note", "inspector"})
        _need(p["item"] in ASSESSED + VETOES, "item")
        _need(p["result"] in ("pass", "fail"), "result")
        _need(isinstance(p["note"], str) and isinstance(p["inspector"], str), "strings")
    elif et == "district.milestone":
        _keys(p, {"kind", "on"})
        _need(p["kind"] in MILESTONES, "kind")
        _need(isinstance(p["on"], str) and bool(DATE_RE.match(p["on"])), "on")
    else:
        raise SchemaError(f"unknown event_type {et!r}")


def check_values(e: dict[str, Any]) -> None:
    """Raise Impossible for values that cannot be true."""
    et, p = e["event_type"], e["payload"]

    def nonneg(v: float, what: str) -> None:
        if v < 0:
            raise Impossible(f"negative {what}")

    if et == "school.enrolment":
        for s in p["sections"].values():
            nonneg(s["students"], "students")
            if len(s["class_sizes"]) != s["classes"] or sum(s["class_sizes"]) != s["students"]:
                raise Impossible("class_sizes")
            if any(x < 0 for x in s["class_sizes"]):
                raise Impossible("negative class")
    elif et == "school.staff":
        for s in p["sections"].values():
            for f in STAFF_FIELDS:
                nonneg(s[f], f)
                if s[f] > s["full_time_teachers"]:
                    raise Impossible(f"{f} > full_time_teachers")
    elif et == "school.facilities":
        blocks = [p["school"]] if "school" in p else list(p["sections"].values())
        for b in blocks:
            for f in FACILITY_FIELDS:
                nonneg(b[f], f)
        for x in p["music_room_areas_m2"] + p["art_room_areas_m2"]:
            nonneg(x, "room")
    elif et == "school.finance":
        for f, v in p.items():
            nonneg(v, f)
        if p["teacher_training_yuan"] > p["public_funds_budget_yuan"]:
            raise Impossible("training > budget")
    elif et == "district.statistics":
        for f, v in p.items():
            nonneg(v, f)
            if f.endswith("_pct") and v > 100:
                raise Impossible(f"{f} > 100")


def key(e: dict[str, Any]) -> tuple[str, str, int, str]:
    """The fact a line versions. The contract names (type, school or district, year); the
    13 inspections and the milestones of a district-year are distinct facts, told apart by
    their item or kind (an assumption the contract should state)."""
    p = e["payload"]
    sub = (
        p.get("item", "")
        if e["event_type"] == "district.inspection"
        else (p.get("kind", "") if e["event_type"] == "district.milestone" else "")
    )
    return (e["event_type"], e.get("school_id") or e["district_code"], e["year"], sub)


def classify(lines: list[bytes]) -> tuple[list[str], dict[tuple[str, str, int, str], dict[str, Any]]]:
    """Category of every line, and the latest applied version of every fact."""
    cats: list[str] = []
    districts: set[str] = set()
    schools: set[str] = set()
    seen: set[str] = set()
    latest: dict[tuple[str, str, int, str], dict[str, Any]] = {}
    for line in lines:
        if len(line) > MAX_BYTES:
            cats.append("bad:oversized")
            continue
        try:
            e = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            cats.append("bad:not_json")
            continue
        try:
            check_schema(e)
        except SchemaError:
            cats.append("bad:schema")
            continue
        if e["event_type"] != "district.registered" and e["district_code"] not in districts:
            cats.append("bad:unknown_district")
            continue
        if (
            e["event_type"].startswith("school.")
            and e["event_type"] != "school.registered"
            and (e["school_id"] not in schools)
        ):
            cats.append("bad:unknown_school")
            continue
        try:
            check_values(e)
        except Impossible:
            cats.append("bad:impossible_value")
            continue
        if e["event_id"] in seen:
            cats.append("duplicate")
            continue
        seen.add(e["event_id"])
        k = key(e)
        old = latest.get(k)
        if old is not None and old["seq"] >= e["seq"]:
            assert old["seq"] > e["seq"], f"two versions with the same seq: {k}"
            cats.append("stale")
            continue
        latest[k] = e
        cats.append("valid")
        if e["event_type"] == "district.registered":
            districts.add(e["district_code"])
        elif e["event_type"] == "school.registered":
            schools.add(e["school_id"])
    return cats, latest


@lru_cache(maxsize=8)
def city(seed: int = 2021, schools: int = 1000, bad: float = 0.0, dup: float = 0.0, stale: float = 0.0):  # type: ignore[no-untyped-def]
    """Generated once per parameter set and shared by the tests."""
    return generate_city(seed=seed, schools=schools, bad_fraction=bad, duplicate_fraction=dup, stale_fraction=stale)


@lru_cache(maxsize=8)
def read(seed: int = 2021, schools: int = 1000, bad: float = 0.0, dup: float = 0.0, stale: float = 0.0):  # type: ignore[no-untyped-def]
    return classify(city(seed, schools, bad, dup, stale).lines)


# -- the standard, roughly -------------------------------------------------------------------


def _wcv(pairs: list[tuple[float, float]]) -> float:
    n = sum(p for p, _ in pairs)
    if n <= 0:
        return 0.0
    mean = sum(p * x for p, x in pairs) / n
    var = sum(p / n * (x - mean) ** 2 for p, x in pairs)
    return math.sqrt(var) / mean if mean else 0.0


def sections(latest: dict, district: str, year: int) -> list[dict[str, Any]]:
    """Per assessed section: level, students and R1..R7 values (special schools excluded)."""
    reg = _registrations(latest)
    out = []
    for (et, sid, y, _), e in latest.items():
        if et != "school.staff" or y != year or e["district_code"] != district:
            continue
        if reg[sid]["school_type"] == "special":
            continue
        enrol = latest[("school.enrolment", sid, year, "")]["payload"]["sections"]
        fac = latest[("school.facilities", sid, year, "")]["payload"]
        total = sum(s["students"] for s in enrol.values())
        for lv, st in e["payload"]["sections"].items():
            n = enrol[lv]["students"]
            if "sections" in fac:
                f = fac["sections"][lv]
                share = 1.0
            else:
                f = fac["school"]
                share = n / total
            out.append(
                {
                    "school_id": sid,
                    "level": lv,
                    "students": n,
                    "R1": 100 * st["qualified_teachers"] / n,
                    "R2": 100 * st["backbone_teachers"] / n,
                    "R3": 100 * st["pe_arts_teachers"] / n,
                    "R4": f["teaching_aux_area_m2"] * share / n,
                    "R5": f["sports_area_m2"] * share / n,
                    "R6": f["equipment_value_yuan"] * share / n,
                    "R7": 100 * f["multimedia_rooms"] * share / n,
                }
            )
    return out


def section_passes(sec: dict[str, Any]) -> bool:
    i = 0 if sec["level"] == "primary" else 1
    ratios = [sec[r] / THR[r][i] for r in THR]
    return sum(r >= 1 for r in ratios) >= 6 and min(ratios) >= 0.85


def _registrations(latest: dict) -> dict[str, dict[str, Any]]:
    reg: dict[str, tuple[int, dict[str, Any]]] = {}
    for (et, sid, y, _), e in latest.items():
        if et == "school.registered" and (sid not in reg or reg[sid][0] < y):
            reg[sid] = (y, e["payload"])
    return {sid: p for sid, (_, p) in reg.items()}


def failures(latest: dict, district: str, year: int) -> list[str]:
    """Requirements the district misses in ``year``; empty means it attains."""
    fails: list[str] = []
    secs = sections(latest, district, year)
    if not all(section_passes(s) for s in secs):
        fails.append("RA-S")
    for lv, limit in (("primary", 0.50), ("junior", 0.45)):
        group = [s for s in secs if s["level"] == lv]
        for r in THR:
            if group and _wcv([(s["students"], s[r]) for s in group]) > limit:
                fails.append(f"RA-CV:{lv}:{r}")
    reg = _registrations(latest)
    trained = certified = ft = 0
    for (et, sid, y, _), e in latest.items():
        if y != year or e["district_code"] != district or not et.startswith("school."):
            continue
        p = e["payload"]
        info = reg[sid]
        if et == "school.enrolment" and info["school_type"] != "special":
            secs_e = p["sections"]
            classes = sum(s["classes"] for s in secs_e.values())
            compulsory = sum(s["students"] for lv, s in secs_e.items() if lv != "senior")
            limit = 2500 if info["school_type"] in ("nine_year", "twelve_year") else 2000
            if compulsory > limit:
                fails.append("G4")
            for lv, s in secs_e.items():
                if lv != "senior" and max(s["class_sizes"]) > (45 if lv == "primary" else 50):
                    fails.append("G5")
            fac = latest[("school.facilities", sid, year, "")]["payload"]
            need = max(1, math.ceil(classes / 12))
            if (
                len(fac["music_room_areas_m2"]) < need
                or len(fac["art_room_areas_m2"]) < need
                or min(fac["music_room_areas_m2"], default=0) < 96
                or min(fac["art_room_areas_m2"], default=0) < 90
            ):
                fails.append("G3")
        elif et == "school.staff":
            for s in p["sections"].values():
                trained += s["trained_360h_teachers"]
                certified += s["certified_teachers"]
                ft += s["full_time_teachers"]
        elif et == "school.finance":
            if p["teacher_training_yuan"] < 0.05 * p["public_funds_budget_yuan"]:
                fails.append("Q4")
            students = sum(
                s["students"] for s in latest[("school.enrolment", sid, year, "")]["payload"]["sections"].values()
            )
            if (
                info["locale"] == "rural"
                and students < 100
                and p["public_funds_budget_yuan"] < 100 * p["public_funds_per_student_yuan"]
            ):
                fails.append("G6")
    if trained < ft:
        fails.append("G9")
    if certified < ft:
        fails.append("G12")
    st = latest[("district.statistics", district, year, "")]["payload"]
    checks = {
        "G7": st["special_ed_funds_per_student_yuan"] >= 6000,
        "G8": st["teacher_avg_pay_yuan"] >= st["civil_servant_avg_pay_yuan"],
        "G11": st["rotated"] >= 0.1 * st["rotation_eligible"] and st["rotated_backbone"] >= 0.2 * st["rotated"],
        "G13": st["nearby_enrolment_urban_pct"] >= 100 and st.get("nearby_enrolment_town_pct", 100) >= 95,
        "G14": st["quality_hs_quota_pct"] >= 50,
        "G15": st["migrant_public_pct"] >= 85,
        "Q1": st["junior_retention_pct"] >= 95,
        "Q2": st["disabled_enrolment_pct"] >= 95,
        "Q9": st["monitoring_difference_rate"] < 0.15 and st["monitoring_level_iii_share_pct"] >= 100,
        "SR": st["satisfaction_pct"] >= 85,
    }
    fails += [k for k, ok in checks.items() if not ok]
    for (et, code, y, item), e in latest.items():
        if et == "district.inspection" and code == district and y == year:
            if e["payload"]["result"] == "fail":
                fails.append(item)
    bb = next(e for (et, c, _, _), e in latest.items() if et == "district.registered" and c == district)
    if bb["payload"]["basic_balance_year"] > year - 3:
        fails.append("PRE")
    return sorted(set(fails))
