"""What a processed micro-batch leaves behind, shared by both drivers.

`land_result` writes a `BatchResult` to the landing folder exactly as the embedded driver does
(one Parquet file per table per batch, written atomically by `LandingWriter`); the Kafka worker
calls it so both drivers land identical rows. `merge_results` joins the results of several
`Pipeline.process` calls (the worker processes one call per source partition) into one landing
batch. `dead_letter_headers` is the dead-letter topic's message format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from streams.landing import LandingWriter, event_row
from streams.processing import BatchResult, DeadLetter

LANDED_TABLES = ("events", "section_results", "district_status", "dead_letters", "district_gaps", "district_outlook")


def land_result(
    writer: LandingWriter,
    result: BatchResult,
    batch: int,
    *,
    dead_letters: Sequence[DeadLetter] | None = None,
    extra: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> list[Path]:
    """Land one batch: applied events, section results (with their gap-to-pass options), district
    status changes, dead letters, district gaps and outlooks (streams/gaps.py), all or nothing
    (`LandingWriter.write_batch`): if a write fails, none of the batch's files is visible, so
    re-processing the batch cannot land any row twice. Returns the files landed.

    `dead_letters`: the ones to land, when not all of the result's (a driver that knows which were
    landed before lands only the new ones); `extra`: more tables landed in the same batch (what
    `junheng dlq replay` records about the dead letters it replayed)."""
    return writer.write_batch(
        {
            "events": [event_row(e) for e in result.applied],
            "section_results": result.sections,
            "district_status": result.statuses,
            "dead_letters": [d.to_row() for d in (result.dead_letters if dead_letters is None else dead_letters)],
            "district_gaps": result.district_gaps,
            "district_outlook": result.outlooks,
            **(extra or {}),
        },
        batch,
    )


def merge_results(results: Iterable[BatchResult]) -> BatchResult:
    """The results of several process() calls as one batch, in the order given."""
    merged = BatchResult()
    for r in results:
        merged.counts.update(r.counts)
        merged.dead_letters += r.dead_letters
        merged.applied += r.applied
        merged.stale += r.stale
        merged.sections += r.sections
        merged.statuses += r.statuses
        merged.district_gaps += r.district_gaps
        merged.outlooks += r.outlooks
        merged.touched |= r.touched
        merged.internal_errors += r.internal_errors
        merged.dead_lettered_again += r.dead_lettered_again
    return merged


def dead_letter_headers(dl: DeadLetter) -> list[tuple[str, bytes]]:
    """Kafka headers of a dead-letter message (its value is the original bytes, unchanged):
    ``reason`` ("<code>: <message>"), ``reason_code`` and ``origin`` (JSON: topic, partition,
    offset of the message that was read)."""
    return [
        ("reason", dl.reason.encode("utf-8")),
        ("reason_code", dl.code.encode("utf-8")),
        ("origin", json.dumps(dict(dl.origin), ensure_ascii=False, sort_keys=True).encode("utf-8")),
    ]


def json_bytes(row: dict[str, Any]) -> bytes:
    """A result row as a JSON message value (UTF-8, keys sorted)."""
    return json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8")
