"""A worker's micro-batch between Faust and the pipeline: cut into parts, grouped by source
partition, and turned into output messages.

A batch from the agent (``noack_take``) is a list of Faust events. The runtime
(streams/worker_runtime.py) cuts it into parts of at most ``max_loaded_districts`` districts
(:func:`split_by_districts`), and each part's records by source partition (:func:`group_records`),
because each partition's facts go back to that partition of the facts table. A part's dead
letters, section results and status changes become messages for streams/bulk.py
(:func:`output_messages`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.bulk import OutMessage
from streams.district_runs import split_runs
from streams.processing import BatchResult, Checked, Record
from streams.sink import dead_letter_headers, json_bytes


def split_by_districts(events: Sequence[Any], limit: int | None) -> list[Sequence[Any]]:
    """`events` cut, in order, into runs of at most `limit` distinct message keys (the district
    codes the producer keys by); one run when `limit` is None or the batch has no more
    (streams/district_runs.py)."""
    return split_runs(events, lambda ev: ev.message.key, limit)


def group_records(events: Sequence[Any]) -> tuple[dict[int, list[Record]], dict[tuple[int, int], bytes]]:
    """Records per source partition, and each message's key (dead letters keep it)."""
    groups: dict[int, list[Record]] = {}
    keys: dict[tuple[int, int], bytes] = {}
    for ev in events:
        msg = ev.message
        raw = (
            msg.value if isinstance(msg.value, (bytes, bytearray)) else (b"" if msg.value is None else bytes(msg.value))
        )
        groups.setdefault(msg.partition, []).append(
            Record(bytes(raw), {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset})
        )
        keys[(msg.partition, msg.offset)] = msg.key if isinstance(msg.key, bytes) else b"unknown"
    return groups, keys


@dataclass
class PreparedPart:
    """A part of a micro-batch (at most ``max_loaded_districts`` districts) after the per-event
    checks: its Faust events, records per source partition, message keys, and the checked
    records per partition (None: the checks raised, the fallback processes it record by record)."""

    events: Sequence[Any]
    groups: dict[int, list[Record]]
    keys: dict[tuple[int, int], bytes]
    checked: dict[int, Checked] | None


@dataclass
class PreparedBatch:
    """A micro-batch between ``StreamRuntime.prepare`` and ``StreamRuntime.finish``: its parts
    and, while the GX child validates it, the future of its verdicts."""

    events: Sequence[Any]
    parts: list[PreparedPart]
    verdicts: asyncio.Future[list[str | None]] | None = None

    def checked_parts(self) -> list[Checked]:
        """Every part's checked partitions, in order (the order of the verdicts)."""
        return [c for part in self.parts if part.checked is not None for c in part.checked.values()]

    def fall_back(self) -> None:
        """Validation raised (a bug): process every part record by record (its own fallback)."""
        for part in self.parts:
            part.checked = None


@dataclass(frozen=True)
class OutputTopics:
    """Where a batch's outputs go: the dead-letters, section-results and district-status topics."""

    dead_letters: str
    sections: str
    statuses: str


def output_messages(
    result: BatchResult, keys: Mapping[tuple[int, int], bytes], topics: OutputTopics
) -> list[OutMessage]:
    """Every output message of a batch (dead letters, section results, status changes), for
    :func:`streams.bulk.send_bulk`: one producer call per record batch, not per message. A dead
    letter keeps its source message's key and bytes; its reason and origin are headers."""
    out: list[OutMessage] = []
    for dl in result.dead_letters:
        key = keys.get((dl.origin.get("partition"), dl.origin.get("offset")), b"unknown")  # type: ignore[arg-type]
        out.append((topics.dead_letters, None, key, dl.raw, dead_letter_headers(dl)))
    for row in result.sections:
        out.append((topics.sections, None, row["district_code"].encode(), json_bytes(row), None))
    for row in result.statuses:
        out.append((topics.statuses, None, row["district_code"].encode(), json_bytes(row), None))
    return out


async def delivered(futures: Sequence[Awaitable[Any]]) -> None:
    """Wait until the broker acknowledged every message; raise if one failed."""
    if futures:
        await asyncio.gather(*futures)


def event_id_of(raw: bytes) -> str:
    """The event id of a dead letter's bytes, for the log ("?" when they are not such JSON)."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "?"
    return str(value.get("event_id", "?")) if isinstance(value, dict) else "?"
