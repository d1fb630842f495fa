"""The whole synthetic city as one event stream, with a manifest of what each line is.

Stream order (a plausible arrival order, district by district inside each phase):

1. registrations: every ``district.registered``, then every ``school.registered`` open at the start;
2. for each year:
   a. per district: schools opening or closing that year (``school.registered``), building
      projects, then the year's ``school.enrolment``, ``school.staff``, ``school.facilities``,
      ``school.finance`` for every open school, then ``district.statistics``;
   b. per district: the self-assessment, the city's inspections, the city assessment, the
      application and recognition (``district.inspection``, ``district.milestone``);
   c. corrections of that year's facts (same key, seq 1), then stale versions (seq 0 arriving after
      seq 1), then any exact duplicates still waiting.

Noise is layered on top of the clean stream with its own random streams: exact duplicates (the same
bytes re-sent up to 40 events later), stale versions, and bad lines right after the event they were
made from. The content of the valid events comes from per-district random streams, so adding bad
lines or duplicates does not change one valid byte, and generation stays O(events).

Every line is exactly one of: applied (``valid_unique``; corrections included), ``duplicates``,
``stale``, or ``bad`` by reason. The manifest counts them; :class:`SyntheticCity` also labels each
line that is not applied, so tests can check a consumer line by line.
"""

from __future__ import annotations

import heapq
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .bad_input import REASONS, BadInputMaker
from .districts import DistrictPlan
from .events import encode, make_event, new_event_id, perturb, random_time, timestamp
from .profiles import SCHOOL_TYPES, DistrictProfile, synthetic_profiles
from .schools import School, allocate, build_district_schools
from .targets import STORY_START
from .yearly import SchoolYear, school_year

#: Event types whose facts get corrections and stale versions (the numeric yearly facts).
FACT_TYPES: tuple[str, ...] = (
    "school.enrolment",
    "school.staff",
    "school.facilities",
    "school.finance",
    "district.statistics",
)
EVENT_TYPES: tuple[str, ...] = (
    "district.registered",
    "school.registered",
    "school.project",
    "school.enrolment",
    "school.staff",
    "school.facilities",
    "school.finance",
    "district.statistics",
    "district.inspection",
    "district.milestone",
)
#: (month, first day, last day) of each school fact's collection window
_FACT_WINDOW: dict[str, tuple[int, int, int]] = {
    "school.enrolment": (9, 10, 28),
    "school.staff": (10, 1, 28),
    "school.facilities": (10, 15, 28),
    "school.finance": (11, 1, 28),
}
_SCHOOL_FACTS: tuple[str, ...] = tuple(_FACT_WINDOW)
#: projects completed per open school per year: ~25 a year for a 1,000-school city (C4: ≥ 20)
_PROJECT_RATE: float = 0.024
_SPACE_DEFECTS: tuple[str, ...] = ("school_size", "rooms", "R4:primary", "R4:junior", "R5:primary", "R5:junior")


@dataclass
class _District:
    profile: DistrictProfile
    schools: list[School]
    plan: DistrictPlan
    rng: random.Random


@dataclass
class SyntheticCity:
    """A generated stream held in memory (fine up to a few hundred thousand lines).

    ``labels`` maps the index of every line that must *not* be applied to its category:
    ``duplicate``, ``stale`` or ``bad:<reason>``. ``bad_details`` gives (index, reason, detail)
    for bad lines. ``story`` is the intended calendar per district (attain year etc.), for tests
    of the rules engine that need to know what the data were built to show.
    """

    lines: list[bytes]
    manifest: dict[str, Any]
    labels: dict[int, str] = field(default_factory=dict)
    bad_details: list[tuple[int, str, str]] = field(default_factory=list)
    story: dict[str, dict[str, Any]] = field(default_factory=dict)

    def category(self, index: int) -> str:
        """``valid`` for an applied line, else its label."""
        return self.labels.get(index, "valid")

    def write_jsonl(self, path: str | os.PathLike[str]) -> None:
        """Write the lines, one per line, as bytes (no re-encoding)."""
        with open(path, "wb") as f:
            for line in self.lines:
                f.write(line)
                f.write(b"\n")


