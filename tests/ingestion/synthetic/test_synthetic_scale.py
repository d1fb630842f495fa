"""Speed and the national-scale mode (fake districts beyond Qingdao's ten)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter

from ingestion.synthetic import CityStream, generate_city, synthetic_profiles


def test_thousand_schools_five_years_under_five_seconds() -> None:
    start = time.process_time()
    city = generate_city(seed=2021, schools=1000)
    elapsed = time.process_time() - start
    assert len(city.lines) > 20_000
    assert elapsed < 5.0, f"{elapsed:.2f} s of CPU"


def test_fake_districts_have_unique_non_real_codes() -> None:
    profiles = synthetic_profiles(2800, seed=1)
    codes = [p.code for p in profiles]
    assert len(set(codes)) == 2800
    assert codes[:10] == [c for c in codes[:10] if c.startswith("3702")]
    assert all(re.fullmatch(r"9\d{5}", c) for c in codes[10:])
    for p in profiles:
        assert 2022 <= p.declared_creation_year <= 2025
        assert p.attain_year is None or p.basic_balance_year <= p.attain_year - 3


def test_many_districts_stream() -> None:
    stream = CityStream(seed=3, schools=3000, districts=200, years=range(2021, 2023))
    districts: set[str] = set()
    schools: set[str] = set()
    n = 0
    for line, category in stream:
        assert category in ("valid", "correction")
        e = json.loads(line)
        districts.add(e["district_code"])
        if e["event_type"] == "school.registered":
            assert e["school_id"][:4] == e["district_code"][:4]
            schools.add(e["school_id"])
        n += 1
    assert len(districts) == 200 and len(schools) == 3000
    assert stream.manifest["lines"] == n
    per = Counter(s["archetype"] for s in stream.story().values())
    assert len(per) >= 5
