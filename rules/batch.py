"""Batch evaluation: a district judged from scratch from its final facts.

This is the reference the incremental state is tested against, and the baseline the
benchmark compares it with. It shares only the per-school evaluation with the state (that is
the rule itself); totals are summed afresh, coefficients come from the standard's two-pass
formula in exact rationals, and every verdict from the explaining evaluators.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.contributions import school_contribution, year_over_year_contribution
from rules.district import AttainmentSummary, DistrictView, summarise
from rules.facts import fact_key
from rules.model import RuleResult
from rules.moments import WeightedMoments, weighted_cv
from rules.sections import SchoolEval, SchoolFacts
from rules.state import Engine

_FIELD = {
    "school.enrolment": "enrolment",
    "school.staff": "staff",
    "school.facilities": "facilities",
    "school.finance": "finance",
}


def final_facts(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The version of each fact that the stream leaves in force: the highest seq, the first
    arrival among equal seqs, and no school fact that arrived before its school's registration."""
    chosen: dict[tuple[Any, ...], tuple[int, int, Mapping[str, Any]]] = {}
    registered: set[str] = set()
    for position, e in enumerate(events):
        if e["event_type"] == "school.registered":
            registered.add(e["school_id"])
        elif e["event_type"].startswith("school.") and e.get("school_id") not in registered:
            continue
        key = fact_key(e)
        best = chosen.get(key)
        if best is None or e["seq"] > best[0]:
            chosen[key] = (e["seq"], position, e)
    return [e for _, _, e in sorted(chosen.values(), key=lambda t: t[1])]


@dataclass
class BatchYear:
    summary: AttainmentSummary
    results: dict[str, RuleResult]
    cv: dict[tuple[str, str], float | None]
    counters: dict[str, int]


def evaluate_district(engine: Engine, code: str, events: Iterable[Mapping[str, Any]]) -> dict[int, BatchYear]:
    """Judge one district from scratch for every year its facts mention."""
    facts = final_facts(e for e in events if e["district_code"] == code)
    profiles: dict[str, dict[int, Mapping[str, Any]]] = {}
    school_facts: dict[str, dict[int, SchoolFacts]] = {}
    district_profiles: dict[int, Mapping[str, Any]] = {}
    stats: dict[int, Mapping[str, Any]] = {}
    inspections: dict[int, dict[str, Mapping[str, Any]]] = {}
    for e in facts:
        t, y, p = e["event_type"], int(e["year"]), e["payload"]
        if t == "school.registered":
            profiles.setdefault(e["school_id"], {})[y] = p
        elif t in _FIELD:
            setattr(school_facts.setdefault(e["school_id"], {}).setdefault(y, SchoolFacts()), _FIELD[t], p)
        elif t == "district.registered":
            district_profiles[y] = p
        elif t == "district.statistics":
            stats[y] = p
        elif t == "district.inspection":
            inspections.setdefault(y, {})[p["item"]] = p

    def profile_at(by_year: Mapping[int, Mapping[str, Any]], year: int) -> Mapping[str, Any] | None:
        if not by_year:
            return None
        earlier = [y for y in by_year if y <= year]
        return by_year[max(earlier) if earlier else min(by_year)]

    years: set[int] = set(stats) | set(inspections) | set(district_profiles)
    evals: dict[str, dict[int, SchoolEval]] = {}
    for sid, by_year in profiles.items():
        for y in set(school_facts.get(sid, {})) | set(by_year):
            f = school_facts.get(sid, {}).get(y) or SchoolFacts()
            f = SchoolFacts(
                profile=profile_at(by_year, y),
                enrolment=f.enrolment,
                staff=f.staff,
                facilities=f.facilities,
                finance=f.finance,
            )
            evals.setdefault(sid, {})[y] = engine.sections.evaluate(f, y)
            years.add(y)
    out: dict[int, BatchYear] = {}
    for year in sorted(years):
        counters: dict[str, int] = {}
        pairs: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for sid, evals_by_year in evals.items():
            ev = evals_by_year.get(year)
            if ev is None:
                continue
            c = school_contribution(engine.sections, ev)
            for k, v in c.counters.items():
                counters[k] = counters.get(k, 0) + v
            for pair, term in c.terms.items():
                pairs.setdefault(pair, []).append(term)
            p = profile_at(profiles[sid], year)
            opened_now = bool(p) and p.get("opened_year") == year  # type: ignore[union-attr]
            for k, v in year_over_year_contribution(ev, evals_by_year.get(year - 1), opened_now).items():
                counters[k] = counters.get(k, 0) + v
        moments: dict[tuple[str, str], WeightedMoments] = {}
        for pair, terms in pairs.items():
            m = moments[pair] = WeightedMoments()
            for w, x in terms:
                m.add(w, x)
        view = DistrictView(
            code=code,
            year=year,
            counters=counters,
            moments=moments,
            stats=stats.get(year),
            stats_prev=stats.get(year - 1),
            inspections=inspections.get(year, {}),
            profile=profile_at(district_profiles, year),
        )
        results = {r.id: engine.district.evaluate(r, view) for r in engine.district.attainment_rules}
        summary = summarise({k: r.passed for k, r in results.items()}, engine.dimension_of)
        out[year] = BatchYear(
            summary=summary,
            results=results,
            cv={pair: weighted_cv(terms) for pair, terms in pairs.items()},
            counters={k: v for k, v in counters.items() if v},
        )
    return out
