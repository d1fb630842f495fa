"""Envelopes, serialisation, timestamps, and the slightly-wrong drafts that corrections fix.

Serialisation is fixed (insertion-ordered keys, compact separators, UTF-8 without escaping the
Chinese names) so that the same seed gives byte-identical lines. Event ids are UUIDs drawn from
the generator's own random streams, never from the clock or the OS.
"""

from __future__ import annotations

import json
import random
from typing import Any

SCHEMA_VERSION: int = 1
TZ: str = "+08:00"


def new_event_id(rng: random.Random) -> str:
    """A version-4 UUID string derived from ``rng`` (deterministic, unlike uuid4()).

    Same result as ``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, formatted directly
    because a national-scale run makes millions of them.
    """
    n = rng.getrandbits(128)
    n = (n & _UUID_CLEAR) | _UUID_SET
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_SET = (0x8000 << 48) | (4 << 76)


def timestamp(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> str:
    """RFC 3339 local time in China Standard Time, e.g. ``2023-09-15T08:00:00+08:00``."""
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{TZ}"


def random_time(rng: random.Random, year: int, month: int, day_lo: int = 1, day_hi: int = 28) -> str:
    """A working-hours timestamp on a random day of ``month`` (days 1..28 exist in every month)."""
    b = rng.getrandbits(30)
    day = day_lo + (b & 0x3FF) % (day_hi - day_lo + 1)
    return timestamp(year, month, day, 8 + ((b >> 10) & 0x3FF) % 10, (b >> 20) % 60)


def make_event(
    event_id: str,
    event_type: str,
    occurred_at: str,
    source: str,
    district_code: str,
    school_id: str | None,
    year: int,
    seq: int,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The envelope of the event contract; ``school_id`` is left out of district.* events."""
    event: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": occurred_at,
        "source": source,
        "district_code": district_code,
    }
    if school_id is not None:
        event["school_id"] = school_id
    event["year"] = year
    event["seq"] = seq
    event["payload"] = payload
    return event


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def encode(event: Any) -> bytes:
    """One JSONL line (without the newline), UTF-8."""
    return _dumps(event).encode("utf-8")


def clone(payload: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON-shaped payload."""
    copy: dict[str, Any] = json.loads(_dumps(payload))
    return copy


def _first_block(payload: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = payload["school"] if "school" in payload else next(iter(payload["sections"].values()))
    return block


def perturb(event_type: str, payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A valid but different version of ``payload``: a typo that a later seq corrects.

    The result still satisfies every consistency rule (sums, counts ≤ full-time teachers,
    percentages within 0..100): a draft is wrong, not impossible, so it must be applied and then
    superseded rather than dead-lettered.
    """
    p = clone(payload)
    r = rng.random
    if event_type == "school.enrolment":
        sec = p["sections"][sorted(p["sections"])[int(r() * len(p["sections"]))]]
        sizes = sec["class_sizes"]
        i = int(r() * len(sizes))
        d = 1 + int(r() * 3)
        if sizes[i] - d < 1 or r() < 0.5:
            d = -d
        sizes[i] -= d
        sec["students"] -= d
    elif event_type == "school.staff":
        sec = p["sections"][sorted(p["sections"])[int(r() * len(p["sections"]))]]
        if sec["qualified_teachers"] > 0 and r() < 0.5:
            sec["qualified_teachers"] -= 1
        else:
            sec["full_time_teachers"] += 1 + int(r() * 2)
    elif event_type == "school.facilities":
        block = _first_block(p)
        field = "teaching_aux_area_m2" if r() < 0.5 else "sports_area_m2"
        block[field] = round(block[field] * (0.85 + 0.1 * r()), 1)
        if block[field] == _first_block(payload)[field]:
            block[field] = round(block[field] + 1.0, 1)
    elif event_type == "school.finance":
        budget = p["public_funds_budget_yuan"]
        p["public_funds_budget_yuan"] = max(1, int(budget * (0.9 + 0.08 * r())) - 1)
        p["teacher_training_yuan"] = min(p["teacher_training_yuan"], p["public_funds_budget_yuan"])
    elif event_type == "district.statistics":
        pct = [k for k in p if k.endswith("_pct")]
        k = pct[int(r() * len(pct))]
        v = p[k] - 0.5 - 2.5 * r() if p[k] >= 50 else p[k] + 0.5 + 2.5 * r()
        p[k] = round(min(100.0, max(0.0, v)), 1)
    else:
        raise ValueError(f"no draft form for {event_type}")
    return p
