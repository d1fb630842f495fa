"""The manifest and the per-line labels agree with what an independent reader finds."""

from __future__ import annotations

import json
from collections import Counter

import _synthetic_checker as chk
import pytest

from ingestion.synthetic import MAX_LINE_BYTES, REASONS, generate_city

NOISE = dict(bad=0.02, dup=0.02, stale=0.02)


def test_every_line_is_labelled_as_a_reader_classifies_it() -> None:
    city = chk.city(**NOISE)
    cats, _ = chk.read(**NOISE)
    expected = [city.category(i) for i in range(len(city.lines))]
    wrong = [(i, a, b) for i, (a, b) in enumerate(zip(cats, expected)) if a != b]
    assert not wrong, wrong[:5]


def test_manifest_counts_match_the_lines() -> None:
    city = chk.city(**NOISE)
    cats, _ = chk.read(**NOISE)
    c = Counter(cats)
    m = city.manifest
    assert m["lines"] == len(city.lines)
    assert m["valid_unique"] == c["valid"]
    assert m["duplicates"] == c["duplicate"] > 0
    assert m["stale"] == c["stale"] > 0
    assert m["bad"] == {r: c[f"bad:{r}"] for r in REASONS}
    assert all(m["bad"][r] > 0 for r in REASONS)
    assert m["bad_total"] + m["valid_unique"] + m["duplicates"] + m["stale"] == m["lines"]
    assert 0.01 < m["bad_total"] / m["lines"] < 0.03
    types = Counter(json.loads(line)["event_type"] for i, line in enumerate(city.lines) if city.category(i) == "valid")
    assert m["event_types"] == {t: types[t] for t in m["event_types"]}
    assert len(city.bad_details) == m["bad_total"]


def test_a_clean_city_has_only_valid_lines_and_some_corrections() -> None:
    city = chk.city()
    cats, latest = chk.read()
    assert set(cats) == {"valid"}
    m = city.manifest
    assert m["valid_unique"] == m["lines"] == len(city.lines)
    assert m["duplicates"] == m["stale"] == m["bad_total"] == 0
    assert m["corrections"] > 0
    assert sum(e["seq"] == 1 for e in latest.values()) == m["corrections"]


def test_duplicates_are_exact_repeats_of_earlier_lines() -> None:
    city = chk.city(**NOISE)
    seen: set[bytes] = set()
    for i, line in enumerate(city.lines):
        if city.category(i) == "duplicate":
            assert line in seen
        seen.add(line)


def test_stale_lines_come_after_the_higher_seq() -> None:
    city = chk.city(**NOISE)
    top: dict[tuple, int] = {}
    for i, line in enumerate(city.lines):
        cat = city.category(i)
        if cat.startswith("bad:") or cat == "duplicate":
            continue
        e = json.loads(line)
        k = chk.key(e)
        if cat == "stale":
            assert top[k] > e["seq"]
        else:
            assert e["seq"] > top.get(k, -1)
            top[k] = e["seq"]


def test_bad_lines_break_in_the_labelled_way() -> None:
    city = chk.city(**NOISE)
    for i, reason, detail in city.bad_details:
        line = city.lines[i]
        assert detail
        if reason == "oversized":
            assert len(line) > MAX_LINE_BYTES
            json.loads(line)  # otherwise a valid event
        else:
            assert len(line) <= MAX_LINE_BYTES
        if reason in ("unknown_school", "unknown_district", "impossible_value"):
            json.loads(line)


def test_fractions_are_checked() -> None:
    with pytest.raises(ValueError):
        generate_city(schools=10, bad_fraction=1.5)
