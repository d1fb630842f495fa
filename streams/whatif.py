"""What if: judge hypothetical events on a copy of a warehouse's current district states, and say
what would change -- sections, district verdicts, accountability, the city's progress -- without
landing, saving or publishing anything.

    result = what_if("warehouse", ["new-school.jsonl"], as_of=date(2025, 6, 30))
    result.changes["districts"]     # [{district_code, year, attained: [before, after], failed_items: ...}]

The states come from the warehouse's ``state/`` (the embedded driver's) or, when it has none (a
Kafka warehouse), from replaying its landed events (in the rules' replay order, rules/replay.py):
either way a private copy. The events go through the same contract check and rules engine as a run (no Great
Expectations suites: a what-if judges the numbers given); what the contract rejects is reported
with its reason and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.lines import read_lines
from ingestion.reference import load_districts
from junheng.layout import WarehouseLayout
from junheng.settings import settings
from rules import Catalogue, load_catalogue
from rules.replay import replay_order
from rules.state import DistrictState, Engine
from rules.summary import city_rows, years_of
from streams.landing import landed_events
from streams.processing import Processor, Record

__all__ = ["WhatIf", "load_states", "what_if"]


@dataclass
class WhatIf:
    counts: dict[str, int]
    dead_letters: list[dict[str, Any]]
    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "dead_letters": self.dead_letters, "changes": self.changes}


def load_states(warehouse: str | Path, engine: Engine) -> dict[str, DistrictState]:
    """A private copy of the warehouse's district states."""
    layout = WarehouseLayout(warehouse)
    files = sorted(layout.state.glob("*.json")) if layout.state.is_dir() else []
    if files:
        return {p.stem: DistrictState.from_state(engine, json.loads(p.read_text(encoding="utf-8"))) for p in files}
    events = landed_events(sorted(layout.landing_table("events").glob("part-*.parquet")))
    by_district: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_district.setdefault(event["district_code"], []).append(event)
    states: dict[str, DistrictState] = {}
    for code, evs in by_district.items():
        state = states[code] = engine.new_state(code)
        state.apply_batch(replay_order(evs))
    return states


def _snapshot(states: Mapping[str, DistrictState], as_of: dt.date) -> dict[str, Any]:
    years = years_of(states)
    sections = {}
    districts = {}
    accountability = {}
    for code, state in states.items():
        for y in years:
            for school_id, ev in state.section_evals(y):
                for level, sec in ev.sections.items():
                    sections[(code, school_id, y, level)] = (sec.passed, sec.reason)
            s = state.summary(y)
            if s is not None:
                districts[(code, y)] = (s.attained, list(s.failed_items))
                acc = state.accountability(y, as_of)
                accountability[(code, y)] = (acc.on_track, list(acc.behind_reasons))
    city = {row["year"]: row for row in city_rows(states, years)}
    return {"sections": sections, "districts": districts, "accountability": accountability, "city": city}


def _diff(before: Mapping[Any, Any], after: Mapping[Any, Any]) -> list[tuple[Any, Any, Any]]:
    return [
        (k, before.get(k), after.get(k))
        for k in sorted(set(before) | set(after), key=str)
        if before.get(k) != after.get(k)
    ]


def what_if(
    warehouse: str | Path,
    paths: Sequence[str | Path] | None = None,
    *,
    events: Iterable[Mapping[str, Any]] | None = None,
    as_of: dt.date | None = None,
    catalogue: Catalogue | None = None,
) -> WhatIf:
    """Judge the events of `paths` (or `events`) on a copy of the warehouse's states."""
    as_of = as_of or dt.date.today()
    engine = Engine(catalogue or load_catalogue(settings().catalogue))
    states = load_states(warehouse, engine)
    before = _snapshot(states, as_of)
    records = [Record(line.raw, {"file": line.file, "line": line.number}) for line in read_lines(paths or [])]
    records += [Record(json.dumps(e, ensure_ascii=False).encode(), {"event": n}) for n, e in enumerate(events or [])]
    processor = Processor(engine, load_districts(), None, states)
    result = processor.process(records)
    after = _snapshot(states, as_of)
    counts = {k: int(result.counts.get(k, 0)) for k in ("read", "applied", "duplicate", "stale", "dead_lettered")}
    dead = [
        {"origin": dict(d.origin), "reason_code": d.code, "message": d.message, "reason": d.reason}
        for d in result.dead_letters
    ]
    changes = {
        "sections": [
            {
                "district_code": k[0],
                "school_id": k[1],
                "year": k[2],
                "section": k[3],
                "passed": [b[0] if b else None, a[0] if a else None],
                "reason": a[1] if a else None,
            }
            for k, b, a in _diff(before["sections"], after["sections"])
        ],
        "districts": [
            {
                "district_code": k[0],
                "year": k[1],
                "attained": [b[0] if b else None, a[0] if a else None],
                "failed_items": [b[1] if b else [], a[1] if a else []],
            }
            for k, b, a in _diff(before["districts"], after["districts"])
        ],
        "accountability": [
            {
                "district_code": k[0],
                "year": k[1],
                "on_track": [b[0] if b else None, a[0] if a else None],
                "behind_reasons": a[1] if a else [],
            }
            for k, b, a in _diff(before["accountability"], after["accountability"])
        ],
        "city": [{"year": y, "before": b, "after": a} for y, b, a in _diff(before["city"], after["city"])],
    }
    return WhatIf(counts, dead, changes)