class CityStream:
    """Iterates ``(line, category)`` for the whole city without holding the lines.

    ``category`` is ``valid``, ``correction`` (a valid line with a higher seq), ``duplicate``,
    ``stale`` or ``bad:<reason>``. ``manifest`` is complete once the iteration has finished. Use
    this for national-scale runs; :func:`generate_city` materialises it.
    """

    def __init__(
        self,
        seed: int = 2021,
        years: range = range(2021, 2026),
        schools: int = 1000,
        bad_fraction: float = 0.0,
        duplicate_fraction: float = 0.0,
        stale_fraction: float = 0.0,
        districts: int = 10,
        correction_fraction: float = 0.01,
    ) -> None:
        for name, v in (
            ("bad_fraction", bad_fraction),
            ("duplicate_fraction", duplicate_fraction),
            ("stale_fraction", stale_fraction),
            ("correction_fraction", correction_fraction),
        ):
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} must be in [0, 1)")
        if schools < 1 or schools > 999_999:
            raise ValueError("schools must be between 1 and 999,999 (6-digit school numbers)")
        if len(years) == 0:
            raise ValueError("years must not be empty")
        self.seed = seed
        self.years = years
        self.n_schools = schools
        self.bad_fraction = bad_fraction
        self.duplicate_fraction = duplicate_fraction
        self.stale_fraction = stale_fraction
        self.correction_fraction = correction_fraction
        self.profiles = synthetic_profiles(districts, seed)
        self.manifest: dict[str, Any] = {}
        # noise streams, independent of the content streams and of each other
        self._rng_bad = random.Random(f"{seed}:bad")
        self._rng_dup = random.Random(f"{seed}:duplicates")
        self._rng_stale = random.Random(f"{seed}:stale")
        self._bad_maker = BadInputMaker(self._rng_bad)
        # per-event probability so that bad lines are about bad_fraction of all lines
        self._bad_p = bad_fraction / (1.0 - bad_fraction)
        self._pending: list[tuple[int, int, bytes]] = []
        self._emitted = 0
        self._counts: Counter[str] = Counter()
        self._types: Counter[str] = Counter()
        self._students: dict[str, dict[str, int]] = {}
        self._districts: list[_District] = []
        #: detail of the bad line just yielded (e.g. "missing event_id")
        self.last_bad_detail = ""

    # -- setup ------------------------------------------------------------------------------
    def _build(self) -> None:
        per_district = allocate(self.n_schools, [p.weight for p in self.profiles])
        number = 1
        for profile, n in zip(self.profiles, per_district):
            rng = random.Random(f"{self.seed}:{profile.code}")
            schools = build_district_schools(profile, n, number, self.years, rng)
            number += n
            plan = DistrictPlan(profile, schools, self.years, rng)
            self._districts.append(_District(profile, schools, plan, rng))

    def story(self) -> dict[str, dict[str, Any]]:
        """The calendar each district was built to follow (needs the stream to be built)."""
        return {
            d.profile.code: {
                "name": d.profile.name_zh,
                "archetype": d.profile.archetype.name,
                "basic_balance_year": d.profile.basic_balance_year,
                "declared_creation_year": d.profile.declared_creation_year,
                "attain_year": d.profile.attain_year,
            }
            for d in self._districts
        }

    # -- emission ---------------------------------------------------------------------------
    def _emit(self, event: dict[str, Any], category: str = "valid") -> Iterator[tuple[bytes, str]]:
        line = encode(event)
        yield line, category
        self._counts[category] += 1
        if category != "stale":
            self._types[event["event_type"]] += 1
        self._emitted += 1
        if self._rng_dup.random() < self.duplicate_fraction:
            due = self._emitted + 1 + int(self._rng_dup.random() * 40)
            heapq.heappush(self._pending, (due, self._emitted, line))
        if self._rng_bad.random() < self._bad_p:
            reason, _detail, raw = self._bad_maker.make(event)
            self.last_bad_detail = _detail
            yield raw, f"bad:{reason}"
            self._counts[f"bad:{reason}"] += 1
        while self._pending and self._pending[0][0] <= self._emitted:
            yield from self._flush_one()

    def _flush_one(self) -> Iterator[tuple[bytes, str]]:
        _, _, line = heapq.heappop(self._pending)
        yield line, "duplicate"
        self._counts["duplicate"] += 1

    def _fact(
        self,
        d: _District,
        event_type: str,
        occurred_at: str,
        school_id: str | None,
        year: int,
        payload: dict[str, Any],
        later: list[tuple[dict[str, Any], str]],
    ) -> Iterator[tuple[bytes, str]]:
        """Emit a yearly fact, possibly as a draft corrected later, or with a stale echo."""
        rng = d.rng
        code = d.profile.code
        source = d.profile.source
        corrected = rng.random() < self.correction_fraction
        stale = self._rng_stale.random() < self.stale_fraction
        if corrected:
            draft = perturb(event_type, payload, rng)
            yield from self._emit(
                make_event(new_event_id(rng), event_type, occurred_at, source, code, school_id, year, 0, draft)
            )
            fixed_at = random_time(rng, year + 1, 1, 5, 28)
            later.append(
                (
                    make_event(
                        new_event_id(rng),
                        event_type,
                        fixed_at,
                        source + "/corrections",
                        code,
                        school_id,
                        year,
                        1,
                        payload,
                    ),
                    "correction",
                )
            )
            return
        if stale:
            rs = self._rng_stale
            yield from self._emit(
                make_event(new_event_id(rng), event_type, occurred_at, source, code, school_id, year, 1, payload)
            )
            later.append(
                (
                    make_event(
                        new_event_id(rs),
                        event_type,
                        occurred_at,
                        source,
                        code,
                        school_id,
                        year,
                        0,
                        perturb(event_type, payload, rs),
                    ),
                    "stale",
                )
            )
            return
        yield from self._emit(
            make_event(new_event_id(rng), event_type, occurred_at, source, code, school_id, year, 0, payload)
        )

    def _school_registered(
        self, d: _District, school: School, year: int, occurred_at: str, closed_year: int | None
    ) -> dict[str, Any]:
        payload = {
            "name": school.name,
            "school_type": school.school_type,
            "locale": school.locale,
            "ownership": school.ownership,
            "boarding": school.boarding,
            "opened_year": school.opened_year,
            "closed_year": closed_year,
        }
        return make_event(
            new_event_id(d.rng),
            "school.registered",
            occurred_at,
            d.profile.source.replace("stats", "registry"),
            d.profile.code,
            school.school_id,
            year,
            0,
            payload,
        )

    def _registrations(self) -> Iterator[tuple[bytes, str]]:
        y0 = self.years[0]
        for d in self._districts:
            yield from self._emit(
                make_event(
                    new_event_id(d.rng),
                    "district.registered",
                    random_time(d.rng, y0, 1, 2, 8),
                    d.profile.source.replace("stats", "registry"),
                    d.profile.code,
                    None,
                    y0,
                    0,
                    d.plan.registered(),
                )
            )
        for d in self._districts:
            for s in d.schools:
                if s.opened_year is not None and s.opened_year > STORY_START and s.opened_year > y0:
                    continue  # registered in its opening year
                yield from self._emit(self._school_registered(d, s, y0, random_time(d.rng, y0, 1, 10, 28), None))

    def _projects(self, d: _District, year: int, open_schools: list[School]) -> list[tuple[School, str]]:
        rng = d.rng
        new = [(s, "new") for s in open_schools if s.opened_year == year and year > STORY_START]
        quota_f = len(open_schools) * _PROJECT_RATE
        quota = int(quota_f) + (1 if rng.random() < quota_f - int(quota_f) else 0)
        fixed = [
            s for s in open_schools if s.defects and any(s.defects.get(k, (0,))[0] == year for k in _SPACE_DEFECTS)
        ]
        rng.shuffle(fixed)
        chosen = fixed[: max(0, quota - len(new))]
        while len(chosen) + len(new) < quota and open_schools:
            s = open_schools[int(rng.random() * len(open_schools))]
            if s not in chosen and s.opened_year != year:
                chosen.append(s)
        return new + [(s, "rebuilt" if rng.random() < 0.3 else "expanded") for s in chosen]

    def _district_year(
        self, d: _District, year: int, later: list[tuple[dict[str, Any], str]]
    ) -> Iterator[tuple[bytes, str]]:
        rng = d.rng
        code = d.profile.code
        for s in d.schools:
            if s.opened_year == year and year > STORY_START and year > self.years[0]:
                yield from self._emit(self._school_registered(d, s, year, random_time(rng, year, 7, 1, 28), None))
            elif s.closed_year == year:
                yield from self._emit(self._school_registered(d, s, year, random_time(rng, year, 7, 1, 28), year))
        open_schools = [s for s in d.schools if s.is_open(year)]
        for s, kind in self._projects(d, year, open_schools):
            month = 6 + int(rng.random() * 3)
            day = 1 + int(rng.random() * 28)
            on = f"{year:04d}-{month:02d}-{day:02d}"
            yield from self._emit(
                make_event(
                    new_event_id(rng),
                    "school.project",
                    timestamp(year, month, day, 17),
                    d.profile.source.replace("stats", "projects"),
                    code,
                    s.school_id,
                    year,
                    0,
                    {"kind": kind, "completed_on": on},
                )
            )
        ctx = d.plan.context(year)
        facts: list[tuple[School, SchoolYear]] = [(s, school_year(s, ctx, rng)) for s in open_schools]
        students = Counter[str]()
        for _, sy in facts:
            for lv, sec in sy.enrolment["sections"].items():
                students[lv] += sec["students"]
        total = self._students.setdefault(str(year), {"primary": 0, "junior": 0, "senior": 0})
        for lv, n in students.items():
            total[lv] += n
        for event_type in _SCHOOL_FACTS:
            month, lo, hi = _FACT_WINDOW[event_type]
            attr = event_type.split(".")[1]
            for s, sy in facts:
                yield from self._fact(
                    d, event_type, random_time(rng, year, month, lo, hi), s.school_id, year, getattr(sy, attr), later
                )
        stats = d.plan.statistics(
            year, sum(sy.students for _, sy in facts), sum(sy.teachers for _, sy in facts), ctx.special_funds, rng
        )
        yield from self._fact(d, "district.statistics", random_time(rng, year, 12, 1, 20), None, year, stats, later)

    def _calendar(self, d: _District, year: int) -> Iterator[tuple[bytes, str]]:
        rng = d.rng
        items: list[tuple[str, str, dict[str, Any]]] = []
        for on, payload in d.plan.milestones(year, rng):
            items.append((on, "district.milestone", payload))
        for on, payload in d.plan.inspections(year, rng):
            items.append((on, "district.inspection", payload))
        items.sort(key=lambda t: t[0])  # stable: milestones first on a tie
        sources = {
            "district.inspection": d.profile.source.replace("stats", "inspectorate"),
            "district.milestone": d.profile.source.replace("stats", "bureau"),
        }
        for on, event_type, payload in items:
            y, m, day = (int(x) for x in on.split("-"))
            yield from self._emit(
                make_event(
                    new_event_id(rng),
                    event_type,
                    timestamp(y, m, day, 10),
                    sources[event_type],
                    d.profile.code,
                    None,
                    year,
                    0,
                    payload,
                )
            )

    def __iter__(self) -> Iterator[tuple[bytes, str]]:
        if self._districts:
            raise RuntimeError("a CityStream can be iterated once")
        self._build()
        yield from self._registrations()
        for year in self.years:
            later: list[tuple[dict[str, Any], str]] = []
            for d in self._districts:
                yield from self._district_year(d, year, later)
            for d in self._districts:
                yield from self._calendar(d, year)
            for event, category in sorted(later, key=lambda t: t[1] == "stale"):
                yield from self._emit(event, category)
            while self._pending:
                yield from self._flush_one()
        self.manifest = self._manifest()

    def _manifest(self) -> dict[str, Any]:
        c = self._counts
        bad = {r: c[f"bad:{r}"] for r in REASONS}
        by_type = Counter(s.school_type for d in self._districts for s in d.schools)
        return {
            "seed": self.seed,
            "years": list(self.years),
            "districts": len(self._districts),
            "schools": sum(len(d.schools) for d in self._districts),
            "schools_by_type": {t: by_type[t] for t in SCHOOL_TYPES},
            "lines": sum(c.values()),
            "valid_unique": c["valid"] + c["correction"],
            "corrections": c["correction"],
            "duplicates": c["duplicate"],
            "stale": c["stale"],
            "bad": bad,
            "bad_total": sum(bad.values()),
            "event_types": {t: self._types[t] for t in EVENT_TYPES},
            "students": self._students,
        }


