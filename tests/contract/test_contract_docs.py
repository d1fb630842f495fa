"""docs/events.md stays true: examples pass; every reason code and the size limit are listed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingestion.contract import KNOWN_EVENT_TYPES, MAX_EVENT_BYTES, REASON_CODES, check_event

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
BLOCKS = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_one_example_per_event_type() -> None:
    types = [json.loads(block)["event_type"] for block in BLOCKS]
    assert sorted(types) == sorted(KNOWN_EVENT_TYPES)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: json.loads(b)["event_type"])
def test_doc_example_is_valid(block: str) -> None:
    verdict = check_event(block.encode("utf-8"))
    assert verdict.ok, verdict.reason


def test_doc_lists_reason_codes_and_size_limit() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in REASON_CODES:
        assert f"`{code}`" in text
    assert str(MAX_EVENT_BYTES) in text
