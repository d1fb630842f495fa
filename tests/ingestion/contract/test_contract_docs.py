"""docs/events.md stays true: examples pass; every reason code and the size limit are listed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingestion.contract import KNOWN_EVENT_TYPES, MAX_EVENT_BYTES, REASON_CODES, check_event

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"
BLOCKS = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_one_example_per_event_type() -> None:
    """Version 1 has one example per type; the version 2 section shows only what changed."""
    events = [json.loads(block) for block in BLOCKS]
    assert sorted(e["event_type"] for e in events if e["schema_version"] == 1) == sorted(KNOWN_EVENT_TYPES)
    assert {e["schema_version"] for e in events} == {1, 2}


def test_v2_examples_state_the_v1_examples_facts() -> None:
    """The doc says the v2 school.enrolment example is the v1 one's fact: hold it to that."""
    events = [json.loads(block) for block in BLOCKS]
    v1 = {e["event_type"]: e for e in events if e["schema_version"] == 1}
    for event in (e for e in events if e["schema_version"] == 2):
        verdict = check_event(json.dumps(event).encode("utf-8"))
        assert verdict.event == {**v1[event["event_type"]], "schema_version": 2}


@pytest.mark.parametrize(
    "block", BLOCKS, ids=lambda b: f"{json.loads(b)['event_type']}-v{json.loads(b)['schema_version']}"
)
def test_doc_example_is_valid(block: str) -> None:
    verdict = check_event(block.encode("utf-8"))
    assert verdict.ok, verdict.reason


def test_doc_lists_reason_codes_and_size_limit() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in REASON_CODES:
        assert f"`{code}`" in text
    assert str(MAX_EVENT_BYTES) in text