def generate_city(
    seed: int = 2021,
    years: range = range(2021, 2026),
    schools: int = 1000,
    bad_fraction: float = 0.0,
    duplicate_fraction: float = 0.0,
    stale_fraction: float = 0.0,
    *,
    districts: int = 10,
    correction_fraction: float = 0.01,
) -> SyntheticCity:
    """Generate the synthetic city in memory.

    ``districts`` beyond 10 adds fake districts (codes 9xxxxx) after Qingdao's ten;
    ``correction_fraction`` is the share of yearly facts first sent as a draft and corrected with
    seq 1 later. Same arguments, same bytes.
    """
    stream = CityStream(
        seed, years, schools, bad_fraction, duplicate_fraction, stale_fraction, districts, correction_fraction
    )
    lines: list[bytes] = []
    labels: dict[int, str] = {}
    details: list[tuple[int, str, str]] = []
    for i, (line, category) in enumerate(stream):
        lines.append(line)
        if category in ("valid", "correction"):
            continue
        labels[i] = category
        if category.startswith("bad:"):
            details.append((i, category[4:], stream.last_bad_detail))
    return SyntheticCity(lines, stream.manifest, labels, details, stream.story())


def write_city(
    path: str | os.PathLike[str],
    seed: int = 2021,
    years: range = range(2021, 2026),
    schools: int = 1000,
    bad_fraction: float = 0.0,
    duplicate_fraction: float = 0.0,
    stale_fraction: float = 0.0,
    *,
    districts: int = 10,
    correction_fraction: float = 0.01,
) -> dict[str, Any]:
    """Stream the city straight to a JSONL file (constant memory in the lines); return the manifest."""
    stream = CityStream(
        seed, years, schools, bad_fraction, duplicate_fraction, stale_fraction, districts, correction_fraction
    )
    with open(path, "wb", buffering=1 << 20) as f:
        write = f.write
        for line, _ in stream:
            write(line)
            write(b"\n")
    return stream.manifest
