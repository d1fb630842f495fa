"""Cutting a batch into runs of few districts (streams/district_runs.py): order kept, at most
`limit` districts per run, and the embedded driver's cheap key read from the raw line."""

from __future__ import annotations

import json

from streams.district_runs import district_of_raw, split_runs


def test_runs_keep_the_order_and_hold_at_most_limit_keys():
    items = list("aabacbddcae")
    runs = split_runs(items, lambda x: x, 2)
    assert [x for run in runs for x in run] == items
    assert all(len(set(run)) <= 2 for run in runs)
    assert [list(r) for r in runs] == [["a", "a", "b", "a"], ["c", "b"], ["d", "d", "c"], ["a", "e"]]


def test_no_limit_or_few_keys_is_one_run():
    items = list("abcab")
    assert split_runs(items, lambda x: x, None) == [items]
    assert split_runs(items, lambda x: x, 0) == [items]
    assert split_runs(items, lambda x: x, 3) == [items]
    assert split_runs([], lambda x: x, 1) == [[]]


def test_the_district_is_read_from_the_raw_line_however_it_is_spaced():
    event = {"event_type": "school.staff", "district_code": "370202", "school_id": "x", "payload": {}}
    assert district_of_raw(json.dumps(event).encode()) == b"370202"
    assert district_of_raw(json.dumps(event, separators=(",", ":")).encode()) == b"370202"
    assert district_of_raw(b'{"district_code" :\t"370203"}') == b"370203"
    assert district_of_raw(json.dumps(event, ensure_ascii=False).encode()) == b"370202"
    # none, or not a string: a key of its own (the line is dead-lettered by the checks anyway)
    assert district_of_raw(b'{"event_type": "x"}') is None
    assert district_of_raw(b'{"district_code": 370202}') is None
    assert district_of_raw(b"not json") is None
