"""Every valid line is a JSON object with the contract's envelope."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import _synthetic_checker as chk

from ingestion.synthetic import EVENT_TYPES, QINGDAO

CSV = Path(__file__).resolve().parents[3] / "ingestion" / "reference" / "districts.csv"


def _valid_events(city) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for i, line in enumerate(city.lines) if city.category(i) == "valid"]


def test_every_valid_line_has_the_envelope() -> None:
    city = chk.city(bad=0.02, dup=0.02, stale=0.02)
    codes = {p.code for p in QINGDAO}
    ids = set()
    for i, line in enumerate(city.lines):
        assert b"\n" not in line and b"\r" not in line
        if city.category(i).startswith("bad:"):
            continue
        e = json.loads(line.decode("utf-8"))
        chk.check_schema(e)  # raises on any break
        assert list(e)[:6] == ["event_id", "event_type", "schema_version", "occurred_at", "source", "district_code"]
        assert e["event_type"] in EVENT_TYPES
        assert e["district_code"] in codes
        assert ("school_id" in e) == e["event_type"].startswith("school.")
        assert 2021 <= e["year"] <= 2025
        assert e["source"].startswith("synthetic/")
        assert int(e["occurred_at"][:4]) in (e["year"], e["year"] + 1)
        if city.category(i) == "valid":
            assert e["event_id"] not in ids
            ids.add(e["event_id"])


def test_school_ids_are_ten_digits_and_unique_per_school() -> None:
    city = chk.city()
    regs = [e for e in _valid_events(city) if e["event_type"] == "school.registered"]
    first = {}
    for e in regs:
        assert re.fullmatch(r"\d{10}", e["school_id"])
        first.setdefault(e["school_id"], e)
    assert len(first) == 1000
    assert all(e["school_id"].startswith(e["district_code"][:4]) for e in regs)


def test_district_codes_and_names_match_the_shared_csv() -> None:
    with CSV.open(encoding="utf-8") as f:
        rows = {r["district_code"]: r["name_zh"] for r in csv.DictReader(f)}
    assert {p.code: p.name_zh for p in QINGDAO} == rows
    regs = [e for e in _valid_events(chk.city()) if e["event_type"] == "district.registered"]
    assert {e["district_code"]: e["payload"]["name"] for e in regs} == rows
