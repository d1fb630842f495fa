"""The worker's district states under a memory cap: states evicted after a batch (TableStates.trim)
and rebuilt from the facts table (deflated JSON, as the worker stores them) give exactly the
outcomes and the final states of a run that keeps every state -- without Kafka, the table is a dict.
And the table's codec: plain JSON on the changelog, deflated in memory."""

from __future__ import annotations

import json
from typing import Any

from faust.serializers import codecs

from ingestion.reference import load_districts
from ingestion.synthetic import generate_city
from rules import load_catalogue
from rules.state import Engine
from streams.embedded import batched
from streams.facts_table import FACT_CODEC, decode_fact, deflate_fact, table_key
from streams.processing import Processor, Record
from streams.table_states import TableStates


def _normal(state: Any) -> Any:
    """to_state() with tuples as lists, so a replayed and a live state compare equal."""
    return json.loads(json.dumps(state.to_state(), sort_keys=True, default=list))


def _write_facts(states: TableStates, table: dict[str, Any], touched: set[str]) -> None:
    """What TableStates.write_facts leaves in the table: one JSON value per changed fact."""
    for code in touched:
        state = states.loaded(code)
        if state is None:
            continue
        by_key = {}
        for key, version in state.versions.items():
            tk = table_key(code, key)
            stored = table.get(tk)
            value = {"seq": int(version[0]), "event_id": str(version[1]), "seen": list(version[2])}
            if stored is not None and {k: v for k, v in decode_fact(stored).items() if k != "event"} == value:
                continue
            by_key[tk] = value
        if not by_key:
            continue
        events = _applied_events(state)
        for tk, value in by_key.items():
            states.note_key(code, tk)
            table[tk] = deflate_fact(codecs.dumps("json", value | {"event": events[tk.split("|", 1)[1]]}))


_EVENTS: dict[str, dict[str, Any]] = {}


def _applied_events(state: Any) -> dict[str, dict[str, Any]]:
    return {k: _EVENTS[v[1]] for k, v in state.versions.items() if v[1] in _EVENTS}


def test_evicted_states_are_rebuilt_to_the_same_results() -> None:
    max_loaded = 2
    city = generate_city(
        seed=11, schools=80, years=range(2021, 2024), bad_fraction=0.02, duplicate_fraction=0.02, stale_fraction=0.02
    )
    for line in city.lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and isinstance(e.get("event_id"), str):
            _EVENTS[e["event_id"].lower()] = e
    engine = Engine(load_catalogue())
    districts = load_districts()
    reference = Processor(engine, districts)
    table: dict[str, Any] = {}
    states = TableStates(engine, table, max_loaded=max_loaded)
    capped = Processor(engine, districts, states=states)
    records = [Record(raw, {"line": i}) for i, raw in enumerate(city.lines)]
    for batch in batched(records, 97):
        want = reference.process(batch)
        states.touched = set()
        got = capped.process(batch)
        assert got.counts == want.counts
        assert got.statuses == want.statuses
        assert got.sections == want.sections
        _write_facts(states, table, states.touched)
        states.trim()
        assert len(states) <= max(max_loaded, len(states.touched))
    assert states.evictions > 0 and states.rebuilds > 0
    assert all(isinstance(v, bytes) for v in table.values())
    states.evict()  # as after a rebalance: every state from the table, the key index rebuilt
    for code, state in reference.states.items():
        assert _normal(states[code]) == _normal(state), code


def test_fact_codec_keeps_the_changelog_json_and_deflates_in_memory() -> None:
    from ingestion.contract.examples import EXAMPLES

    for event in EXAMPLES.values():
        value = {"seq": 2, "event_id": event["event_id"], "seen": ["a", "b"], "event": event}
        wire = codecs.dumps("json", value)
        stored = codecs.loads(FACT_CODEC, wire)  # what recovery puts in the store
        assert stored[:1] == b"\x00" and len(stored) < len(wire) / 2
        assert decode_fact(stored) == value == decode_fact(wire)
        assert codecs.dumps(FACT_CODEC, stored) == wire  # back to the changelog's bytes
        assert codecs.loads(FACT_CODEC, stored) == stored  # never deflated twice


def test_a_batch_is_split_into_runs_of_few_districts_in_order() -> None:
    from types import SimpleNamespace

    from streams.worker_batches import split_by_districts

    events = [SimpleNamespace(message=SimpleNamespace(key=k, offset=i)) for i, k in enumerate(b"aabcbdaee")]
    parts = split_by_districts(events, 2)
    assert [e for part in parts for e in part] == events  # nothing lost, order kept
    assert [bytes(e.message.key for e in part) for part in parts] == [b"aab", b"cb", b"da", b"ee"]
    assert split_by_districts(events, None) == [events]
    assert split_by_districts(events, 128) == [events]


def test_changelog_json_reads_back_whatever_it_is_given() -> None:
    """orjson writes the facts' changelog JSON; what it refuses (an integer beyond 64 bits) goes
    through json, and either way Faust's json codec reads back the same value."""
    from streams.facts_table import changelog_json

    for value in (
        {"seq": 3, "event": {"name": "市南区", "ratio": 0.1 + 0.2, "n": [1, None, True]}},
        {"seq": 2**70, "event": {}},
    ):
        wire = changelog_json(value)
        assert json.loads(wire) == value == codecs.loads("json", wire)


def test_the_facts_store_indexes_school_registrations_for_the_owner_check() -> None:
    """Changelog records the store applies (recovery, standby) and the worker's own writes tell
    the Processor which district registered a school (TableSchoolOwners); the first one wins,
    tombstones and other facts are ignored, and revoking a partition forgets nothing."""
    from types import SimpleNamespace

    from streams.facts_table import FactsStore, TableSchoolOwners

    store = object.__new__(FactsStore)
    store.__post_init__()

    def record(key: str, value: bytes | None, partition: int) -> Any:
        return SimpleNamespace(key=key, value=value, message=SimpleNamespace(value=value, partition=partition))

    batch = [
        record("370202|school.registered|3702020001|2023|", b"{}", 0),
        record("370203|school.registered|3702020001|2024|", b"{}", 1),  # another district, later
        record("370203|school.staff|3702030009|2023|", b"{}", 1),
        record("370204|school.registered|3702040001|2023|", None, 2),
    ]  # tombstone: still a claim seen
    store.apply_changelog_batch(batch, to_key=lambda k: k, to_value=lambda v: v)
    owners = TableSchoolOwners(SimpleNamespace(data=store))
    assert owners.get("3702020001") == "370202" and owners.get("3702030009") is None
    assert dict(owners) == {"3702020001": "370202", "3702040001": "370204"}
    owners["3702050001"] = "370205"  # the Processor's claim after applying
    owners["3702050001"] = "370206"  # never moves a school
    assert store.school_owners["3702050001"] == "370205"
