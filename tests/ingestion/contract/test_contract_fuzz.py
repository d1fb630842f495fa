"""Property tests: no input makes the check raise, and the fast validator agrees with jsonschema.

The fast (compiled) validator decides; the reference jsonschema validator only writes messages.
If they disagreed, an event could be accepted that the published schema rejects, so mutated
valid events are checked against both.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mutations import fast_ok, mutated

from ingestion.contract import REASON_CODES, Verdict, check_event, check_event_dict
from ingestion.contract.examples import EXAMPLES
from ingestion.contract.registry import load_schema_sets

SCHEMA_SET = load_schema_sets()[1]
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_verdict(verdict: Verdict) -> None:
    assert isinstance(verdict, Verdict)
    if verdict.ok:
        assert verdict.event is not None and verdict.reason is None
    else:
        assert verdict.event is None and verdict.code in REASON_CODES


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(raw: bytes) -> None:
    _assert_verdict(check_event(raw))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(json_values)
def test_random_json_never_raises(value: Any) -> None:
    _assert_verdict(check_event_dict(value))
    _assert_verdict(check_event(json.dumps(value).encode()))


# --- mutations of valid events ---------------------------------------------------------------------

INTERESTING = st.one_of(
    st.integers(min_value=-3, max_value=3000),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from([0.0, 1.0, 2024.0, 100.0, 100.5, -0.0, 1e308]),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "370202",
            "3702020001",
            "2024-09-15",
            "2024-02-30",
            "2024-09-15T08:30:00Z",
            "2024-09-15T08:30:00",
            "primary",
            "junior",
            "senior",
            "pass",
            "G1",
            "new",
            "school.staff",
            "district.statistics",
            "0b6f3c1e-6a4d-4f0e-9c2a-000000000001",
        ]
    ),
    st.lists(st.integers(min_value=-1, max_value=60), max_size=4),
    st.dictionaries(st.sampled_from(["students", "classes", "primary", "x"]), st.integers(-1, 5), max_size=2),
)


def mutated_events() -> st.SearchStrategy[dict[str, Any]]:
    return mutated(
        st.sampled_from(sorted(EXAMPLES.values(), key=lambda e: e["event_type"])),
        INTERESTING,
        ["school", "sections", "extra", "school_id", "senior"],
        min_edits=1,
        max_edits=3,
    )


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_fast_and_reference_validators_agree(event: dict[str, Any]) -> None:
    assert fast_ok(SCHEMA_SET.fast_envelope, event) == SCHEMA_SET.ref_envelope.is_valid(event), event
    for event_type in SCHEMA_SET.event_types:  # each payload against every payload schema
        payload = event.get("payload")
        fast = fast_ok(SCHEMA_SET.fast_payloads[event_type], payload)
        assert fast == SCHEMA_SET.ref_payloads[event_type].is_valid(payload), (event_type, payload)


@SETTINGS
@given(mutated_events())
def test_bytes_and_dict_paths_agree(event: dict[str, Any]) -> None:
    by_dict = check_event_dict(event)
    _assert_verdict(by_dict)
    try:
        raw = json.dumps(event, allow_nan=False).encode()
    except ValueError:  # inf has no JSON spelling; the bytes path sees "Infinity" as not_json
        assume(False)
    by_bytes = check_event(raw)
    assert (by_bytes.ok, by_bytes.reason) == (by_dict.ok, by_dict.reason)
