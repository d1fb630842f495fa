"""What happens to a city after its first build, as event files: corrections, retractions, a
district's statistics revised. Used by the incremental-build test (tests/dbt/test_incremental.py)
and the freshness benchmark (benchmarks/freshness.py): each step is a list of events that supersede facts
already landed (seq one above the version in force), so the embedded driver applies every one.

    events = load_events(path)                        # the city as generated
    step = corrections(events, districts=3)           # new versions of school facts
    write_jsonl(tmp / "step.jsonl", step)
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

Event = dict[str, Any]


def load_events(path: Path | str, districts: set[str] | None = None) -> list[Event]:
    """The events of a JSONL file (of `districts` only, if given); lines that are not an event
    (a stream's deliberately bad lines) are skipped."""
    marks = [f'"district_code":"{d}"' for d in districts] if districts else None
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:  # a bad line may not even be UTF-8
        for line in fh:
            if not line.strip() or (marks is not None and not any(m in line for m in marks)):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(event, dict)
                and {"event_type", "district_code", "year", "seq"} <= event.keys()
                and (districts is None or event["district_code"] in districts)
            ):
                out.append(event)
    return out


def write_jsonl(path: Path | str, events: Iterable[Event]) -> Path:
    path = Path(path)
    with open(path, "w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")
    return path


def _key(e: Event) -> tuple[Any, ...]:
    payload = e.get("payload") or {}
    sub = (
        payload.get("item")
        if e["event_type"] == "district.inspection"
        else payload.get("kind")
        if e["event_type"] in ("district.milestone", "school.project")
        else ""
    )
    owner = e.get("school_id") if e["event_type"].startswith("school.") else e["district_code"]
    return e["event_type"], owner, e["year"], sub


def in_force(events: Sequence[Event]) -> dict[tuple[Any, ...], Event]:
    """The version in force of every fact: the highest seq (the first seen on ties)."""
    out: dict[tuple[Any, ...], Event] = {}
    for e in events:
        k = _key(e)
        if k not in out or e["seq"] > out[k]["seq"]:
            out[k] = e
    return out


def supersede(current: Event, payload: dict[str, Any], rng: random.Random) -> Event:
    """The next version of `current` with `payload` (a new event id, seq + 1)."""
    e = json.loads(json.dumps(current))
    e["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    e["seq"] = int(current["seq"]) + 1
    e["payload"] = payload
    e["occurred_at"] = f"{int(current['year']) + 1}-02-01T09:00:00+08:00"
    return e


def _districts(facts: dict[tuple[Any, ...], Event], rng: random.Random, n: int) -> list[str]:
    codes = sorted({e["district_code"] for e in facts.values()})
    return sorted(rng.sample(codes, min(n, len(codes))))


def corrections(
    events: Sequence[Event], *, districts: int = 3, per_district: int = 4, year: int = 2023, seed: int = 1
) -> list[Event]:
    """New versions of school facts of `year` in a few districts: staff without backbone teachers
    (R3 fails), facilities with half the teaching and sports area (R5, R6), enrolment with a class
    larger by 20 students (class size, C2)."""
    rng = random.Random(seed)
    facts = in_force(events)
    out: list[Event] = []
    for code in _districts(facts, rng, districts):
        schools = sorted(
            {k[1] for k, e in facts.items() if e["district_code"] == code and k[0] == "school.staff" and k[2] == year}
        )
        for school in rng.sample(schools, min(per_district, len(schools))):
            staff = facts[("school.staff", school, year, "")]
            p = json.loads(json.dumps(staff["payload"]))
            for sec in p["sections"].values():
                sec["backbone_teachers"] = 0
            out.append(supersede(staff, p, rng))
            fac = facts.get(("school.facilities", school, year, ""))
            if fac is not None:
                p = json.loads(json.dumps(fac["payload"]))
                for block in [p["school"]] if "school" in p else list(p["sections"].values()):
                    for field in ("teaching_aux_area_m2", "sports_area_m2"):
                        if block.get(field) is not None:
                            block[field] = round(block[field] * 0.5, 1)
                out.append(supersede(fac, p, rng))
            enr = facts.get(("school.enrolment", school, year, ""))
            if enr is not None:
                p = json.loads(json.dumps(enr["payload"]))
                sec = p["sections"][sorted(p["sections"])[0]]
                if sec.get("class_sizes"):
                    sec["class_sizes"][0] += 20
                    sec["students"] += 20
                    out.append(supersede(enr, p, rng))
    return out


def retractions(events: Sequence[Event], *, districts: int = 2, year: int = 2024, seed: int = 2) -> list[Event]:
    """A school closed from `year` on (its registration superseded with closed_year) in each of a
    few districts, and a finance fact superseded (the budget cut to a tenth) in another."""
    rng = random.Random(seed)
    facts = in_force(events)
    out: list[Event] = []
    picked = _districts(facts, rng, districts + 1)
    for code in picked[:-1]:
        regs = sorted(
            (
                k
                for k, e in facts.items()
                if k[0] == "school.registered"
                and e["district_code"] == code
                and not (e["payload"] or {}).get("closed_year")
            ),
            key=str,
        )
        key = rng.choice(regs)
        p = dict(facts[key]["payload"], closed_year=year)
        out.append(supersede(facts[key], p, rng))
    code = picked[-1]
    fin = sorted(
        (k for k, e in facts.items() if k[0] == "school.finance" and e["district_code"] == code and k[2] == year - 1),
        key=str,
    )
    key = rng.choice(fin)
    p = dict(facts[key]["payload"])
    p["public_funds_budget_yuan"] = max(1, int(p["public_funds_budget_yuan"]) // 10)
    p["teacher_training_yuan"] = min(p["teacher_training_yuan"], p["public_funds_budget_yuan"])
    out.append(supersede(facts[key], p, rng))
    return out


def statistics_change(events: Sequence[Event], *, year: int = 2022, seed: int = 3) -> list[Event]:
    """One district's statistics of `year` revised: satisfaction down to 60 % (SR fails) and the
    education spend halved (C12 of the next year compares with it)."""
    rng = random.Random(seed)
    facts = in_force(events)
    keys = sorted(k for k in facts if k[0] == "district.statistics" and k[2] == year)
    key = rng.choice(keys)
    p = dict(facts[key]["payload"])
    p["satisfaction_pct"] = 60.0
    if "education_spend_yuan" in p:
        p["education_spend_yuan"] = int(p["education_spend_yuan"]) // 2
    return [supersede(facts[key], p, rng)]


def schools_closed(events: Sequence[Event], *, year: int = 2025, seed: int = 4) -> list[Event]:
    """Every school of one district closed from `year` on (a merger: their registrations superseded
    with closed_year): the district has no school section that year any more."""
    rng = random.Random(seed)
    facts = in_force(events)
    code = _districts(facts, rng, 1)[0]
    out = []
    for key in sorted(
        (k for k, e in facts.items() if k[0] == "school.registered" and e["district_code"] == code), key=str
    ):
        payload = facts[key]["payload"] or {}
        if payload.get("closed_year") is None or payload["closed_year"] > year:
            out.append(supersede(facts[key], dict(payload, closed_year=year), rng))
    return out
